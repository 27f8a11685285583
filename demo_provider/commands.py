"""`flask --app demo_provider clients ...`: register extra clients for a workshop (confidential
with a secret or with its own key pair, or public with PKCE and no secret), list them, delete
them. A new client's secret is printed once, at registration; the provider keeps only its digest.
Only `register` and `delete` write, and only what they are asked to: the clients in this shell's
configuration are stored by the provider when it serves, never by a command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import inspect

from demo_provider import clients, preparation, scopes
from demo_provider.extensions import db
from demo_provider.models import Client

clients_group = AppGroup("clients", help="Register, list and delete the Demo Provider's clients.")


@clients_group.command("register")
@click.option("--name", required=True, help="What people see on the consent page.")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    required=True,
    help="Where codes are sent back (exact match; https, or http on a loopback address). "
    "Repeat for several.",
)
@click.option(
    "--public",
    is_flag=True,
    help="A client that cannot keep a secret (single-page or mobile app): no secret, "
    "token endpoint authentication `none`. PKCE is required either way.",
)
@click.option(
    "--scope",
    default=" ".join(scopes.SUPPORTED),
    show_default=True,
    help="The scopes the client may ask for, space-separated.",
)
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    help="Where the provider may send people after RP-initiated logout. Repeat for several.",
)
@click.option(
    "--backchannel-logout-uri",
    help="Where the provider POSTs a logout token when a session the client took part in ends "
    "(OIDC Back-Channel Logout; https, or http on a loopback address).",
)
@click.option(
    "--token-endpoint-auth-method",
    type=click.Choice(clients.AUTH_METHODS),
    help="How the confidential client authenticates (default: its secret, Basic header or "
    "form). private_key_jwt: a JWT signed with its own key, checked with the public keys at "
    "--jwks-uri; it gets no secret.",
)
@click.option(
    "--jwks-uri",
    help="Where the client publishes its public keys, for private_key_jwt (https, or http on a "
    "loopback address). Implies --token-endpoint-auth-method private_key_jwt.",
)
@click.option(
    "--legacy-implicit",
    is_flag=True,
    help="Also allow response_type=token while the implicit grant lab is on "
    "(DEMO_PROVIDER_LEGACY_IMPLICIT, never in production).",
)
def register_command(
    name,
    redirect_uris,
    public,
    scope,
    post_logout_redirect_uris,
    backchannel_logout_uri,
    token_endpoint_auth_method,
    jwks_uri,
    legacy_implicit,
) -> None:
    """Register a client and print its credentials, once."""
    preparation.create_tables(current_app)
    try:
        new = clients.create(
            name,
            redirect_uris,
            scope=scope,
            public=public,
            post_logout_redirect_uris=post_logout_redirect_uris,
            backchannel_logout_uri=backchannel_logout_uri,
            legacy_implicit=legacy_implicit,
            token_endpoint_auth_method=token_endpoint_auth_method,
            jwks_uri=jwks_uri,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None

    issuer = current_app.config["DEMO_PROVIDER_ISSUER"]
    kind = "public" if public else "confidential"
    click.echo(f'Registered "{name.strip()}", a {kind} client.\n')
    click.echo(f"  client_id:     {new.client_id}")
    if new.client_secret is not None:
        click.echo(f"  client_secret: {new.client_secret}")
        click.echo(
            "\nCopy the secret now: the provider keeps only its digest and cannot show it again."
        )
        auth = token_endpoint_auth_method or "client_secret_basic (or client_secret_post)"
    elif public:
        auth = "none (send client_id only; there is no secret)"
    else:
        auth = "private_key_jwt (a client_assertion signed with a key published at its jwks_uri)"
    click.echo()
    click.echo(f"  issuer:        {issuer}")
    click.echo(f"  discovery:     {issuer}/.well-known/openid-configuration")
    for uri in redirect_uris:
        click.echo(f"  redirect URI:  {uri}")
    if backchannel_logout_uri:
        click.echo(f"  back-channel logout URI: {backchannel_logout_uri}")
    if jwks_uri:
        click.echo(f"  jwks_uri:      {jwks_uri}")
    click.echo(f"  token endpoint authentication: {auth}")
    click.echo("  PKCE:          required, code_challenge_method=S256")
    if legacy_implicit and not current_app.config["DEMO_PROVIDER_LEGACY_IMPLICIT"]:
        click.echo(
            "\nresponse_type=token works for this client only while "
            "DEMO_PROVIDER_LEGACY_IMPLICIT=true (never in production)."
        )


@clients_group.command("list")
def list_command() -> None:
    """List the registered clients, without secrets (only their digests are kept)."""
    # Read only, tables included: this shell's configuration may not be the running server's
    # (another BASE_URL, say), and listing must not overwrite what the server registered.
    ready = set(db.metadata.tables) <= set(inspect(db.engine).get_table_names())
    registered = {client.client_id: client for client in clients.all_clients()} if ready else {}
    if not ready:
        click.echo(
            "The Demo Provider's database is not set up yet: the provider does that when it "
            "serves its first request."
        )
    elif not registered:
        click.echo("No clients are registered.")
    for client in registered.values():
        click.echo(f'{client.client_id}  "{client.client_name}"  ({_describe(client)})')
        for uri in client.redirect_uris:
            click.echo(f"    redirect URI:  {uri}")
        for uri in client.post_logout_redirect_uris:
            click.echo(f"    after logout:  {uri}")
        if client.backchannel_logout_uri:
            click.echo(f"    back-channel logout: {client.backchannel_logout_uri}")
        click.echo(f"    authentication: {client.token_endpoint_auth_method}")
        if client.authentication is not None and client.authentication.jwks_uri:
            click.echo(f"    jwks_uri:      {client.authentication.jwks_uri}")
        click.echo(f"    scope:         {client.scope}")
    pending = [
        item
        for item in current_app.config["DEMO_PROVIDER_CLIENTS"]
        if not _stored_as_configured(registered.get(item["client_id"]), item)
    ]
    if pending:
        click.echo(
            "\nIn this configuration (DEMO_PROVIDER_CLIENTS) but not registered so: stored when a "
            "provider with this configuration serves its first request."
        )
    for item in pending:
        click.echo(f'{item["client_id"]}  "{item["client_name"]}"')
        for uri in item["redirect_uris"]:
            click.echo(f"    redirect URI:  {uri}")


@clients_group.command("delete")
@click.argument("client_id")
def delete_command(client_id: str) -> None:
    """Delete a client; every token it holds stops working at once."""
    preparation.create_tables(current_app)
    configured = {item["client_id"] for item in current_app.config["DEMO_PROVIDER_CLIENTS"]}
    if client_id in configured:
        raise click.ClickException(
            f"{client_id} is listed in DEMO_PROVIDER_CLIENTS and would be registered again when "
            "the provider next starts serving; remove it from the configuration instead."
        )
    if not clients.remove(client_id):
        raise click.ClickException(f"No client is registered with client_id {client_id!r}.")
    click.echo(f"Deleted {client_id}: its tokens no longer work, and its sign-ins are refused.")


def _stored_as_configured(client: Client | None, item: Mapping[str, Any]) -> bool:
    """Whether the stored client matches its configured registration (secret digests aside)."""
    return client is not None and (
        client.redirect_uris == item["redirect_uris"]
        and client.post_logout_redirect_uris
        == list(dict.fromkeys(item["post_logout_redirect_uris"]))
        and client.backchannel_logout_uri == item["backchannel_logout_uri"]
        and client.client_name == item["client_name"]
        and client.scope == item["scope"]
        and client.token_endpoint_auth_method
        == (item["token_endpoint_auth_method"] or client.auth_methods[0])
        and (client.authentication.jwks_uri if client.authentication else None) == item["jwks_uri"]
    )


def _describe(client: Client) -> str:
    """The client's kind and origin, in a few words."""
    words = ["public" if client.is_public else "confidential"]
    if client.allows_implicit:
        words.append("legacy implicit")
    words.append(f"from {client.registered_via}")
    return ", ".join(words)

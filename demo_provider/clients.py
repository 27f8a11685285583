"""Client registration: the clients named in the configuration are checked when the app is built
and upserted into the provider's database when it first serves (`preparation.py`); workshop
clients are added, listed and deleted from the command line (`commands.py`). Redirect URIs (and
the post-logout, back-channel logout and jwks URIs) are checked the same way for both, secrets
are stored only as digests, and a `private_key_jwt` client registers public keys instead.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from demo_provider import client_keys, scopes
from demo_provider.extensions import db
from demo_provider.models import (
    FROM_COMMAND_LINE,
    FROM_CONFIGURATION,
    PRIVATE_KEY_JWT,
    SECRET_AUTH_METHODS,
    AuthorizationCode,
    BackchannelLogoutUri,
    Client,
    ClientAuthentication,
    ClientRegistration,
    CodeDpopBinding,
    Grant,
    GrantSession,
    PostLogoutRedirectUri,
    PushedAuthorizationRequest,
    SessionParticipant,
    Token,
    TokenDpopBinding,
    digest,
)

_LOOPBACK_NAMES = {"localhost"}
# 32 random bytes: as strong as the provider's own tokens.
SECRET_BYTES = 32
_MAX_NAME_LENGTH = 120
_MAX_SLUG_LENGTH = 40


# How a confidential client may register to authenticate (RFC 7591 token_endpoint_auth_method).
AUTH_METHODS = (*SECRET_AUTH_METHODS, PRIVATE_KEY_JWT)


@dataclass(frozen=True)
class NewClient:
    """The credentials of a client just registered; the secret exists only here, never stored."""

    client_id: str
    client_secret: str | None


@dataclass(frozen=True)
class ClientKeys:
    """The checked public keys of a private_key_jwt client: inline, or where to fetch them."""

    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None


def register(registrations: Iterable[Mapping[str, Any]]) -> None:
    """Create or update each configured client, and commit. Clients registered any other way
    (from the command line, by the implicit lab) are left as they are.
    """
    for registration in registrations:
        secret = registration.get("client_secret")
        save(
            registration["client_id"],
            client_secret_hash=digest(secret) if secret else "",
            client_name=registration["client_name"],
            redirect_uris=registration["redirect_uris"],
            scope=registration["scope"],
            post_logout_redirect_uris=registration.get("post_logout_redirect_uris", []),
            backchannel_logout_uri=registration.get("backchannel_logout_uri"),
            legacy_implicit=registration.get("legacy_implicit", False),
            registered_via=FROM_CONFIGURATION,
            token_endpoint_auth_method=registration.get("token_endpoint_auth_method"),
            keys=ClientKeys(registration.get("jwks"), registration.get("jwks_uri")),
        )
    db.session.commit()


def create(
    client_name: str,
    redirect_uris: Sequence[str],
    *,
    scope: str | None = None,
    public: bool = False,
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str | None = None,
    legacy_implicit: bool = False,
    token_endpoint_auth_method: str | None = None,
    jwks_uri: str | None = None,
) -> NewClient:
    """Register a new client under a fresh random id, commit, and return its credentials: a
    confidential client gets a random secret, unless it authenticates with its own key
    (`private_key_jwt`, its public keys at `jwks_uri`); a public one gets none (it proves nothing
    but its client_id, which is why PKCE is required and its refresh tokens rotate).
    """
    client_name = client_name.strip()
    if not client_name or len(client_name) > _MAX_NAME_LENGTH:
        raise ValueError(f"The client name must be 1 to {_MAX_NAME_LENGTH} characters long.")
    if not redirect_uris:
        raise ValueError("A client needs at least one redirect URI.")
    scope = check_scope(scope or " ".join(scopes.SUPPORTED))
    if public and (token_endpoint_auth_method or jwks_uri):
        raise ValueError("A public client authenticates with nothing: it has no secret or keys.")
    if jwks_uri and token_endpoint_auth_method is None:
        token_endpoint_auth_method = PRIVATE_KEY_JWT
    keys = check_authentication(token_endpoint_auth_method, None, jwks_uri)
    has_secret = not public and token_endpoint_auth_method != PRIVATE_KEY_JWT
    client_secret = secrets.token_urlsafe(SECRET_BYTES) if has_secret else None
    client_id = _new_client_id(client_name)
    save(
        client_id,
        client_secret_hash=digest(client_secret) if client_secret else "",
        client_name=client_name,
        redirect_uris=redirect_uris,
        scope=scope,
        post_logout_redirect_uris=post_logout_redirect_uris,
        backchannel_logout_uri=backchannel_logout_uri,
        public=public,
        legacy_implicit=legacy_implicit,
        registered_via=FROM_COMMAND_LINE,
        token_endpoint_auth_method=token_endpoint_auth_method,
        keys=keys,
    )
    db.session.commit()
    return NewClient(client_id=client_id, client_secret=client_secret)


def save(
    client_id: str,
    *,
    client_secret_hash: str,
    client_name: str,
    redirect_uris: Sequence[str],
    scope: str,
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str | None = None,
    public: bool = False,
    legacy_implicit: bool = False,
    registered_via: str,
    token_endpoint_auth_method: str | None = None,
    keys: ClientKeys | None = None,
) -> Client:
    """Check the client's addresses and keys and create or update it (not committed)."""
    for uri in redirect_uris:
        check_redirect_uri(uri)
    keys = keys or ClientKeys()
    if keys.jwks is not None or keys.jwks_uri is not None or token_endpoint_auth_method:
        keys = check_authentication(token_endpoint_auth_method, keys.jwks, keys.jwks_uri)
    post_logout_uris = list(dict.fromkeys(post_logout_redirect_uris))
    for uri in post_logout_uris:
        # The person's browser is sent there after logout, so the same rules apply.
        check_redirect_uri(uri, kind="Post-logout redirect URI")
    if backchannel_logout_uri is not None:
        check_backchannel_logout_uri(backchannel_logout_uri)
    client = db.session.get(Client, client_id)
    if client is None:
        client = Client(client_id=client_id)
        db.session.add(client)
    client.client_secret_hash = client_secret_hash
    client.client_name = client_name
    client.redirect_uris = list(redirect_uris)
    client.scope = scope
    if client.post_logout_redirect_uris != post_logout_uris:
        client.post_logout_redirects = [PostLogoutRedirectUri(uri=uri) for uri in post_logout_uris]
    if backchannel_logout_uri is None:
        client.backchannel_logout = None
    elif client.backchannel_logout is None:
        client.backchannel_logout = BackchannelLogoutUri(uri=backchannel_logout_uri)
    else:
        client.backchannel_logout.uri = backchannel_logout_uri
    if client.registration is None:
        client.registration = ClientRegistration(client_id=client_id)
    client.registration.public = public
    client.registration.legacy_implicit = legacy_implicit
    client.registration.registered_via = registered_via
    if token_endpoint_auth_method is None or public:
        client.authentication = None
    else:
        if client.authentication is None:
            client.authentication = ClientAuthentication(client_id=client_id)
        client.authentication.method = token_endpoint_auth_method
        client.authentication.jwks = keys.jwks
        client.authentication.jwks_uri = keys.jwks_uri
    return client


def all_clients() -> list[Client]:
    """Every registered client, by name."""
    return list(db.session.scalars(select(Client).order_by(Client.client_name, Client.client_id)))


def remove(client_id: str) -> bool:
    """Delete the client with every grant, code and token issued to it, and commit; its tokens
    stop working at once (unknown tokens are `invalid_token` / `invalid_grant`). False when there
    is no such client.
    """
    client = db.session.get(Client, client_id)
    if client is None:
        return False
    grant_ids = select(Grant.id).where(Grant.client_id == client_id)
    token_ids = select(Token.id).where(Token.grant_id.in_(grant_ids))
    code_ids = select(AuthorizationCode.id).where(AuthorizationCode.grant_id.in_(grant_ids))
    db.session.execute(delete(SessionParticipant).where(SessionParticipant.client_id == client_id))
    db.session.execute(delete(GrantSession).where(GrantSession.grant_id.in_(grant_ids)))
    db.session.execute(delete(TokenDpopBinding).where(TokenDpopBinding.token_id.in_(token_ids)))
    db.session.execute(delete(CodeDpopBinding).where(CodeDpopBinding.code_id.in_(code_ids)))
    db.session.execute(
        delete(PushedAuthorizationRequest).where(PushedAuthorizationRequest.client_id == client_id)
    )
    db.session.execute(delete(Token).where(Token.grant_id.in_(grant_ids)))
    db.session.execute(delete(AuthorizationCode).where(AuthorizationCode.grant_id.in_(grant_ids)))
    db.session.execute(delete(Grant).where(Grant.client_id == client_id))
    db.session.delete(client)
    db.session.commit()
    return True


def check_scope(scope: str) -> str:
    """The scope, if every name in it is one this provider supports."""
    names = scope.split()
    unknown = sorted(set(names) - set(scopes.SUPPORTED))
    if not names or unknown:
        raise ValueError(
            f"Unknown or missing scopes {unknown}; choose from: {' '.join(scopes.SUPPORTED)}."
        )
    return " ".join(dict.fromkeys(names))


def check_redirect_uri(uri: str, kind: str = "Redirect URI") -> None:
    """Refuse a redirect URI that could leak codes: it must be absolute, https (plain http only
    for loopback), with no fragment and no user:password part (RFC 9700 section 2.1, 4.1).
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{kind} must be an absolute http(s) URL: {uri!r}")
    if parts.fragment or "#" in uri:
        raise ValueError(f"{kind} must not contain a fragment: {uri!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError(f"{kind} must not contain user information: {uri!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"{kind} must use https unless it is a loopback address: {uri!r}")


def check_authentication(method: str | None, jwks: Any, jwks_uri: str | None) -> ClientKeys:
    """Check a confidential client's token endpoint authentication method (None: its secret,
    in either place) and the keys that go with it: a private_key_jwt client needs exactly one of
    `jwks` and `jwks_uri`, and no other method uses keys.
    """
    if method is not None and method not in AUTH_METHODS:
        raise ValueError(
            f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}, got {method!r}"
        )
    if method != PRIVATE_KEY_JWT:
        if jwks or jwks_uri:
            raise ValueError("jwks and jwks_uri are only used with private_key_jwt")
        return ClientKeys()
    if bool(jwks) == bool(jwks_uri):
        raise ValueError("private_key_jwt needs exactly one of jwks and jwks_uri")
    if jwks_uri:
        check_jwks_uri(jwks_uri)
        return ClientKeys(jwks_uri=jwks_uri)
    return ClientKeys(jwks=client_keys.check_jwks(jwks))


def check_jwks_uri(uri: str) -> None:
    """Refuse a jwks_uri by the redirect URI rules: over plain http anyone on the path could
    swap in their own keys and then authenticate as the client (http only for loopback).
    """
    if not isinstance(uri, str):
        raise ValueError(f"jwks_uri must be one URI, got {uri!r}")
    check_redirect_uri(uri, kind="jwks_uri")


def check_backchannel_logout_uri(uri: str) -> None:
    """Refuse a back-channel logout URI by the redirect URI rules: logout tokens are sent there,
    and over plain http anyone on the path could read one and replay it within its lifetime
    (OIDC Back-Channel Logout 1.0 section 2.2 wants https unless the provider allows http,
    which this one does only for loopback). A fragment is never sent to a server, so one means
    a mistake.
    """
    check_redirect_uri(uri, kind="Back-channel logout URI")


def _is_loopback(hostname: str) -> bool:
    """Whether the host is this machine (where plain http cannot be observed on the wire)."""
    if hostname in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _new_client_id(client_name: str) -> str:
    """A random client_id a person can read out in a workshop: the name's slug and 48 random
    bits ("my-app-3f9a0c21d47e"). A client_id is public, so it need not be secret, only unique.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", client_name.lower()).strip("-")[:_MAX_SLUG_LENGTH]
    return f"{slug.strip('-') or 'client'}-{secrets.token_hex(6)}"

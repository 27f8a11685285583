"""Command-line tools (`flask --app app ...`): list and check providers, maintain stored tokens."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

import oauth
import providers
from ops import doctor, maintenance
from ops import workshop as workshop_check


@click.command("providers")
@click.option("--check", is_flag=True, help="Fetch each provider's discovery document and keys.")
@with_appcontext
def providers_command(check: bool) -> None:
    """List the configured providers with the exact redirect URI to register at each."""
    configured = providers.enabled()
    if not configured:
        click.echo("No providers are configured. See README, 'Add a real provider'.")
    failed = False
    for provider, uri, problem in _redirect_uris_and_checks(configured, check):
        kind = f"OpenID Connect, issuer {provider.issuer}" if provider.is_oidc else "OAuth 2.0"
        click.echo(
            f"{provider.name:<10} {provider.title:<20} {kind}\n           redirect URI: {uri}"
        )
        if provider.is_oidc:
            backchannel = provider.backchannel_logout_uri(current_app.config["BASE_URL"])
            click.echo(f"           back-channel logout URI: {backchannel}")
        if check:
            failed = failed or problem is not None
            click.echo(f"           check: {problem or 'ok'}")
            if provider.is_oidc and problem is None:
                click.echo(f"           back-channel logout: {_backchannel_support(provider)}")
    if failed:
        raise SystemExit(1)


@click.command("doctor")
@click.option("--online", is_flag=True, help="Also fetch each provider's discovery and keys.")
@click.option("--workshop", is_flag=True, help="Check what trips a laptop before the first run.")
@with_appcontext
def doctor_command(online: bool, workshop: bool) -> None:
    """Check the configuration a deployment most often gets wrong."""
    if workshop:
        checks = workshop_check.run()
        for line in workshop_check.lines(checks):
            click.echo(line)
        if not all(check.ok for check in checks):
            raise SystemExit(1)
        return
    findings = list(doctor.configuration(current_app.config))
    for finding in findings:
        click.echo(f"{finding.level:<8} {finding.topic:<24} {finding.message}")
    for provider, uri, problem in _redirect_uris_and_checks(providers.enabled(), online):
        click.echo(f"{'info':<8} {'provider ' + provider.name:<24} register {uri}")
        if online:
            level = "error" if problem else "ok"
            findings.append(doctor.Finding(level, provider.name, problem or "reachable"))
            click.echo(f"{level:<8} {'provider ' + provider.name:<24} {problem or 'reachable'}")
    if any(finding.level == doctor.ERROR for finding in findings):
        raise SystemExit(1)


def _backchannel_support(provider) -> str:
    if oauth.backchannel_logout_supported(provider):
        return "supported (register the URI above at the provider)"
    return (
        "not advertised in its discovery document: a sign-out there does not end the session here"
    )


def _redirect_uris_and_checks(configured, check: bool):
    """Each provider with the redirect URI to register at it and, when `check` (a network call
    each), what fetching its discovery document and keys found wrong, else None."""
    base_url = current_app.config["BASE_URL"]
    for provider in configured:
        yield (
            provider,
            provider.redirect_uri(base_url),
            oauth.check(provider) if check else None,
        )


tokens_group = AppGroup("tokens", help="Maintain the stored provider tokens.")


@tokens_group.command("reencrypt")
def reencrypt_command() -> None:
    """Re-encrypt every stored token with the first key of TOKEN_ENCRYPTION_KEYS."""
    outcome = maintenance.reencrypt_tokens()
    click.echo(f"re-encrypted {outcome.done} links; {outcome.failed} unreadable (reconnect needed)")


@tokens_group.command("refresh-expiring")
@click.option("--within", default=600, show_default=True, help="Seconds until expiry.")
def refresh_expiring_command(within: int) -> None:
    """Refresh access tokens that expire within the given number of seconds."""
    outcome = maintenance.refresh_expiring(timedelta(seconds=within))
    click.echo(f"refreshed {outcome.done} links; {outcome.failed} failed")
    if outcome.failed:
        raise SystemExit(1)


@tokens_group.command("purge")
@click.option("--older-than-days", default=90, show_default=True)
def purge_command(older_than_days: int) -> None:
    """Delete expired sign-in attempts, old sessions and logout tokens, and long-dead links
    (never a user's last one)."""
    purged = maintenance.purge(timedelta(days=older_than_days))
    click.echo(
        f"removed {purged.attempts} expired sign-in attempts, {purged.sessions} old sessions, "
        f"{purged.logout_tokens} remembered logout tokens and {purged.links} dead links; "
        f"kept {purged.kept} dead links that are their user's only sign-in method"
    )


COMMANDS = (providers_command, doctor_command, tokens_group)

"""The actions that cannot be undone (deleting the account, unlinking a provider), shared by the
profile's views and the callback, and the fresh proof of identity they need first.

When the person last proved who they are at a provider more than REAUTH_MAX_AGE seconds ago, a
session cookie alone is not enough: a borrowed laptop or a stolen cookie must not delete an
account. The person is sent to sign in at the provider again (`max_age=0`, `prompt=login`), the
action waiting server-side in the pending sign-in, never in the URL. The callback carries it out
once the new ID token shows the same person (`sub`), freshly authenticated (`auth_time`), as
OpenID Connect Core §3.1.2.1 and §3.1.3.7 describe. A provider without OpenID Connect (GitHub)
can only be asked for a new authorization round trip; it cannot prove that a password was
entered again, and the page says so.
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, logout_user

import accounts
import oauth
import providers
from accounts import scopes, sessions
from blueprints import sign_in_start
from models import LoginAttempt, utcnow
from ops import security_events

DELETE_ACCOUNT = "delete_account"
UNLINK_PREFIX = "unlink:"
# Not irreversible: a page whose API asked for a fresher sign-in, to go back to afterwards.
STEP_UP = "step_up"


def unlink_action(provider_name: str) -> str:
    return UNLINK_PREFIX + provider_name


def request_action(action: str):
    """Carry out `action` now if the person authenticated recently enough; else send them to
    their provider to prove who they are first."""
    record = current_user.current_session
    max_age = timedelta(seconds=current_app.config["REAUTH_MAX_AGE"])
    if record is not None and utcnow() - record.authenticated_at <= max_age:
        return carry_out(action)
    provider = _provider_to_reauthenticate_with()
    if provider is None:
        # No enabled provider can vouch for this person any more: a new sign-in is the only
        # proof left.
        flash("Sign out and sign in again to do that.", "error")
        return redirect(url_for("profile.show"), code=303)
    security_events.emit(
        "reauthentication", outcome="started", provider=provider.name, user_id=current_user.id
    )
    return sign_in_start.send_to_provider(
        provider,
        next_url=None,
        user_id=current_user.id,
        action=action,
        reauthenticate=True,
        scope=_scope_kept(provider),
    )


def step_up(provider: oauth.Provider, *, next_url: str, acr_values: str | None):
    """An API answered that the sign-in is too old or too weak for it (RFC 9470
    `insufficient_user_authentication`): the person signs in again at the provider, with the
    `acr_values` it named, and comes back to `next_url`."""
    security_events.emit(
        "reauthentication",
        outcome="started",
        reason="step_up",
        provider=provider.name,
        user_id=current_user.id,
    )
    return sign_in_start.send_to_provider(
        provider,
        next_url=next_url,
        user_id=current_user.id,
        action=STEP_UP,
        reauthenticate=True,
        acr_values=acr_values,
        scope=_scope_kept(provider),
    )


def _scope_kept(provider: oauth.Provider) -> str:
    """What the new sign-in asks for: the sign-in scope and whatever the link was granted
    since, so that the tokens it brings replace the link's without narrowing them."""
    link = accounts.link_of(current_user, provider.name)
    return scopes.join(provider.scope, scopes.granted(link) if link is not None else None)


def finish(provider: oauth.Provider, result: oauth.SignInResult, attempt: LoginAttempt):
    """The callback of a re-authentication: check that it proves the same person, freshly;
    then carry out the action it was for."""
    link = accounts.link_of(current_user, provider.name)
    if link is None or link.subject != result.identity.subject:
        # Someone else signed in at the provider: their proof is no proof for this account.
        return refused(provider, "reauth_different_person", "That was another account.")
    authenticated_at = utcnow()
    if provider.is_oidc:
        authenticated_at = sessions.auth_time(result.identity.claims)
        leeway = timedelta(seconds=oauth.jwt_leeway(provider))
        # We asked for max_age=0: the sign-in must have happened after the request was made.
        if authenticated_at is None or authenticated_at < attempt.created_at - leeway:
            return refused(
                provider,
                "reauth_not_fresh",
                f"{provider.title} did not ask you to sign in again.",
            )
    else:
        flash(
            f"{provider.title} confirmed that it is still you, but it cannot prove that you "
            "entered your password again.",
            "info",
        )
    accounts.link(current_user, result, provider_title=provider.title)  # its new tokens
    sessions.reauthenticated(current_user.current_session, authenticated_at)
    security_events.emit("reauthentication", provider=provider.name, user_id=current_user.id)
    if attempt.action == STEP_UP:
        return redirect(sign_in_start.destination(attempt), code=303)
    return carry_out(attempt.action or "")


def carry_out(action: str):
    """Do the irreversible thing, now that the person has proven who they are."""
    if action == DELETE_ACCOUNT:
        accounts.delete(current_user._get_current_object())
        logout_user()
        flash("Your account and every token this site held for it are deleted.", "info")
        return redirect(url_for("login.home"), code=303)
    if not action.startswith(UNLINK_PREFIX):
        abort(400)
    return _unlink(action.removeprefix(UNLINK_PREFIX))


def _unlink(provider_name: str):
    provider = providers.get(provider_name)
    title = provider.title if provider else provider_name
    try:
        accounts.unlink(current_user, provider_name, provider_title=title)
    except LookupError:
        if provider is None:
            abort(404)
        # Already unlinked (a second click, another tab): the person's wish is fulfilled.
        flash(f"{title} is not linked to your account.", "info")
    except accounts.AccountRuleError as error:
        flash(error.message, "error")
    else:
        flash(f"{title} is no longer linked. This site no longer holds its tokens.", "info")
    return redirect(url_for("profile.show"), code=303)


def _provider_to_reauthenticate_with() -> oauth.Provider | None:
    """The provider of this session if it is still linked and enabled, else any linked one."""
    linked = {link.provider for link in current_user.linked_accounts}
    record = current_user.current_session
    preferred = [record.provider] if record is not None and record.provider else []
    for name in [*preferred, *sorted(linked)]:
        provider = providers.get(name)
        if provider is not None and name in linked:
            return provider
    return None


def refused(provider: oauth.Provider, reason: str, message: str, event: str = "reauthentication"):
    """The page for a sign-in that proved something else than asked (another person, not
    freshly): logged as `event`, and nothing changed."""
    security_events.emit(
        event,
        outcome="refused",
        reason=reason,
        provider=provider.name,
        user_id=current_user.id,
    )
    error = accounts.AccountRuleError(reason, f"{message} Nothing was changed.")
    return render_template("callback/refused.html", error=error, provider=provider), 403

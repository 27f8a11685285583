"""Starting a sign-in, shared by the views that start one (sign in, link, reconnect) and the
callback that finishes it: the pending sign-ins this browser holds, the rate limit on them, and
where the browser goes once one is done.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, session, url_for

import oauth
from accounts import login_attempts, signals
from blueprints.next_url import safe_next_url
from models import LoginAttempt
from ops import security_events

# The session's list of the sign-ins this browser started and has not finished.
PENDING_KEY = "pending_logins"
# The pending sign-in's `action` when it asks for more scopes for a feature: this prefix, then
# the feature's name (blueprints/permissions.py).
GRANT_PREFIX = "grant:"


def is_grant(action: str | None) -> bool:
    """Whether a pending sign-in's `action` asks for more scopes for a feature."""
    return action is not None and action.startswith(GRANT_PREFIX)


def destination(attempt: LoginAttempt) -> str:
    """Where the browser goes when the sign-in `attempt` is done: its `next`, if that is a path
    on this site, else the profile."""
    return safe_next_url(attempt.next_url) or url_for("profile.show")


def rate_limit() -> str:
    """Sign-in starts and callbacks per client address (SIGN_IN_RATE_LIMIT)."""
    return current_app.config["SIGN_IN_RATE_LIMIT"]


def send_to_provider(
    provider: oauth.Provider,
    *,
    next_url: str | None,
    user_id: int | None,
    action: str | None = None,
    scope: str | None = None,
    reauthenticate: bool = False,
    acr_values: str | None = None,
):
    """Start the authorization code flow: remember the attempt, redirect the browser (303).

    `user_id` is set when a signed-in user links the provider, proves who they are again (for
    `action`, with `reauthenticate`), or grants more (`scope`); the callback then completes only
    in that user's session.
    """
    try:
        authorization = oauth.authorization_request(
            provider, reauthenticate=reauthenticate, scope=scope, acr_values=acr_values
        )
    except oauth.ProviderError as error:
        security_events.emit(
            "sign_in_start", outcome="failed", reason=error.reason, provider=provider.name
        )
        return render_template("callback/error.html", error=error, provider=provider), error.status

    attempt = login_attempts.create(
        provider.name, authorization, next_url=next_url, user_id=user_id, action=action
    )
    signals.sign_in_started.announce(
        provider=provider,
        authorization_url=authorization.url,
        linking=user_id is not None,
        purpose=_purpose(user_id, action, reauthenticate),
        scope=authorization.scope,
    )
    # The session remembers which attempts this browser started: a callback whose state is not
    # in this list was started elsewhere (login CSRF) and is refused.
    pending = [*session.get(PENDING_KEY, []), attempt]
    limit = current_app.config["MAX_PENDING_LOGINS"]
    login_attempts.discard(pending[:-limit])
    session[PENDING_KEY] = pending[-limit:]
    return redirect(authorization.url, code=303)


def _purpose(user_id: int | None, action: str | None, reauthenticate: bool) -> str:
    if reauthenticate:
        return "reauthenticate"
    if is_grant(action):
        return "grant"
    return "link" if user_id is not None else "sign_in"

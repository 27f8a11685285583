"""The redirect endpoint: the provider sends the browser back here with a code (or an error).
Checks in order: state, provider, issuer, error, then code -> tokens -> verified identity.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user

import accounts
import oauth
import providers
from accounts import login_attempts, sessions, signals, tokens
from blueprints import irreversible, permissions, sign_in_start
from extensions import limiter
from ops import security_events

bp = Blueprint("callback", __name__)

MAX_STATE_LENGTH = 512
SINGLE_VALUED = ("state", "code", "iss", "error")


def _refuse(provider: oauth.Provider, reason: str, message: str):
    return _error_page(provider, oauth.SignInRejected(reason, message))


def _error_page(provider: oauth.Provider, error: oauth.ProviderError):
    outcome = "cancelled" if isinstance(error, oauth.SignInCancelled) else "rejected"
    security_events.emit("sign_in", outcome=outcome, reason=error.reason, provider=provider.name)
    return render_template("callback/error.html", error=error, provider=provider), error.status


@bp.get("/callback/<provider_name>")
@limiter.limit(sign_in_start.rate_limit)
def finish(provider_name: str):
    provider = providers.get_or_404(provider_name)
    args = request.args
    # A parameter sent twice is an attempt to confuse one parser or another: refuse it.
    if any(len(args.getlist(name)) > 1 for name in SINGLE_VALUED):
        return _refuse(provider, "duplicate_parameter", "The sign-in response was malformed.")

    state = args.get("state", "")
    pending = session.get(sign_in_start.PENDING_KEY, [])
    attempt_id = login_attempts.attempt_id(state) if 0 < len(state) <= MAX_STATE_LENGTH else None
    if attempt_id is None or attempt_id not in pending:
        # No state, or one this browser never started: a forged or cross-browser response.
        return _refuse(provider, "state_unknown", "This sign-in was not started in this browser.")
    # Single use, success or failure: remove it from the browser and the database first.
    session[sign_in_start.PENDING_KEY] = [p for p in pending if p != attempt_id]
    attempt = login_attempts.consume(attempt_id)
    if attempt is None:
        return _refuse(
            provider, "state_expired", "This sign-in link has expired or was already used."
        )
    if attempt.provider != provider.name:
        # A response for provider A delivered to provider B's callback: a mix-up attack.
        return _refuse(provider, "provider_mismatch", "This response belongs to another provider.")

    linking = attempt.user_id is not None
    if linking and (not current_user.is_authenticated or current_user.id != attempt.user_id):
        # A link started by one user must not complete in another user's session (or in none):
        # that would attach the first user's provider account to whoever holds this browser
        # now. Refused before the code is redeemed, so no token is even fetched.
        return _refuse(provider, "link_user_mismatch", "This link was started by someone else.")

    try:
        code_verifier = login_attempts.code_verifier(attempt)
        dpop_key = login_attempts.dpop_key(attempt)
    except (tokens.UnreadableCiphertext, ValueError):
        # The key that encrypted this sign-in's PKCE verifier (or DPoP key) was removed while it
        # was pending.
        # Without the verifier the code cannot be redeemed: the person simply starts again.
        return _refuse(
            provider,
            "pending_sign_in_unreadable",
            "This sign-in can no longer be completed.",
        )
    signals.callback_accepted.announce(provider=provider, parameters=args)
    try:
        result = oauth.finish(
            provider,
            args,
            nonce=attempt.nonce,
            code_verifier=code_verifier,
            dpop_key=dpop_key,
            requested_scope=attempt.scope,
        )
    except oauth.ProviderError as error:
        if sign_in_start.is_grant(attempt.action) and isinstance(error, oauth.SignInCancelled):
            return permissions.declined(provider, attempt)
        return _error_page(provider, error)

    if sign_in_start.is_grant(attempt.action):
        return permissions.finish(provider, result, attempt)
    if attempt.action is not None:
        return irreversible.finish(provider, result, attempt)
    if linking:
        return _finish_link(provider, result)
    try:
        user = accounts.sign_in(result, provider_title=provider.title)
    except accounts.AccountRuleError as error:
        security_events.emit(
            "sign_in", outcome="refused", reason=error.reason, provider=provider.name
        )
        return render_template("callback/refused.html", error=error, provider=provider), 409
    # A fresh session for the signed-in user (no fixation); other tabs' sign-ins stay valid.
    still_pending = login_attempts.still_pending(session.get(sign_in_start.PENDING_KEY, []))
    session.clear()
    if still_pending:
        session[sign_in_start.PENDING_KEY] = still_pending
    record = sessions.start(
        user,
        provider=provider.name,
        claims=dict(result.identity.claims),
        user_agent=request.headers.get("User-Agent", ""),
    )
    login_user(user)
    security_events.emit("sign_in", provider=provider.name, user_id=user.id, session=record.id)
    destination = sign_in_start.destination(attempt)
    signals.signed_in.announce(provider=provider, user=user, destination=destination)
    return redirect(destination, code=303)


def _finish_link(provider: oauth.Provider, result):
    try:
        accounts.link(current_user, result, provider_title=provider.title)
    except accounts.AccountRuleError as error:
        security_events.emit(
            "link",
            outcome="refused",
            reason=error.reason,
            provider=provider.name,
            user_id=current_user.id,
        )
        return render_template("callback/refused.html", error=error, provider=provider), 409
    security_events.emit("link", provider=provider.name, user_id=current_user.id)
    flash(f"{provider.title} is linked to your account.", "info")
    return redirect(url_for("profile.show"), code=303)

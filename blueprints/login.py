"""Sign-in: the home page, the page of provider buttons, starting a sign-in (POST), sign-out."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qsl, urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user

import accounts
import flow_trace
import login_attempts
import providers
import security_events
from blueprints.next_url import safe_next_url
from extensions import limiter

bp = Blueprint("login", __name__)

PENDING_KEY = "pending_logins"
LOGOUT_STATE_KEY = "logout_state"


@bp.get("/")
def home():
    return render_template("login/home.html", providers=providers.enabled())


@bp.get("/login")
def index():
    return render_template(
        "login/index.html",
        providers=providers.enabled(),
        next_url=safe_next_url(request.args.get("next")),
    )


def sign_in_rate_limit() -> str:
    return current_app.config["SIGN_IN_RATE_LIMIT"]


@bp.post("/login/<provider_name>")
@limiter.limit(sign_in_rate_limit)
def start(provider_name: str):
    provider = providers.get(provider_name)
    if provider is None:
        abort(404)
    return send_to_provider(
        provider, next_url=safe_next_url(request.form.get("next")), user_id=None
    )


def send_to_provider(provider: providers.Provider, *, next_url: str | None, user_id: int | None):
    """Start the authorization code flow: remember the attempt, redirect the browser (303).

    `user_id` is set when a signed-in user links the provider; the callback then completes only
    in that user's session.
    """
    try:
        authorization = providers.authorization_request(provider)
    except providers.ProviderError as error:
        security_events.emit(
            "sign_in_start", outcome="failed", reason=error.reason, provider=provider.name
        )
        return render_template("callback/error.html", error=error, provider=provider), error.status

    attempt = login_attempts.create(
        provider.name, authorization, next_url=next_url, user_id=user_id
    )
    _trace_authorization_request(provider, authorization.url, linking=user_id is not None)
    # The session remembers which attempts this browser started: a callback whose state is not
    # in this list was started elsewhere (login CSRF) and is refused.
    pending = [*session.get(PENDING_KEY, []), attempt]
    limit = current_app.config["MAX_PENDING_LOGINS"]
    login_attempts.discard(pending[:-limit])
    session[PENDING_KEY] = pending[-limit:]
    return redirect(authorization.url, code=303)


def _trace_authorization_request(provider: providers.Provider, url: str, *, linking: bool) -> None:
    flow_trace.start_new_flow()
    action = "Link" if linking else "Sign in with"
    flow_trace.record(
        flow_trace.BROWSER,
        flow_trace.CLIENT,
        f"POST {request.path}",
        [("button", f"{action} {provider.title}"), ("CSRF token", "checked")],
    )
    parts = urlsplit(url)
    params = [(name, value) for name, value in parse_qsl(parts.query)]
    flow_trace.record(
        flow_trace.CLIENT,
        flow_trace.BROWSER,
        "303 See Other: go to the authorization endpoint",
        [("Location", f"{parts.scheme}://{parts.netloc}{parts.path}"), *params],
        note="state, nonce and the PKCE verifier are kept server-side for this sign-in; only "
        "the verifier's SHA-256 (code_challenge) leaves the app.",
    )
    flow_trace.record(
        flow_trace.BROWSER,
        flow_trace.AUTHORIZATION_SERVER,
        f"GET {parts.path}",
        note="The provider authenticates the resource owner and asks for consent. This app sees "
        "none of it, and never the password.",
    )


@bp.post("/logout")
def logout():
    """Sign out here; with `provider`, also end the session at that provider (OIDC
    RP-Initiated Logout) and come back to /logout/complete."""
    provider_url = None
    state = secrets.token_urlsafe(32)
    if current_user.is_authenticated:
        security_events.emit("sign_out", user_id=current_user.id)
        provider_name = request.form.get("provider")
        if provider_name:
            provider_url = accounts.provider_sign_out_url(
                current_user,
                provider_name,
                return_to=current_app.config["BASE_URL"] + url_for("login.logged_out"),
                state=state,
            )
        accounts.end_all_sessions(current_user._get_current_object())
        logout_user()
    session.clear()
    if provider_url:
        # The provider sends the browser back with this state: only then do we say that the
        # provider session ended too, and never follow a return URL from the query string.
        session[LOGOUT_STATE_KEY] = state
        return redirect(provider_url, code=303)
    flash("You are signed out.", "info")
    return redirect(url_for("login.home"), code=303)


@bp.get("/logout/complete")
def logged_out():
    expected = session.pop(LOGOUT_STATE_KEY, None)
    received = request.args.get("state", "")
    if expected and hmac.compare_digest(expected.encode(), received.encode()):
        flash("You are signed out here and at the provider.", "info")
    else:
        flash("You are signed out.", "info")
    return redirect(url_for("login.home"), code=303)

"""Sign-in: the home page, the page of provider buttons, starting a sign-in (POST), sign-out."""

from __future__ import annotations

import hmac
import secrets

from flask import (
    Blueprint,
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
import providers
from accounts import sessions
from blueprints import sign_in_start
from blueprints.next_url import safe_next_url
from extensions import limiter
from ops import security_events

bp = Blueprint("login", __name__)

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


@bp.post("/login/<provider_name>")
@limiter.limit(sign_in_start.rate_limit)
def start(provider_name: str):
    provider = providers.get_or_404(provider_name)
    return sign_in_start.send_to_provider(
        provider, next_url=safe_next_url(request.form.get("next")), user_id=None
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
        # This session only: the person's other browsers stay signed in (the profile's sessions
        # list signs them out). Its row ends, so a copy of this cookie is signed out too.
        sessions.end(current_user.current_session)
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

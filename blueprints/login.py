"""Sign-in: the home page, the page of provider buttons, starting a sign-in (POST), sign-out."""

from __future__ import annotations

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

import login_attempts
import providers
from blueprints.next_url import safe_next_url

bp = Blueprint("login", __name__)

PENDING_KEY = "pending_logins"


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
        current_app.logger.warning(
            "sign-in start failed: provider=%s reason=%s", provider.name, error.reason
        )
        return render_template("callback/error.html", error=error, provider=provider), error.status

    attempt = login_attempts.create(
        provider.name, authorization, next_url=next_url, user_id=user_id
    )
    # The session remembers which attempts this browser started: a callback whose state is not
    # in this list was started elsewhere (login CSRF) and is refused.
    pending = [*session.get(PENDING_KEY, []), attempt]
    limit = current_app.config["MAX_PENDING_LOGINS"]
    login_attempts.discard(pending[:-limit])
    session[PENDING_KEY] = pending[-limit:]
    return redirect(authorization.url, code=303)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("login.home"), code=303)

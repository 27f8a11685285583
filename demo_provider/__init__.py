"""The embedded demo provider: an OAuth 2.0 authorization server, OpenID provider and resource
server in its own Flask app, with its own database, cookie and keys. The client reaches it over
HTTP only. Run it alone with `flask --app demo_provider run --port 5001` (binds 127.0.0.1);
register workshop clients with `flask --app demo_provider clients register --help`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from demo_provider import (
    clients,
    commands,
    endpoints,
    errors,
    headers,
    implicit_lab,
    server,
    settings,
    signing,
    throttling,
    users,
    views,
)
from demo_provider.extensions import csrf, db


def create_app(
    config: Mapping[str, Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """Build a provider app from `config`, or from `DEMO_PROVIDER_*` environment variables."""
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    source = dict(config) if config is not None else settings.environment()
    app.config.update(settings.resolve(source, app.instance_path))
    app.extensions[signing.EXTENSION_KEY] = signing.load_or_create_key(
        app.config["DEMO_PROVIDER_SIGNING_KEY_PATH"]
    )

    db.init_app(app)
    csrf.init_app(app)
    # Token, revocation and userinfo are called by clients with their own credentials, not by
    # a browser holding this provider's cookie, so a CSRF token does not apply to them.
    csrf.exempt(endpoints.bp)
    # Clients may POST an end-session request from their own site; that POST changes nothing
    # (it is turned into a GET), and the confirmation form it leads to has its own CSRF token.
    csrf.exempt(views.end_session)
    server.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(endpoints.bp)
    if app.config["DEMO_PROVIDER_LEGACY_IMPLICIT"]:
        app.register_blueprint(implicit_lab.bp)
    app.cli.add_command(commands.clients_group)
    app.extensions[views.SIGN_IN_THROTTLE] = throttling.SignInThrottle()
    app.after_request(headers.add_security_headers)
    errors.init_app(app)
    app.register_error_handler(CSRFError, _csrf_error)
    _quiet_authlib_debug_logging()

    with app.app_context():
        db.create_all()
        users.seed_demo_users()
        clients.register(app.config["DEMO_PROVIDER_CLIENTS"])
        implicit_lab.sync_client(app.config)
    return app


def _csrf_error(error: CSRFError):
    """A form came back without a valid CSRF token (expired page, or a forged request)."""
    return render_template("demo_provider/error.html", error=error, csrf_failed=True), 400


def _quiet_authlib_debug_logging() -> None:
    """Authlib logs issued tokens at DEBUG; unless someone chose a level, keep it at INFO."""
    logger = logging.getLogger("authlib")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)

"""The embedded demo provider: an OAuth 2.0 authorization server, OpenID provider and resource
server in its own Flask app, with its own database, cookie and keys. The client reaches it over
HTTP only. Run it alone with `flask --app demo_provider run --port 5001` (binds 127.0.0.1);
register workshop clients with `flask --app demo_provider clients register --help`. Building the
app writes nothing to its database: that happens when it serves its first request (`prepare`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from demo_provider import (
    backchannel,
    commands,
    endpoints,
    errors,
    extensions,
    headers,
    implicit_lab,
    preparation,
    server,
    settings,
    signing,
    throttling,
    views,
)
from demo_provider.extensions import csrf, db
from ops import request_parsing

# Tests and tools that read the database before the provider has served a request call this.
prepare = preparation.prepare


def create_app(
    config: Mapping[str, Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """Build a provider app from `config`, or from `DEMO_PROVIDER_*` environment variables.

    Raises ValueError on a configuration it must not run with. Its database is left untouched
    until the app serves its first request or `prepare(app)` is called.
    """
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
    )
    # Multipart parts without a field name are dropped before anything reads the form, and a
    # query string that is not UTF-8 (or holds control characters) is refused before any other
    # request hook reads it.
    request_parsing.init_app(app)
    os.makedirs(app.instance_path, exist_ok=True)
    source = dict(config) if config is not None else settings.environment()
    app.config.update(settings.resolve(source, app.instance_path))
    app.extensions[signing.EXTENSION_KEY] = signing.load_or_create_key(
        app.config["DEMO_PROVIDER_SIGNING_KEY_PATH"]
    )

    db.init_app(app)
    extensions.tune_sqlite(app)
    # Before the request hooks below, so that they find the database ready.
    preparation.init_app(app)
    csrf.init_app(app)
    # Token, revocation and userinfo are called by clients with their own credentials, not by
    # a browser holding this provider's cookie, so a CSRF token does not apply to them.
    csrf.exempt(endpoints.bp)
    # Clients may POST an end-session request from their own site; that POST changes nothing
    # (it is turned into a GET), and the confirmation form it leads to has its own CSRF token.
    csrf.exempt(views.end_session)
    server.init_app(app)
    backchannel.init_app(app)
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
    return app


def _csrf_error(error: CSRFError):
    """A form came back without a valid CSRF token (expired page, or a forged request)."""
    return render_template("demo_provider/error.html", error=error, csrf_failed=True), 400


def _quiet_authlib_debug_logging() -> None:
    """Authlib logs issued tokens at DEBUG; unless someone chose a level, keep it at INFO."""
    logger = logging.getLogger("authlib")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)

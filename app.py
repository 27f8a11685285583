"""The application factory: configuration, extensions, providers, blueprints, plug-ins and CLI.

The only place where the parts are wired together; `flask --app app run` finds `create_app`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

import config
import providers
from accounts import scopes, tokens
from blueprints import (
    backchannel_logout,
    callback,
    client_jwks,
    features,
    health,
    login,
    permissions,
    profile,
    sessions,
)
from extensions import csrf, db, limiter, login_manager, migrate
from oauth.http import Connections
from oauth.metadata import MetadataCache
from ops import cli, doctor, pooled_connections, web

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Teaching plug-ins, each a package with an `init_app(app)`; the client never imports them. To go
# without one, take its name out of this line and delete its folder (README, "Make it yours").
PLUGINS = ("inspector",)
DEMO_PROVIDER_MOUNT = "/demo-provider"
DEMO_CLIENT_NAME = "Flask Sign-in Reference App"


def create_app(
    test_config: Mapping[str, Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """Build the client app; with the embedded demo provider mounted when configured.

    `instance_path` moves the per-install files (databases, generated secrets, keys) elsewhere
    than `instance/`, as tests and side-by-side installs need.
    """
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    config.load(app, test_config)
    doctor.refuse_unsafe_production(app.config)

    db.init_app(app)
    with app.app_context():
        pooled_connections.check_after_idle(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "login.index"
    login_manager.user_loader(sessions.load_signed_in_user)
    login_manager.unauthorized_handler(sessions.ask_to_sign_in)

    tokens.init_app(app)
    app.extensions["providers"] = providers.build(app.config)
    app.extensions["client_signing_keys"] = providers.client_signing_keys(
        app.config, list(app.extensions["providers"].values())
    )
    app.extensions["provider_connections"] = Connections()
    app.extensions["provider_metadata"] = MetadataCache()

    for blueprint in (
        login.bp,
        callback.bp,
        profile.bp,
        features.bp,
        permissions.bp,
        sessions.bp,
        backchannel_logout.bp,
        client_jwks.bp,
        health.bp,
    ):
        app.register_blueprint(blueprint)
    web.init_app(app)
    for name in PLUGINS:
        importlib.import_module(name).init_app(app)
    for command in cli.COMMANDS:
        app.cli.add_command(command)

    if app.config["DEMO_PROVIDER_ENABLED"] and app.config["DEMO_PROVIDER_EMBEDDED"]:
        _mount_demo_provider(app)
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        # Trust X-Forwarded-For/-Proto/-Host/-Prefix from exactly that many proxies. Redirect
        # URIs never depend on them: they come from BASE_URL.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
    return app


def _mount_demo_provider(app: Flask) -> None:
    """Serve the demo provider under /demo-provider: a separate app with its own database,
    keys and cookie, reached by the client over HTTP like any other provider."""
    import demo_provider

    base_url = app.config["BASE_URL"]
    client = app.extensions["providers"]["demo"]
    settings = {
        "DEMO_PROVIDER_ISSUER": base_url + DEMO_PROVIDER_MOUNT,
        "DEMO_PROVIDER_ACCESS_TOKEN_TTL": app.config["DEMO_PROVIDER_ACCESS_TOKEN_TTL"],
        "DEMO_PROVIDER_SHOW_DEMO_USERS": app.config["APP_ENV"] != "production",
        "DEMO_PROVIDER_PRODUCTION": app.config["APP_ENV"] == "production",
        "DEMO_PROVIDER_LEGACY_IMPLICIT": app.config["DEMO_PROVIDER_LEGACY_IMPLICIT"],
        "DEMO_PROVIDER_USER_PASSWORDS": app.config["DEMO_PROVIDER_USER_PASSWORDS"],
        "DEMO_PROVIDER_CLIENTS": [
            {
                "client_id": app.config["DEMO_CLIENT_ID"],
                "client_secret": app.config["DEMO_CLIENT_SECRET"],
                "redirect_uris": [client.redirect_uri(base_url)],
                "post_logout_redirect_uris": [base_url + "/logout/complete"],
                "backchannel_logout_uri": base_url + "/backchannel-logout/demo",
                # So that DEMO_CLIENT_AUTH=private_key_jwt works with no other change.
                "token_endpoint_auth_method": client.client_auth,
                **(
                    {"jwks_uri": base_url + "/.well-known/jwks.json"}
                    if client.client_auth == "private_key_jwt"
                    else {}
                ),
                "client_name": DEMO_CLIENT_NAME,
                # The sign-in scope, and each feature's, asked for when its page is opened.
                "scope": scopes.join(client.scope, [f.scope for f in client.features.values()]),
            }
        ],
    }
    try:
        provider_app = demo_provider.create_app(settings, instance_path=app.instance_path)
    except ValueError as error:  # a setting the provider refuses to run with
        raise config.ConfigurationError(f"Demo provider: {error}") from error
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {DEMO_PROVIDER_MOUNT: provider_app})

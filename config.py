"""Configuration layers: defaults, then `instance/config.py`, then the environment, then test
overrides. Development gets per-install secrets generated into `instance/`; production refuses
to start on missing or default ones.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask

from oauth import client_keys

DEFAULTS: dict[str, Any] = {
    "APP_ENV": "development",
    # The public address of this app. Redirect URIs are built from it, never from the request's
    # Host header, which an attacker controls. Unset, it is http://127.0.0.1:<PORT>: `make run
    # PORT=8080` moves the app, the embedded provider's issuer and every registered URI together.
    "BASE_URL": None,
    "PORT": 5000,
    "DATABASE_URL": None,
    "SECRET_KEY": None,
    "TOKEN_ENCRYPTION_KEYS": None,
    # The client's own signing keys (a JSON JWK Set of private keys, the first one signs), for
    # private_key_jwt; published at /.well-known/jwks.json. Generated into instance/ in
    # development; in production required only when a provider uses private_key_jwt.
    "CLIENT_SIGNING_KEYS": None,
    # Refresh an access token this many seconds before it expires, so it cannot lapse in flight.
    "TOKEN_REFRESH_LEEWAY": 60,
    # How long a started sign-in may take before its state is refused, and how many may be
    # pending in one browser (several tabs) before the oldest is dropped.
    "LOGIN_ATTEMPT_TTL": 600,
    "MAX_PENDING_LOGINS": 5,
    "HTTP_CONNECT_TIMEOUT": 3.05,
    "HTTP_READ_TIMEOUT": 10.0,
    "HTTP_POOL_SIZE": 10,
    # Database connections kept open per process. A request holds its connection until it ends,
    # so this should be at least the threads per gunicorn worker (8 by default): beyond the pool,
    # every concurrent request opens and closes a connection of its own (on PostgreSQL, a new
    # server process each time).
    "DATABASE_POOL_SIZE": 10,
    # Discovery documents and JWKS are cached this long; an unknown key id refetches the JWKS at
    # most once per JWKS_MIN_REFETCH_INTERVAL so random `kid`s cannot cause a fetch storm.
    "PROVIDER_METADATA_TTL": 3600,
    "JWKS_MIN_REFETCH_INTERVAL": 60,
    "ID_TOKEN_LEEWAY": 60,
    # Seconds since the person last proved who they are at the provider, after which deleting
    # the account or unlinking a provider asks them to sign in there again first.
    "REAUTH_MAX_AGE": 300,
    "DEMO_PROVIDER_ENABLED": None,
    "DEMO_PROVIDER_EMBEDDED": None,
    # The flow inspector shows each step of the OAuth flow (redacted): for learning, not for
    # production, where it is off unless asked for.
    "FLOW_INSPECTOR_ENABLED": None,
    "DEMO_PROVIDER_ACCESS_TOKEN_TTL": 300,
    # The implicit-grant lab of the demo provider (deprecated flow, for teaching only).
    "DEMO_PROVIDER_LEGACY_IMPLICIT": False,
    # New passwords for the demo provider's users (alice, bob): `alice:...,bob:...`. Needed for
    # the demo provider in production, where its published passwords are refused.
    "DEMO_PROVIDER_USER_PASSWORDS": None,
    "DEMO_CLIENT_ID": "reference-app",
    "DEMO_CLIENT_SECRET": None,
    "DEMO_ISSUER": None,
    "OIDC_PROVIDERS": "",
    "SESSION_COOKIE_HTTPONLY": True,
    # Lax, not Strict: the provider's redirect back to /callback is a cross-site navigation,
    # and a Strict cookie would be withheld from it, failing every state check.
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": None,
    # Flask-WTF would also demand a same-origin Referer on https, but every page here sends
    # `Referrer-Policy: no-referrer` (the callback URL carries a code), so browsers send none.
    # The CSRF token bound to the session, with SameSite=Lax, is the protection.
    "WTF_CSRF_SSL_STRICT": False,
    # Sign-in starts and callbacks per client address: enough for people behind one NAT, too
    # few for a script that floods providers with authorization requests in our name.
    "SIGN_IN_RATE_LIMIT": "60 per minute",
    # memory:// counts per process; redis://host:6379/0 shares counts across instances.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # How many reverse proxies in front of the app set X-Forwarded-* headers; 0 trusts none,
    # since anyone can send those headers to an app that is reachable directly.
    "PROXY_FIX_HOPS": 0,
    # No pool_pre_ping: pooled_connections checks a connection only after it sat idle.
    "SQLALCHEMY_ENGINE_OPTIONS": {},
}

# Environment variables read as they are named, with the type to parse them into.
ENVIRONMENT: dict[str, type] = {
    "APP_ENV": str,
    "BASE_URL": str,
    "PORT": int,
    "DATABASE_URL": str,
    "SECRET_KEY": str,
    "TOKEN_ENCRYPTION_KEYS": str,
    "CLIENT_SIGNING_KEYS": str,
    "TOKEN_REFRESH_LEEWAY": int,
    "LOGIN_ATTEMPT_TTL": int,
    "MAX_PENDING_LOGINS": int,
    "HTTP_CONNECT_TIMEOUT": float,
    "HTTP_READ_TIMEOUT": float,
    "HTTP_POOL_SIZE": int,
    "DATABASE_POOL_SIZE": int,
    "PROVIDER_METADATA_TTL": int,
    "JWKS_MIN_REFETCH_INTERVAL": int,
    "ID_TOKEN_LEEWAY": int,
    "REAUTH_MAX_AGE": int,
    "DEMO_PROVIDER_ENABLED": bool,
    "DEMO_PROVIDER_EMBEDDED": bool,
    "FLOW_INSPECTOR_ENABLED": bool,
    "DEMO_PROVIDER_ACCESS_TOKEN_TTL": int,
    "DEMO_PROVIDER_LEGACY_IMPLICIT": bool,
    "DEMO_PROVIDER_USER_PASSWORDS": str,
    "DEMO_CLIENT_ID": str,
    "DEMO_CLIENT_SECRET": str,
    "DEMO_ISSUER": str,
    "OIDC_PROVIDERS": str,
    "SESSION_COOKIE_SECURE": bool,
    "TEMPLATES_AUTO_RELOAD": bool,
    "PROXY_FIX_HOPS": int,
    "SIGN_IN_RATE_LIMIT": str,
    "RATELIMIT_STORAGE_URI": str,
}

# Per-provider settings, `<NAME>_<SETTING>`, read from the environment for any name: which
# providers exist is the registry's business (providers/registry.py), so a new provider module
# needs no list here to have its variables read.
PROVIDER_SETTINGS = (
    "CLIENT_ID",
    "CLIENT_SECRET",
    "ISSUER",
    "SCOPE",
    "TITLE",
    "ACR_VALUES",
    "CLIENT_AUTH",
    "PAR",
    "DPOP",
    "PROFILE",
)
_PROVIDER_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*_(?:" + "|".join(PROVIDER_SETTINGS) + r")$")

DEV_SECRETS_FILE = "dev-secrets.json"
DEV_SIGNING_KEYS_FILE = "client-signing-keys.json"
# The only values APP_ENV may take. Anything else stops the app: a typo such as "Production"
# must never quietly mean development, with its generated secrets, the demo provider's published
# passwords and cookies without Secure.
APP_ENVIRONMENTS = ("development", "production")


class ConfigurationError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to set."""


def load(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill `app.config` from every layer and generate development secrets. In production, the
    app factory then refuses an unsafe configuration (`ops.doctor.refuse_unsafe_production`)."""
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(_from_environment(os.environ))
    if overrides:
        app.config.update(overrides)

    app.config["APP_ENV"] = app_environment(app.config["APP_ENV"])
    if not app.config["BASE_URL"]:
        app.config["BASE_URL"] = f"http://127.0.0.1:{app.config['PORT']}"
    production = app.config["APP_ENV"] == "production"
    _apply_environment_defaults(app, production)
    if not production:
        _fill_development_secrets(app)
        _fill_development_signing_keys(app)
    app.config["BASE_URL"] = app.config["BASE_URL"].rstrip("/")
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"] or (
        "sqlite:///" + os.path.join(app.instance_path, "app.sqlite3")
    )
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    # SQL parameters hold nonces, state digests and ciphertexts: never write them to a log, even
    # with SQLALCHEMY_ECHO on or a DEBUG level on the sqlalchemy.engine logger.
    options.setdefault("hide_parameters", True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A refresh holds SQLite's write lock while it waits on the provider: let others wait
        # longer than the slowest provider call instead of failing with "database is locked".
        options.setdefault("connect_args", {"timeout": 30})
    else:
        options.setdefault("pool_size", app.config["DATABASE_POOL_SIZE"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def app_environment(value: object) -> str:
    """APP_ENV trimmed and lower-cased, if it is one of the two known values; else refuse."""
    normalized = str(value or "").strip().lower()
    if normalized not in APP_ENVIRONMENTS:
        raise ConfigurationError(
            f"APP_ENV is {value!r}: set it to exactly 'development' or 'production'."
        )
    return normalized


def encryption_keys(value: object) -> list[str]:
    """The keys of a TOKEN_ENCRYPTION_KEYS value, in order (the first encrypts), blanks dropped."""
    return [key.strip() for key in str(value or "").split(",") if key.strip()]


def _parse(value: str, kind: type) -> Any:
    if kind is bool:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return kind(value)


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings present in the environment, parsed; provider settings included."""
    found = {
        name: _parse(environ[name], kind) for name, kind in ENVIRONMENT.items() if name in environ
    }
    for name, value in environ.items():
        if name not in found and _PROVIDER_VARIABLE.match(name):
            found[name] = value
    return found


def provider_names(value: str) -> list[str]:
    """The provider slugs listed in an `OIDC_PROVIDERS` value."""
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def _apply_environment_defaults(app: Flask, production: bool) -> None:
    """Settings whose default depends on development vs production."""
    config = app.config
    if config["DEMO_PROVIDER_ENABLED"] is None:
        # The demo provider has published passwords: never on in production unless asked for.
        # In development it is on when there is one to reach: an external one (DEMO_ISSUER), or
        # the embedded one, unless its folder was deleted (README, "Make it yours").
        config["DEMO_PROVIDER_ENABLED"] = not production and bool(
            config["DEMO_ISSUER"] or importlib.util.find_spec("demo_provider")
        )
    if config["DEMO_PROVIDER_EMBEDDED"] is None:
        config["DEMO_PROVIDER_EMBEDDED"] = (
            config["DEMO_PROVIDER_ENABLED"] and not config["DEMO_ISSUER"]
        )
    if not config["DEMO_ISSUER"]:
        config["DEMO_ISSUER"] = config["BASE_URL"].rstrip("/") + "/demo-provider"
    if config["SESSION_COOKIE_SECURE"] is None:
        config["SESSION_COOKIE_SECURE"] = production
    if config.get("TEMPLATES_AUTO_RELOAD") is None:
        # A workshop edits templates while `make run` serves: show the change at the next reload.
        config["TEMPLATES_AUTO_RELOAD"] = not production
    if config["FLOW_INSPECTOR_ENABLED"] is None:
        config["FLOW_INSPECTOR_ENABLED"] = not production
    if production and config["SESSION_COOKIE_NAME"] == "session":  # Flask's default
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, for the whole
        # site (Path=/) and for this exact host (no Domain): no sibling subdomain can plant it.
        config["SESSION_COOKIE_NAME"] = "__Host-session"


def _fill_development_secrets(app: Flask) -> None:
    """Generate per-install secrets into instance/ once: never shared, never committed."""
    missing = [
        key
        for key in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "DEMO_CLIENT_SECRET")
        if not app.config.get(key)
    ]
    if not missing:
        return
    generated = _read_or_create_json(
        Path(app.instance_path) / DEV_SECRETS_FILE,
        lambda: {
            "SECRET_KEY": secrets.token_urlsafe(32),
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DEMO_CLIENT_SECRET": secrets.token_urlsafe(32),
        },
    )
    for key in missing:
        app.config[key] = generated[key]


def _fill_development_signing_keys(app: Flask) -> None:
    """Generate the client's signing key into instance/ once. A file of its own: installs made
    before it existed already have their dev-secrets.json."""
    if not app.config.get("CLIENT_SIGNING_KEYS"):
        app.config["CLIENT_SIGNING_KEYS"] = _read_or_create_json(
            Path(app.instance_path) / DEV_SIGNING_KEYS_FILE,
            lambda: {"CLIENT_SIGNING_KEYS": client_keys.generate()},
        )["CLIENT_SIGNING_KEYS"]


def _read_or_create_json(path: Path, make: Any) -> dict[str, str]:
    """Read a JSON file, or create it with owner-only permissions; safe when processes race.

    The content is written to a file of its own first and then linked into place, which fails
    if the name exists: a process starting at the same moment (gunicorn workers, instances
    sharing the folder) reads either no file or the whole of one, never a half-written one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as file:
                json.dump(make(), file)
            os.link(draft, path)
        except FileExistsError:
            pass  # another process linked its own first: use that one
        finally:
            os.unlink(draft)
    return json.loads(path.read_text())

"""The demo provider's configuration: the `DEMO_PROVIDER_*` keys read from a mapping or from the
environment, checked, given defaults, and turned into the Flask settings the app runs with.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from demo_provider import clients, instance_files, scopes, users
from demo_provider.models import PRIVATE_KEY_JWT

DEFAULT_ISSUER = "http://127.0.0.1:5001"
DEFAULT_ACCESS_TOKEN_TTL = 300
DEFAULT_REFRESH_TOKEN_TTL = 30 * 24 * 60 * 60
DEFAULT_SESSION_COOKIE_NAME = "demo_provider_session"
# NIST SP 800-63B-4 section 3.1.1.2: at least 15 characters for a password that is the only
# factor, as it is here.
MIN_PRODUCTION_PASSWORD_LENGTH = 15

# The switches that make the provider demand the newer protections of every client (each off by
# default, so a client_secret client with plain bearer tokens works out of the box). A value in
# the settings mapping wins; otherwise the process environment is read, so that a provider
# mounted inside the client app, which passes it a mapping, can be switched from the shell too.
SWITCHES = (
    # RFC 9126: authorization requests only by reference to one pushed to /par.
    "DEMO_PROVIDER_REQUIRE_PAR",
    # RFC 9449: every token request carries a DPoP proof, so every token is sender-constrained.
    "DEMO_PROVIDER_REQUIRE_DPOP",
    # RFC 9449 section 8 and 9: every DPoP proof carries a nonce this provider issued recently.
    "DEMO_PROVIDER_REQUIRE_DPOP_NONCE",
    # RFC 7523 section 2.2: clients authenticate with signed JWTs only, never a shared secret.
    "DEMO_PROVIDER_REQUIRE_PRIVATE_KEY_JWT",
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The `DEMO_PROVIDER_*` settings found in environment variables, still as strings."""
    config: dict[str, Any] = {
        key: value for key, value in environ.items() if key.startswith("DEMO_PROVIDER_")
    }
    client_id = environ.get("DEMO_PROVIDER_CLIENT_ID")
    if client_id:
        client: dict[str, Any] = {
            "client_id": client_id,
            "client_secret": environ.get("DEMO_PROVIDER_CLIENT_SECRET", ""),
            "redirect_uris": _comma_separated(environ.get("DEMO_PROVIDER_REDIRECT_URIS", "")),
            "post_logout_redirect_uris": _comma_separated(
                environ.get("DEMO_PROVIDER_POST_LOGOUT_REDIRECT_URIS", "")
            ),
            "backchannel_logout_uri": environ.get("DEMO_PROVIDER_BACKCHANNEL_LOGOUT_URI") or None,
            "client_name": environ.get("DEMO_PROVIDER_CLIENT_NAME") or client_id,
        }
        if environ.get("DEMO_PROVIDER_CLIENT_SCOPE"):
            client["scope"] = environ["DEMO_PROVIDER_CLIENT_SCOPE"]
        if environ.get("DEMO_PROVIDER_CLIENT_TOKEN_ENDPOINT_AUTH_METHOD"):
            method = environ["DEMO_PROVIDER_CLIENT_TOKEN_ENDPOINT_AUTH_METHOD"].strip()
            client["token_endpoint_auth_method"] = method
        if environ.get("DEMO_PROVIDER_CLIENT_JWKS_URI"):
            client["jwks_uri"] = environ["DEMO_PROVIDER_CLIENT_JWKS_URI"].strip()
        config["DEMO_PROVIDER_CLIENTS"] = [client]
    return config


def _comma_separated(value: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated environment value."""
    return [item.strip() for item in value.split(",") if item.strip()]


def resolve(config: Mapping[str, Any], instance_path: str) -> dict[str, Any]:
    """The complete Flask configuration for the provider app, defaults and generated secrets
    filled in. Keys that are not `DEMO_PROVIDER_*` are passed through (e.g. `TESTING`).
    """
    instance = Path(instance_path)
    production = _production(config)
    legacy_implicit = _bool(config.get("DEMO_PROVIDER_LEGACY_IMPLICIT", False))
    if legacy_implicit and production:
        # The implicit grant is a lab for seeing why it was abandoned, never a way to sign in:
        # it puts access tokens in the browser's address bar (RFC 9700 section 2.1.2). Refused
        # rather than ignored, so nobody believes they switched it on.
        raise ValueError(
            "DEMO_PROVIDER_LEGACY_IMPLICIT: the implicit grant lab is not available in production "
            "(DEMO_PROVIDER_PRODUCTION or APP_ENV=production). Use the authorization code flow "
            "with PKCE."
        )
    user_passwords = _user_passwords(config.get("DEMO_PROVIDER_USER_PASSWORDS"))
    if production:
        _check_production_passwords(user_passwords)
    issuer = _issuer(config.get("DEMO_PROVIDER_ISSUER") or DEFAULT_ISSUER)
    issuer_parts = urlsplit(issuer)

    resolved = {key: value for key, value in config.items() if not key.startswith("DEMO_PROVIDER_")}
    resolved.update(
        DEMO_PROVIDER_ISSUER=issuer,
        DEMO_PROVIDER_DATABASE_URL=config.get("DEMO_PROVIDER_DATABASE_URL")
        or f"sqlite:///{instance / 'demo-provider.sqlite3'}",
        DEMO_PROVIDER_SIGNING_KEY_PATH=str(
            config.get("DEMO_PROVIDER_SIGNING_KEY_PATH")
            or instance / "demo-provider-signing-key.json"
        ),
        DEMO_PROVIDER_ACCESS_TOKEN_TTL=_positive_int(
            config, "DEMO_PROVIDER_ACCESS_TOKEN_TTL", DEFAULT_ACCESS_TOKEN_TTL
        ),
        DEMO_PROVIDER_REFRESH_TOKEN_TTL=_positive_int(
            config, "DEMO_PROVIDER_REFRESH_TOKEN_TTL", DEFAULT_REFRESH_TOKEN_TTL
        ),
        DEMO_PROVIDER_CLIENTS=[_client(item) for item in config.get("DEMO_PROVIDER_CLIENTS") or []],
        DEMO_PROVIDER_SHOW_DEMO_USERS=_bool(config.get("DEMO_PROVIDER_SHOW_DEMO_USERS", True)),
        DEMO_PROVIDER_SESSION_COOKIE_NAME=config.get("DEMO_PROVIDER_SESSION_COOKIE_NAME")
        or DEFAULT_SESSION_COOKIE_NAME,
        DEMO_PROVIDER_PRODUCTION=production,
        DEMO_PROVIDER_LEGACY_IMPLICIT=legacy_implicit,
        DEMO_PROVIDER_USER_PASSWORDS=user_passwords,
    )
    resolved.update({name: _switch(config, name) for name in SWITCHES})
    resolved.update(
        SECRET_KEY=config.get("DEMO_PROVIDER_SECRET_KEY") or _generated_secret_key(instance),
        SQLALCHEMY_DATABASE_URI=resolved["DEMO_PROVIDER_DATABASE_URL"],
        # The provider's own cookie, scoped to its mount path so the client never receives it.
        SESSION_COOKIE_NAME=resolved["DEMO_PROVIDER_SESSION_COOKIE_NAME"],
        SESSION_COOKIE_PATH=issuer_parts.path or "/",
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: the person arrives here by a top-level redirect from the client.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=issuer_parts.scheme == "https",
        # The pages send `Referrer-Policy: no-referrer`, so Flask-WTF's HTTPS Referer check
        # would reject every form; the session-bound CSRF token is the protection that counts.
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    return resolved


def _issuer(value: str) -> str:
    """Check the issuer: it is compared byte for byte by clients (discovery, `iss`)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"DEMO_PROVIDER_ISSUER must be an absolute http(s) URL, got {value!r}")
    if value.endswith("/") or parts.query or parts.fragment:
        raise ValueError(
            f"DEMO_PROVIDER_ISSUER must have no trailing slash, query or fragment, got {value!r}"
        )
    return value


def _positive_int(config: Mapping[str, Any], key: str, default: int) -> int:
    """An integer number of seconds, parsed from a string if it came from the environment."""
    raw = config.get(key)
    if raw is None or raw == "":
        return default
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{key} must be a positive number of seconds, got {raw!r}")
    return value


def _switch(config: Mapping[str, Any], name: str) -> bool:
    """A protection switch: from the settings mapping, else from the environment; off if unset."""
    value = config.get(name)
    if value is None:
        value = os.environ.get(name, False)
    try:
        return _bool(value)
    except ValueError:
        raise ValueError(f"{name} must be true or false, got {value!r}") from None


def _production(config: Mapping[str, Any]) -> bool:
    """Whether this provider serves production, as far as it can tell.

    The rule: `DEMO_PROVIDER_PRODUCTION=true` in its own settings, or `APP_ENV=production` (the
    client app's switch) either passed in those settings or set in this process's environment,
    where a provider mounted inside the client app, or started beside it, can see it. Either one
    is enough; development is everything else.
    """
    app_env = str(config.get("APP_ENV") or os.environ.get("APP_ENV") or "").strip().lower()
    if app_env not in ("", "development", "production"):
        # The client app refuses such a value too: a typo must not quietly mean development,
        # here any more than there.
        raise ValueError("APP_ENV must be exactly 'development' or 'production'.")
    return _bool(config.get("DEMO_PROVIDER_PRODUCTION", False)) or app_env == "production"


def _user_passwords(value: Any) -> dict[str, str]:
    """The demo users' passwords from `DEMO_PROVIDER_USER_PASSWORDS`, by username.

    Either a mapping (`{"alice": "...", "bob": "..."}`, from a config file or dict) or, from the
    environment, a string `alice:PASSWORD,bob:PASSWORD`: items split at commas, each at its first
    colon, surrounding spaces dropped (so such a password cannot hold a comma or start or end with
    a space; use the mapping for that). A demo user left out keeps the published password.
    Unknown usernames and empty passwords are refused, so a typo cannot leave a published
    password in place unnoticed. No value given is ever repeated in an error message.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        pairs = []
        for item in value.split(","):
            if not item.strip():
                continue
            username, colon, password = item.strip().partition(":")
            if not colon:
                raise ValueError(
                    "DEMO_PROVIDER_USER_PASSWORDS must look like 'alice:PASSWORD,bob:PASSWORD'; "
                    "an item has no colon between username and password"
                )
            pairs.append((username.strip(), password))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise ValueError("DEMO_PROVIDER_USER_PASSWORDS must be a mapping or a 'user:password,...'")
    known = {demo.username for demo in users.DEMO_USERS}
    passwords: dict[str, str] = {}
    for username, password in pairs:
        if username not in known:
            # The unknown name is not echoed: a slip could have put a password in its place.
            raise ValueError(
                "DEMO_PROVIDER_USER_PASSWORDS names a user who is not a demo user; the demo users "
                f"are {', '.join(sorted(known))}"
            )
        if username in passwords:
            raise ValueError(f"DEMO_PROVIDER_USER_PASSWORDS gives {username!r} twice")
        if not isinstance(password, str) or not password:
            raise ValueError(f"DEMO_PROVIDER_USER_PASSWORDS: the password of {username!r} is empty")
        passwords[username] = password
    return passwords


def _check_production_passwords(passwords: Mapping[str, str]) -> None:
    """Refuse to serve production while a demo user can sign in with a published password.

    The demo users and their passwords are printed in the README and on every development copy's
    sign-in page, so anyone could sign in as them and approve whatever a client asks. Checked on
    the configuration when the app is built, before anything is served or written.
    """
    published = {demo.password for demo in users.DEMO_USERS}
    weak = [
        demo.username
        for demo in users.DEMO_USERS
        if demo.username not in passwords
        or passwords[demo.username] in published
        or len(passwords[demo.username]) < MIN_PRODUCTION_PASSWORD_LENGTH
    ]
    if weak:
        raise ValueError(
            "The demo provider runs in production (DEMO_PROVIDER_PRODUCTION or "
            "APP_ENV=production) but the demo users "
            f"{', '.join(weak)} would keep a published or short password. Set "
            "DEMO_PROVIDER_USER_PASSWORDS to 'alice:PASSWORD,bob:PASSWORD' with a new password of "
            f"at least {MIN_PRODUCTION_PASSWORD_LENGTH} characters for every demo user, or do not "
            "run the demo provider in production."
        )


def _bool(value: Any) -> bool:
    """A boolean, parsed from a string if it came from the environment."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"Expected a boolean, got {value!r}")


def _client(item: Mapping[str, Any]) -> dict[str, Any]:
    """A client registration with its defaults filled in and its fields checked."""
    client_id = item.get("client_id")
    client_secret = item.get("client_secret") or None
    auth_method = item.get("token_endpoint_auth_method") or None
    if not client_id:
        raise ValueError("Each demo provider client needs a client_id")
    if auth_method is None and client_secret is None and (item.get("jwks") or item.get("jwks_uri")):
        # Keys and no secret can only mean one thing.
        auth_method = PRIVATE_KEY_JWT
    try:
        keys = clients.check_authentication(auth_method, item.get("jwks"), item.get("jwks_uri"))
    except ValueError as error:
        raise ValueError(f"Client {client_id!r}: {error}") from None
    if auth_method != PRIVATE_KEY_JWT and not client_secret:
        raise ValueError(
            f"Client {client_id!r} needs a client_secret, or token_endpoint_auth_method "
            "private_key_jwt with its jwks or jwks_uri"
        )
    scope = item.get("scope") or " ".join(scopes.SUPPORTED)
    unknown = set(scope.split()) - set(scopes.SUPPORTED)
    if unknown:
        raise ValueError(f"Client {client_id!r} asks for unknown scopes: {sorted(unknown)}")
    redirect_uris = _uri_list(item, "redirect_uris")
    if not redirect_uris:
        raise ValueError(f"Client {client_id!r} needs at least one redirect URI")
    post_logout_redirect_uris = _uri_list(item, "post_logout_redirect_uris")
    backchannel_logout_uri = item.get("backchannel_logout_uri") or None
    if backchannel_logout_uri is not None and not isinstance(backchannel_logout_uri, str):
        # One URI per client (OIDC Back-Channel Logout 1.0 section 2.2), not a list.
        raise ValueError(
            f"Client {client_id!r}: backchannel_logout_uri must be one URI, "
            f"got {backchannel_logout_uri!r}"
        )
    # Checked here, when the app is built, although the registration is only stored when the
    # provider starts serving: a configuration mistake should stop the start, not a sign-in.
    try:
        for uri in redirect_uris:
            clients.check_redirect_uri(uri)
        for uri in post_logout_redirect_uris:
            clients.check_redirect_uri(uri, kind="Post-logout redirect URI")
        if backchannel_logout_uri is not None:
            clients.check_backchannel_logout_uri(backchannel_logout_uri)
    except ValueError as error:
        raise ValueError(f"Client {client_id!r}: {error}") from None
    return {
        "client_id": client_id,
        # A private_key_jwt client proves itself with its key; a secret given too is never used.
        "client_secret": None if auth_method == PRIVATE_KEY_JWT else client_secret,
        "redirect_uris": redirect_uris,
        # Optional (OIDC RP-Initiated Logout 1.0): without one, logout never redirects back.
        "post_logout_redirect_uris": post_logout_redirect_uris,
        # Optional (OIDC Back-Channel Logout 1.0): without one, the client is never told when
        # a session it took part in ends here.
        "backchannel_logout_uri": backchannel_logout_uri,
        "client_name": item.get("client_name") or client_id,
        "scope": scope,
        # Whether the client may use response_type=token while the implicit lab is switched on.
        "legacy_implicit": _bool(item.get("legacy_implicit", False)),
        # How it authenticates (RFC 7591); None keeps the secret in either place, as before.
        "token_endpoint_auth_method": auth_method,
        # For private_key_jwt: its public keys, inline or where to fetch them.
        "jwks": keys.jwks,
        "jwks_uri": keys.jwks_uri,
    }


def _uri_list(item: Mapping[str, Any], key: str) -> list[str]:
    """A list of URIs from a client registration, refusing a bare string (a common slip)."""
    value = item.get(key) or []
    if isinstance(value, str):
        raise ValueError(f"Client {item.get('client_id')!r}: {key} must be a list, got {value!r}")
    return list(value)


def _generated_secret_key(instance: Path) -> str:
    """This install's cookie-signing key, generated on first start and kept in instance/."""
    path = instance / "demo-provider-secret-key"
    created = instance_files.read_or_create(path, lambda: secrets.token_hex(32).encode("ascii"))
    return created.decode("ascii").strip()


def environment() -> dict[str, Any]:
    """The provider's settings from this process's environment."""
    return from_environment(os.environ)

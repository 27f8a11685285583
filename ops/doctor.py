"""Configuration checks for the mistakes deployments make: missing or weak secrets, cookie flags,
proxy settings, plain http, the demo provider left on. `flask doctor` prints them all; in
production the app refuses to start while any of them is an error.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from config import ConfigurationError, encryption_keys

ERROR = "error"
WARNING = "warning"
OK = "ok"

# The oldest release of each security library with every advisory published up to Nov 2026
# fixed. joserfc 1.7.4: empty HMAC keys refused (1.6.8), `iss`/`aud` claims of the wrong type
# refused (1.7.3), a general JWS with no signatures refused (1.7.4).
SECURITY_FLOORS = {"authlib": (1, 9, 6), "joserfc": (1, 7, 4)}
# A random secret of 32+ characters has many more than this; "x" * 40 has one.
MIN_DISTINCT_SECRET_CHARACTERS = 8
KNOWN_WEAK_SECRETS = frozenset({"dev", "secret", "changeme", "change-me", "!secret", "top secret!"})


@dataclass(frozen=True)
class Finding:
    level: str
    topic: str
    message: str


def _loopback(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


def configuration(config: Mapping[str, Any]) -> Iterator[Finding]:
    """Findings about the configuration alone (no network, no database)."""
    production = config.get("APP_ENV") == "production"
    serious = ERROR if production else WARNING
    base_url = str(config.get("BASE_URL") or "")

    secret_key = str(config.get("SECRET_KEY") or "")
    if len(secret_key) < 32 or secret_key.lower() in KNOWN_WEAK_SECRETS or _low_variety(secret_key):
        yield Finding(serious, "SECRET_KEY", "must be a random value of at least 32 characters")
    else:
        yield Finding(OK, "SECRET_KEY", "set")

    keys = encryption_keys(config.get("TOKEN_ENCRYPTION_KEYS"))
    try:
        for key in keys:
            Fernet(key)
    except (ValueError, TypeError):
        yield Finding(ERROR, "TOKEN_ENCRYPTION_KEYS", "holds a value that is not a Fernet key")
    else:
        if keys:
            yield Finding(OK, "TOKEN_ENCRYPTION_KEYS", f"{len(keys)} key(s); the first encrypts")
        else:
            yield Finding(serious, "TOKEN_ENCRYPTION_KEYS", "must be set (see README)")

    if base_url.startswith("https://"):
        yield Finding(OK, "BASE_URL", base_url)
    elif _loopback(base_url) and not production:
        yield Finding(OK, "BASE_URL", f"{base_url} (plain http is fine on this machine only)")
    else:
        yield Finding(serious, "BASE_URL", "must be the app's public https:// address")

    if production and not config.get("DATABASE_URL"):
        yield Finding(ERROR, "DATABASE_URL", "must point at the production database")
    elif str(config.get("DATABASE_URL") or "sqlite").startswith("sqlite") and production:
        yield Finding(WARNING, "DATABASE_URL", "SQLite serves one host only; use PostgreSQL")

    if config.get("DEBUG"):
        yield Finding(
            serious, "DEBUG", "the debugger runs code for whoever reaches it: turn it off"
        )

    yield from _cookies(config, base_url, serious)

    if base_url.startswith("https://") and not config.get("PROXY_FIX_HOPS"):
        yield Finding(
            WARNING,
            "PROXY_FIX_HOPS",
            "0: if a reverse proxy terminates TLS, set it to the number of proxies, or client "
            "addresses (rate limits, logs) will be the proxy's",
        )

    if production and config.get("DEMO_PROVIDER_ENABLED"):
        if config.get("DEMO_PROVIDER_EMBEDDED") and not config.get("DEMO_PROVIDER_USER_PASSWORDS"):
            # alice/wonderland and bob/builder are printed in this README: anyone could sign in.
            yield Finding(
                ERROR,
                "DEMO_PROVIDER_USER_PASSWORDS",
                "the demo provider is on with its published passwords: set new ones",
            )
        else:
            yield Finding(WARNING, "DEMO_PROVIDER_ENABLED", "the demo provider is on in production")

    if str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://") and production:
        yield Finding(
            WARNING,
            "RATELIMIT_STORAGE_URI",
            "memory:// counts per process; use redis:// when several workers or hosts serve",
        )

    yield from _security_libraries()


def _low_variety(secret: str) -> bool:
    """True for a long value that is no secret: few distinct characters, or a pattern repeated.

    A length check alone lets "x" * 40 or "abcd" * 10 through, and anyone guessing tries those.
    """
    periodic = secret in (secret + secret)[1:-1]  # "abab" is found inside "bababa"
    return len(set(secret)) < MIN_DISTINCT_SECRET_CHARACTERS or periodic


def _security_libraries() -> Iterator[Finding]:
    """An error for each installed security library older than its advisory-free floor."""
    for package, floor in SECURITY_FLOORS.items():
        installed = version(package)
        if _release(installed) < floor:
            wanted = ".".join(map(str, floor))
            yield Finding(
                ERROR, package, f"{installed} has published advisories; upgrade to {wanted}+"
            )
        else:
            yield Finding(OK, package, installed)


def _release(text: str) -> tuple[int, ...]:
    """The leading release numbers of a version string: "1.9.10" -> (1, 9, 10)."""
    numbers = []
    for part in text.split(".")[:3]:
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def _cookies(config: Mapping[str, Any], base_url: str, serious: str) -> Iterator[Finding]:
    if not config.get("SESSION_COOKIE_HTTPONLY", True):
        yield Finding(serious, "SESSION_COOKIE_HTTPONLY", "must stay on: scripts must not read it")
    samesite = config.get("SESSION_COOKIE_SAMESITE")
    if samesite != "Lax":
        # Strict breaks every callback (the provider's redirect back is cross-site); None sends
        # the cookie with cross-site POSTs.
        yield Finding(serious, "SESSION_COOKIE_SAMESITE", f"{samesite!r}: must be 'Lax'")
    if base_url.startswith("https://") and not config.get("SESSION_COOKIE_SECURE"):
        yield Finding(serious, "SESSION_COOKIE_SECURE", "must be on when the site is https")
    if base_url.startswith("https://") and config.get("SESSION_COOKIE_SECURE"):
        yield Finding(OK, "cookies", f"{config.get('SESSION_COOKIE_NAME')}: Secure, HttpOnly, Lax")


def errors(config: Mapping[str, Any]) -> list[Finding]:
    """Only the findings that must stop a production start."""
    return [finding for finding in configuration(config) if finding.level == ERROR]


def refuse_unsafe_production(config: Mapping[str, Any]) -> None:
    """Refuse to run in production with a configuration that would be unsafe there."""
    if config.get("APP_ENV") != "production":
        return
    problems = [f"{finding.topic} {finding.message}" for finding in errors(config)]
    if problems:
        raise ConfigurationError("Refusing to start in production: " + "; ".join(problems) + ".")

"""The workshop check (`flask --app app doctor --workshop`, `make doctor`): what trips a laptop
before the first sign-in, one line per check, with the fix for any that fails.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import Migrate

from extensions import db

PYTHON_NEEDED = (3, 11)
DISCOVERY_TIMEOUT = 3.0
# What holds a port on a laptop, so the message can name it.
KNOWN_PORT_HOLDERS = {5000: "on macOS, AirPlay Receiver (System Settings > General > AirDrop)"}


@dataclass(frozen=True)
class Check:
    """One line of the workshop check: what, whether it passed, and what to do if not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def run() -> list[Check]:
    """Every check, in the order a laptop needs them (call inside the app context)."""
    checks: list[Callable[[], Check]] = [
        _python,
        _virtual_environment,
        _base_url,
        _port,
        _migrations,
        _demo_provider,
        _cookies,
    ]
    return [check() for check in checks]


def _python() -> Check:
    found = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= PYTHON_NEEDED:
        return Check("Python", True, found)
    return Check("Python", False, found, "install Python 3.11 or newer, then `make clean run`")


def _virtual_environment() -> Check:
    if sys.prefix != sys.base_prefix:
        return Check("virtual environment", True, sys.prefix)
    return Check(
        "virtual environment",
        False,
        "running outside one",
        "run through make (`make run`, `make doctor`), which creates and uses .venv",
    )


def _base_url() -> Check:
    """BASE_URL names the port the app serves on: every redirect URI is built from it."""
    config = current_app.config
    base_url = urlsplit(config["BASE_URL"])
    loopback = base_url.hostname in ("127.0.0.1", "localhost", "::1")
    try:
        declared = base_url.port or (443 if base_url.scheme == "https" else 80)
    except ValueError:
        declared = None
    if loopback and declared != config["PORT"]:
        return Check(
            "BASE_URL",
            False,
            f"{config['BASE_URL']}, but the app is to serve on port {config['PORT']}",
            f"unset BASE_URL (it then follows PORT), or run `make run PORT={declared}`",
        )
    return Check("BASE_URL", True, config["BASE_URL"])


def _port() -> Check:
    base_url = urlsplit(current_app.config["BASE_URL"])
    port = base_url.port or (443 if base_url.scheme == "https" else 80)
    host = base_url.hostname or "127.0.0.1"
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            holder = KNOWN_PORT_HOLDERS.get(port, "another program")
            return Check(
                "port",
                False,
                f"{host}:{port} is taken ({holder}, or the app itself already running)",
                f"stop what holds it, or use another port: `make run PORT={_other_port(port)}`",
            )
    return Check("port", True, f"{host}:{port} is free")


def _other_port(port: int) -> int:
    return 8080 if port != 8080 else 8081


def _migrations() -> Check:
    migrate: Migrate = current_app.extensions["migrate"]
    head = ScriptDirectory(migrate.directory).get_current_head()
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return Check("database", True, f"migrated (revision {head})")
    return Check(
        "database",
        False,
        f"at revision {current or 'none'}, the code needs {head}",
        "`make migrate` (make run does it too)",
    )


def _demo_provider() -> Check:
    """The demo provider answers discovery for exactly the issuer the app expects, from a
    machine whose clock agrees with this one's."""
    config = current_app.config
    if not config["DEMO_PROVIDER_ENABLED"]:
        return Check("demo provider", True, "switched off")
    issuer = config["DEMO_ISSUER"]
    if config["DEMO_PROVIDER_EMBEDDED"]:
        # Served by this app itself, at BASE_URL: nothing to reach before `make run`, and asking
        # it here would prepare its database from this shell's settings.
        return Check("demo provider", True, f"embedded, at {issuer} once the app runs")
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        answer = requests.get(url, timeout=DISCOVERY_TIMEOUT)
    except requests.RequestException:
        return Check(
            "demo provider",
            False,
            f"{url} cannot be reached",
            "start the provider first (`make run-provider`), or check DEMO_ISSUER",
        )
    document, status = _json(answer), answer.status_code
    if status != 200 or not isinstance(document, dict):
        return Check("demo provider", False, f"{url} answered {status}", "check DEMO_ISSUER")
    if document.get("issuer") != issuer:
        return Check(
            "demo provider",
            False,
            f"it calls itself {document.get('issuer')!r}, the app expects {issuer!r}",
            "set BASE_URL (or PORT) to the address you open in the browser, then restart",
        )
    clock = _clock(answer.headers.get("Date"))
    if clock is not None:
        return clock
    return Check("demo provider", True, f"discovery answers for {issuer}")


def _json(answer: requests.Response) -> object:
    try:
        return answer.json()
    except ValueError:
        return None


def now() -> datetime:
    """This machine's clock (a function of its own, so a test can set it wrong)."""
    return datetime.now(UTC)


def _clock(date_header: str | None) -> Check | None:
    """A failing check when this machine's clock is further from the provider's than the ID
    token leeway allows: every ID token would look expired or not yet valid."""
    if not date_header:
        return None
    try:
        theirs = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    skew = abs((now() - theirs).total_seconds())
    leeway = current_app.config["ID_TOKEN_LEEWAY"]
    if skew <= leeway:
        return None
    return Check(
        "clock",
        False,
        f"{skew:.0f} s away from the provider's, more than the {leeway} s ID tokens allow",
        "turn on automatic date and time in the system settings",
    )


def _cookies() -> Check:
    config = current_app.config
    base_url = config["BASE_URL"]
    if base_url.startswith("http://") and config["SESSION_COOKIE_SECURE"]:
        return Check(
            "cookies",
            False,
            "Secure cookies on a plain-http BASE_URL: the browser never sends them back",
            "leave SESSION_COOKIE_SECURE unset in development",
        )
    if config["SESSION_COOKIE_SAMESITE"] != "Lax":
        return Check(
            "cookies",
            False,
            f"SameSite={config['SESSION_COOKIE_SAMESITE']}: the provider's redirect back loses it",
            "leave SESSION_COOKIE_SAMESITE at Lax",
        )
    return Check("cookies", True, f"{config['SESSION_COOKIE_NAME']}: HttpOnly, SameSite=Lax")


def lines(checks: list[Check]) -> Iterator[str]:
    """The checks as the terminal shows them: one line each, the fix indented below."""
    for check in checks:
        yield f"{'ok' if check.ok else 'FAIL':<5} {check.name:<20} {check.detail}"
        if check.fix:
            yield f"{'':<5} {'':<20} fix: {check.fix}"

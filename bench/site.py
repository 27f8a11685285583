"""The live deployment the benchmarks run on: `tests/e2e/deployment.py`'s `deploy` (gunicorn
instances on a throwaway PostgreSQL database, the demo provider on 127.0.0.1 with its request
recorder), plus a count of the TCP connections the provider accepts, a signed-in browser, and
the refresh storm both storm benchmarks raise on it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import load, provider_server
from tests.e2e import live_demo
from tests.e2e.deployment import Browser, Deployment, deploy

# What a profile page shows when the provider's API answered live (alice's location there).
LIVE_PROFILE_TEXT = "Wonderland"
# The hot path as production runs it. The harness deploys in development mode (plain http on
# 127.0.0.1), where the flow inspector is on by default and stores every view's steps in the
# database, and templates are checked for changes on every render; production does neither.
PRODUCTION_LIKE = {"FLOW_INSPECTOR_ENABLED": "false", "TEMPLATES_AUTO_RELOAD": "false"}


@dataclass
class Options:
    """How the benchmarks run: short or full, and where."""

    quick: bool
    database_url: str
    workdir: Path
    storm: int = 50
    #: "cheroot" (keeps connections alive, as real providers do) or "werkzeug" (the tests').
    provider_server: str = "cheroot"


@dataclass
class Site:
    deployment: Deployment
    #: The demo provider's HTTP server; `accepted` counts its TCP connections.
    provider_server: provider_server.KeepAliveServer | provider_server.ClosingServer


def quiet_logging() -> None:
    """No line per request from the provider's server, no security events from in-process apps."""
    for name in ("werkzeug", "cheroot", "security", "alembic", "flask_migrate"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def running(
    options: Options, name: str, env: dict[str, str] | None = None, **deploy_settings
) -> Iterator[Site]:
    """A deployment for one benchmark, stopped at the end; its logs are shown if it fails.
    `env` adds settings to PRODUCTION_LIKE.

    The demo provider is served by `options.provider_server` instead of the tests' server:
    deploy() builds it through tests.e2e.live_demo.serve_demo_provider, whose server class is
    swapped while the deployment starts.
    """
    servers = []
    server_class = provider_server.SERVERS[options.provider_server]

    def keep(wsgi_app):
        servers.append(server_class(wsgi_app))
        return servers[-1]

    original = live_demo.LiveServer
    live_demo.LiveServer = keep
    try:
        with deploy(
            options.workdir / name,
            options.database_url,
            env={**PRODUCTION_LIKE, **(env or {})},
            **deploy_settings,
        ) as started:
            live_demo.LiveServer = original
            try:
                yield Site(started, servers[0])
            except Exception:
                for title, tail in started.log_tails(20).items():
                    print(f"--- {title} log tail ---\n{tail}", file=sys.stderr)
                raise
    finally:
        live_demo.LiveServer = original


def signed_in(deployment: Deployment, username: str = "alice") -> Browser:
    """A browser signed in through instance A, showing the live profile."""
    browser = deployment.browser()
    answer = browser.sign_in(username)
    if answer.status_code != 303 or not answer.headers["Location"].endswith("/profile"):
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:500]}")
    page = browser.get("/profile")
    if outcome(page) != "live profile":
        raise RuntimeError(f"the profile page after sign-in shows: {outcome(page)}")
    return browser


def outcome(page: requests.Response) -> str:
    """What the person sees on a profile page, in a word."""
    if page.status_code != 200:
        return f"HTTP {page.status_code}"
    for status in ("Reconnect needed", "Unavailable"):
        if status in page.text:
            return status
    if "Connected" in page.text and LIVE_PROFILE_TEXT in page.text:
        return "live profile"
    return "no profile"


def profile_targets(deployment: Deployment, browser: Browser) -> list[load.Target]:
    """GET /profile on every instance as the signed-in browser sends it: with its session cookie
    and its User-Agent. (Flask-Login's session protection hashes the agent: a different one marks
    the session non-fresh, so every answer would rewrite the cookie, which no browser sees twice.)
    """
    headers = {
        "Cookie": "; ".join(f"{key}={value}" for key, value in browser.cookies().items()),
        "User-Agent": browser.http.headers["User-Agent"],
    }
    return [
        load.Target(port=instance.port, path="/profile", headers=headers)
        for instance in deployment.instances
    ]


@dataclass
class StormRun:
    """One refresh storm as the browser and the provider saw it."""

    pages: list[requests.Response]
    #: Refresh requests the provider received during the storm.
    refreshes: int
    seconds: float


def refresh_storm(
    deployment: Deployment, browser: Browser, size: int, expire: Callable[[Deployment], int]
) -> StormRun:
    """`size` profile views at once over every instance, each on a new connection, right after
    `expire(deployment)` marked the one stored access token expired: so every view needs a
    refresh, and the provider's count says how many were made."""
    if expire(deployment) != 1:
        raise RuntimeError("expected exactly one stored access token to expire")
    recorder = deployment.provider.recorder
    recorder.clear()
    started = time.perf_counter()
    pages = browser.storm(size)
    seconds = time.perf_counter() - started
    return StormRun(pages, len(recorder.token_requests("refresh_token")), seconds)


def mib(kib: int) -> str:
    """A size in KiB, as MiB for people."""
    return f"{kib / 1024:.1f} MiB"

"""Fixtures for browser tests: the app with its embedded demo provider served on 127.0.0.1 as
`make run` serves it, and Debian's Chromium driven by Playwright. Skipped cleanly where Chromium
or Playwright is missing (`.ci/run` installs both).
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask_migrate import upgrade

from app import DEMO_PROVIDER_MOUNT, create_app
from demo_provider import backchannel
from extensions import db
from models import LinkedAccount, utcnow
from tests.live_provider import LiveServer

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags for a headless Chromium on a machine with no network beyond loopback.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[3]
# Each run saves its screenshots under tests/artifacts (git-ignored); `make screenshots` points
# SCREENSHOT_DIR at docs/screenshots to refresh the README's pictures.
SCREENSHOTS = ROOT / os.environ.get("SCREENSHOT_DIR", "tests/artifacts/screenshots")

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not shutil.which(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)


class Site:
    """The app as a person reaches it (a base URL on 127.0.0.1), and its database."""

    def __init__(self, url: str, app) -> None:
        self.url = url
        self.app = app

    def expire_access_tokens(self) -> None:
        """Make every stored access token expired, as if its lifetime had passed."""
        with self.app.app_context():
            LinkedAccount.query.update({"expires_at": utcnow() - timedelta(seconds=1)})
            db.session.commit()

    def wait_for_back_channel_logouts(self) -> None:
        """Wait until the demo provider has delivered every logout token it has sent: one that
        arrived late would end a session the test started after the click that sent it."""
        provider_app = self.app.wsgi_app.mounts[DEMO_PROVIDER_MOUNT]
        backchannel.sender(provider_app).flush()


def serve_client(server: LiveServer, instance: Path, **settings) -> Flask:
    """Build the client app for `server`'s address (with the demo provider mounted at
    /demo-provider, like `make run`, unless `settings` say otherwise), migrate its database, and
    serve it there."""
    app = create_app(
        {
            "SECRET_KEY": "browser-tests-" + "s" * 32,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": f"sqlite:///{instance / 'app.sqlite3'}",
            "BASE_URL": server.url,
            "OIDC_PROVIDERS": "",
            **settings,
        },
        instance_path=str(instance),
    )
    with app.app_context():
        upgrade()
    server.start(app)
    return app


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The app with the demo provider mounted at /demo-provider, like `make run`."""
    server = LiveServer()
    app = serve_client(server, tmp_path_factory.mktemp("browser-instance"))
    yield Site(server.url, app)
    server.stop()


@pytest.fixture(scope="session")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser profile (no cookies) per test."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    """Save a screenshot of the whole page for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, site: Site, username: str = "alice", password: str = "wonderland") -> None:
    """Click through the whole sign-in like a person; ends on the profile page."""
    page.goto(site.url + "/login")
    page.get_by_role("button", name="Sign in with Demo Provider").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(site.url + "/profile")


def start_with_no_grant(page, site: Site, username: str, password: str) -> None:
    """Revoke, at the demo provider's Connected applications, whatever this person allowed the
    app in earlier tests: the provider is shared by the session's tests and remembers grants,
    which `include_granted_scopes` would carry into the next consent. Ends signed in at the
    provider only, on that page."""
    page.goto(site.url + "/demo-provider/connections")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Connected applications").wait_for()
    revoke = page.get_by_role("button", name=re.compile("^Revoke access for"))
    if revoke.count():
        revoke.click()
        playwright_api.expect(page.get_by_text("can no longer use your account")).to_be_visible()
        site.wait_for_back_channel_logouts()
    playwright_api.expect(page.locator("main")).to_contain_text(
        "No application can use your account right now."
    )

"""What the side-by-side benchmark (bench/side_by_side.py) compares: this app as shipped
(DPoP-bound tokens, because the demo provider offers DPoP and DEMO_DPOP=auto uses it), this app
with bearer tokens (DEMO_DPOP=off), and the peer apps of bench/peers/. For each: the WSGI app
gunicorn serves, its settings, how alice signs in through its pages, and how its stored access
token is made expired before a refresh storm.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from flask import Flask
from sqlalchemy import text

from bench import site
from tests.e2e.deployment import HTTP_TIMEOUT, PASSWORDS, Browser, Deployment, gunicorn_command
from tests.e2e.live_demo import ProviderBrowser

# The peers run none of the app's migrations (gunicorn.conf.py's start-up hook would).
PEER_SETTINGS = {"RUN_MIGRATIONS": "0"}
# requests-oauthlib refuses plain http, even to 127.0.0.1, unless this is set; its docs and
# Flask-Dance's say to set it for local testing. (Authlib allows http on loopback addresses.)
OAUTHLIB_ON_LOOPBACK = {**PEER_SETTINGS, "OAUTHLIB_INSECURE_TRANSPORT": "1"}
# The stored tokens' `expires_at`, one second ago: a column of Authlib's documented model, a
# key of the JSON that requests-oauthlib returns (and Flask-Dance stores).
EXPIRE_AUTHLIB = "UPDATE oauth2_token SET expires_at = extract(epoch FROM now())::integer - 1"
EXPIRE_FLASK_DANCE = (
    "UPDATE flask_dance_oauth SET token = jsonb_set(token::jsonb, '{expires_at}',"
    " to_jsonb(extract(epoch FROM now()) - 1))::json"
)
EXPIRE_REQUESTS_OAUTHLIB = (
    "UPDATE oauth_tokens SET token = jsonb_set(token::jsonb, '{expires_at}',"
    " to_jsonb(extract(epoch FROM now()) - 1))::json"
)


@dataclass(frozen=True)
class Subject:
    key: str
    title: str
    #: The WSGI app gunicorn serves: "module:factory()".
    factory: str
    sign_in: Callable[[Deployment], Browser]
    #: Marks the one stored access token expired; returns the rows changed.
    expire: Callable[[Deployment], int]
    settings: Mapping[str, str] = field(default_factory=dict)
    #: Whether this is this app (its figures are the ones every other is compared with).
    ours: bool = False
    #: The subject this one is a variant of (this app with bearer tokens: "app").
    variant_of: str | None = None
    #: The distribution a peer is built on (from the `bench` extra), named in its title.
    package: str | None = None
    #: What a reader of its figures should know that the figures cannot show.
    caveat: str = ""

    @property
    def available(self) -> bool:
        """Whether the library it is built on is installed here."""
        return self.package is None or _installed(self.package) is not None

    def command(self, port: int, workers: int, threads: int) -> list[str]:
        """The checked-in gunicorn configuration serving this subject's app."""
        return [*gunicorn_command(port, workers, threads), self.factory]

    def build(self) -> Flask:
        """The subject's app, built in this process from os.environ as gunicorn builds it."""
        module, _, factory = self.factory.partition(":")
        return getattr(importlib.import_module(module), factory.removesuffix("()"))()


def sign_in_to_peer(deployment: Deployment) -> Browser:
    """Open a peer's /login on instance A, sign in and consent at the provider, come back: a
    browser on alice's live profile page."""
    browser = deployment.browser()
    started = browser.get("/login")
    if started.status_code != 302:
        raise RuntimeError(f"sign-in did not start: {started.status_code} {started.text[:300]}")
    provider = ProviderBrowser(deployment.provider.issuer)
    try:
        callback_url = provider.authorize(started.headers["Location"], "alice", PASSWORDS["alice"])
    finally:
        provider.http.close()
    if not callback_url.startswith(f"{deployment.base_url}/callback/demo?"):
        raise RuntimeError(f"the provider sent the browser to {callback_url}")
    answer = browser.http.get(callback_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    if answer.status_code != 302 or not answer.headers["Location"].endswith("/profile"):
        raise RuntimeError(f"the callback answered {answer.status_code}: {answer.text[:300]}")
    page = browser.get("/profile")
    if site.outcome(page) != "live profile":
        raise RuntimeError(f"the profile page after sign-in shows: {site.outcome(page)}")
    return browser


def _expire_ours(deployment: Deployment) -> int:
    return deployment.expire_access_tokens()


def _expiring(sql: str) -> Callable[[Deployment], int]:
    """Expiry by one UPDATE of the peer's token table."""

    def expire(deployment: Deployment) -> int:
        with deployment.engine.begin() as connection:
            return connection.execute(text(sql)).rowcount

    return expire


def _installed(package: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _peer(package: str, title: str, module: str, **details) -> Subject:
    """A peer of bench/peers/, known by its library's name, titled with the version installed."""
    return Subject(
        key=package,
        title=f"{title} {_installed(package) or '(not installed)'}",
        factory=f"bench.peers.{module}:create_app()",
        sign_in=sign_in_to_peer,
        package=package,
        **details,
    )


def all_subjects() -> list[Subject]:
    """This app twice, then the peers; the first is the one every figure is compared with."""
    return [
        Subject(
            key="app",
            title="this app, DPoP (as shipped)",
            factory="app:create_app()",
            sign_in=site.signed_in,
            expire=_expire_ours,
            ours=True,
        ),
        Subject(
            key="app-bearer",
            title="this app, bearer tokens",
            factory="app:create_app()",
            sign_in=site.signed_in,
            expire=_expire_ours,
            settings={"DEMO_DPOP": "off"},
            ours=True,
            variant_of="app",
        ),
        _peer(
            "authlib",
            "Authlib Flask client",
            "authlib_client",
            expire=_expiring(EXPIRE_AUTHLIB),
            settings=PEER_SETTINGS,
        ),
        _peer(
            "flask-dance",
            "Flask-Dance",
            "flask_dance_client",
            expire=_expiring(EXPIRE_FLASK_DANCE),
            settings=OAUTHLIB_ON_LOOPBACK,
            caveat=(
                "Flask-Dance keeps one requests session per blueprint, cached on it and shared by"
                " a worker's threads until a request ends (upstream issue"
                " singingwolfboy/flask-dance#430): with two people signed in on a gthread worker,"
                " some pages show the other person's profile. With one person signed in, as"
                " here, the figures cannot show it."
            ),
        ),
        _peer(
            "requests-oauthlib",
            "requests-oauthlib",
            "requests_oauthlib_client",
            expire=_expiring(EXPIRE_REQUESTS_OAUTHLIB),
            settings=OAUTHLIB_ON_LOOPBACK,
        ),
    ]

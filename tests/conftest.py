"""Fixtures: the client `app`, `client` and `runner`; the demo provider live on 127.0.0.1 with a
request recorder; and `flow`, which clicks through a whole sign-in like a person would.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from flask_migrate import upgrade

import demo_provider
from app import create_app
from tests.forms import csrf_token
from tests.live_provider import LiveServer, ProviderBrowser, Recorder

CLIENT_ID = "reference-app"
# Characters that RFC 6749 §2.3.1 form-encoding must carry through HTTP Basic intact.
CLIENT_SECRET = "s3cret:with%odd+chars/="
BASE_URL = "http://localhost"
REDIRECT_URI = f"{BASE_URL}/callback/demo"
# This app's client at the second issuer, configured as a generic OpenID Connect provider "corp".
CORP_CLIENT_ID = "corp-app"
CORP_CLIENT_SECRET = "corp-secret-" + "y" * 20


@dataclass
class LiveProvider:
    issuer: str
    recorder: Recorder
    app: object


def serve_provider(instance_path: str, clients: list[dict]) -> tuple[LiveProvider, LiveServer]:
    """A demo provider app with its own database and keys, served over HTTP on 127.0.0.1."""
    recorder = Recorder()
    server = LiveServer(recorder)
    provider_app = demo_provider.create_app(
        {
            "DEMO_PROVIDER_ISSUER": server.url,
            "DEMO_PROVIDER_ACCESS_TOKEN_TTL": 300,
            "DEMO_PROVIDER_CLIENTS": clients,
        },
        instance_path=instance_path,
    )
    recorder.app = provider_app
    server.start()
    return LiveProvider(issuer=server.url, recorder=recorder, app=provider_app), server


@pytest.fixture(scope="session")
def live_provider(tmp_path_factory):
    """The demo provider, with this app registered as the client "reference-app"."""
    live, server = serve_provider(
        str(tmp_path_factory.mktemp("demo-provider")),
        [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [REDIRECT_URI],
                "post_logout_redirect_uris": [f"{BASE_URL}/logout/complete"],
                "client_name": "Flask Sign-in Reference App",
                "scope": "openid profile email offline_access",
            }
        ],
    )
    yield live
    server.stop()


@pytest.fixture(scope="session")
def live_corp_issuer(tmp_path_factory):
    """A second, independent OpenID provider (its own server, database, keys and users' subject
    identifiers), which the tests configure as the generic OIDC provider "corp"."""
    live, server = serve_provider(
        str(tmp_path_factory.mktemp("corp-issuer")),
        [
            {
                "client_id": CORP_CLIENT_ID,
                "client_secret": CORP_CLIENT_SECRET,
                "redirect_uris": [f"{BASE_URL}/callback/corp"],
                "client_name": "Corp Portal",
                "scope": "openid profile email",
            }
        ],
    )
    yield live
    server.stop()


@pytest.fixture
def corp_issuer(live_corp_issuer):
    """The second issuer with an empty request log and no planted faults."""
    live_corp_issuer.recorder.clear()
    yield live_corp_issuer
    live_corp_issuer.recorder.clear()


@pytest.fixture
def provider(live_provider):
    """The live provider with an empty request log and no planted faults."""
    live_provider.recorder.clear()
    yield live_provider
    live_provider.recorder.clear()


def client_config(tmp_path, issuer: str, **overrides):
    """Client settings pointing at the live provider; an override of None removes that key."""
    settings = {
        "TESTING": True,
        "APP_ENV": "development",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BASE_URL": BASE_URL,
        "DEMO_PROVIDER_ENABLED": True,
        "DEMO_PROVIDER_EMBEDDED": False,
        "DEMO_ISSUER": issuer,
        "DEMO_CLIENT_ID": CLIENT_ID,
        "DEMO_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDERS": "",
        **overrides,
    }
    return {key: value for key, value in settings.items() if value is not None}


@pytest.fixture
def corp_env(monkeypatch, corp_issuer):
    """The second issuer switched on as the generic OIDC provider "corp", through the environment
    exactly as a deployment would (OIDC_PROVIDERS and CORP_*). Pair it with app settings
    `{"OIDC_PROVIDERS": None}` so the test defaults do not override the environment."""
    monkeypatch.setenv("OIDC_PROVIDERS", "corp")
    monkeypatch.setenv("CORP_ISSUER", corp_issuer.issuer)
    monkeypatch.setenv("CORP_CLIENT_ID", CORP_CLIENT_ID)
    monkeypatch.setenv("CORP_CLIENT_SECRET", CORP_CLIENT_SECRET)
    monkeypatch.setenv("CORP_TITLE", "Corp SSO")
    return corp_issuer


@pytest.fixture
def app_overrides():
    """Extra client settings for one test module (override this fixture)."""
    return {}


@pytest.fixture
def app(tmp_path, provider, app_overrides):
    app = create_app(client_config(tmp_path, provider.issuer, **app_overrides))
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Flow:
    """A person signing in: the client's pages through the test client, the provider's over HTTP."""

    def __init__(self, client, provider: LiveProvider) -> None:
        self.client = client
        self.provider = provider
        #: The person's browser at the demo provider (its cookies are that provider's session).
        self.browser = ProviderBrowser(provider.issuer)
        self._browsers = {provider.issuer: self.browser}

    def browser_for(self, url: str) -> ProviderBrowser:
        """The browser's view of whichever provider `url` belongs to."""
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        if origin not in self._browsers:
            self._browsers[origin] = ProviderBrowser(origin)
        return self._browsers[origin]

    def start(self, provider_name: str = "demo", next_url: str | None = None) -> str:
        """Click "Sign in with ..." and return the authorization URL the app redirects to."""
        page = self.client.get("/login" + (f"?next={next_url}" if next_url else ""))
        data = {"csrf_token": csrf_token(page.get_data(as_text=True))}
        if next_url is not None:
            data["next"] = next_url
        response = self.client.post(f"/login/{provider_name}", data=data)
        assert response.status_code == 303, response.get_data(as_text=True)
        return response.headers["Location"]

    def authorize(self, url: str, username: str = "alice", decision: str = "Allow") -> str:
        """Sign in and answer consent at the provider; return the callback URL it sends back."""
        password = {"alice": "wonderland", "bob": "builder"}[username]
        return self.browser_for(url).authorize(url, username, password, decision)

    def sign_in(self, username: str = "alice", next_url: str | None = None):
        """The whole sign-in; returns the client's answer to the callback."""
        callback_url = self.authorize(self.start(next_url=next_url), username)
        return self.client.get(callback_url)


@pytest.fixture
def flow(client, provider):
    return Flow(client, provider)

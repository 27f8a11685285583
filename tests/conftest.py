"""Fixtures: the client `app`, `client` and `runner`; the demo provider live on 127.0.0.1 with a
request recorder; and `flow`, which clicks through a whole sign-in like a person would.
"""

from __future__ import annotations

from dataclasses import dataclass

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
# A second client at the same issuer, used as a generic OpenID Connect provider named "corp".
CORP_CLIENT_ID = "corp-app"
CORP_CLIENT_SECRET = "corp-secret-" + "y" * 20


@dataclass
class LiveProvider:
    issuer: str
    recorder: Recorder
    app: object


@pytest.fixture(scope="session")
def live_provider(tmp_path_factory):
    """The demo provider, its own app with its own database, served over HTTP for the session."""
    recorder = Recorder()
    server = LiveServer(recorder)
    provider_app = demo_provider.create_app(
        {
            "DEMO_PROVIDER_ISSUER": server.url,
            "DEMO_PROVIDER_ACCESS_TOKEN_TTL": 300,
            "DEMO_PROVIDER_CLIENTS": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [REDIRECT_URI],
                    "client_name": "Flask Sign-in Reference App",
                    "scope": "openid profile email offline_access",
                },
                {
                    "client_id": CORP_CLIENT_ID,
                    "client_secret": CORP_CLIENT_SECRET,
                    "redirect_uris": [f"{BASE_URL}/callback/corp"],
                    "client_name": "Corp Portal",
                    "scope": "openid profile email",
                },
            ],
        },
        instance_path=str(tmp_path_factory.mktemp("demo-provider")),
    )
    recorder.app = provider_app
    server.start()
    yield LiveProvider(issuer=server.url, recorder=recorder, app=provider_app)
    server.stop()


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
        self.browser = ProviderBrowser(provider.issuer)

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
        return self.browser.authorize(url, username, password, decision)

    def sign_in(self, username: str = "alice", next_url: str | None = None):
        """The whole sign-in; returns the client's answer to the callback."""
        callback_url = self.authorize(self.start(next_url=next_url), username)
        return self.client.get(callback_url)


@pytest.fixture
def flow(client, provider):
    return Flow(client, provider)

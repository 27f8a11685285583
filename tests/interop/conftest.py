"""Fixtures for the interop tests: panva's oidc-provider (`oidc_server.mjs`) run with Node on
127.0.0.1, with the client app registered at it, and the client app served over real HTTP with
that provider as its generic OpenID Connect provider "corp". A second pair, started only by the
tests that ask for it, runs the provider as a FAPI 2.0 one and the app as its provider "fapi"
with `FAPI_PROFILE=fapi2`. One of each per test session; the tests skip where Node or the
installed package (`npm ci --prefix tests/interop`) is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from oauth import client_keys
from tests.conftest import logging_as_found
from tests.live_provider import LiveServer

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "oidc_server.mjs"
INSTALLED = HERE / "node_modules" / "oidc-provider" / "package.json"
READY_TIMEOUT = 20.0

PROVIDER_NAME = "corp"
CLIENT_ID = "interop-app"
# Characters that RFC 6749 §2.3.1 form-encoding must carry through HTTP Basic intact: the other
# side decodes them with its own code, not ours.
CLIENT_SECRET = "interop:secret%with+odd/chars=" + "q" * 16
TITLE = "Corp SSO"

FAPI_PROVIDER_NAME = "fapi"
FAPI_CLIENT_ID = "interop-fapi-app"
FAPI_TITLE = "Bank SSO"


class NodeProvider:
    """oidc-provider in a Node process of its own; every line it prints is kept in `lines`."""

    def __init__(self, node: str, client: dict, profile: str = "") -> None:
        environment = {
            key: value
            for key, value in os.environ.items()
            # Everything stays on 127.0.0.1: no proxy in the way.
            if not key.lower().endswith("_proxy")
        }
        environment.update(OIDC_PORT="0", OIDC_CLIENT=json.dumps(client), OIDC_PROFILE=profile)
        self.lines: list[str] = []
        self._printed = threading.Condition()
        self.issuer = ""
        self._ready = threading.Event()
        self._ended = threading.Event()
        self.process = subprocess.Popen(  # noqa: S603 (node, our own script and arguments)
            [node, str(SERVER_SCRIPT)],
            cwd=HERE,
            env=environment,
            # The server exits when its stdin closes: when this process dies, so does it.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self._ready.wait(READY_TIMEOUT)
        if not self.issuer:
            ended = self._ended.is_set()
            self.stop()
            reason = "ended" if ended else f"did not start within {READY_TIMEOUT:.0f} s"
            raise RuntimeError(f"oidc-provider {reason}; its output:\n{self.output()}")

    def _read(self) -> None:
        for line in self.process.stdout:
            line = line.rstrip("\n")
            with self._printed:
                self.lines.append(line)
                self._printed.notify_all()
            if line.startswith("ready ") and not self.issuer:
                self.issuer = line.split(" ", 1)[1]
                self._ready.set()
        # The process ended, perhaps before it was ready: nothing more to wait for.
        self._ended.set()
        self._ready.set()

    def lines_after(self, start: int, prefix: str, timeout: float = 5.0) -> list[str]:
        """The lines from index `start` on that begin with `prefix`, once there is one (or
        `timeout` seconds have passed): the output is read on another thread, so a line printed
        before the provider answered may still be on its way here."""

        def found() -> list[str]:
            return [line for line in self.lines[start:] if line.startswith(prefix)]

        with self._printed:
            self._printed.wait_for(found, timeout)
            return found()

    def settle(self) -> None:
        """Wait until every line the provider printed before now has been read here: it prints
        a fresh word after them, and lines come in the order they were printed."""
        word = secrets.token_hex(8)
        start = len(self.lines)
        with requests.Session() as session:
            session.trust_env = False
            session.get(f"{self.issuer}/barrier/{word}", timeout=READY_TIMEOUT).raise_for_status()
        if not self.lines_after(start, f"barrier {word}", READY_TIMEOUT):
            raise RuntimeError(
                f"oidc-provider did not print its barrier; its output:\n{self.output()}"
            )

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin:
            self.process.stdin.close()


@dataclass
class Site:
    """The client app as a person reaches it, and the provider it signs them in with."""

    url: str
    app: Flask
    provider: NodeProvider
    #: The provider's name in the app (its `/login/<name>`, `/callback/<name>`).
    name: str = PROVIDER_NAME


def node_or_skip() -> str:
    """The `node` executable, or skip with what to install."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the interop tests run oidc-provider with Node.js")
    if not INSTALLED.exists():
        pytest.skip(
            "oidc-provider is not installed: run `npm ci --prefix tests/interop` "
            "(make test does it where npm is present)"
        )
    return node


def client_metadata(base_url: str) -> dict:
    """This app's registration at the provider, for the client app served at `base_url`."""
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "client_name": "Flask Sign-in Reference App",
        "redirect_uris": [f"{base_url}/callback/{PROVIDER_NAME}"],
        "post_logout_redirect_uris": [f"{base_url}/logout/complete"],
        "backchannel_logout_uri": f"{base_url}/backchannel-logout/{PROVIDER_NAME}",
        "backchannel_logout_session_required": True,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email offline_access",
    }


def fapi_client_metadata(base_url: str, signing_keys: str) -> dict:
    """This app's registration at the FAPI 2.0 provider: no secret at all, the public half of
    `signing_keys` (the app's `CLIENT_SIGNING_KEYS`) to check its client assertions with, and
    every token bound to a DPoP key."""
    return {
        "client_id": FAPI_CLIENT_ID,
        "client_name": "Flask Sign-in Reference App (FAPI 2.0)",
        "redirect_uris": [f"{base_url}/callback/{FAPI_PROVIDER_NAME}"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": client_keys.public_jwks(client_keys.parse(signing_keys)),
        "dpop_bound_access_tokens": True,
        "require_pushed_authorization_requests": True,
        "id_token_signed_response_alg": "ES256",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email",
    }


def serve(
    server: LiveServer, provider: NodeProvider, name: str, settings: dict, instance: Path
) -> Site:
    """Create the client app with `settings` on top of what every interop app shares, migrate
    its database in `instance`, and serve it on `server`."""
    app = create_app(
        {
            "APP_ENV": "development",
            "SECRET_KEY": "interop-tests-" + "s" * 32,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": f"sqlite:///{instance / 'app.sqlite3'}",
            "BASE_URL": server.url,
            "DEMO_PROVIDER_ENABLED": False,
            **settings,
        },
        instance_path=str(instance),
    )
    with logging_as_found(), app.app_context():
        upgrade()
    server.start(app)
    return Site(server.url, app, provider, name)


def bound_server():
    """A LiveServer bound but not serving yet, closed at the end however far it got."""
    server = LiveServer()
    yield server
    if server.thread.is_alive():
        server.stop()
    else:
        server.server.server_close()


@pytest.fixture(scope="session")
def app_server():
    """The address the client app will be served at. Bound first, because the provider must
    know the client's URIs before it starts; `site` serves the app there."""
    yield from bound_server()


@pytest.fixture(scope="session")
def oidc_provider(app_server):
    """oidc-provider live on 127.0.0.1, with the client app registered as `CLIENT_ID`."""
    provider = NodeProvider(node_or_skip(), client_metadata(app_server.url))
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def site(app_server, oidc_provider, tmp_path_factory) -> Site:
    """The client app, served over HTTP, with oidc-provider configured as the generic OIDC
    provider "corp" exactly as a deployment would configure an issuer (no demo provider)."""
    return serve(
        app_server,
        oidc_provider,
        PROVIDER_NAME,
        {
            "OIDC_PROVIDERS": PROVIDER_NAME,
            "CORP_ISSUER": oidc_provider.issuer,
            "CORP_CLIENT_ID": CLIENT_ID,
            "CORP_CLIENT_SECRET": CLIENT_SECRET,
            "CORP_TITLE": TITLE,
        },
        tmp_path_factory.mktemp("interop-instance"),
    )


@pytest.fixture(scope="session")
def fapi_app_server():
    """Where the FAPI 2.0 client app will be served (see `app_server`)."""
    yield from bound_server()


@pytest.fixture(scope="session")
def fapi_signing_keys() -> str:
    """The app's `CLIENT_SIGNING_KEYS` (private, one ES256 key), made for this session."""
    return client_keys.generate("ES256")


@pytest.fixture(scope="session")
def fapi_provider(fapi_app_server, fapi_signing_keys):
    """oidc-provider as a FAPI 2.0 provider, with the app registered by its public keys."""
    provider = NodeProvider(
        node_or_skip(),
        fapi_client_metadata(fapi_app_server.url, fapi_signing_keys),
        profile="fapi2",
    )
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def fapi_site(fapi_app_server, fapi_provider, fapi_signing_keys, tmp_path_factory) -> Site:
    """The client app with the FAPI 2.0 provider as "fapi", configured as a deployment would
    configure it: the profile switch, the issuer, the client id and the private keys; no
    secret."""
    return serve(
        fapi_app_server,
        fapi_provider,
        FAPI_PROVIDER_NAME,
        {
            "OIDC_PROVIDERS": FAPI_PROVIDER_NAME,
            "FAPI_ISSUER": fapi_provider.issuer,
            "FAPI_CLIENT_ID": FAPI_CLIENT_ID,
            "FAPI_PROFILE": "fapi2",
            "FAPI_TITLE": FAPI_TITLE,
            "CLIENT_SIGNING_KEYS": fapi_signing_keys,
        },
        tmp_path_factory.mktemp("interop-fapi-instance"),
    )


@pytest.fixture
def browser():
    """A fresh browser (cookie jar) per test, which ignores any proxy settings."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()

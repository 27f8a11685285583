"""The demo provider served live on 127.0.0.1 with a request recorder (its own instance folder,
database and keys), its clients registered for back-channel logout as app.py registers the
embedded one, and a person's browser at its pages: signs in with a password, answers consent.
For the end-to-end tests and the benchmarks; the client's own tests use the fake.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

import demo_provider
from tests.conftest import Flow
from tests.forms import forms
from tests.live_provider import LiveProvider, LiveServer, Recorder

PASSWORDS = {"alice": "wonderland", "bob": "builder"}
# A client's redirect URI `<base>/callback/<provider>`, whose back-channel logout endpoint is
# `<base>/backchannel-logout/<provider>`.
_CALLBACK_PATH = re.compile(r"(?P<base>.*)/callback/(?P<provider>[a-z0-9_-]+)")


def serve_demo_provider(
    instance_path: str, clients: list[dict], settings: dict | None = None
) -> tuple[LiveProvider, LiveServer]:
    """A demo provider app with its own database and keys, served over HTTP on 127.0.0.1;
    `settings` add to its configuration (its switches that require PAR or DPoP, say).

    The server class is this module's `LiveServer`, looked up at each call so the benchmarks can
    stand another one in for it.
    """
    recorder = Recorder()
    server = LiveServer(recorder)
    provider_app = demo_provider.create_app(
        {
            "DEMO_PROVIDER_ISSUER": server.url,
            "DEMO_PROVIDER_ACCESS_TOKEN_TTL": 300,
            "DEMO_PROVIDER_CLIENTS": [with_backchannel_logout(client) for client in clients],
            **(settings or {}),
        },
        instance_path=instance_path,
    )
    recorder.app = provider_app
    server.start()
    return LiveProvider(issuer=server.url, recorder=recorder, app=provider_app), server


def with_backchannel_logout(registration: dict) -> dict:
    """The registration with the client's `backchannel_logout_uri` beside its callback, as
    app.py registers the embedded provider's client; one that names its own, or has no
    `<base>/callback/<provider>` redirect URI, is left as it is.
    """
    if "backchannel_logout_uri" in registration:
        return registration
    for uri in registration.get("redirect_uris", []):
        parts = urlsplit(uri)
        match = _CALLBACK_PATH.fullmatch(parts.path)
        if match is not None:
            path = f"{match['base']}/backchannel-logout/{match['provider']}"
            return {
                **registration,
                "backchannel_logout_uri": parts._replace(path=path, query="").geturl(),
            }
    return registration


class ProviderBrowser:
    """A person at the demo provider's pages: follows its redirects, signs in, answers consent.

    Stops at the first redirect that leaves the provider (back to the client) and returns it.
    """

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.http = requests.Session()
        self.http.trust_env = False

    def authorize(
        self,
        url: str,
        username: str = "alice",
        password: str = "wonderland",
        decision: str = "Allow",
        untick: tuple[str, ...] = (),
    ) -> str:
        """`untick`: the scopes whose boxes the person unticks at consent."""
        response = self.http.get(url, allow_redirects=False, timeout=10)
        for _ in range(10):
            if response.is_redirect:
                location = requests.compat.urljoin(response.url, response.headers["Location"])
                if _origin(location) != _origin(self.issuer):
                    return location
                response = self.http.get(location, allow_redirects=False, timeout=10)
                continue
            page_forms = forms(response.text, response.url)
            login = next((f for f in page_forms if "password" in f.input_names), None)
            if login is not None:
                data = {**login.fields, "username": username, "password": password}
                response = self.http.post(
                    login.action, data=data, allow_redirects=False, timeout=10
                )
                continue
            consent = next(
                (f for f in page_forms if any(decision.lower() in b[2].lower() for b in f.buttons)),
                None,
            )
            if consent is None:
                raise AssertionError(
                    f"stuck at provider page {response.url}: {response.status_code}"
                )
            response = self.http.post(
                consent.action,
                data=consent.submission(decision, untick),
                allow_redirects=False,
                timeout=10,
            )
        raise AssertionError("too many steps at the provider")


class DemoFlow(Flow):
    """`tests.conftest.Flow` at the demo provider: the person types the password there."""

    def new_browser(self, origin: str) -> ProviderBrowser:
        return ProviderBrowser(origin)

    def authorize(
        self, url: str, username: str = "alice", decision: str = "Allow", **consent
    ) -> str:
        """`consent`: `untick`, the scopes the person unticks at consent."""
        return self.browser_for(url).authorize(
            url, username, PASSWORDS[username], decision, **consent
        )


def _origin(url: str) -> tuple[str, str]:
    """Scheme and host:port, compared whole (port 4123 must not match port 41234)."""
    parts = urlsplit(url)
    return parts.scheme, parts.netloc

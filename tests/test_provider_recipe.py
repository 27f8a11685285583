"""The README's recipe for a new provider holds: one module and one line in the registry, and its
`<NAME>_...` variables are read from the environment with no other change anywhere.
"""

from __future__ import annotations

import types
from urllib.parse import parse_qs, urlsplit

import pytest
from flask_migrate import upgrade

from app import create_app
from oauth.provider import Profile
from providers import registry, settings
from tests.conftest import client_config
from tests.forms import csrf_token


def acme_module() -> types.ModuleType:
    """`providers/acme.py` as the README's recipe writes it: a plain OAuth 2.0 provider."""
    module = types.ModuleType("providers.acme")
    module.NAME = "acme"

    def map_profile(payload):
        return Profile(display_name=str(payload.get("name") or "Acme user"))

    def from_config(config):
        return settings.built_in(
            config,
            module.NAME,
            title="Acme",
            scope="profile",
            endpoints={
                "authorization_endpoint": "https://acme.example/oauth/authorize",
                "token_endpoint": "https://acme.example/oauth/token",
            },
            profile_endpoint="https://api.acme.example/me",
            map_profile=map_profile,
        )

    module.map_profile = map_profile
    module.from_config = from_config
    return module


@pytest.fixture
def acme_app(tmp_path, monkeypatch):
    # The one registry line...
    monkeypatch.setattr(registry, "MODULES", (*registry.MODULES, acme_module()))
    # ...and the deployment's variables, read with no list of provider names to extend.
    monkeypatch.setenv("ACME_CLIENT_ID", "acme-client")
    monkeypatch.setenv("ACME_CLIENT_SECRET", "acme-secret-" + "w" * 20)
    monkeypatch.setenv("ACME_TITLE", "Acme Corp")
    app = create_app(client_config(tmp_path, "http://127.0.0.1:9", DEMO_PROVIDER_ENABLED=False))
    with app.app_context():
        upgrade()
    return app


def test_a_new_provider_module_appears_with_its_settings_from_the_environment(acme_app):
    client = acme_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Acme Corp" in page

    response = client.post("/login/acme", data={"csrf_token": csrf_token(page)})

    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        "https://acme.example/oauth/authorize"
    )
    params = parse_qs(location.query)
    assert params["client_id"] == ["acme-client"]
    assert params["redirect_uri"] == ["http://localhost/callback/acme"]
    assert params["code_challenge_method"] == ["S256"]


def test_the_cli_lists_the_new_providers_redirect_uri(acme_app):
    output = acme_app.test_cli_runner().invoke(args=["providers"]).output
    assert "acme" in output
    assert "redirect URI: http://localhost/callback/acme" in output

"""Any OpenID Connect issuer, configured by environment alone, signs people in like the demo one."""

from __future__ import annotations

import pytest

from app import create_app
from config import ConfigurationError
from tests.conftest import client_config
from tests.forms import csrf_token
from tests.live_provider import query


@pytest.fixture(autouse=True)
def app_overrides(corp_env):
    # "corp" comes from the environment: drop the test default that would override it.
    return {"OIDC_PROVIDERS": None}


def test_a_configured_issuer_gets_a_sign_in_button(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Corp SSO" in page
    assert "Sign in with Demo Provider" in page


def test_the_default_scope_is_openid_profile_email(flow):
    assert query(flow.start("corp"))["scope"] == "openid profile email"


def test_sign_in_through_a_configured_issuer(flow, client, corp_issuer):
    callback_url = flow.authorize(flow.start("corp"))
    assert callback_url.startswith("http://localhost/callback/corp?")
    assert client.get(callback_url).status_code == 303

    page = client.get("/profile").get_data(as_text=True)
    assert "Corp SSO" in page
    assert "Alice Liddell" in page
    # Without a custom API, the profile comes live from the standard userinfo endpoint.
    assert len(corp_issuer.recorder.calls("/userinfo")) == 2


def test_an_issuer_whose_discovery_names_another_issuer_is_refused(
    monkeypatch, tmp_path, provider, corp_issuer
):
    monkeypatch.setenv("CORP_ISSUER", corp_issuer.issuer + "/")
    app = create_app(client_config(tmp_path, provider.issuer, OIDC_PROVIDERS=None))
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    response = browser.post("/login/corp", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 503
    assert "issuer_mismatch" in response.get_data(as_text=True)


def test_an_incomplete_issuer_configuration_stops_start_up(monkeypatch, tmp_path, provider):
    monkeypatch.delenv("CORP_CLIENT_SECRET")
    with pytest.raises(ConfigurationError, match="CORP_CLIENT_SECRET"):
        create_app(client_config(tmp_path, provider.issuer, OIDC_PROVIDERS=None))


def test_a_sign_in_started_for_one_provider_cannot_finish_at_another(
    flow, client, provider, corp_issuer
):
    callback_url = flow.authorize(flow.start("demo"))
    response = client.get(callback_url.replace("/callback/demo", "/callback/corp"))
    assert response.status_code == 400
    assert "provider_mismatch" in response.get_data(as_text=True)
    assert provider.recorder.calls("/token") == []
    assert corp_issuer.recorder.calls("/token") == []


def test_the_providers_check_reports_each_provider(runner):
    result = runner.invoke(args=["providers", "--check"])
    assert result.exit_code == 0
    assert "http://localhost/callback/corp" in result.output
    assert result.output.count("check: ok") == 2


def test_the_providers_check_reports_an_issuer_mismatch(
    monkeypatch, tmp_path, provider, corp_issuer
):
    monkeypatch.setenv("CORP_ISSUER", corp_issuer.issuer + "/")
    app = create_app(client_config(tmp_path, provider.issuer, OIDC_PROVIDERS=None))
    result = app.test_cli_runner().invoke(args=["providers", "--check"])
    assert result.exit_code == 1
    assert "check: issuer_mismatch" in result.output

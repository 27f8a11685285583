"""The legacy implicit grant lab: off by default, refused in production, and when switched on
a token in the URL fragment for lab clients only, next to why the grant was abandoned."""

import copy
from urllib.parse import urlsplit

import pytest

from demo_provider import create_app, implicit_lab, prepare
from demo_provider.extensions import db
from demo_provider.models import Client

LAB_CALLBACK = "http://127.0.0.1:5001/labs/implicit/callback"


@pytest.fixture
def lab_config(demo_config):
    """A copy of the test configuration with the lab switched on."""
    return {**copy.deepcopy(demo_config), "DEMO_PROVIDER_LEGACY_IMPLICIT": "true"}


@pytest.fixture
def lab_app(lab_config, tmp_path):
    """A provider app with the implicit grant lab switched on."""
    return create_app(lab_config, instance_path=str(tmp_path / "lab-instance"))


@pytest.fixture
def lab(lab_app, flow_for):
    """A driver for the provider with the lab on."""
    return flow_for(lab_app.test_client())


def _lab_request(lab):
    """The authorization request the lab page's button sends."""
    html = lab.client.get("/labs/implicit").get_data(as_text=True)
    form = next(f for f in lab.forms(html) if f["action"] == "/authorize")
    return dict(form["fields"])


def _implicit_answer(lab, params, decision="allow"):
    """Sign in as alice and decide on an implicit grant request; returns the response."""
    lab.sign_in()
    return lab.decide(params, decision)


def test_lab_pages_are_not_found_by_default(flow):
    assert flow.client.get("/labs/implicit").status_code == 404
    assert flow.client.get("/labs/implicit/callback").status_code == 404


def test_token_response_type_is_unsupported_by_default(flow):
    flow.sign_in()

    response = flow.client.get(
        "/authorize", query_string=flow.authorize_params(response_type="token")
    )

    assert flow.query(response.headers["Location"])["error"] == "unsupported_response_type"
    assert "access_token" not in response.headers["Location"]


def test_lab_client_does_not_exist_by_default(demo_app):
    with demo_app.app_context():
        assert db.session.get(Client, implicit_lab.CLIENT_ID) is None


@pytest.mark.parametrize(
    "production",
    [{"DEMO_PROVIDER_PRODUCTION": "true"}, {"APP_ENV": "production"}],
    ids=["provider-setting", "app-env-setting"],
)
def test_lab_is_refused_in_production(lab_config, tmp_path, production):
    lab_config.update(production)

    with pytest.raises(ValueError, match="DEMO_PROVIDER_LEGACY_IMPLICIT"):
        create_app(lab_config, instance_path=str(tmp_path / "instance"))


def test_lab_is_refused_when_the_environment_says_production(lab_config, tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")

    with pytest.raises(ValueError, match="not available in production"):
        create_app(lab_config, instance_path=str(tmp_path / "instance"))


def test_lab_is_allowed_in_development(lab_config, tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "development")

    app = create_app(lab_config, instance_path=str(tmp_path / "instance"))

    assert app.test_client().get("/labs/implicit").status_code == 200


def test_production_without_the_lab_starts(demo_config, tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    demo_config["DEMO_PROVIDER_PRODUCTION"] = True
    demo_config["DEMO_PROVIDER_USER_PASSWORDS"] = {"alice": "a" * 20, "bob": "b" * 20}

    app = create_app(demo_config, instance_path=str(tmp_path / "instance"))

    assert app.config["DEMO_PROVIDER_LEGACY_IMPLICIT"] is False


def test_discovery_lists_token_only_while_the_lab_is_on(lab, flow):
    on = lab.client.get("/.well-known/openid-configuration").get_json()
    off = flow.client.get("/.well-known/openid-configuration").get_json()

    assert on["response_types_supported"] == ["code", "token"]
    assert "implicit" in on["grant_types_supported"]
    assert off["response_types_supported"] == ["code"]
    assert "implicit" not in off["grant_types_supported"]


def test_lab_page_explains_the_grant_and_starts_it_for_the_lab_client(lab):
    page = lab.client.get("/labs/implicit")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "implicit grant" in html
    request = _lab_request(lab)
    assert len(request.pop("state")) >= 16
    assert request == {
        "response_type": "token",
        "client_id": implicit_lab.CLIENT_ID,
        "redirect_uri": LAB_CALLBACK,
        "scope": "profile",
    }


def test_lab_client_gets_the_access_token_in_the_url_fragment(lab):
    params = _lab_request(lab)

    response = _implicit_answer(lab, params)

    location = response.headers["Location"]
    assert response.status_code == 302
    assert location.startswith(LAB_CALLBACK + "#")
    assert not urlsplit(location).query
    answer = lab.fragment(location)
    assert answer["access_token"]
    assert answer["token_type"] == "Bearer"
    assert answer["scope"] == "profile"
    assert answer["state"] == params["state"]
    assert answer["iss"] == lab.issuer
    assert "refresh_token" not in answer
    assert "code" not in answer


def test_lab_token_works_at_the_api(lab):
    response = _implicit_answer(lab, _lab_request(lab))

    token = lab.fragment(response.headers["Location"])["access_token"]
    assert lab.profile_api(token).status_code == 200


def test_lab_token_is_listed_and_revocable_under_connected_applications(lab):
    response = _implicit_answer(lab, _lab_request(lab))
    token = lab.fragment(response.headers["Location"])["access_token"]
    assert implicit_lab.CLIENT_NAME in lab.connections_page().get_data(as_text=True)

    lab.revoke_connection(implicit_lab.CLIENT_ID)

    assert lab.profile_api(token).status_code == 401


def test_denying_the_lab_sends_the_error_in_the_fragment(lab):
    params = _lab_request(lab)

    response = _implicit_answer(lab, params, decision="deny")

    answer = lab.fragment(response.headers["Location"])
    assert answer["error"] == "access_denied"
    assert answer["state"] == params["state"]
    assert answer["iss"] == lab.issuer
    assert not urlsplit(response.headers["Location"]).query


def test_token_response_type_is_refused_for_a_client_not_registered_for_it(lab):
    lab.sign_in()
    params = lab.authorize_params(response_type="token")

    response = lab.client.get("/authorize", query_string=params)

    location = response.headers["Location"]
    assert location.startswith(lab.redirect_uri + "#")
    assert lab.fragment(location)["error"] == "unauthorized_client"
    assert "access_token" not in location


def test_configured_client_with_legacy_implicit_gets_a_token(lab_config, tmp_path, flow_for):
    lab_config["DEMO_PROVIDER_CLIENTS"][0]["legacy_implicit"] = True
    lab = flow_for(create_app(lab_config, instance_path=str(tmp_path / "instance")).test_client())
    params = lab.authorize_params(response_type="token")

    response = _implicit_answer(lab, params)

    assert lab.fragment(response.headers["Location"])["access_token"]


def test_implicit_grant_never_issues_a_refresh_token(lab_config, tmp_path, flow_for):
    lab_config["DEMO_PROVIDER_CLIENTS"][0]["legacy_implicit"] = True
    lab = flow_for(create_app(lab_config, instance_path=str(tmp_path / "instance")).test_client())
    params = lab.authorize_params(response_type="token", scope=lab.full_scope)

    response = _implicit_answer(lab, params)

    answer = lab.fragment(response.headers["Location"])
    assert answer["access_token"]
    assert "refresh_token" not in answer


def test_lab_client_cannot_use_an_unregistered_redirect_uri(lab):
    lab.sign_in()
    params = {**_lab_request(lab), "redirect_uri": "http://127.0.0.1:9999/steal"}

    response = lab.client.get("/authorize", query_string=params)

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_code_flow_still_works_with_the_lab_on(lab):
    body, _ = lab.tokens()

    assert lab.refresh(body["refresh_token"]).status_code == 200


def test_callback_page_points_at_the_address_bar_and_says_why_the_grant_is_deprecated(lab):
    page = lab.client.get("/labs/implicit/callback")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Look at your address bar: the token is right there" in html
    assert "location.hash" in html
    assert f"{LAB_CALLBACK}#token_type=Bearer&amp;access_token=" in html
    for reason in ("browser history", "Referer", "No refresh token", "client authentication"):
        assert reason in html
    assert "Token injection" in html
    assert "authorization code flow with PKCE" in html


def test_callback_page_shows_the_parameters_in_the_order_they_arrive(lab):
    response = _implicit_answer(lab, _lab_request(lab))
    arrived = [
        part.split("=")[0] for part in urlsplit(response.headers["Location"]).fragment.split("&")
    ]

    html = lab.client.get("/labs/implicit/callback").get_data(as_text=True)

    shown = html.split(LAB_CALLBACK + "#", 1)[1].split("<", 1)[0]
    assert [part.split("=")[0] for part in shown.split("&amp;")] == arrived


def test_lab_pages_allow_no_scripts(lab):
    for path in ("/labs/implicit", "/labs/implicit/callback"):
        response = lab.client.get(path)

        assert "script-src 'none'" in response.headers["Content-Security-Policy"]
        assert "<script" not in response.get_data(as_text=True)


def test_switching_the_lab_off_removes_its_client_and_tokens(lab_config, tmp_path, flow_for):
    instance = str(tmp_path / "instance")
    lab = flow_for(create_app(lab_config, instance_path=instance).test_client())
    response = _implicit_answer(lab, _lab_request(lab))
    token = lab.fragment(response.headers["Location"])["access_token"]
    lab_config["DEMO_PROVIDER_LEGACY_IMPLICIT"] = "false"

    app = create_app(lab_config, instance_path=instance)
    prepare(app)

    with app.app_context():
        assert db.session.get(Client, implicit_lab.CLIENT_ID) is None
    assert flow_for(app.test_client()).profile_api(token).status_code == 401

"""The demo provider's configuration, generated per-install files, and mounting under a prefix."""

import json
import os
import runpy
import stat
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import demo_provider
from demo_provider import create_app, prepare, settings
from demo_provider.extensions import db
from demo_provider.models import Client, User


def test_secret_key_and_signing_key_are_generated_owner_only(tmp_path):
    instance = tmp_path / "instance"

    create_app({}, instance_path=str(instance))

    for name in ("demo-provider-secret-key", "demo-provider-signing-key.json"):
        mode = stat.S_IMODE(os.stat(instance / name).st_mode)
        assert mode == 0o600, name
    key = json.loads((instance / "demo-provider-signing-key.json").read_text())
    assert key["kty"] == "RSA"
    assert key["kid"]


def test_generated_keys_and_subjects_survive_a_restart(tmp_path):
    instance = str(tmp_path / "instance")
    first = create_app({}, instance_path=instance)
    second = create_app({}, instance_path=instance)

    assert first.secret_key == second.secret_key
    assert first.test_client().get("/jwks.json").json == second.test_client().get("/jwks.json").json
    with first.app_context():
        alice_before = User.find_by_username("alice").sub
    with second.app_context():
        assert User.find_by_username("alice").sub == alice_before


def test_client_secrets_are_stored_only_as_digests(demo_app):
    with demo_app.app_context():
        client = db.session.get(Client, "workshop-app")

    assert client.client_secret_hash != "workshop-secret-with-enough-entropy"
    assert len(client.client_secret_hash) == 64


def test_environment_settings_are_parsed(monkeypatch, tmp_path):
    environ = {
        "DEMO_PROVIDER_ISSUER": "http://127.0.0.1:5000/demo-provider",
        "DEMO_PROVIDER_ACCESS_TOKEN_TTL": "120",
        "DEMO_PROVIDER_SHOW_DEMO_USERS": "0",
        "DEMO_PROVIDER_CLIENT_ID": "env-app",
        "DEMO_PROVIDER_CLIENT_SECRET": "env-secret",
        "DEMO_PROVIDER_REDIRECT_URIS": (
            "http://127.0.0.1:5000/callback/demo, http://localhost:5000/cb"
        ),
        "DEMO_PROVIDER_CLIENT_NAME": "Env App",
        "DEMO_PROVIDER_POST_LOGOUT_REDIRECT_URIS": (
            "http://127.0.0.1:5000/signed-out, https://app.example/bye"
        ),
    }
    for key, value in environ.items():
        monkeypatch.setenv(key, value)

    app = create_app(instance_path=str(tmp_path / "instance"))
    prepare(app)

    assert app.config["DEMO_PROVIDER_ACCESS_TOKEN_TTL"] == 120
    assert app.config["DEMO_PROVIDER_SHOW_DEMO_USERS"] is False
    assert app.config["SESSION_COOKIE_PATH"] == "/demo-provider"
    with app.app_context():
        client = db.session.get(Client, "env-app")
        assert client.client_name == "Env App"
        assert client.redirect_uris == [
            "http://127.0.0.1:5000/callback/demo",
            "http://localhost:5000/cb",
        ]
        assert client.post_logout_redirect_uris == [
            "http://127.0.0.1:5000/signed-out",
            "https://app.example/bye",
        ]


@pytest.mark.parametrize("value", ["prod", "Prodution", "staging"])
def test_an_unknown_app_env_is_refused(value, monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", value)
    with pytest.raises(ValueError, match="exactly 'development' or 'production'"):
        create_app({}, instance_path=str(tmp_path))


@pytest.mark.parametrize(
    "issuer",
    ["http://127.0.0.1:5001/", "127.0.0.1:5001", "http://127.0.0.1:5001?x=1"],
)
def test_malformed_issuer_is_refused(issuer, tmp_path):
    with pytest.raises(ValueError, match="DEMO_PROVIDER_ISSUER"):
        settings.resolve({"DEMO_PROVIDER_ISSUER": issuer}, str(tmp_path))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://app.example/callback",
        "https://app.example/callback#fragment",
        "https://user@app.example/callback",
        "/callback",
    ],
)
def test_unsafe_redirect_uri_registration_is_refused(redirect_uri, demo_config, tmp_path):
    demo_config["DEMO_PROVIDER_CLIENTS"][0]["redirect_uris"] = [redirect_uri]

    with pytest.raises(ValueError, match="Redirect URI"):
        create_app(demo_config, instance_path=str(tmp_path / "instance"))


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/signed-out#fragment",
        "http://app.example/signed-out",
        "https://user@app.example/signed-out",
        "/signed-out",
    ],
    ids=["fragment", "non-loopback-http", "userinfo", "relative"],
)
def test_unsafe_post_logout_redirect_uri_registration_is_refused(uri, demo_config, tmp_path):
    demo_config["DEMO_PROVIDER_CLIENTS"][0]["post_logout_redirect_uris"] = [uri]

    with pytest.raises(ValueError, match="Post-logout redirect URI"):
        create_app(demo_config, instance_path=str(tmp_path / "instance"))


def test_post_logout_redirect_uris_given_as_one_string_are_refused(demo_config, tmp_path):
    demo_config["DEMO_PROVIDER_CLIENTS"][0]["post_logout_redirect_uris"] = "https://app.example/"

    with pytest.raises(ValueError, match="must be a list"):
        create_app(demo_config, instance_path=str(tmp_path / "instance"))


def test_post_logout_redirect_uris_follow_the_configuration_on_restart(demo_config, tmp_path):
    instance = str(tmp_path / "instance")
    prepare(create_app(demo_config, instance_path=instance))
    demo_config["DEMO_PROVIDER_CLIENTS"][0]["post_logout_redirect_uris"] = [
        "https://app.example/bye"
    ]

    app = create_app(demo_config, instance_path=instance)
    prepare(app)

    with app.app_context():
        client = db.session.get(Client, "workshop-app")
        assert client.post_logout_redirect_uris == ["https://app.example/bye"]


def test_provider_works_mounted_under_a_prefix(demo_config, tmp_path):
    demo_config["DEMO_PROVIDER_ISSUER"] = "http://localhost/demo-provider"
    provider = create_app(demo_config, instance_path=str(tmp_path / "instance"))
    outer = Flask("outer")
    outer.wsgi_app = DispatcherMiddleware(outer.wsgi_app, {"/demo-provider": provider})
    browser = outer.test_client()

    login_page = browser.get("/demo-provider/login").get_data(as_text=True)
    discovery = browser.get("/demo-provider/.well-known/openid-configuration").get_json()

    assert 'action="/demo-provider/login"' in login_page
    assert "/demo-provider/static/provider.css" in login_page
    assert discovery["issuer"] == "http://localhost/demo-provider"
    assert browser.get_cookie("demo_provider_session", path="/demo-provider") is not None


def test_mounted_provider_keeps_its_prefix_through_sign_in(demo_config, tmp_path, flow_for):
    demo_config["DEMO_PROVIDER_ISSUER"] = "http://localhost/demo-provider"
    provider = create_app(demo_config, instance_path=str(tmp_path / "instance"))
    outer = Flask("outer")
    outer.wsgi_app = DispatcherMiddleware(outer.wsgi_app, {"/demo-provider": provider})
    browser = outer.test_client()
    flow = flow_for(browser)
    params = flow.authorize_params()

    to_login = browser.get("/demo-provider/authorize", query_string=params)
    next_path = flow.query(to_login.headers["Location"])["next"]
    page = browser.get(to_login.headers["Location"]).get_data(as_text=True)
    signed_in = browser.post(
        "/demo-provider/login",
        data={
            "csrf_token": flow.csrf_token(page),
            "username": "alice",
            "password": "wonderland",
            "next": next_path,
        },
    )

    assert to_login.headers["Location"].startswith("/demo-provider/login?next=/authorize")
    assert signed_in.headers["Location"] == "/demo-provider" + next_path
    consent = browser.get(signed_in.headers["Location"])
    assert 'action="/demo-provider/authorize"' in consent.get_data(as_text=True)


def test_running_the_provider_alone_binds_to_loopback_only(monkeypatch):
    calls = []
    monkeypatch.setattr(demo_provider, "create_app", lambda: Flask("stand-in"))
    monkeypatch.setattr(Flask, "run", lambda self, **kwargs: calls.append(kwargs))

    runpy.run_module("demo_provider", run_name="__main__")

    assert calls == [{"host": "127.0.0.1", "port": 5001}]


def test_implicit_grant_is_off_by_default(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()
    flow.sign_in()

    response = flow.client.get(
        "/authorize", query_string=flow.authorize_params(response_type="token")
    )

    assert metadata["response_types_supported"] == ["code"]
    assert flow.query(response.headers["Location"])["error"] == "unsupported_response_type"


# Every route the shipped provider serves. Test-only behaviour (faults, rewritten answers) lives
# in tests/live_provider.py as WSGI middleware, never as a route or setting of the provider.
SHIPPED_ROUTES = {
    ("/", "GET"),
    ("/login", "GET"),
    ("/login", "POST"),
    ("/logout", "POST"),
    ("/authorize", "GET"),
    ("/authorize", "POST"),
    ("/end-session", "GET"),
    ("/end-session", "POST"),
    ("/end-session/confirm", "POST"),
    ("/connections", "GET"),
    ("/connections/<client_id>/revoke", "POST"),
    ("/connections/<client_id>/scopes/remove", "POST"),
    ("/.well-known/openid-configuration", "GET"),
    ("/jwks.json", "GET"),
    ("/token", "POST"),
    ("/par", "POST"),
    ("/revoke", "POST"),
    ("/userinfo", "GET"),
    ("/userinfo", "POST"),
    ("/api/profile", "GET"),
    ("/api/contacts", "GET"),
    ("/static/<path:filename>", "GET"),
}


def test_provider_serves_no_route_beyond_the_documented_ones(demo_app):
    routes = {
        (rule.rule, method)
        for rule in demo_app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert routes == SHIPPED_ROUTES


def test_implicit_lab_adds_only_its_two_pages(demo_config, tmp_path):
    demo_config["DEMO_PROVIDER_LEGACY_IMPLICIT"] = True
    app = create_app(demo_config, instance_path=str(tmp_path / "instance"))

    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert routes - SHIPPED_ROUTES == {
        ("/labs/implicit", "GET"),
        ("/labs/implicit/callback", "GET"),
    }


def test_provider_code_never_reaches_into_test_code():
    package = Path(demo_provider.__file__).parent

    for path in package.rglob("*.py"):
        source = path.read_text()
        assert "import tests" not in source, path
        assert "from tests" not in source, path


def test_unknown_provider_settings_switch_nothing_on(tmp_path):
    resolved = settings.resolve(
        {"DEMO_PROVIDER_ALG_NONE": "true", "DEMO_PROVIDER_SKIP_PKCE": "1"}, str(tmp_path)
    )

    assert "DEMO_PROVIDER_ALG_NONE" not in resolved
    assert "DEMO_PROVIDER_SKIP_PKCE" not in resolved

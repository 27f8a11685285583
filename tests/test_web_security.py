"""Web security of the client: CSRF on every state change, cookies, headers, error pages, rate
limits, escaping of provider text, and hostile input that must never cause a 500."""

from __future__ import annotations

import os
import secrets

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from app import create_app
from extensions import db
from models import LinkedAccount, LoginAttempt, User
from tests.conftest import client_config
from tests.forms import csrf_token
from tests.fuzzing import fuzz_settings

STATE_CHANGING_ROUTES = [
    "/login/demo",
    "/logout",
    "/profile/link/demo",
    "/profile/unlink/demo",
    "/profile/delete",
    "/profile/refresh/demo",
]


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("path", STATE_CHANGING_ROUTES)
def test_state_changing_routes_refuse_get(flow, client, path):
    flow.sign_in("alice")
    assert client.get(path).status_code == 405


@pytest.mark.parametrize("path", STATE_CHANGING_ROUTES)
def test_state_changing_routes_refuse_a_post_without_csrf_token(flow, client, path):
    flow.sign_in("alice")
    response = client.post(path)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", STATE_CHANGING_ROUTES)
def test_state_changing_routes_refuse_a_csrf_token_from_another_session(flow, client, app, path):
    flow.sign_in("alice")
    other = app.test_client()
    foreign_token = csrf_token(other.get("/login").get_data(as_text=True))
    assert client.post(path, data={"csrf_token": foreign_token}).status_code == 400


def test_authenticated_pages_are_not_cached(flow, client):
    flow.sign_in("alice")
    for path in ("/profile", "/", "/login"):
        assert client.get(path).headers["Cache-Control"] == "no-store"


def test_every_html_page_has_the_security_headers(flow, client):
    flow.sign_in("alice")
    for path in ("/", "/login", "/profile", "/no-such-page"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def production_app(tmp_path, provider):
    return create_app(
        client_config(
            tmp_path,
            provider.issuer,
            APP_ENV="production",
            BASE_URL="https://app.example",
            DEMO_PROVIDER_ENABLED=True,
        )
    )


def test_production_cookies_are_host_prefixed_and_secure(tmp_path, provider):
    app = production_app(tmp_path, provider)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    client = app.test_client()
    page = client.get("https://app.example/login").get_data(as_text=True)
    response = client.post("https://app.example/login/demo", data={"csrf_token": csrf_token(page)})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie
    assert "SameSite=Lax" in cookie
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_errors_show_no_traceback(app):
    @app.get("/_boom")
    def boom():
        raise RuntimeError("internal detail: /etc/secret")

    response = app.test_client().get("/_boom")
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in text
    assert "internal detail" not in text
    assert "Traceback" not in text


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "3 per minute"}])
def test_sign_in_starts_are_rate_limited_per_client_address(client, app):
    page = client.get("/login").get_data(as_text=True)
    answers = [
        client.post("/login/demo", data={"csrf_token": csrf_token(page)}).status_code
        for _ in range(4)
    ]
    assert answers == [303, 303, 303, 429]
    elsewhere = app.test_client()
    other_page = elsewhere.get("/login").get_data(as_text=True)
    response = elsewhere.post(
        "/login/demo",
        data={"csrf_token": csrf_token(other_page)},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 303


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "2 per minute"}])
def test_callbacks_are_rate_limited_too(client):
    codes = [client.get("/callback/demo?state=x&code=y").status_code for _ in range(3)]
    assert codes == [400, 400, 429]


@pytest.mark.skipif("TEST_REDIS_URL" not in os.environ, reason="TEST_REDIS_URL is not set")
def test_rate_limits_are_shared_between_instances_through_redis(tmp_path, provider):
    shared = {
        "RATELIMIT_STORAGE_URI": os.environ["TEST_REDIS_URL"],
        "RATELIMIT_KEY_PREFIX": "test-" + secrets.token_hex(4),
        "SIGN_IN_RATE_LIMIT": "3 per minute",
    }
    instances = [
        create_app(client_config(tmp_path / name, provider.issuer, **shared)) for name in "ab"
    ]
    codes = []
    for app in instances * 2:
        codes.append(app.test_client().get("/callback/demo?state=x").status_code)
    assert codes == [400, 400, 400, 429]


def test_provider_supplied_text_is_escaped(flow, client, provider):
    def hostile(body):
        return {
            **body,
            "name": "<script>alert(1)</script>",
            "bio": '<img src=x onerror="alert(1)">',
            "location": "javascript:alert(1)",
        }

    flow.sign_in("alice")
    provider.recorder.rewrite("/api/profile", hostile)
    page = client.get("/profile").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert 'href="javascript:' not in page


# Hostile input: never a 500, nothing stored.

text = st.text(max_size=300)
callback_params = st.dictionaries(
    st.sampled_from(["state", "code", "iss", "error", "error_description", "error_uri", "x"]),
    st.one_of(text, st.lists(text, min_size=2, max_size=3)),
    max_size=6,
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, live_provider):
    from flask_migrate import upgrade

    app = create_app(
        client_config(
            tmp_path_factory.mktemp("fuzz"),
            live_provider.issuer,
            SIGN_IN_RATE_LIMIT="100000 per minute",
            TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        )
    )
    with app.app_context():
        upgrade()
    return app


@fuzz_settings(max_examples=60)
@given(params=callback_params, with_pending=st.booleans())
def test_the_callback_survives_any_query_string(fuzz_app, params, with_pending):
    client = fuzz_app.test_client()
    if with_pending:
        page = client.get("/login").get_data(as_text=True)
        client.post("/login/demo", data={"csrf_token": csrf_token(page)})
    query = [
        (name, value)
        for name, values in params.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    response = client.get("/callback/demo", query_string=query)
    assert response.status_code < 500
    assert rows(fuzz_app, User) == 0
    assert rows(fuzz_app, LinkedAccount) == 0


@fuzz_settings(max_examples=50)
@given(
    provider=st.one_of(st.just("demo"), st.text(min_size=1, max_size=40)),
    form=st.dictionaries(st.sampled_from(["next", "provider", "x"]), text, max_size=3),
)
def test_the_sign_in_start_survives_any_form(fuzz_app, provider, form):
    client = fuzz_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    before = rows(fuzz_app, LoginAttempt)
    response = client.post(
        "/login/" + provider.replace("/", "%2F"), data={**form, "csrf_token": csrf_token(page)}
    )
    assert response.status_code < 500
    if response.status_code == 303:
        location = response.headers["Location"]
        assert location.startswith(fuzz_app.config["DEMO_ISSUER"])
    else:
        assert rows(fuzz_app, LoginAttempt) == before
    assert rows(fuzz_app, User) == 0


def test_forms_may_lead_only_to_this_app_and_its_providers(client, provider):
    policy = client.get("/login").headers["Content-Security-Policy"]
    form_action = next(rule for rule in policy.split("; ") if rule.startswith("form-action"))
    # The provider's sign-in page (the redirect after "Sign in with ..."), and nowhere else.
    assert form_action.split()[1:] == ["'self'", provider.issuer]


def test_a_plain_oauth_providers_sign_in_page_is_a_form_action_too(tmp_path, provider):
    app = create_app(
        client_config(
            tmp_path, provider.issuer, GITHUB_CLIENT_ID="gh-id", GITHUB_CLIENT_SECRET="gh-secret"
        )
    )
    policy = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "form-action 'self' " in policy
    assert "https://github.com" in policy
    assert " http: " not in policy
    assert " https: " not in policy


def test_an_endpoint_discovered_on_another_host_is_a_form_action_once_known(
    tmp_path, provider, client, flow
):
    flow.sign_in("alice")  # discovery is fetched and cached
    app = client.application
    cached = app.extensions["provider_metadata"].documents["demo"].value
    cached["end_session_endpoint"] = "https://logout.example:8443/end"
    policy = client.get("/profile").headers["Content-Security-Policy"]
    assert "https://logout.example:8443" in policy

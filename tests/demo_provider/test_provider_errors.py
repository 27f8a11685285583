"""The demo provider's error answers: JSON for the endpoints clients call, a page for people, and
never a traceback or internal detail.
"""

import pytest
from flask import abort

from demo_provider import models, scopes, views


@pytest.fixture
def unguarded(demo_app):
    """The provider as deployed: exceptions are answered, not raised into the test."""
    demo_app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    return demo_app


@pytest.mark.parametrize("path", ["/no-such-page", "/authorize/extra", "/static/missing.css"])
def test_unknown_page_gets_the_providers_own_404_page(flow, path):
    response = flow.client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in response.get_data(as_text=True)
    assert "Demo Provider" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/nothing", "/.well-known/nothing"])
def test_unknown_api_path_gets_a_json_404(flow, path):
    response = flow.client.get(path)

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/token"), ("GET", "/revoke"), ("PUT", "/userinfo"), ("POST", "/api/profile")],
)
def test_wrong_method_on_an_endpoint_gets_a_json_405(flow, method, path):
    response = flow.client.open(path, method=method)

    assert response.status_code == 405
    assert response.get_json()["error"] == "invalid_request"
    assert "Allow" in response.headers
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("method", "path"), [("GET", "/logout"), ("DELETE", "/authorize")])
def test_wrong_method_on_a_page_gets_an_html_405(flow, method, path):
    response = flow.client.open(path, method=method)

    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "cannot be used that way" in response.get_data(as_text=True)


def test_oversized_token_request_gets_a_json_413(flow):
    response = flow.client.post(
        "/token", data={"grant_type": "authorization_code", "code": "x" * 100_000}
    )

    assert response.status_code == 413
    assert response.get_json()["error"] == "invalid_request"


def test_oversized_sign_in_form_gets_a_413_page(flow):
    response = flow.client.post("/login", data={"username": "x" * 100_000})

    assert response.status_code == 413
    assert "Request too large" in response.get_data(as_text=True)


def test_unexpected_error_on_a_page_shows_a_generic_500_page(unguarded, monkeypatch):
    def broken():
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(views, "_signed_in_user", broken)

    response = unguarded.test_client().get("/")

    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong here" in html
    assert "hunter2" not in html
    assert "Traceback" not in html
    assert response.headers["X-Frame-Options"] == "DENY"


def test_unexpected_error_at_an_endpoint_is_a_json_server_error(unguarded, flow_for, monkeypatch):
    flow = flow_for(unguarded.test_client())
    body, _ = flow.tokens()

    def broken(user, scope):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(scopes, "user_claims", broken)

    response = flow.userinfo(body["access_token"])

    assert response.status_code == 500
    assert response.get_json() == {"error": "server_error"}
    assert "internal detail" not in response.get_data(as_text=True)


def test_unexpected_error_is_logged_for_the_operator(unguarded, monkeypatch, caplog):
    def broken():
        raise RuntimeError("what broke")

    monkeypatch.setattr(views, "_signed_in_user", broken)

    unguarded.test_client().get("/")

    assert "what broke" in caplog.text


def test_expired_form_gets_a_page_not_a_bare_400(flow):
    response = flow.client.post("/logout", data={"csrf_token": "stale"})

    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


def test_token_endpoint_failure_is_a_json_server_error_without_detail(
    unguarded, flow_for, monkeypatch
):
    flow = flow_for(unguarded.test_client())

    def broken(cls, value):
        raise RuntimeError("SELECT secret FROM tokens")

    monkeypatch.setattr(models.Token, "find_by_refresh_token", classmethod(broken))

    response = flow.refresh("any-refresh-token")

    assert response.status_code == 500
    assert response.get_json() == {"error": "server_error"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("path", "json"), [("/api/bad-request", True), ("/bad-request", False)])
def test_bad_request_outside_the_oauth_flow_gets_the_format_its_caller_reads(demo_app, path, json):
    demo_app.add_url_rule(path, path, lambda: abort(400))

    response = demo_app.test_client().get(path)

    assert response.status_code == 400
    if json:
        assert response.get_json()["error"] == "invalid_request"
    else:
        assert "This request cannot be handled" in response.get_data(as_text=True)

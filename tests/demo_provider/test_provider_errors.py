"""The demo provider's error answers: JSON for the endpoints clients call, a page for people, and
never a traceback or internal detail.
"""

import pytest
from flask import abort, got_request_exception
from werkzeug.debug import DebuggedApplication
from werkzeug.test import Client

from demo_provider import errors, models, scopes, views


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


@pytest.fixture
def debugged(demo_app):
    """The provider as `flask run --debug` serves it: debug on, wrapped in Werkzeug's debugger,
    which renders any exception that propagates out of the app as a traceback page."""
    demo_app.debug = True
    return Client(DebuggedApplication(demo_app, evalex=True))


def assert_no_debugger(response):
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert "Werkzeug Debugger" not in text
    assert "__debugger__" not in text


def test_unexpected_error_on_a_page_in_debug_mode_shows_no_debugger(debugged, monkeypatch):
    def broken():
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(views, "_signed_in_user", broken)

    response = debugged.get("/")

    assert response.status_code == 500
    assert "Something went wrong here" in response.get_data(as_text=True)
    assert "hunter2" not in response.get_data(as_text=True)
    assert_no_debugger(response)


def test_unexpected_error_at_an_endpoint_in_debug_mode_is_a_json_server_error(
    demo_app, debugged, flow_for, monkeypatch
):
    body, _ = flow_for(demo_app.test_client()).tokens()

    def broken(user, scope):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(scopes, "user_claims", broken)

    response = debugged.get(
        "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )

    assert response.status_code == 500
    assert response.get_json() == {"error": "server_error"}
    assert_no_debugger(response)


@pytest.mark.parametrize("path", ["/token", "/revoke"])
def test_garbled_basic_credentials_in_debug_mode_are_invalid_client(debugged, path):
    data = {"grant_type": "refresh_token", "refresh_token": "x", "token": "x"}

    response = debugged.post(path, data=data, headers={"Authorization": "Basic \xff\xfe"})

    assert response.status_code == 401
    assert_no_debugger(response)


def test_unexpected_error_is_answered_even_while_testing(demo_app, monkeypatch):
    # TESTING (like debug) makes Flask re-raise exceptions that have no handler.
    assert demo_app.testing

    def broken():
        raise RuntimeError("what broke")

    monkeypatch.setattr(views, "_signed_in_user", broken)

    response = demo_app.test_client().get("/")

    assert response.status_code == 500
    assert "Something went wrong here" in response.get_data(as_text=True)


def test_unexpected_error_reaches_error_reporters(unguarded, monkeypatch):
    reported = []

    def broken():
        raise RuntimeError("what broke")

    def record(sender, exception, **extra):
        reported.append(exception)

    monkeypatch.setattr(views, "_signed_in_user", broken)

    with got_request_exception.connected_to(record, unguarded):
        unguarded.test_client().get("/")

    assert [str(error) for error in reported] == ["what broke"]


def test_broken_error_page_falls_back_to_plain_text(debugged, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("template broke")

    monkeypatch.setattr(views, "_signed_in_user", broken)
    monkeypatch.setattr(errors, "render_template", broken)

    response = debugged.get("/")

    assert response.status_code == 500
    assert response.mimetype == "text/plain"
    assert "template broke" not in response.get_data(as_text=True)
    assert_no_debugger(response)


NAMELESS_PART = (
    b"--fuzz\r\nContent-Disposition: form-data\r\n\r\nno name\r\n"
    b'--fuzz\r\nContent-Disposition: form-data; filename="x"\r\n\r\nno name either\r\n'
)


def _multipart(fields):
    parts = b"".join(
        f'--fuzz\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    )
    return NAMELESS_PART + parts + b"--fuzz--\r\n"


@pytest.mark.parametrize("with_csrf", [True, False], ids=["with-csrf-token", "without"])
def test_multipart_form_with_a_nameless_part_is_read_without_it(flow, with_csrf):
    fields = [("username", "alice"), ("password", "wonderland")]
    if with_csrf:
        fields.append(
            ("csrf_token", flow.csrf_token(flow.client.get("/login").get_data(as_text=True)))
        )

    response = flow.client.post(
        "/login", data=_multipart(fields), content_type="multipart/form-data; boundary=fuzz"
    )

    assert response.status_code == (303 if with_csrf else 400)


@pytest.mark.parametrize("path", ["/logout", "/authorize", "/end-session/confirm", "/token"])
def test_nameless_multipart_part_is_no_server_error_anywhere(flow, path):
    response = flow.client.post(
        path, data=_multipart([]), content_type="multipart/form-data; boundary=fuzz"
    )

    assert response.status_code < 500

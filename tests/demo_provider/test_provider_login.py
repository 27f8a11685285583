"""Signing in and out at the demo provider."""

import math

import pytest

from demo_provider import throttling, users


def test_login_page_lists_the_demo_users_in_development(flow):
    html = flow.client.get("/login").get_data(as_text=True)

    assert "alice" in html
    assert "wonderland" in html
    assert "builder" in html


def test_login_page_hides_the_demo_users_when_switched_off(demo_config, tmp_path):
    from demo_provider import create_app

    demo_config["DEMO_PROVIDER_SHOW_DEMO_USERS"] = "false"
    app = create_app(demo_config, instance_path=str(tmp_path / "quiet"))

    html = app.test_client().get("/login").get_data(as_text=True)

    assert "wonderland" not in html


def test_wrong_password_shows_the_form_again_with_a_generic_error(flow):
    response = flow.sign_in(password="not-the-password")

    assert response.status_code == 200
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert "Signed in" not in flow.client.get("/").get_data(as_text=True)


def test_unknown_username_gets_the_same_error_as_a_wrong_password(flow):
    response = flow.sign_in(username="mallory", password="whatever")

    assert "Wrong username or password" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_rejected(flow):
    response = flow.client.post("/login", data={"username": "alice", "password": "wonderland"})

    assert response.status_code == 400


def test_successful_login_redirects_with_303_to_next(flow):
    response = flow.sign_in(next_path="/authorize?client_id=x")

    assert response.status_code == 303
    assert response.headers["Location"] == "/authorize?client_id=x"


def test_successful_login_starts_a_new_session(flow):
    flow.client.get("/login")
    before = flow.client.get_cookie("demo_provider_session").value

    flow.sign_in()

    assert flow.client.get_cookie("demo_provider_session").value != before
    assert "Alice Liddell" in flow.client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
    ],
)
def test_login_never_redirects_off_the_provider(flow, next_path):
    response = flow.sign_in(next_path=next_path)

    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_session_cookie_is_httponly_lax_and_scoped_to_the_provider(flow):
    flow.sign_in()

    cookie = flow.client.get_cookie("demo_provider_session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert cookie.path == "/"


def test_logout_signs_out_of_the_provider(flow):
    flow.sign_in()
    token = flow.csrf_token(flow.client.get("/").get_data(as_text=True))

    response = flow.client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 303
    assert "not signed in" in flow.client.get("/").get_data(as_text=True)


def _fail_sign_in(flow, times, username="alice", address="127.0.0.1"):
    """Post wrong passwords from `address`; returns the last response."""
    page = flow.client.get("/login").get_data(as_text=True)
    data = {"csrf_token": flow.csrf_token(page), "username": username, "password": "guess"}
    response = None
    for _ in range(times):
        response = flow.client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})
    return response


def test_password_guessing_is_throttled_per_username(flow):
    _fail_sign_in(flow, throttling.SignInThrottle.PER_USERNAME)

    response = flow.sign_in()

    assert response.status_code == 429
    assert "Too many attempts. Wait 5 minutes and try again." in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert "not signed in" in flow.client.get("/").get_data(as_text=True)


def test_throttled_sign_in_does_not_check_the_password(flow, monkeypatch):
    _fail_sign_in(flow, throttling.SignInThrottle.PER_USERNAME)
    checked = []
    monkeypatch.setattr(users, "check_password_hash", lambda *args: checked.append(args))

    response = flow.sign_in()

    assert response.status_code == 429
    assert not checked


def test_password_spraying_from_one_address_is_throttled(flow):
    sprayer = "203.0.113.9"
    # Under the per-username limit for every name, but not under the per-address one.
    per_name = throttling.SignInThrottle.PER_USERNAME - 1
    for index in range(math.ceil(throttling.SignInThrottle.PER_ADDRESS / per_name)):
        _fail_sign_in(flow, per_name, username=f"user{index}", address=sprayer)

    response = _fail_sign_in(flow, 1, username="someone-new", address=sprayer)

    assert response.status_code == 429
    assert _fail_sign_in(flow, 1, username="someone-new").status_code == 200


def test_sign_in_throttling_ends_after_its_window(flow, monkeypatch):
    _fail_sign_in(flow, throttling.SignInThrottle.PER_USERNAME)
    later = throttling.now() + throttling.SignInThrottle.WINDOW + 1
    monkeypatch.setattr(throttling, "now", lambda: later)

    response = flow.sign_in()

    assert response.status_code == 303


def test_successful_sign_in_clears_earlier_typos(flow):
    _fail_sign_in(flow, throttling.SignInThrottle.PER_USERNAME - 1)
    flow.sign_in()

    response = _fail_sign_in(flow, throttling.SignInThrottle.PER_USERNAME - 1)

    assert response.status_code == 200
    assert "Wrong username or password" in response.get_data(as_text=True)


def test_throttling_one_username_leaves_others_alone(flow):
    _fail_sign_in(flow, throttling.SignInThrottle.PER_USERNAME)

    response = flow.sign_in(username="bob", password="builder")

    assert response.status_code == 303


def test_failure_counter_memory_is_bounded():
    limiter = throttling.FailureLimiter(limit=3, window=60, max_keys=100)

    for index in range(1000):
        for _ in range(5):
            limiter.record_failure(f"key{index}")

    assert len(limiter) == 100
    assert all(len(failures) <= 3 for failures in limiter._failures.values())
    assert limiter.retry_after("key999") > 0
    assert limiter.retry_after("key0") == 0


def test_huge_username_is_counted_under_a_bounded_key(flow):
    response = _fail_sign_in(flow, 1, username="x" * 60_000)

    assert response.status_code == 200
    throttle = flow.client.application.extensions["demo_provider.sign_in_throttle"]
    assert all(len(key) <= 128 for key in throttle.by_username._failures)

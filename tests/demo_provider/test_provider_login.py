"""Signing in and out at the demo provider."""

import pytest


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

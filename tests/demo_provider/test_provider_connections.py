"""The demo provider's connected applications page: what a person allowed, and revoking it."""

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from demo_provider import create_app, models


def test_connections_page_lists_the_granted_application_with_plain_word_scopes(flow):
    flow.tokens()

    page = flow.connections_page()

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Workshop App" in html
    assert "Confirm who you are" in html
    assert "See your name, username and profile" in html
    assert "See your e-mail address" in html
    assert "Keep access while you are away (refresh tokens)" in html


def test_connections_page_shows_only_the_scopes_that_were_granted(flow):
    flow.tokens(scope="openid profile")

    html = flow.connections_page().get_data(as_text=True)

    assert "See your name, username and profile" in html
    assert "See your e-mail address" not in html


def test_connections_page_says_this_is_how_real_providers_revoke_access(flow):
    flow.sign_in()

    html = flow.connections_page().get_data(as_text=True)

    assert "Authorized OAuth Apps" in html
    assert "Third-party apps with account access" in html


def test_connections_page_says_when_nothing_is_connected(flow):
    flow.sign_in()

    html = flow.connections_page().get_data(as_text=True)

    assert "No application can use your account right now." in html


def test_connections_page_sends_a_signed_out_visitor_to_sign_in_first(flow):
    response = flow.connections_page()

    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?")
    assert flow.query(response.headers["Location"]) == {"next": "/connections"}


def test_signing_in_from_there_comes_back_to_the_connections_page(flow):
    to_login = flow.connections_page()

    response = flow.sign_in(next_path=flow.query(to_login.headers["Location"])["next"])

    assert response.headers["Location"] == "/connections"


def test_header_links_to_the_connections_page_when_signed_in(flow):
    flow.sign_in()

    html = flow.client.get("/login").get_data(as_text=True)

    assert 'href="/connections"' in html


def test_header_has_no_connections_link_when_signed_out(flow):
    html = flow.client.get("/login").get_data(as_text=True)

    assert 'href="/connections"' not in html


def test_home_page_links_to_the_connections_page_when_signed_in(flow):
    flow.sign_in()

    html = flow.client.get("/").get_data(as_text=True)

    assert "Connected applications</a>: see which" in html


def test_application_whose_tokens_all_expired_is_not_listed(flow, monkeypatch):
    flow.tokens(scope="openid profile")
    later = models.epoch_now() + flow.client.application.config["DEMO_PROVIDER_ACCESS_TOKEN_TTL"]
    monkeypatch.setattr(models, "epoch_now", lambda: later + 1)

    html = flow.connections_page().get_data(as_text=True)

    assert "Workshop App" not in html


def test_revoking_makes_the_clients_refresh_token_invalid_grant(flow):
    body, _ = flow.tokens()

    flow.revoke_connection(flow.client_id)

    response = flow.refresh(body["refresh_token"])
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_revoking_makes_the_clients_access_token_401_at_the_api(flow):
    body, _ = flow.tokens()
    assert flow.profile_api(body["access_token"]).status_code == 200

    flow.revoke_connection(flow.client_id)

    response = flow.profile_api(body["access_token"])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_revoking_redirects_back_to_the_list_with_a_notice(flow):
    flow.tokens()

    response = flow.revoke_connection(flow.client_id)

    assert response.status_code == 303
    assert response.headers["Location"] == "/connections"
    html = flow.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Workshop App can no longer use your account" in html
    assert "No application can use your account right now." in html


def test_revoking_ends_every_grant_the_person_gave_that_client(flow):
    first, _ = flow.tokens()
    second, _ = flow.tokens()

    flow.revoke_connection(flow.client_id)

    assert flow.refresh(first["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert flow.refresh(second["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_revoking_a_code_not_yet_redeemed_stops_it_from_being_redeemed(flow):
    code, verifier, _ = flow.obtain_code()

    flow.revoke_connection(flow.client_id)

    assert flow.redeem(code, verifier).get_json()["error"] == "invalid_grant"


def test_revoking_one_application_leaves_the_others_working(flow):
    workshop, _ = flow.tokens()
    other, _ = flow.tokens(
        client_id=flow.other_client_id,
        client_secret=flow.other_client_secret,
        redirect_uri=flow.other_redirect_uri,
        scope="openid profile offline_access",
    )

    flow.revoke_connection(flow.client_id)

    refreshed = flow.refresh(
        other["refresh_token"],
        client_id=flow.other_client_id,
        client_secret=flow.other_client_secret,
    )
    assert refreshed.status_code == 200
    assert "Other App" in flow.connections_page().get_data(as_text=True)
    assert flow.refresh(workshop["refresh_token"]).status_code == 400


def test_revoking_twice_is_not_an_error(flow):
    flow.tokens()
    flow.revoke_connection(flow.client_id)

    response = flow.revoke_connection(flow.client_id)

    assert response.status_code == 303


def test_another_persons_grants_are_not_listed(flow):
    flow.tokens()
    flow.sign_in("bob", "builder")

    html = flow.connections_page().get_data(as_text=True)

    assert "Workshop App" not in html


def test_another_persons_grant_cannot_be_revoked(flow):
    alice, _ = flow.tokens()
    flow.sign_in("bob", "builder")

    response = flow.revoke_connection(flow.client_id)

    assert response.status_code == 404
    assert flow.refresh(alice["refresh_token"]).status_code == 200


def test_revoking_an_unknown_application_is_not_found(flow):
    flow.sign_in()

    response = flow.revoke_connection("no-such-client")

    assert response.status_code == 404


def test_revoking_requires_a_csrf_token(flow):
    body, _ = flow.tokens()

    response = flow.revoke_connection(flow.client_id, with_csrf=False)

    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert flow.refresh(body["refresh_token"]).status_code == 200


def test_revoking_is_post_only(flow):
    flow.tokens()

    response = flow.client.get(f"/connections/{flow.client_id}/revoke")

    assert response.status_code == 405


def test_revoking_while_signed_out_sends_the_visitor_to_sign_in(flow):
    response = flow.revoke_connection(flow.client_id)

    assert response.status_code == 303
    assert flow.query(response.headers["Location"]) == {"next": "/connections"}


def test_connections_page_keeps_the_mount_prefix(demo_config, tmp_path, flow_for):
    demo_config["DEMO_PROVIDER_ISSUER"] = "http://localhost/demo-provider"
    provider = create_app(demo_config, instance_path=str(tmp_path / "instance"))
    outer = Flask("outer")
    outer.wsgi_app = DispatcherMiddleware(outer.wsgi_app, {"/demo-provider": provider})
    browser = outer.test_client()

    response = browser.get("/demo-provider/connections")

    assert response.headers["Location"] == "/demo-provider/login?next=/connections"
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    signed_in = browser.post(
        "/demo-provider/login",
        data={
            "csrf_token": flow_for(browser).csrf_token(page),
            "username": "alice",
            "password": "wonderland",
            "next": "/connections",
        },
    )
    assert signed_in.headers["Location"] == "/demo-provider/connections"
    html = browser.get("/demo-provider/connections").get_data(as_text=True)
    assert 'href="/demo-provider/connections"' in html

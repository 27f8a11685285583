"""The demo provider's authorization endpoint: request validation, sign-in, consent, errors."""

import pytest
from werkzeug.datastructures import MultiDict


def test_unknown_client_gets_an_error_page_and_no_redirect(flow):
    params = flow.authorize_params(client_id="nobody")

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "cannot be completed" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:5000/callback/demo/",
        "http://127.0.0.1:5000/Callback/demo",
        "http://127.0.0.1:5000/callback/demo?extra=1",
        "http://127.0.0.1:5000/callback/demo#fragment",
        "http://127.0.0.1:5000/callback/x/../demo",
        "http://127.0.0.1:5000/callback%2Fdemo",
        "http://127.0.0.1:5001/callback/demo",
        "https://127.0.0.1:5000/callback/demo",
        "http://user@127.0.0.1:5000/callback/demo",
        "http://127.0.0.1:5000@evil.example/callback/demo",
        "http://127.0.0.1.evil.example:5000/callback/demo",
    ],
)
def test_redirect_uri_must_match_a_registered_one_exactly(flow, redirect_uri):
    params = flow.authorize_params(redirect_uri=redirect_uri)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_missing_redirect_uri_gets_an_error_page(flow):
    params = flow.authorize_params(redirect_uri=None)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_bad_redirect_uri_combined_with_another_error_still_gets_the_error_page(flow):
    params = flow.authorize_params(redirect_uri="https://evil.example/cb", response_type="token")

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_missing_code_challenge_is_sent_back_as_invalid_request(flow):
    params = flow.authorize_params(code_challenge=None, code_challenge_method=None)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 302
    assert response.headers["Location"].startswith(flow.redirect_uri + "?")
    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "invalid_request"
    assert answer["state"] == params["state"]
    assert answer["iss"] == flow.issuer


@pytest.mark.parametrize("method", ["plain", None])
def test_code_challenge_method_other_than_s256_is_rejected(flow, method):
    params = flow.authorize_params(code_challenge_method=method)

    response = flow.client.get("/authorize", query_string=params)

    assert flow.query(response.headers["Location"])["error"] == "invalid_request"


def test_openid_request_without_nonce_is_rejected(flow):
    params = flow.authorize_params(nonce=None)

    response = flow.client.get("/authorize", query_string=params)

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "invalid_request"
    assert answer["iss"] == flow.issuer


def test_unsupported_response_type_is_sent_back_with_state_and_iss(flow):
    params = flow.authorize_params(response_type="token")

    response = flow.client.get("/authorize", query_string=params)

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "unsupported_response_type"
    assert answer["state"] == params["state"]
    assert answer["iss"] == flow.issuer


def test_unknown_scope_is_sent_back_as_invalid_scope(flow):
    params = flow.authorize_params(scope="openid admin")

    response = flow.client.get("/authorize", query_string=params)

    assert flow.query(response.headers["Location"])["error"] == "invalid_scope"


def test_request_uri_parameter_is_refused(flow):
    params = flow.authorize_params(request_uri="https://evil.example/request.jwt")

    response = flow.client.get("/authorize", query_string=params)

    assert flow.query(response.headers["Location"])["error"] == "request_uri_not_supported"


def test_signed_out_person_is_sent_to_sign_in_and_back(flow):
    params = flow.authorize_params()

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    next_path = flow.query(location)["next"]
    assert next_path.startswith("/authorize?")
    assert flow.query(next_path) == params


def test_prompt_none_without_a_provider_session_is_login_required(flow):
    params = flow.authorize_params(prompt="none")

    response = flow.client.get("/authorize", query_string=params)

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "login_required"
    assert answer["iss"] == flow.issuer


def test_prompt_login_asks_a_signed_in_person_to_sign_in_again(flow):
    flow.sign_in()
    params = flow.authorize_params(prompt="login")

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 303
    assert "prompt" not in flow.query(flow.query(response.headers["Location"])["next"])


def test_consent_page_names_the_client_and_each_scope_in_plain_words(flow):
    flow.sign_in()

    page = flow.client.get("/authorize", query_string=flow.authorize_params())

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Workshop App" in html
    assert "Confirm who you are" in html
    assert "See your name, username and profile" in html
    assert "See your e-mail address" in html
    assert "Keep access while you are away (refresh tokens)" in html
    assert "Alice Liddell" in html
    assert "Not you? Sign out" in html


def test_consent_allow_redirects_with_code_state_and_iss(flow):
    flow.sign_in()
    params = flow.authorize_params()

    response = flow.decide(params, "allow")

    assert response.status_code == 302
    assert response.headers["Location"].startswith(flow.redirect_uri + "?")
    answer = flow.query(response.headers["Location"])
    assert len(answer["code"]) >= 22
    assert answer["state"] == params["state"]
    assert answer["iss"] == flow.issuer


def test_consent_deny_redirects_with_access_denied_state_and_iss(flow):
    flow.sign_in()
    params = flow.authorize_params()

    response = flow.decide(params, "deny")

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "access_denied"
    assert answer["state"] == params["state"]
    assert answer["iss"] == flow.issuer
    assert "code" not in answer


def test_consent_without_csrf_token_is_rejected(flow):
    flow.sign_in()
    form = flow.consent_form(flow.authorize_params())
    fields = [(name, value) for name, value in form["fields"] if name != "csrf_token"]

    response = flow.client.post("/authorize", data=MultiDict([*fields, ("decision", "allow")]))

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_consent_post_after_signing_out_goes_to_sign_in(flow):
    flow.sign_in()
    form = flow.consent_form(flow.authorize_params())
    flow.client.post("/logout", data={"csrf_token": dict(form["fields"])["csrf_token"]})
    fresh = flow.csrf_token(flow.client.get("/login").get_data(as_text=True))
    fields = [(name, fresh if name == "csrf_token" else value) for name, value in form["fields"]]

    response = flow.client.post("/authorize", data=MultiDict([*fields, ("decision", "allow")]))

    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")


def test_provider_pages_cannot_be_framed(flow):
    response = flow.client.get("/login")

    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_plain_http_from_a_non_loopback_host_gets_an_error_page(flow):
    params = flow.authorize_params()

    response = flow.client.get(
        "/authorize", query_string=params, base_url="http://provider.example"
    )

    assert response.status_code == 400
    assert "HTTPS" in response.get_data(as_text=True)
    assert "Location" not in response.headers


def test_plain_oauth_request_from_a_signed_out_person_goes_to_sign_in(flow):
    params = flow.authorize_params(scope="profile", nonce=None)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")


def test_plain_oauth_request_gets_tokens_without_an_id_token(flow):
    body, _ = flow.tokens(scope="profile")

    assert body["scope"] == "profile"
    assert "id_token" not in body
    assert flow.client.get("/api/profile", headers=flow.bearer(body)).status_code == 200

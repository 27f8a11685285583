"""The demo provider's authorization endpoint: request validation, sign-in, consent, errors."""

import re

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
        "HTTP://127.0.0.1:5000/callback/demo",
        "http://127.0.0.1:5000/callback/%64emo",
        "http://127.0.0.1:5000/callback/demo%20",
        " http://127.0.0.1:5000/callback/demo",
        "http://127.0.0.1:5000/callback/demo\x00",
        "http://127.0.0.1:5000/callback/demo\r\nSet-Cookie: planted=1",
        "http://127.0.0.1:5000/callback/démo",
        'http://127.0.0.1:5000/callback/"demo"',
        "http://127.0.0.1:5000/callback/demo\\..\\evil",
    ],
)
def test_redirect_uri_must_match_a_registered_one_exactly(flow, redirect_uri):
    params = flow.authorize_params(redirect_uri=redirect_uri)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "cannot be completed" in response.get_data(as_text=True)


def test_missing_redirect_uri_gets_an_error_page(flow):
    params = flow.authorize_params(redirect_uri=None)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "other_error",
    [
        {"response_type": "token"},
        {"response_type": "code id_token"},
        {"scope": "openid admin"},
        {"scope": "profile", "nonce": None},
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"nonce": None},
        {"request_uri": "https://evil.example/request.jwt"},
        {"prompt": "none"},
    ],
    ids=[
        "implicit",
        "hybrid",
        "unknown-scope",
        "no-openid",
        "no-pkce",
        "plain-pkce",
        "no-nonce",
        "request-uri",
        "prompt-none",
    ],
)
def test_bad_redirect_uri_combined_with_another_error_still_gets_the_error_page(flow, other_error):
    params = flow.authorize_params(redirect_uri="https://evil.example/cb", **other_error)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_unknown_client_combined_with_another_error_still_gets_the_error_page(flow):
    params = flow.authorize_params(client_id="nobody", response_type="token", scope="admin")

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


@pytest.mark.parametrize("method", ["plain", None, "s256", "S512"])
def test_code_challenge_method_other_than_s256_is_rejected(flow, method):
    params = flow.authorize_params(code_challenge_method=method)

    response = flow.client.get("/authorize", query_string=params)

    assert flow.query(response.headers["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize(
    "challenge",
    ["a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "=", "a" * 42 + "/", "a" * 42 + "é"],
    ids=["42-chars", "129-chars", "plus", "padding", "slash", "non-ascii"],
)
def test_malformed_code_challenge_is_invalid_request(flow, challenge):
    params = flow.authorize_params(code_challenge=challenge)

    response = flow.client.get("/authorize", query_string=params)

    assert response.headers["Location"].startswith(flow.redirect_uri + "?")
    assert flow.query(response.headers["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["code_challenge", "code_challenge_method"])
def test_code_challenge_sent_twice_is_invalid_request(flow, name):
    params = flow.authorize_params()
    query = MultiDict(params)
    query.add(name, params[name] if name == "code_challenge_method" else flow.pkce_pair()[1])

    response = flow.client.get("/authorize", query_string=query)

    assert flow.query(response.headers["Location"])["error"] == "invalid_request"


def test_openid_request_without_nonce_is_rejected(flow):
    params = flow.authorize_params(nonce=None)

    response = flow.client.get("/authorize", query_string=params)

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "invalid_request"
    assert answer["iss"] == flow.issuer


@pytest.mark.parametrize(
    "response_type",
    ["token", "id_token", "code id_token", "code token", "id_token token", "none", "Code", ""],
)
def test_implicit_and_hybrid_response_types_are_unsupported(flow, response_type):
    params = flow.authorize_params(response_type=response_type)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 302
    assert response.headers["Location"].startswith(flow.redirect_uri + "?")
    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "unsupported_response_type"
    assert answer["state"] == params["state"]
    assert answer["iss"] == flow.issuer
    assert "access_token" not in response.headers["Location"]


@pytest.mark.parametrize("response_type", ['to"ken', "töken", "code\\", "x" * 5000])
def test_response_type_with_characters_oauth_errors_cannot_carry_is_still_refused(
    flow, response_type
):
    params = flow.authorize_params(response_type=response_type)

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 302
    assert flow.query(response.headers["Location"])["error"] == "unsupported_response_type"


def test_unknown_scope_is_sent_back_as_invalid_scope(flow):
    params = flow.authorize_params(scope="openid admin")

    response = flow.client.get("/authorize", query_string=params)

    assert flow.query(response.headers["Location"])["error"] == "invalid_scope"


def test_request_uri_parameter_is_refused(flow):
    params = flow.authorize_params(request_uri="https://evil.example/request.jwt")

    response = flow.client.get("/authorize", query_string=params)

    assert flow.query(response.headers["Location"])["error"] == "request_uri_not_supported"


def test_request_object_parameter_is_refused(flow):
    params = flow.authorize_params(request="eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0.")

    response = flow.client.get("/authorize", query_string=params)

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "request_not_supported"
    assert answer["iss"] == flow.issuer


def test_request_object_smuggled_into_the_consent_form_is_refused(flow):
    flow.sign_in()
    form = flow.consent_form(flow.authorize_params())
    fields = [*form["fields"], ("request_uri", "https://evil.example/r"), ("decision", "allow")]

    response = flow.client.post("/authorize", data=MultiDict(fields))

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "request_uri_not_supported"
    assert "code" not in answer


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


# A state value that only survives if it is encoded and echoed exactly.
AWKWARD_STATE = "s p+a/c=e&é%20<\"'>;#?"


def _allow(flow, params):
    flow.sign_in()
    return flow.decide(params, "allow")


def _deny(flow, params):
    flow.sign_in()
    return flow.decide(params, "deny")


def _prompt_none_signed_in(flow, params):
    flow.sign_in()
    return flow.client.get("/authorize", query_string={**params, "prompt": "none"})


def _get(**overrides):
    def send(flow, params):
        return flow.client.get("/authorize", query_string={**params, **overrides})

    return send


def _without(*names):
    def send(flow, params):
        kept = {key: value for key, value in params.items() if key not in names}
        return flow.client.get("/authorize", query_string=kept)

    return send


@pytest.mark.parametrize(
    ("send", "error"),
    [
        (_allow, None),
        (_deny, "access_denied"),
        (_get(scope="openid admin"), "invalid_scope"),
        (_get(response_type="token"), "unsupported_response_type"),
        (_without("code_challenge", "code_challenge_method"), "invalid_request"),
        (_without("nonce"), "invalid_request"),
        (_get(prompt="none"), "login_required"),
        (_prompt_none_signed_in, "consent_required"),
        (_get(request="e30.e30."), "request_not_supported"),
    ],
    ids=[
        "code",
        "denied",
        "bad-scope",
        "implicit",
        "no-pkce",
        "no-nonce",
        "prompt-none",
        "no-consent",
        "request-object",
    ],
)
def test_every_authorization_response_names_the_issuer_and_echoes_state(flow, send, error):
    params = flow.authorize_params(state=AWKWARD_STATE)

    response = send(flow, params)

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(flow.redirect_uri + "?")
    answer = flow.query(location)
    assert answer["iss"] == flow.issuer
    assert answer["state"] == AWKWARD_STATE
    assert answer.get("error") == error
    assert ("code" in answer) is (error is None)


def test_authorization_error_without_state_sends_no_state(flow):
    params = flow.authorize_params(state=None, response_type="token")

    response = flow.client.get("/authorize", query_string=params)

    answer = flow.query(response.headers["Location"])
    assert "state" not in answer
    assert answer["iss"] == flow.issuer


def test_scope_the_client_is_not_registered_for_is_invalid_scope(demo_config, tmp_path, flow_for):
    from demo_provider import create_app

    demo_config["DEMO_PROVIDER_CLIENTS"][0]["scope"] = "openid profile"
    app = create_app(demo_config, instance_path=str(tmp_path / "narrow"))
    flow = flow_for(app.test_client())
    flow.sign_in()

    response = flow.client.get("/authorize", query_string=flow.authorize_params())

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "invalid_scope"
    assert answer["iss"] == flow.issuer


def test_forged_consent_for_a_scope_the_page_did_not_show_is_refused(flow):
    flow.sign_in()
    form = flow.consent_form(flow.authorize_params(scope="openid"))
    fields = [
        (name, "openid admin" if name == "scope" else value) for name, value in form["fields"]
    ]

    response = flow.client.post("/authorize", data=MultiDict([*fields, ("decision", "allow")]))

    answer = flow.query(response.headers["Location"])
    assert answer["error"] == "invalid_scope"
    assert "code" not in answer


def _consent_page(flow):
    flow.sign_in()
    return flow.client.get("/authorize", query_string=flow.authorize_params())


def _error_page(flow):
    return flow.client.get("/authorize", query_string=flow.authorize_params(client_id="nobody"))


@pytest.mark.parametrize(
    "open_page",
    [
        lambda flow: flow.client.get("/login"),
        lambda flow: flow.client.get("/"),
        _consent_page,
        _error_page,
        lambda flow: flow.client.get("/authorize", query_string=flow.authorize_params()),
        lambda flow: flow.client.get("/end-session"),
        lambda flow: flow.client.get("/no-such-page"),
    ],
    ids=["login", "home", "consent", "error", "authorize-redirect", "end-session", "not-found"],
)
def test_provider_pages_cannot_be_framed_or_leak_a_referer(flow, open_page):
    response = open_page(flow)

    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("open_page", [_consent_page, lambda flow: flow.client.get("/login")])
def test_provider_pages_load_nothing_from_other_sites(flow, open_page):
    html = open_page(flow).get_data(as_text=True)

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html


def test_authorization_endpoint_sends_no_cors_headers(flow):
    flow.sign_in()
    headers = {"Origin": "https://evil.example"}

    page = flow.client.get("/authorize", query_string=flow.authorize_params(), headers=headers)
    preflight = flow.client.options(
        "/authorize", headers={**headers, "Access-Control-Request-Method": "GET"}
    )

    for response in (page, preflight):
        assert not [name for name, _ in response.headers if name.lower().startswith("access-")]


@pytest.mark.parametrize("max_age", ["²", "9" * 5000, "-1", "1e3", " 60", ""])
def test_malformed_max_age_is_ignored_rather_than_crashing(flow, max_age):
    flow.sign_in()

    response = flow.client.get("/authorize", query_string=flow.authorize_params(max_age=max_age))

    assert response.status_code == 200
    assert "Allow" in response.get_data(as_text=True)


def test_sign_in_older_than_max_age_asks_to_sign_in_again(flow):
    flow.sign_in()
    with flow.client.session_transaction() as session:
        session["auth_time"] -= 120

    response = flow.client.get("/authorize", query_string=flow.authorize_params(max_age="60"))

    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")

"""Callbacks and token responses a broken provider or an attacker might produce (security-checklist
A): each ends on an error page without a traceback, stores nothing, and, when the response itself
is suspect, the code is never redeemed.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from cryptography.fernet import Fernet, MultiFernet

from tests.live_provider import query
from tests.misbehaving import DROP, MisbehavingProvider, assert_nothing_stored, assert_refused


@pytest.fixture
def misbehave(provider):
    return MisbehavingProvider(provider)


def callback(params: dict[str, str]) -> str:
    return "/callback/demo?" + urlencode(params)


def without(url: str, name: str) -> str:
    """The callback URL with one query parameter left out."""
    return callback({key: value for key, value in query(url).items() if key != name})


# -- A-08 RFC 9207 iss ---------------------------------------------------------------------------


def test_a_callback_without_iss_is_refused_when_the_provider_advertises_it(flow, provider, app):
    # The demo provider's metadata says authorization_response_iss_parameter_supported: true,
    # so a response without `iss` may be one another provider produced (mix-up attack).
    callback_url = flow.authorize(flow.start())
    response = flow.client.get(without(callback_url, "iss"))
    assert_refused(response, 400, "iss_missing")
    assert provider.recorder.calls("/token") == []
    assert_nothing_stored(app, flow.client)


@pytest.mark.parametrize(
    "issuer",
    [
        pytest.param(lambda issuer: issuer + "/", id="trailing-slash"),
        pytest.param(lambda issuer: issuer.upper(), id="upper-case"),
        pytest.param(lambda issuer: "https://evil.example", id="other"),
    ],
)
def test_a_callback_from_another_issuer_is_refused_before_the_token_request(
    flow, provider, app, issuer
):
    params = query(flow.authorize(flow.start()))
    params["iss"] = issuer(provider.issuer)
    assert_refused(flow.client.get(callback(params)), 400, "iss_mismatch")
    assert provider.recorder.calls("/token") == []
    assert_nothing_stored(app, flow.client)


# -- A-10 error responses ------------------------------------------------------------------------


def test_a_denied_consent_with_hostile_text_shows_a_friendly_page_without_it(flow, provider, app):
    state = query(flow.start())["state"]
    response = flow.client.get(
        callback(
            {
                "error": "access_denied",
                "error_description": "<script>alert(1)</script>",
                "error_uri": "https://evil.example/help",
                "state": state,
                "iss": provider.issuer,
            }
        )
    )
    text = assert_refused(response, 400, "access_denied")
    assert "Sign-in cancelled" in text
    assert "<script>alert(1)</script>" not in text
    assert "alert(1)" not in text
    assert "evil.example" not in text
    assert provider.recorder.calls("/token") == []
    assert_nothing_stored(app, flow.client)


def test_a_provider_error_code_is_shown_only_as_safe_characters(flow, provider, app):
    state = query(flow.start())["state"]
    response = flow.client.get(
        callback({"error": "<b>server_error</b>", "state": state, "iss": provider.issuer})
    )
    text = assert_refused(response, 400, "provider_error_bserver_errorb")
    assert "<b>" not in text
    assert provider.recorder.calls("/token") == []
    assert_nothing_stored(app, flow.client)


def test_an_error_response_with_an_unknown_state_reflects_nothing(flow, provider, app):
    flow.start()
    response = flow.client.get(
        callback(
            {
                "error": "access_denied",
                "error_description": "<script>alert(1)</script>",
                "state": "made-up",
            }
        )
    )
    text = assert_refused(response, 400, "state_unknown")
    assert "alert(1)" not in text
    assert_nothing_stored(app, flow.client, pending=1)


# -- A-11 token endpoint failures ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "page_status", "reason"),
    [
        pytest.param(400, {"error": "invalid_grant"}, 400, "token_invalid_grant", id="400-grant"),
        pytest.param(
            401, {"error": "invalid_client"}, 400, "token_invalid_client", id="401-client"
        ),
        pytest.param(500, {"error": "server_error"}, 502, "token_unavailable", id="500"),
        pytest.param(503, "<h1>Service Unavailable</h1>", 502, "token_unavailable", id="503-html"),
        pytest.param(200, "<h1>Welcome</h1>", 400, "token_response_malformed", id="200-html"),
    ],
)
def test_a_failing_token_endpoint_ends_on_a_clean_page_with_nothing_stored(
    flow, provider, app, status, body, page_status, reason
):
    callback_url = flow.authorize(flow.start())
    provider.recorder.fail("/token", status, body)
    assert_refused(flow.client.get(callback_url), page_status, reason)
    assert provider.recorder.calls("/userinfo") == []
    assert_nothing_stored(app, flow.client)


# -- A-12 token responses that cannot be used ----------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"token_type": "mac"}, "token_type_not_bearer", id="mac"),
        pytest.param({"token_type": DROP}, "token_type_not_bearer", id="no-token-type"),
        pytest.param({"access_token": DROP}, "access_token_missing", id="no-access-token"),
        pytest.param({"access_token": ""}, "access_token_missing", id="empty-access-token"),
        pytest.param({"id_token": DROP}, "id_token_missing", id="no-id-token"),
    ],
)
def test_an_unusable_token_response_is_refused(flow, misbehave, provider, app, change, reason):
    def rewrite(body):
        return {k: v for k, v in {**body, **change}.items() if v is not DROP}

    misbehave.token_response(rewrite)
    assert_refused(flow.sign_in(), 400, reason)
    assert provider.recorder.calls("/userinfo") == []
    assert_nothing_stored(app, flow.client)


# -- A-13 malformed callbacks --------------------------------------------------------------------


def test_a_hundred_kilobyte_code_is_refused_without_a_token_request(flow, provider, app):
    params = query(flow.authorize(flow.start()))
    params["code"] = "A" * 100_000
    assert_refused(flow.client.get(callback(params)), 400, "code_missing")
    assert provider.recorder.calls("/token") == []
    assert_nothing_stored(app, flow.client)


@pytest.mark.parametrize(
    "suffix",
    [
        pytest.param("\x00", id="nul"),
        pytest.param("\r\nSet-Cookie: x=1", id="crlf"),
        pytest.param("\x1b[31m", id="escape"),
        pytest.param("é€", id="non-ascii"),
    ],
)
def test_a_state_with_control_characters_is_refused_without_a_token_request(
    flow, provider, app, suffix
):
    params = query(flow.authorize(flow.start()))
    params["state"] += suffix
    response = flow.client.get(callback(params))
    assert_refused(response, 400, "state_unknown")
    assert "Set-Cookie: x=1" not in str(response.headers)
    assert provider.recorder.calls("/token") == []
    assert_nothing_stored(app, flow.client, pending=1)


def test_a_huge_state_is_refused_without_a_token_request(flow, provider, app):
    params = query(flow.authorize(flow.start()))
    params["state"] = "s" * 100_000
    assert_refused(flow.client.get(callback(params)), 400, "state_unknown")
    assert provider.recorder.calls("/token") == []
    assert_nothing_stored(app, flow.client, pending=1)


@pytest.mark.parametrize("name", ["state", "iss", "error"])
def test_a_callback_with_a_parameter_sent_twice_is_refused(flow, provider, app, name):
    # Two values let one parser check the first while another acts on the second.
    callback_url = flow.authorize(flow.start())
    value = query(callback_url).get(name, "access_denied")
    response = flow.client.get(callback_url + "&" + urlencode([(name, value), (name, value)]))
    assert_refused(response, 400, "duplicate_parameter")
    assert provider.recorder.calls("/token") == []


@pytest.mark.parametrize("app_overrides", [{"HTTP_READ_TIMEOUT": 0.5}])
def test_a_token_endpoint_that_hangs_ends_in_a_clear_page_within_the_timeout(flow, app):
    callback_url = flow.authorize(flow.start())
    flow.provider.recorder.fail("/token", 200, {"access_token": "late"}, delay=3)

    started = time.monotonic()
    response = flow.client.get(callback_url)

    assert time.monotonic() - started < 2.5
    assert_refused(response, 502, "token_unavailable")
    assert_nothing_stored(app, flow.client)


# -- pending sign-ins after a key rotation -------------------------------------------------------


def test_a_pending_sign_in_whose_verifier_no_key_can_read_asks_to_start_again(flow, provider, app):
    callback_url = flow.authorize(flow.start())
    # The operator removed the key that encrypted the pending sign-in's PKCE verifier.
    app.extensions["token_cipher"] = MultiFernet([Fernet(Fernet.generate_key())])
    text = assert_refused(flow.client.get(callback_url), 400, "pending_sign_in_unreadable")
    assert "can no longer be completed" in text
    assert provider.recorder.calls("/token") == []
    assert_nothing_stored(app, flow.client)
    # Starting again works with the new key.
    assert flow.sign_in().status_code == 303

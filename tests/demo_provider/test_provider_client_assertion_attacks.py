"""Attacks on private_key_jwt at the demo provider, each refused with 401 `invalid_client`: a
replayed assertion, one made for another audience, an expired or overlong one, one signed by
another key or with `none` or HMAC, one claiming another client, and mixed methods. A refused
assertion spends nothing: the code is still redeemable by the rightful client."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
KEYED_CLIENT_ID = "keyed-app"
KEYED_REDIRECT_URI = "http://127.0.0.1:7000/callback"


@pytest.fixture
def keyed(provider_configured, client_key, keyed_client):
    return provider_configured(clients=[keyed_client(client_key)])


@pytest.fixture
def code(keyed):
    """A code for the keyed client, and its verifier."""
    code, verifier, _ = keyed.obtain_code(
        client_id=KEYED_CLIENT_ID, redirect_uri=KEYED_REDIRECT_URI
    )
    return code, verifier


def redeem(flow, code, assertion, headers=None, **extra):
    code_value, verifier = code
    data = {
        "grant_type": "authorization_code",
        "code": code_value,
        "redirect_uri": KEYED_REDIRECT_URI,
        "code_verifier": verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }
    return flow.client.post("/token", data=data, headers=headers or {})


def assert_refused_but_code_kept(flow, code, response, client_key):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_client"
    assert "access_token" not in response.get_json()
    rightful = redeem(flow, code, client_key.assertion())
    assert rightful.status_code == 200, rightful.get_data(as_text=True)


def test_a_reused_assertion_is_refused(keyed, client_key, code):
    assertion = client_key.assertion()
    first_code, verifier, _ = keyed.obtain_code(
        client_id=KEYED_CLIENT_ID, redirect_uri=KEYED_REDIRECT_URI
    )
    assert redeem(keyed, (first_code, verifier), assertion).status_code == 200

    response = redeem(keyed, code, assertion)

    assert_refused_but_code_kept(keyed, code, response, client_key)


@pytest.mark.parametrize(
    "aud",
    [
        "https://other-provider.example",
        "http://127.0.0.1:5001/revoke",
        "http://127.0.0.1:5001/",
        ["https://other-provider.example"],
    ],
)
def test_an_assertion_for_another_audience_is_refused(keyed, client_key, code, aud):
    response = redeem(keyed, code, client_key.assertion(aud=aud))

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_without_audience_is_refused(keyed, client_key, code):
    response = redeem(keyed, code, client_key.assertion(aud=None))

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_expired_assertion_is_refused(keyed, client_key, code):
    now = int(time.time())

    response = redeem(keyed, code, client_key.assertion(iat=now - 600, exp=now - 300))

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_without_expiry_is_refused(keyed, client_key, code):
    response = redeem(keyed, code, client_key.assertion(exp=None))

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_living_too_long_is_refused(keyed, client_key, code):
    now = int(time.time())

    response = redeem(keyed, code, client_key.assertion(iat=now, exp=now + 3600))

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_without_jti_is_refused(keyed, client_key, code):
    response = redeem(keyed, code, client_key.assertion(jti=None))

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_signed_by_another_key_is_refused(keyed, client_key, code, make_client_key):
    response = redeem(keyed, code, make_client_key().assertion())

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_with_alg_none_is_refused(keyed, client_key, code):
    now = int(time.time())
    claims = {
        "iss": KEYED_CLIENT_ID,
        "sub": KEYED_CLIENT_ID,
        "aud": "http://127.0.0.1:5001",
        "jti": "none-1",
        "exp": now + 60,
    }

    response = redeem(keyed, code, client_key.unsigned({"alg": "none"}, claims))

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_with_hs256_over_the_public_key_is_refused(keyed, client_key, code):
    # The classic confusion: HMAC keyed with the (public) key material the server holds.
    secret = OctKey.import_key(client_key.public_jwk["x"].encode())
    now = int(time.time())
    claims = {
        "iss": KEYED_CLIENT_ID,
        "sub": KEYED_CLIENT_ID,
        "aud": "http://127.0.0.1:5001",
        "jti": "hs-1",
        "exp": now + 60,
    }
    assertion = jwt.encode({"alg": "HS256"}, claims, secret, algorithms=["HS256"])

    response = redeem(keyed, code, assertion)

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_issued_by_someone_else_is_refused(keyed, client_key, code):
    response = redeem(keyed, code, client_key.assertion(iss="workshop-app"))

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_for_another_client_than_the_form_names_is_refused(keyed, client_key, code):
    response = redeem(keyed, code, client_key.assertion(), client_id="workshop-app")

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_beside_a_basic_header_is_refused(keyed, client_key, code):
    response = redeem(
        keyed, code, client_key.assertion(), headers=keyed.basic_auth(KEYED_CLIENT_ID, "x")
    )

    assert_refused_but_code_kept(keyed, code, response, client_key)


def test_an_assertion_of_the_wrong_type_is_not_an_authentication(keyed, client_key, code):
    response = redeem(
        keyed, code, client_key.assertion(), client_assertion_type="urn:example:other"
    )

    assert_refused_but_code_kept(keyed, code, response, client_key)


@pytest.mark.parametrize("assertion", ["garbage", "a.b.c", "x" * 9000])
def test_a_malformed_assertion_is_refused(keyed, client_key, code, assertion):
    response = redeem(keyed, code, assertion)

    assert_refused_but_code_kept(keyed, code, response, client_key)

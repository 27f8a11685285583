"""The demo provider's token endpoint for the authorization code grant, and the ID token."""

import base64
from urllib.parse import quote

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from demo_provider import models, throttling


def test_code_exchange_returns_bearer_tokens_with_lifetime_and_scope(flow):
    code, verifier, _ = flow.obtain_code()

    response = flow.redeem(code, verifier)

    body = response.get_json()
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == flow.full_scope
    assert len(body["access_token"]) >= 22
    assert body["refresh_token"]
    assert body["id_token"]


def test_id_token_is_signed_with_the_published_key_for_this_client(flow):
    body, params = flow.tokens()
    keys = KeySet.import_key_set(flow.client.get("/jwks.json").get_json())

    token = jwt.decode(body["id_token"], keys, algorithms=["RS256"])

    claims = token.claims
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == keys.keys[0].kid
    assert claims["iss"] == flow.issuer
    assert claims["aud"] == flow.client_id
    assert claims["nonce"] == params["nonce"]
    assert claims["exp"] - claims["iat"] <= 600
    assert claims["auth_time"] <= claims["iat"]
    assert claims["name"] == "Alice Liddell"
    assert claims["email"] == "alice@example.org"
    assert claims["email_verified"] is True


def test_subject_is_stable_across_sign_ins(flow):
    first, _ = flow.tokens()
    second, _ = flow.tokens()

    def subject(body):
        return jwt.decode(body["id_token"], _keys(flow), algorithms=["RS256"]).claims["sub"]

    assert subject(first) == subject(second)


def test_id_token_carries_only_claims_for_granted_scopes(flow):
    body, _ = flow.tokens(scope="openid")

    claims = jwt.decode(body["id_token"], _keys(flow), algorithms=["RS256"]).claims

    assert claims["sub"]
    assert "email" not in claims
    assert "name" not in claims


def test_no_refresh_token_without_offline_access(flow):
    body, _ = flow.tokens(scope="openid profile")

    assert "refresh_token" not in body


def test_wrong_code_verifier_is_invalid_grant(flow):
    code, _, _ = flow.obtain_code()
    wrong_verifier, _ = flow.pkce_pair()

    response = flow.redeem(code, wrong_verifier)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_rejected(flow):
    code, _, _ = flow.obtain_code()

    response = flow.redeem(code, None)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_wrong_verifier_does_not_burn_the_code(flow):
    code, verifier, _ = flow.obtain_code()
    flow.redeem(code, flow.pkce_pair()[0])

    response = flow.redeem(code, verifier)

    assert response.status_code == 200


def test_reused_code_is_invalid_grant_and_revokes_the_first_tokens(flow):
    code, verifier, _ = flow.obtain_code()
    first = flow.redeem(code, verifier).get_json()
    assert flow.userinfo(first["access_token"]).status_code == 200

    second = flow.redeem(code, verifier)

    assert second.status_code == 400
    assert second.get_json()["error"] == "invalid_grant"
    assert flow.userinfo(first["access_token"]).status_code == 401
    assert flow.refresh(first["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_code_redeemed_by_another_client_is_invalid_grant(flow):
    code, verifier, _ = flow.obtain_code()

    response = flow.redeem(
        code, verifier, client_id=flow.other_client_id, client_secret=flow.other_client_secret
    )

    assert response.get_json()["error"] == "invalid_grant"


def test_redirect_uri_at_token_endpoint_must_match_the_authorization_request(flow):
    code, verifier, _ = flow.obtain_code()

    response = flow.redeem(code, verifier, redirect_uri="http://127.0.0.1:5000/other")

    assert response.get_json()["error"] == "invalid_grant"


def test_expired_code_is_invalid_grant(flow, monkeypatch):
    code, verifier, _ = flow.obtain_code()
    later = models.epoch_now() + models.AuthorizationCode.LIFETIME + 1
    monkeypatch.setattr(models, "epoch_now", lambda: later)

    response = flow.redeem(code, verifier)

    assert response.get_json()["error"] == "invalid_grant"


def test_replayed_code_with_a_wrong_secret_is_refused_and_revokes_nothing(flow):
    code, verifier, _ = flow.obtain_code()
    first = flow.redeem(code, verifier).get_json()

    replay = flow.redeem(code, verifier, client_secret="guessed")

    assert replay.status_code == 401
    assert flow.userinfo(first["access_token"]).status_code == 200
    assert flow.refresh(first["refresh_token"]).status_code == 200


def test_replayed_code_with_a_wrong_verifier_is_refused_and_revokes_nothing(flow):
    code, verifier, _ = flow.obtain_code()
    first = flow.redeem(code, verifier).get_json()

    replay = flow.redeem(code, flow.pkce_pair()[0])

    assert replay.get_json()["error"] == "invalid_grant"
    assert flow.userinfo(first["access_token"]).status_code == 200
    assert flow.refresh(first["refresh_token"]).status_code == 200


def test_replayed_code_by_another_client_is_refused_and_revokes_nothing(flow):
    code, verifier, _ = flow.obtain_code()
    first = flow.redeem(code, verifier).get_json()

    replay = flow.redeem(
        code, verifier, client_id=flow.other_client_id, client_secret=flow.other_client_secret
    )

    assert replay.get_json()["error"] == "invalid_grant"
    assert flow.userinfo(first["access_token"]).status_code == 200


def test_code_carries_at_least_128_random_bits(flow):
    codes = {flow.obtain_code()[0] for _ in range(3)}

    assert len(codes) == 3
    # URL-safe base64 carries 6 bits per character: 22 characters hold 128 bits.
    assert all(len(code) >= 22 for code in codes)


def _code_request(flow, code, verifier):
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": verifier,
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic d29ya3Nob3AtYXBwOndyb25n"},  # workshop-app:wrong
        {"Authorization": "Basic bm9ib2R5OndoYXRldmVy"},  # nobody:whatever
        {"Authorization": "Basic d29ya3Nob3AtYXBw"},  # workshop-app, no secret
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer d29ya3Nob3AtYXBwOndyb25n"},
        {"Authorization": " "},
        {"Authorization": "Basic "},
        {"Authorization": "Basic //46eA=="},  # b"\xff\xfe:x", not UTF-8
        {"Authorization": "Basic OndvcmtzaG9wLXNlY3JldC13aXRoLWVub3VnaC1lbnRyb3B5"},  # no id
    ],
    ids=[
        "none",
        "wrong-secret",
        "unknown-client",
        "no-secret",
        "garbled",
        "other-scheme",
        "blank-header",
        "empty-basic",
        "not-utf8",
        "secret-without-id",
    ],
)
def test_missing_or_wrong_client_authentication_is_401_invalid_client(flow, headers):
    code, verifier, _ = flow.obtain_code()

    response = flow.client.post("/token", data=_code_request(flow, code, verifier), headers=headers)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert flow.redeem(code, verifier).status_code == 200


@pytest.mark.parametrize("path", ["/token", "/revoke"])
@pytest.mark.parametrize(
    "authorization",
    [
        "Basic \xff\xfe",
        "Basic d29ya3Nob3AtYXBw\xe9",
        "Basic \xc3\xa9\xc3\xa8",  # "éè" as UTF-8 bytes, read as Latin-1 like every header
        "basic \x80===",
        "Basic d29ya3Nob3AtYXBwOndyb25n\xa0",  # a trailing no-break space
    ],
    ids=["latin-1", "after-base64", "utf-8", "lowercase-scheme", "nbsp"],
)
def test_basic_credentials_with_non_ascii_bytes_are_401_invalid_client(flow, path, authorization):
    data = {"grant_type": "refresh_token", "refresh_token": "x", "token": "x"}

    response = flow.client.post(path, data=data, headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("stray", ["!", "*", "\t", "%"])
def test_basic_credentials_must_be_strict_base64(flow, stray):
    code, verifier, _ = flow.obtain_code()
    encoded = flow.basic_auth()["Authorization"].removeprefix("Basic ")
    # A lenient decoder drops characters outside the alphabet and would accept this.
    garbled = f"Basic {encoded[:8]}{stray}{encoded[8:]}"

    response = flow.client.post(
        "/token", data=_code_request(flow, code, verifier), headers={"Authorization": garbled}
    )

    assert response.status_code == 401
    assert flow.redeem(code, verifier).status_code == 200


@pytest.mark.parametrize(
    ("client_id", "client_secret"),
    [("workshop-app", "wrong"), ("nobody", "whatever"), ("workshop-app", "")],
    ids=["wrong-secret", "unknown-client", "empty-secret"],
)
def test_wrong_client_secret_post_is_401_and_does_not_reveal_whether_the_client_exists(
    flow, client_id, client_secret
):
    data = {"grant_type": "refresh_token", "refresh_token": "x"}
    data.update(client_id=client_id, client_secret=client_secret)

    response = flow.client.post("/token", data=data)

    assert response.status_code == 401
    assert response.get_json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed.",
    }


SPECIAL_SECRET = "s3cret:with%odd+chars/= &é"


@pytest.fixture
def special_flow(demo_config, tmp_path, flow_for):
    """A provider whose main client's secret needs form-encoding in a Basic header."""
    from demo_provider import create_app

    demo_config["DEMO_PROVIDER_CLIENTS"][0]["client_secret"] = SPECIAL_SECRET
    app = create_app(demo_config, instance_path=str(tmp_path / "special"))
    return flow_for(app.test_client())


def test_basic_auth_with_a_form_encoded_special_character_secret_works(special_flow):
    flow = special_flow
    code, verifier, _ = flow.obtain_code()
    # RFC 6749 section 2.3.1: id and secret are form-encoded before going into the Basic header.
    raw = f"{quote(flow.client_id, safe='')}:{quote(SPECIAL_SECRET, safe='')}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}

    response = flow.client.post("/token", data=_code_request(flow, code, verifier), headers=headers)

    assert response.status_code == 200


def test_client_secret_post_with_a_special_character_secret_works(special_flow):
    flow = special_flow
    code, verifier, _ = flow.obtain_code()
    data = {**_code_request(flow, code, verifier), "client_id": flow.client_id}
    data["client_secret"] = SPECIAL_SECRET

    response = flow.client.post("/token", data=data)

    assert response.status_code == 200


def test_client_secret_is_compared_in_constant_time(flow, monkeypatch):
    calls = []
    real = models.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(models.hmac, "compare_digest", spy)

    flow.client.post("/token", data={"grant_type": "refresh_token"}, headers=flow.basic_auth())

    assert calls
    assert all(len(a) == len(b) == 64 for a, b in calls)


ATTACKER = "203.0.113.9"


def _wrong_secret(flow, path, address=ATTACKER):
    data = {"grant_type": "refresh_token", "refresh_token": "x", "token": "x"}
    return flow.client.post(
        path,
        data=data,
        headers=flow.basic_auth(client_secret="guess"),
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.mark.parametrize("path", ["/token", "/revoke"])
def test_repeated_wrong_client_secrets_are_throttled(flow, path):
    for _ in range(throttling.ClientAuthenticationThrottle.LIMIT):
        assert _wrong_secret(flow, path).status_code == 401

    response = _wrong_secret(flow, path)

    assert response.status_code == 429
    assert response.get_json()["error"] == "invalid_client"
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"


# The test client's own address: the real client and the guesser share it, as they do behind a
# reverse proxy that the app does not trust with X-Forwarded-For.
SHARED_ADDRESS = "127.0.0.1"


def _guess_until_throttled(flow, path):
    for _ in range(throttling.ClientAuthenticationThrottle.LIMIT):
        assert _wrong_secret(flow, path, address=SHARED_ADDRESS).status_code == 401
    assert _wrong_secret(flow, path, address=SHARED_ADDRESS).status_code == 429


def test_real_client_redeems_its_code_after_guesses_from_its_own_address(flow):
    code, verifier, _ = flow.obtain_code()
    _guess_until_throttled(flow, "/token")

    response = flow.redeem(code, verifier)

    assert response.status_code == 200
    assert response.get_json()["access_token"]
    assert _wrong_secret(flow, "/token", address=SHARED_ADDRESS).status_code == 429


def test_real_client_refreshes_after_guesses_from_its_own_address(flow):
    body, _ = flow.tokens()
    _guess_until_throttled(flow, "/token")

    response = flow.refresh(body["refresh_token"])

    assert response.status_code == 200
    assert _wrong_secret(flow, "/token", address=SHARED_ADDRESS).status_code == 429


def test_real_client_revokes_after_guesses_from_its_own_address(flow):
    body, _ = flow.tokens()
    _guess_until_throttled(flow, "/revoke")

    response = flow.revoke(body["refresh_token"])

    assert response.status_code == 200
    assert flow.refresh(body["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert _wrong_secret(flow, "/revoke", address=SHARED_ADDRESS).status_code == 429


def test_real_client_using_form_credentials_passes_a_throttled_address(flow):
    body, _ = flow.tokens()
    _guess_until_throttled(flow, "/token")

    response = flow.client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": flow.client_id,
            "client_secret": flow.client_secret,
        },
        environ_base={"REMOTE_ADDR": SHARED_ADDRESS},
    )

    assert response.status_code == 200


def test_a_throttled_guess_that_is_still_wrong_gets_nothing(flow):
    _guess_until_throttled(flow, "/token")

    response = _wrong_secret(flow, "/token", address=SHARED_ADDRESS)

    assert response.status_code == 429
    assert response.get_json()["error"] == "invalid_client"
    assert "access_token" not in response.get_json()


def test_throttling_a_guesser_does_not_lock_the_real_client_out(flow):
    for _ in range(throttling.ClientAuthenticationThrottle.LIMIT + 5):
        _wrong_secret(flow, "/token")

    body, _ = flow.tokens()

    assert flow.revoke(body["access_token"]).status_code == 200


def test_client_throttling_ends_after_its_window(flow, monkeypatch):
    for _ in range(throttling.ClientAuthenticationThrottle.LIMIT):
        _wrong_secret(flow, "/token")
    later = throttling.now() + throttling.ClientAuthenticationThrottle.WINDOW + 1
    monkeypatch.setattr(throttling, "now", lambda: later)

    assert _wrong_secret(flow, "/token").status_code == 401


@pytest.mark.parametrize(
    "grant_type",
    [
        "password",
        "client_credentials",
        "implicit",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "",
    ],
)
def test_other_grant_types_are_unsupported(flow, grant_type):
    response = flow.client.post(
        "/token",
        data={"grant_type": grant_type, "username": "alice", "password": "wonderland"},
        headers=flow.basic_auth(),
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"
    assert "access_token" not in response.get_json()


def _token_endpoint_answers(flow):
    code, verifier, _ = flow.obtain_code()
    good = flow.redeem(code, verifier)
    return {
        "success": good,
        "invalid_grant": flow.redeem("not-a-code", verifier),
        "invalid_client": flow.redeem(code, verifier, client_secret="wrong"),
        "unsupported_grant_type": flow.client.post("/token", data={"grant_type": "password"}),
        "refresh": flow.refresh(good.get_json()["refresh_token"]),
        "revoke": flow.revoke(good.get_json()["access_token"]),
        "revoke_invalid_client": flow.client.post("/revoke", data={"token": "x"}),
    }


def test_token_and_revocation_answers_are_json_and_never_cached(flow):
    for name, response in _token_endpoint_answers(flow).items():
        assert response.mimetype == "application/json", name
        assert response.headers["Cache-Control"] == "no-store", name
        assert response.headers["Pragma"] == "no-cache", name
        assert response.get_json() is not None, name


def _keys(flow):
    """The provider's published JWKS as a joserfc key set."""
    return KeySet.import_key_set(flow.client.get("/jwks.json").get_json())


def test_token_request_over_plain_http_from_a_non_loopback_host_is_refused(flow):
    code, verifier, _ = flow.obtain_code()
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": verifier,
    }

    response = flow.client.post(
        "/token", data=data, headers=flow.basic_auth(), base_url="http://provider.example"
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "insecure_transport"


def test_id_token_header_names_only_the_published_key(flow):
    body, _ = flow.tokens()
    keys = _keys(flow)

    header = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).header

    assert header["alg"] == "RS256"
    assert header["kid"] in {key.kid for key in keys.keys}
    # Headers that would let a token choose its own verification key are never set.
    assert not {"jku", "jwk", "x5u", "x5c", "crit"} & set(header)


def test_id_token_subject_is_opaque_ascii_and_not_the_username(flow):
    body, _ = flow.tokens()

    sub = jwt.decode(body["id_token"], _keys(flow), algorithms=["RS256"]).claims["sub"]

    assert sub.isascii()
    assert 0 < len(sub) <= 255
    assert "alice" not in sub.lower()


def test_subjects_differ_between_people(flow):
    alice, _ = flow.tokens()
    flow.client.delete_cookie("demo_provider_session")
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(challenge)
    flow.sign_in(username="bob", password="builder")
    code = flow.query(flow.decide(params).headers["Location"])["code"]
    bob = flow.redeem(code, verifier).get_json()

    def subject(body):
        return jwt.decode(body["id_token"], _keys(flow), algorithms=["RS256"]).claims["sub"]

    assert subject(alice) != subject(bob)


def test_id_token_carries_auth_time_when_max_age_was_sent(flow):
    code, verifier, _ = flow.obtain_code(max_age="600")

    body = flow.redeem(code, verifier).get_json()

    claims = jwt.decode(body["id_token"], _keys(flow), algorithms=["RS256"]).claims
    assert claims["iat"] - 600 <= claims["auth_time"] <= claims["iat"]


def test_reused_nonce_is_refused(flow):
    nonce = "the-same-nonce-twice"
    flow.obtain_code(nonce=nonce)

    response = flow.client.get("/authorize", query_string=flow.authorize_params(nonce=nonce))

    assert flow.query(response.headers["Location"])["error"] == "invalid_request"


def test_access_token_lifetime_is_short_and_tokens_are_long_random_strings(flow):
    body, _ = flow.tokens()

    assert 0 < body["expires_in"] <= 15 * 60
    for name in ("access_token", "refresh_token"):
        assert len(body[name]) >= 43, name
    assert body["access_token"] != body["refresh_token"]

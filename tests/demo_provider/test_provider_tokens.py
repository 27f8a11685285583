"""The demo provider's token endpoint for the authorization code grant, and the ID token."""

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from demo_provider import models


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


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic d29ya3Nob3AtYXBwOndyb25n"},  # workshop-app:wrong
    ],
)
def test_missing_or_wrong_client_authentication_is_401_invalid_client(flow, headers):
    code, verifier, _ = flow.obtain_code()
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": verifier,
    }

    response = flow.client.post("/token", data=data, headers=headers)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_client_secret_post_is_accepted(flow):
    code, verifier, _ = flow.obtain_code()
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": verifier,
        "client_id": flow.client_id,
        "client_secret": flow.client_secret,
    }

    response = flow.client.post("/token", data=data)

    assert response.status_code == 200


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit"])
def test_other_grant_types_are_unsupported(flow, grant_type):
    response = flow.client.post(
        "/token", data={"grant_type": grant_type}, headers=flow.basic_auth()
    )

    assert response.get_json()["error"] == "unsupported_grant_type"


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

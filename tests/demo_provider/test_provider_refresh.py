"""The demo provider's refresh grant: rotation, reuse detection, scope and client binding."""

from joserfc import jwt
from joserfc.jwk import KeySet

from demo_provider import models


def test_refresh_returns_new_access_and_refresh_tokens(flow):
    first, _ = flow.tokens()

    response = flow.refresh(first["refresh_token"])

    body = response.get_json()
    assert response.status_code == 200
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token"] != first["refresh_token"]
    assert body["scope"] == flow.full_scope
    assert flow.userinfo(body["access_token"]).status_code == 200


def test_refresh_returns_a_fresh_id_token_for_the_same_person_and_client(flow):
    first, _ = flow.tokens()
    keys = KeySet.import_key_set(flow.client.get("/jwks.json").get_json())

    body = flow.refresh(first["refresh_token"]).get_json()

    original = jwt.decode(first["id_token"], keys, algorithms=["RS256"]).claims
    refreshed = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
    assert refreshed["iss"] == original["iss"] == flow.issuer
    assert refreshed["sub"] == original["sub"]
    assert refreshed["aud"] == original["aud"] == flow.client_id
    assert refreshed["auth_time"] == original["auth_time"]
    assert "nonce" not in refreshed


def test_rotated_refresh_token_cannot_be_used_again(flow):
    first, _ = flow.tokens()
    flow.refresh(first["refresh_token"])

    response = flow.refresh(first["refresh_token"])

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_reusing_a_rotated_refresh_token_revokes_the_whole_grant(flow):
    first, _ = flow.tokens()
    current = flow.refresh(first["refresh_token"]).get_json()

    flow.refresh(first["refresh_token"])

    assert flow.refresh(current["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert flow.userinfo(current["access_token"]).status_code == 401
    assert flow.userinfo(first["access_token"]).status_code == 401


def test_refresh_with_another_clients_credentials_is_invalid_grant(flow):
    first, _ = flow.tokens()

    response = flow.refresh(
        first["refresh_token"],
        client_id=flow.other_client_id,
        client_secret=flow.other_client_secret,
    )

    assert response.get_json()["error"] == "invalid_grant"
    assert flow.refresh(first["refresh_token"]).status_code == 200


def test_refresh_asking_for_a_broader_scope_is_invalid_scope(flow):
    first, _ = flow.tokens(scope="openid offline_access")

    response = flow.refresh(first["refresh_token"], scope="openid profile offline_access")

    assert response.get_json()["error"] == "invalid_scope"
    assert flow.refresh(first["refresh_token"]).status_code == 200


def test_narrowed_refresh_keeps_the_consented_scope_for_the_next_refresh(flow):
    first, _ = flow.tokens()
    narrowed = flow.refresh(first["refresh_token"], scope="openid offline_access").get_json()
    assert narrowed["scope"] == "openid offline_access"

    response = flow.refresh(narrowed["refresh_token"])

    assert response.get_json()["scope"] == flow.full_scope


def test_refresh_token_past_its_absolute_lifetime_is_invalid_grant(flow, monkeypatch):
    first, _ = flow.tokens()
    lifetime = flow.client.application.config["DEMO_PROVIDER_REFRESH_TOKEN_TTL"]
    later = models.epoch_now() + lifetime + 1
    monkeypatch.setattr(models, "epoch_now", lambda: later)

    response = flow.refresh(first["refresh_token"])

    assert response.get_json()["error"] == "invalid_grant"


def test_recently_rotated_refresh_token_past_the_grants_absolute_lifetime_is_invalid_grant(
    flow, monkeypatch
):
    first, _ = flow.tokens()
    lifetime = flow.client.application.config["DEMO_PROVIDER_REFRESH_TOKEN_TTL"]
    start = models.epoch_now()
    monkeypatch.setattr(models, "epoch_now", lambda: start + lifetime - 10)
    rotated = flow.refresh(first["refresh_token"]).get_json()
    monkeypatch.setattr(models, "epoch_now", lambda: start + lifetime + 1)

    response = flow.refresh(rotated["refresh_token"])

    assert response.get_json()["error"] == "invalid_grant"


def test_refresh_asking_for_a_scope_never_consented_is_invalid_scope(flow):
    first, _ = flow.tokens(scope="openid offline_access")

    response = flow.refresh(first["refresh_token"], scope="openid offline_access admin")

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"


def test_access_token_presented_as_a_refresh_token_is_invalid_grant(flow):
    first, _ = flow.tokens()

    response = flow.refresh(first["access_token"])

    assert response.get_json()["error"] == "invalid_grant"


def test_refresh_token_of_a_revoked_grant_is_invalid_grant(flow):
    first, _ = flow.tokens()
    flow.revoke(first["refresh_token"])

    response = flow.refresh(first["refresh_token"])

    assert response.get_json()["error"] == "invalid_grant"

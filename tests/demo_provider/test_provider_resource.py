"""The demo provider as a resource server: userinfo and the profile API."""

from datetime import UTC, datetime, timedelta

import pytest

from demo_provider import models


def test_userinfo_returns_the_subject_and_claims_for_the_granted_scopes(flow):
    body, _ = flow.tokens(scope="openid email")

    response = flow.userinfo(body["access_token"])

    claims = response.get_json()
    assert response.status_code == 200
    assert claims["sub"]
    assert claims["email"] == "alice@example.org"
    assert "name" not in claims


def test_userinfo_accepts_post_with_bearer_header(flow):
    body, _ = flow.tokens()

    response = flow.client.post("/userinfo", headers=flow.bearer(body))

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/userinfo", "/api/profile", "/api/contacts"])
def test_token_in_the_query_string_is_ignored(flow, path):
    body, _ = flow.tokens(scope=f"{flow.full_scope} contacts.read")

    response = flow.client.get(path, query_string={"access_token": body["access_token"]})

    assert response.status_code == 401
    # RFC 6750 section 3.1: a request with no usable credentials gets a bare challenge.
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "sub" not in response.get_json()


def test_token_in_the_form_body_is_ignored(flow):
    body, _ = flow.tokens()

    response = flow.client.post("/userinfo", data={"access_token": body["access_token"]})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    ["Basic d29ya3Nob3AtYXBwOnNlY3JldA==", "Bearer", "Bearer  ", "MAC abc", "token abc"],
)
def test_authorization_header_without_a_bearer_token_is_401(flow, authorization):
    response = flow.client.get("/api/profile", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_rejects_an_unknown_token_with_invalid_token(flow):
    response = flow.userinfo("not-a-real-token")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", ["/userinfo", "/api/profile", "/api/contacts"])
@pytest.mark.parametrize("kind", ["refresh_token", "id_token"])
def test_refresh_token_or_id_token_presented_as_bearer_is_invalid_token(flow, path, kind):
    body, _ = flow.tokens()

    response = flow.client.get(path, headers={"Authorization": f"Bearer {body[kind]}"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.get_json()["error"] == "invalid_token"


def test_access_token_from_another_provider_is_invalid_token(demo_config, tmp_path, flow, flow_for):
    from demo_provider import create_app

    elsewhere = create_app(demo_config, instance_path=str(tmp_path / "elsewhere"))
    foreign, _ = flow_for(elsewhere.test_client()).tokens()

    response = flow.client.get("/api/profile", headers=flow.bearer(foreign))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_another_clients_token_is_only_as_good_as_its_scope(flow):
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(
        challenge,
        client_id=flow.other_client_id,
        redirect_uri=flow.other_redirect_uri,
        scope="openid",
    )
    flow.sign_in()
    code = flow.query(flow.decide(params).headers["Location"])["code"]
    body = flow.redeem(
        code,
        verifier,
        redirect_uri=flow.other_redirect_uri,
        client_id=flow.other_client_id,
        client_secret=flow.other_client_secret,
    ).get_json()

    assert flow.userinfo(body["access_token"]).status_code == 200
    assert flow.client.get("/api/profile", headers=flow.bearer(body)).status_code == 403


def test_revoked_access_token_is_invalid_token(flow):
    body, _ = flow.tokens()
    flow.revoke(body["access_token"])

    response = flow.userinfo(body["access_token"])

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_missing_token_gets_a_bare_bearer_challenge(flow):
    response = flow.client.get("/api/profile")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"


def test_userinfo_rejects_an_expired_access_token(flow, monkeypatch):
    body, _ = flow.tokens()
    later = models.epoch_now() + body["expires_in"] + 1
    monkeypatch.setattr(models, "epoch_now", lambda: later)

    response = flow.userinfo(body["access_token"])

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_profile_api_returns_the_live_profile(flow):
    body, _ = flow.tokens()

    response = flow.client.get("/api/profile", headers=flow.bearer(body))

    profile = response.get_json()
    assert response.status_code == 200
    assert profile["username"] == "alice"
    assert profile["name"] == "Alice Liddell"
    assert profile["email"] == "alice@example.org"
    assert profile["location"] == "Wonderland"
    assert profile["member_since"]
    fetched_at = datetime.fromisoformat(profile["fetched_at"])
    assert abs(datetime.now(UTC) - fetched_at) < timedelta(minutes=1)


def test_profile_api_without_profile_scope_is_403_insufficient_scope(flow):
    body, _ = flow.tokens(scope="openid email")

    response = flow.client.get("/api/profile", headers=flow.bearer(body))

    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == 'Bearer error="insufficient_scope", scope="profile"'


def test_userinfo_without_openid_scope_is_403_insufficient_scope(flow):
    body, _ = flow.tokens(scope="profile")

    response = flow.userinfo(body["access_token"])

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="openid"'
    )

"""The demo provider as a resource server: userinfo and the profile API."""

from datetime import UTC, datetime, timedelta

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


def test_userinfo_ignores_a_token_in_the_query_string(flow):
    body, _ = flow.tokens()

    response = flow.client.get("/userinfo", query_string={"access_token": body["access_token"]})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_rejects_an_unknown_token_with_invalid_token(flow):
    response = flow.userinfo("not-a-real-token")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_rejects_a_refresh_token_presented_as_bearer(flow):
    body, _ = flow.tokens()

    response = flow.userinfo(body["refresh_token"])

    assert response.status_code == 401


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
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]

"""The demo provider's defences, exercised over real HTTP as a client (or an attacker) would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import pytest
import requests

from tests.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
from tests.e2e.live_demo import ProviderBrowser
from tests.live_provider import query

AUTH = (CLIENT_ID, CLIENT_SECRET)


def challenge_for(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def authorize_url(issuer: str, **overrides) -> str:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email offline_access",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        **overrides,
    }
    return f"{issuer}/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def obtain_code(provider, verifier: str) -> str:
    url = authorize_url(
        provider.issuer, code_challenge=challenge_for(verifier), code_challenge_method="S256"
    )
    return query(ProviderBrowser(provider.issuer).authorize(url))["code"]


def redeem(provider, code: str, verifier: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    return requests.post(provider.issuer + "/token", data=data, auth=AUTH, timeout=10)


def refresh(provider, refresh_token: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return requests.post(provider.issuer + "/token", data=data, auth=AUTH, timeout=10)


def profile_status(provider, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.get(provider.issuer + "/api/profile", headers=headers, timeout=10).status_code


def test_an_authorization_request_without_pkce_is_refused(provider):
    callback = ProviderBrowser(provider.issuer).authorize(authorize_url(provider.issuer))
    assert callback.startswith(REDIRECT_URI)
    assert query(callback)["error"] == "invalid_request"
    assert "code" not in query(callback)


def test_a_wrong_code_verifier_is_refused(provider):
    verifier = secrets.token_urlsafe(48)
    code = obtain_code(provider, verifier)
    response = redeem(provider, code, secrets.token_urlsafe(48))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_reused_code_is_refused_and_revokes_the_tokens_it_gave(provider):
    verifier = secrets.token_urlsafe(48)
    code = obtain_code(provider, verifier)
    first = redeem(provider, code, verifier)
    assert first.status_code == 200
    access_token = first.json()["access_token"]
    assert profile_status(provider, access_token) == 200

    second = redeem(provider, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert profile_status(provider, access_token) == 401


def test_a_reused_refresh_token_revokes_the_whole_grant(provider):
    verifier = secrets.token_urlsafe(48)
    tokens = redeem(provider, obtain_code(provider, verifier), verifier).json()
    rotated = refresh(provider, tokens["refresh_token"])
    assert rotated.status_code == 200
    current = rotated.json()
    assert current["refresh_token"] != tokens["refresh_token"]

    replay = refresh(provider, tokens["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # Reuse means the token leaked: the legitimate holder's tokens die with it.
    assert refresh(provider, current["refresh_token"]).json()["error"] == "invalid_grant"
    assert profile_status(provider, current["access_token"]) == 401


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/",
        REDIRECT_URI.upper(),
        REDIRECT_URI.replace("/callback/demo", "/Callback/demo"),
        REDIRECT_URI + "?extra=1",
        REDIRECT_URI.replace("localhost", "localhost:8080"),
        REDIRECT_URI.replace("http://", "https://"),
        REDIRECT_URI.replace("localhost", "localhost@evil.example"),
        REDIRECT_URI.replace("localhost", "localhost.evil.example"),
        REDIRECT_URI + "#fragment",
    ],
)
def test_a_redirect_uri_that_is_not_an_exact_match_is_refused_without_redirecting(
    provider, redirect_uri
):
    verifier = secrets.token_urlsafe(48)
    url = authorize_url(
        provider.issuer,
        redirect_uri=redirect_uri,
        code_challenge=challenge_for(verifier),
        code_challenge_method="S256",
    )
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "Location" not in response.headers

"""The app against the demo provider with everything required at both ends: the provider
accepts only pushed authorization requests, DPoP-bound tokens (with nonces) and private_key_jwt,
and the app is set to require the same. A person signs in, sees their live profile, refreshes
twice, and deletes their account (the tokens revoked), over real HTTP.
"""

from __future__ import annotations

import pytest

from models import LinkedAccount, User
from oauth import client_keys
from tests.conftest import BASE_URL, CLIENT_ID, CLIENT_SIGNING_KEYS, REDIRECT_URI
from tests.e2e.live_demo import DemoFlow, serve_demo_provider
from tests.forms import csrf_token
from tests.live_provider import query
from tests.misbehaving import count


@pytest.fixture(scope="module")
def live_provider(tmp_path_factory):
    """A demo provider that requires PAR, DPoP with nonces and private_key_jwt of this app."""
    live, server = serve_demo_provider(
        str(tmp_path_factory.mktemp("strict-demo-provider")),
        [
            {
                "client_id": CLIENT_ID,
                "client_secret": "unused-" + "s" * 32,
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": client_keys.public_jwks(client_keys.parse(CLIENT_SIGNING_KEYS)),
                "redirect_uris": [REDIRECT_URI],
                "post_logout_redirect_uris": [f"{BASE_URL}/logout/complete"],
                "client_name": "Flask Sign-in Reference App",
                "scope": "openid profile email offline_access",
            }
        ],
        {
            "DEMO_PROVIDER_REQUIRE_PAR": True,
            "DEMO_PROVIDER_REQUIRE_DPOP": True,
            "DEMO_PROVIDER_REQUIRE_DPOP_NONCE": True,
            "DEMO_PROVIDER_REQUIRE_PRIVATE_KEY_JWT": True,
        },
    )
    yield live
    server.stop()


@pytest.fixture
def app_overrides():
    return {
        "DEMO_CLIENT_AUTH": "private_key_jwt",
        "DEMO_CLIENT_SECRET": None,
        "DEMO_PAR": "required",
        "DEMO_DPOP": "required",
        "CLIENT_SIGNING_KEYS": CLIENT_SIGNING_KEYS,
    }


@pytest.fixture
def flow(client, provider):
    return DemoFlow(client, provider)


def test_sign_in_refresh_and_delete_with_everything_required(flow, client, app, provider):
    authorization_url = flow.start()
    assert set(query(authorization_url)) == {"client_id", "request_uri"}
    assert client.get(flow.authorize(authorization_url)).headers["Location"] == "/profile"
    assert "Alice Liddell" in client.get("/profile").get_data(as_text=True)

    for _ in range(2):
        page = client.get("/profile").get_data(as_text=True)
        answer = client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})
        assert answer.status_code == 303
        assert "access token was refreshed" in client.get("/profile").get_data(as_text=True)

    token_requests = provider.recorder.calls("/token")
    assert token_requests
    assert all(request.dpop for request in token_requests)
    assert all("client_assertion" in request.form for request in token_requests)
    assert all(request.authorization is None for request in token_requests)

    page = client.get("/profile").get_data(as_text=True)
    client.post("/profile/delete", data={"csrf_token": csrf_token(page), "confirm": "yes"})
    assert count(app, User) == 0
    assert count(app, LinkedAccount) == 0
    assert provider.recorder.calls("/revoke")

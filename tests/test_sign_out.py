"""Signing out: here only, or here and at the provider (OpenID Connect RP-Initiated Logout)."""

from __future__ import annotations

from tests.conftest import BASE_URL, CLIENT_ID
from tests.forms import csrf_token
from tests.live_provider import query


def sign_out(client, **data):
    page = client.get("/profile").get_data(as_text=True)
    return client.post("/logout", data={"csrf_token": csrf_token(page), **data})


def test_the_profile_offers_to_sign_out_at_the_provider_too(flow, client):
    flow.sign_in("alice")
    assert "Sign out here and at Demo Provider" in client.get("/profile").get_data(as_text=True)


def test_signing_out_at_the_provider_sends_the_browser_there_with_a_hint_and_state(flow, client):
    flow.sign_in("alice")
    response = sign_out(client, provider="demo")

    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(flow.provider.issuer + "/end-session?")
    params = query(location)
    assert params["client_id"] == CLIENT_ID
    assert params["post_logout_redirect_uri"] == f"{BASE_URL}/logout/complete"
    assert params["id_token_hint"].count(".") == 2
    assert len(params["state"]) >= 32
    assert client.get("/profile").status_code == 302


def test_the_provider_session_ends_and_the_browser_comes_back(flow, client):
    flow.sign_in("alice")
    end_session = sign_out(client, provider="demo").headers["Location"]

    back = flow.browser.http.get(end_session, allow_redirects=False, timeout=10)
    assert back.status_code == 303
    assert back.headers["Location"].startswith(f"{BASE_URL}/logout/complete?state=")

    final = client.get(back.headers["Location"], follow_redirects=True)
    assert "You are signed out here and at the provider" in final.get_data(as_text=True)
    # At the provider, the next sign-in asks for the password again.
    next_authorization = flow.browser.http.get(flow.start(), allow_redirects=False, timeout=10)
    assert "/login" in next_authorization.headers["Location"]


def test_a_return_with_a_forged_state_claims_nothing(flow, client):
    flow.sign_in("alice")
    sign_out(client, provider="demo")
    final = client.get("/logout/complete?state=forged", follow_redirects=True)
    text = final.get_data(as_text=True)
    assert "You are signed out." in text
    assert "and at the provider" not in text


def test_plain_sign_out_stays_here(flow, client):
    flow.sign_in("alice")
    response = sign_out(client)
    assert response.headers["Location"] == "/"
    assert flow.provider.recorder.calls("/end-session") == []


def test_signing_out_at_an_unlinked_provider_signs_out_here_only(flow, client):
    flow.sign_in("alice")
    response = sign_out(client, provider="github")
    assert response.headers["Location"] == "/"
    assert client.get("/profile").status_code == 302

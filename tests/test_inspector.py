"""The flow inspector: each step of this browser's sign-in, refreshes and API calls, redacted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import tokens
from extensions import db
from models import LinkedAccount, utcnow
from tests.conftest import CLIENT_ID, REDIRECT_URI, client_config
from tests.live_provider import query


def inspector(client) -> str:
    response = client.get("/inspector")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_inspector_shows_every_step_of_the_sign_in(flow, client):
    authorization_url = flow.start()
    params = query(authorization_url)
    client.get(flow.authorize(authorization_url))
    page = inspector(client)

    for role in ("Resource owner", "Client", "Authorization server", "Resource server"):
        assert role in page
    # The authorization request, as sent.
    for value in (
        CLIENT_ID,
        REDIRECT_URI,
        params["state"],
        params["nonce"],
        params["code_challenge"],
    ):
        assert value in page
    assert "S256" in page
    # The token request and response.
    assert "authorization_code" in page
    assert "client_secret_basic" in page
    assert "sent (redacted)" in page
    assert "Bearer" in page
    # The ID token's checks and the API call.
    assert "RS256" in page
    for check in ("check signature", "check iss", "check aud", "check exp", "check nonce"):
        assert check in page
    assert "GET " + flow.provider.issuer + "/userinfo" in page
    assert "200 OK" in page


def test_the_inspector_never_shows_a_secret(flow, client, app, provider):
    authorization_url = flow.start()
    callback_url = flow.authorize(authorization_url)
    client.get(callback_url)
    client.get("/profile")
    page = inspector(client)

    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        secrets = [
            tokens.decrypt(link.access_token_ciphertext),
            tokens.decrypt(link.refresh_token_ciphertext),
            tokens.decrypt(link.id_token_ciphertext),
        ]
    secrets.append(query(callback_url)["code"])
    secrets.append(
        provider.recorder.token_requests("authorization_code")[0].form["code_verifier"][0]
    )
    assert [secret for secret in secrets if secret in page] == []


def test_a_refresh_shows_up_with_its_reason(flow, client, app):
    flow.sign_in("alice")
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        link.expires_at = utcnow() + timedelta(seconds=10)
        db.session.commit()
    client.get("/profile")
    page = inspector(client)
    assert "refresh it first" in page
    assert "refresh_token" in page
    assert "a new one (rotation)" in page


def test_each_browser_sees_only_its_own_flow(flow, app):
    flow.sign_in("alice")
    assert "Nothing recorded yet" in inspector(app.test_client())


def test_the_inspector_is_off_in_production(tmp_path, provider):
    from app import create_app

    app = create_app(
        client_config(
            tmp_path, provider.issuer, APP_ENV="production", BASE_URL="https://app.example"
        )
    )
    assert app.test_client().get("https://app.example/inspector").status_code == 404


def test_the_profile_links_to_the_inspector(flow, client):
    flow.sign_in("alice")
    assert 'href="/inspector"' in client.get("/profile").get_data(as_text=True)

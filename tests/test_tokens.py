"""The token vault: encryption at rest, refresh before the API call, rotation, and failures."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from accounts import tokens
from extensions import db
from models import LinkedAccount, LinkStatus, utcnow
from tests.forms import csrf_token


def the_link(app) -> LinkedAccount:
    return db.session.scalars(select(LinkedAccount)).one()


def stored_tokens(app) -> dict[str, str | None]:
    with app.app_context():
        link = the_link(app)
        return {
            "access": tokens.decrypt(link.access_token_ciphertext),
            "refresh": tokens.decrypt(link.refresh_token_ciphertext),
            "id": tokens.decrypt(link.id_token_ciphertext),
        }


def expire_access_token(app) -> None:
    with app.app_context():
        link = the_link(app)
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def bearer(recorded) -> str:
    scheme, _, value = recorded.authorization.partition(" ")
    assert scheme == "Bearer"
    return value


def test_tokens_are_not_in_clear_in_the_database_file(flow, app):
    flow.sign_in("alice")
    secrets = stored_tokens(app)
    raw = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).read_bytes()
    for value in secrets.values():
        assert value
        assert value.encode() not in raw


def test_profile_uses_the_stored_token_while_it_is_fresh(flow, provider, client, app):
    flow.sign_in("alice")
    provider.recorder.clear()
    client.get("/profile")
    assert provider.recorder.token_requests("refresh_token") == []
    (api_call,) = provider.recorder.calls("/api/profile")
    assert bearer(api_call) == stored_tokens(app)["access"]


def test_an_expired_access_token_is_refreshed_once_before_the_api_call(flow, provider, client, app):
    flow.sign_in("alice")
    old = stored_tokens(app)
    expire_access_token(app)
    provider.recorder.clear()

    page = client.get("/profile")

    assert "Wonderland" in page.get_data(as_text=True)
    calls = [(r.path, r.form.get("grant_type")) for r in provider.recorder.requests]
    assert calls == [("/token", ["refresh_token"]), ("/api/profile", None)]
    (refresh,) = provider.recorder.token_requests("refresh_token")
    assert refresh.form["refresh_token"] == [old["refresh"]]
    new = stored_tokens(app)
    assert new["access"] != old["access"]
    assert bearer(provider.recorder.calls("/api/profile")[0]) == new["access"]
    with app.app_context():
        assert the_link(app).refreshed_at is not None


def test_the_page_that_refreshed_shows_the_new_tokens_status(flow, client, app):
    # The page read the link before the refresh: what it shows is what the refresh wrote.
    flow.sign_in("alice")
    expire_access_token(app)

    page = client.get("/profile").get_data(as_text=True)

    with app.app_context():
        refreshed = the_link(app)
        expected = {
            "Access token expires": refreshed.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "Last refreshed": refreshed.refreshed_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        }
    for label, value in expected.items():
        assert f"<dt>{label}</dt><dd>{value}</dd>" in page


def test_a_token_within_the_leeway_is_refreshed_too(flow, provider, client, app):
    flow.sign_in("alice")
    with app.app_context():
        link = the_link(app)
        link.expires_at = utcnow() + timedelta(seconds=app.config["TOKEN_REFRESH_LEEWAY"] - 5)
        db.session.commit()
    provider.recorder.clear()
    client.get("/profile")
    assert len(provider.recorder.token_requests("refresh_token")) == 1


def test_a_token_shorter_lived_than_the_leeway_is_not_refreshed_on_every_view(
    flow, provider, client, app
):
    # The provider issues 8-second access tokens; the leeway is 60 s.
    provider.recorder.rewrite("/token", lambda body: {**body, "expires_in": 8}, times=None)
    flow.sign_in("alice")
    provider.recorder.requests.clear()

    for _ in range(10):
        assert "Wonderland" in client.get("/profile").get_data(as_text=True)
    assert provider.recorder.token_requests("refresh_token") == []

    # Within half its lifetime of expiry, it is refreshed, once.
    with app.app_context():
        link = the_link(app)
        link.expires_at = utcnow() + timedelta(seconds=3)
        db.session.commit()
    for _ in range(3):
        client.get("/profile")
    assert len(provider.recorder.token_requests("refresh_token")) == 1


def test_an_absurd_expires_in_is_taken_as_a_long_lifetime(flow, provider, client, app):
    provider.recorder.rewrite("/token", lambda body: {**body, "expires_in": 10**30})
    assert flow.sign_in("alice").status_code == 303
    assert "Wonderland" in client.get("/profile").get_data(as_text=True)
    with app.app_context():
        assert the_link(app).expires_at > utcnow() + timedelta(days=365)


def test_rotated_refresh_tokens_are_followed_and_never_sent_twice(flow, provider, client, app):
    flow.sign_in("alice")
    provider.recorder.clear()
    for _ in range(5):
        expire_access_token(app)
        assert "Wonderland" in client.get("/profile").get_data(as_text=True)

    sent = [r.form["refresh_token"][0] for r in provider.recorder.token_requests("refresh_token")]
    assert len(sent) == 5
    assert len(set(sent)) == 5
    # The grant is still alive: the provider never saw a retired refresh token.
    assert "Reconnect needed" not in client.get("/profile").get_data(as_text=True)


def test_the_old_refresh_token_is_kept_when_none_comes_back(app):
    with app.app_context():
        link = LinkedAccount(provider="demo", subject="s", user_id=None)
        link.refresh_token_ciphertext = tokens.encrypt("kept-refresh-token")
        tokens.store(link, {"access_token": "new-access", "token_type": "Bearer", "expires_in": 60})
        assert tokens.decrypt(link.refresh_token_ciphertext) == "kept-refresh-token"
        assert tokens.decrypt(link.access_token_ciphertext) == "new-access"


def test_a_revoked_grant_turns_into_a_reconnect_prompt(flow, provider, client, app):
    flow.sign_in("alice")
    refresh_token = stored_tokens(app)["refresh"]
    # The resource owner (or an admin) revokes the grant at the provider.
    flow.browser.http.post(
        provider.issuer + "/revoke",
        data={"token": refresh_token, "token_type_hint": "refresh_token"},
        auth=("reference-app", "s3cret:with%odd+chars/="),
        timeout=10,
    )
    expire_access_token(app)

    page = client.get("/profile")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Reconnect needed" in text
    assert "Reconnect Demo Provider" in text
    with app.app_context():
        link = the_link(app)
        assert link.status == LinkStatus.RECONNECT_NEEDED
        assert link.access_token_ciphertext is None
        assert link.refresh_token_ciphertext is None


def test_reconnecting_restores_the_link(flow, provider, client, app):
    flow.sign_in("alice")
    with app.app_context():
        tokens.mark_reconnect_needed(the_link(app))
    assert "Reconnect needed" in client.get("/profile").get_data(as_text=True)

    flow.sign_in("alice")
    text = client.get("/profile").get_data(as_text=True)
    assert "Reconnect needed" not in text
    assert "Wonderland" in text


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_provider_outage_during_refresh_keeps_the_stored_tokens(
    flow, provider, client, app, status
):
    flow.sign_in("alice")
    expire_access_token(app)
    before = stored_tokens(app)
    provider.recorder.fail("/token", status, {"error": "temporarily_unavailable"})

    page = client.get("/profile")

    assert page.status_code == 200
    assert "Unavailable" in page.get_data(as_text=True)
    assert "Please try again in a minute" in page.get_data(as_text=True)
    # A token request is never retried: it may have spent a single-use refresh token.
    assert len(provider.recorder.token_requests("refresh_token")) == 1
    assert stored_tokens(app) == before
    with app.app_context():
        assert the_link(app).status == LinkStatus.CONNECTED
    # Once the provider is back, the same refresh token still works.
    assert "Wonderland" in client.get("/profile").get_data(as_text=True)


def test_an_api_401_on_a_fresh_token_refreshes_once_and_retries(flow, provider, client, app):
    flow.sign_in("alice")
    provider.recorder.clear()
    provider.recorder.fail("/api/profile", 401, {"error": "invalid_token"})

    text = client.get("/profile").get_data(as_text=True)

    assert "Wonderland" in text
    assert len(provider.recorder.token_requests("refresh_token")) == 1
    assert len(provider.recorder.calls("/api/profile")) == 2


def test_a_tampered_ciphertext_means_reconnect_not_an_error(flow, client, app):
    flow.sign_in("alice")
    with app.app_context():
        link = the_link(app)
        link.access_token_ciphertext = link.access_token_ciphertext[:-4] + b"AAAA"
        db.session.commit()
    page = client.get("/profile")
    assert page.status_code == 200
    assert "Reconnect needed" in page.get_data(as_text=True)


def test_tokens_decrypt_with_an_older_key_after_rotation(app):
    from cryptography.fernet import Fernet

    with app.app_context():
        ciphertext = tokens.encrypt("a token")
    old_key = app.config["TOKEN_ENCRYPTION_KEYS"]
    app.config["TOKEN_ENCRYPTION_KEYS"] = f"{Fernet.generate_key().decode()},{old_key}"
    tokens.init_app(app)
    with app.app_context():
        assert tokens.decrypt(ciphertext) == "a token"


def test_concurrent_profile_views_with_an_expired_token_refresh_once(flow, provider, app):
    flow.sign_in("alice")
    expire_access_token(app)
    provider.recorder.clear()
    session_cookie = flow.client.get_cookie("session").value
    barrier = threading.Barrier(10)

    def view_profile() -> str:
        browser = app.test_client()
        browser.set_cookie("session", session_cookie)
        barrier.wait(timeout=10)
        return browser.get("/profile").get_data(as_text=True)

    with ThreadPoolExecutor(max_workers=10) as pool:
        pages = list(pool.map(lambda _: view_profile(), range(10)))

    assert len(provider.recorder.token_requests("refresh_token")) == 1
    assert all("Wonderland" in page and "Reconnect needed" not in page for page in pages)
    new_token = stored_tokens(app)["access"]
    assert {bearer(call) for call in provider.recorder.calls("/api/profile")} == {new_token}


def test_an_api_gateway_error_is_retried_once(flow, provider, client):
    flow.sign_in("alice")
    provider.recorder.clear()
    provider.recorder.fail("/api/profile", 503, {"error": "temporarily_unavailable"})

    assert "Wonderland" in client.get("/profile").get_data(as_text=True)
    assert len(provider.recorder.calls("/api/profile")) == 2


def test_a_provider_that_keeps_failing_is_not_retried_without_end(flow, provider, client):
    flow.sign_in("alice")
    provider.recorder.clear()
    provider.recorder.fail("/api/profile", 503, {"error": "temporarily_unavailable"}, times=10)

    assert "Unavailable" in client.get("/profile").get_data(as_text=True)
    assert len(provider.recorder.calls("/api/profile")) == 3


def test_an_api_answer_that_redirects_is_not_followed_with_the_token(flow, provider, client):
    flow.sign_in("alice")
    provider.recorder.clear()
    elsewhere = provider.issuer + "/elsewhere"
    provider.recorder.fail("/api/profile", 302, "", headers={"Location": elsewhere})

    page = client.get("/profile")

    assert page.status_code == 200
    assert "Unavailable" in page.get_data(as_text=True)
    # The token went where it was meant to go, once, and nowhere else.
    assert len(provider.recorder.calls("/api/profile")) == 1
    assert provider.recorder.calls("/elsewhere") == []


def test_refresh_now_refreshes_and_says_so(flow, provider, client, app):
    flow.sign_in("alice")
    before = stored_tokens(app)
    provider.recorder.clear()
    page = client.get("/profile").get_data(as_text=True)

    response = client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})

    assert response.status_code == 303
    assert "access token was refreshed" in client.get("/profile").get_data(as_text=True)
    assert len(provider.recorder.token_requests("refresh_token")) == 1
    assert stored_tokens(app)["refresh"] != before["refresh"]


def test_refresh_now_for_a_provider_unlinked_meanwhile_says_so_on_the_profile(flow, client, app):
    flow.sign_in("alice")
    page = client.get("/profile").get_data(as_text=True)
    with app.app_context():  # unlinked in another tab, after this page was shown
        db.session.execute(db.delete(LinkedAccount))
        db.session.commit()
    response = client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert "Demo Provider is not linked to your account." in client.get("/profile").get_data(
        as_text=True
    )
    unknown = client.post("/profile/refresh/nope", data={"csrf_token": csrf_token(page)})
    assert unknown.status_code == 404

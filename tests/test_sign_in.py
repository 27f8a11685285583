"""Signing in with the demo provider end to end, over real HTTP between the app and the provider."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import unquote

from sqlalchemy import func, select

import accounts
from accounts import sessions
from extensions import db
from models import LinkedAccount, LoginAttempt, User, UserSession
from tests.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
from tests.forms import csrf_token
from tests.live_provider import query


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_home_page_invites_to_sign_in(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "Sign in" in page.get_data(as_text=True)


def test_login_page_offers_only_the_demo_provider_without_configuration(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Demo Provider" in page
    assert page.count('class="provider-form"') == 1


def test_sign_in_start_sends_an_authorization_code_request_with_pkce_state_and_nonce(
    flow, provider
):
    url = flow.start()
    assert url.startswith(provider.issuer + "/authorize?")
    params = query(url)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["scope"].split() == ["openid", "profile", "email", "offline_access"]
    assert params["code_challenge_method"] == "S256"
    # base64url of a SHA-256 digest, unpadded: 43 characters.
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43
    assert len(params["nonce"]) >= 43


def test_each_sign_in_start_uses_fresh_state_nonce_and_challenge(flow):
    first, second = query(flow.start()), query(flow.start())
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name]


def test_sign_in_start_without_csrf_token_is_refused(client, provider):
    response = client.post("/login/demo")
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert provider.recorder.requests == []


def test_sign_in_start_by_get_is_not_allowed(client):
    assert client.get("/login/demo").status_code == 405


def test_sign_in_with_an_unknown_provider_is_not_found(client):
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login/nope", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 404


def test_full_sign_in_lands_on_the_profile_with_live_provider_data(flow, provider, client):
    response = flow.sign_in("alice")
    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"

    page = client.get("/profile")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Alice Liddell" in text
    # Only the provider's profile API has these: the page made a live call with the token.
    assert "Wonderland" in text
    assert "Fetched from the provider at" in text
    assert "offline_access" in text
    assert len(provider.recorder.calls("/api/profile", "GET")) == 1


def test_code_is_redeemed_with_the_pkce_verifier_and_client_secret_basic(flow, provider):
    authorization_url = flow.start()
    challenge = query(authorization_url)["code_challenge"]
    flow.client.get(flow.authorize(authorization_url))

    (token_request,) = provider.recorder.token_requests("authorization_code")
    verifier = token_request.form["code_verifier"][0]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge
    assert token_request.form["redirect_uri"] == [REDIRECT_URI]
    assert "client_secret" not in token_request.form
    scheme, credentials = token_request.authorization.split()
    user, _, password = base64.b64decode(credentials).decode().partition(":")
    assert scheme == "Basic"
    assert (unquote(user), unquote(password)) == (CLIENT_ID, CLIENT_SECRET)


def test_callback_response_leaks_no_code_or_state(flow):
    callback_url = flow.authorize(flow.start())
    response = flow.client.get(callback_url)
    assert "code=" not in response.headers["Location"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_consent_denied_shows_a_friendly_page_and_stores_nothing(flow, provider, app):
    callback_url = flow.authorize(flow.start(), decision="Deny")
    assert query(callback_url)["error"] == "access_denied"

    response = flow.client.get(callback_url)
    assert response.status_code == 400
    assert "You cancelled sign-in with Demo Provider" in response.get_data(as_text=True)
    assert provider.recorder.calls("/token") == []
    assert count(app, User) == 0
    assert flow.client.get("/profile").status_code == 302


def test_callback_without_state_is_refused_before_any_token_request(flow, provider, app):
    callback_url = flow.authorize(flow.start())
    code = query(callback_url)["code"]
    response = flow.client.get(f"/callback/demo?code={code}")
    assert response.status_code == 400
    assert "not started in this browser" in response.get_data(as_text=True)
    assert provider.recorder.calls("/token") == []
    assert count(app, User) == 0


def test_callback_with_a_wrong_state_is_refused(flow, provider, app):
    callback_url = flow.authorize(flow.start())
    response = flow.client.get(callback_url.replace("state=", "state=x"))
    assert response.status_code == 400
    assert provider.recorder.calls("/token") == []
    assert count(app, LinkedAccount) == 0


def test_replayed_callback_is_refused(flow, provider):
    callback_url = flow.authorize(flow.start())
    assert flow.client.get(callback_url).status_code == 303

    replay = flow.client.get(callback_url)
    assert replay.status_code == 400
    assert len(provider.recorder.token_requests("authorization_code")) == 1


def test_callback_with_a_state_from_another_browser_is_refused(app, flow, provider):
    # The attacker starts a sign-in in their own browser and lures the victim to the callback.
    attacker = flow.authorize(flow.start())
    victim = app.test_client()
    response = victim.get(attacker)
    assert response.status_code == 400
    assert provider.recorder.calls("/token") == []


def test_a_login_started_for_one_provider_cannot_finish_at_another_callback(flow, provider):
    callback_url = flow.authorize(flow.start())
    response = flow.client.get(callback_url.replace("/callback/demo", "/callback/other"))
    assert response.status_code == 404
    assert provider.recorder.calls("/token") == []


def test_callback_with_a_wrong_issuer_is_refused_before_the_token_request(flow, provider):
    callback_url = flow.authorize(flow.start())
    response = flow.client.get(callback_url.replace("iss=", "iss=https%3A%2F%2Fevil.example%2F"))
    assert response.status_code == 400
    assert "iss_mismatch" in response.get_data(as_text=True)
    assert provider.recorder.calls("/token") == []


def test_callback_with_a_duplicated_code_is_refused(flow, provider):
    callback_url = flow.authorize(flow.start())
    response = flow.client.get(callback_url + "&code=other")
    assert response.status_code == 400
    assert provider.recorder.calls("/token") == []


def test_two_tabs_can_sign_in_at_once(flow, app):
    first_tab, second_tab = flow.start(), flow.start()
    first_callback = flow.authorize(first_tab)
    second_callback = flow.authorize(second_tab)
    assert flow.client.get(second_callback).status_code == 303
    assert flow.client.get(first_callback).status_code == 303
    assert count(app, User) == 1


def test_expired_sign_in_attempt_is_refused(flow, provider, app):
    callback_url = flow.authorize(flow.start())
    with app.app_context():
        attempt = db.session.scalars(select(LoginAttempt)).one()
        attempt.expires_at = attempt.created_at
        db.session.commit()
    response = flow.client.get(callback_url)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert provider.recorder.calls("/token") == []


def test_pending_sign_ins_per_browser_are_capped_and_the_cookie_stays_small(flow, app):
    for _ in range(50):
        flow.start()
    assert count(app, LoginAttempt) == app.config["MAX_PENDING_LOGINS"]
    assert len(flow.client.get_cookie("session").value) < 1024


def test_a_second_sign_in_reuses_the_same_user_and_updates_the_tokens(flow, app):
    flow.sign_in("alice")
    with app.app_context():
        first_token = db.session.scalars(select(LinkedAccount.access_token_ciphertext)).one()
    flow.sign_in("alice")
    with app.app_context():
        assert count(app, User) == 1
        assert (
            db.session.scalars(select(LinkedAccount.access_token_ciphertext)).one() != first_token
        )


def test_different_provider_users_become_different_users(flow, app, client):
    flow.sign_in("alice")
    flow.browser.http.cookies.clear()
    flow.sign_in("bob")
    assert count(app, User) == 2
    assert "Bob the Builder" in client.get("/profile").get_data(as_text=True)


def test_sign_in_renews_the_session(flow):
    flow.client.get("/login")
    with flow.client.session_transaction() as session:
        session["planted"] = "by an attacker"
    flow.sign_in("alice")
    with flow.client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id")


def test_sign_in_returns_to_a_same_site_next_page(flow):
    response = flow.sign_in("alice", next_url="/profile?tab=tokens")
    assert response.headers["Location"] == "/profile?tab=tokens"


def test_sign_in_ignores_a_next_that_leaves_the_site(flow):
    response = flow.sign_in("alice", next_url="//evil.example/")
    assert response.headers["Location"] == "/profile"


def test_logout_signs_the_user_out(flow, client):
    flow.sign_in("alice")
    page = client.get("/profile").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert client.get("/profile").status_code == 302


def test_logout_by_get_is_not_allowed(client):
    assert client.get("/logout").status_code == 405


def test_logout_without_csrf_token_is_refused(flow, client):
    flow.sign_in("alice")
    assert client.post("/logout").status_code == 400
    assert client.get("/profile").status_code == 200


def test_profile_requires_sign_in(client):
    response = client.get("/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fprofile"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Please sign in to see that page." in page


def test_an_action_posted_after_the_session_ended_leads_to_sign_in_without_next(flow, client, app):
    flow.sign_in("alice")
    page = client.get("/profile").get_data(as_text=True)
    with app.app_context():  # ended elsewhere (another tab's "sign out all other sessions")
        sessions.end(db.session.scalars(select(UserSession)).one())
    answer = client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login"


def test_a_session_cookie_copied_before_sign_out_is_worthless_after_it(flow, client, app):
    flow.sign_in("alice")
    stolen = client.get_cookie("session").value
    page = client.get("/profile").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(page)})

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/profile").status_code == 302


def test_no_remember_me_cookie_is_ever_set(flow, client):
    flow.sign_in("alice")
    assert client.get_cookie("remember_token") is None


def test_the_signed_in_read_holds_no_transaction_and_later_writes_still_commit(flow, app):
    flow.sign_in("alice")
    with app.app_context():
        key = db.session.execute(select(UserSession.key)).scalar_one()
        db.session.remove()  # a new request's session

        user = accounts.load_user(key)

        # Read and done: no transaction (and no connection) held while the page calls the
        # provider, and the user and links stay usable.
        assert not db.session().in_transaction()
        assert [link.provider for link in user.linked_accounts] == ["demo"]
        # A write later in the request begins its own transaction, and it commits.
        sessions.end(user.current_session)
        db.session.remove()
        assert accounts.load_user(key) is None


def test_the_signed_in_read_joins_a_transaction_the_request_already_began(flow, app):
    flow.sign_in("alice")
    with app.app_context():
        stored = db.session.execute(select(UserSession)).scalar_one()
        stored.user.display_name = "Alice, renamed in this transaction"
        db.session.flush()  # written, not committed

        user = accounts.load_user(stored.key)

        # Read inside that transaction (it sees the change no other connection can see yet),
        # and left open for the code that began it, which will commit or roll back itself.
        assert user.display_name == "Alice, renamed in this transaction"
        assert db.session().in_transaction()

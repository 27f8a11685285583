"""Linking several providers to one account, the rules that protect it, unlink and deletion."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from extensions import db
from models import LinkedAccount, User
from tests.conftest import Flow
from tests.forms import csrf_token
from tests.misbehaving import MisbehavingProvider


@pytest.fixture(autouse=True)
def app_overrides(corp_env):
    # "corp" comes from the environment: drop the test default that would override it.
    return {"OIDC_PROVIDERS": None}


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def post(client, path: str, **data):
    page = client.get("/profile").get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(page), **data})


def start_link(flow, provider_name: str) -> str:
    response = post(flow.client, f"/profile/link/{provider_name}")
    assert response.status_code == 303
    return response.headers["Location"]


def link(flow, provider_name: str, username: str = "alice"):
    return flow.client.get(flow.authorize(start_link(flow, provider_name), username))


def test_the_profile_offers_to_link_the_other_providers(flow, client):
    flow.sign_in("alice")
    page = client.get("/profile").get_data(as_text=True)
    assert "Link Corp SSO" in page
    assert "Link Demo Provider" not in page


def test_a_user_can_link_a_second_provider(flow, client, app):
    flow.sign_in("alice")
    response = link(flow, "corp")
    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"

    page = client.get("/profile").get_data(as_text=True)
    assert "Corp SSO is linked to your account" in page
    assert page.count('class="badge badge-connected"') == 2
    assert rows(app, User) == 1
    assert rows(app, LinkedAccount) == 2


def test_two_links_and_two_sessions_each_show_once(flow, client, app, provider):
    # The signed-in read returns a row per pair of a link and a live session: four here.
    flow.sign_in("alice")
    link(flow, "corp")
    assert Flow(app.test_client(), provider).sign_in("alice").status_code == 303

    page = client.get("/profile").get_data(as_text=True)

    assert page.count('class="badge badge-connected"') == 2
    assert page.count('<li class="session">') == 2
    assert page.count("This session") == 1
    assert page.index('id="link-demo"') < page.index('id="link-corp"')  # oldest link first


def test_either_linked_provider_signs_in_to_the_same_account(flow, client, app):
    flow.sign_in("alice")
    link(flow, "corp")
    post(client, "/logout")

    flow.client.get(flow.authorize(flow.start("corp")))
    assert client.get("/profile").status_code == 200
    assert rows(app, User) == 1


def test_linking_an_identity_that_belongs_to_another_user_is_refused(
    flow, client, app, corp_issuer
):
    flow.sign_in("bob")
    assert link(flow, "corp", "bob").status_code == 303
    post(client, "/logout")
    flow.browser.http.cookies.clear()

    flow.sign_in("alice")
    # At the corp issuer, Bob signs in again in this browser (say, on a shared computer).
    flow.browser_for(corp_issuer.issuer).http.cookies.clear()
    response = link(flow, "corp", "bob")

    assert response.status_code == 409
    assert "already linked to another account" in response.get_data(as_text=True)
    with app.app_context():
        owners = db.session.execute(
            select(LinkedAccount.provider, User.display_name).join(User)
        ).all()
    assert sorted(owners) == [
        ("corp", "Bob the Builder"),
        ("demo", "Alice Liddell"),
        ("demo", "Bob the Builder"),
    ]


def test_a_new_identity_with_a_known_email_is_not_merged_or_created(flow, app):
    flow.sign_in("alice")
    stranger = app.test_client()

    response = stranger.get(flow.authorize(_start_in(stranger, "corp")))

    text = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Sign in the way you did before, then link Corp SSO" in text
    assert rows(app, User) == 1
    assert rows(app, LinkedAccount) == 1
    assert stranger.get("/profile").status_code == 302


def test_an_unverified_email_cannot_lock_its_real_owner_out(flow, app, provider):
    # An attacker types alice's address, unverified, into their account at the demo provider
    # and signs in here first.
    misbehave = MisbehavingProvider(provider)
    claims = {"email": "alice@example.org", "email_verified": False}
    misbehave.id_token_claims(**claims)
    misbehave.userinfo(lambda userinfo: {**userinfo, **claims})
    assert flow.sign_in("bob").status_code == 303
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == [None]
        assert db.session.scalars(select(LinkedAccount.email)).all() == [None]

    # Alice, whose address Corp SSO has verified, signs in for the first time.
    alice = app.test_client()
    response = alice.get(flow.authorize(_start_in(alice, "corp"), "alice"))

    assert response.status_code == 303, response.get_data(as_text=True)
    assert rows(app, User) == 2
    with app.app_context():
        assert "alice@example.org" in db.session.scalars(select(User.email)).all()


def _start_in(client, provider_name: str) -> str:
    page = client.get("/login").get_data(as_text=True)
    return client.post(f"/login/{provider_name}", data={"csrf_token": csrf_token(page)}).headers[
        "Location"
    ]


def test_a_link_started_by_one_user_cannot_finish_in_another_users_session(
    flow, client, app, corp_issuer
):
    flow.sign_in("alice")
    alice_link_url = start_link(flow, "corp")
    # Someone else signs in on the same browser before the link completes.
    flow.browser.http.cookies.clear()
    flow.sign_in("bob")

    response = client.get(flow.authorize(alice_link_url, "alice"))

    assert response.status_code == 400
    assert "link_user_mismatch" in response.get_data(as_text=True)
    assert corp_issuer.recorder.token_requests("authorization_code") == []
    with app.app_context():
        assert db.session.scalars(select(LinkedAccount.provider)).all() == ["demo", "demo"]


def test_the_reconnect_button_restores_a_link_for_the_same_user(flow, client, app):
    from accounts import tokens

    flow.sign_in("alice")
    with app.app_context():
        tokens.mark_reconnect_needed(db.session.scalars(select(LinkedAccount)).one())
    assert "Reconnect Demo Provider" in client.get("/profile").get_data(as_text=True)

    response = flow.client.get(flow.authorize(start_link(flow, "demo")))

    assert response.status_code == 303
    page = client.get("/profile").get_data(as_text=True)
    assert "Reconnect needed" not in page
    assert "Wonderland" in page


def test_unlink_removes_the_link_and_revokes_its_tokens(flow, client, app, provider):
    flow.sign_in("alice")
    link(flow, "corp")
    provider.recorder.clear()

    response = post(client, "/profile/unlink/demo")

    assert response.status_code == 303
    assert "Demo Provider is no longer linked" in client.get("/profile").get_data(as_text=True)
    revocations = provider.recorder.calls("/revoke", "POST")
    assert [r.form["token_type_hint"] for r in revocations] == [["refresh_token"], ["access_token"]]
    with app.app_context():
        assert db.session.scalars(select(LinkedAccount.provider)).all() == ["corp"]


def test_unlinking_the_account_that_gave_the_address_takes_it_away(flow, client, app):
    flow.sign_in("alice")
    link(flow, "corp", "bob")  # bob's address is not verified: this link vouches for none
    post(client, "/profile/unlink/demo")
    assert "alice@example.org" not in client.get("/profile").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(User.email)).one() is None


def test_unlink_deletes_the_tokens_even_when_the_provider_is_down(flow, client, app, corp_issuer):
    flow.sign_in("alice")
    link(flow, "corp")
    corp_issuer.recorder.fail("/revoke", 503, times=2)

    assert post(client, "/profile/unlink/corp").status_code == 303
    assert len(corp_issuer.recorder.calls("/revoke")) == 1
    assert rows(app, LinkedAccount) == 1


def test_the_last_sign_in_method_cannot_be_unlinked(flow, client, app):
    flow.sign_in("alice")
    response = post(client, "/profile/unlink/demo")
    assert response.status_code == 303
    page = client.get("/profile").get_data(as_text=True)
    assert "your only way to sign in" in page
    assert "You can delete your account instead" in page
    assert rows(app, LinkedAccount) == 1


def test_unlinking_a_provider_that_is_not_linked_says_so(flow, client, app):
    flow.sign_in("alice")
    response = post(client, "/profile/unlink/corp")
    assert response.status_code == 303
    assert "Corp SSO is not linked to your account" in client.get("/profile").get_data(as_text=True)
    assert rows(app, LinkedAccount) == 1


def test_unlinking_a_provider_that_does_not_exist_is_not_found(flow, client):
    flow.sign_in("alice")
    assert post(client, "/profile/unlink/nowhere").status_code == 404


@pytest.mark.parametrize("path", ["/profile/unlink/demo", "/profile/link/corp", "/profile/delete"])
def test_account_changes_need_a_csrf_token(flow, client, path):
    flow.sign_in("alice")
    assert client.post(path).status_code == 400


@pytest.mark.parametrize("path", ["/profile/unlink/demo", "/profile/link/corp", "/profile/delete"])
def test_account_changes_are_not_reachable_by_get(flow, client, path):
    flow.sign_in("alice")
    assert client.get(path).status_code == 405


def test_deleting_the_account_needs_confirmation(flow, client, app):
    flow.sign_in("alice")
    post(client, "/profile/delete")
    assert rows(app, User) == 1


def test_deleting_the_account_removes_the_user_and_every_token(
    flow, client, app, provider, corp_issuer
):
    flow.sign_in("alice")
    link(flow, "corp")
    provider.recorder.clear()

    response = post(client, "/profile/delete", confirm="yes")

    assert response.status_code == 303
    assert rows(app, User) == 0
    assert rows(app, LinkedAccount) == 0
    # Demo's refresh and access tokens; corp's access token (corp grants no refresh token).
    assert len(provider.recorder.calls("/revoke", "POST")) == 2
    assert len(corp_issuer.recorder.calls("/revoke", "POST")) == 1
    assert client.get("/profile").status_code == 302

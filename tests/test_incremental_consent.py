"""Consent that changes, against the fake provider: sign-in asks for the least, a feature page asks
for its own scope when opened (one button, back to the page, the grant widened and not
replaced), saying no keeps the link, granted is recorded apart from requested (granular consent,
a scope omitted from the token response, fewer scopes on refresh), and an API's
`insufficient_scope` or step-up challenge leads to the page that fixes it, not to an error.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from extensions import db
from models import User
from tests.fake_provider import FULL_SCOPE
from tests.feature_pages import CONTACTS_PAGE, press_allow
from tests.forms import csrf_token
from tests.live_provider import query
from tests.misbehaving import MisbehavingProvider, stored_link


def test_sign_in_asks_for_the_least(flow):
    authorization_url = flow.start()
    assert query(authorization_url)["scope"] == FULL_SCOPE  # no contacts.read
    # The demo provider combines grants as Google does: every request says so.
    assert query(authorization_url)["include_granted_scopes"] == "true"


def test_the_page_says_what_it_needs_and_why_and_calls_no_api(flow, client, provider):
    flow.sign_in("alice")
    answer = client.get(CONTACTS_PAGE)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "contacts.read" in page
    assert "address book" in page  # the reason
    assert "Allow at Demo Provider" in page
    assert answer.headers["Cache-Control"] == "no-store"
    assert provider.recorder.calls("/api/contacts") == []


def test_allowing_widens_the_grant_and_comes_back_to_the_page(flow, client, app, provider):
    flow.sign_in("alice")
    authorization_url = press_allow(client)
    assert query(authorization_url)["scope"].split() == [*FULL_SCOPE.split(), "contacts.read"]

    answer = client.get(flow.authorize(authorization_url))
    assert answer.headers["Location"] == CONTACTS_PAGE
    link = stored_link(app)
    assert set(link.scope.split()) == {*FULL_SCOPE.split(), "contacts.read"}
    assert link.requested_scope.split() == [*FULL_SCOPE.split(), "contacts.read"]

    page = client.get(CONTACTS_PAGE).get_data(as_text=True)
    assert "The White Rabbit" in page
    # The old scopes still work: the profile API (scope profile) answers with the new token.
    assert "Alice Liddell" in client.get("/profile").get_data(as_text=True)


def test_saying_no_keeps_the_link_and_marks_the_feature_unavailable(flow, client, app):
    flow.sign_in("alice")
    before = stored_link(app)

    answer = client.get(flow.authorize(press_allow(client), decision="Deny"))
    assert answer.headers["Location"] == CONTACTS_PAGE
    after = stored_link(app)
    assert after.access_token_ciphertext == before.access_token_ciphertext
    assert after.refresh_token_ciphertext == before.refresh_token_ciphertext
    assert after.scope == before.scope

    page = client.get(CONTACTS_PAGE).get_data(as_text=True)
    assert "you did not allow it" in page
    assert "Ask Demo Provider again" in page
    profile = client.get("/profile").get_data(as_text=True)
    assert "Alice Liddell" in profile  # the link works as before
    assert "Asked for, not granted" in profile
    assert "contacts.read" in profile


def test_a_scope_unticked_at_consent_is_shown_as_declined(flow, client, app):
    callback = flow.authorize(flow.start(), granted="openid profile offline_access")
    client.get(callback)
    link = stored_link(app)
    assert link.scope.split() == ["openid", "profile", "offline_access"]
    profile = client.get("/profile").get_data(as_text=True)
    assert "Asked for, not granted" in profile
    assert "alice@example.org" not in profile  # the API sent no e-mail, and none is shown


def test_an_omitted_scope_means_as_requested(flow, client, app, provider):
    MisbehavingProvider(provider).token_response(
        lambda body: {key: value for key, value in body.items() if key != "scope"}
    )
    flow.sign_in("alice")
    assert stored_link(app).scope.split() == FULL_SCOPE.split()


def test_a_refresh_that_comes_back_narrower_narrows_the_record(flow, client, app, provider):
    flow.sign_in("alice")
    MisbehavingProvider(provider).token_response(
        lambda body: {**body, "scope": "openid profile offline_access"}
    )
    page = client.get("/profile").get_data(as_text=True)
    client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})
    assert stored_link(app).scope.split() == ["openid", "profile", "offline_access"]
    profile = client.get("/profile").get_data(as_text=True)
    assert "Asked for, not granted" in profile
    assert "<code>email</code>" in profile


def test_a_provider_that_names_only_the_new_scope_keeps_the_union(flow, client, app, provider):
    """With include_granted_scopes the new grant covers the old scopes too, even when the token
    response names only the new one; the record keeps the union and adds nothing else."""
    flow.sign_in("alice")
    MisbehavingProvider(provider).token_response(lambda body: {**body, "scope": "contacts.read"})
    client.get(flow.authorize(press_allow(client)))
    assert set(stored_link(app).scope.split()) == {*FULL_SCOPE.split(), "contacts.read"}


def test_another_account_at_the_provider_cannot_widen_this_link(flow, client, app):
    flow.sign_in("alice")
    before = stored_link(app)
    answer = client.get(flow.authorize(press_allow(client), username="bob"))
    assert answer.status_code == 403
    assert "grant_different_person" in answer.get_data(as_text=True)
    assert stored_link(app).access_token_ciphertext == before.access_token_ciphertext


def test_insufficient_scope_from_the_api_leads_to_asking_for_it(flow, client, app, provider):
    flow.sign_in("alice")
    client.get(flow.authorize(press_allow(client)))
    # The person takes the permission back at the provider: its API now says so.
    provider.recorder.fail(
        "/api/contacts",
        403,
        {"error": "insufficient_scope"},
        headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="contacts.read"'},
    )
    answer = client.get(CONTACTS_PAGE)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    # Taken back at the provider: asked for once, no longer granted; the page asks again.
    assert f'action="{CONTACTS_PAGE}/allow"' in page
    assert "Ask Demo Provider again" in page
    assert "contacts.read" not in stored_link(app).scope.split()


def test_a_step_up_challenge_leads_to_signing_in_again(flow, client, app, provider):
    flow.sign_in("alice")
    client.get(flow.authorize(press_allow(client)))
    provider.recorder.fail(
        "/api/contacts",
        401,
        {"error": "insufficient_user_authentication"},
        headers={
            "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
            'error_description="A more recent authentication is required", max_age="5", '
            'acr_values="urn:example:mfa"'
        },
    )
    page = client.get(CONTACTS_PAGE).get_data(as_text=True)
    assert "Sign in at Demo Provider again" in page
    answer = client.post(
        CONTACTS_PAGE + "/sign-in-again",
        data={"csrf_token": csrf_token(page), "acr_values": "urn:example:mfa"},
    )
    authorization = query(answer.headers["Location"])
    assert (authorization["max_age"], authorization["prompt"]) == ("0", "login")
    assert authorization["acr_values"] == "urn:example:mfa"
    # The new sign-in keeps the link's scopes: it must not narrow the grant it replaces.
    assert "contacts.read" in authorization["scope"].split()
    assert client.get(flow.authorize(answer.headers["Location"])).headers["Location"] == (
        CONTACTS_PAGE
    )


@pytest.mark.parametrize(
    "path", [CONTACTS_PAGE + "/allow", "/features/demo/nothing/allow", "/features/nope/x/allow"]
)
def test_the_button_needs_csrf_and_a_feature_this_app_defines(flow, client, path):
    flow.sign_in("alice")
    page = client.get("/profile").get_data(as_text=True)
    assert client.post(path).status_code == 400  # no CSRF token
    if path != CONTACTS_PAGE + "/allow":
        assert client.post(path, data={"csrf_token": csrf_token(page)}).status_code == 404


def test_feature_pages_need_a_signed_in_person(client):
    answer = client.get(CONTACTS_PAGE)
    assert answer.status_code in (302, 303)
    assert "/login" in answer.headers["Location"]


def test_an_address_withdrawn_at_a_later_sign_in_leaves_the_account_too(flow, client, app):
    flow.sign_in("alice")
    assert "alice@example.org" in client.get("/profile").get_data(as_text=True)
    client.get(flow.authorize(flow.start(), granted="openid profile offline_access"))
    assert "alice@example.org" not in client.get("/profile").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(User.email)).one() is None

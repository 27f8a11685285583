"""Consent that changes, end to end with the demo provider over real HTTP: sign in with the least,
open the contacts page and grant one more scope (or deny it), untick a scope at consent, remove a
scope at the provider's connected-applications page and see a refresh narrow the grant, and see
the API's `insufficient_scope` lead back to asking instead of to an error.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from demo_provider import preparation
from demo_provider.extensions import db as provider_db
from demo_provider.models import Grant, epoch_now
from extensions import db
from models import LinkedAccount
from tests.e2e.live_demo import DemoFlow
from tests.feature_pages import CONTACTS_PAGE, press_allow
from tests.forms import csrf_token, forms

SIGN_IN_SCOPE = ["openid", "profile", "email", "offline_access"]


@pytest.fixture(autouse=True)
def no_earlier_grants(provider):
    """Alice's grants to this app from other tests are taken back before and after each one:
    the demo provider carries live grants into new ones (include_granted_scopes)."""

    def revoke_all():
        preparation.prepare(provider.app)  # its tables exist from its first request on
        with provider.app.app_context():
            provider_db.session.execute(
                update(Grant).where(Grant.revoked_at.is_(None)).values(revoked_at=epoch_now())
            )
            provider_db.session.commit()

    revoke_all()
    yield
    revoke_all()


@pytest.fixture
def flow(client, provider):
    return DemoFlow(client, provider)


def granted(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(LinkedAccount.scope)).one().split()


def remove_at_provider(flow, provider, scope: str) -> None:
    """The person removes one scope from this app on the provider's connections page."""
    browser = flow.browser_for(provider.issuer)
    page = browser.http.get(provider.issuer + "/connections", timeout=10)
    (form,) = [
        form
        for form in forms(page.text, page.url)
        if form.action.endswith("/scopes/remove") and form.fields.get("scope") == scope
    ]
    answer = browser.http.post(
        form.action, data=form.submission("Remove"), allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303


def test_sign_in_with_the_least_then_grant_more_and_see_the_data(flow, client, app, provider):
    flow.sign_in("alice")
    assert granted(app) == SIGN_IN_SCOPE
    page = client.get(CONTACTS_PAGE).get_data(as_text=True)
    assert "contacts.read" in page
    assert provider.recorder.calls("/api/contacts") == []

    authorization_url = press_allow(client)
    # At the provider, the scopes allowed before are listed as such; only contacts is asked.
    consent = flow.browser_for(authorization_url).http.get(authorization_url, timeout=10).text
    assert "(already allowed)" in consent
    (consent_form,) = [f for f in forms(consent) if f.ticked]
    assert consent_form.ticked == {"granted_scope": ["contacts.read"]}

    answer = client.get(flow.authorize(authorization_url))
    assert answer.headers["Location"] == CONTACTS_PAGE
    assert set(granted(app)) == {*SIGN_IN_SCOPE, "contacts.read"}
    assert "White Rabbit" in client.get(CONTACTS_PAGE).get_data(as_text=True)
    assert "Alice Liddell" in client.get("/profile").get_data(as_text=True)


def test_deny_leaves_the_link_working_and_the_feature_unavailable(flow, client, app):
    flow.sign_in("alice")
    answer = client.get(flow.authorize(press_allow(client), decision="Deny"))
    assert answer.headers["Location"] == CONTACTS_PAGE
    assert granted(app) == SIGN_IN_SCOPE
    assert "you did not allow it" in client.get(CONTACTS_PAGE).get_data(as_text=True)
    assert "Alice Liddell" in client.get("/profile").get_data(as_text=True)


def test_a_scope_unticked_at_consent_is_not_granted_and_the_ui_follows(flow, client, app):
    client.get(flow.authorize(flow.start(), untick=("email",)))
    assert granted(app) == ["openid", "profile", "offline_access"]
    profile = client.get("/profile").get_data(as_text=True)
    assert "Asked for, not granted" in profile
    assert "alice@example.org" not in profile


def test_a_scope_removed_at_the_provider_narrows_the_grant_at_the_next_refresh(
    flow, client, app, provider
):
    flow.sign_in("alice")
    client.get(flow.authorize(press_allow(client)))
    remove_at_provider(flow, provider, "contacts.read")

    page = client.get("/profile").get_data(as_text=True)
    client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})
    assert granted(app) == SIGN_IN_SCOPE
    profile = client.get("/profile").get_data(as_text=True)
    assert "Asked for, not granted" in profile
    assert "<code>contacts.read</code>" in profile


def test_insufficient_scope_from_the_api_asks_again_instead_of_failing(flow, client, app, provider):
    flow.sign_in("alice")
    client.get(flow.authorize(press_allow(client)))
    remove_at_provider(flow, provider, "contacts.read")

    # The stored access token is still valid, but the provider no longer lets it read contacts.
    answer = client.get(CONTACTS_PAGE)
    assert len(provider.recorder.calls("/api/contacts")) == 1
    assert answer.status_code == 200
    assert "Ask Demo Provider again" in answer.get_data(as_text=True)
    assert "contacts.read" not in granted(app)

"""Re-authentication before actions that cannot be undone: when the person last proved who they
are longer ago than REAUTH_MAX_AGE, deleting the account or unlinking a provider first sends them
to the provider (max_age=0, prompt=login); the action waits server-side and happens only when the
new ID token shows the same person, freshly signed in. And `<NAME>_ACR_VALUES`: sent, and checked.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from extensions import db
from models import LinkedAccount, User, UserSession, utcnow
from tests.forms import csrf_token
from tests.live_provider import query
from tests.misbehaving import MisbehavingProvider, count


@pytest.fixture
def app_overrides(corp_env):
    # "corp" comes from the environment: drop the test default that would override it.
    return {"OIDC_PROVIDERS": None}


def post(client, path: str, **data):
    page = client.get("/profile").get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(page), **data})


def make_stale(app) -> None:
    """As if the person had signed in ten minutes ago."""
    with app.app_context():
        db.session.execute(
            update(UserSession).values(authenticated_at=utcnow() - timedelta(minutes=10))
        )
        db.session.commit()


def test_a_recent_sign_in_deletes_at_once(flow, client, app):
    flow.sign_in("alice")
    answer = post(client, "/profile/delete", confirm="yes")
    assert answer.headers["Location"] == "/"
    assert count(app, User) == 0


def test_an_old_sign_in_must_be_proven_again_before_the_account_is_deleted(
    flow, client, app, provider
):
    flow.sign_in("alice")
    make_stale(app)

    answer = post(client, "/profile/delete", confirm="yes")

    assert answer.status_code == 303
    authorization_url = answer.headers["Location"]
    params = query(authorization_url)
    assert authorization_url.startswith(provider.issuer)
    assert params["max_age"] == "0"
    assert params["prompt"] == "login"
    # The action waits on the server: nothing in the address says what it is.
    assert "delete" not in authorization_url
    assert count(app, User) == 1

    done = client.get(flow.authorize(authorization_url, "alice"))

    assert done.headers["Location"] == "/"
    assert count(app, User) == 0
    assert "Your account and every token" in client.get("/").get_data(as_text=True)


def test_an_old_sign_in_must_be_proven_again_before_a_provider_is_unlinked(flow, client, app):
    flow.sign_in("alice")
    link_url = flow.authorize(post(client, "/profile/link/corp").headers["Location"])
    client.get(link_url)
    make_stale(app)

    answer = post(client, "/profile/unlink/corp")
    assert count(app, LinkedAccount) == 2
    client.get(flow.authorize(answer.headers["Location"], "alice"))

    assert count(app, LinkedAccount) == 1
    assert "Corp SSO is no longer linked" in client.get("/profile").get_data(as_text=True)


def test_proof_from_another_person_changes_nothing(flow, client, app):
    flow.sign_in("alice")
    make_stale(app)
    answer = post(client, "/profile/delete", confirm="yes")

    refused = client.get(flow.authorize(answer.headers["Location"], "bob"))

    assert refused.status_code == 403
    assert "reauth_different_person" in refused.get_data(as_text=True)
    assert count(app, User) == 1
    assert client.get("/profile").status_code == 200


def test_a_provider_that_did_not_ask_for_the_password_again_changes_nothing(
    flow, client, app, provider
):
    flow.sign_in("alice")
    make_stale(app)
    answer = post(client, "/profile/delete", confirm="yes")
    # The provider ignored max_age=0: its ID token says the person signed in an hour ago.
    MisbehavingProvider(provider).id_token_claims(auth_time=int(time.time()) - 3600)

    refused = client.get(flow.authorize(answer.headers["Location"], "alice"))

    assert refused.status_code == 403
    assert "reauth_not_fresh" in refused.get_data(as_text=True)
    assert count(app, User) == 1


def test_a_fresh_proof_counts_for_the_next_actions_too(flow, client, app):
    flow.sign_in("alice")
    link_url = flow.authorize(post(client, "/profile/link/corp").headers["Location"])
    client.get(link_url)
    make_stale(app)
    answer = post(client, "/profile/unlink/corp")
    client.get(flow.authorize(answer.headers["Location"], "alice"))

    # Proven a moment ago: deleting now needs no second trip to the provider.
    assert post(client, "/profile/delete", confirm="yes").headers["Location"] == "/"


class TestAcrValues:
    @pytest.fixture
    def app_overrides(self, corp_env):
        return {"OIDC_PROVIDERS": None, "DEMO_ACR_VALUES": "urn:example:mfa  urn:example:phr"}

    def test_acr_values_are_sent_and_a_weaker_answer_is_refused(self, flow, client, app):
        authorization_url = flow.start()
        assert query(authorization_url)["acr_values"] == "urn:example:mfa urn:example:phr"
        # The provider's ID token names no acr at all.
        refused = client.get(flow.authorize(authorization_url, "alice"))
        assert refused.status_code == 400
        assert "acr_not_satisfied" in refused.get_data(as_text=True)
        assert count(app, User) == 0

    def test_an_acr_that_was_asked_for_signs_in(self, flow, provider, app):
        MisbehavingProvider(provider).id_token_claims(acr="urn:example:phr")
        assert flow.sign_in("alice").headers["Location"] == "/profile"
        assert count(app, User) == 1

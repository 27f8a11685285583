"""RP-initiated logout at the demo provider's end-session endpoint (OIDC RP-Initiated Logout 1.0):
who may sign the person out without asking, and where they may be sent afterwards.
"""

import re
import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from demo_provider import signing
from demo_provider.models import User

CONFIRMATION = "Sign out of Demo Provider?"
SIGNED_OUT = "You are signed out"


def id_token_hint(demo_app, username="alice", key=None, **overrides):
    """An ID token for `username` and the main client, signed with the provider's key or `key`."""
    with demo_app.app_context():
        now = int(time.time())
        claims = {
            "iss": demo_app.config["DEMO_PROVIDER_ISSUER"],
            "aud": "workshop-app",
            "sub": User.find_by_username(username).sub,
            "iat": now,
            "exp": now + 300,
            **overrides,
        }
        if key is None:
            return signing.sign_id_token(claims)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])


def page_text(response) -> str:
    """The words a person reads on the page: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def assert_not_sent_back(response):
    """The response keeps the person at the provider."""
    assert response.status_code == 200
    assert "Location" not in response.headers


def test_trusted_hint_and_registered_uri_return_to_the_client_with_state(flow):
    body, _ = flow.tokens()

    response = flow.end_session(
        id_token_hint=body["id_token"],
        post_logout_redirect_uri=flow.post_logout_redirect_uri,
        state="after-logout-state",
    )

    assert response.status_code == 303
    assert response.headers["Location"] == (
        f"{flow.post_logout_redirect_uri}?state=after-logout-state"
    )


def test_trusted_hint_ends_the_provider_session(flow):
    body, _ = flow.tokens()

    flow.end_session(
        id_token_hint=body["id_token"], post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    assert flow.client.get_cookie("demo_provider_session") is None
    to_login = flow.client.get("/authorize", query_string=flow.authorize_params())
    assert to_login.status_code == 303
    assert to_login.headers["Location"].startswith("/login?next=")


def test_without_state_the_registered_uri_is_used_as_is(flow):
    body, _ = flow.tokens()

    response = flow.end_session(
        id_token_hint=body["id_token"], post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    assert response.headers["Location"] == flow.post_logout_redirect_uri


def test_trusted_hint_without_a_uri_shows_the_signed_out_page(flow):
    body, _ = flow.tokens()

    response = flow.end_session(id_token_hint=body["id_token"])

    assert_not_sent_back(response)
    assert SIGNED_OUT in response.get_data(as_text=True)
    assert not flow.signed_in()


def test_expired_hint_is_still_trusted(flow, demo_app):
    flow.sign_in()
    expired = id_token_hint(demo_app, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)

    response = flow.end_session(
        id_token_hint=expired, post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    assert response.status_code == 303
    assert response.headers["Location"] == flow.post_logout_redirect_uri


def test_trusted_hint_signs_out_directly_when_nobody_is_signed_in(flow, demo_app):
    response = flow.end_session(
        id_token_hint=id_token_hint(demo_app),
        post_logout_redirect_uri=flow.post_logout_redirect_uri,
    )

    assert response.status_code == 303
    assert response.headers["Location"] == flow.post_logout_redirect_uri


def test_end_session_leaves_the_clients_refresh_token_alone(flow):
    body, _ = flow.tokens()

    flow.end_session(id_token_hint=body["id_token"])

    assert flow.refresh(body["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/signed-out",
        "http://127.0.0.1:5000/signed-out/",
        "http://127.0.0.1:5000/signed-out?next=https://evil.example",
        "http://127.0.0.1:5000/SIGNED-OUT",
        "http://127.0.0.1:6000/signed-out",
    ],
    ids=["unregistered", "trailing-slash", "extra-query", "other-case", "other-clients-uri"],
)
def test_uri_not_registered_for_the_hints_client_is_never_redirected_to(flow, uri):
    body, _ = flow.tokens()

    response = flow.end_session(id_token_hint=body["id_token"], post_logout_redirect_uri=uri)

    assert_not_sent_back(response)
    assert SIGNED_OUT in response.get_data(as_text=True)


def test_uri_not_registered_for_the_named_client_is_never_redirected_to(flow):
    flow.sign_in()
    page = flow.end_session(
        client_id=flow.client_id, post_logout_redirect_uri=flow.other_post_logout_redirect_uri
    )

    response = flow.confirm_end_session(page)

    assert_not_sent_back(response)
    assert SIGNED_OUT in response.get_data(as_text=True)


def test_uri_without_hint_or_client_id_is_never_redirected_to(flow):
    flow.sign_in()
    page = flow.end_session(post_logout_redirect_uri=flow.post_logout_redirect_uri)

    response = flow.confirm_end_session(page)

    assert_not_sent_back(response)
    assert SIGNED_OUT in response.get_data(as_text=True)


def test_no_hint_asks_for_confirmation_naming_the_client(flow):
    flow.sign_in()

    response = flow.end_session(
        client_id=flow.client_id, post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    assert_not_sent_back(response)
    assert CONFIRMATION in page_text(response)
    assert "Workshop App asked to sign you out" in page_text(response)
    assert flow.signed_in()


def test_confirmed_sign_out_with_client_id_returns_to_its_registered_uri(flow):
    flow.sign_in()
    page = flow.end_session(
        client_id=flow.client_id,
        post_logout_redirect_uri=flow.post_logout_redirect_uri,
        state="s1",
    )

    response = flow.confirm_end_session(page)

    assert response.status_code == 303
    assert response.headers["Location"] == f"{flow.post_logout_redirect_uri}?state=s1"
    assert not flow.signed_in()


def test_staying_signed_in_keeps_the_session_and_does_not_return_to_the_client(flow):
    flow.sign_in()
    page = flow.end_session(
        client_id=flow.client_id, post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    response = flow.confirm_end_session(page, decision="stay")

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert flow.signed_in()


def test_confirmation_without_csrf_token_is_rejected(flow):
    flow.sign_in()

    response = flow.client.post(
        "/end-session/confirm", data={"client_id": flow.client_id, "decision": "sign-out"}
    )

    assert response.status_code == 400
    assert flow.signed_in()


def test_hint_for_someone_else_asks_for_confirmation(flow, demo_app):
    flow.sign_in()

    response = flow.end_session(
        id_token_hint=id_token_hint(demo_app, username="bob"),
        post_logout_redirect_uri=flow.post_logout_redirect_uri,
    )

    assert_not_sent_back(response)
    assert CONFIRMATION in response.get_data(as_text=True)
    assert flow.signed_in()


def test_hint_signed_by_another_key_is_not_trusted(flow, demo_app):
    flow.sign_in()
    forged = id_token_hint(demo_app, key=RSAKey.generate_key(2048, auto_kid=True))

    response = flow.end_session(
        id_token_hint=forged, post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    assert_not_sent_back(response)
    assert CONFIRMATION in response.get_data(as_text=True)
    assert flow.signed_in()


def test_hint_from_another_issuer_is_not_trusted(flow, demo_app):
    flow.sign_in()
    foreign = id_token_hint(demo_app, iss="http://127.0.0.1:5002")

    response = flow.end_session(
        id_token_hint=foreign, post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    assert_not_sent_back(response)
    assert CONFIRMATION in response.get_data(as_text=True)
    assert flow.signed_in()


def test_confirmed_sign_out_after_an_untrusted_hint_does_not_redirect(flow, demo_app):
    flow.sign_in()
    forged = id_token_hint(demo_app, key=RSAKey.generate_key(2048, auto_kid=True))
    page = flow.end_session(
        id_token_hint=forged,
        client_id=flow.client_id,
        post_logout_redirect_uri=flow.post_logout_redirect_uri,
    )

    response = flow.confirm_end_session(page)

    assert_not_sent_back(response)
    assert SIGNED_OUT in response.get_data(as_text=True)
    assert not flow.signed_in()


def test_untrusted_hint_when_nobody_is_signed_in_shows_the_confirmation_page(flow, demo_app):
    foreign = id_token_hint(demo_app, iss="http://127.0.0.1:5002")

    response = flow.end_session(
        id_token_hint=foreign, post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    assert_not_sent_back(response)
    assert CONFIRMATION in response.get_data(as_text=True)


def test_malformed_hint_is_not_trusted(flow):
    flow.sign_in()

    response = flow.end_session(
        id_token_hint="not-a-jwt", post_logout_redirect_uri=flow.post_logout_redirect_uri
    )

    assert_not_sent_back(response)
    assert CONFIRMATION in response.get_data(as_text=True)


def test_client_id_that_is_not_the_hints_audience_is_not_trusted(flow):
    body, _ = flow.tokens()

    response = flow.end_session(
        id_token_hint=body["id_token"],
        client_id=flow.other_client_id,
        post_logout_redirect_uri=flow.other_post_logout_redirect_uri,
    )

    assert_not_sent_back(response)
    assert CONFIRMATION in response.get_data(as_text=True)
    assert flow.signed_in()


def test_repeated_redirect_uri_is_never_redirected_to(flow):
    body, _ = flow.tokens()

    response = flow.client.get(
        "/end-session",
        query_string=[
            ("id_token_hint", body["id_token"]),
            ("post_logout_redirect_uri", flow.post_logout_redirect_uri),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
    )

    assert_not_sent_back(response)


def test_post_is_answered_as_the_same_request_by_get(flow):
    body, _ = flow.tokens()

    response = flow.client.post(
        "/end-session",
        data={
            "id_token_hint": body["id_token"],
            "post_logout_redirect_uri": flow.post_logout_redirect_uri,
            "state": "s2",
            "ui_locales": "de",
        },
    )
    followed = flow.client.get(response.headers["Location"])

    assert response.status_code == 303
    assert flow.query(response.headers["Location"]) == {
        "id_token_hint": body["id_token"],
        "post_logout_redirect_uri": flow.post_logout_redirect_uri,
        "state": "s2",
    }
    assert followed.status_code == 303
    assert followed.headers["Location"] == f"{flow.post_logout_redirect_uri}?state=s2"

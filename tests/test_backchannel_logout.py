"""OpenID Connect Back-Channel Logout, relying-party side: a logout token POSTed by the provider
ends the sessions it names, and the next request of each is signed out and told why; every bad
token is refused with its reason, ends nothing, and is logged once.
"""

from __future__ import annotations

import json
import logging
import secrets
import time

import pytest
from sqlalchemy import select

from accounts import tokens
from extensions import db
from models import AcceptedLogoutToken, LinkedAccount, SessionEnd, UserSession
from tests.conftest import CLIENT_ID, Flow
from tests.fake_provider import subject_for
from tests.misbehaving import DROP, MisbehavingProvider, changed, forge, new_rsa_key, public_jwk

EVENT = "http://schemas.openid.net/event/backchannel-logout"
FORM = "application/x-www-form-urlencoded"


def _claims(provider) -> dict:
    """A logout token's claims as the provider makes them, for alice's sessions."""
    now = int(time.time())
    return {
        "iss": provider.issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(12),
        "sub": subject_for("demo", "alice"),
        "events": {EVENT: {}},
    }


def logout_token(provider, header=None, **changes) -> str:
    """A logout token as the provider signs it, with `changes` (None removes a claim)."""
    claims = changed(
        _claims(provider),
        {name: DROP if value is None else value for name, value in changes.items()},
    )
    key = provider.signing_key
    return forge(
        {"alg": "RS256", "kid": key.kid, "typ": "logout+jwt", **(header or {})}, claims, key
    )


def deliver(client, token: str, provider_name: str = "demo"):
    """POST the token as the provider does: a form, no cookie, no CSRF token."""
    return client.post(
        f"/backchannel-logout/{provider_name}", data={"logout_token": token}, content_type=FORM
    )


def session_rows(app) -> list[UserSession]:
    with app.app_context():
        return list(db.session.scalars(select(UserSession).order_by(UserSession.id)))


def signed_in(client) -> bool:
    return client.get("/profile").status_code == 200


@pytest.fixture
def two_browsers(app, provider, flow):
    """Alice signed in twice, in two browsers: two sessions at the provider, two sids."""
    other = Flow(app.test_client(), provider)
    assert flow.sign_in("alice").status_code == 303
    assert other.sign_in("alice").status_code == 303
    first, second = session_rows(app)
    assert first.sid
    assert second.sid != first.sid
    return flow.client, other.client, first, second


def security_events(caplog) -> list[dict]:
    return [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "security" and '"backchannel_logout"' in record.getMessage()
    ]


def test_a_sid_ends_only_that_browsers_session(app, provider, two_browsers, caplog):
    first_browser, second_browser, first, _ = two_browsers
    caplog.set_level(logging.INFO, logger="security")

    answer = deliver(app.test_client(), logout_token(provider, sid=first.sid))

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert not signed_in(first_browser)
    assert signed_in(second_browser)
    ended = session_rows(app)[0]
    assert ended.end_reason == SessionEnd.PROVIDER
    assert ended.ended_at is not None
    events = security_events(caplog)
    assert [(e["outcome"], e["sessions"], e["provider"]) for e in events] == [("ok", 1, "demo")]


def test_the_ended_browser_is_told_that_the_provider_ended_its_session(app, provider, flow):
    flow.sign_in("alice")
    (record,) = session_rows(app)
    deliver(app.test_client(), logout_token(provider, sid=record.sid))

    page = flow.client.get("/profile", follow_redirects=True).get_data(as_text=True)

    assert "Demo Provider ended your session" in page
    assert "Please sign in to see that page" not in page  # one message, the one that says why
    # Said once: the cookie forgot the ended session.
    again = flow.client.get("/login").get_data(as_text=True)
    assert "ended your session" not in again


def test_a_sub_without_sid_ends_every_session_of_that_person_at_that_provider(
    app, provider, two_browsers
):
    first_browser, second_browser, *_ = two_browsers
    assert deliver(app.test_client(), logout_token(provider)).status_code == 200
    assert not signed_in(first_browser)
    assert not signed_in(second_browser)


def test_a_sid_with_someone_elses_sub_ends_nothing(app, provider, two_browsers):
    first_browser, _, first, _ = two_browsers
    token = logout_token(provider, sid=first.sid, sub=subject_for("demo", "bob"))
    assert deliver(app.test_client(), token).status_code == 200
    assert signed_in(first_browser)


def test_a_token_is_accepted_once_even_after_its_sessions_ended(app, provider, flow, caplog):
    flow.sign_in("alice")
    caplog.set_level(logging.INFO, logger="security")
    token = logout_token(provider)
    assert deliver(app.test_client(), token).status_code == 200
    flow.sign_in("alice")  # a new session, which the replayed token must not end

    replay = deliver(app.test_client(), token)

    assert replay.status_code == 400
    assert replay.get_json() == {
        "error": "invalid_request",
        "error_description": "logout_token_replayed",
    }
    assert signed_in(flow.client)
    assert [e.get("reason") for e in security_events(caplog)] == [None, "logout_token_replayed"]
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(AcceptedLogoutToken)) == 1


ATTACKER_KEY = new_rsa_key("attacker")


def _public_key_bytes(provider) -> bytes:
    return json.dumps(public_jwk(provider.signing_key)).encode()


# Each bad token, built from the provider (and its session's sid), with the reason it is refused.
BAD_TOKENS = {
    "signed by another key": (
        lambda p, sid: forge(
            {"alg": "RS256", "kid": p.signing_key.kid, "typ": "logout+jwt"},
            {**_claims(p), "sid": sid},
            ATTACKER_KEY,
        ),
        "logout_token_bad_signature",
    ),
    "alg none": (
        lambda p, sid: forge({"alg": "none", "typ": "logout+jwt"}, {**_claims(p), "sid": sid}),
        "logout_token_algorithm_not_allowed",
    ),
    "HMAC keyed with the public key": (
        lambda p, sid: forge(
            {"alg": "HS256", "typ": "logout+jwt"},
            {**_claims(p), "sid": sid},
            _public_key_bytes(p),
        ),
        "logout_token_algorithm_not_allowed",
    ),
    "a key of its own in the header": (
        lambda p, sid: logout_token(p, header={"jwk": public_jwk(ATTACKER_KEY)}, sid=sid),
        "logout_token_header_not_allowed",
    ),
    "typed as another kind of JWT": (
        lambda p, sid: logout_token(p, header={"typ": "JWT"}, sid=sid),
        "logout_token_wrong_type",
    ),
    "wrong issuer": (
        lambda p, sid: logout_token(p, iss="https://evil.example", sid=sid),
        "logout_token_invalid_iss",
    ),
    "wrong audience": (
        lambda p, sid: logout_token(p, aud="someone-else", sid=sid),
        "logout_token_invalid_aud",
    ),
    "an untrusted audience beside ours": (
        lambda p, sid: logout_token(p, aud=[CLIENT_ID, "someone-else"], sid=sid),
        "logout_token_untrusted_audience",
    ),
    "expired": (
        lambda p, sid: logout_token(p, exp=int(time.time()) - 600, sid=sid),
        "logout_token_invalid_exp",
    ),
    "issued far in the future": (
        lambda p, sid: logout_token(p, iat=int(time.time()) + 3600, sid=sid),
        "logout_token_invalid_iat",
    ),
    "issued long ago": (
        lambda p, sid: logout_token(p, iat=int(time.time()) - 3600, exp=None, sid=sid),
        "logout_token_invalid_iat",
    ),
    "no iat": (
        lambda p, sid: logout_token(p, iat=None, sid=sid),
        "logout_token_invalid_iat",
    ),
    "no jti": (
        lambda p, sid: logout_token(p, jti=None, sid=sid),
        "logout_token_invalid_jti",
    ),
    "no events": (
        lambda p, sid: logout_token(p, events=None, sid=sid),
        "logout_token_invalid_events",
    ),
    "events without the logout member": (
        lambda p, sid: logout_token(p, events={"urn:other": {}}, sid=sid),
        "logout_token_invalid_events",
    ),
    "a nonce, as an ID token has": (
        lambda p, sid: logout_token(p, nonce="n-0S6_WzA2Mj", sid=sid),
        "logout_token_nonce_present",
    ),
    "neither sub nor sid": (
        lambda p, sid: logout_token(p, sub=None),
        "logout_token_no_sub_or_sid",
    ),
    "a sid that is not text": (
        lambda p, sid: logout_token(p, sid=12345),
        "logout_token_invalid_sub_or_sid",
    ),
    "not a JWT": (lambda p, sid: "not-a-token", "logout_token_malformed"),
    # Larger than any token (16 KiB), smaller than the largest body read (32 KiB).
    "huge": (lambda p, sid: "a." * 9_000 + "b", "logout_token_too_large"),
}


@pytest.mark.parametrize(("make", "reason"), BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_bad_logout_token_is_refused_with_its_reason_and_ends_nothing(
    app, provider, flow, caplog, make, reason
):
    flow.sign_in("alice")
    (record,) = session_rows(app)
    caplog.set_level(logging.INFO, logger="security")

    answer = deliver(app.test_client(), make(provider, record.sid))

    assert answer.status_code == 400
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.get_json() == {"error": "invalid_request", "error_description": reason}
    assert signed_in(flow.client)
    assert [(e["outcome"], e["reason"]) for e in security_events(caplog)] == [("refused", reason)]


def test_an_id_token_cannot_pass_for_a_logout_token(app, provider, flow):
    flow.sign_in("alice")
    with app.app_context():
        id_token = tokens.decrypt(
            db.session.scalars(select(LinkedAccount)).one().id_token_ciphertext
        )
    answer = deliver(app.test_client(), id_token)
    assert answer.status_code == 400
    assert signed_in(flow.client)


def test_a_token_of_another_provider_is_refused(app, provider, flow, corp_issuer):
    flow.sign_in("alice")
    (record,) = session_rows(app)
    # Signed by the corp issuer, naming alice's demo session, delivered to the demo endpoint.
    token = logout_token(corp_issuer, sid=record.sid)
    answer = deliver(app.test_client(), token)
    assert answer.status_code == 400
    assert answer.get_json()["error_description"] in {
        "logout_token_invalid_iss",
        "logout_token_unknown_key",
        "logout_token_bad_signature",
    }
    assert signed_in(flow.client)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (json.dumps({"logout_token": "x"}), "application/json", "body_not_a_form"),
        ("logout_token=" + "a" * 40_000, FORM, "body_too_large_or_unsized"),
        ("", FORM, "logout_token_malformed"),
    ],
    ids=["json", "huge", "empty"],
)
def test_a_body_that_is_not_a_small_form_is_refused(app, body, content_type, reason):
    answer = app.test_client().post(
        "/backchannel-logout/demo", data=body, content_type=content_type
    )
    assert answer.status_code == 400
    assert answer.get_json()["error_description"] == reason


def test_an_unknown_provider_is_not_found_and_only_post_is_allowed(app, provider):
    client = app.test_client()
    assert deliver(client, logout_token(provider), provider_name="nope").status_code == 404
    assert client.get("/backchannel-logout/demo").status_code == 405


def test_the_providers_command_prints_the_backchannel_logout_uri_and_support(app):
    result = app.test_cli_runner().invoke(args=["providers"])
    assert "back-channel logout URI: http://localhost/backchannel-logout/demo" in result.output
    checked = app.test_cli_runner().invoke(args=["providers", "--check"])
    assert "back-channel logout: supported" in checked.output


def test_the_providers_command_says_when_a_provider_does_not_advertise_it(app, provider):
    MisbehavingProvider(provider).discovery(
        lambda document: {**document, "backchannel_logout_supported": False}
    )
    checked = app.test_cli_runner().invoke(args=["providers", "--check"])
    assert "back-channel logout: not advertised" in checked.output

"""Sessions as rows: the profile lists where the person is signed in; they sign out one other
session or all the others; signing out ends only this browser's session; the last-seen time is
written at most once a minute.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from accounts import browsers, sessions
from extensions import db
from models import SessionEnd, UserSession, utcnow
from tests.conftest import Flow
from tests.forms import csrf_token

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def rows(app) -> list[UserSession]:
    with app.app_context():
        return list(db.session.scalars(select(UserSession).order_by(UserSession.id)))


def profile(client) -> str:
    return client.get("/profile").get_data(as_text=True)


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(profile(client)), **data})


@pytest.fixture
def laptop_and_phone(app, provider, flow):
    """Alice signed in on a laptop (`flow`) and on a phone."""
    flow.client.environ_base["HTTP_USER_AGENT"] = FIREFOX_LINUX
    phone = Flow(app.test_client(), provider)
    phone.client.environ_base["HTTP_USER_AGENT"] = SAFARI_IPHONE
    assert flow.sign_in("alice").status_code == 303
    assert phone.sign_in("alice").status_code == 303
    return flow.client, phone.client


def test_the_profile_lists_each_session_and_marks_this_one(laptop_and_phone):
    laptop, _ = laptop_and_phone
    page = profile(laptop)
    assert "Firefox on Linux" in page
    assert "Safari on iPhone" in page
    assert page.count("This session") == 1
    # One "sign out this session" button: for the phone, not for the laptop itself.
    assert page.count("Sign out this session") == 1
    assert "Sign out all other sessions" in page


def test_a_request_never_reads_the_keys_of_the_other_sessions(app, laptop_and_phone):
    laptop_session, phone_session = rows(app)
    with app.test_request_context():
        user = sessions.load_user(laptop_session.key)
        listed = {record.id: record for record in sessions.active(user)}
        assert set(listed) == {laptop_session.id, phone_session.id}
        # This browser's own session is read whole (its key is the cookie it sent); another's
        # key, a credential for that browser, is never read: the listed sessions have no such
        # field, and the phone's key is nowhere in what the request holds.
        assert user.current_session.key == laptop_session.key
        assert not hasattr(listed[phone_session.id], "key")
        assert phone_session.key not in repr(user)


def test_the_signed_in_user_is_a_snapshot_that_changes_nothing(app, laptop_and_phone):
    # Pages read the person; a change made through what they read would be lost, so it fails.
    laptop_session, _ = rows(app)
    with app.test_request_context():
        user = sessions.load_user(laptop_session.key)
        for record, name in [
            (user, "display_name"),
            (user.current_session, "authenticated_at"),
            (user.linked_accounts[0], "status"),
            (user.active_sessions[0], "last_seen_at"),
        ]:
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(record, name, None)


def test_signing_out_another_session_signs_that_browser_out_and_says_why(app, laptop_and_phone):
    laptop, phone = laptop_and_phone
    _, phone_session = rows(app)

    answer = post(laptop, f"/profile/sessions/{phone_session.id}/end")

    assert answer.status_code == 303
    assert "That session is signed out." in profile(laptop)
    page = phone.get("/profile", follow_redirects=True).get_data(as_text=True)
    assert "This session was signed out from another of your sessions." in page
    assert rows(app)[1].end_reason == SessionEnd.SIGNED_OUT_ELSEWHERE


def test_signing_out_all_other_sessions_keeps_this_one(app, laptop_and_phone):
    laptop, phone = laptop_and_phone
    post(laptop, "/profile/sessions/end-others")
    assert "Signed out 1 other session." in profile(laptop)
    assert phone.get("/profile").status_code == 302


def test_this_session_is_ended_with_sign_out_not_from_the_list(app, laptop_and_phone):
    laptop, _ = laptop_and_phone
    own, _ = rows(app)
    assert post(laptop, f"/profile/sessions/{own.id}/end").status_code == 400


def test_someone_elses_session_cannot_be_ended(app, provider, flow):
    bob = Flow(app.test_client(), provider)
    bob.sign_in("bob")
    flow.sign_in("alice")
    bobs_session = rows(app)[0]

    post(flow.client, f"/profile/sessions/{bobs_session.id}/end")

    assert "That session was already signed out." in profile(flow.client)
    assert bob.client.get("/profile").status_code == 200


def test_signing_out_ends_this_session_only(app, laptop_and_phone):
    laptop, phone = laptop_and_phone
    laptop.post("/logout", data={"csrf_token": csrf_token(profile(laptop))})
    assert laptop.get("/profile").status_code == 302
    assert phone.get("/profile").status_code == 200
    assert [row.end_reason for row in rows(app)] == [SessionEnd.SIGNED_OUT, None]


def test_last_seen_is_written_at_most_once_a_minute(app, flow):
    flow.sign_in("alice")
    an_hour_ago = utcnow() - timedelta(hours=1)
    with app.app_context():
        db.session.execute(update(UserSession).values(last_seen_at=an_hour_ago))
        db.session.commit()

    flow.client.get("/profile")
    seen = rows(app)[0].last_seen_at
    assert seen > an_hour_ago + timedelta(minutes=59)

    flow.client.get("/profile")
    assert rows(app)[0].last_seen_at == seen


def test_the_session_records_the_providers_sid_and_subject(app, flow, provider):
    flow.sign_in("alice")
    (record,) = rows(app)
    assert record.provider == "demo"
    assert record.subject
    assert record.sid


@pytest.mark.parametrize(
    ("user_agent", "described"),
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (SAFARI_IPHONE, "Safari on iPhone"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        ("", "Unknown browser"),
        ("<script>" * 500, "Unknown browser"),
    ],
)
def test_a_browser_is_described_in_a_few_words(user_agent, described):
    assert browsers.describe(user_agent) == described

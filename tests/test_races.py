"""Requests that race each other: an unlink against a refresh, two unlinks, two deletions, two
callbacks. Whichever request gets there first, the other ends on a page that says what happened,
never on a server error, and the account is left in a state the rules allow.

The interleavings are made exact: a second connection does what the competing request did right
after this request loaded the signed-in user, which is when the reviewer's races went wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import request, request_started
from flask_login import current_user
from sqlalchemy import text

from extensions import db
from models import LinkedAccount, User, utcnow
from tests.forms import csrf_token
from tests.test_linking import link, post, rows


@pytest.fixture(autouse=True)
def app_overrides(corp_env):
    # "corp" comes from the environment: drop the test default that would override it.
    return {"OIDC_PROVIDERS": None}


@contextmanager
def meanwhile(app, *statements: str, method: str = "POST") -> Iterator[None]:
    """While inside, each request of `method` first loads the signed-in user, then another
    connection runs the statements and commits: what a competing request that won the race
    would have done."""

    def competing_request(sender, **extra):
        if request.method == method and current_user.is_authenticated:
            with db.engine.begin() as connection:
                for statement in statements:
                    connection.execute(text(statement))

    request_started.connect(competing_request, app)
    try:
        yield
    finally:
        request_started.disconnect(competing_request, app)


@pytest.mark.parametrize(
    ("done_meanwhile", "action", "message"),
    [
        pytest.param(
            "DELETE FROM linked_accounts WHERE provider = 'demo'",
            "/profile/refresh/demo",
            "Demo Provider is not linked to your account",
            id="refresh-after-unlink",
        ),
        pytest.param(
            "DELETE FROM linked_accounts WHERE provider = 'corp'",
            "/profile/unlink/corp",
            "Corp SSO is not linked to your account",
            id="unlink-after-unlink",
        ),
        # The other tab unlinked corp; this tab, which still saw two links, unlinks demo: the
        # account must keep a way to sign in.
        pytest.param(
            "DELETE FROM linked_accounts WHERE provider = 'corp'",
            "/profile/unlink/demo",
            "your only way to sign in",
            id="two-unlinks-at-once",
        ),
    ],
)
def test_a_change_that_another_tab_just_made_is_said_and_the_rules_hold(
    flow, client, app, done_meanwhile, action, message
):
    flow.sign_in("alice")
    link(flow, "corp")
    with meanwhile(app, done_meanwhile):
        response = post(client, action)
    assert response.status_code == 303
    assert message in client.get("/profile").get_data(as_text=True)
    assert rows(app, LinkedAccount) == 1


def test_a_page_whose_link_was_unlinked_after_it_read_the_user_says_so(flow, client, app):
    # The page read the user with both links; the other tab's unlink commits before this page's
    # refresh of the expired token locks the row: the refresh finds nothing to refresh.
    flow.sign_in("alice")
    link(flow, "corp")
    with app.app_context():
        db.session.execute(
            text("UPDATE linked_accounts SET expires_at = :past WHERE provider = 'demo'"),
            {"past": utcnow() - timedelta(seconds=1)},
        )
        db.session.commit()
    with meanwhile(app, "DELETE FROM linked_accounts WHERE provider = 'demo'", method="GET"):
        page = client.get("/profile")
    assert page.status_code == 200
    assert "Demo Provider was just unlinked." in page.get_data(as_text=True)
    assert rows(app, LinkedAccount) == 1


def test_deleting_an_account_that_another_tab_just_deleted_signs_out_cleanly(flow, client, app):
    flow.sign_in("alice")
    with meanwhile(app, "DELETE FROM linked_accounts", "DELETE FROM users"):
        response = post(client, "/profile/delete", confirm="yes")
    assert response.status_code == 303
    assert rows(app, User) == 0
    assert client.get("/profile").status_code == 302


def concurrently(count: int, action: Callable[[int], object]) -> list:
    """Run `action(i)` for i in range(count) from as many threads, released together."""
    barrier = threading.Barrier(count)

    def run(index: int):
        barrier.wait(timeout=10)
        return action(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_the_same_callback_twice_at_once_signs_in_once(flow, app):
    callback_url = flow.authorize(flow.start())
    cookie = flow.client.get_cookie("session").value

    def open_callback(_):
        browser = app.test_client()
        browser.set_cookie("session", cookie)
        return browser.get(callback_url).status_code

    statuses = sorted(concurrently(2, open_callback))
    assert statuses == [303, 400]
    assert rows(app, User) == 1


def test_two_first_sign_ins_of_one_person_at_once_make_one_account(flow, app):
    # Two tabs, each with a sign-in of its own, come back at the same moment.
    callbacks = [flow.authorize(flow.start()) for _ in range(2)]
    cookie = flow.client.get_cookie("session").value

    def open_callback(index):
        browser = app.test_client()
        browser.set_cookie("session", cookie)
        return browser.get(callbacks[index]).status_code

    assert concurrently(2, open_callback) == [303, 303]
    assert rows(app, User) == 1
    assert rows(app, LinkedAccount) == 1


def test_unlinks_against_refreshes_at_once_never_fail(flow, client, app):
    flow.sign_in("alice")
    link(flow, "corp")
    for _ in range(3):
        token = csrf_token(client.get("/profile").get_data(as_text=True))
        cookie = client.get_cookie("session").value
        paths = ["/profile/refresh/demo", "/profile/unlink/demo"]

        def submit(index, cookie=cookie, token=token, paths=paths):
            browser = app.test_client()
            browser.set_cookie("session", cookie)
            return browser.post(paths[index], data={"csrf_token": token}).status_code

        assert concurrently(2, submit) == [303, 303]
        assert rows(app, LinkedAccount) == 1
        assert link(flow, "demo").status_code == 303

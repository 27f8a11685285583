"""The token lifecycle on a real deployment: two gunicorn instances with several workers each,
sharing one PostgreSQL database, in front of the demo provider (refresh-token rotation and reuse
detection on), and the provider ending sessions over the back channel. Needs TEST_DATABASE_URL;
skipped without it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

from ops import pooled_connections
from tests.e2e.deployment import (
    DATABASE_URL_VARIABLE,
    concurrent_gets,
    concurrent_posts,
    deploy,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get(DATABASE_URL_VARIABLE),
        reason=f"{DATABASE_URL_VARIABLE} is not set: no PostgreSQL server to deploy on",
    ),
]

STORM = 50
ENDED_BY_PROVIDER = "Demo Provider ended your session"
TOKEN_COLUMNS = ("access_token_ciphertext", "refresh_token_ciphertext", "id_token_ciphertext")


class _LogsOnFailure:
    """Adds the gunicorn log tails of the deployments in use to a failing test's report."""

    def __init__(self) -> None:
        self.deployments = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if report.failed and item.module.__name__ == __name__:
            for deployment in self.deployments:
                for name, tail in deployment.log_tails().items():
                    report.sections.append((f"{name} log tail", tail))
        return report


@pytest.fixture(scope="module")
def failure_logs(pytestconfig):
    plugin = _LogsOnFailure()
    pytestconfig.pluginmanager.register(plugin)
    yield plugin.deployments
    pytestconfig.pluginmanager.unregister(plugin)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, failure_logs):
    with deploy(
        tmp_path_factory.mktemp("deployment"),
        os.environ[DATABASE_URL_VARIABLE],
        instances=2,
        workers=2,
        threads=4,
        with_corp=True,
    ) as running:
        failure_logs.append(running)
        yield running
        failure_logs.remove(running)


@pytest.fixture
def own_site(tmp_path, failure_logs):
    """A deployment of its own, for a test that restarts instances."""
    with deploy(tmp_path, os.environ[DATABASE_URL_VARIABLE], workers=1, threads=2) as running:
        failure_logs.append(running)
        yield running
    failure_logs.remove(running)


@pytest.fixture
def site(deployment):
    """The deployment with no users and clean provider records."""
    deployment.reset()
    yield deployment
    deployment.reset()


@pytest.fixture
def alice(site):
    """A browser signed in as alice through instance A, with the provider's log emptied."""
    browser = site.browser()
    answer = browser.sign_in("alice")
    assert answer.status_code == 303, answer.text
    assert answer.headers["Location"].endswith("/profile")
    site.provider.recorder.clear()
    return browser


def token_columns(site, provider="demo"):
    row = site.link_row(provider)
    return {column: row[column] for column in TOKEN_COLUMNS}


def outcome(page) -> str:
    """What the person sees on a profile page, in a word."""
    if page.status_code != 200:
        return f"HTTP {page.status_code}"
    for status in ("Reconnect needed", "Unavailable"):
        if status in page.text:
            return status
    if "Connected" in page.text and "Wonderland" in page.text:
        return "live profile"
    return "no profile"


def assert_connected(page):
    assert outcome(page) == "live profile"


def where_profile_leads(site, browser) -> list[str]:
    """Where GET /profile leads on each instance, with the browser's cookie as it is now (the
    answers do not change it, so each instance decides on its own): "profile" when it shows
    the page, else the path it redirects to."""
    answers = concurrent_gets([url + "/profile" for url in site.urls], browser.cookies())
    return [
        "profile" if answer.status_code == 200 else urlsplit(answer.headers["Location"]).path
        for answer in answers
    ]


def access_token_sent(recorded) -> str:
    """The access token an API call carried: DPoP-bound, since the demo provider offers DPoP
    and the app's default (`auto`) uses it, with the proof beside it."""
    scheme, _, value = (recorded.authorization or "").partition(" ")
    assert scheme == "DPoP"
    assert recorded.dpop is not None
    return value


def test_instances_started_together_migrate_the_shared_database_once(site):
    with site.engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    assert len(versions) == 1
    logs = [instance.log_path.read_text() for instance in site.instances]
    assert sum("Running upgrade  -> 0001" in log for log in logs) == 1
    for url in site.urls:
        assert site.browser().http.get(url + "/healthz", timeout=10).json() == {"status": "ok"}


def test_instances_keep_logging_after_migrating(site):
    for instance in site.instances:
        log = instance.log_path.read_text()
        assert "Listening at: " + instance.url in log
        assert '"GET /healthz HTTP/1.1" 200' in log


def test_a_session_started_on_one_instance_is_valid_on_the_other(site, alice):
    for instance in range(len(site.instances)):
        assert_connected(alice.get("/profile", instance))


def test_a_storm_of_requests_with_an_expired_token_refreshes_once_across_instances(site, alice):
    signed_in_refresh_token = site.decrypt(site.link_row()["refresh_token_ciphertext"])
    assert site.expire_access_tokens() == 1

    pages = alice.storm(STORM)

    assert Counter(outcome(page) for page in pages) == {"live profile": STORM}
    (refresh,) = site.provider.recorder.token_requests("refresh_token")
    assert refresh.form["refresh_token"] == [signed_in_refresh_token]
    # Every request called the API with the one new access token, the one now stored.
    new_access_token = site.decrypt(site.link_row()["access_token_ciphertext"])
    api_calls = site.provider.recorder.calls("/api/profile")
    assert len(api_calls) == STORM
    assert {access_token_sent(call) for call in api_calls} == {new_access_token}

    # The grant is alive: the rotated refresh token works, once, for the next expiry.
    site.expire_access_tokens()
    assert_connected(alice.get("/profile", instance=1))
    assert len(site.provider.recorder.token_requests("refresh_token")) == 2


def test_a_worker_keeps_one_database_connection_per_thread(tmp_path, failure_logs):
    """Bursts of concurrent requests reuse pooled connections: none is opened and closed per
    request, which on PostgreSQL would start a new server process each time."""
    threads = 8
    with deploy(
        tmp_path, os.environ[DATABASE_URL_VARIABLE], instances=1, workers=1, threads=threads
    ) as site:
        failure_logs.append(site)
        browser = site.browser()
        assert browser.sign_in("alice").status_code == 303
        opened_before = site.connections_opened()

        for _ in range(3):
            pages = browser.storm(2 * threads)
            assert Counter(outcome(page) for page in pages) == {"live profile": 2 * threads}

        # At most one per thread of the worker, plus the one that asked the first time.
        assert site.connections_opened() - opened_before - 1 <= threads
    failure_logs.remove(site)


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (503, {"error": "temporarily_unavailable"}, {}),
        (503, "<h1>Service Unavailable</h1>", {}),
        (429, {"error": "temporarily_unavailable"}, {"Retry-After": "30"}),
    ],
    ids=["503-json", "503-gateway-page", "429-retry-after"],
)
def test_a_provider_outage_during_refresh_keeps_the_tokens_and_says_unavailable(
    site, alice, status, body, headers
):
    site.expire_access_tokens()
    before = token_columns(site)
    site.provider.recorder.fail("/token", status, body, headers=headers)

    page = alice.get("/profile", instance=1)

    assert outcome(page) == "Unavailable"
    assert "try again" in page.text
    assert len(site.provider.recorder.token_requests("refresh_token")) == 1
    assert token_columns(site) == before
    assert site.link_row()["status"] == "connected"
    # Nothing was lost: once the provider answers again, the same refresh token works.
    assert_connected(alice.get("/profile", instance=0))
    assert len(site.provider.recorder.token_requests("refresh_token")) == 2


def test_a_revoked_grant_discards_the_tokens_and_asks_to_reconnect(site, alice):
    refresh_token = site.decrypt(site.link_row()["refresh_token_ciphertext"])
    assert site.revoke_at_provider(refresh_token) == 200
    site.expire_access_tokens()

    page = alice.get("/profile", instance=1)

    assert page.status_code == 200
    assert "Reconnect needed" in page.text
    assert "Reconnect Demo Provider" in page.text
    assert len(site.provider.recorder.token_requests("refresh_token")) == 1
    row = site.link_row()
    assert row["status"] == "reconnect_needed"
    assert all(row[column] is None for column in TOKEN_COLUMNS)
    # Signing in again restores the link with a new grant.
    assert alice.sign_in("alice").status_code == 303
    assert_connected(alice.get("/profile", instance=1))


def test_an_api_401_on_a_fresh_token_refreshes_once_and_retries(site, alice):
    old_access_token = site.decrypt(site.link_row()["access_token_ciphertext"])
    site.provider.recorder.fail("/api/profile", 401, {"error": "invalid_token"})

    page = alice.get("/profile", instance=1)

    assert_connected(page)
    assert len(site.provider.recorder.token_requests("refresh_token")) == 1
    first, retry = site.provider.recorder.calls("/api/profile")
    assert access_token_sent(first) == old_access_token
    assert access_token_sent(retry) == site.decrypt(site.link_row()["access_token_ciphertext"])
    assert access_token_sent(retry) != old_access_token


def test_a_page_waiting_on_the_provider_holds_no_transaction_open(site, alice):
    """The signed-in read is over before the provider is called: a slow provider must not leave
    transactions open on the database (they hold back VACUUM and count against
    idle_in_transaction_session_timeout)."""
    # A 500, which is not retried: one slow call, then the page says the provider is unavailable.
    site.provider.recorder.fail("/api/profile", 500, {"error": "server_error"}, delay=1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(alice.get, "/profile", 1)
        deadline = time.monotonic() + 10
        while not site.provider.recorder.calls("/api/profile") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert site.provider.recorder.calls("/api/profile"), "the provider was never called"
        open_while_waiting = site.open_transactions()
        page = pending.result()

    assert open_while_waiting == 0
    assert outcome(page) == "Unavailable"
    # The same page works again once the provider answers.
    assert_connected(alice.get("/profile", instance=1))


def test_pages_still_work_after_the_database_ended_the_pooled_connections(site, alice):
    """As after a database restart or failover: each worker's pooled connections are dead, and
    every one is found out and replaced before a request gets it."""
    assert Counter(outcome(page) for page in alice.storm(24)) == {"live profile": 24}
    assert site.end_connections() > 0
    time.sleep(pooled_connections.TRUSTED_FOR_SECONDS + 0.2)

    assert Counter(outcome(page) for page in alice.storm(24)) == {"live profile": 24}


def test_unlinking_while_the_provider_is_down_still_forgets_the_tokens(site, alice):
    assert alice.link("corp").status_code == 303
    assert site.link_row("corp")["access_token_ciphertext"] is not None
    site.corp.recorder.clear()
    # Down for the whole test, retries included.
    site.corp.recorder.fail("/revoke", 503, "<h1>Service Unavailable</h1>", times=100)

    answer = alice.submit("/profile", "/profile/unlink/corp", instance=1)

    assert answer.status_code == 303
    # Revocation was attempted, failed, and the link and its tokens are gone all the same.
    assert site.corp.recorder.calls("/revoke", "POST")
    assert site.link_row("corp") is None
    assert site.link_row("demo") is not None
    page = alice.get("/profile", instance=0)
    assert_connected(page)
    assert "Link Corp SSO" in page.text


def test_deleting_the_account_while_the_provider_is_down_removes_user_and_tokens(site, alice):
    # Down for the whole test, retries included.
    site.provider.recorder.fail("/revoke", 503, "<h1>Service Unavailable</h1>", times=100)

    answer = alice.submit("/profile", "/profile/delete", {"confirm": "yes"}, instance=1)

    assert answer.status_code == 303
    hints = [call.form["token_type_hint"][0] for call in site.provider.recorder.calls("/revoke")]
    # The refresh token first: revoking it ends the whole grant at most providers.
    assert hints[0] == "refresh_token"
    assert set(hints) == {"refresh_token", "access_token"}
    assert site.count("users") == 0
    assert site.count("linked_accounts") == 0
    assert alice.get("/profile", instance=0).status_code == 302


# -- The provider ends sessions: OpenID Connect Back-Channel Logout ----------------------------


def test_signing_out_at_the_provider_signs_the_browser_out_on_every_instance(site, alice):
    (session,) = site.session_rows()
    assert session["sid"]
    assert where_profile_leads(site, alice) == ["profile", "profile"]

    assert alice.sign_out_at_provider().status_code == 303
    site.wait_for_logout_deliveries()

    (session,) = site.session_rows()
    assert session["ended_at"] is not None
    assert session["end_reason"] == "provider"
    assert where_profile_leads(site, alice) == ["/login", "/login"]
    # The person is told who ended the session, once, by whichever instance sees it first.
    assert alice.get("/profile", instance=1).status_code == 302
    assert ENDED_BY_PROVIDER in alice.get("/login", instance=1).text
    assert ENDED_BY_PROVIDER not in alice.get("/login", instance=0).text
    assert alice.get("/profile", instance=0).status_code == 302


def test_a_sign_out_at_the_provider_ends_only_the_browser_it_happened_in(site, alice):
    other = site.browser()
    assert other.sign_in("alice").status_code == 303
    first, second = site.session_rows()
    # One person, two browsers, so two sessions at the provider.
    assert first["user_id"] == second["user_id"]
    assert first["sid"] != second["sid"]

    assert alice.sign_out_at_provider().status_code == 303
    site.wait_for_logout_deliveries()

    first, second = site.session_rows()
    assert first["end_reason"] == "provider"
    assert second["ended_at"] is None
    assert where_profile_leads(site, alice) == ["/login", "/login"]
    assert where_profile_leads(site, other) == ["profile", "profile"]


def test_a_logout_token_delivered_to_both_instances_at_once_is_accepted_once(site, alice):
    (session,) = site.session_rows()
    token = site.logout_token(session["subject"], session["sid"])
    accepted_before = site.count("accepted_logout_tokens")

    answers = concurrent_posts(
        [url + "/backchannel-logout/demo" for url in site.urls], {"logout_token": token}
    )

    assert sorted(answer.status_code for answer in answers) == [200, 400]
    refused = next(answer for answer in answers if answer.status_code == 400)
    assert refused.json()["error_description"] == "logout_token_replayed"
    assert site.count("accepted_logout_tokens") == accepted_before + 1
    (session,) = site.session_rows()
    assert session["end_reason"] == "provider"
    assert where_profile_leads(site, alice) == ["/login", "/login"]


# -- Races: two tabs, two clicks, two instances -------------------------------------------------


def test_unlinks_against_refreshes_on_two_instances_never_fail(site, alice):
    assert alice.link("corp").status_code == 303
    for _ in range(5):
        answers = alice.submit_together(
            "/profile", [("/profile/refresh/demo", {}, 0), ("/profile/unlink/demo", {}, 1)]
        )
        assert [answer.status_code for answer in answers] == [303, 303]
        assert site.link_row("demo") is None
        assert site.link_row("corp") is not None
        assert alice.link("demo").status_code == 303


def test_two_unlinks_at_once_leave_one_way_to_sign_in(site, alice):
    assert alice.link("corp").status_code == 303
    answers = alice.submit_together(
        "/profile", [("/profile/unlink/demo", {}, 0), ("/profile/unlink/corp", {}, 1)]
    )
    assert [answer.status_code for answer in answers] == [303, 303]
    assert site.count("linked_accounts") == 1


def test_two_deletions_at_once_delete_the_account_once(site, alice):
    delete = ("/profile/delete", {"confirm": "yes"})
    answers = alice.submit_together("/profile", [(*delete, 0), (*delete, 1)])
    # Each is a redirect, never an error: to the home page once the account is gone, or, for
    # one that arrives after the other has finished (its session went with the account), to
    # sign in.
    assert 303 in [answer.status_code for answer in answers]
    for answer in answers:
        assert answer.status_code == 303 or answer.headers["Location"].startswith("/login")
    assert site.count("users") == 0
    assert site.count("linked_accounts") == 0
    assert site.count("user_sessions") == 0


def test_the_same_callback_on_two_instances_at_once_signs_in_once(site):
    browser = site.browser()
    callback_url = browser.callback_url("alice")
    path = callback_url.removeprefix(site.base_url)
    answers = concurrent_gets([url + path for url in site.urls], browser.cookies())
    assert sorted(answer.status_code for answer in answers) == [303, 400]
    assert site.count("users") == 1


def test_two_first_sign_ins_of_one_person_at_once_make_one_account(site):
    browser = site.browser()
    paths = [browser.callback_url("alice").removeprefix(site.base_url) for _ in range(2)]
    urls = [url + path for url, path in zip(site.urls, paths, strict=True)]
    answers = concurrent_gets(urls, browser.cookies())
    assert [answer.status_code for answer in answers] == [303, 303]
    assert site.count("users") == 1
    assert site.count("linked_accounts") == 1


def test_rotating_the_encryption_key_instance_by_instance_keeps_every_link(own_site):
    site = own_site
    old, new = site.settings["TOKEN_ENCRYPTION_KEYS"], Fernet.generate_key().decode()
    browser = site.browser()
    assert browser.sign_in("alice").status_code == 303
    instances = range(len(site.instances))
    # 1. Each instance in turn learns the new key; none encrypts with it yet.
    for index in instances:
        site.restart(index, TOKEN_ENCRYPTION_KEYS=f"{old},{new}")
        assert_connected(browser.get("/profile", index))
    # 2. Each instance in turn encrypts with the new key; the others can already read it.
    site.restart(1, TOKEN_ENCRYPTION_KEYS=f"{new},{old}")
    site.expire_access_tokens()
    assert_connected(browser.get("/profile", 1))
    for column in TOKEN_COLUMNS:
        Fernet(new).decrypt(bytes(site.link_row()[column]))
    assert_connected(browser.get("/profile", 0))
    site.restart(0, TOKEN_ENCRYPTION_KEYS=f"{new},{old}")
    # 3. Everything stored moves to the new key; then the old key goes.
    result = site.run_cli("tokens", "reencrypt")
    assert result.returncode == 0, result.stderr
    assert "0 unreadable" in result.stdout
    # The DPoP key moved to the new key with the tokens bound to it.
    Fernet(new).decrypt(bytes(site.link_row()["dpop_key_ciphertext"]))
    for index in instances:
        site.restart(index, TOKEN_ENCRYPTION_KEYS=new)
    assert_connected(browser.get("/profile", 0))
    site.expire_access_tokens()
    assert_connected(browser.get("/profile", 1))
    assert len(site.provider.recorder.token_requests("refresh_token")) == 2
    assert site.link_row()["status"] == "connected"

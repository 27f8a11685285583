"""Full sign-in round trips per second against the demo provider.

One round trip is a new person's browser (fresh cookie jars for the client and the provider)
going all the way: GET /login, POST /login/demo, the provider's authorize endpoint, its login
page (password checked), its consent page, back to /callback/demo (code exchanged for tokens,
ID token verified, user and link stored), then GET /profile showing the live profile. Measured
first one browser after another, then with several browsers at once, on two gunicorn instances
of three gthread workers with four threads each. Alice and Bob take turns.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench import site
from bench.report import Result
from tests.e2e.deployment import Deployment

NAME = "sign-in"
TITLE = "Full sign-in round trips"
INSTANCES, WORKERS, THREADS = 2, 3, 4
BROWSERS = 4
USERS = ("alice", "bob")
TIME_LIMIT = 60.0
# Sign-in starts and callbacks are rate-limited per client address (60 a minute by default), and
# every browser here comes from 127.0.0.1: raised, so the figure is the flow's, not the limit's.
RATE_LIMIT = {"SIGN_IN_RATE_LIMIT": "100000 per minute"}
# What each user's profile page shows when the provider's API answered live.
LIVE_TEXT = {"alice": "Wonderland", "bob": "Sunflower Valley"}


def _round_trip(deployment: Deployment, username: str) -> float:
    """One full sign-in by a new browser; its duration in seconds."""
    started = time.perf_counter()
    browser = deployment.browser()
    try:
        answer = browser.sign_in(username)
        if answer.status_code != 303 or not answer.headers["Location"].endswith("/profile"):
            raise RuntimeError(f"callback answered {answer.status_code}")
        page = browser.get("/profile")
        if page.status_code != 200 or LIVE_TEXT[username] not in page.text:
            raise RuntimeError(f"profile after sign-in: {page.status_code}")
    finally:
        browser.close()
    return time.perf_counter() - started


def _sequential(deployment: Deployment, count: int) -> tuple[int, float, list[float]]:
    """`count` round trips by one browser after another."""
    started = time.perf_counter()
    durations = []
    for index in range(count):
        if time.perf_counter() - started > TIME_LIMIT:
            break
        durations.append(_round_trip(deployment, USERS[index % len(USERS)]))
    return len(durations), time.perf_counter() - started, durations


def _concurrent(deployment: Deployment, count: int) -> tuple[int, float, list[float]]:
    """`count` round trips by BROWSERS browsers at once."""
    lock = threading.Lock()
    remaining = iter(range(count))
    deadline = time.perf_counter() + TIME_LIMIT
    # Set when the run ends early (an error, Ctrl-C): the other browsers stop after their step.
    stop = threading.Event()

    def browse() -> list[float]:
        """One browser's round trips, until none are left."""
        durations = []
        while not stop.is_set() and time.perf_counter() < deadline:
            with lock:
                index = next(remaining, None)
            if index is None:
                break
            durations.append(_round_trip(deployment, USERS[index % len(USERS)]))
        return durations

    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=BROWSERS)
    try:
        browsers = [pool.submit(browse) for _ in range(BROWSERS)]
        durations = [duration for browser in browsers for duration in browser.result()]
    finally:
        stop.set()
        pool.shutdown(wait=True)
    return len(durations), time.perf_counter() - started, durations


def _figure(label: str, measured: tuple[int, float, list[float]]) -> str:
    """Sign-ins per second and the median round trip."""
    count, seconds, durations = measured
    ordered = sorted(durations)
    median = ordered[len(ordered) // 2] * 1000 if ordered else float("nan")
    return (
        f"{label}: {count / seconds:.1f} sign-ins/s ({count} in {seconds:.1f} s, "
        f"median {median:.0f} ms each)"
    )


def run(options: site.Options) -> Result:
    """Sequential round trips, then concurrent ones, on one deployment."""
    sequential_count, concurrent_count = (6, 12) if options.quick else (30, 60)
    with site.running(
        options, NAME, env=RATE_LIMIT, instances=INSTANCES, workers=WORKERS, threads=THREADS
    ) as running:
        deployment = running.deployment
        # Both users exist before browsers race: the first sign-in of a person creates them.
        for username in USERS:
            _round_trip(deployment, username)
        sequential = _sequential(deployment, sequential_count)
        concurrent = _concurrent(deployment, concurrent_count)
    return Result(
        title=TITLE,
        figures=[
            _figure("one browser at a time", sequential),
            _figure(f"{BROWSERS} browsers at once", concurrent),
        ],
        goal="none set (figure only)",
        met=None,
        notes=[
            "each round trip a new browser: login page, start, authorize, provider login and",
            "consent, callback, profile page; provider on",
            f"{options.provider_server} in the benchmark process; {INSTANCES} gunicorn instances",
            f"x {WORKERS} gthread workers x {THREADS} threads; sign-in rate limit raised (all",
            "browsers share one address). The provider's password check (scrypt) alone takes",
            "tens of milliseconds of CPU.",
        ],
    )

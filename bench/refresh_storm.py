"""Refresh storm: many concurrent profile requests for one user whose access token has expired.

Two gunicorn instances of three gthread workers with four threads each share one PostgreSQL
database. Alice signs in; her stored access token is then marked expired and N requests
(default 50) for /profile, each on its own new connection, spread round-robin over both
instances, are released together by a barrier. Counts the refresh requests the demo provider
received (goal: exactly one, the others wait for it and use its result), the requests that did
not show the live profile (goal: none), and the storm's wall time. Full run: three storms in a
row (the rotated refresh token must work for the next one); --quick: one.
"""

from __future__ import annotations

import time
from collections import Counter

from bench import site
from bench.report import Result

NAME = "refresh-storm"
TITLE = "Refresh storm"
INSTANCES, WORKERS, THREADS = 2, 3, 4


def run(options: site.Options) -> Result:
    """One deployment, one signed-in user, one storm after another."""
    storms = 1 if options.quick else 3
    refreshes: list[int] = []
    failures: Counter[str] = Counter()
    walls: list[float] = []
    slowest: list[float] = []
    with site.running(
        options, NAME, instances=INSTANCES, workers=WORKERS, threads=THREADS
    ) as running:
        deployment = running.deployment
        browser = site.signed_in(deployment)
        recorder = deployment.provider.recorder
        for _ in range(storms):
            if deployment.expire_access_tokens() != 1:
                raise RuntimeError("expected exactly one stored link to expire")
            recorder.clear()
            started = time.perf_counter()
            pages = browser.storm(options.storm)
            walls.append(time.perf_counter() - started)
            slowest.append(max(page.elapsed.total_seconds() for page in pages))
            refreshes.append(len(recorder.token_requests("refresh_token")))
            failures.update(
                outcome for outcome in map(site.outcome, pages) if outcome != "live profile"
            )
    failed = sum(failures.values())
    failure_kinds = f" ({', '.join(f'{n} {kind}' for kind, n in failures.items())})"
    return Result(
        title=TITLE,
        figures=[
            f"refresh calls at the provider per storm: {', '.join(map(str, refreshes))}",
            f"failed requests: {failed} of {storms * options.storm}"
            + (failure_kinds if failed else ""),
            "wall time per storm: " + ", ".join(f"{wall * 1000:.0f} ms" for wall in walls),
            "slowest request: " + ", ".join(f"{seconds * 1000:.0f} ms" for seconds in slowest),
        ],
        goal="1 refresh call per storm, 0 failed requests",
        met=all(count == 1 for count in refreshes) and failed == 0,
        notes=[
            f"{options.storm} concurrent GET /profile, each on a new connection, released",
            f"together, round-robin over {INSTANCES} gunicorn instances ({WORKERS} gthread",
            f"workers x {THREADS} threads each) sharing one PostgreSQL database; the access token",
            f"expired before each storm; {storms} storm{'s' if storms > 1 else ''} in a row.",
        ],
    )

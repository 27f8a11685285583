"""Refresh storm: many concurrent profile requests for one user whose access token has expired.

Two gunicorn instances of three gthread workers with four threads each share one PostgreSQL
database. Alice signs in; her stored access token is then marked expired and N requests
(default 50) for /profile, each on its own new connection, spread round-robin over both
instances, are released together by a barrier. Counts the refresh requests the demo provider
received (goal: exactly one, the others wait for it and use its result), the requests that did
not show the live profile (goal: none), and the storm's wall time. Full run: three storms in a
row (the rotated refresh token must work for the next one); --quick: one. The storms run with
DPoP-bound tokens, as `make run` signs in, then again on a deployment with `DEMO_DPOP=off`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench import site
from bench.report import Result
from tests.e2e.deployment import Deployment

NAME = "refresh-storm"
TITLE = "Refresh storm"
INSTANCES, WORKERS, THREADS = 2, 3, 4


@dataclass
class Storms:
    """What one deployment's storms came to."""

    refreshes: list[int] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    walls: list[float] = field(default_factory=list)
    slowest: list[float] = field(default_factory=list)


def _storms(options: site.Options, name: str, env: dict[str, str] | None = None) -> Storms:
    """One deployment, one signed-in user, one storm after another."""
    measured = Storms()
    with site.running(
        options, name, env=env, instances=INSTANCES, workers=WORKERS, threads=THREADS
    ) as running:
        deployment = running.deployment
        browser = site.signed_in(deployment)
        for _ in range(1 if options.quick else 3):
            storm = site.refresh_storm(
                deployment, browser, options.storm, Deployment.expire_access_tokens
            )
            measured.walls.append(storm.seconds)
            measured.slowest.append(max(page.elapsed.total_seconds() for page in storm.pages))
            measured.refreshes.append(storm.refreshes)
            measured.failures.update(
                outcome for outcome in map(site.outcome, storm.pages) if outcome != "live profile"
            )
    return measured


def _milliseconds(seconds: list[float]) -> str:
    return ", ".join(f"{value * 1000:.0f} ms" for value in seconds)


def run(options: site.Options) -> Result:
    """The storms with DPoP-bound tokens, then with bearer tokens."""
    dpop_bound = _storms(options, NAME)
    bearer = _storms(options, NAME + "-bearer", env={"DEMO_DPOP": "off"})
    storms = len(dpop_bound.walls)
    refreshes = dpop_bound.refreshes + bearer.refreshes
    failures = dpop_bound.failures + bearer.failures
    failed = sum(failures.values())
    failure_kinds = f" ({', '.join(f'{n} {kind}' for kind, n in failures.items())})"
    return Result(
        title=TITLE,
        figures=[
            f"refresh calls at the provider per storm: {', '.join(map(str, refreshes))}",
            f"failed requests: {failed} of {2 * storms * options.storm}"
            + (failure_kinds if failed else ""),
            f"wall time per storm, DPoP (as `make run`): {_milliseconds(dpop_bound.walls)}; "
            f"bearer tokens: {_milliseconds(bearer.walls)}",
            f"slowest request, DPoP: {_milliseconds(dpop_bound.slowest)}; "
            f"bearer tokens: {_milliseconds(bearer.slowest)}",
        ],
        goal="1 refresh call per storm, 0 failed requests",
        met=all(count == 1 for count in refreshes) and failed == 0,
        notes=[
            f"{options.storm} concurrent GET /profile, each on a new connection, released",
            f"together, round-robin over {INSTANCES} gunicorn instances ({WORKERS} gthread",
            f"workers x {THREADS} threads each) sharing one PostgreSQL database; the access token",
            f"expired before each storm; {storms} storm{'s' if storms > 1 else ''} in a row,",
            "with DPoP-bound tokens, then on a second deployment with DEMO_DPOP=off.",
        ],
    )

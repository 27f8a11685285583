"""Profile page throughput and latency under gunicorn, beside its ceiling.

One gunicorn instance with the checked-in settings' default concurrency (2 gthread workers of 8
threads) serves both the real `/profile` (signed-in user, valid access token: session cookie,
user and link from PostgreSQL, token decrypted, one call to the provider's API, page rendered)
and `/bench/ceiling` from bench/ceiling_app.py (the same single upstream call through the app's
own pooled connections, nothing else). Each gets the same load from 16 client threads with
kept-alive connections: a warm-up, then turns of a fixed number of requests or seconds,
whichever ends first, the routes taking turns (in reverse order every other round) so that all
meet the same conditions on a shared machine. Reports requests per second, p50 and p99
latency, the profile's share of the ceiling's throughput, and the CPU each process spent per
request (what limits the figures on a small machine).

The profile is measured twice: as `make run` signs in, with DPoP-bound tokens (the demo provider
offers DPoP and `DEMO_DPOP=auto` uses it: a proof signed for every API call, and checked there),
and on a second deployment with `DEMO_DPOP=off` (bearer tokens), in the same turns.
"""

from __future__ import annotations

import os
import statistics

from bench import ceiling_app, cpu, load, site
from bench.report import Result
from tests.e2e.deployment import gunicorn_command

NAME = "throughput"
TITLE = "Profile page throughput and latency"
GOAL_SHARE = 0.85
CONCURRENCY = 16
WORKERS = 2
THREADS = 8


def ceiling_command(port: int, workers: int, threads: int) -> list[str]:
    """The checked-in gunicorn configuration serving the app with the ceiling route."""
    return [*gunicorn_command(port, workers, threads), "bench.ceiling_app:create_app()"]


def _summary(result: load.LoadResult) -> str:
    """Throughput and latency in a few words."""
    failed = f", {result.failed} failed" if result.failed else ""
    return (
        f"{result.rate:.0f} req/s, p50 {result.percentile(0.50):.1f} ms, "
        f"p99 {result.percentile(0.99):.1f} ms{failed}"
    )


def _cpu(usage: cpu.Usage, result: load.LoadResult) -> str:
    """CPU milliseconds per request by process, the provider's share of its one interpreter,
    and how busy the machine was: what limited the run."""
    count = max(1, result.ok + result.failed)
    parts = {
        "app workers": usage.workers,
        "provider": usage.provider,
        "PostgreSQL": usage.database,
        "load generator": result.cpu_seconds,
    }
    per_request = ", ".join(
        f"{name} {seconds / count * 1000:.2f}" for name, seconds in parts.items()
    )
    seconds = result.seconds or 1.0
    # Whatever else kept the machine busy was not this benchmark: other work skews the figures.
    own = sum(parts.values()) / (seconds * (os.cpu_count() or 1))
    return (
        f"{per_request} (provider busy {usage.provider / seconds:.0%} of one core; "
        f"machine CPU busy {usage.machine_busy:.0%}, {own:.0%} by this benchmark)"
    )


def _measure(routes: dict[str, tuple[list[load.Target], str, site.Site]], quick: bool):
    """Warm every route up, then measure them in short turns (so all meet the same conditions
    on a shared machine whose speed drifts), recording the CPU used by every process of the
    route's deployment; results by route, and each route's requests per second turn by turn."""
    rounds, requests, seconds, warmup = (1, 1000, 5.0, 200) if quick else (6, 1250, 4.0, 500)
    for targets, expect, _ in routes.values():
        load.run(targets, concurrency=CONCURRENCY, requests=warmup, seconds=seconds, expect=expect)
    runs: dict[str, list[tuple[load.LoadResult, cpu.Usage]]] = {name: [] for name in routes}
    for number in range(rounds):
        # The order is reversed every other round, so that no route always runs right after the
        # same one: whatever a turn leaves behind (the provider's writes, say) falls on each.
        order = list(routes) if number % 2 == 0 else list(reversed(routes))
        for name in order:
            targets, expect, running = routes[name]
            meter = cpu.Meter(running.deployment)
            meter.start()
            result = load.run(
                targets, concurrency=CONCURRENCY, requests=requests, seconds=seconds, expect=expect
            )
            runs[name].append((result, meter.stop()))
    combined = {name: _combined(measured) for name, measured in runs.items()}
    rates = {name: [result.rate for result, _ in measured] for name, measured in runs.items()}
    return combined, rates


def _combined(measured: list[tuple[load.LoadResult, cpu.Usage]]):
    """Turns of one route as one run: CPU added up, machine load weighted by each turn's time."""
    results = [result for result, _ in measured]
    seconds = sum(result.seconds for result in results) or 1.0
    usage = cpu.Usage(
        workers=sum(usage.workers for _, usage in measured),
        database=sum(usage.database for _, usage in measured),
        provider=sum(usage.provider for _, usage in measured),
        machine_busy=sum(usage.machine_busy * r.seconds for r, usage in measured) / seconds,
    )
    return load.combined(results), usage


def run(options: site.Options) -> Result:
    """The routes measured on two deployments alike but for DPoP, in the same turns."""
    deployment_settings = {
        "instances": 1,
        "workers": WORKERS,
        "threads": THREADS,
        "command": ceiling_command,
    }
    with (
        site.running(options, NAME, **deployment_settings) as running,
        site.running(
            options, NAME + "-bearer", env={"DEMO_DPOP": "off"}, **deployment_settings
        ) as bearer_site,
    ):
        deployment = running.deployment
        browser = site.signed_in(deployment)
        link = deployment.link_row()
        if link["dpop_key_ciphertext"] is None:
            raise RuntimeError("the default deployment did not bind its tokens with DPoP")
        bearer_browser = site.signed_in(bearer_site.deployment)
        if bearer_site.deployment.link_row()["dpop_key_ciphertext"] is not None:
            raise RuntimeError("DEMO_DPOP=off still bound the tokens")
        # The ceiling makes the profile's upstream call: the DPoP deployment's token and key.
        ceiling_target = load.Target(
            port=deployment.instances[0].port,
            path="/bench/ceiling",
            headers=ceiling_app.request_headers(
                deployment.decrypt(link["access_token_ciphertext"]),
                deployment.decrypt(link["dpop_key_ciphertext"]),
            ),
        )
        bearer = bearer_site.deployment
        measured, rates = _measure(
            {
                "ceiling": ([ceiling_target], "Alice", running),
                "profile": (
                    site.profile_targets(deployment, browser),
                    site.LIVE_PROFILE_TEXT,
                    running,
                ),
                "bearer": (
                    site.profile_targets(bearer, bearer_browser),
                    site.LIVE_PROFILE_TEXT,
                    bearer_site,
                ),
            },
            options.quick,
        )
    (ceiling, ceiling_cpu), (profile, profile_cpu) = measured["ceiling"], measured["profile"]
    bearer_profile, bearer_cpu = measured["bearer"]
    share = profile.rate / ceiling.rate if ceiling.rate else 0.0
    # Each profile turn against the ceiling turn beside it (just before or just after it): the
    # machine's drift between the two is small. The goal is judged on the median of these,
    # which one lucky or unlucky turn cannot move.
    pairs = sorted(p / c for p, c in zip(rates["profile"], rates["ceiling"], strict=True) if c)
    median = statistics.median(pairs) if pairs else 0.0
    spread = f", turns {pairs[0]:.0%} to {pairs[-1]:.0%}" if len(pairs) > 1 else ""
    dpop_cost = 1 - profile.rate / bearer_profile.rate if bearer_profile.rate else 0.0
    return Result(
        title=TITLE,
        figures=[
            f"profile, DPoP-bound tokens (as `make run`): {_summary(profile)}",
            f"profile, bearer tokens (DEMO_DPOP=off): {_summary(bearer_profile)}",
            f"ceiling: {_summary(ceiling)}",
            f"profile / ceiling: median of the turns {median:.0%}{spread} (all turns "
            f"together {share:.0%})",
            f"DPoP's cost in throughput: {dpop_cost:.0%} (a proof signed here, checked there)",
        ],
        goal=f"profile ≥ {GOAL_SHARE:.0%} of the ceiling's req/s (median of the turns), "
        "no failures",
        met=median >= GOAL_SHARE and not profile.failed,
        notes=[
            f"1 gunicorn instance, {WORKERS} gthread workers x {THREADS} threads;",
            f"{CONCURRENCY} keep-alive client threads in a separate process;",
            "a warm-up, then the routes in turns, each turn a fixed count of requests or",
            f"seconds{' (short run)' if options.quick else ', 6 turns each'}, in reverse order",
            "every other round.",
            f"Upstream: the demo provider on {options.provider_server} in the benchmark process",
            "(one interpreter); everything shares the machine's cores.",
            f"CPU ms per request — profile: {_cpu(profile_cpu, profile)};",
            f"profile with bearer tokens: {_cpu(bearer_cpu, bearer_profile)};",
            f"ceiling: {_cpu(ceiling_cpu, ceiling)}.",
            "The two profiles run on two deployments alike but for DEMO_DPOP, each with its",
            "own demo provider; the ceiling makes the DPoP-bound call, proof and all.",
        ],
    )

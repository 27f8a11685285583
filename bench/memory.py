"""Resident memory per gunicorn worker over many profile views: it must not grow with the views.

One gunicorn instance with the checked-in settings' default concurrency (2 gthread workers of 8
threads) serves 10,000 profile views (--quick: 2,000) for a signed-in user with a valid access
token, from 8 client threads with kept-alive connections. Each worker's resident set (VmRSS)
and peak (VmHWM) are read from /proc after the first 1,000 views and after every further 3,000
(--quick: 1,000); the growth from the first reading to the last is the figure that shows a leak.
"""

from __future__ import annotations

from pathlib import Path

from bench import load, site
from bench.report import Result

NAME = "memory"
TITLE = "Resident memory per gunicorn worker"
WORKERS, THREADS = 2, 8
CONCURRENCY = 8
FIRST = 1000
# About 5% of a worker. The allocator grows a worker's heap in steps of a MiB or so as more of
# its threads get busy at once, whatever the number of views; a leak of half a KiB per view
# adds more than this over 9,000 views.
GOAL_GROWTH_KIB = 4096
TIME_LIMIT = 120.0


def worker_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0])
    return values


def _views(targets: list[load.Target], count: int) -> load.LoadResult:
    """`count` profile views, all of them made in time."""
    result = load.run(
        targets,
        concurrency=CONCURRENCY,
        requests=count,
        seconds=TIME_LIMIT,
        expect=site.LIVE_PROFILE_TEXT,
    )
    if result.ok + result.failed < count:
        raise RuntimeError(f"only {result.ok + result.failed} of {count} views in time")
    return result


def run(options: site.Options) -> Result:
    """All the views on one deployment, with a reading of each worker after every chunk."""
    total = 2000 if options.quick else 10_000
    chunk = 1000 if options.quick else 3000
    samples: list[tuple[int, dict[int, dict[str, int]]]] = []
    with site.running(options, NAME, instances=1, workers=WORKERS, threads=THREADS) as running:
        deployment = running.deployment
        instance = deployment.instances[0]
        browser = site.signed_in(deployment)
        targets = site.profile_targets(deployment, browser)
        pids = instance.worker_pids()
        failed = 0
        done = 0
        # The first thousand, then the rest in chunks, with a reading after each.
        while done < total:
            count = FIRST if done == 0 else min(chunk, total - done)
            failed += _views(targets, count).failed
            done += count
            samples.append((done, {pid: worker_memory(pid) for pid in pids}))
        if instance.worker_pids() != pids:
            raise RuntimeError("a worker was replaced during the run")
    early, late = samples[0][1], samples[-1][1]
    growth = {pid: late[pid]["VmRSS"] - early[pid]["VmRSS"] for pid in pids}
    peak = max(late[pid]["VmHWM"] for pid in pids)
    trends = [
        f"worker {number}: "
        + " → ".join(f"{reading[pid]['VmRSS'] / 1024:.1f}" for _, reading in samples)
        + " MiB"
        for number, pid in enumerate(pids, 1)
    ]
    return Result(
        title=TITLE,
        figures=[
            f"RSS after {', '.join(f'{views:,}' for views, _ in samples)} views:",
            *trends,
            "growth from the first 1,000 to the last: "
            + ", ".join(f"{kib / 1024:+.1f} MiB" for kib in growth.values()),
            f"peak (VmHWM): {site.mib(peak)}; failed views: {failed}",
        ],
        goal=f"RSS growth ≤ {GOAL_GROWTH_KIB // 1024} MiB per worker after the first {FIRST:,}",
        met=max(growth.values()) <= GOAL_GROWTH_KIB and not failed,
        notes=[
            f"{total:,} GET /profile with a valid token, {CONCURRENCY} keep-alive client threads;",
            f"1 gunicorn instance, {WORKERS} gthread workers x {THREADS} threads; figures per",
            "worker, read from /proc/<pid>/status.",
        ],
    )

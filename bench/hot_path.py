"""`python -m bench.hot_path`: where a profile view's CPU goes under load, to know what to make
faster before making anything faster.

The throughput benchmark's deployment (one gunicorn instance, 2 gthread workers x 8 threads, the
demo provider in this process, DPoP-bound tokens as `make run` signs in) serves profile views
from 16 keep-alive client threads, while py-spy samples the worker thread that holds the
interpreter lock (the one running Python). The samples are reduced to the functions that hold
the CPU (self time) and the ones that lead to it (inclusive time), and written to
bench/results/hot-path.md. `--with-waits` samples every busy thread instead, threads blocked on
a socket included: where a request's time goes, waits on the provider and PostgreSQL with it.
py-spy needs to attach to the workers (ptrace): root, or `kernel.yama.ptrace_scope=0`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench import load, site
from bench.__main__ import DEFAULT_DATABASE_URL
from bench.report import machine_facts, postgres_version
from bench.throughput import CONCURRENCY, THREADS, WORKERS

RESULTS = Path(__file__).resolve().parent / "results" / "hot-path.md"
_CPU_ONLY = (
    "Only the thread holding the interpreter lock was sampled (py-spy --gil): the shares say "
    "where the workers' CPU goes. Waits on the provider and PostgreSQL are left out "
    "(`--with-waits` shows them)."
)
_WITH_WAITS = (
    "py-spy leaves out threads that look idle, but a thread blocked reading a socket still "
    "counts, so the waits on the provider (`readinto`) and on PostgreSQL (psycopg's `wait`) "
    "show beside the CPU: the shares say where a busy worker thread's time goes."
)
SAMPLE_SECONDS = 20
TOP = 40


def _frame_name(frame: str) -> str:
    """`function (path:line)` from py-spy's raw frame, with the path made short."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/", "/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def _reduce(raw: Path) -> tuple[Counter[str], Counter[str], int]:
    """Self and inclusive sample counts per function, and the total, from py-spy's raw
    (collapsed stacks) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame_name(frame) for frame in stack.split(";") if frame]
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return own, inclusive, total


def _table(counts: Counter[str], total: int) -> list[str]:
    rows = ["| share | function (module) |", "| --- | --- |"]
    rows += [
        f"| {count / total:.1%} | `{name}` |" for name, count in counts.most_common(TOP) if total
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_path", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--seconds", type=int, default=SAMPLE_SECONDS)
    parser.add_argument(
        "--with-waits",
        action="store_true",
        help="sample every busy thread, waits on sockets included (default: CPU only)",
    )
    arguments = parser.parse_args()
    # Beside this interpreter (a virtual environment's bin), else on PATH.
    beside = Path(sys.executable).parent / "py-spy"
    py_spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install '.[bench]'")
    site.quiet_logging()
    started, load_at_start = datetime.now(UTC), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as workdir:
        options = site.Options(
            quick=True, database_url=arguments.database_url, workdir=Path(workdir)
        )
        with site.running(
            options, "hot-path", instances=1, workers=WORKERS, threads=THREADS
        ) as running:
            deployment = running.deployment
            targets = site.profile_targets(deployment, site.signed_in(deployment))
            load.run(targets, concurrency=CONCURRENCY, requests=300, seconds=10, expect=None)
            pids = deployment.instances[0].worker_pids()
            outputs = [Path(workdir) / f"worker-{pid}.txt" for pid in pids]
            # Load for longer than the sampling, so that every sample is of a busy worker.
            driver = threading.Thread(
                target=load.run,
                args=(targets,),
                kwargs={
                    "concurrency": CONCURRENCY,
                    "requests": 10**6,
                    "seconds": arguments.seconds + 5,
                    "expect": site.LIVE_PROFILE_TEXT,
                },
            )
            driver.start()
            samplers = [
                subprocess.Popen(  # noqa: S603 (py-spy from PATH, arguments of our own)
                    [
                        py_spy,
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(arguments.seconds),
                        "--format",
                        "raw",
                        "--nonblocking",
                        *([] if arguments.with_waits else ["--gil"]),
                        "-o",
                        str(output),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for pid, output in zip(pids, outputs, strict=True)
            ]
            for sampler in samplers:
                sampler.wait()
            driver.join()
        own: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = 0
        for output in outputs:
            worker_own, worker_inclusive, worker_total = _reduce(output)
            own += worker_own
            inclusive += worker_inclusive
            total += worker_total
    lines = [
        machine_facts(postgres_version(arguments.database_url), started, load_at_start),
        "",
        f"Run: `python -m bench.hot_path{' --with-waits' if arguments.with_waits else ''}`. "
        f"py-spy sampled the {len(pids)} gunicorn workers of the throughput deployment for "
        f"{arguments.seconds} s under load from {CONCURRENCY} client threads (profile views, "
        f"DPoP-bound tokens). {_WITH_WAITS if arguments.with_waits else _CPU_ONLY}",
        "",
        "Self time (the function itself was running"
        f"{', or blocked on a socket' if arguments.with_waits else ''}):",
        "",
        *_table(own, total),
        "",
        "Inclusive time (the function or what it called):",
        "",
        *_table(inclusive, total),
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

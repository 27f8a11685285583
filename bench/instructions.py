"""`python -m bench.instructions`: the instructions one profile view costs, counted by valgrind's
callgrind, beside the ceiling's bare upstream call: a figure that does not move with the host.

Timing figures on a shared machine drift with its neighbours' load (benchmark 4's CPU per view
rose by more than half within one day here); an instruction count does not, to a fraction of a
percent between runs. It is the figure to judge a change to the code by: run it before and after.

Each route is measured in a process of its own, run under callgrind with instrumentation off:
the real app in process as benchmark 4 builds it (PostgreSQL, the flow inspector off, Alice
signed in through the demo provider, DPoP-bound tokens), the provider live on 127.0.0.1 with
kept-alive connections as in the deployments, some warm-up views, then callgrind is switched on
(`callgrind_control -i on`) for the counted views only. Only the main thread's instructions
count: the demo provider answers from other threads of the same process. Needs valgrind
(Debian: apt-get install valgrind).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from accounts import tokens
from bench import ceiling_app, provider_server, queries, site
from bench.__main__ import DEFAULT_DATABASE_URL
from bench.report import machine_facts, postgres_version
from extensions import db
from models import LinkedAccount
from tests.e2e import live_demo

RESULTS = Path(__file__).resolve().parent / "results" / "instructions.md"
VIEWS = 50
WARMUP_VIEWS = 20
ROUTES = {
    "profile": "profile page (DPoP-bound token, as `make run` signs in)",
    "ceiling": "ceiling: the same upstream call alone (bench/ceiling_app.py)",
}


def _instrument(switch: str) -> None:
    """Turn callgrind's counting in this process on or off."""
    subprocess.run(  # noqa: S603 (valgrind's own tool, arguments of our own)
        ["callgrind_control", "-i", switch, str(os.getpid())],  # noqa: S607
        check=True,
        capture_output=True,
    )


def _count_views(route: str, views: int, workdir: Path, database_url: str) -> None:
    """In the process callgrind runs: warm up, then serve `views` requests to `route` with
    counting on, and nothing else."""
    site.quiet_logging()
    # A provider that keeps its connections alive, as the deployments' does (bench/site.py).
    live_demo.LiveServer = provider_server.KeepAliveServer
    prepare = ceiling_app.add_route if route == "ceiling" else None
    with queries.in_process_app(workdir, database_url, prepare) as (flask_app, client, _):
        path, headers, expected = "/profile", {}, site.LIVE_PROFILE_TEXT
        if route == "ceiling":
            with flask_app.app_context():
                link = db.session.execute(db.select(LinkedAccount)).scalar_one()
                headers = ceiling_app.request_headers(
                    tokens.decrypt(link.access_token_ciphertext),
                    tokens.decrypt(link.dpop_key_ciphertext),
                )
            path, expected = "/bench/ceiling", "Alice"
        for _ in range(WARMUP_VIEWS):
            page = client.get(path, headers=headers)
        if expected not in page.get_data(as_text=True):
            raise RuntimeError(f"{route} did not answer as expected: {page.status_code}")
        _instrument("on")
        for _ in range(views):
            client.get(path, headers=headers)
        _instrument("off")


def _measure(route: str, views: int, database_url: str, workdir: Path) -> float:
    """Instructions per request to `route`, from a run of its own under callgrind."""
    output = workdir / f"callgrind-{route}"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={output}.%p",
        sys.executable,
        "-m",
        "bench.instructions",
        "--count",
        route,
        "--views",
        str(views),
        "--database-url",
        database_url,
        "--workdir",
        str(workdir / route),
    ]
    completed = subprocess.run(  # noqa: S603 (valgrind, arguments of our own)
        command, cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{route}: the counted run failed:\n{completed.stderr[-2000:]}")
    # Thread 1 is the main thread, the one that served the counted views.
    (main_thread,) = workdir.glob(f"callgrind-{route}.*-01")
    totals = next(
        line for line in main_thread.read_text().splitlines() if line.startswith("totals:")
    )
    return int(totals.split()[1]) / views


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--views", type=int, default=VIEWS)
    # The counted run's own arguments (this module, run again under callgrind).
    parser.add_argument("--count", choices=ROUTES, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.count:
        _count_views(arguments.count, arguments.views, arguments.workdir, arguments.database_url)
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    started, load_at_start = datetime.now(UTC), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as workdir:
        counts = {
            route: _measure(route, arguments.views, arguments.database_url, Path(workdir))
            for route in ROUTES
        }
    lines = [
        machine_facts(postgres_version(arguments.database_url), started, load_at_start),
        "",
        f"Run: `python -m bench.instructions`. Instructions per request, counted by callgrind "
        f"over {arguments.views} requests after {WARMUP_VIEWS} warm-up ones, main thread only "
        "(the app in process with Flask's test client; the demo provider answers from other "
        "threads):",
        "",
        *(f"- {ROUTES[route]}: {count / 1e6:.2f} million" for route, count in counts.items()),
        f"- profile / ceiling: {counts['profile'] / counts['ceiling']:.2f}x",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""`python -m bench`: run the benchmarks, print one markdown table with the machine it ran on,
and keep a full run's table in bench/results/latest.md. `--quick` for a short run, `--only NAME`
for some of them (names: see `--help`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import OperationalError

from bench import (
    connections,
    dpop_proof,
    memory,
    provider_server,
    queries,
    refresh_storm,
    side_by_side,
    sign_in,
    site,
    throughput,
)
from bench.report import Result, machine_facts, postgres_version, table

BENCHMARKS = (
    refresh_storm,
    throughput,
    connections,
    queries,
    sign_in,
    memory,
    dpop_proof,
    side_by_side,
)
RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_STORM = 50
SETUP = (
    "Except the in-process query count, each benchmark deploys the app afresh with "
    "tests/e2e/deployment.py: gunicorn on a throwaway "
    "PostgreSQL database, plain http on 127.0.0.1, the flow inspector off as in production, "
    "the demo provider in the benchmark process. The side-by-side comparison deploys its peer "
    "apps (bench/peers/) the same way."
)
DEFAULT_PROVIDER_SERVER = "cheroot"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line, parsed."""
    names = [benchmark.NAME for benchmark in BENCHMARKS]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (a few minutes)")
    parser.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(names)}",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="any URL on the PostgreSQL server to deploy on (default: $TEST_DATABASE_URL, "
        f"else {DEFAULT_DATABASE_URL}); each benchmark creates and drops its own database",
    )
    parser.add_argument(
        "--storm", type=int, default=DEFAULT_STORM, help="concurrent requests in the refresh storm"
    )
    parser.add_argument(
        "--provider-server",
        choices=sorted(provider_server.SERVERS),
        default=DEFAULT_PROVIDER_SERVER,
        help="the demo provider's HTTP server: cheroot keeps connections alive like a real "
        "provider (default); werkzeug, the tests' server, closes each one",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="write the table here too (a full run with default settings writes "
        "bench/results/latest.md)",
    )
    return parser.parse_args(argv)


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so every deployment is stopped on the way out."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _run(benchmark, options: site.Options) -> tuple[Result, bool, float]:
    """One benchmark's result, whether it ran, and its seconds; a failure is reported, not
    raised."""
    started = time.monotonic()
    print(f"running {benchmark.NAME} ...", file=sys.stderr, flush=True)
    try:
        result, ran = benchmark.run(options), True
    except Exception as error:
        traceback.print_exc()
        result, ran = (
            Result(
                title=benchmark.TITLE,
                figures=[f"did not run: {type(error).__name__}: {error}".splitlines()[0][:200]],
                goal="—",
                met=None,
            ),
            False,
        )
    seconds = time.monotonic() - started
    print(f"  {benchmark.NAME}: {seconds:.0f} s", file=sys.stderr, flush=True)
    return result, ran, seconds


def _took(chosen: list, runs: list[tuple[Result, bool, float]], total: float) -> str:
    """How long the run took, and each benchmark of several: a run's length is one of its
    figures (`--only peers` should take under five minutes)."""
    if len(runs) == 1:
        return f"Took {total:.0f} s."
    each = ", ".join(
        f"{b.NAME} {seconds:.0f} s" for b, (_, _, seconds) in zip(chosen, runs, strict=True)
    )
    return f"Took {total:.0f} s ({each})."


def _command(arguments: argparse.Namespace) -> str:
    """The command line that reproduces the run (without the database URL, which may hold a
    password, or the output file)."""
    words = ["python -m bench"]
    if arguments.quick:
        words.append("--quick")
    words += [f"--only {name}" for name in arguments.only or []]
    if arguments.storm != DEFAULT_STORM:
        words.append(f"--storm {arguments.storm}")
    if arguments.provider_server != DEFAULT_PROVIDER_SERVER:
        words.append(f"--provider-server {arguments.provider_server}")
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and publish the table; 1 if one could not run at all."""
    arguments = _arguments(argv)
    _stop_on_sigterm()
    site.quiet_logging()
    chosen = [b for b in BENCHMARKS if not arguments.only or b.NAME in arguments.only]
    load_at_start, started_at = os.getloadavg()[0], datetime.now(UTC)
    try:
        postgres = postgres_version(arguments.database_url)
    except OperationalError as error:
        print(f"PostgreSQL is not reachable ({error.orig}); see --database-url", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        options = site.Options(
            quick=arguments.quick,
            database_url=arguments.database_url,
            workdir=Path(workdir),
            storm=arguments.storm,
            provider_server=arguments.provider_server,
        )
        runs = [_run(benchmark, options) for benchmark in chosen]
    total = time.monotonic() - started
    header = machine_facts(postgres, started_at, load_at_start)
    command = _command(arguments)
    output = table(
        header,
        [result for result, _, _ in runs],
        command=command,
        setup=f"{_took(chosen, runs, total)} {SETUP}",
    )
    print(output)
    print(f"total: {total:.0f} s", file=sys.stderr)
    # Only a full run with the default settings replaces the published table.
    targets = [arguments.output] if arguments.output else []
    if command == "python -m bench":
        targets.append(RESULTS)
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(output)
        print(f"written to {target}", file=sys.stderr)
    if not targets:
        print("not a full run: the table was not written (--output FILE keeps it)", file=sys.stderr)
    return 0 if all(ran for _, ran, _ in runs) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # Every deployment's context has stopped its processes and dropped its database.
        print("interrupted: every process this run started is stopped", file=sys.stderr)
        sys.exit(130)

"""What a benchmark returns (`Result`), the machine it ran on, and the markdown table that
`python -m bench` prints and writes to bench/results/latest.md.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One benchmark's figures against its goal; `notes` say how it was set up; `details`, a
    markdown block of its own (a table too wide for one cell), printed below the notes."""

    title: str
    figures: list[str]
    goal: str
    met: bool | None
    notes: list[str] = field(default_factory=list)
    details: str = ""


def machine_facts(postgres: str, started: datetime, load_at_start: float) -> str:
    """CPU model and count, memory, Python, PostgreSQL, commit, date, and the machine's load
    average at the start (other work on the same cores skews every figure), on one line."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    cpus = sum(1 for line in cpuinfo.splitlines() if line.startswith("processor")) or os.cpu_count()
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    facts = [
        f"{cpus} x {model}",
        f"{memory_kib / 1024 / 1024:.0f} GiB RAM",
        f"Python {platform.python_version()}",
        postgres,
        _commit(),
        started.strftime("%Y-%m-%d %H:%M UTC"),
        # Taken before the benchmarks start their own processes, which would count in it.
        f"load average {load_at_start:.1f} at start",
    ]
    return "Machine: " + " · ".join(facts)


def postgres_version(database_url: str) -> str:
    """The server's version, as it reports it (raises if it cannot be reached)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    return f"PostgreSQL {version.split()[0]}"


def _git(*args: str) -> str:
    """The output of a git command run in the repository."""
    return subprocess.run(  # noqa: S603 (fixed git subcommands, no outside input)
        ["git", *args],  # noqa: S607 (git from PATH)
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()


def _commit() -> str:
    """The commit measured, marked when the work tree had changes on top of it."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "commit unknown"
    return f"commit {head}{' + changes' if dirty else ''}"


def _met(met: bool | None) -> str:
    """The verdict as the table shows it."""
    if met is None:
        return "n/a"
    return "met" if met else "**not met**"


def _cell(text: str) -> str:
    """Text made safe for a markdown table cell."""
    return text.replace("|", "\\|")


def table(header: str, results: list[Result], *, command: str, setup: str) -> str:
    """The markdown table of every result, with the machine line above and the notes below."""
    lines = [
        header,
        "",
        f"Run: `{command}`. {setup}",
        "",
        "| # | Benchmark | Figures | Goal | Met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for number, result in enumerate(results, 1):
        figures = "<br>".join(_cell(figure) for figure in result.figures)
        lines.append(
            f"| {number} | {_cell(result.title)} | {figures} | {_cell(result.goal)} "
            f"| {_met(result.met)} |"
        )
    notes = [
        f"{number}. {_cell(result.title)}: {' '.join(result.notes)}"
        for number, result in enumerate(results, 1)
        if result.notes
    ]
    if notes:
        lines += ["", "How each was measured:", "", *notes]
    for number, result in enumerate(results, 1):
        if result.details:
            lines += ["", f"### {number}. {result.title}", "", result.details.rstrip("\n")]
    return "\n".join(lines) + "\n"

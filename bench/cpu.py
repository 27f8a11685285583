"""Where the CPU goes during a load run: seconds used by the gunicorn workers, the PostgreSQL
backends serving them, and this process (the demo provider's server threads), and how busy the
machine's cores were, read from Linux /proc before and after.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from tests.e2e.deployment import Deployment

TICKS = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process and all its threads (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name, which is in parentheses and may contain spaces.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _database_backends(deployment: Deployment) -> list[int]:
    """Process ids of the PostgreSQL backends connected to the deployment's database."""
    with deployment.engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
        )


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, all cores (Linux /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal; guest time is already in user.
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


@dataclass
class Usage:
    """CPU seconds by process group, and how busy the whole machine was (0 to 1)."""

    workers: float
    database: float
    provider: float
    machine_busy: float = 0.0


class Meter:
    """CPU seconds used between `start()` and `stop()` by the deployment's workers, its database
    backends (those connected at start) and this process."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def start(self) -> None:
        """Take the first reading (run it after warm-up: the backends must exist already)."""
        workers = [pid for i in self.deployment.instances for pid in i.worker_pids()]
        self.workers = {pid: process_seconds(pid) for pid in workers}
        self.backends = {pid: process_seconds(pid) for pid in _database_backends(self.deployment)}
        self.provider = time.process_time()
        self.machine = _machine_ticks()

    def stop(self) -> Usage:
        """What was used since `start()`."""
        busy, total = _machine_ticks()
        busy -= self.machine[0]
        total -= self.machine[1]
        return Usage(
            workers=_used(self.workers),
            database=_used(self.backends),
            provider=time.process_time() - self.provider,
            machine_busy=busy / total if total else 0.0,
        )


def _used(before: dict[int, float]) -> float:
    """CPU seconds used since `before` by those processes (one that has exited counts 0)."""
    return sum(max(0.0, process_seconds(pid) - seconds) for pid, seconds in before.items())

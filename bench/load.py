"""The load generator: client threads, each with kept-alive HTTP connections, sending GETs until a
request count or a time limit is reached, and recording every latency.

It runs in a process of its own (`python -m bench.load`: a JSON spec per line on stdin, a JSON
result per line on stdout), so its threads do not compete for one interpreter lock with the demo
provider that the benchmark process serves. That process is started once and serves every run:
a new one per run cost a fifth of a second of start-up each time, some fifty times in the
side-by-side comparison. Plain `http.client`, not `requests`: less client CPU per request on a
machine whose cores the server under test needs too.
"""

from __future__ import annotations

import atexit
import http.client
import json
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT = 30.0
# Beyond the spec's own limits: start-up, the last requests in flight, the answer.
SUBPROCESS_SLACK = 60.0


@dataclass
class Target:
    """One URL to GET, on 127.0.0.1, with the headers to send (cookies, say)."""

    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    ok: int
    failed: int
    seconds: float
    latencies_ms: list[float]
    failures: dict[str, int]
    #: CPU seconds the load generator itself used.
    cpu_seconds: float

    @property
    def rate(self) -> float:
        """Answered requests per second (good ones only)."""
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """The latency below which that fraction of the requests finished, in milliseconds."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(
    targets: list[Target],
    *,
    concurrency: int,
    requests: int,
    seconds: float,
    expect: str | None = None,
) -> LoadResult:
    """Drive the targets round-robin from `concurrency` threads in a separate process, for
    `requests` requests or `seconds`, whichever ends first. `expect` is text that a good
    answer's body contains."""
    spec = {
        "targets": [asdict(target) for target in targets],
        "concurrency": concurrency,
        "requests": requests,
        "seconds": seconds,
        "expect": expect,
    }
    return LoadResult(**_GENERATOR.run(spec, limit=seconds + SUBPROCESS_SLACK))


class _Generator:
    """The generator's process, started at the first run and kept until this one exits."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        atexit.register(self._stop)
        # One run at a time: a second would share the cores and the answer pipe.
        self._lock = threading.Lock()

    def run(self, spec: dict[str, Any], limit: float) -> dict[str, Any]:
        """Send one spec, wait up to `limit` seconds for its result."""
        with self._lock:
            process = self._started()
            process.stdin.write(json.dumps(spec) + "\n")
            process.stdin.flush()
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                answered = selector.select(limit)
            line = process.stdout.readline() if answered else ""
            if not line:
                self._stop()
                # A traceback of its own, if it failed, went to this process's stderr.
                raise RuntimeError(f"the load generator gave no answer (time limit {limit:.0f} s)")
            return json.loads(line)

    def _started(self) -> subprocess.Popen:
        """The running process, started now if there is none."""
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bench.load"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._process

    def _stop(self) -> None:
        """End the process (closing its stdin ends its loop; a stuck one is killed)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_GENERATOR = _Generator()


def served_by(index: int, result: LoadResult, targets: int) -> int:
    """How many of a run's requests went to its `index`-th target: request n goes to target
    n modulo the number of targets, and every request taken is sent."""
    made = result.ok + result.failed
    return made // targets + (1 if index < made % targets else 0)


def combined(results: list[LoadResult]) -> LoadResult:
    """Several runs of the same targets as one: counts, times and latencies added up."""
    failures: dict[str, int] = {}
    for result in results:
        for kind, count in result.failures.items():
            failures[kind] = failures.get(kind, 0) + count
    return LoadResult(
        ok=sum(result.ok for result in results),
        failed=sum(result.failed for result in results),
        seconds=sum(result.seconds for result in results),
        latencies_ms=[latency for result in results for latency in result.latencies_ms],
        failures=failures,
        cpu_seconds=sum(result.cpu_seconds for result in results),
    )


class _Phase:
    """One bounded run of all client threads."""

    def __init__(self, targets: list[Target], total: int, seconds: float, expect: bytes | None):
        self.targets = targets
        self.total = total
        self.deadline = time.monotonic() + seconds
        self.expect = expect
        self.latencies: list[float] = []
        self.failures: dict[str, int] = {}
        self._next = 0
        self._lock = threading.Lock()

    def _take(self) -> int | None:
        """The next request's number, or None when the phase is over."""
        with self._lock:
            if self._next >= self.total or time.monotonic() >= self.deadline:
                return None
            self._next += 1
            return self._next - 1

    def _record(self, latency: float | None, failure: str | None) -> None:
        with self._lock:
            if failure is None:
                self.latencies.append(latency)
            else:
                self.failures[failure] = self.failures.get(failure, 0) + 1

    def client(self, connections: dict[int, http.client.HTTPConnection]) -> None:
        """One client thread: GET until the phase ends, reusing its connection per target."""
        while (index := self._take()) is not None:
            target = self.targets[index % len(self.targets)]
            connection = connections.get(target.port)
            if connection is None:
                connection = http.client.HTTPConnection(
                    "127.0.0.1", target.port, timeout=REQUEST_TIMEOUT
                )
                connections[target.port] = connection
            started = time.perf_counter()
            failure = None
            try:
                connection.request("GET", target.path, headers=target.headers)
                response = connection.getresponse()
                body = response.read()
                if response.status != 200:
                    failure = f"HTTP {response.status}"
                elif self.expect is not None and self.expect not in body:
                    failure = "unexpected page"
                if response.will_close:
                    connection.close()
                    del connections[target.port]
            except (OSError, http.client.HTTPException) as error:
                failure = type(error).__name__
                connection.close()
                del connections[target.port]
            self._record((time.perf_counter() - started) * 1000, failure)

    def run(self, concurrency: int) -> float:
        """Run every client thread to the end of the phase; the wall time it took."""
        started = time.perf_counter()
        pools: list[dict[int, http.client.HTTPConnection]] = [{} for _ in range(concurrency)]
        # Daemons: an interrupted generator exits at once instead of finishing its phase.
        threads = [
            threading.Thread(target=self.client, args=(pool,), daemon=True) for pool in pools
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for pool in pools:
            for connection in pool.values():
                connection.close()
        return time.perf_counter() - started


def main() -> None:
    """Run each spec read from stdin, answering each on a line of stdout, until stdin closes
    (the generator's own process)."""
    for line in sys.stdin:
        spec: dict[str, Any] = json.loads(line)
        targets = [Target(**target) for target in spec["targets"]]
        expect = spec["expect"].encode() if spec["expect"] else None
        phase = _Phase(targets, spec["requests"], spec["seconds"], expect)
        cpu_started = time.process_time()
        seconds = phase.run(spec["concurrency"])
        result = {
            "ok": len(phase.latencies),
            "failed": sum(phase.failures.values()),
            "seconds": seconds,
            "latencies_ms": phase.latencies,
            "failures": phase.failures,
            "cpu_seconds": time.process_time() - cpu_started,
        }
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

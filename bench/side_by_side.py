"""Side by side with the libraries people would use instead: this app (with DPoP-bound tokens as
shipped, and with bearer tokens) and the peer apps of bench/peers/ (Authlib's Flask client,
Flask-Dance, requests-oauthlib), measured in one run on deployments of one shape, in one table.

Every subject gets its own `tests/e2e/deployment.py` deployment: two gunicorn instances of 2
gthread workers x 8 threads (the checked-in default) on a throwaway PostgreSQL database, and its
own demo provider on 127.0.0.1 in this process. This app as shipped, the reference, stays deployed
throughout; every other subject is deployed in turn beside it (all at once would hold more
connections than PostgreSQL's default 100). With each, alice signed in:

1. Valid token, instance A, 16 keep-alive client threads: a warm-up, then turns of profile views,
   the subject and the reference one after the other (who goes first alternates), for views/s,
   latency and each turn's ratio to the reference's turn beside it.
2. Upstream TCP connections: after a warm-up over both instances, the connections the subject's
   provider accepts during 1,000 views spread over both.
3. Memory: more views on instance A, up to 10,000 there in all (--quick: 1,500), counting those
   of 1 and 2; the workers' resident memory is read after the warm-up and at the end.
4. Database statements per view, in this process (bench/replayed_views.py).
5. Refresh storms: a fresh sign-in, the stored access token marked expired, N concurrent views
   over both instances (the provider rotates refresh tokens and revokes the grant when a used one
   comes back), then one more view, which works only if the grant survived. Full run: three.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench import comparison, load, memory, replayed_views, site
from bench.report import Result
from bench.subjects import Subject, all_subjects
from tests.e2e.deployment import Browser

NAME = "peers"
TITLE = comparison.TITLE
INSTANCES, WORKERS, THREADS = 2, 2, 8
CONCURRENCY = 16
# Minutes of views with a valid token would outlive the provider's usual 5-minute access tokens
# (and a refresh mid-measurement is the storm's subject, not the throughput's): an hour here.
ACCESS_TOKEN_TTL = 3600
# Beyond this a phase that should take seconds is stuck.
TIME_LIMIT = 120.0


@dataclass(frozen=True)
class Plan:
    """How many views each phase makes per subject."""

    warmup: int
    turns: int
    per_turn: int
    turn_seconds: float
    #: Views on instance A, warm-up and turns included, over which memory growth is read.
    memory_views: int
    connection_warmup: int
    connection_views: int
    statement_views: int
    storms: int


QUICK = Plan(
    warmup=300,
    turns=2,
    per_turn=400,
    turn_seconds=5.0,
    memory_views=1500,
    connection_warmup=100,
    connection_views=500,
    statement_views=20,
    storms=1,
)
FULL = Plan(
    warmup=1000,
    turns=3,
    # The reference's turns beside the four other subjects then make up its 10,000 memory views
    # (1,000 + 4 x 3 x 750): it needs no views of its own beyond them.
    per_turn=750,
    turn_seconds=6.0,
    memory_views=10_000,
    connection_warmup=100,
    connection_views=1000,
    statement_views=100,
    storms=3,
)


class _Phases:
    """Seconds spent per phase on one subject, for its progress line: where a run's minutes go."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.monotonic() - started

    def __str__(self) -> str:
        return ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in self.seconds.items())


def _progress(message: str) -> None:
    print(f"  peers: {message}", file=sys.stderr, flush=True)


@dataclass
class _Deployed:
    """One subject, deployed and signed in, with what its views on instance A came to so far."""

    subject: Subject
    running: site.Site
    browser: Browser
    pids: list[int]
    turns: list[load.LoadResult] = field(default_factory=list)
    #: The reference's turn run beside each of `turns` (none for the reference itself).
    beside: list[load.LoadResult] = field(default_factory=list)
    failed: int = 0
    #: Profile views served by instance A so far, whatever the phase: its workers' memory grows
    #: with each.
    views: int = 0
    first_memory: dict[int, int] = field(default_factory=dict)
    connections_per_thousand: float = 0.0
    phases: _Phases = field(default_factory=_Phases)

    def view(self, count: int, seconds: float = TIME_LIMIT) -> load.LoadResult:
        """`count` profile views on instance A (fewer if `seconds` run out first)."""
        result = load.run(
            site.profile_targets(self.running.deployment, self.browser)[:1],
            concurrency=CONCURRENCY,
            requests=count,
            seconds=seconds,
            expect=site.LIVE_PROFILE_TEXT,
        )
        self.failed += result.failed
        self.views += result.ok + result.failed
        return result

    def resident(self) -> dict[int, int]:
        """Each worker's resident set on instance A, in KiB."""
        if self.running.deployment.instances[0].worker_pids() != self.pids:
            raise RuntimeError(f"{self.subject.key}: a worker was replaced during the run")
        return {pid: memory.worker_memory(pid)["VmRSS"] for pid in self.pids}

    def warm_up(self, plan: Plan) -> None:
        """The warm-up views, then the first memory reading."""
        with self.phases.timing("warm-up"):
            self.view(plan.warmup)
        self.first_memory = self.resident()

    def count_connections(self, plan: Plan) -> None:
        """The upstream connections per 1,000 views over both instances; instance A's share of
        those views counts towards its memory views."""
        with self.phases.timing("connections"):
            self.connections_per_thousand, on_first, failed = _connections(
                self.running, self.browser, plan
            )
        self.views += on_first
        self.failed += failed

    def top_up(self, plan: Plan) -> None:
        """More views on instance A, up to the plan's count for the memory reading."""
        if self.views < plan.memory_views:
            with self.phases.timing("memory views"):
                self.view(plan.memory_views - self.views)

    def figures(self, options: site.Options, plan: Plan) -> comparison.Figures:
        """The last memory reading, then statements and storms."""
        last = self.resident()
        growth = max(last[pid] - self.first_memory[pid] for pid in self.pids)
        views = self.views
        with self.phases.timing("statements"):
            statements = replayed_views.per_view(
                self.subject, self.running.deployment, self.browser, plan.statement_views
            )
        with self.phases.timing("storms"):
            storms = [_storm(self.subject, self.running, options.storm) for _ in range(plan.storms)]
        _progress(f"{self.subject.key} measured ({self.phases})")
        return comparison.Figures(
            subject=self.subject,
            turns=self.turns,
            beside=self.beside,
            failed_views=self.failed,
            memory_growth_kib=growth,
            memory_views=views,
            connections_per_thousand=self.connections_per_thousand,
            statements=statements,
            storms=storms,
        )


@contextmanager
def _deployed(options: site.Options, subject: Subject) -> Iterator[_Deployed]:
    """The subject on its own deployment, alice signed in, until the block ends."""
    started = time.monotonic()
    with site.running(
        options,
        f"{NAME}-{subject.key}",
        env=dict(subject.settings),
        instances=INSTANCES,
        workers=WORKERS,
        threads=THREADS,
        command=subject.command,
    ) as running:
        deployment = running.deployment
        deployment.provider.app.config["DEMO_PROVIDER_ACCESS_TOKEN_TTL"] = ACCESS_TOKEN_TTL
        browser = subject.sign_in(deployment)
        _progress(f"{subject.key} deployed and signed in ({time.monotonic() - started:.0f} s)")
        yield _Deployed(subject, running, browser, deployment.instances[0].worker_pids())


def run(options: site.Options) -> Result:
    """The reference deployed throughout, every other subject beside it in turn, compared."""
    plan = QUICK if options.quick else FULL
    available = [subject for subject in all_subjects() if subject.available]
    missing = [subject for subject in all_subjects() if not subject.available]
    figures = []
    with _deployed(options, available[0]) as reference:
        reference.warm_up(plan)
        for subject in available[1:]:
            with _deployed(options, subject) as other:
                other.warm_up(plan)
                for turn in range(plan.turns):
                    # Who goes first alternates, so that neither always runs on a warmer machine.
                    order = (reference, other) if turn % 2 == 0 else (other, reference)
                    with other.phases.timing("paired turns"):
                        ran = {
                            deployed.subject.key: deployed.view(plan.per_turn, plan.turn_seconds)
                            for deployed in order
                        }
                    beside, own = ran[reference.subject.key], ran[subject.key]
                    reference.turns.append(beside)
                    other.turns.append(own)
                    other.beside.append(beside)
                    _progress(
                        f"{subject.key} turn {turn + 1}: {own.rate:.0f} views/s, "
                        f"{reference.subject.key} {beside.rate:.0f}"
                    )
                other.count_connections(plan)
                # A variant of this app adds nothing new on memory: spared the extra views.
                if subject.variant_of is None:
                    other.top_up(plan)
                figures.append(other.figures(options, plan))
        reference.count_connections(plan)
        reference.top_up(plan)
        figures.insert(0, reference.figures(options, plan))
    return comparison.result(figures, missing, _notes(options, plan))


def _connections(running: site.Site, browser: Browser, plan: Plan) -> tuple[float, int, int]:
    """TCP connections the provider accepted per 1,000 views over both instances, after a
    warm-up over both; the views instance A served; and the failed views."""
    targets = site.profile_targets(running.deployment, browser)
    settings = {"concurrency": CONCURRENCY, "seconds": TIME_LIMIT, "expect": site.LIVE_PROFILE_TEXT}
    warmup = load.run(targets, requests=plan.connection_warmup, **settings)
    before = running.provider_server.accepted
    counted = load.run(targets, requests=plan.connection_views, **settings)
    opened = running.provider_server.accepted - before
    made = counted.ok + counted.failed
    if made < plan.connection_views:
        raise RuntimeError(f"only {made} views in {TIME_LIMIT:.0f} s")
    on_first = sum(load.served_by(0, result, len(targets)) for result in (warmup, counted))
    return opened * 1000 / made, on_first, warmup.failed + counted.failed


def _storm(subject: Subject, running: site.Site, size: int) -> comparison.Storm:
    """A fresh sign-in (a new grant), its access token expired, `size` views at once, one more."""
    browser = subject.sign_in(running.deployment)
    storm = site.refresh_storm(running.deployment, browser, size, subject.expire)
    after = site.outcome(browser.get("/profile"))
    return comparison.Storm(
        refreshes=storm.refreshes,
        failed=sum(site.outcome(page) != "live profile" for page in storm.pages),
        size=size,
        survived=after == "live profile",
    )


def _notes(options: site.Options, plan: Plan) -> list[str]:
    """How it was measured, for the table's notes."""
    return [
        f"Each subject on its own deployment: {INSTANCES} gunicorn instances x {WORKERS} gthread",
        f"workers x {THREADS} threads, a throwaway PostgreSQL database, its own demo provider",
        f"({options.provider_server}) in the benchmark process. This app as shipped stays",
        "deployed; each other subject is deployed beside it in turn.",
        f"Views/s and latency: instance A, {CONCURRENCY} keep-alive client threads in a separate",
        f"process; {plan.warmup:,} warm-up views, then {plan.turns} turns of up to",
        f"{plan.per_turn:,} views or {plan.turn_seconds:g} s, each beside a turn of this app's",
        "(who goes first alternates); a peer's ratio is its rate over that of this app's turn",
        "beside it (median, lowest and highest), so the machine's drift mostly cancels out;",
        "against this app with bearer tokens, through the same turns of this app's.",
        f"Memory: instance A's workers' VmRSS after the warm-up and after {plan.memory_views:,}",
        "views or more on instance A, counting those of every phase before (this app's turns",
        "beside every subject add up; the bearer variant gets no extra views); the larger",
        "growth of the two workers.",
        f"Connections: {plan.connection_warmup} warm-up views, then {plan.connection_views:,}",
        "views over both instances, counted as the provider's server accepts them.",
        "DB statements: in process, the subject's app built from instance A's environment, the",
        f"signed-in cookie replayed, {plan.statement_views} views counted with SQLAlchemy events.",
        f"Storm: {options.storm} concurrent views over both instances, each on a new connection,",
        "after a fresh sign-in and the stored access token marked expired; the provider rotates",
        "refresh tokens and revokes the whole grant when a used one comes back.",
        f"Access tokens live {ACCESS_TOKEN_TTL // 60} minutes here (5 in the tests), so that none",
        "expires during the views with a valid token.",
        "Peers use bearer tokens (none of the three libraries does DPoP); this app as shipped",
        "binds its tokens with DPoP when the provider offers it, and is also shown with",
        "DEMO_DPOP=off. Its DPoP figures include the provider's half of DPoP, on the same cores:",
        "on every API call it checks the proof's signature and records its jti (a database",
        "write). Ratios: the subject's figure over this app's as shipped, then with bearer",
        "tokens.",
    ]

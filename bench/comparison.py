"""The side-by-side figures (bench/side_by_side.py) as one markdown table, a subject per column,
each figure beside its ratio to this app's (as shipped, with DPoP; and with bearer tokens), and
the summary lines that say plainly where a peer does better.

Views/s and latency are compared through the turns of this app's that ran beside each subject's,
so that the machine's drift between one subject's deployment and the next mostly cancels out;
the other figures do not drift with the machine's load and are compared directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import mean, median

from bench import load, queries
from bench.report import Result
from bench.subjects import Subject

TITLE = "Side by side with the libraries people use instead"
# A ratio this close to 1 is no difference on a shared machine.
TOLERANCE = 0.05
# Memory growth below this is the allocator's steps (see bench/memory.py), not a difference.
MEMORY_NOISE_KIB = 1024


@dataclass
class Storm:
    refreshes: int
    failed: int
    size: int
    #: Whether a view after the storm still showed the live profile.
    survived: bool


@dataclass
class Figures:
    """Everything measured of one subject."""

    subject: Subject
    #: Views with a valid token on instance A, turn by turn.
    turns: list[load.LoadResult]
    #: This app's turn run beside each of `turns` (none when this is that app).
    beside: list[load.LoadResult]
    failed_views: int
    memory_growth_kib: int
    memory_views: int
    connections_per_thousand: float
    statements: queries.Views
    storms: list[Storm]

    @property
    def throughput(self) -> load.LoadResult:
        return load.combined(self.turns)

    @property
    def turn_ratios(self) -> list[float]:
        """Views/s over that of this app's turn beside it, turn by turn."""
        return [
            own.rate / other.rate
            for own, other in zip(self.turns, self.beside, strict=True)
            if other.rate
        ]

    def relative(self, measure: Callable[[load.LoadResult], float]) -> float:
        """A load figure over that of this app's turns beside it (1 for this app itself)."""
        if not self.beside:
            return 1.0
        return measure(self.throughput) / measure(load.combined(self.beside))


@dataclass(frozen=True)
class _Row:
    label: str
    #: What the summary lines call it.
    name: str
    show: Callable[[Figures], str]
    #: The figure over another subject's; None where a ratio says nothing.
    ratio: Callable[[Figures, Figures], float] | None
    lower_is_better: bool = True


def _direct(value: Callable[[Figures], float]) -> Callable[[Figures, Figures], float]:
    """Ratio of a figure that does not drift with the machine's load: one over the other."""

    def ratio(figures: Figures, base: Figures) -> float:
        mine, theirs = value(figures), value(base)
        if theirs == 0:
            return 1.0 if mine == 0 else float("inf")
        return mine / theirs

    return ratio


def _through_beside(measure: Callable[[load.LoadResult], float]) -> Callable:
    """Ratio of a load figure, each subject's taken relative to this app's turns beside it."""
    return lambda figures, base: figures.relative(measure) / base.relative(measure)


def _views_ratio(figures: Figures, base: Figures) -> float:
    """Views/s: the median of the turn-by-turn ratios, one subject's over the other's."""

    def relative(subject: Figures) -> float:
        return median(subject.turn_ratios) if subject.beside else 1.0

    return relative(figures) / relative(base)


def _per_storm(show: Callable[[Storm], str]) -> Callable[[Figures], str]:
    return lambda figures: ", ".join(show(storm) for storm in figures.storms)


def _views_per_second(figures: Figures) -> str:
    rates = [turn.rate for turn in figures.turns]
    return f"{figures.throughput.rate:.0f} ({min(rates):.0f} to {max(rates):.0f})"


def _statements(figures: Figures) -> str:
    return f"{figures.statements.statements:g} ({figures.statements.shapes or 'none'})"


def _rows(size: int) -> list[_Row]:
    def p50(result: load.LoadResult) -> float:
        return result.percentile(0.50)

    def p99(result: load.LoadResult) -> float:
        return result.percentile(0.99)

    return [
        _Row(
            "Profile views/s, valid token (lowest to highest turn)",
            "views/s",
            _views_per_second,
            _views_ratio,
            lower_is_better=False,
        ),
        _Row(
            "Latency p50",
            "p50 latency",
            lambda f: f"{p50(f.throughput):.1f} ms",
            _through_beside(p50),
        ),
        _Row(
            "Latency p99",
            "p99 latency",
            lambda f: f"{p99(f.throughput):.1f} ms",
            _through_beside(p99),
        ),
        _Row("Failed views, valid token", "failed views", lambda f: f"{f.failed_views}", None),
        _Row(
            "Upstream TCP connections per 1,000 views",
            "upstream connections",
            lambda f: f"{f.connections_per_thousand:.0f}",
            _direct(lambda f: f.connections_per_thousand),
        ),
        _Row(
            "Refresh storm: refresh calls at the provider",
            "refresh calls in a storm",
            _per_storm(lambda s: str(s.refreshes)),
            _direct(lambda f: mean(s.refreshes for s in f.storms)),
        ),
        _Row(
            f"Refresh storm: failed views of {size}",
            "failed views in a storm",
            _per_storm(lambda s: str(s.failed)),
            None,
        ),
        _Row(
            "Refresh storm: grant survived (a view after it works)",
            "grant kept",
            _per_storm(lambda s: "yes" if s.survived else "**no**"),
            None,
        ),
        _Row(
            "DB statements per view",
            "DB statements",
            _statements,
            _direct(lambda f: f.statements.statements),
        ),
        _Row(
            "DB transactions per view (a BEGIN and a COMMIT or ROLLBACK each)",
            "DB transactions",
            lambda f: f"{f.statements.transactions:g}",
            None,
        ),
        _Row(
            "Worker memory growth, instance A (the larger of its 2 workers')",
            "memory growth",
            lambda f: f"{f.memory_growth_kib / 1024:+.1f} MiB over {f.memory_views:,} views",
            None,
        ),
    ]


def _ratio_text(ratio: float, whose: str = "this app") -> str:
    return f"{whose}: 0" if ratio == float("inf") else f"{ratio:.2f}x"


def table(figures: list[Figures]) -> str:
    """The markdown table: a row per figure, a column per subject, this app's first. A peer's
    cell carries its ratio to this app as shipped, then to this app with bearer tokens."""
    base, bearer = figures[0], _bearer(figures)
    lines = [
        "| Figure | " + " | ".join(f.subject.title for f in figures) + " |",
        "| --- |" + " --- |" * len(figures),
    ]
    for row in _rows(figures[0].storms[0].size if figures[0].storms else 0):
        cells = []
        for f in figures:
            cell = row.show(f)
            if f is not base and row.ratio is not None:
                compared = [_ratio_text(row.ratio(f, base))]
                if bearer is not None and not f.subject.ours:
                    against_bearer = _ratio_text(row.ratio(f, bearer), "bearer")
                    compared.append(
                        against_bearer
                        if against_bearer.endswith(": 0")
                        else f"bearer {against_bearer}"
                    )
                cell += f" ({'; '.join(compared)})"
            cells.append(cell.replace("|", "\\|"))
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _bearer(figures: list[Figures]) -> Figures | None:
    """This app with bearer tokens, if it was measured."""
    return next((f for f in figures[1:] if f.subject.ours), None)


def _speed(figures: Figures, bearer: Figures | None) -> str:
    """A subject's views/s against this app's, turn by turn, in words."""
    ratios = figures.turn_ratios
    if min(ratios) > 1:
        verdict = "**faster in every turn**"
    elif max(ratios) < 1:
        verdict = "slower in every turn"
    else:
        verdict = "faster in some turns, slower in others"
    said = (
        f"{figures.subject.title}: views/s {median(ratios):.2f}x this app's as shipped (turns "
        f"{min(ratios):.2f}x to {max(ratios):.2f}x, {verdict})"
    )
    if bearer is not None:
        said += f", {_views_ratio(figures, bearer):.2f}x this app's with bearer tokens"
    return said


def _better(figures: Figures, base: Figures, rows: list[_Row]) -> list[str]:
    """The figures on which a subject does better than `base`, by more than the tolerance."""
    found = []
    for row in rows:
        if row.ratio is None:
            continue
        ratio = row.ratio(figures, base)
        if ratio < 1 - TOLERANCE if row.lower_is_better else ratio > 1 + TOLERANCE:
            found.append(f"{row.name} {row.show(figures)} ({ratio:.2f}x)")
    if figures.memory_growth_kib < base.memory_growth_kib - MEMORY_NOISE_KIB:
        found.append(f"memory growth {figures.memory_growth_kib / 1024:+.1f} MiB")
    return found


def _where_better(peers: list[Figures], base: Figures, rows: list[_Row], name: str) -> str:
    listed = [
        f"{peer.subject.title}: {', '.join(found)}"
        for peer in peers
        if (found := _better(peer, base, rows))
    ]
    return f"where a peer does better than this app {name}: " + (
        "; ".join(listed) if listed else "nowhere"
    )


def result(figures: list[Figures], missing: list[Subject], notes: list[str]) -> Result:
    """One Result: the summary lines as its figures, the whole table as its details."""
    base, bearer = figures[0], _bearer(figures)
    peers = [f for f in figures if not f.subject.ours]
    rows = _rows(figures[0].storms[0].size if figures[0].storms else 0)
    lines = [_speed(peer, bearer) for peer in peers]
    if bearer is not None:
        lines.append(_speed(bearer, None))
    lines.append(_where_better(peers, base, rows, "as shipped (DPoP)"))
    if bearer is not None:
        lines.append(_where_better(peers, bearer, rows, "with bearer tokens"))
    lines += [
        "refresh storms (refresh calls / failed views / grant): "
        + "; ".join(
            f"{f.subject.title} "
            + ", ".join(
                f"{s.refreshes}/{s.failed}/{'kept' if s.survived else 'lost'}" for s in f.storms
            )
            for f in figures
        ),
        *(
            f"{subject.title}: not measured, its library is not installed (pip install '.[bench]')"
            for subject in missing
        ),
        "every figure, with its ratios to this app's: the table below",
    ]
    return Result(
        title=TITLE,
        figures=lines,
        goal="none set (a comparison; where a peer does better, it says so)",
        met=None,
        notes=[
            *notes,
            f"A peer 'does better' where its ratio is beyond {TOLERANCE:.0%} of 1 in its favour",
            f"(memory: {MEMORY_NOISE_KIB // 1024} MiB less growth); views/s vs this app as",
            "shipped also turn by turn.",
            *(f.subject.caveat for f in figures if f.subject.caveat),
        ],
        details=table(figures),
    )

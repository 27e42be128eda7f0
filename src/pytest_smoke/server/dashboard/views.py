"""What the dashboard's pages show, read from the history's records and reports.

Plain functions and frozen dataclasses, no I/O: the routes read the store, these shape what
they read for the templates (a run's failing tests, causes and percentiles; a profile's
points over time; how a time or a duration is written).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.server.dashboard.charts import Point

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from pytest_smoke.server.store import RunRecord

#: The verdicts, worst last, as the filters and the counts list them.
VERDICTS: Final = ("PROCEED", "MONITOR", "INVESTIGATE", "ROLLBACK")
#: What each verdict means to whoever looks at the screen.
VERDICT_MEANINGS: Final = {
    "PROCEED": "healthy",
    "MONITOR": "healthy, watch it",
    "INVESTIGATE": "look now",
    "ROLLBACK": "roll back",
}
#: A glyph per verdict, so the state does not depend on telling colours apart.
VERDICT_GLYPHS: Final = {"PROCEED": "✓", "MONITOR": "◐", "INVESTIGATE": "?", "ROLLBACK": "✕"}
#: Outcomes of a test that count against the deployment.
FAILING_OUTCOMES: Final = frozenset({"failed", "error", "xpassed"})
#: The time ranges of a profile's page: name -> how far back.
RANGES: Final = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_RANGE: Final = "7d"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``moment`` as people say it: ``just now``, ``4 min ago``, ``3 h ago``, ``2 d ago``."""
    if moment is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400 * 2:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} d ago"


def utc(moment: datetime | None) -> str:
    """``moment`` in UTC to the second, or ``-``."""
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds_text(seconds: float | None) -> str:
    """A duration: ``850 ms``, ``12.4 s``, ``3 min 5 s``, or ``-``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def ms_text(milliseconds: float | None) -> str:
    """Milliseconds: ``42 ms``, ``1.25 s``, or ``-``."""
    if milliseconds is None:
        return "-"
    if milliseconds == 0:
        return "0 ms"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms" if milliseconds >= 10 else f"{milliseconds:.1f} ms"
    return f"{milliseconds / 1000:.2f} s"


def percent_text(rate: float | None) -> str:
    """A 0..1 rate as a percentage (``99.2 %``, ``100 %``), or ``-``."""
    if rate is None:
        return "-"
    value = round(rate * 100, 1)
    return f"{value:.0f} %" if value == int(value) else f"{value:.1f} %"


def pass_rate(record: RunRecord) -> float | None:
    """Tests passed / tests that ran, 0..1; None when none ran."""
    if not record.tests_total or record.tests_passed is None:
        return None
    return record.tests_passed / record.tests_total


def points(records: Iterable[RunRecord], figure: str) -> list[Point]:
    """Chart points of ``records`` (finished, oldest first) for ``figure``: ``pass_rate``
    (percent), ``duration_seconds`` or ``p95_ms``."""
    result = []
    for record in records:
        if figure == "pass_rate":
            rate = pass_rate(record)
            value = None if rate is None else rate * 100
        else:
            value = getattr(record, figure)
        moment = record.finished_at or record.created_at
        result.append(Point(at=moment, value=value, verdict=record.verdict, run_id=record.id))
    return result


def flaky_counts(records: Iterable[RunRecord], top: int = 10) -> list[tuple[str, int]]:
    """The tests most often marked flaky across ``records``, with how often."""
    counts: Counter[str] = Counter()
    for record in records:
        counts.update(record.flaky_tests)
    return counts.most_common(top)


@dataclass(frozen=True)
class Percentiles:
    """A run's request latencies (the report's ``requests``), in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    retried: int
    unanswered: int
    slowest: str | None

    @property
    def bars(self) -> list[tuple[str, float, float]]:
        """``(label, ms, fraction of the maximum)`` for p50, p95, p99 and max."""
        top = self.max_ms or 1.0
        return [
            (label, value, value / top)
            for label, value in (
                ("p50", self.p50_ms),
                ("p95", self.p95_ms),
                ("p99", self.p99_ms),
                ("max", self.max_ms),
            )
        ]


@dataclass(frozen=True)
class FailingTest:
    """A test that counted against the deployment."""

    nodeid: str
    outcome: str
    cause: str | None
    critical: bool
    categories: tuple[str, ...]


@dataclass(frozen=True)
class RunDetail:
    """What a run's page shows beyond the record: read from its report (empty without one)."""

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    causes: list[tuple[str, list[str]]] = field(default_factory=list)
    failing: list[FailingTest] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    flaky_in_run: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    categories: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    requests: Percentiles | None = None
    load: dict[str, Any] | None = None
    not_applicable: list[tuple[str, int]] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)
    failure_rate: float | None = None


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _percentiles(requests: Mapping[str, Any] | None) -> Percentiles | None:
    if not isinstance(requests, dict) or not requests.get("count"):
        return None
    slowest = requests.get("slowest") or {}
    described = None
    if slowest:
        status = slowest.get("status")
        described = (
            f"{slowest.get('method', '?')} {slowest.get('url', '?')} -> "
            f"{status if status is not None else 'no answer'} "
            f"in {ms_text(float(slowest.get('seconds', 0)) * 1000)}"
        )
    return Percentiles(
        count=int(requests["count"]),
        p50_ms=float(requests.get("p50_seconds", 0)) * 1000,
        p95_ms=float(requests.get("p95_seconds", 0)) * 1000,
        p99_ms=float(requests.get("p99_seconds", 0)) * 1000,
        max_ms=float(requests.get("max_seconds", 0)) * 1000,
        retried=int(requests.get("retried", 0)),
        unanswered=int(requests.get("unanswered", 0)),
        slowest=described,
    )


def run_detail(document: Mapping[str, Any] | None) -> RunDetail:
    """A run's report as its page shows it; a run without a report shows none of it."""
    if not document:
        return RunDetail()
    tests = [test for test in document.get("tests") or () if isinstance(test, dict)]
    failing = [
        FailingTest(
            nodeid=str(test.get("nodeid")),
            outcome=str(test.get("outcome")),
            cause=test.get("cause"),
            critical=bool(test.get("critical")),
            categories=tuple(test.get("categories") or ()),
        )
        for test in tests
        if test.get("outcome") in FAILING_OUTCOMES
    ]
    causes = [
        (str(cause.get("cause")), _strings(cause.get("tests")))
        for cause in document.get("causes") or ()
        if isinstance(cause, dict)
    ]
    categories = sorted(
        (name, counts)
        for name, counts in (document.get("categories") or {}).items()
        if isinstance(counts, dict)
    )
    load = document.get("load")
    return RunDetail(
        reasons=_strings(document.get("reasons")),
        notes=_strings(document.get("notes")),
        causes=causes,
        failing=failing,
        warnings=_strings(document.get("warnings")),
        flaky_in_run=_strings(document.get("flaky")),
        totals=dict(document.get("totals") or {}),
        categories=categories,
        requests=_percentiles(document.get("requests")),
        load=load if isinstance(load, dict) else None,
        not_applicable=[
            (str(entry.get("reason")), len(entry.get("tests") or ()))
            for entry in document.get("not_applicable") or ()
            if isinstance(entry, dict)
        ],
        left_behind=_strings(document.get("left_behind")),
        failure_rate=document.get("failure_rate"),
    )


@dataclass(frozen=True)
class ProfileCard:
    """A profile on the overview: its last verdict, its recent runs, whether it can run."""

    name: str
    latest: RunRecord | None
    recent: Sequence[RunRecord]
    runnable: bool

    @property
    def rate_points(self) -> list[Point]:
        """The recent runs' pass rates (percent)."""
        return points(self.recent, "pass_rate")

    @property
    def verdict_points(self) -> list[Point]:
        """The recent runs, for their verdicts (the value is not drawn)."""
        return points(self.recent, "duration_seconds")


def severity(card: ProfileCard) -> int:
    """How bad a card is, for the order of the overview: ROLLBACK first, no runs last."""
    verdict = card.latest.verdict if card.latest is not None else None
    order = {"ROLLBACK": 0, "INVESTIGATE": 1, "MONITOR": 2, "PROCEED": 3}
    return order.get(verdict or "", 4)

"""What a burst measured: every request's latency in an HdrHistogram, and the summary.

Latencies are recorded in microseconds into ``hdrh`` histograms (the Python port of Gil Tene's
HdrHistogram, 3 significant digits: a percentile is within 0.1% of the exact value, never
below it and never above the maximum), so a burst of any length keeps a few kilobytes, not one
float per request. The maximum is kept exactly besides.

At a constant arrival rate a request's latency runs from the moment it was *due* to its
answer, so time the client spent behind its schedule (a stalled server holding every
connection, the in-flight cap reached) counts, instead of being silently left out
("coordinated omission"). How late each request left is kept too, as the schedule lag.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hdrh.histogram import HdrHistogram

    from pytest_smoke.load.spec import LoadSpec, Target
    from pytest_smoke.load.thresholds import Verdict

#: The histograms' range, in microseconds: 1 us to 1 hour (longer values count as 1 hour).
_LOWEST_US: Final = 1
_HIGHEST_US: Final = 3_600_000_000
_SIGNIFICANT_DIGITS: Final = 3


def _histogram() -> HdrHistogram:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _SIGNIFICANT_DIGITS)


def _microseconds(seconds: float) -> int:
    return min(max(round(seconds * 1_000_000), _LOWEST_US), _HIGHEST_US)


@dataclass(frozen=True)
class Percentiles:
    """p50, p95, p99 and the maximum of a set of durations, in milliseconds."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class Tally:
    """Collects one burst's requests as they finish; :meth:`result` summarises them."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = tuple(targets)
        self._latency = _histogram()
        self._lag = _histogram()
        self._max_latency = 0.0
        self._max_lag = 0.0
        self.requests = 0
        self.not_sent = 0
        self.statuses: Counter[int] = Counter()
        #: Why requests failed: an HTTP status ("503") or an error's name ("ReadTimeout").
        self.failures: Counter[str] = Counter()
        self._per_target = [[0, 0] for _ in self.targets]  # requests, errors
        self._first_send: float | None = None
        self._last_send: float | None = None
        self._last_answer: float | None = None

    def add(
        self,
        target: int,
        *,
        sent: float | None,
        latency: float,
        status: int | None = None,
        failure: str | None = None,
        lag: float | None = None,
        finished: float,
    ) -> None:
        """Record request to ``targets[target]``: ``sent`` (clock seconds, ``None`` when it was
        never sent), its ``latency`` (seconds), its answer's ``status`` or why it failed, how
        late it left (``lag``, at a constant rate) and when it ``finished``. A request fails
        when ``failure`` is given or its status is not below 400, as k6 counts them."""
        self.requests += 1
        if status is not None:
            self.statuses[status] += 1
            if status >= 400 and failure is None:
                failure = str(status)
        counts = self._per_target[target]
        counts[0] += 1
        if failure is not None:
            self.failures[failure] += 1
            counts[1] += 1
        self._latency.record_value(_microseconds(latency))
        self._max_latency = max(self._max_latency, latency)
        if lag is not None:
            self._lag.record_value(_microseconds(lag))
            self._max_lag = max(self._max_lag, lag)
        if sent is None:
            self.not_sent += 1
        else:
            self._first_send = sent if self._first_send is None else min(self._first_send, sent)
            self._last_send = sent if self._last_send is None else max(self._last_send, sent)
        self._last_answer = (
            finished if self._last_answer is None else max(self._last_answer, finished)
        )

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    def latency(self) -> Percentiles | None:
        """The latency percentiles, ``None`` before any request."""
        return _percentiles(self._latency, self._max_latency) if self.requests else None

    def lag(self) -> Percentiles | None:
        """The schedule lag percentiles, ``None`` when none was recorded (closed loop)."""
        return _percentiles(self._lag, self._max_lag) if self._lag.get_total_count() else None

    def achieved_rate(self) -> float | None:
        """Requests sent per second, from the first send to the last (``None`` under two)."""
        sent = self.requests - self.not_sent
        if sent < 2 or self._first_send is None or self._last_send is None:
            return None
        span = self._last_send - self._first_send
        return (sent - 1) / span if span > 0 else None

    def result(self, spec: LoadSpec, started: float) -> LoadResult:
        """The summary of the burst ``spec`` that started at clock time ``started``."""
        elapsed = (self._last_answer - started) if self._last_answer is not None else 0.0
        return LoadResult(
            spec=spec,
            requests=self.requests,
            not_sent=self.not_sent,
            errors=self.errors,
            elapsed_seconds=max(elapsed, 0.0),
            achieved_rate=self.achieved_rate(),
            latency=self.latency(),
            lag=self.lag(),
            statuses=dict(sorted(self.statuses.items())),
            failures=dict(self.failures.most_common()),
            per_target=tuple(
                (t, c[0], c[1]) for t, c in zip(self.targets, self._per_target, strict=True)
            ),
        )


def _percentiles(histogram: HdrHistogram, maximum: float) -> Percentiles:
    def at(q: float) -> float:
        # the top of the value's bucket, so never below the exact percentile; capped at the
        # exact maximum, which the top of its bucket may pass by up to 0.1%
        return min(float(histogram.get_value_at_percentile(q)) / 1000, maximum * 1000)

    return Percentiles(
        p50_ms=at(50),
        p95_ms=at(95),
        p99_ms=at(99),
        # the exact maximum: the histogram's is only "equivalent" within its precision
        max_ms=maximum * 1000,
    )


@dataclass(frozen=True)
class LoadResult:
    """One burst's summary; :meth:`as_dict` is the JSON report's ``load`` section."""

    spec: LoadSpec
    requests: int
    not_sent: int
    errors: int
    elapsed_seconds: float
    achieved_rate: float | None
    latency: Percentiles | None
    lag: Percentiles | None
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    per_target: tuple[tuple[Target, int, int], ...] = ()

    @property
    def error_rate_percent(self) -> float:
        """Failed requests (never sent included) as a percentage of all; 0 when none."""
        return 100 * self.errors / self.requests if self.requests else 0.0

    def as_dict(self, verdict: Verdict | None = None) -> dict[str, Any]:
        """Plain JSON-ready data (milliseconds rounded to 0.001), with the thresholds'
        ``verdict`` when given."""
        spec = self.spec
        latency, lag = self.latency, self.lag
        return {
            "mode": "rate" if spec.open_loop else "concurrency",
            "strategy": spec.strategy,
            "target_rate": spec.rate,
            "concurrency": spec.concurrency,
            "duration_seconds": spec.duration_seconds,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "requests": self.requests,
            "not_sent": self.not_sent,
            "achieved_rate": _round(self.achieved_rate, 2),
            "latency_from": "scheduled" if spec.open_loop else "sent",
            "p50_ms": _field(latency, "p50_ms"),
            "p95_ms": _field(latency, "p95_ms"),
            "p99_ms": _field(latency, "p99_ms"),
            "max_ms": _field(latency, "max_ms"),
            "schedule_lag_p99_ms": _field(lag, "p99_ms"),
            "schedule_lag_max_ms": _field(lag, "max_ms"),
            "errors": self.errors,
            "error_rate_percent": round(self.error_rate_percent, 3),
            "statuses": {str(status): count for status, count in self.statuses.items()},
            "failures": dict(self.failures),
            "targets": [
                {
                    "method": target.method,
                    "path": target.path,
                    "weight": target.weight,
                    "requests": requests,
                    "errors": errors,
                }
                for target, requests, errors in self.per_target
            ],
            "thresholds": verdict.as_list() if verdict is not None else [],
            "passed": verdict.passed if verdict is not None else True,
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _field(percentiles: Percentiles | None, name: str) -> float | None:
    return None if percentiles is None else _round(getattr(percentiles, name))

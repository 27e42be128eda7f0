"""Fold pytest's per-phase test reports into one :class:`TestResult` per gated test.

Plain data in (no pytest objects), so it is the same on the controller of an xdist run, where
the reports arrive from workers, and in a single process. It records every run's tests, so it
stays cheap: plain classes and strings here, the gate's types only when a summary is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.markers import CRITICAL, DEPENDENCY_MARKERS, GATED_MARKERS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from pytest_smoke.gate import RunSummary, TestResult

# The values of pytest_smoke.gate.Outcome.
_FAILING: Final = frozenset({"failed", "error"})


class _Entry:
    __slots__ = ("cause", "duration", "markers", "outcome", "reruns")

    def __init__(self) -> None:
        self.outcome: str | None = None
        self.markers: frozenset[str] | None = None
        self.cause: str | None = None
        self.reruns = 0
        self.duration = 0.0


class ResultRecorder:
    """Collects test phases as they are reported and builds the gate's :class:`RunSummary`."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self.collection_errors = 0
        self.worker_crashes: list[str] = []
        #: Every request ``http_client`` made, as (method, url, status, seconds, attempts).
        self.requests: list[tuple[Any, ...]] = []
        #: Warnings recorded by passing checks, as "nodeid: message".
        self.warnings: list[str] = []
        #: What tests created and could not remove, one line each, each once.
        self.left_behind: dict[str, None] = {}
        #: The summary of the load burst (``load`` in the JSON report), ``None`` when none ran.
        self.load: dict[str, Any] | None = None
        #: Tests deselected as not applicable: reason -> node ids (each once; every xdist
        #: worker collects the whole suite, so the same lists arrive several times).
        self.not_applicable: dict[str, dict[str, None]] = {}

    def add_phase(
        self,
        *,
        nodeid: str,
        when: str,
        outcome: str,
        markers: Iterable[str] | None,
        wasxfail: bool = False,
        cause: str | None = None,
        duration: float = 0.0,
    ) -> None:
        """Record one phase (setup, call, teardown) of a test.

        ``outcome`` is pytest's (passed, failed, skipped) or ``rerun`` from pytest-rerunfailures;
        ``markers`` is ``None`` when the report does not say (an xdist crash report).
        """
        entry = self._entries.get(nodeid)
        if entry is None:
            entry = self._entries[nodeid] = _Entry()
        entry.duration += duration
        if markers is not None:
            entry.markers = frozenset(markers)
        if outcome == "rerun":
            entry.reruns += 1
            entry.outcome = None
            entry.cause = None
            return
        phase_outcome = _phase_outcome(when, outcome, wasxfail)
        if phase_outcome is None:
            return
        if phase_outcome in _FAILING:
            entry.cause = entry.cause or cause
            if entry.outcome in _FAILING:
                return  # the first failure of a test is the one that describes it
        entry.outcome = phase_outcome

    def add_requests(self, rows: Iterable[Iterable[Any]]) -> None:
        self.requests.extend(tuple(row) for row in rows)

    def add_warnings(self, nodeid: str, messages: Iterable[str]) -> None:
        self.warnings.extend(f"{nodeid}: {message}" for message in messages)

    def add_left_behind(self, entries: Iterable[str]) -> None:
        self.left_behind.update(dict.fromkeys(entries))

    def add_load(self, summary: Mapping[str, Any]) -> None:
        """A load burst's summary; a later one (a rerun's) replaces an earlier one."""
        self.load = dict(summary)

    def add_not_applicable(self, reason: str, nodeids: Iterable[str]) -> None:
        self.not_applicable.setdefault(reason, {}).update(dict.fromkeys(nodeids))

    def add_collection_error(self) -> None:
        self.collection_errors += 1

    def add_worker_crash(self, message: str) -> None:
        self.worker_crashes.append(message)

    def has_gated_results(self) -> bool:
        return any(e.outcome is not None and _gated(e) for e in self._entries.values())

    def ungated_count(self) -> int:
        """Tests that ran without a smoke or critical marker (not gated)."""
        return sum(
            1
            for e in self._entries.values()
            if e.outcome is not None and e.markers is not None and not e.markers & GATED_MARKERS
        )

    def summary(self, *, interrupted: str | None = None) -> RunSummary:
        from pytest_smoke.features import reason_order
        from pytest_smoke.gate import NotApplicable, RunSummary

        results = tuple(
            _result(nodeid, entry)
            for nodeid, entry in self._entries.items()
            if entry.outcome is not None and _gated(entry)
        )
        return RunSummary(
            results=results,
            collection_errors=self.collection_errors,
            worker_crashes=tuple(self.worker_crashes),
            interrupted=interrupted,
            warnings=tuple(self.warnings),
            not_applicable=tuple(
                NotApplicable(reason, tuple(self.not_applicable[reason]))
                for reason in sorted(self.not_applicable, key=reason_order)
            ),
            left_behind=tuple(self.left_behind),
        )


def _gated(entry: _Entry) -> bool:
    # A report that carries no markers (an xdist crash before setup finished) is gated: when we
    # cannot tell, we fail closed.
    return entry.markers is None or bool(entry.markers & GATED_MARKERS)


def _result(nodeid: str, entry: _Entry) -> TestResult:
    from pytest_smoke.gate import Outcome, TestResult

    markers = entry.markers or frozenset()
    assert entry.outcome is not None
    return TestResult(
        nodeid=nodeid,
        outcome=Outcome(entry.outcome),
        categories=frozenset(markers & DEPENDENCY_MARKERS.keys()),
        critical=CRITICAL in markers,
        cause=entry.cause if entry.outcome in _FAILING else None,
        reruns=entry.reruns,
        duration=round(entry.duration, 6),
    )


def _phase_outcome(when: str, outcome: str, wasxfail: bool) -> str | None:
    if outcome == "failed":
        # setup and teardown failures are errors; a crash report ("???") counts as a failure
        return "error" if when in {"setup", "teardown"} else "failed"
    if outcome == "skipped":
        return "xfailed" if wasxfail else "skipped"
    if when == "call":
        return "xpassed" if wasxfail else "passed"
    return None

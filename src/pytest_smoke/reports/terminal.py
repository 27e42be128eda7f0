"""The verdict block printed at the end of the terminal summary."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pytest_smoke.gate import Counts, Decision

_INDENT = " " * 9


def verdict_title(decision: Decision, *, gate_enabled: bool) -> str:
    suffix = "" if gate_enabled else " (advisory: gate off, pytest's exit status stands)"
    return f"smoke gate: {decision.verdict}{suffix}"


def verdict_lines(
    decision: Decision,
    *,
    gate_enabled: bool,
    report_paths: Sequence[str] = (),
    ungated: int = 0,
    requests: Mapping[str, Any] | None = None,
    load: Mapping[str, Any] | None = None,
) -> list[str]:
    """The lines under the title: per-category counts, reasons, causes, requests, the load
    burst, exit status, reports."""
    lines = [
        _count_line(name, counts) + _cause_note(decision, name)
        for name, counts in decision.categories.items()
    ]
    lines.append(_count_line("total", decision.totals))
    lines.extend(_block("reasons:", decision.reasons))
    if decision.notes:
        lines.extend(_block("also:", decision.notes))
    lines.extend(
        _block(
            "causes:", [f"{group.cause} ({len(group.nodeids)} failed)" for group in decision.causes]
        )
    )
    lines.extend(f"left behind: {entry}" for entry in decision.left_behind)
    if decision.not_applicable:
        from pytest_smoke.features import summary_lines

        lines.extend(summary_lines([(n.reason, n.tests) for n in decision.not_applicable]))
    if ungated:
        lines.append(
            f"not gated: {ungated} test{'s' if ungated != 1 else ''} without a smoke "
            "or critical marker"
        )
    if requests:
        lines.append(
            f"requests: {requests['count']}, p50 {_ms(requests['p50_seconds'])}, "
            f"p95 {_ms(requests['p95_seconds'])}, p99 {_ms(requests['p99_seconds'])}, "
            f"max {_ms(requests['max_seconds'])} ({requests['slowest']['method']} "
            f"{requests['slowest']['url']}), {requests['retried']} retried"
        )
    if load:
        from pytest_smoke.reports.load import load_line

        lines.append(load_line(load))
    if gate_enabled:
        lines.append(f"exit status: {decision.exit_code}")
    lines.extend(_block("reports:", report_paths))
    return lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def _count_line(name: str, counts: Counts) -> str:
    parts = [f"{counts.passed:3d} passed", f"{counts.failed:2d} failed"]
    if counts.errors:
        parts.append(f"{counts.errors:2d} errors")
    if counts.skipped:
        parts.append(f"{counts.skipped:2d} skipped")
    return f"{name:<10} " + "  ".join(parts)


def _cause_note(decision: Decision, category: str) -> str:
    """``   (3 caused by: redis unreachable ...)`` when failures of this category share causes."""
    by_cause = Counter(
        r.cause
        for r in decision.results
        if r.failed
        and r.cause
        and (category in r.categories or (category == "other" and not r.categories))
    )
    notes = [f"{count} caused by: {cause}" for cause, count in by_cause.most_common()]
    return f"   ({'; '.join(notes)})" if notes else ""


def _block(label: str, items: Sequence[str]) -> list[str]:
    return [f"{label:<9}{item}" if i == 0 else f"{_INDENT}{item}" for i, item in enumerate(items)]

"""Request latency: percentiles, and the summary the reports show. Pure functions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

#: One request as it travels on a test report: method, URL (path and query), status or None,
#: seconds (all attempts), attempts.
RequestRow = tuple[str, str, "int | None", float, int]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``, ``None`` if empty.

    Linear interpolation between the closest ranks, as numpy's default does.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def request_summary(rows: Sequence[RequestRow]) -> dict[str, Any] | None:
    """Count, p50/p95/p99/max seconds, retried and unanswered requests; ``None`` if no rows."""
    if not rows:
        return None
    seconds = [row[3] for row in rows]
    slowest = max(rows, key=lambda row: row[3])

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 6)

    return {
        "count": len(rows),
        "p50_seconds": rounded(percentile(seconds, 50)),
        "p95_seconds": rounded(percentile(seconds, 95)),
        "p99_seconds": rounded(percentile(seconds, 99)),
        "max_seconds": round(max(seconds), 6),
        "retried": sum(1 for row in rows if row[4] > 1),
        "unanswered": sum(1 for row in rows if row[2] is None),
        "slowest": {
            "method": slowest[0],
            "url": slowest[1],
            "status": slowest[2],
            "seconds": round(slowest[3], 6),
        },
    }

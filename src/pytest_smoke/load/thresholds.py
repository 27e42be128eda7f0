"""k6-style thresholds on a burst's summary, and the one line that says what broke.

Each limit is "at most": ``p95_ms = 500`` fails a burst whose p95 is above 500 ms,
``error_rate_percent = 1`` one whose failed requests are above 1% of all. A burst that made
no request at all fails every threshold it has: it measured nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_smoke.load.spec import Thresholds
    from pytest_smoke.load.stats import LoadResult


@dataclass(frozen=True)
class Check:
    """One threshold against the value measured (``None``: nothing was measured)."""

    name: str
    limit: float
    value: float | None

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value <= self.limit

    def broken(self) -> str:
        """``p99 1012 ms > 1000 ms (+12 ms)``, or ``error rate 2.5% > 1% (+1.5 points)``."""
        unit, label = (
            ("%", "error rate") if self.name == "error_rate_percent" else (" ms", _label(self))
        )
        if self.value is None:
            return f"{label}: no request was answered (limit {_shown(self.limit)}{unit})"
        over = self.value - self.limit
        by = f"+{_shown(over)} points" if unit == "%" else f"+{_shown(over)} ms"
        return f"{label} {_shown(self.value)}{unit} > {_shown(self.limit)}{unit} ({by})"


@dataclass(frozen=True)
class Verdict:
    """Every threshold of a burst, checked."""

    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def message(self) -> str:
        """One line naming each broken threshold and by how much; empty when all passed."""
        return "; ".join(check.broken() for check in self.checks if not check.passed)

    def as_list(self) -> list[dict[str, Any]]:
        return [
            {
                "name": c.name,
                "limit": c.limit,
                "value": None if c.value is None else round(c.value, 3),
                "passed": c.passed,
            }
            for c in self.checks
        ]


def check_thresholds(result: LoadResult, thresholds: Thresholds) -> Verdict:
    """Each limit ``thresholds`` sets, against ``result``, in the order p95, p99, error rate."""
    latency = result.latency
    measured = {
        "p95_ms": None if latency is None else latency.p95_ms,
        "p99_ms": None if latency is None else latency.p99_ms,
        "error_rate_percent": result.error_rate_percent if result.requests else None,
    }
    return Verdict(
        tuple(
            Check(name, float(limit), measured[name])
            for name, limit in (
                ("p95_ms", thresholds.p95_ms),
                ("p99_ms", thresholds.p99_ms),
                ("error_rate_percent", thresholds.error_rate_percent),
            )
            if limit is not None
        )
    )


def _label(check: Check) -> str:
    return check.name.removesuffix("_ms")


def _shown(value: float) -> str:
    """Whole milliseconds from 10 up, else one decimal; ``1.0`` reads ``1``."""
    text = f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"
    return text.removesuffix(".0")

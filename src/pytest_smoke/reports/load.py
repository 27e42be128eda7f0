"""The load burst's line in the verdict block, from the JSON report's ``load`` section."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


def load_line(load: Mapping[str, Any]) -> str:
    """``load: 20 requests in 2.0 s, 10.0/s (target 10/s), p50 4 ms, p95 6 ms, p99 8 ms,
    max 9 ms, 0 errors (0%): thresholds passed``; a broken threshold is named with its excess
    instead (``broke p99 1012 ms > 1000 ms (+12 ms)``)."""
    from pytest_smoke.load.thresholds import Check

    achieved = load["achieved_rate"]
    rate = "-" if achieved is None else f"{achieved:.1f}/s"
    pace = (
        f"target {load['target_rate']:g}/s"
        if load["mode"] == "rate"
        else f"concurrency {load['concurrency']}"
    )
    latencies = ", ".join(
        f"{name} {_ms(load[f'{name}_ms'])}" for name in ("p50", "p95", "p99", "max")
    )
    errors = f"{load['errors']} error{'' if load['errors'] == 1 else 's'}"
    broken = [
        Check(t["name"], t["limit"], t["value"]).broken()
        for t in load["thresholds"]
        if not t["passed"]
    ]
    if broken:
        outcome = "broke " + "; ".join(broken)
    else:
        outcome = "thresholds passed" if load["thresholds"] else "no thresholds"
    return (
        f"load: {load['requests']} requests in {load['elapsed_seconds']:.1f} s, {rate} ({pace}), "
        f"{latencies}, {errors} ({_percent(load['error_rate_percent'])}%): {outcome}"
    )


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _percent(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")

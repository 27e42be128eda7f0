"""The decision as JUnit testsuite properties (written by the controller, so xdist-safe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_smoke.gate import Decision


def suite_properties(decision: Decision) -> list[tuple[str, str]]:
    """Name/value pairs for the ``<properties>`` of the JUnit ``<testsuite>``."""
    totals = decision.totals
    properties = [
        ("smoke_gate_verdict", str(decision.verdict)),
        ("smoke_gate_exit_code", str(decision.exit_code)),
        ("smoke_gate_total", str(totals.total)),
        ("smoke_gate_passed", str(totals.passed)),
        ("smoke_gate_failed", str(totals.failed)),
        ("smoke_gate_errors", str(totals.errors)),
        ("smoke_gate_skipped", str(totals.skipped)),
    ]
    if decision.failure_rate is not None:
        properties.append(("smoke_gate_failure_rate", f"{decision.failure_rate:.4f}"))
    properties.extend(
        (f"smoke_gate_reason_{i}", reason) for i, reason in enumerate(decision.reasons, 1)
    )
    properties.extend(
        (f"smoke_gate_cause_{i}", group.cause) for i, group in enumerate(decision.causes, 1)
    )
    for name, counts in decision.categories.items():
        properties.append(
            (
                f"smoke_gate_category_{name}",
                f"passed={counts.passed} failed={counts.failed} errors={counts.errors} "
                f"skipped={counts.skipped}",
            )
        )
    return properties

"""``GET /metrics``: the service's Prometheus metrics, in a registry of its own.

The names and what they count are those of CLI runs (:mod:`pytest_smoke.reports.prometheus`,
document 003's ``smoke_test_*`` plus ``smoke_gate_verdict`` and ``smoke_gate_runs_total``): each
finished run is recorded once, from its report. At start the last verdict of each profile comes
from the history, so ``smoke_gate_verdict`` survives a restart; the counters start from zero,
as Prometheus counters do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)

from pytest_smoke.reports.prometheus import SmokeMetrics

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The ``Content-Type`` of :meth:`ServiceMetrics.render`'s text.
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServiceMetrics:
    """The metrics of one service process."""

    def __init__(self) -> None:
        # ``*_created`` series (each label set's creation time) double the exposition for no
        # use here; the switch is process-wide, and this process is the service.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics = SmokeMetrics(self.registry)

    def record(self, profile: str, state: str, document: Mapping[str, Any] | None) -> None:
        """A run of ``profile`` ended in ``state``, with its report (``None``: cancelled)."""
        self._metrics.record_run(profile, state)
        if document is not None:
            self._metrics.record_report(document, profile=profile)

    def last_verdict(self, profile: str, verdict: str) -> None:
        """Set the profile's last verdict without counting a run (from the history)."""
        self._metrics.set_verdict(profile, verdict)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

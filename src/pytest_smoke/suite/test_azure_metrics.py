"""Azure Monitor: the VMs behind the deployment are within their CPU and memory thresholds,
and the logs since the deployment stay under the configured failure threshold."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest

from ._support import ASYNC

if TYPE_CHECKING:
    from collections.abc import Callable

    from azure.monitor.query.aio import LogsQueryClient
    from azure.monitor.querymetrics.aio import MetricsClient

    from pytest_smoke.checks import Checks
    from pytest_smoke.settings import Settings

pytestmark = [pytest.mark.smoke, pytest.mark.azure, pytest.mark.metrics, ASYNC]


@pytest.mark.needs_checks("azure.vm_resource_ids")  # or VM_RESOURCE_ID in the profile
async def test_vm_metrics_within_thresholds(
    metrics_client: MetricsClient,
    smoke_settings: Settings,
    smoke_checks: Checks,
    smoke_warning: Callable[[str], None],
) -> None:
    """CPU under METRIC_THRESHOLD_CPU and available memory over METRIC_THRESHOLD_MEMORY (MB).

    OK within the threshold; WARNING when exceeded by under 50% (passes, the gate says at least
    MONITOR); CRITICAL beyond, or no data at all (fails). "50%" is half the way from the
    threshold to the worst value: CPU 80% -> CRITICAL from 90%; memory 500 MB -> from 250 MB.
    Impact: the new release is starving its hosts; errors and latency follow.
    """
    from pytest_smoke.clients.azure import MetricState, check_vm_metrics

    resource_ids = [smoke_settings.vm_resource_id] if smoke_settings.vm_resource_id else []
    resource_ids += list(smoke_checks.get("azure.vm_resource_ids", []))
    if not resource_ids:
        pytest.skip("VM_RESOURCE_ID is not set in the env profile")
    statuses = await check_vm_metrics(
        metrics_client,
        resource_ids,
        cpu_threshold=smoke_settings.metric_threshold_cpu,
        memory_threshold_mb=smoke_settings.metric_threshold_memory,
        window_minutes=smoke_settings.metric_window_minutes,
        aggregation=smoke_settings.metric_aggregation,
    )
    for status in statuses:
        if status.state is MetricState.WARNING:
            smoke_warning(str(status))
    failing = [
        str(status)
        for status in statuses
        if status.state not in (MetricState.OK, MetricState.WARNING)
    ]
    assert not failing, "; ".join(failing)


@pytest.mark.needs_checks("azure.logs.query", "azure.logs.threshold")
async def test_logs_since_deployment_within_threshold(
    logs_client: LogsQueryClient,
    smoke_settings: Settings,
    smoke_checks: Checks,
    smoke_warning: Callable[[str], None],
) -> None:
    """The checks file's KQL query (e.g. failed requests in the last N minutes) stays at or
    under its threshold; a partial result is reported as a warning, not as a pass.

    Impact: users are already hitting errors the other checks did not reach.
    """
    from pytest_smoke.clients.azure import LogState, run_log_check

    workspace = smoke_settings.azure_log_workspace_id
    if not workspace:
        pytest.skip("AZURE_LOG_WORKSPACE_ID is not set in the env profile")
    result = await run_log_check(
        logs_client,
        workspace,
        smoke_checks.get("azure.logs.query"),
        timespan=datetime.timedelta(minutes=smoke_checks.get("azure.logs.minutes")),
        threshold=float(smoke_checks.get("azure.logs.threshold")),
    )
    if result.state is LogState.PARTIAL:
        smoke_warning(f"partial log result: {result.detail}")
    assert result.state is not LogState.EXCEEDED, result.detail

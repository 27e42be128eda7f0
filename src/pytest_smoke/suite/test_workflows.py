"""Workflows: the critical user journeys of the checks file (``[[workflows]]``) work end to end.

Every workflow is a test of its own, ``test_workflow[NAME]``, marked ``critical`` when its entry
says so and ``writes`` when any of its requests may change the deployment. Its steps run in
order and stop at the first failure; its ``finally`` steps always run, and one that fails is
reported as left behind through the test's ledger (``smoke_resources``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ._entries import collected_checks, parametrize
from ._support import ASYNC, need

if TYPE_CHECKING:
    import httpx

    from pytest_smoke.checks import Checks
    from pytest_smoke.checks.ledger import Ledger
    from pytest_smoke.checks.workflows import Workflow
    from pytest_smoke.masking import Masker

pytestmark = [pytest.mark.smoke, pytest.mark.service, pytest.mark.workflow, ASYNC]

ARGUMENT = "workflow_name"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test id per ``[[workflows]]`` entry, named after it."""
    if ARGUMENT not in metafunc.fixturenames:
        return
    from pytest_smoke.checks.workflows import workflows_of

    checks = collected_checks(metafunc.config)
    if checks is not None:
        parametrize(
            metafunc, ARGUMENT, ((w.name, w.critical, w.writes) for w in workflows_of(checks))
        )


@pytest.fixture
def workflow_name(smoke_checks: Checks) -> str:
    """Stands in for the parameter when the checks file has no ``[[workflows]]``: skipped."""
    return str(need(smoke_checks, "workflows"))


@pytest.fixture
def workflow_under_test(
    request: pytest.FixtureRequest, workflow_name: str, smoke_checks: Checks
) -> tuple[Workflow, dict[str, str] | None]:
    """The workflow of this test and, when a step sends them, the auth headers (got at setup:
    async fixtures cannot be started from inside a running test)."""
    from pytest_smoke.checks.workflows import workflows_of

    (workflow,) = [w for w in workflows_of(smoke_checks) if w.name == workflow_name]
    headers: dict[str, str] | None = (
        request.getfixturevalue("auth_headers") if workflow.needs_auth else None
    )
    return workflow, headers


@pytest.mark.needs_checks("workflows")
async def test_workflow(
    workflow_name: str,
    http_client: httpx.AsyncClient,
    smoke_resources: Ledger,
    smoke_masker: Masker,
    workflow_under_test: tuple[Workflow, dict[str, str] | None],
) -> None:
    """Each step answers as its table says, in order, with the values earlier steps saved; the
    ``finally`` steps clean up whatever happened. A failure names the step, method, URL,
    status and the first line of the body; a ``finally`` step that fails is left behind.

    Impact: users cannot complete this journey; a critical one means roll back.
    """
    from pytest_smoke.checks.workflows import run_workflow, secret_saves

    workflow, headers = workflow_under_test
    secrets = secret_saves(workflow)

    def keep(name: str, value: Any) -> None:
        if name in secrets and isinstance(value, str):
            smoke_masker.add(value)  # a token saved from a login never shows in a report

    run = await run_workflow(
        http_client, workflow, ledger=smoke_resources, auth_headers=headers, on_saved=keep
    )
    for line in run.left_out:
        print(f"finally step left out: {line}")
    if run.failure is not None:
        pytest.fail(f"workflow {workflow.name}: {run.failure}", pytrace=False)

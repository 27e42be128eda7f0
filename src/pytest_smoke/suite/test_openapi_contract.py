"""Contract: the deployment answers as its own OpenAPI document says (``[openapi]``).

Every safe operation (GET) the document describes that needs no input is a test of its own,
``test_openapi_contract[GET /api/items]``: its status must be one the document lists for it,
its body valid against the documented schema (OpenAPI 3.0 or 3.1). The document is read once per
process, when the tests are collected (a local file relative to the checks file; a URL, or a
path on the gateway, fetched within ``openapi.timeout_seconds``). A document that cannot be read
or has nothing to check is one failing test, ``test_openapi_contract[document]``, naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pytest

from ._entries import collected_checks
from ._support import ASYNC, need

if TYPE_CHECKING:
    import httpx

    from pytest_smoke.checks import Checks
    from pytest_smoke.openapi.contract import ContractPlan

pytestmark = [pytest.mark.smoke, pytest.mark.service, pytest.mark.contract, ASYNC]

ARGUMENT: Final = "contract_operation"
_plan_key: Final[pytest.StashKey[ContractPlan]] = pytest.StashKey()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test id per operation checked, named ``METHOD /path`` as the document writes it."""
    if ARGUMENT not in metafunc.fixturenames:
        return
    checks = collected_checks(metafunc.config)
    if checks is None or checks.section("openapi") is None:
        return  # needs_checks("openapi") makes the test not applicable
    plan = _plan(metafunc.config, checks)
    metafunc.parametrize(ARGUMENT, [pytest.param(i, id=i) for i in plan.ids])


def _plan(config: pytest.Config, checks: Checks) -> ContractPlan:
    """The run's contract plan, made once: the document read and its operations picked."""
    plan = config.stash.get(_plan_key, None)
    if plan is None:
        plan = config.stash[_plan_key] = _new_plan(config, checks)
    return plan


def _new_plan(config: pytest.Config, checks: Checks) -> ContractPlan:
    from pytest_smoke import _state
    from pytest_smoke.openapi.contract import ContractPlan, plan_contract

    try:
        import openapi_core  # noqa: F401  # the openapi extra: imported here, not in every run

        from pytest_smoke.clients.http import build_ssl_context
    except ModuleNotFoundError as error:
        return ContractPlan(
            problem=f"smoke: {error.name} is not installed; "
            "pip install 'pytest-smoke-gate[openapi]'"
        )
    settings = _state.get_settings(config)
    section = checks.section("openapi") or {}
    try:
        verify = build_ssl_context(settings.ca_bundle, settings.client_cert, settings.client_key)
    except (OSError, ValueError) as error:
        return ContractPlan(problem=f"the TLS settings cannot be used: {error}")
    return plan_contract(
        section, checks_file=checks.path, gateway_url=settings.gateway_url, verify=verify
    )


@pytest.fixture
def contract_operation(smoke_checks: Checks) -> str:
    """Stands in for the parameter when the checks file has no ``[openapi]``: skipped."""
    return str(need(smoke_checks, "openapi"))


@pytest.fixture
def contract_headers(
    request: pytest.FixtureRequest, contract_operation: str, smoke_checks: Checks
) -> dict[str, str]:
    """The ``[auth]`` headers (``auth_headers``) when ``openapi.auth`` is on and the operation
    asks for security, else none. Sync, so that the async ``auth_headers`` is set up before the
    test runs."""
    operation = _plan(request.config, smoke_checks).operations.get(contract_operation)
    if operation is None or not operation.security or not smoke_checks.get("openapi.auth"):
        return {}
    headers: dict[str, str] = request.getfixturevalue("auth_headers")
    return headers


@pytest.mark.needs_checks("openapi")
async def test_openapi_contract(
    request: pytest.FixtureRequest,
    contract_operation: str,
    http_client: httpx.AsyncClient,
    smoke_checks: Checks,
    contract_headers: dict[str, str],
) -> None:
    """The operation answers a status its OpenAPI document lists for it, with a body valid
    against the documented schema (and documented headers); a failure names the operation,
    the status and where the body breaks the schema. With ``openapi.auth``, the ``[auth]``
    headers go to the operations whose document asks for security.

    Impact: clients built from the API's description break on the answers they get.
    """
    from pytest_smoke.checks.resource import send
    from pytest_smoke.openapi.contract import check_answer

    plan = _plan(request.config, smoke_checks)
    if plan.problem is not None or plan.document is None:
        pytest.fail(plan.problem or "the OpenAPI document was not read", pytrace=False)
    operation = plan.operations[contract_operation]
    response = await send(
        http_client, operation.method, operation.gateway_path, headers=contract_headers
    )
    failure = check_answer(
        plan.document,
        operation,
        status=response.status_code,
        headers=response.headers,
        body=response.content,
    )
    if failure is not None:
        pytest.fail(failure, pytrace=False)

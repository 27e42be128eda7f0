"""Service: the deployed API answers, authenticates, serves its resources and holds its SLA.

Resources a check creates are deleted again, also when the check fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import pytest

from ._support import ASYNC, fill, need, new_marker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from pytest_smoke.checks import Checks
    from pytest_smoke.settings import Settings

pytestmark = [pytest.mark.smoke, pytest.mark.service, ASYNC]


@pytest.mark.critical
async def test_health_checks(http_client: httpx.AsyncClient, smoke_checks: Checks) -> None:
    """Every health endpoint of the checks file answers 200.

    Impact: the deployment is not serving; roll back.
    """
    failing = []
    for path in need(smoke_checks, "service.health"):
        response = await http_client.get(path)
        if response.status_code != 200:
            failing.append(f"{path} -> {response.status_code} {response.text[:120]}")
    assert not failing, "; ".join(failing)


async def test_gateway_routes(http_client: httpx.AsyncClient, smoke_checks: Checks) -> None:
    """Each route of the checks file is reachable through the gateway.

    Impact: clients of those routes get errors.
    """
    for path in need(smoke_checks, "service.routes"):
        response = await http_client.get(path)
        assert response.is_success, f"{path} -> {response.status_code}"


@pytest.mark.critical
async def test_valid_token_is_accepted(
    http_client: httpx.AsyncClient, auth_headers: dict[str, str], smoke_checks: Checks
) -> None:
    """A token from the configured login is accepted by a protected endpoint.

    Impact: no user can use the service; roll back.
    """
    path = need(smoke_checks, "auth.protected")
    response = await http_client.get(path, headers=auth_headers)
    assert response.status_code == 200, f"{path} with a valid token -> {response.status_code}"


async def test_missing_or_bad_token_is_refused(
    http_client: httpx.AsyncClient, smoke_checks: Checks
) -> None:
    """A protected endpoint answers 401 without a token and with a forged one.

    Impact: data is open to anyone.
    """
    path = need(smoke_checks, "auth.protected")
    anonymous = await http_client.get(path)
    forged = await http_client.get(path, headers={"Authorization": "Bearer not-a-real-token"})
    assert (anonymous.status_code, forged.status_code) == (401, 401)


@contextlib.asynccontextmanager
async def created_resource(
    client: httpx.AsyncClient, headers: dict[str, str], checks: Checks, marker: str
) -> AsyncIterator[dict[str, Any]]:
    """Create the checks file's CRUD resource; delete it afterwards whatever happens."""
    path = need(checks, "crud.path")
    response = await client.post(
        path, json=fill(need(checks, "crud.create"), marker), headers=headers
    )
    assert response.status_code in (200, 201), f"create -> {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    try:
        yield body
    finally:
        await client.delete(f"{path}/{body[checks.get('crud.id_field', 'id')]}", headers=headers)


async def test_crud_flow(
    http_client: httpx.AsyncClient, auth_headers: dict[str, str], smoke_checks: Checks
) -> None:
    """Create, read, update and delete the checks file's resource.

    Impact: the service's main write path is broken.
    """
    path = need(smoke_checks, "crud.path")
    id_field = smoke_checks.get("crud.id_field", "id")
    update = need(smoke_checks, "crud.update")
    async with created_resource(http_client, auth_headers, smoke_checks, new_marker()) as item:
        url = f"{path}/{item[id_field]}"
        read = await http_client.get(url, headers=auth_headers)
        assert read.status_code == 200, f"read -> {read.status_code}"
        updated = await http_client.patch(url, json=update, headers=auth_headers)
        assert updated.status_code == 200, f"update -> {updated.status_code}"
        assert {key: updated.json()[key] for key in update} == update
        deleted = await http_client.delete(url, headers=auth_headers)
        assert deleted.status_code in (200, 204), f"delete -> {deleted.status_code}"
        assert (await http_client.get(url, headers=auth_headers)).status_code == 404


async def test_pagination_and_filtering(
    http_client: httpx.AsyncClient, auth_headers: dict[str, str], smoke_checks: Checks
) -> None:
    """Listing honours the page size, the offset and a filter.

    Impact: clients page through wrong or endless results.
    """
    path = need(smoke_checks, "crud.path")
    items_field = need(smoke_checks, "crud.items_field")
    limit, offset = need(smoke_checks, "crud.limit_param"), need(smoke_checks, "crud.offset_param")
    filter_param = need(smoke_checks, "crud.filter_param")
    filter_field = smoke_checks.get("crud.filter_field", filter_param)
    markers = [new_marker() for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        for marker in markers:
            await stack.enter_async_context(
                created_resource(http_client, auth_headers, smoke_checks, marker)
            )
        first = await http_client.get(path, params={limit: 2, offset: 0}, headers=auth_headers)
        second = await http_client.get(path, params={limit: 2, offset: 2}, headers=auth_headers)
        assert len(first.json()[items_field]) == 2
        first_ids = {repr(item) for item in first.json()[items_field]}
        assert not first_ids & {repr(item) for item in second.json()[items_field]}
        name = fill(need(smoke_checks, "crud.create"), markers[1])[filter_field]
        found = await http_client.get(path, params={filter_param: name}, headers=auth_headers)
        assert [item[filter_field] for item in found.json()[items_field]] == [name]


async def test_error_handling(
    http_client: httpx.AsyncClient, auth_headers: dict[str, str], smoke_checks: Checks
) -> None:
    """Unknown resources are 404, anonymous access 401, invalid input 422 with an error body.

    Impact: clients cannot tell their mistakes from outages.
    """
    not_found = await http_client.get(need(smoke_checks, "errors.not_found"), headers=auth_headers)
    anonymous = await http_client.get(need(smoke_checks, "auth.protected"))
    invalid = await http_client.post(
        need(smoke_checks, "crud.path"),
        json=need(smoke_checks, "crud.invalid"),
        headers=auth_headers,
    )
    assert (not_found.status_code, anonymous.status_code, invalid.status_code) == (404, 401, 422)
    assert invalid.json(), "422 without an error body"


async def test_rate_limiting(http_client: httpx.AsyncClient, smoke_checks: Checks) -> None:
    """A burst of requests is answered with 429 before it ends.

    Impact: one client could exhaust the service for everyone.
    """
    path, burst = need(smoke_checks, "rate_limit.path"), int(need(smoke_checks, "rate_limit.burst"))
    statuses = []
    for _ in range(burst):
        response = await http_client.get(path)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert 429 in statuses, f"no 429 within {burst} requests to {path}"


async def test_concurrent_requests(
    http_client: httpx.AsyncClient, auth_headers: dict[str, str], smoke_checks: Checks
) -> None:
    """N requests at once all succeed.

    Impact: the service fails under ordinary concurrency.
    """
    path = need(smoke_checks, "auth.protected")
    count = int(smoke_checks.get("service.concurrency", 10))
    responses = await asyncio.gather(
        *(http_client.get(path, headers=auth_headers) for _ in range(count))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * count, f"statuses: {statuses}"


async def test_response_time_within_sla(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    smoke_checks: Checks,
    smoke_settings: Settings,
) -> None:
    """The 95th percentile of response times stays under SMOKE_TEST_SLA_P95_MS.

    Impact: users wait; timeouts upstream start to fire.
    """
    from pytest_smoke.latency import percentile

    path = need(smoke_checks, "service.sla_path")
    samples = []
    for _ in range(int(smoke_checks.get("service.sla_samples", 10))):
        started = time.perf_counter()
        response = await http_client.get(path, headers=auth_headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.is_success, f"{path} -> {response.status_code}"
    p95 = percentile(samples, 95) or 0.0
    assert p95 <= smoke_settings.sla_p95_ms, (
        f"p95 {p95:.0f} ms > SLA {smoke_settings.sla_p95_ms:g} ms on {path}"
    )

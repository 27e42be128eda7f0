"""Service: the deployed API answers, authenticates, serves its resources and holds its SLA.

Every path, method, status and answer shape comes from the checks file (``[service]``,
``[auth]``, ``[crud]``, ``[errors]``, ``[rate_limit]``). Everything a check creates goes on the
test's ledger (``smoke_resources``) and is deleted again, also when the check fails; what
cannot be deleted is reported as left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from ._support import ASYNC, crud_resource

if TYPE_CHECKING:
    import httpx

    from pytest_smoke.checks import Checks
    from pytest_smoke.checks.ledger import Ledger
    from pytest_smoke.checks.resource import Page, Resource
    from pytest_smoke.settings import Settings

pytestmark = [pytest.mark.smoke, pytest.mark.service, ASYNC]

#: A well-formed JWT (HS256) whose signature no deployment made: it must be refused.
FORGED_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJzbW9rZS1mb3JnZWQiLCJ0ZW5hbnQiOjEsImV4cCI6NDEwMjQ0NDgwMH0."
    "c21va2UtZm9yZ2VkLXNpZ25hdHVyZS1ub3QtdmFsaWQ"
)
#: Page length of the pagination check; it creates one item more than a page.
PAGE = 2


@pytest.fixture
def service_headers(request: pytest.FixtureRequest, smoke_checks: Checks) -> dict[str, str]:
    """``auth_headers`` when the checks file has an ``[auth]`` table, else no headers."""
    if smoke_checks.section("auth") is None:
        return {}
    headers: dict[str, str] = request.getfixturevalue("auth_headers")
    return headers


@pytest.mark.critical
@pytest.mark.needs_checks("service.health")
async def test_health_checks(http_client: httpx.AsyncClient, smoke_checks: Checks) -> None:
    """Every health endpoint of the checks file answers a status of ``service.health_status``.

    Impact: the deployment is not serving; roll back.
    """
    from pytest_smoke.checks.resource import UnexpectedAnswer, check, send

    failing = []
    for path in smoke_checks.get("service.health"):
        try:
            check(await send(http_client, "GET", path), smoke_checks.get("service.health_status"))
        except UnexpectedAnswer as error:
            failing.append(str(error))
    assert not failing, "; ".join(failing)


@pytest.mark.needs_checks("service.routes")
async def test_gateway_routes(http_client: httpx.AsyncClient, smoke_checks: Checks) -> None:
    """Each route of the checks file answers 2xx through the gateway (redirects followed).

    Impact: clients of those routes get errors.
    """
    from pytest_smoke.checks.resource import UnexpectedAnswer, expect

    failing = []
    for path in smoke_checks.get("service.routes"):
        try:
            await expect(http_client, "GET", path, range(200, 300))
        except UnexpectedAnswer as error:
            failing.append(str(error))
    assert not failing, "; ".join(failing)


@pytest.mark.critical
@pytest.mark.needs_checks("auth.protected")
async def test_valid_token_is_accepted(
    http_client: httpx.AsyncClient, auth_headers: dict[str, str], smoke_checks: Checks
) -> None:
    """A token from the configured login is accepted by the protected endpoint
    (a status of ``auth.accepted``).

    Impact: no user can use the service; roll back.
    """
    from pytest_smoke.checks.resource import expect

    await expect(
        http_client,
        "GET",
        smoke_checks.get("auth.protected"),
        smoke_checks.get("auth.accepted"),
        key="auth.protected",
        headers=auth_headers,
    )


@pytest.mark.needs_checks("auth.protected")
async def test_missing_or_bad_token_is_refused(
    http_client: httpx.AsyncClient, smoke_checks: Checks
) -> None:
    """The protected endpoint refuses a request without a token and one with a forged token,
    each with a status of ``auth.refused``; the forged one goes in ``auth.header`` after
    ``auth.scheme``, as a real one would.

    Impact: data is open to anyone.
    """
    from pytest_smoke.checks.resource import UnexpectedAnswer, expect

    path, refused = smoke_checks.get("auth.protected"), smoke_checks.get("auth.refused")
    scheme = smoke_checks.get("auth.scheme")
    forged = {smoke_checks.get("auth.header"): f"{scheme} {FORGED_TOKEN}".strip()}
    failing = []
    for what, headers in (("without a token", {}), ("with a forged token", forged)):
        try:
            await expect(http_client, "GET", path, refused, key="auth.protected", headers=headers)
        except UnexpectedAnswer as error:
            failing.append(f"{what}: {error}")
    assert not failing, "; ".join(failing)


@pytest.mark.writes
@pytest.mark.needs_checks("crud.cleanup.sweep", "crud.list.items")
async def test_sweep_leftover_resources(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    smoke_checks: Checks,
    smoke_resources: Ledger,
) -> None:
    """Delete what killed runs left behind: the listed items whose ``crud.marker_field`` holds
    a marker older than ``crud.cleanup.sweep_after_seconds`` (at most ``max_pages`` pages).
    Opt-in (``crud.cleanup.sweep = true``); runs before the other CRUD checks. Prints how many
    it removed; one it cannot delete is reported as left behind.

    Impact: test data piles up in the deployment, and can collide with real data.
    """
    resource = crud_resource(http_client, auth_headers, smoke_checks, smoke_resources)
    result = await resource.sweep(
        older_than=smoke_checks.get("crud.cleanup.sweep_after_seconds"),
        max_pages=smoke_checks.get("crud.cleanup.max_pages"),
    )
    collection = smoke_checks.get("crud.collection")
    print(
        f"sweep: removed {result.removed} of {result.stale} items left by earlier runs "
        f"({result.listed} listed on {result.pages} page(s) of {collection})"
    )


@pytest.mark.writes
@pytest.mark.needs_checks("crud.collection")
async def test_crud_flow(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    smoke_checks: Checks,
    smoke_resources: Ledger,
) -> None:
    """Create the checks file's resource, read it back, delete it; then it is gone.

    Impact: the service's main write path is broken.
    """
    resource = crud_resource(http_client, auth_headers, smoke_checks, smoke_resources)
    async with resource.created() as item:
        read = await resource.read(item)
        assert resource.marker_in(read) == item.marker, (
            f"GET {item.path} answered an object without {item.marker} at crud.marker_field "
            f"{smoke_checks.get('crud.marker_field')!r} (is crud.object right?): {_short(read)}"
        )
        await resource.delete(item)
        await resource.assert_gone(item)


@pytest.mark.writes
@pytest.mark.needs_checks("crud.update")
async def test_crud_update(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    smoke_checks: Checks,
    smoke_resources: Ledger,
) -> None:
    """Updating a created resource with ``crud.update`` (``crud.methods.update``) answers the
    object with the new values.

    Impact: changes users make are refused or lost.
    """
    from pytest_smoke.checks.resource import holds
    from pytest_smoke.checks.templates import fill

    resource = crud_resource(http_client, auth_headers, smoke_checks, smoke_resources)
    async with resource.created() as item:
        updated = await resource.update(item)
        expected = fill(smoke_checks.get("crud.update"), marker=item.marker)
        assert holds(updated, expected), (
            f"{smoke_checks.get('crud.methods.update')} {item.path} answered an object without "
            f"the update {_short(expected)}: {_short(updated)}"
        )


@pytest.mark.writes
@pytest.mark.needs_checks("crud.list.items")
async def test_pagination(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    smoke_checks: Checks,
    smoke_resources: Ledger,
) -> None:
    """Listing honours the page length and the page position (``crud.list.pagination``): with
    more items than a page, the first page is full and the second holds none of its items.
    Without pagination, the listing holds every item created.

    Impact: clients page through wrong or endless results.
    """
    resource = crud_resource(http_client, auth_headers, smoke_checks, smoke_resources)
    async with contextlib.AsyncExitStack() as stack:
        made = [await stack.enter_async_context(resource.created()) for _ in range(PAGE + 1)]
        if smoke_checks.get("crud.list.pagination") == "none":
            listed = {resource.marker_in(item) for item in (await resource.list_page(0, 0)).items}
            missing = [item.marker for item in made if item.marker not in listed]
            assert not missing, f"the listing lacks items just created: {', '.join(missing)}"
            return
        first, second = await _two_pages(resource)
        query = f"{resource.page_params(0, PAGE)} then {resource.page_params(1, PAGE)}"
        assert len(first.items) == PAGE, (
            f"page 1 ({query}) holds {len(first.items)} items, not {PAGE}, though {PAGE + 1} exist"
        )
        assert second.items, f"page 2 ({query}) is empty, though {PAGE + 1} items exist"
        repeated = {_identity(resource, i) for i in first.items} & {
            _identity(resource, i) for i in second.items
        }
        assert not repeated, f"pages 1 and 2 ({query}) both hold {', '.join(sorted(repeated))}"
        if first.total is not None:
            assert first.total >= PAGE + 1, f"crud.list.total says {first.total}"


#: How often the pagination check reads its two pages again when the collection changed size
#: between them (another client, or a parallel smoke worker, created or deleted an item).
PAGE_READS = 3


async def _two_pages(resource: Resource) -> tuple[Page, Page]:
    """Pages 1 and 2, read again while the listing's total moved between them: a page boundary
    shifts under a concurrent create or delete, which is not the service's fault."""
    for _ in range(PAGE_READS - 1):
        first, second = await resource.list_page(0, PAGE), await resource.list_page(1, PAGE)
        if first.total is None or first.total == second.total:
            return first, second
    return await resource.list_page(0, PAGE), await resource.list_page(1, PAGE)


@pytest.mark.writes
@pytest.mark.needs_checks("crud.list.filter_param")
async def test_filtering(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    smoke_checks: Checks,
    smoke_resources: Ledger,
) -> None:
    """Listing with ``crud.list.filter_param`` set to one item's ``filter_field`` answers that
    item alone.

    Impact: searches return the wrong data.
    """
    from pytest_smoke.checks.paths import search

    field, param = (
        smoke_checks.get("crud.list.filter_field"),
        smoke_checks.get("crud.list.filter_param"),
    )
    resource = crud_resource(http_client, auth_headers, smoke_checks, smoke_resources)
    async with resource.created() as wanted, resource.created():
        created = wanted.object if wanted.object is not None else await resource.read(wanted)
        value = search(field, created)
        assert value is not None, (
            f"the created object has nothing at crud.list.filter_field {field!r}"
        )
        page = await resource.list_page(0, 10, params={param: value})
        found = [search(field, item) for item in page.items]
        assert found == [value], (
            f"?{param}={value} listed {_short(found) if found else 'nothing'}, not that item alone"
        )


@pytest.mark.needs_checks("errors.not_found")
async def test_unknown_resource_is_not_found(
    http_client: httpx.AsyncClient, service_headers: dict[str, str], smoke_checks: Checks
) -> None:
    """A resource that does not exist answers a status of ``errors.not_found_status``.

    Impact: clients cannot tell their mistakes from outages.
    """
    from pytest_smoke.checks.resource import expect

    await expect(
        http_client,
        "GET",
        smoke_checks.get("errors.not_found"),
        smoke_checks.get("errors.not_found_status"),
        key="errors.not_found",
        headers=service_headers,
    )


@pytest.mark.writes
@pytest.mark.needs_checks("crud.invalid")
async def test_invalid_input_is_refused(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    smoke_checks: Checks,
    smoke_resources: Ledger,
) -> None:
    """Creating from ``crud.invalid`` is refused with a status of ``crud.status.invalid`` and a
    body saying why (were it accepted, what it made is deleted again).

    Impact: invalid data gets stored; clients are not told what they did wrong.
    """
    from pytest_smoke.checks.resource import first_line
    from pytest_smoke.checks.templates import new_marker

    resource = crud_resource(http_client, auth_headers, smoke_checks, smoke_resources)
    response = await resource.refuse_invalid(new_marker())
    assert response.content.strip(), (
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code} {first_line(response)}: clients are not told what is wrong"
    )


@pytest.mark.needs_checks("rate_limit.path")
async def test_rate_limiting(http_client: httpx.AsyncClient, smoke_checks: Checks) -> None:
    """A burst of ``rate_limit.burst`` requests gets a status of ``rate_limit.status`` before
    it ends.

    Impact: one client could exhaust the service for everyone.
    """
    from pytest_smoke.checks.resource import send, statuses_text

    path, burst = smoke_checks.get("rate_limit.path"), smoke_checks.get("rate_limit.burst")
    limited = set(smoke_checks.get("rate_limit.status"))
    statuses: Counter[int] = Counter()
    for _ in range(burst):
        response = await send(http_client, "GET", path)
        statuses[response.status_code] += 1
        if response.status_code in limited:
            return
    answered = ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))
    pytest.fail(
        f"no {statuses_text(limited)} within {burst} requests to GET {path} (answered {answered})",
        pytrace=False,
    )


@pytest.mark.needs_checks("service.concurrency_path")
async def test_concurrent_requests(
    http_client: httpx.AsyncClient, service_headers: dict[str, str], smoke_checks: Checks
) -> None:
    """``service.concurrency`` GETs of ``service.concurrency_path`` at once all answer 2xx.

    Impact: the service fails under ordinary concurrency.
    """
    from pytest_smoke.checks.resource import send

    path, count = (
        smoke_checks.get("service.concurrency_path"),
        smoke_checks.get("service.concurrency"),
    )
    responses = await asyncio.gather(
        *(send(http_client, "GET", path, headers=service_headers) for _ in range(count))
    )
    failed = Counter(r.status_code for r in responses if not r.is_success)
    assert not failed, (
        f"{sum(failed.values())} of {count} concurrent GET {path} failed: "
        + ", ".join(f"{status} x{n}" for status, n in sorted(failed.items()))
    )


@pytest.mark.needs_checks("service.sla_path")
async def test_response_time_within_sla(
    http_client: httpx.AsyncClient,
    service_headers: dict[str, str],
    smoke_checks: Checks,
    smoke_settings: Settings,
) -> None:
    """The 95th percentile of ``service.sla_samples`` GETs of ``service.sla_path`` stays under
    SMOKE_TEST_SLA_P95_MS.

    Impact: users wait; timeouts upstream start to fire.
    """
    from pytest_smoke.checks.resource import expect
    from pytest_smoke.latency import percentile

    path = smoke_checks.get("service.sla_path")
    samples = []
    for _ in range(smoke_checks.get("service.sla_samples")):
        started = time.perf_counter()
        await expect(
            http_client,
            "GET",
            path,
            range(200, 300),
            key="service.sla_path",
            headers=service_headers,
        )
        samples.append((time.perf_counter() - started) * 1000)
    p95 = percentile(samples, 95) or 0.0
    assert p95 <= smoke_settings.sla_p95_ms, (
        f"p95 {p95:.0f} ms > SLA {smoke_settings.sla_p95_ms:g} ms on {path}"
    )


def _identity(resource: Resource, item: Any) -> str:
    from pytest_smoke.checks.resource import UnexpectedAnswer

    try:
        return repr(resource.id_in(item))
    except UnexpectedAnswer:
        return repr(item)


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

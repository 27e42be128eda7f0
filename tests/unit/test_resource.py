"""The CRUD resource against a real local API in two shapes: the demo's flat JSON, and an
enveloped, trailing-slash, PUT, skip/limit one. Every convention comes from the checks file."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio

from pytest_smoke.checks import load_checks
from pytest_smoke.checks.ledger import Ledger
from pytest_smoke.checks.resource import (
    Resource,
    UnexpectedAnswer,
    expect,
    holds,
    statuses_text,
)
from pytest_smoke.checks.templates import new_marker

from .crud_api import ENVELOPED, FLAT, CrudApi, Shape

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

FLAT_CHECKS = """
[crud]
collection = "/api/items"
create = { name = "{marker}", price = 12.5 }
update = { price = 13.25 }
invalid = { name = "" }
[crud.status]
create = [201]
delete = [204]
[crud.list]
items = "items"
total = "total"
filter_param = "name"
"""

ENVELOPED_CHECKS = """
[crud]
collection = "/api/articles/"
id = "article.slug"
object = "article"
envelope = "article"
create = { title = "{marker}", body = "smoke" }
update = { body = "updated {marker}" }
invalid = { title = "" }
[crud.methods]
update = "PUT"
[crud.list]
items = "articles"
total = "articlesCount"
pagination = "skip_limit"
"""

SHAPES = [
    pytest.param(FLAT, FLAT_CHECKS, id="flat"),
    pytest.param(ENVELOPED, ENVELOPED_CHECKS, id="enveloped"),
]


def crud_table(tmp_path: Path, text: str) -> dict[str, Any]:
    """The ``[crud]`` table of ``text`` as the loader gives it: validated, defaults filled in."""
    path = tmp_path / "checks.toml"
    path.write_text(text)
    table = load_checks(path, {}).section("crud")
    assert table is not None
    return dict(table)


@pytest.fixture
def api(request: pytest.FixtureRequest) -> Iterator[CrudApi]:
    shape: Shape = getattr(request, "param", FLAT)
    with CrudApi(shape) as running:
        yield running


@pytest_asyncio.fixture
async def client(api: CrudApi) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, timeout=5) as created:
        yield created


def resource_for(
    client: httpx.AsyncClient, api: CrudApi, crud: dict[str, Any], ledger: Ledger | None = None
) -> Resource:
    return Resource(client, crud, headers=api.headers, ledger=ledger)


# --- the flow, in both shapes --------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(("api", "checks"), SHAPES, indirect=["api"])
async def test_create_read_update_delete_in_either_shape(
    api: CrudApi, client: httpx.AsyncClient, checks: str, tmp_path: Path
) -> None:
    ledger = Ledger()
    resource = resource_for(client, api, crud_table(tmp_path, checks), ledger)
    marker = new_marker()
    async with resource.created(marker) as item:
        assert item.url == f"{api.url}{api.item_path(api.items[str(item.id)])}"
        assert ledger.urls == [item.url]
        assert "//" not in item.path
        assert resource.marker_in(await resource.read(item)) == marker
        updated = await resource.update(item)
        assert holds(
            updated, {"price": 13.25} if api.shape is FLAT else {"body": f"updated {marker}"}
        )
        await resource.delete(item)
        assert len(ledger) == 0
        await resource.assert_gone(item)
    assert api.items == {}
    methods = [method for method, _ in api.requests]
    assert methods == ["POST", "GET", api.shape.update_method, "DELETE", "GET"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("api", "checks"), SHAPES, indirect=["api"])
async def test_the_created_resource_is_deleted_when_the_check_fails(
    api: CrudApi, client: httpx.AsyncClient, checks: str, tmp_path: Path
) -> None:
    ledger = Ledger()
    resource = resource_for(client, api, crud_table(tmp_path, checks), ledger)
    with pytest.raises(RuntimeError, match="the check broke"):
        async with resource.created():
            raise RuntimeError("the check broke")
    assert api.items == {}
    assert len(ledger) == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("api", [ENVELOPED], indirect=True, ids=["enveloped"])
async def test_enveloped_requests_and_the_id_inside_the_answer(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    resource = resource_for(client, api, crud_table(tmp_path, ENVELOPED_CHECKS))
    marker = new_marker()
    async with resource.created(marker) as item:
        assert item.id == f"{marker}-1"
        assert item.path == f"/api/articles/{marker}-1"  # never /api/articles//...
        assert item.object == {"slug": f"{marker}-1", "title": marker, "body": "smoke"}
        assert resource.id_in(item.object) == item.id


# --- redirects -----------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("api", [ENVELOPED], indirect=True, ids=["enveloped"])
async def test_an_unsafe_request_answered_with_a_redirect_names_the_target(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    crud = crud_table(tmp_path, ENVELOPED_CHECKS.replace('"/api/articles/"', '"/api/articles"'))
    ledger = Ledger()
    with pytest.raises(UnexpectedAnswer) as raised:
        await resource_for(client, api, crud, ledger).create(new_marker())
    assert str(raised.value) == (
        "POST /api/articles answered 307 -> /api/articles/: set crud.collection to the target"
    )
    assert api.items == {}
    assert len(ledger) == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("api", [ENVELOPED], indirect=True, ids=["enveloped"])
async def test_get_follows_redirects(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    api.add("listed")
    crud = crud_table(tmp_path, ENVELOPED_CHECKS.replace('"/api/articles/"', '"/api/articles"'))
    page = await resource_for(client, api, crud).list_page(0, 10)
    assert [item["title"] for item in page.items] == ["listed"]
    assert page.total == 1


# --- one line per failure ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_unexpected_status_is_one_line_with_method_path_status_and_body(
    api: CrudApi, client: httpx.AsyncClient
) -> None:
    with pytest.raises(UnexpectedAnswer) as raised:
        await expect(client, "GET", "/api/items/77", {200}, headers=api.headers)
    assert str(raised.value) == (
        'GET /api/items/77 answered 404, expected 200: {"detail": "77 not found"}'
    )
    with pytest.raises(UnexpectedAnswer, match=r"^GET /api/items answered 401, expected 200: "):
        await expect(client, "GET", "/api/items", {200})
    response = await expect(client, "GET", "/api/items", {401, 403})
    assert response.status_code == 401


def test_statuses_text() -> None:
    assert statuses_text([200]) == "200"
    assert statuses_text({403, 401}) == "401 or 403"
    assert statuses_text([204, 200, 202]) == "200, 202 or 204"


@pytest.mark.asyncio
async def test_a_create_answer_without_the_id_is_named_and_kept_on_the_ledger(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    crud = crud_table(tmp_path, FLAT_CHECKS.replace("[crud]\n", '[crud]\nid = "data.id"\n', 1))
    ledger = Ledger()
    marker = new_marker()
    with pytest.raises(UnexpectedAnswer, match=r"^POST /api/items answered 201 without an id at"):
        await resource_for(client, api, crud, ledger).create(marker)
    assert ledger.left_behind() == [f"{api.url}/api/items [{marker}] (no id at crud.id 'data.id')"]


@pytest.mark.asyncio
async def test_a_2xx_the_checks_file_does_not_list_is_deleted_before_failing(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    crud = crud_table(tmp_path, FLAT_CHECKS.replace("create = [201]", "create = [200]"))
    ledger = Ledger()
    with pytest.raises(UnexpectedAnswer, match="answered 201, expected 200"):
        await resource_for(client, api, crud, ledger).create(new_marker())
    assert api.items == {}
    assert len(ledger) == 0


# --- invalid input -------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(("api", "checks"), SHAPES, indirect=["api"])
async def test_invalid_input_is_refused(
    api: CrudApi, client: httpx.AsyncClient, checks: str, tmp_path: Path
) -> None:
    resource = resource_for(client, api, crud_table(tmp_path, checks))
    response = await resource.refuse_invalid(new_marker())
    assert response.status_code == 422
    assert api.items == {}


@pytest.mark.asyncio
async def test_accepted_invalid_input_is_deleted_again_and_fails(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    crud = crud_table(
        tmp_path, FLAT_CHECKS.replace('invalid = { name = "" }', 'invalid = { name = "ok" }')
    )
    ledger = Ledger()
    with pytest.raises(
        UnexpectedAnswer, match=r"^POST /api/items answered 201, expected 400 or 422"
    ):
        await resource_for(client, api, crud, ledger).refuse_invalid(new_marker())
    assert api.items == {}
    assert len(ledger) == 0


# --- deletes that fail stay on the ledger --------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(("api", "checks"), SHAPES, indirect=["api"])
async def test_a_failed_delete_stays_on_the_ledger_with_its_status(
    api: CrudApi, client: httpx.AsyncClient, checks: str, tmp_path: Path
) -> None:
    ledger = Ledger()
    resource = resource_for(client, api, crud_table(tmp_path, checks), ledger)
    api.delete_status = 500
    async with resource.created() as item:
        pass  # the cleanup delete answers 500: no exception, the item stays on the ledger
    assert ledger.left_behind() == [f"{item.url} (DELETE -> 500)"]
    with pytest.raises(UnexpectedAnswer, match=r"^DELETE /api/\w+/\S+ answered 500, expected "):
        await resource.delete(item)
    assert ledger.left_behind() == [f"{item.url} (DELETE -> 500)"]
    api.delete_status = None
    assert await resource.remove(item)
    assert len(ledger) == 0


@pytest.mark.asyncio
async def test_a_delete_that_raises_stays_on_the_ledger_named_with_the_error(
    api: CrudApi, tmp_path: Path
) -> None:
    ledger = Ledger()
    crud = crud_table(tmp_path, FLAT_CHECKS)
    async with httpx.AsyncClient(base_url=api.url, timeout=5) as client:
        resource = resource_for(client, api, crud, ledger)
        item = await resource.create(new_marker())
    # the client is closed: the delete cannot even be sent
    assert not await resource.remove(item)
    assert ledger.left_behind() == [f"{item.url} (DELETE -> RuntimeError)"]


@pytest.mark.asyncio
async def test_a_delete_answering_gone_counts_as_deleted(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    ledger = Ledger()
    resource = resource_for(client, api, crud_table(tmp_path, FLAT_CHECKS), ledger)
    async with resource.created() as item:
        api.items.clear()  # someone else deleted it: the cleanup's 404 is fine
    assert item.url not in ledger


# --- listing -------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(("api", "checks"), SHAPES, indirect=["api"])
async def test_pages_in_either_style(
    api: CrudApi, client: httpx.AsyncClient, checks: str, tmp_path: Path
) -> None:
    for n in range(5):
        api.add(f"item-{n}")
    resource = resource_for(client, api, crud_table(tmp_path, checks))
    pages = [await resource.list_page(number, 2) for number in range(3)]
    names = [[item[api.shape.name_key] for item in page.items] for page in pages]
    assert names == [["item-0", "item-1"], ["item-2", "item-3"], ["item-4"]]
    assert {page.total for page in pages} == {5}
    offset = api.shape.offset_param
    assert api.requests[-1][1] == f"{api.shape.collection}?limit=2&{offset}=4"


def test_page_parameters_per_style(tmp_path: Path) -> None:
    def params(listing: str) -> list[dict[str, Any]]:
        text = FLAT_CHECKS.replace('items = "items"', listing)
        resource = Resource(httpx.AsyncClient(), crud_table(tmp_path, text))
        return [resource.page_params(number, 10) for number in (0, 1)]

    assert params('items = "items"') == [{"limit": 10, "offset": 0}, {"limit": 10, "offset": 10}]
    assert params('items = "items"\npagination = "skip_limit"') == [
        {"limit": 10, "skip": 0},
        {"limit": 10, "skip": 10},
    ]
    assert params('items = "items"\npagination = "page_size"') == [
        {"size": 10, "page": 1},
        {"size": 10, "page": 2},
    ]
    assert params('items = "items"\npagination = "page_size"\nfirst_page = 0') == [
        {"size": 10, "page": 0},
        {"size": 10, "page": 1},
    ]
    assert params('items = "items"\npagination = "none"') == [{}, {}]


@pytest.mark.asyncio
async def test_a_listing_without_the_items_list_is_one_line(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    crud = crud_table(tmp_path, FLAT_CHECKS.replace('items = "items"', 'items = "data"'))
    with pytest.raises(UnexpectedAnswer, match=r"without a list at crud.list.items 'data'"):
        await resource_for(client, api, crud).list_page(0, 2)


def test_holds_compares_what_was_sent_with_what_is_answered() -> None:
    assert holds({"a": 1, "b": {"c": [1, 2], "d": 3}}, {"b": {"c": [1, 2]}})
    assert holds({"price": 13.25, "name": "x"}, {"price": 13.25})
    assert not holds({"price": 13.0}, {"price": 13.25})
    assert not holds({"b": {"c": [1]}}, {"b": {"c": [1, 2]}})
    assert not holds(None, {"price": 1})


# --- the sweep -----------------------------------------------------------------------------------


def _old_marker(seconds_ago: int) -> str:
    return f"smoke-{int(time.time()) - seconds_ago:010d}-0123abcd"


@pytest.mark.asyncio
@pytest.mark.parametrize(("api", "checks"), SHAPES, indirect=["api"])
async def test_the_sweep_deletes_old_markers_only(
    api: CrudApi, client: httpx.AsyncClient, checks: str, tmp_path: Path
) -> None:
    old = [api.add(_old_marker(3600)) for _ in range(3)]
    young = api.add(_old_marker(5))
    plain = api.add("a real item")
    ledger = Ledger()
    resource = resource_for(client, api, crud_table(tmp_path, checks), ledger)
    result = await resource.sweep(older_than=600, max_pages=20, page_size=2)
    assert (result.stale, result.removed, result.listed) == (3, 3, 5)
    assert result.pages == 3  # the total (5) tells the third page is the last
    remaining = [item[api.shape.id_key] for item in api.items.values()]
    assert remaining == [young[api.shape.id_key], plain[api.shape.id_key]]
    assert all(item[api.shape.id_key] not in remaining for item in old)
    assert len(ledger) == 0


@pytest.mark.asyncio
async def test_the_sweep_reads_at_most_max_pages(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    for _ in range(6):
        api.add(_old_marker(3600))
    resource = resource_for(client, api, crud_table(tmp_path, FLAT_CHECKS))
    result = await resource.sweep(older_than=0, max_pages=2, page_size=2)
    assert (result.pages, result.listed, result.removed) == (2, 4, 4)
    assert len(api.items) == 2


@pytest.mark.asyncio
async def test_a_sweep_delete_that_fails_is_left_behind(
    api: CrudApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    stale = api.add(_old_marker(3600))
    api.delete_status = 500
    ledger = Ledger()
    resource = resource_for(client, api, crud_table(tmp_path, FLAT_CHECKS), ledger)
    result = await resource.sweep(older_than=600, max_pages=5)
    assert (result.stale, result.removed) == (1, 0)
    assert ledger.left_behind() == [f"{api.url}/api/items/{stale['id']} (DELETE -> 500)"]

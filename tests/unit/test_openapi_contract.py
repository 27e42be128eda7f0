"""Contract checks without a run: which operations are checked, the plan made at collection,
and answers held to the document by openapi-core, in OpenAPI 3.0 (``nullable``, a server with a
base path) and 3.1 (``type: [..., "null"]``, ``2XX`` ranges, ``default`` responses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_smoke.openapi.contract import DOCUMENT_ID, check_answer, plan_contract, select
from pytest_smoke.openapi.document import Document, locate_given, read_document
from pytest_smoke.openapi.operations import Operation, operations_of

DOCUMENTS = Path(__file__).parent / "openapi_documents"
SECTION = {"document": "shop-3.0.yaml", "exclude": [], "timeout_seconds": 5}
ORDER = {
    "id": "6f1c1f0e-0000-4000-8000-000000000001",
    "reference": "smoke-1",
    "quantity": 2,
    "currency": "EUR",
    "price": 9.5,
    "note": None,
    "shipped": None,
}


@pytest.fixture(scope="module")
def shop() -> Document:
    return read_document(locate_given(str(DOCUMENTS / "shop-3.0.yaml")))


@pytest.fixture(scope="module")
def library() -> Document:
    return read_document(locate_given(str(DOCUMENTS / "library-3.1.json")))


def operation(document: Document, label: str) -> Operation:
    (found,) = [op for op in operations_of(document) if op.label == label]
    return found


def verdict(
    document: Document, label: str, status: int, body: Any, content_type: str = "application/json"
) -> str | None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = httpx.Headers({"Content-Type": content_type})
    return check_answer(
        document, operation(document, label), status=status, headers=headers, body=data
    )


# --- which operations ----------------------------------------------------------------------


def test_gets_needing_no_input_are_checked(shop: Document) -> None:
    # not POST, not /orders/{orderId} (a path parameter), not /export (a required header)
    assert [op.label for op in select(operations_of(shop), None, [])] == [
        "GET /status",
        "GET /orders",
    ]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (["/orders*"], [], ["GET /orders"]),
        (None, ["/st*"], ["GET /orders"]),
        (["/*"], ["/orders"], ["GET /status"]),
        (["/nothing"], [], []),
    ],
)
def test_include_and_exclude_are_fnmatch_patterns_on_the_documents_paths(
    shop: Document, include: list[str] | None, exclude: list[str], expected: list[str]
) -> None:
    assert [op.label for op in select(operations_of(shop), include, exclude)] == expected


def test_an_operation_is_called_on_the_servers_base_path(shop: Document) -> None:
    orders = operation(shop, "GET /orders")
    assert orders.server == "https://eu.shop.example.com/v2"  # {region} at its default
    assert orders.gateway_path == "/v2/orders"


def test_an_optional_security_requirement_needs_no_credentials(library: Document) -> None:
    assert operation(library, "GET /books").security == ("OAuth",)
    assert operation(library, "GET /me").security == ()  # [{OAuth: []}, {}]
    assert operation(library, "GET /healthz").security == ()


# --- the plan ------------------------------------------------------------------------------


def test_the_plan_names_each_check_by_operation(tmp_path: Path) -> None:
    plan = plan_contract(SECTION, checks_file=DOCUMENTS / "smoke-checks.toml", gateway_url=None)
    assert plan.problem is None
    assert plan.ids == ["GET /status", "GET /orders"]


def test_a_document_that_cannot_be_read_is_one_problem_naming_it(tmp_path: Path) -> None:
    plan = plan_contract(SECTION, checks_file=tmp_path / "smoke-checks.toml", gateway_url=None)
    assert plan.ids == [DOCUMENT_ID]
    assert plan.problem == (
        f"OpenAPI document {tmp_path / 'shop-3.0.yaml'}: cannot read it: No such file or "
        "directory (openapi.document)"
    )


def test_a_document_with_nothing_to_check_is_a_problem_too() -> None:
    section = {**SECTION, "include": ["/nothing/*"]}
    plan = plan_contract(section, checks_file=DOCUMENTS / "smoke-checks.toml", gateway_url=None)
    assert plan.ids == [DOCUMENT_ID]
    assert plan.problem is not None
    assert "no GET operation that needs no input and openapi.include/exclude" in plan.problem


# --- answers, OpenAPI 3.0 ------------------------------------------------------------------


def test_a_valid_30_answer_with_nullable_fields(shop: Document) -> None:
    body = {"data": [ORDER], "meta": {"total_count": 1}}
    assert verdict(shop, "GET /orders", 200, body) is None


def test_a_body_off_its_schema_names_where(shop: Document) -> None:
    body = {"data": [{**ORDER, "quantity": "2", "currency": "GBP"}], "meta": {"total_count": 1}}
    message = verdict(shop, "GET /orders", 200, body)
    assert message is not None
    assert message.startswith(
        "GET /orders answered 200, which breaks the document's contract: the body does not "
        "match the documented schema: "
    )
    assert "$.data[0].quantity: '2' is not of type 'integer'" in message
    assert "$.data[0].currency: 'GBP' is not one of ['EUR', 'USD']" in message
    assert "\n" not in message


def test_null_where_30_does_not_say_nullable(shop: Document) -> None:
    body = {"data": [{**ORDER, "reference": None}], "meta": {}}
    message = verdict(shop, "GET /orders", 200, body)
    assert message is not None
    assert "$.data[0].reference: None for not nullable" in message


def test_a_status_the_document_does_not_list(shop: Document) -> None:
    message = verdict(shop, "GET /orders", 500, {"error": "boom"})
    assert message == (
        "GET /orders answered 500, which breaks the document's contract: the document does not "
        "list 500 for it (it lists 200, 401)"
    )


def test_a_documented_error_status_with_its_media_type_keeps_the_contract(shop: Document) -> None:
    body = {"title": "no key"}
    assert verdict(shop, "GET /orders", 401, body, "application/problem+json") is None
    message = verdict(shop, "GET /orders", 401, b"<html>", "text/html")
    assert message is not None
    assert "Content-Type text/html is not documented (it lists application/problem+json)" in (
        message
    )


def test_an_empty_or_unreadable_body(shop: Document) -> None:
    empty = verdict(shop, "GET /status", 200, b"")
    assert empty is not None
    assert empty.endswith("the body is empty, but the document describes one")
    broken = verdict(shop, "GET /status", 200, b"{not json")
    assert broken is not None
    assert broken.endswith("the body cannot be read as application/json")


# --- answers, OpenAPI 3.1 ------------------------------------------------------------------


def test_31_type_lists_with_null(library: Document) -> None:
    assert verdict(library, "GET /me", 200, None) is None  # type: ["object", "null"]
    book = {"isbn": "1", "title": "t", "pages": 3, "subtitle": None}
    assert verdict(library, "GET /books", 200, [book]) is None
    message = verdict(library, "GET /books", 200, [{**book, "pages": None}])
    assert message is not None
    assert "$[0].pages: None is not of type 'integer'" in message


def test_a_2xx_range_and_a_default_response(library: Document) -> None:
    assert verdict(library, "GET /healthz", 203, {"ok": True}) is None  # 2XX
    assert verdict(library, "GET /books", 503, {"message": "down"}) is None  # default
    message = verdict(library, "GET /books", 503, {"detail": "down"})
    assert message is not None
    assert "GET /books answered 503" in message
    assert "$: 'message' is a required property" in message

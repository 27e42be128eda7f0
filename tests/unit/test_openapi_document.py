"""Reading and validating an OpenAPI document: files (JSON, YAML), URLs (HTTP, HTTPS with a
private CA), ``$ref`` into another file, and one clear line for each way it can go wrong."""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path

import pytest

from clients.http_server import closed_port, silent_listener
from pytest_smoke.openapi.document import (
    DocumentError,
    Location,
    locate,
    locate_given,
    read_document,
)
from pytest_smoke.openapi.operations import operations_of
from pytest_smoke.openapi.schemas import sample

from .openapi_server import serving_files

DOCUMENTS = Path(__file__).parent / "openapi_documents"
SHOP = DOCUMENTS / "shop-3.0.yaml"
LIBRARY = DOCUMENTS / "library-3.1.json"


def read_file(path: Path) -> object:
    return read_document(locate_given(str(path)))


def failure(location: Location, **kwargs: object) -> str:
    with pytest.raises(DocumentError) as caught:
        read_document(location, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def order_price(document: object) -> object:
    (post,) = [op for op in operations_of(document) if op.label == "POST /orders"]  # type: ignore[arg-type]
    body = post.request_body()
    assert body is not None
    return sample(body[1] / "properties" / "price")


# --- reading -------------------------------------------------------------------------------


def test_a_yaml_30_document_and_its_ref_into_another_file() -> None:
    document = read_document(locate_given(str(SHOP)))
    assert (document.version, document.title) == ("3.0.3", "shop")
    # Money is in common.yaml: the library resolved the $ref, relative to the document
    assert order_price(document) == 9.99


def test_a_json_31_document() -> None:
    document = read_document(locate_given(str(LIBRARY)))
    assert (document.version, document.title) == ("3.1.0", "library")
    assert [op.label for op in operations_of(document)][:3] == [
        "GET /healthz",
        "POST /oauth/token",
        "GET /books",
    ]


def test_a_document_over_http_with_its_refs_fetched_too() -> None:
    with serving_files(DOCUMENTS) as url:
        document = read_document(Location(f"{url}/shop-3.0.yaml"))
        assert order_price(document) == 9.99  # common.yaml, fetched from the same server
    assert document.location.remote


def test_https_with_a_private_ca(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    from pytest_smoke.clients.http import build_ssl_context

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    with serving_files(DOCUMENTS, tls=server_context) as url:
        location = Location(f"{url}/library-3.1.json")
        document = read_document(location, verify=build_ssl_context(str(bundle)))
        assert document.title == "library"
        untrusted = failure(location)
    assert untrusted.startswith(f"OpenAPI document {url}/library-3.1.json: cannot fetch it: TLS")


# --- where it is ---------------------------------------------------------------------------


def test_a_path_is_on_the_gateway_a_url_as_it_is_anything_else_next_to_the_checks_file(
    tmp_path: Path,
) -> None:
    checks = tmp_path / "smoke" / "smoke-checks.toml"
    gateway = "https://gw.example.com/base"
    assert locate("/openapi.json", checks_file=checks, gateway_url=gateway).url == (
        "https://gw.example.com/base/openapi.json"
    )
    assert locate("http://docs.example.com/api.yaml", checks_file=checks, gateway_url=None).url == (
        "http://docs.example.com/api.yaml"
    )
    relative = locate("../api/openapi.yaml", checks_file=checks, gateway_url=gateway)
    assert not relative.remote
    assert Path(relative.shown) == tmp_path / "smoke" / ".." / "api" / "openapi.yaml"
    absolute = locate(f"file://{SHOP}", checks_file=checks, gateway_url=gateway)
    assert Path(absolute.shown) == SHOP


def test_a_gateway_path_without_a_gateway_says_what_to_set() -> None:
    with pytest.raises(DocumentError, match="a path on GATEWAY_URL, which is not set"):
        locate("/openapi.json", checks_file=None, gateway_url=None)


def test_a_password_in_the_url_is_never_shown() -> None:
    location = Location(f"http://user:s3cret@127.0.0.1:{closed_port()}/openapi.json")
    message = failure(location, timeout=2)
    assert "s3cret" not in message
    assert "user:***@127.0.0.1" in message


# --- what can go wrong: one line each --------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    message = failure(locate_given(str(tmp_path / "nope.yaml")))
    assert message == (
        f"OpenAPI document {tmp_path / 'nope.yaml'}: cannot read it: No such file or directory"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("openapi: [3.1\n  broken: {", re.escape("neither JSON nor YAML")),
        ("[1, 2]", re.escape("not an OpenAPI document (no top-level object)")),
        (
            '{"swagger": "2.0", "info": {}, "paths": {}}',
            re.escape("a Swagger 2.0 document; this release"),
        ),
        (
            '{"openapi": "4.0.0", "info": {}}',
            re.escape("not an OpenAPI 3 document (its 'openapi' field"),
        ),
        # openapi-spec-validator words its errors differently with the jsonschema-rs backend
        # (installed, it is used): both give the first line of the error, not its whole text.
        (
            '{"openapi": "3.1.0", "paths": {}}',
            r"not a valid OpenAPI 3\.1\.0 document: ['\"]info['\"] is a required property$",
        ),
        (
            json.dumps(
                {
                    "openapi": "3.0.3",
                    "info": {"title": "t", "version": "1"},
                    "paths": {"/x": {"get": {"responses": {"200": {"description": 5}}}}},
                }
            ),
            r"not a valid OpenAPI 3\.0\.3 document: \{['\"]description['\"]: ?5\} is not valid "
            r"under any of the (given schemas|schemas listed in the 'oneOf' keyword) "
            r"\(at paths > /x > get > responses > 200\)$",
        ),
        (
            json.dumps(
                {
                    "openapi": "3.1.0",
                    "info": {"title": "t", "version": "1"},
                    "paths": {
                        "/x": {"get": {"responses": {"200": {"$ref": "missing.yaml#/Nope"}}}}
                    },
                }
            ),
            re.escape("missing.yaml"),
        ),
    ],
    ids=["not-yaml", "array", "swagger-2", "openapi-4", "invalid-31", "invalid-30", "bad-ref"],
)
def test_what_is_not_a_usable_document_is_one_line_naming_it(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "openapi.json"
    path.write_text(text)
    message = failure(locate_given(str(path)))
    assert message.startswith(f"OpenAPI document {path}: ")
    assert re.search(expected, message), message


def test_a_url_nothing_answers_on() -> None:
    url = f"http://127.0.0.1:{closed_port()}/openapi.json"
    assert failure(Location(url)) == f"OpenAPI document {url}: cannot fetch it: connection refused"


def test_a_url_that_answers_an_error(tmp_path: Path) -> None:
    with serving_files(tmp_path) as url:
        message = failure(Location(f"{url}/openapi.json"))
    assert message.startswith(f"OpenAPI document {url}/openapi.json: answered 404, not 200")


def test_a_url_that_never_answers_is_given_up_on_in_time() -> None:
    with silent_listener() as port:
        message = failure(Location(f"http://127.0.0.1:{port}/openapi.json"), timeout=0.3)
    assert "cannot fetch it: no response within 0.3s" in message

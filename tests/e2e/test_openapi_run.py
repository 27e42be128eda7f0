"""The bundled contract checks (``[openapi]``), run by pytest with the gate, against a small local
API that serves its own OpenAPI 3.1 document and can break it on purpose: one test id per
operation, the auth headers only where the document asks, a body off its schema named, and a
document that cannot be read as one failing check, never a collection error. (Against the
example deployments: test_init_run.py.)"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from clients.http_server import closed_port
from clients.threaded_server import JsonHandler, serving

from .suite_run import outcomes, run_suite_modules

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TOKEN = "contract-token-0123456789"
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "widgets", "version": "1"},
    "paths": {
        "/health": {
            "get": {
                "responses": {
                    "200": {
                        "description": "up",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {"status": {"type": "string"}},
                                }
                            }
                        },
                    }
                }
            }
        },
        "/api/widgets": {
            "get": {
                "security": [{"Bearer": []}],
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {
                        "description": "widgets",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/WidgetPage"}
                            }
                        },
                    },
                    "401": {"description": "no token"},
                },
            }
        },
        "/api/widgets/{id}": {
            "get": {
                "security": [{"Bearer": []}],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"200": {"description": "one"}},
            }
        },
        "/internal/debug": {"get": {"responses": {"200": {"description": "debug"}}}},
    },
    "components": {
        "securitySchemes": {"Bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Widget": {
                "type": "object",
                "required": ["id", "price"],
                "properties": {"id": {"type": "integer"}, "price": {"type": "number"}},
            },
            "WidgetPage": {
                "type": "object",
                "required": ["widgets", "total"],
                "properties": {
                    "widgets": {"type": "array", "items": {"$ref": "#/components/schemas/Widget"}},
                    "total": {"type": "integer"},
                },
            },
        },
    },
}
CHECKS = """
version = 1

[openapi]
document = "{document}"
auth = true
exclude = ["/internal/*"]
"""
IDS = {"test_openapi_contract[GET /health]", "test_openapi_contract[GET /api/widgets]"}


class Api(ThreadingHTTPServer):
    """The local deployment: what it answers, and what it saw."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.broken = False
        self.hits: Counter[str] = Counter()
        self.authorization: dict[str, str | None] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(JsonHandler):
    server: Api

    def do_GET(self) -> None:
        api, path = self.server, self.path.split("?")[0]
        with api.lock:
            api.hits[path] += 1
            api.authorization[path] = self.headers.get("Authorization")
        if path == "/openapi.json":
            self.answer_json(200, DOCUMENT)
        elif path == "/health":
            self.answer_json(200, {"status": "ok"})
        elif path == "/api/widgets":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.answer_json(401, {"detail": "no token"})
                return
            price: Any = "2.50" if api.broken else 2.5
            self.answer_json(200, {"widgets": [{"id": 1, "price": price}], "total": 1})
        else:
            self.answer_json(404, {"detail": "not found"})


@pytest.fixture
def api() -> Iterator[Api]:
    with serving(Api()) as server:
        yield server


def run_suite(
    tmp_path: Path, url: str, checks: str, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    """The contract module of the bundled suite, gated, against ``url``."""
    return run_suite_modules(
        tmp_path, url, ("pytest_smoke.suite.test_openapi_contract",), checks, TOKEN, *args, env=env
    )


def test_each_operation_is_a_contract_check_of_its_own(tmp_path: Path, api: Api) -> None:
    status, document, output = run_suite(tmp_path, api.url, CHECKS.format(document="/openapi.json"))
    assert status == 0, output[-3000:]
    assert document["verdict"] == "PROCEED", document["reasons"]
    assert outcomes(document) == dict.fromkeys(IDS, "passed")
    assert all(t["categories"] == ["contract", "service"] for t in document["tests"])
    assert api.hits["/openapi.json"] == 1  # read once, at collection
    assert "/internal/debug" not in api.hits  # excluded
    assert "/api/widgets/1" not in api.hits  # needs a path parameter: not checked
    # the token goes where the document asks for security, and only there
    assert api.authorization["/api/widgets"] == f"Bearer {TOKEN}"
    assert api.authorization["/health"] is None
    assert TOKEN not in output


def test_a_body_that_breaks_its_schema_fails_naming_where(tmp_path: Path, api: Api) -> None:
    api.broken = True
    status, document, output = run_suite(tmp_path, api.url, CHECKS.format(document="/openapi.json"))
    assert document["verdict"] != "PROCEED", output[-3000:]
    assert status != 0
    assert outcomes(document) == {
        "test_openapi_contract[GET /health]": "passed",
        "test_openapi_contract[GET /api/widgets]": "failed",
    }
    assert (
        "GET /api/widgets answered 200, which breaks the document's contract: the body does not "
        "match the documented schema: $.widgets[0].price: '2.50' is not of type 'number'"
    ) in output


def test_an_unreachable_document_is_one_failing_check_naming_it(tmp_path: Path, api: Api) -> None:
    url = f"http://127.0.0.1:{closed_port()}/openapi.json"  # the gateway answers, not this
    status, document, output = run_suite(tmp_path, api.url, CHECKS.format(document=url))
    assert document["verdict"] != "PROCEED", output[-3000:]
    assert status != 0
    assert outcomes(document) == {"test_openapi_contract[document]": "failed"}
    assert (
        f"OpenAPI document {url}: cannot fetch it: connection refused (openapi.document)" in output
    )
    assert "Traceback" not in output
    assert "ERROR collecting" not in output
    assert not document["collection_errors"]


def test_a_local_document_next_to_the_checks_file(tmp_path: Path, api: Api) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "openapi.json").write_text(json.dumps(DOCUMENT))
    status, document, output = run_suite(
        tmp_path, api.url, CHECKS.format(document="api/openapi.json")
    )
    assert status == 0, output[-3000:]
    assert outcomes(document) == dict.fromkeys(IDS, "passed")
    assert "/openapi.json" not in api.hits


def test_without_openapi_the_check_is_not_applicable(tmp_path: Path, api: Api) -> None:
    _, document, output = run_suite(tmp_path, api.url, "version = 1\n")
    assert document["tests"] == [], output[-3000:]
    (group,) = document["not_applicable"]
    assert group["reason"] == "checks file openapi"
    assert not api.hits


def test_parallel_workers_collect_the_same_checks(tmp_path: Path, api: Api) -> None:
    status, document, output = run_suite(
        tmp_path, api.url, CHECKS.format(document="/openapi.json"), "-n", "2"
    )
    assert status == 0, output[-3000:]
    assert outcomes(document) == dict.fromkeys(IDS, "passed")


def test_without_the_openapi_extra_the_check_fails_naming_it(tmp_path: Path, api: Api) -> None:
    # a plugin loaded first makes openapi-core impossible to import, as if it were not installed
    hiding = tmp_path / "plugins"
    hiding.mkdir()
    (hiding / "no_openapi_core.py").write_text("import sys\nsys.modules['openapi_core'] = None\n")
    status, document, output = run_suite(
        tmp_path,
        api.url,
        CHECKS.format(document="/openapi.json"),
        "-p",
        "no_openapi_core",
        env={"PYTHONPATH": str(hiding)},
    )
    assert status != 0
    assert outcomes(document) == {"test_openapi_contract[document]": "failed"}
    assert (
        "smoke: openapi_core is not installed; pip install 'pytest-smoke-gate[openapi]'" in output
    )
    assert "Traceback" not in output

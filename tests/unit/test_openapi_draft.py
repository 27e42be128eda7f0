"""``init``'s draft: from the two example apps' own documents (FastAPI, OpenAPI 3.1), from a 3.0
document shaped nothing like FastAPI's (a server base path, an API key, envelopes, page/per_page)
and from a 3.1 one with an OAuth2 password flow. Every draft loads as a run loads a checks file;
what it guessed is marked. (tests/e2e/test_init_run.py runs the suite with the drafts of the
live examples, unchanged.)"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pytest_smoke.checks import Checks, load_checks
from pytest_smoke.openapi.document import Location, locate_given, parse_document, read_document
from pytest_smoke.openapi.draft import Draft, checked, draft_checks

DOCUMENTS = Path(__file__).parent / "openapi_documents"
DEMO = Path(__file__).resolve().parents[2] / "src" / "pytest_smoke" / "demo"
VARIABLES = {"SMOKE_TEST_USERNAME": "me", "SMOKE_TEST_PASSWORD": "pw"}

#: Dumps the example apps' OpenAPI documents, as they serve them at /openapi.json.
DUMP = """
import json, os, sys
sys.path[:0] = [{items!r}, {articles!r}]
os.environ.update(DEMO_DATABASE_URL="postgresql://u@127.0.0.1/x",
                  DEMO_REDIS_URL="redis://127.0.0.1", DEMO_JWT_SECRET="x" * 32)
import app
from articles_api.main import create_app
articles = create_app({{"ARTICLES_DATABASE_URL": "postgresql://u@127.0.0.1/x",
                        "ARTICLES_SECRET_KEY": "x" * 32}})
json.dump({{"items": app.app.openapi(), "articles": articles.openapi()}}, sys.stdout)
"""


@pytest.fixture(scope="module")
def examples() -> dict[str, Any]:
    """The items and articles apps' documents, made by the apps in a process of their own."""
    pytest.importorskip("fastapi")
    code = DUMP.format(items=str(DEMO / "items"), articles=str(DEMO / "articles"))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    documents: dict[str, Any] = json.loads(result.stdout)
    return documents


def draft_of(path: Path, output: Path) -> Draft:
    draft = draft_checks(read_document(locate_given(str(path))), output=output)
    checked(draft, output)
    return draft


def draft_example(examples: dict[str, Any], name: str, tmp_path: Path) -> Draft:
    """The draft ``init --openapi GATEWAY/openapi.json`` makes of an example app."""
    location = Location(f"https://{name}.example.com/openapi.json")
    document = parse_document(json.dumps(examples[name]), location)
    return draft_checks(document, output=tmp_path / "smoke-checks.toml")


def loaded(draft: Draft, tmp_path: Path) -> Checks:
    path = tmp_path / "smoke-checks.toml"
    path.write_text(draft.text)
    return load_checks(path, VARIABLES)


def line_of(draft: Draft, start: str) -> str:
    (line,) = [line for line in draft.text.splitlines() if line.startswith(start)]
    return line


# --- the two examples ---------------------------------------------------------------------------


def test_the_items_example(examples: dict[str, Any], tmp_path: Path) -> None:
    draft = draft_example(examples, "items", tmp_path)
    checks = loaded(draft, tmp_path)
    assert checks.get("service.health") == ["/health", "/api/ping"]
    assert [(e["name"], e["path"], e.get("auth")) for e in checks.get("endpoints")] == [
        ("health", "/health", None),
        ("api-ping", "/api/ping", None),
        ("api-items", "/api/items", True),
    ]
    assert checks.section("auth") == {
        "protected": "/api/items",
        "accepted": [200],
        "refused": [401, 403],
        "header": "Authorization",
        "scheme": "Bearer",  # http bearer
        # the login the document describes: a JSON POST of username and password
        "login": {
            "url": "/auth/login",
            "format": "json",
            "body": {"username": "me", "password": "pw"},
            "token": "access_token",
        },
    }
    crud = checks.section("crud")
    assert crud is not None
    assert (crud["collection"], crud["item"], crud["id"], crud["object"]) == (
        "/api/items",
        "/api/items/{id}",
        "id",
        "@",
    )
    assert crud["create"] == {"name": "{marker}", "price": 1.5}
    assert crud["update"] == {"price": 2.5}
    assert crud["invalid"] == {"name": "{marker}", "price": "not-a-number"}
    assert crud["methods"]["update"] == "PATCH"
    assert (crud["status"]["create"], crud["status"]["delete"]) == ([201], [204])
    assert crud["list"]["items"] == "items"
    assert crud["list"]["total"] == "total"
    assert crud["list"]["pagination"] == "limit_offset"
    assert crud["list"]["filter_param"] == "name"
    assert checks.get("errors.not_found") == "/api/items/2147483647"
    assert checks.section("openapi") == {
        "document": "/openapi.json",  # the path it was read from, on the gateway
        "auth": True,
        "exclude": [],
        "timeout_seconds": 10,
    }
    assert "# 3 contract check(s): GET /health, GET /api/ping, GET /api/items" in draft.text


def test_the_articles_example(examples: dict[str, Any], tmp_path: Path) -> None:
    draft = draft_example(examples, "articles", tmp_path)
    checks = loaded(draft, tmp_path)
    assert checks.get("service.health") == ["/api/healthz"]
    assert checks.get("auth.header") == "Authorization"
    # an apiKey in the Authorization header: its scheme word from the description, a guess
    assert checks.get("auth.scheme") == "Token"
    assert "# guessed: securitySchemes.Token (apiKey" in line_of(draft, "scheme = ")
    assert checks.get("auth.login") == {
        "url": "/api/auth/token",
        "format": "form",
        "body": {"grant_type": "password", "username": "me", "password": "pw"},
        "token": "access_token",
    }
    crud = checks.section("crud")
    assert crud is not None
    assert (crud["collection"], crud["item"]) == ("/api/articles/", "/api/articles/{id}")
    assert (crud["id"], crud["object"], crud["envelope"]) == ("article.slug", "article", "article")
    assert crud["create"] == {"title": "{marker}", "description": "smoke", "body": "smoke"}
    assert crud["update"] == {"description": "updated by the smoke suite"}
    assert crud["methods"]["update"] == "PUT"
    assert (crud["list"]["items"], crud["list"]["total"]) == ("articles", "articlesCount")
    assert crud["list"]["pagination"] == "skip_limit"
    assert "filter_param" not in crud["list"]
    assert "# 3 contract check(s): GET /api/healthz, GET /api/user, GET /api/articles/" in (
        draft.text
    )


def test_every_guess_is_marked(examples: dict[str, Any], tmp_path: Path) -> None:
    draft = draft_example(examples, "items", tmp_path)
    guessed = [line for line in draft.text.splitlines() if "# guessed: " in line]
    assert len(guessed) == draft.guesses >= 10
    for key in ("health", "protected", "url", "collection", "id", "items", "not_found"):
        assert "# guessed: " in line_of(draft, f"{key} = "), key
    assert "# guessed: init read it from https://items.example.com/openapi.json" in (
        line_of(draft, "document = ")
    )
    assert draft.summary == (
        "2 health path(s), auth Bearer, 3 endpoint(s), crud /api/items, 3 contract check(s)"
    )


# --- documents not shaped like FastAPI's --------------------------------------------------------


def test_a_30_document_with_a_base_path_an_api_key_and_envelopes(tmp_path: Path) -> None:
    output = tmp_path / "checks" / "smoke-checks.toml"
    output.parent.mkdir()
    draft = draft_of(DOCUMENTS / "shop-3.0.yaml", output)
    checks = loaded(draft, tmp_path)
    # every path on the gateway carries the server's base path (its variables at defaults)
    assert checks.get("service.health") == ["/v2/status"]
    assert [e["path"] for e in checks.get("endpoints")] == ["/v2/status", "/v2/orders"]
    assert checks.section("auth") == {
        "protected": "/v2/orders",
        "accepted": [200],
        "refused": [401],
        "header": "X-API-Key",  # an apiKey in its own header: the bare key
        "scheme": "",
    }
    assert "# no login found in the document: set SMOKE_TEST_LOGIN_URL" in draft.text
    crud = checks.section("crud")
    assert crud is not None
    assert (crud["collection"], crud["item"]) == ("/v2/orders", "/v2/orders/{id}")
    assert (crud["id"], crud["object"], crud["envelope"]) == ("data.id", "data", "")
    # required fields: the example (quantity), the first enum value, a $ref into common.yaml
    assert crud["create"] == {
        "reference": "{marker}",
        "quantity": 3,
        "currency": "EUR",
        "price": 9.99,
    }
    assert crud["methods"]["update"] == "PUT"
    assert crud["update"] == {**crud["create"], "quantity": 4}  # PUT sends every required field
    assert crud["status"]["invalid"] == [400]
    assert crud["list"] == {
        "items": "data",
        "total": "meta.total_count",  # one envelope down
        "pagination": "page_size",
        "limit_param": "per_page",
        "page_param": "page",
        "first_page": 1,
        "filter_param": "reference",
        "filter_field": "reference",
    }
    assert checks.get("errors.not_found") == "/v2/orders/00000000-0000-4000-8000-000000000000"
    # a local document is named relative to the checks file
    assert not checks.get("openapi.document").startswith("/")
    assert (output.parent / checks.get("openapi.document")).resolve() == (
        DOCUMENTS / "shop-3.0.yaml"
    ).resolve()
    # operations needing a path parameter or a required header are not checked
    assert "# 2 contract check(s): GET /status, GET /orders" in draft.text


def test_a_31_document_with_an_oauth2_password_flow(tmp_path: Path) -> None:
    draft = draft_of(DOCUMENTS / "library-3.1.json", tmp_path / "smoke-checks.toml")
    checks = loaded(draft, tmp_path)
    assert (checks.get("auth.header"), checks.get("auth.scheme")) == ("Authorization", "Bearer")
    assert checks.get("auth.login") == {
        "url": "/oauth/token",  # the flow's tokenUrl
        "format": "form",
        "body": {"grant_type": "password", "username": "me", "password": "pw"},
        "token": "access_token",
    }
    # a 2XX range: any 2xx, no status list
    (health,) = [e for e in checks.get("endpoints") if e["name"] == "healthz"]
    assert "status" not in health
    assert health["critical"] is True
    crud = checks.section("crud")
    assert crud is not None
    # the 3.1 `examples` of the isbn, its pattern kept; the marker in the title
    assert crud["create"] == {
        "isbn": "978-0-13-110362-7",
        "title": "{marker}",
        "pages": 1,
        "published": "2024-01-01",
    }
    assert "# isbn names the item ({isbn}) and every create sends the same value" in draft.text
    assert (crud["id"], crud["object"], crud["list"]["items"]) == ("isbn", "@", "@")
    assert crud["update"] == {"pages": 2}
    # /me accepts a call without credentials (an optional {} requirement): checked
    assert "GET /healthz, GET /books, GET /me" in draft.text


def test_what_cannot_be_drafted_is_said(tmp_path: Path) -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "bare", "version": "1"},
        "paths": {
            "/things/{id}": {
                "get": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "a thing"}},
                }
            },
            "/secret": {
                "get": {"security": [{"Query": []}], "responses": {"200": {"description": "s"}}}
            },
        },
        "components": {
            "securitySchemes": {"Query": {"type": "apiKey", "in": "query", "name": "key"}}
        },
    }
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    draft = draft_of(path, tmp_path / "smoke-checks.toml")
    text = draft.text
    assert "# no health-like path found: no [service] section" in text
    assert "# the document's security scheme is not one the suite can send" in text
    assert "# no CRUD resource found" in text
    checks = loaded(draft, tmp_path)
    assert checks.section("crud") is None
    assert checks.section("auth") is None
    # an operation the suite cannot authenticate is left out of the contract checks
    assert checks.get("openapi.exclude") == ["/secret"]
    assert checks.get("openapi.document") == "openapi.json"


def test_braces_and_variables_in_examples_stay_literal(tmp_path: Path) -> None:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/notes": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["title", "template"],
                                    "properties": {
                                        "title": {"type": "string"},
                                        "template": {
                                            "type": "string",
                                            "example": "Hello {name}, ${HOME}",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"201": {"description": "made"}},
                }
            },
            "/notes/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "get": {"responses": {"200": {"description": "one"}}},
                "delete": {"responses": {"204": {"description": "gone"}}},
            },
        },
    }
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    draft = draft_of(path, tmp_path / "smoke-checks.toml")
    raw = tomllib.loads(draft.text)
    assert raw["crud"]["create"]["template"] == "Hello {{name}}, $ {{HOME}}"
    checks = loaded(draft, tmp_path)
    assert checks.get("crud.create.title") == "{marker}"

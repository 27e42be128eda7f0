"""The service's own OpenAPI document, exercised by Schemathesis against the live service.

Every operation of ``/openapi.json`` gets a few generated requests (bounded: a handful of
examples each, no shrinking beyond that), with the token, against a real ``smoke-gate serve``
whose history holds seeded runs (so ``GET /runs`` and ``GET /runs/{id}`` answer real rows) and
whose profiles directory holds no profile (so no generated request starts a real run: each is
refused with a 422 the document declares). Checks: no 5xx, and every answer conforms to the
schema its operation declares.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from .conftest import seed  # noqa: E402
from .test_app import ROOT, TOKEN, Service, running_service, service_environment  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Generated requests per operation: enough to walk each one's parameters, bounded in time.
MAX_EXAMPLES = 15


async def _seeded(url: str) -> None:
    from pytest_smoke.server.store import RunStore

    store = await RunStore.open(url)
    try:
        await seed(store, 30, profiles=("staging", "production"))
    finally:
        await store.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A live service: no profiles, 30 seeded runs in its SQLite history."""
    directory = tmp_path_factory.mktemp("fuzzed")
    profiles = directory / "profiles"
    profiles.mkdir()
    data = directory / "data"
    data.mkdir()
    asyncio.run(_seeded(f"sqlite+aiosqlite:///{data / 'history.sqlite3'}"))
    environment = service_environment(directory)
    with running_service(directory, profiles, environment=environment, data_dir=data) as running:
        yield running


def _document() -> dict[str, Any]:
    """The app's OpenAPI document, built in-process (the live one is compared to it below)."""
    from pytest_smoke.server.app import create_app
    from pytest_smoke.server.settings import load_server_settings

    settings = load_server_settings({"token": TOKEN, "profiles_dir": ROOT})
    return create_app(settings).openapi()


# Loaded at collection: schemathesis.pytest.from_fixture does not work with pytest 9
# (schemathesis 4.x reads the private Function._nodeid), a module-level schema does.
DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_the_api_conforms_to_its_document(case: Any, service: Service) -> None:
    case.call_and_validate(
        base_url=service.url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )


def test_the_document_declares_every_answer(service: Service) -> None:
    import httpx

    document = httpx.get(f"{service.url}/openapi.json", timeout=10).json()
    assert document == json.loads(json.dumps(DOCUMENT))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"200", "201", "202"} & set(responses), (method, path)
            if path != "/health":
                assert "401" in responses, (method, path)
            if "422" in responses:
                schema = responses["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorView"}, (method, path)

"""``POST /flagger/{profile}``: Flagger's webhook, against a healthy and a broken demo.

Flagger's payload is the one its documentation shows (docs "Webhooks": ``name``, ``namespace``,
``phase``, ``checksum``, ``metadata`` strings); Flagger treats a 2xx as success, so PROCEED and
MONITOR answer 200, ROLLBACK and INVESTIGATE 412 with the reasons, and a run outliving
``max_wait`` 504 (the run goes on). The token comes from the bearer header or, since Flagger's
webhooks send no custom headers, from ``metadata.token``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from e2e.servers import needs_postgres_and_redis
from e2e.test_demo_run import Demo, base_environment, started_demo

from .test_app import RUN_WAIT, TOKEN, Service, demo_profiles, running_service, wait_ended

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = needs_postgres_and_redis


def flagger_payload(**metadata: str) -> dict[str, Any]:
    """A pre-rollout webhook's payload, as Flagger sends it."""
    return {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "85d557f47b",
        "metadata": {"type": "pre-rollout", **metadata},
    }


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Demo]]:
    """The items demo twice: healthy, and with its database down."""
    healthy_dir = tmp_path_factory.mktemp("healthy")
    broken_dir = tmp_path_factory.mktemp("broken")
    with (
        started_demo(healthy_dir, base_environment(healthy_dir)) as healthy,
        started_demo(broken_dir, base_environment(broken_dir), fault="database-down") as broken,
    ):
        yield {"healthy": healthy, "broken": broken}


@pytest.fixture(scope="module")
def profiles_dir(tmp_path_factory: pytest.TempPathFactory, demos: dict[str, Demo]) -> Path:
    return demo_profiles(tmp_path_factory.mktemp("profiles"), demos)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, profiles_dir: Path) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("service"), profiles_dir) as running:
        yield running


def test_healthy_deployment_200(service: Service) -> None:
    with service.client() as http:
        answer = http.post("/flagger/healthy", json=flagger_payload(quick="true"))
    assert answer.status_code == 200, answer.text
    gate = answer.json()
    assert gate["verdict"] in {"PROCEED", "MONITOR"}
    assert gate["run"]["verdict"] == gate["verdict"]
    assert gate["run"]["request"]["quick"] is True
    assert gate["run"]["report"]["reasons"] == gate["reasons"]


def test_broken_deployment_412_with_the_reasons(service: Service) -> None:
    # Flagger sends no custom headers: the token comes in the metadata.
    with service.client(token=None) as http:
        answer = http.post("/flagger/broken", json=flagger_payload(token=TOKEN))
    assert answer.status_code == 412, answer.text
    gate = answer.json()
    assert gate["verdict"] == "ROLLBACK"
    assert gate["reasons"]
    assert gate["detail"].startswith("ROLLBACK: ")
    assert gate["reasons"][0] in gate["detail"]
    assert "\n" not in gate["detail"]
    assert TOKEN not in answer.text


def test_categories_from_the_metadata(service: Service) -> None:
    with service.client(token=None) as http:
        answer = http.post(
            "/flagger/healthy",
            json=flagger_payload(token=TOKEN, categories="database", quick="false"),
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["run"]["request"]["categories"] == ["database"]


@pytest.mark.parametrize("metadata", [{}, {"token": "wrong"}])
def test_without_the_token_401(service: Service, metadata: dict[str, str]) -> None:
    with service.client(token=None) as http:
        answer = http.post("/flagger/healthy", json=flagger_payload(**metadata))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("path", "payload", "needle"),
    [
        ("/flagger/nope", flagger_payload(), "nope"),
        ("/flagger/healthy", {"name": "podinfo"}, "namespace"),
        ("/flagger/healthy", flagger_payload(quick="perhaps"), "quick"),
        ("/flagger/healthy", flagger_payload(categories="teleport"), "teleport"),
    ],
)
def test_bad_payload_422(service: Service, path: str, payload: dict[str, Any], needle: str) -> None:
    with service.client() as http:
        answer = http.post(path, json=payload)
    assert answer.status_code == 422, answer.text
    assert needle in answer.json()["detail"]


def test_a_run_outliving_max_wait_is_504_and_goes_on(tmp_path: Path, profiles_dir: Path) -> None:
    with (
        running_service(tmp_path, profiles_dir, args=("--max-wait", "0.5")) as short,
        short.client() as http,
    ):
        answer = http.post("/flagger/healthy", json=flagger_payload())
        assert answer.status_code == 504, answer.text
        detail = answer.json()["detail"]
        assert "still running after 0.5 s" in detail
        run_id = detail.split("see /runs/")[1]
        run = wait_ended(http, run_id, timeout=RUN_WAIT)
        assert run["state"] == "done"
        assert run["verdict"] in {"PROCEED", "MONITOR"}

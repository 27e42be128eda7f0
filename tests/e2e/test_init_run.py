"""``init`` on each example's live OpenAPI document, then the bundled suite with that draft,
unchanged: PROCEED on the healthy example, nothing left behind; and the contract checks of the
draft catching the items demo's ``schema-break`` fault (GET /api/items answers its total as a
string).

Each test starts its demo with the launcher (``python -m pytest_smoke.demo.launch up``), runs
``python -m pytest_smoke init --openapi GATEWAY_URL/openapi.json`` (with the demo's CA for the
HTTPS items demo), then ``python -m pytest_smoke run --env-file PROFILE`` with
SMOKE_TEST_CHECKS_FILE pointing at the draft, and stops the demo. Needs PostgreSQL (and Redis
for the items demo), running or installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from dotenv import dotenv_values

from .servers import needs_postgres, needs_postgres_and_redis

if TYPE_CHECKING:
    from collections.abc import Iterator

LAUNCH = [sys.executable, "-m", "pytest_smoke.demo.launch"]
COMMAND = [sys.executable, "-m", "pytest_smoke"]
#: The contract checks each example's document makes.
CONTRACT = {
    "items": ["GET /health", "GET /api/ping", "GET /api/items"],
    "articles": ["GET /api/healthz", "GET /api/user", "GET /api/articles/"],
}
#: Rows a run could leave behind: the resources the draft's CRUD checks create.
LEFTOVERS = {
    "items": "SELECT count(*) FROM items WHERE name LIKE 'smoke-%'",
    "articles": "SELECT count(*) FROM articles WHERE strpos(title, 'smoke-') > 0",
}


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without smoke or demo settings, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "PYTEST_", "DEMO_", "ARTICLES_")) and key != "GATEWAY_URL"
    }
    env["VIRTUAL_ENV"] = sys.prefix
    env["TMPDIR"] = str(tmp_path)
    env["SMOKE_REPORTS_DIR"] = str(tmp_path / "reports")
    # These runs prove verdicts, not this machine's latency under two loaded cores.
    env["SMOKE_TEST_SLA_P95_MS"] = "5000"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Demo:
    """A running demo: its state directory and the env profile the launcher wrote."""

    app: str
    state: Path
    profile: Path

    def setting(self, name: str) -> str:
        value = dotenv_values(self.profile).get(name)
        assert value, f"{name} is not in {self.profile}"
        return value

    def leftovers(self) -> int:
        import asyncpg

        database = json.loads((self.state / "state.json").read_text())["database"]

        async def count() -> int:
            connection = await asyncpg.connect(database["admin_url"], database=database["name"])
            try:
                return int(await connection.fetchval(LEFTOVERS[self.app]))
            finally:
                await connection.close()

        return asyncio.run(count())


@contextlib.contextmanager
def running(tmp_path: Path, app: str, fault: str | None = None) -> Iterator[Demo]:
    """Start the ``app`` demo (with ``fault``), yield it, stop it whatever happened."""
    state = tmp_path / "demo"
    up = subprocess.run(
        [
            *LAUNCH,
            *("up", "--state-dir", str(state), "--app", app, "--stopped-by-caller"),
            *(["--fault", fault] if fault else []),
        ],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        timeout=300,
        check=False,
    )
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        yield Demo(app, state, Path(up.stdout.strip()))
    finally:
        down = subprocess.run(
            [*LAUNCH, "down", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            env=environment(tmp_path),
            timeout=120,
            check=False,
        )
        assert down.returncode == 0, down.stderr


def init(tmp_path: Path, demo: Demo) -> Path:
    """``init`` on the demo's live document; the draft's path."""
    draft = tmp_path / "drafted-checks.toml"
    gateway = demo.setting("GATEWAY_URL")
    ca = dotenv_values(demo.profile).get("SMOKE_TEST_CA_BUNDLE")
    result = subprocess.run(
        [
            *(*COMMAND, "init", "--openapi", f"{gateway}/openapi.json", "-o", str(draft)),
            *(["--ca-bundle", ca] if ca else []),
        ],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"python -m pytest_smoke init: wrote {draft} from {gateway}")
    return draft


def run(tmp_path: Path, demo: Demo, checks: Path) -> tuple[int, dict[str, Any], str]:
    """The bundled suite against the demo, with ``checks``; status, JSON report, output."""
    report = tmp_path / "gate.json"
    result = subprocess.run(
        [
            *COMMAND,
            "run",
            "--env-file",
            str(demo.profile),
            "--",
            *("--smoke-report-json", str(report), "-p", "no:cacheprovider", "-p", "no:randomly"),
        ],
        capture_output=True,
        text=True,
        env=environment(tmp_path, SMOKE_TEST_CHECKS_FILE=str(checks)),
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    document = json.loads(report.read_text()) if report.exists() else {}
    return result.returncode, document, result.stdout + result.stderr


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {t["nodeid"].rsplit("::", 1)[1]: t["outcome"] for t in document.get("tests", [])}


@pytest.mark.parametrize(
    "app",
    [
        pytest.param("items", marks=needs_postgres_and_redis),
        pytest.param("articles", marks=needs_postgres),
    ],
)
def test_the_draft_of_a_healthy_example_proceeds_unchanged(tmp_path: Path, app: str) -> None:
    with running(tmp_path, app) as demo:
        draft = init(tmp_path, demo)
        status, document, output = run(tmp_path, demo, draft)
        leftovers = demo.leftovers()
    assert status == 0, output[-3000:]
    assert document["verdict"] == "PROCEED", document["reasons"]
    ran = outcomes(document)
    assert [name for name, outcome in ran.items() if outcome in ("failed", "error")] == []
    # what the draft configured ran: the contract checks, the endpoint list, CRUD and auth
    for operation in CONTRACT[app]:
        assert ran[f"test_openapi_contract[{operation}]"] == "passed"
    for name in (
        "test_health_checks",
        "test_valid_token_is_accepted",
        "test_missing_or_bad_token_is_refused",
        "test_crud_flow",
        "test_crud_update",
        "test_pagination",
        "test_invalid_input_is_refused",
        "test_unknown_resource_is_not_found",
    ):
        assert ran[name] == "passed", name
    assert sum(name.startswith("test_endpoint[") for name in ran) >= 2
    assert document["left_behind"] == []
    assert leftovers == 0


@needs_postgres_and_redis
def test_the_drafts_contract_checks_catch_a_schema_break(tmp_path: Path) -> None:
    with running(tmp_path, "items", fault="schema-break") as demo:
        draft = init(tmp_path, demo)
        status, document, output = run(tmp_path, demo, draft)
    failed = [name for name, outcome in outcomes(document).items() if outcome != "passed"]
    # only the contract check sees it: the list still answers 200 with its items
    assert [name for name in failed if name != "test_pgvector_similarity"] == [
        "test_openapi_contract[GET /api/items]"
    ], output[-3000:]
    assert document["verdict"] == "MONITOR", document["reasons"]
    assert status == 0
    assert (
        "GET /api/items answered 200, which breaks the document's contract: the body does not "
        "match the documented schema: $.total: "
    ) in output
    assert "is not of type 'integer'" in output

"""The bundled suite against the articles example (pytest_smoke/demo/articles), end to end.

Each run is ``./run_smoke_tests.sh --env demo --demo-app articles [--demo-fault NAME]``, with
``--demo-keep`` so that the database is still there when the run is over: a second connection
(asyncpg, as the database owner) then counts the articles the run left, before the test stops the
demo. The articles app is unlike the items demo in every convention (form login, the ``Token``
scheme, a trailing-slash collection, enveloped bodies, PUT, skip/limit) and has no Redis or Azure:
those checks must be reported as not configured, never as skipped.
Needs PostgreSQL (running on 127.0.0.1:5432, or its binaries to start a throwaway one).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .servers import needs_postgres

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "run_smoke_tests.sh"
LAUNCH = [sys.executable, "-m", "pytest_smoke.demo.launch"]
KEPT = re.compile(r"--keep: .* down --state-dir (\S+)")


pytestmark = needs_postgres


@dataclass
class Run:
    status: int
    document: dict[str, Any]
    output: str
    leftovers: int  # articles whose title holds "smoke-", and signed-up users, after the run

    def failed(self) -> list[str]:
        return sorted(
            t["nodeid"].rsplit("::", 1)[1]
            for t in self.document.get("tests", [])
            if t["outcome"] in ("failed", "error")
        )

    def outcome(self, name: str) -> str:
        (outcome,) = [
            t["outcome"] for t in self.document["tests"] if t["nodeid"].endswith(f"::{name}")
        ]
        return str(outcome)


def script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "PYTEST_", "DEMO_", "ARTICLES_")) and key != "GATEWAY_URL"
    }
    environment["VIRTUAL_ENV"] = sys.prefix
    environment["SMOKE_REPORTS_DIR"] = str(tmp_path / "reports")  # parallel runs never share
    environment["TMPDIR"] = str(tmp_path)  # the demo's state directory
    # These runs prove verdicts and causes, not this machine's latency.
    environment["SMOKE_TEST_SLA_P95_MS"] = "5000"
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
        cwd=ROOT,
    )


def count_leftovers(state_dir: Path) -> int:
    import asyncpg

    database = json.loads((state_dir / "state.json").read_text())["database"]

    async def count() -> int:
        # As the owner, through the real port: the database-down fault only moved the URLs.
        connection = await asyncpg.connect(database["admin_url"], database=database["name"])
        try:
            articles = await connection.fetchval(
                "SELECT count(*) FROM articles WHERE strpos(title, 'smoke-') > 0"
            )
            # the users the [[workflows]] sign up, named by their marker (not smoke-bot)
            users = await connection.fetchval(
                "SELECT count(*) FROM users WHERE username ~ '^smoke-[0-9]{10}-[0-9a-f]{8}$'"
            )
            return int(articles) + int(users)
        finally:
            await connection.close()

    return asyncio.run(count())


def run_articles(tmp_path: Path, *args: str) -> Run:
    report = tmp_path / "gate.json"
    result = script(
        tmp_path,
        "--env",
        "demo",
        "--demo-app",
        "articles",
        "--demo-keep",
        *args,
        "--",
        "--smoke-report-json",
        str(report),
        "-p",
        "no:cacheprovider",
    )
    output = result.stdout + result.stderr
    kept = KEPT.search(result.stderr)
    assert kept, output[-3000:]
    state_dir = Path(kept.group(1))
    try:
        leftovers = count_leftovers(state_dir)
    finally:
        down = subprocess.run(
            [*LAUNCH, "down", "--state-dir", str(state_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        state_dir.rmdir()
    document = json.loads(report.read_text()) if report.exists() else {}
    return Run(result.returncode, document, output, leftovers)


# --- the script's options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--demo-app", "articles"], "--demo-app needs --env demo"),
        (["--demo-keep"], "--demo-keep needs --env demo"),
        (
            ["--env", "demo", "--demo-app", "blog"],
            "--demo-app needs an app NAME: items or articles",
        ),
        (["--env", "demo", "--demo-app"], "--demo-app needs an app NAME: items or articles"),
    ],
)
def test_demo_app_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = script(tmp_path, *args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == f"run_smoke_tests.sh: {message}"


def test_a_fault_the_articles_app_lacks_stops_before_the_run(tmp_path: Path) -> None:
    result = script(tmp_path, "--env", "demo", "--demo-app", "articles", "--demo-fault", "slow")
    assert result.returncode == 2  # bad usage, found before anything starts
    assert "'slow' is not a fault of the articles app" in result.stderr
    assert "smoke gate" not in result.stdout
    assert list(tmp_path.glob("smoke-demo.*")) == []  # the state directory went with it


def test_help_names_the_apps(tmp_path: Path) -> None:
    result = script(tmp_path, "--help")
    assert result.returncode == 0
    assert "--demo-app NAME" in result.stdout
    assert "articles (examples/articles" in result.stdout
    assert "--demo-keep" in result.stdout


# --- runs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--parallel",)], ids=["serial", "parallel"])
def test_healthy_articles_proceed_with_redis_and_azure_not_configured(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    run = run_articles(tmp_path, *extra)
    assert run.status == 0, run.output[-3000:]
    document = run.document
    assert document["verdict"] == "PROCEED", (document["reasons"], run.failed())
    assert "smoke gate: PROCEED" in run.output
    assert run.failed() == []
    # Only a check that looked and found its feature missing on this server may skip.
    skipped = [t["nodeid"] for t in document["tests"] if t["outcome"] == "skipped"]
    assert all(nodeid.endswith("::test_pgvector_similarity") for nodeid in skipped), skipped
    assert document["totals"]["skipped"] == len(skipped)
    not_applicable = {entry["reason"]: entry["tests"] for entry in document["not_applicable"]}
    assert any(reason.startswith("redis") for reason in not_applicable), not_applicable
    assert any("AZURE_KEYVAULT" in reason for reason in not_applicable), not_applicable
    assert any(reason.startswith("tls") for reason in not_applicable), not_applicable
    not_run = [nodeid for tests in not_applicable.values() for nodeid in tests]
    assert not any(nodeid in skipped for nodeid in not_run)
    assert any("test_event_bus_flows.py" in nodeid for nodeid in not_run)
    assert any("test_azure_secrets.py" in nodeid for nodeid in not_run)
    # The article conventions were exercised, not configured away.
    for check in (
        "test_valid_token_is_accepted",
        "test_missing_or_bad_token_is_refused",
        "test_crud_flow",
        "test_crud_update",
        "test_pagination",
        "test_invalid_input_is_refused",
        "test_unknown_resource_is_not_found",
        "test_commit_and_rollback",
        "test_constraints_are_enforced",
        "test_schema_is_migrated",
        # the checks file's [[endpoints]] and [[workflows]]
        "test_endpoint[healthz]",
        "test_endpoint[openapi]",
        "test_endpoint[articles-first-page]",
        "test_workflow[signup-login-profile]",
    ):
        assert run.outcome(check) == "passed", check
    assert document["left_behind"] == []
    assert run.leftovers == 0


def test_database_down_rolls_back_naming_the_database(tmp_path: Path) -> None:
    run = run_articles(tmp_path, "--demo-fault", "database-down")
    assert run.status == 11, run.output[-3000:]
    document = run.document
    assert document["verdict"] == "ROLLBACK"
    causes = [c for c in document["causes"] if c["cause"].startswith("database unreachable")]
    assert len(causes) == 1, document["causes"]
    assert causes[0]["cause"].startswith("database unreachable at 127.0.0.1:")
    assert len(causes[0]["tests"]) >= 7  # every database check, grouped under the one cause
    assert any("database unreachable at 127.0.0.1:" in r for r in document["reasons"])
    assert "database unreachable at 127.0.0.1:" in run.output
    assert "test_health_checks" in run.failed()  # /api/healthz answers 503
    assert document["left_behind"] == []
    assert run.leftovers == 0


def test_endpoint_500_rolls_back_on_the_broken_listing(tmp_path: Path) -> None:
    run = run_articles(tmp_path, "--demo-fault", "endpoint-500")
    assert run.status == 11, run.output[-3000:]
    document = run.document
    assert document["verdict"] == "ROLLBACK"
    # The listing is the protected endpoint: a valid token meets a 500 there.
    assert (
        "critical test failed: pytest_smoke/suite/test_service_communication.py::"
        "test_valid_token_is_accepted"
    ) in document["reasons"]
    assert "GET /api/articles/ answered 500" in run.output
    failed = run.failed()
    assert {"test_valid_token_is_accepted", "test_pagination"} <= set(failed)
    # Only the listing is broken: creating, reading, updating and deleting still work.
    for check in ("test_crud_flow", "test_crud_update", "test_health_checks"):
        assert run.outcome(check) == "passed", check
    assert not any("database" in cause["cause"] for cause in document["causes"])
    assert document["left_behind"] == []
    assert run.leftovers == 0


def test_auth_broken_rolls_back_on_the_refused_token(tmp_path: Path) -> None:
    run = run_articles(tmp_path, "--demo-fault", "auth-broken")
    assert run.status == 11, run.output[-3000:]
    document = run.document
    assert document["verdict"] == "ROLLBACK"
    assert any(r.endswith("::test_valid_token_is_accepted") for r in document["reasons"])
    assert "GET /api/articles/ answered 403" in run.output
    assert "could not validate credentials" in run.output
    assert {"test_valid_token_is_accepted", "test_crud_flow"} <= set(run.failed())
    # the workflow signs up, logs in, and fails reading the profile with the refused token; its
    # finally step deletes the new user all the same (by password, no token needed)
    assert "test_workflow[signup-login-profile]" in run.failed()
    assert 'step 3 "profile": GET ' in run.output
    # A refused token is not an unreachable service: health and the database are fine.
    assert run.outcome("test_health_checks") == "passed"
    assert run.outcome("test_database_connectivity_and_version") == "passed"
    assert document["left_behind"] == []
    assert run.leftovers == 0

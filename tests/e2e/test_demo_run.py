"""The bundled suite against the demo deployment, healthy and broken on purpose, end to end.

Each run is the README's first command, ``./run_smoke_tests.sh --env demo``, with a fault, and
with ``--demo-keep``: when the run is over, a connection of the test's own counts the rows whose
name holds a run marker ("smoke-") and the Redis keys under the run's prefix, before the test
stops the demo. Every run must leave none.
Needs PostgreSQL and Redis (running, or their binaries to start throwaway ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .servers import needs_postgres_and_redis

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = [sys.executable, "-m", "pytest_smoke.demo.launch"]
ITEMS_DIR = ROOT / "src" / "pytest_smoke" / "demo" / "items"
CHECKS_FILE = ITEMS_DIR / "smoke-checks.toml"
SUITE = ROOT / "src" / "pytest_smoke" / "suite"
#: What ``run_smoke_tests.sh --demo-keep`` (``smoke-gate demo --keep``) says, naming the demo's
#: state directory.
KEPT = re.compile(r"--keep: .* down --state-dir (\S+)")


pytestmark = needs_postgres_and_redis


#: Rows the suite creates carry a run marker, "smoke-<unix seconds>-<8 hex>", in their name.
LEFTOVER_ROWS = "SELECT count(*) FROM items WHERE name LIKE '%smoke-%'"


def base_environment(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any smoke or demo setting, plus ``env``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "PYTEST_", "DEMO_")) and key != "GATEWAY_URL"
    }
    environment["VIRTUAL_ENV"] = sys.prefix
    environment["SMOKE_REPORTS_DIR"] = str(tmp_path / "reports")  # parallel runs never share
    # These runs prove verdicts and causes, not this machine's latency: with two suites and
    # two demos on two loaded cores, a 1 s p95 is not a given. The slow fault sets its own.
    environment["SMOKE_TEST_SLA_P95_MS"] = "5000"
    # Every key the suite writes to Redis starts with this; none may be left after a run.
    environment["SMOKE_TEST_REDIS_PREFIX"] = f"smoke-e2e-{secrets.token_hex(4)}"
    environment.update(env or {})
    return environment


@dataclass(frozen=True)
class Demo:
    """A running demo, by its state directory; the test stops it with ``launch.py down``."""

    state: Path

    @property
    def profile(self) -> Path:
        return Path(json.loads((self.state / "state.json").read_text())["profile"])

    def setting(self, name: str) -> str:
        from dotenv import dotenv_values

        value = dotenv_values(self.profile).get(name)
        assert value, f"the demo profile has no {name}"
        return value

    async def _admin(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]

        # as the superuser: row-level security hides nothing from it
        database = json.loads((self.state / "state.json").read_text())["database"]
        return await asyncpg.connect(database["admin_url"], database=database["name"])

    def leftover_rows(self) -> int:
        """Rows of the items table whose name holds a run marker, counted on a connection of
        our own (not the suite's, not the service's)."""

        async def count() -> int:
            connection = await self._admin()
            try:
                return int(await connection.fetchval(LEFTOVER_ROWS))
            finally:
                await connection.close()

        return asyncio.run(count())

    def wait_for_rows(self, process: subprocess.Popen[str], *, timeout: float) -> int:
        """Poll the items table until ``process`` has created a row; the count then."""

        async def poll() -> int:
            connection = await self._admin()
            try:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and process.poll() is None:
                    rows = int(await connection.fetchval(LEFTOVER_ROWS))
                    if rows:
                        return rows
                    await asyncio.sleep(0.02)
                return 0
            finally:
                await connection.close()

        return asyncio.run(poll())

    def leftover_keys(self, prefix: str) -> list[str]:
        import redis

        client = redis.Redis.from_url(self.setting("SMOKE_TEST_REDIS_URL"))
        try:
            return [key.decode() for key in client.scan_iter(match=f"{prefix}*")]
        finally:
            client.close()


@contextlib.contextmanager
def started_demo(
    tmp_path: Path, environment: dict[str, str], fault: str | None = None
) -> Iterator[Demo]:
    """The demo, started by ``launch.py up`` for runs of pytest itself; stopped at the end."""
    state = tmp_path / "demo"
    try:
        up = subprocess.run(
            [
                *LAUNCH,
                "up",
                "--state-dir",
                str(state),
                *(["--fault", fault] if fault else []),
            ],
            capture_output=True,
            text=True,
            env=environment,
            timeout=180,
            check=False,
        )
        assert up.returncode == 0, f"launch.py up failed: {up.stderr[-3000:]}"
        yield Demo(state)
    finally:
        stop_demo(state, environment)


def stop_demo(state: Path, environment: dict[str, str]) -> None:
    subprocess.run(
        [*LAUNCH, "down", "--state-dir", str(state)],
        capture_output=True,
        env=environment,
        timeout=120,
        check=False,
    )


def run_demo(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    """``./run_smoke_tests.sh --env demo --demo-keep ARGS``; then the run must have left no
    row and no Redis key, counted while the kept demo still runs, before the test stops it."""
    report = tmp_path / "gate.json"
    environment = base_environment(tmp_path, {"TMPDIR": str(tmp_path), **(env or {})})
    result = subprocess.run(
        [
            "bash",
            str(ROOT / "run_smoke_tests.sh"),
            "--env",
            "demo",
            "--demo-keep",
            *args,
            "--",
            "--smoke-report-json",
            str(report),
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    output = result.stdout + result.stderr
    kept = KEPT.search(result.stderr)
    assert kept, f"the demo did not start, or was not kept:\n{output[-3000:]}"
    demo = Demo(Path(kept.group(1)))
    try:
        rows = demo.leftover_rows()
        keys = demo.leftover_keys(environment["SMOKE_TEST_REDIS_PREFIX"])
    finally:
        stop_demo(demo.state, environment)
    assert (rows, keys) == (0, []), (
        f"left behind: {rows} smoke- rows, keys {keys}\n{output[-3000:]}"
    )
    document = json.loads(report.read_text()) if report.exists() else {}
    return result.returncode, document, output


@pytest.mark.parametrize("extra", [(), ("--parallel",)], ids=["serial", "parallel"])
def test_healthy_demo_proceeds_with_every_check_passing(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    status, document, output = run_demo(tmp_path, *extra)
    failing = [
        t["nodeid"] for t in document.get("tests", []) if t["outcome"] in ("failed", "error")
    ]
    assert status == 0, output[-3000:]
    assert document["verdict"] == "PROCEED", (document["reasons"], failing)
    skipped = [t["nodeid"] for t in document["tests"] if t["outcome"] == "skipped"]
    assert all(nodeid.endswith("test_pgvector_similarity") for nodeid in skipped), skipped
    assert document["totals"]["failed"] == document["totals"]["errors"] == 0
    assert document["totals"]["passed"] >= 35
    assert "smoke gate: PROCEED" in output
    assert document["left_behind"] == []
    # the checks file configures every feature the demo has: nothing is left out
    assert document["not_applicable"] == []
    # its [[endpoints]] and [[workflows]]: a test each, all passed
    entries = {
        t["nodeid"].rsplit("::", 1)[1]: t["outcome"]
        for t in document["tests"]
        if "::test_endpoint[" in t["nodeid"] or "::test_workflow[" in t["nodeid"]
    }
    assert entries == dict.fromkeys(
        [
            "test_endpoint[health]",
            "test_endpoint[openapi]",
            "test_endpoint[items-first-page]",
            "test_endpoint[metrics]",
            "test_workflow[item-lifecycle]",
        ],
        "passed",
    )


FAULTS = [
    # fault, verdict, what the reasons must name
    ("database-down", "ROLLBACK", "database unreachable at 127.0.0.1:"),
    (
        "health-503",
        "ROLLBACK",
        "critical test failed: pytest_smoke/suite/test_service_communication.py::"
        "test_health_checks",
    ),
    ("auth-broken", "ROLLBACK", "test_valid_token_is_accepted"),
    ("endpoint-500", "MONITOR", "2 non-critical smoke tests failed"),
    ("events-off", "MONITOR", "1 non-critical smoke test failed"),
    ("rate-limit-off", "MONITOR", "1 non-critical smoke test failed"),
    ("header-missing", "MONITOR", "1 non-critical smoke test failed"),
    ("slow", "MONITOR", "1 non-critical smoke test failed"),
    # The listing's total turns into a string: the contract check says which field breaks the
    # documented schema, and the critical workflow that reads the total fails with it.
    ("schema-break", "ROLLBACK", "critical test failed: pytest_smoke/suite/test_workflows.py::"),
    # The Azure stand-in's faults: the secrets check is critical, the metric checks are not.
    ("azure-not-found", "ROLLBACK", "test_azure_secrets.py::test_required_secrets_are_usable"),
    ("azure-forbidden", "ROLLBACK", "test_azure_secrets.py::test_required_secrets_are_usable"),
    ("azure-disabled-secret", "ROLLBACK", "test_required_secrets_are_usable"),
    ("azure-expired-secret", "ROLLBACK", "test_required_secrets_are_usable"),
    ("azure-server-error", "ROLLBACK", "test_required_secrets_are_usable"),
    ("azure-throttle", "PROCEED", "every smoke test that ran passed"),
    ("azure-cpu-warning", "MONITOR", "warning: pytest_smoke/suite/test_azure_metrics.py"),
    ("azure-cpu-critical", "MONITOR", "1 non-critical smoke test failed"),
    ("azure-logs-partial", "MONITOR", "partial log result"),
]
AZURE_OUTPUT = {  # what the failure says, in the terminal
    "azure-not-found": "MISSING",
    "azure-forbidden": "Key Vault Secrets User",
    "azure-disabled-secret": "DISABLED",
    "azure-expired-secret": "EXPIRED",
    "azure-cpu-critical": "CRITICAL",
}
FAILING_CHECKS = {
    # the read endpoint 500s: the CRUD flow, and the 404 probe, which reads an item too
    "endpoint-500": ["test_crud_flow", "test_unknown_resource_is_not_found"],
    "events-off": ["test_service_write_publishes_an_event"],
    "rate-limit-off": ["test_rate_limiting"],
    "header-missing": ["test_security_headers"],
    "slow": ["test_response_time_within_sla"],
    "schema-break": ["test_openapi_contract[GET /api/items]", "test_workflow[item-lifecycle]"],
    "azure-cpu-critical": ["test_vm_metrics_within_thresholds"],
}


@pytest.mark.parametrize(("fault", "verdict", "named"), FAULTS, ids=[f[0] for f in FAULTS])
def test_each_fault_gets_the_verdict_the_rules_demand(
    tmp_path: Path, fault: str, verdict: str, named: str
) -> None:
    # The slow fault's delay and the SLA are scaled down so the run stays short.
    env = {"DEMO_SLOW_SECONDS": "0.25", "SMOKE_TEST_SLA_P95_MS": "150"} if fault == "slow" else {}
    status, document, output = run_demo(tmp_path, "--demo-fault", fault, env=env)
    assert document.get("verdict") == verdict, output[-3000:]
    assert status == (11 if verdict == "ROLLBACK" else 0)
    if fault in AZURE_OUTPUT:
        assert AZURE_OUTPUT[fault] in output
    assert any(named in reason for reason in document["reasons"]), document["reasons"]
    if fault in FAILING_CHECKS:
        failed = [t["nodeid"] for t in document["tests"] if t["outcome"] in ("failed", "error")]
        assert sorted(nodeid.rsplit("::", 1)[1] for nodeid in failed) == FAILING_CHECKS[fault]


def test_database_down_is_one_cause_counted_once(tmp_path: Path) -> None:
    status, document, output = run_demo(tmp_path, "--demo-fault", "database-down", "--parallel")
    assert status == 11, output
    database_causes = [
        c for c in document["causes"] if c["cause"].startswith("database unreachable")
    ]
    assert len(database_causes) == 1
    assert len(database_causes[0]["tests"]) >= 8  # every database check, grouped under it
    # the group counts as one test toward the failure rate
    grouped = len(database_causes[0]["tests"])
    totals = document["totals"]
    ran, failing = totals["total"] - totals["skipped"], totals["failed"] + totals["errors"]
    other_groups = sum(len(c["tests"]) - 1 for c in document["causes"] if c not in database_causes)
    expected = (failing - grouped + 1 - other_groups) / (ran - grouped + 1 - other_groups)
    assert document["failure_rate"] == pytest.approx(expected)


def test_a_run_leaves_no_rows_keys_or_streams(tmp_path: Path) -> None:
    # pytest itself, with two workers, as a pipeline without the script would run it
    environment = base_environment(tmp_path)
    prefix = environment["SMOKE_TEST_REDIS_PREFIX"]
    with started_demo(tmp_path, environment) as demo:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--pyargs",
                "pytest_smoke.suite",
                "--smoke-env-file",
                str(demo.profile),
                "--smoke-gate",
                "-n",
                "2",
                "-p",
                "no:cacheprovider",
                "-q",
            ],
            capture_output=True,
            text=True,
            env=environment,
            cwd=ROOT,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:]
        assert demo.leftover_rows() == 0
        assert demo.leftover_keys(prefix) == []


DATABASE_WRITES = {
    "test_commit_and_rollback",
    "test_concurrent_transactions_are_isolated",
    "test_constraints_are_enforced",
    "test_row_level_security_isolates_tenants",
}
OTHER_WRITES = {
    "test_sweep_leftover_resources",
    "test_crud_flow",
    "test_crud_update",
    "test_pagination",
    "test_filtering",
    "test_invalid_input_is_refused",
    "test_service_write_publishes_an_event",
    "test_persisted_event_expires",
    "test_failed_work_is_retried_then_dead_lettered",
    "test_workflow[item-lifecycle]",  # the checks file's [[workflows]]: it creates an item
}
READ_ONLY = [
    pytest.param(
        "SMOKE_TEST_READ_ONLY", "read-only profile", DATABASE_WRITES | OTHER_WRITES, id="profile"
    ),
    pytest.param(
        "SMOKE_TEST_DB_READ_ONLY", "read-only database", DATABASE_WRITES, id="database-only"
    ),
]


@pytest.mark.parametrize(("setting", "reason", "writes"), READ_ONLY)
def test_read_only_run_proceeds_without_writing(
    tmp_path: Path, setting: str, reason: str, writes: set[str]
) -> None:
    status, document, output = run_demo(tmp_path, env={setting: "true"})
    assert status == 0, output[-3000:]
    assert document["verdict"] == "PROCEED", document["reasons"]
    groups = [group for group in document["not_applicable"] if reason in group["reason"]]
    assert len(groups) == 1, document["not_applicable"]
    assert {nodeid.rsplit("::", 1)[1] for nodeid in groups[0]["tests"]} == writes
    ran = {t["nodeid"].rsplit("::", 1)[1] for t in document["tests"]}
    assert not ran & writes
    assert {"test_health_checks", "test_database_connectivity_and_version"} <= ran
    assert f"not run: {reason}" in output
    assert f"{len(writes)} checks that write" in output


def test_a_killed_run_leaves_rows_that_the_next_sweep_removes(tmp_path: Path) -> None:
    # The slow fault holds every /api answer: the CRUD check has created its item and waits
    # for the read when the run is killed, so its finally never runs.
    environment = base_environment(tmp_path, {"DEMO_SLOW_SECONDS": "3"})
    swept = tmp_path / "sweep-now.toml"
    text = CHECKS_FILE.read_text()
    assert "sweep_after_seconds = 600" in text
    swept.write_text(text.replace("sweep_after_seconds = 600", "sweep_after_seconds = 0"))
    with started_demo(tmp_path, environment, "slow") as demo:
        pytest_command = [
            sys.executable,
            "-m",
            "pytest",
            str(SUITE / "test_service_communication.py"),
            "--smoke-env-file",
            str(demo.profile),
            "-p",
            "no:cacheprovider",
            "-rA",
        ]
        killed = subprocess.Popen(  # its own process group, so the kill takes all of it
            [*pytest_command, "-k", "test_crud_flow"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            rows = demo.wait_for_rows(killed, timeout=120)
            os.killpg(killed.pid, signal.SIGKILL)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(timeout=30)
        assert rows == 1, "the run ended before its CRUD check created anything"
        assert killed.returncode == -signal.SIGKILL
        assert demo.leftover_rows() == 1  # nothing cleaned up after a SIGKILL

        sweep = subprocess.run(
            [*pytest_command, "-k", "test_sweep_leftover_resources"],
            capture_output=True,
            text=True,
            env={**environment, "SMOKE_TEST_CHECKS_FILE": str(swept)},
            cwd=ROOT,
            timeout=300,
            check=False,
        )
        assert sweep.returncode == 0, sweep.stdout[-3000:]
        assert "sweep: removed 1 of 1 items left by earlier runs" in sweep.stdout
        assert demo.leftover_rows() == 0


def test_azure_secret_values_appear_in_no_output_or_report(tmp_path: Path) -> None:
    # With listing refused, the suite falls back to reading each secret: the values it reads
    # are registered with the masker, so none may appear in the terminal or any report.
    data = json.loads((ITEMS_DIR / "azure-data.json").read_text())
    values = [s["value"] for s in data["secrets"] if len(s.get("value", "")) >= 4]
    assert values
    _, document, output = run_demo(tmp_path, "--demo-fault", "azure-list-forbidden")
    assert document["verdict"] == "PROCEED", output[-3000:]
    reports = [p for p in (tmp_path / "reports").glob("*.*")]
    assert {p.name for p in reports} >= {"junit.xml", "smoke.html"}
    artifacts = [output, *(p.read_text(errors="replace") for p in reports), json.dumps(document)]
    for value in values:
        assert not any(value in text for text in artifacts), "a secret value leaked"

"""A suite split into shards, merged with ``python -m pytest_smoke merge`` (``smoke-gate merge``
under its older name): the unsplit verdict.

A sample project of 14 tests (13 gated): passing ones, a non-critical failure, a critical test
that fails in the ROLLBACK scenario, a database test, a skipped one, two failures sharing a root
cause (redis down), a passing check that records a warning, and an ungated test. Each scenario
runs it once whole and once in three shards (by file, and by ``-k``), all in subprocesses, and
the merge must say what the whole run said.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from pytest_smoke.reports.json_report import SCHEMA_FILE

if TYPE_CHECKING:
    from pathlib import Path

REDIS_DOWN = "redis unreachable at 127.0.0.1:1: connection refused"

FILES = {
    "pytest.ini": """
        [pytest]
        asyncio_default_fixture_loop_scope = function
    """,
    "conftest.py": """
        import pytest
        from pytest_smoke import DependencyUnavailable

        @pytest.fixture
        def redis_bus():
            raise DependencyUnavailable("redis", "127.0.0.1:1", "connection refused")
    """,
    "test_api.py": """
        import pytest
        pytestmark = [pytest.mark.smoke, pytest.mark.service]
        HEALTH = {health}

        @pytest.mark.critical
        def test_health(): assert HEALTH == 200, f"GET /health -> {{HEALTH}}"
        def test_version(): pass
        def test_list_items(): pass
        def test_search(): assert 500 == 200, "GET /search -> 500"
    """,
    "test_data.py": """
        import pytest
        pytestmark = pytest.mark.smoke

        @pytest.mark.database
        def test_db_read(): pass
        @pytest.mark.database
        def test_db_write(): pass
        @pytest.mark.metrics
        def test_metrics(): pytest.skip("VM_RESOURCE_ID is not set")
        def test_login(smoke_warning): smoke_warning("login took 2.1 s > 2 s")
    """,
    "test_events.py": """
        import pytest

        @pytest.mark.smoke
        @pytest.mark.redis
        def test_publish(redis_bus): pass
        @pytest.mark.smoke
        @pytest.mark.redis
        def test_subscribe(redis_bus): pass
        @pytest.mark.smoke
        @pytest.mark.redis
        def test_redis_config(): pass
        @pytest.mark.smoke
        def test_cache(): pass
        @pytest.mark.smoke
        def test_queue_depth(): pass
        def test_parse_event(): pass  # not a smoke test: ungated
    """,
}

SPLITS = {
    "by-file": [["test_api.py"], ["test_data.py"], ["test_events.py"]],
    "by-k": [
        ["-k", "health or version or db_"],
        ["-k", "list_items or search or metrics or login or publish"],
        [
            "-k",
            "not (health or version or db_ or list_items or search or metrics or login or publish)",
        ],
    ],
}

SCENARIOS = {
    "monitor": {
        "health": 200,
        "status": 0,
        "verdict": "MONITOR",
        "failed": 1,
        "reasons": [
            "3 non-critical smoke tests failed (failure rate 18.2%, threshold 20%)",
            "warning: test_data.py::test_login: login took 2.1 s > 2 s",
        ],
    },
    "rollback": {
        "health": 503,
        "status": 11,
        "verdict": "ROLLBACK",
        "failed": 2,
        "reasons": [
            "critical test failed: test_api.py::test_health",
            "failure rate 27.3% > 20% threshold",
        ],
    },
}

# Must be the same in the whole run and the merge (duration and timestamps differ by nature).
SAME_KEYS = (
    "verdict",
    "exit_code",
    "reasons",
    "notes",
    "failure_rate",
    "totals",
    "categories",
    "flaky",
    "collection_errors",
    "worker_crashes",
    "interrupted",
    "warnings",
    "ungated",
    "policy",
    "profile",
    "pytest_exit_status",
    "requests",
)


def environment(**extra: str) -> dict[str, str]:
    """This interpreter's environment without our settings, the outer pytest's, or colours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "PYTEST_"))
        and key not in {"GITHUB_STEP_SUMMARY", "FORCE_COLOR", "PY_COLORS", "NO_COLOR"}
    }
    return {**env, "COLUMNS": "80", **extra}


def write_project(root: Path, health: int) -> None:
    for name, text in FILES.items():
        content = textwrap.dedent(text).lstrip()
        (root / name).write_text(
            content.format(health=health) if name == "test_api.py" else content
        )


def pytest_run(root: Path, report: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--smoke-gate",
            "--smoke-report-json",
            report,
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=environment(),
        timeout=300,
        check=False,
    )


def merge_cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_smoke", "merge", *args],
        capture_output=True,
        text=True,
        cwd=root,
        env=environment(**env),
        timeout=120,
        check=False,
    )


def read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    return document


def block(output: str) -> list[str]:
    """The verdict block, title to exit status, the title without its rule."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "smoke gate:" in line)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("exit status:"))
    return [lines[start].strip("= "), *lines[start + 1 : end + 1]]


def causes(document: dict[str, Any]) -> list[tuple[str, frozenset[str]]]:
    return [(group["cause"], frozenset(group["tests"])) for group in document["causes"]]


def entries(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        test["nodeid"]: {k: v for k, v in test.items() if k != "duration_seconds"}
        for test in document["tests"]
    }


@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_merged_shards_give_the_unsplit_verdict(tmp_path: Path, scenario: str, split: str) -> None:
    expected = SCENARIOS[scenario]
    write_project(tmp_path, int(expected["health"]))
    whole = pytest_run(tmp_path, "full.json")
    assert whole.returncode == expected["status"], whole.stdout + whole.stderr
    full = read(tmp_path / "full.json")

    shards = []
    for number, selection in enumerate(SPLITS[split], start=1):
        name = f"reports/shard-{number}.json"
        shard = pytest_run(tmp_path, name, *selection)
        assert shard.returncode in {0, 10, 11}, shard.stdout + shard.stderr
        shards.append(name)
    summary = tmp_path / "summary.md"
    merged_run = merge_cli(tmp_path, *shards, "-o", "merged.json", GITHUB_STEP_SUMMARY=str(summary))

    assert merged_run.returncode == whole.returncode == expected["status"], merged_run.stderr
    assert merged_run.stderr == ""
    merged = read(tmp_path / "merged.json")
    assert merged["verdict"] == full["verdict"] == expected["verdict"]
    assert merged["reasons"] == full["reasons"] == expected["reasons"]
    assert (
        causes(merged)
        == causes(full)
        == [
            (
                REDIS_DOWN,
                frozenset({"test_events.py::test_publish", "test_events.py::test_subscribe"}),
            )
        ]
    )
    for key in SAME_KEYS:
        assert merged[key] == full[key], key
    assert entries(merged) == entries(full)
    assert len(merged["tests"]) == 13
    failed = int(expected["failed"])  # the redis fixture's two are errors (setup failed)
    assert merged["totals"] == {
        "total": 13,
        "passed": 10 - failed,
        "failed": failed,
        "errors": 2,
        "skipped": 1,
    }
    assert merged["categories"]["database"]["passed"] == 2
    assert merged["categories"]["metrics"]["skipped"] == 1
    assert merged["ungated"] == 1
    assert merged["gate_enabled"] is True
    assert merged["merged_from"] == shards
    assert block(merged_run.stdout) == block(whole.stdout)
    assert f"shards:  3 merged: {', '.join(shards)}" in merged_run.stdout.splitlines()
    assert f"Smoke gate: {expected['verdict']}" in summary.read_text()


@pytest.fixture
def shard(tmp_path: Path) -> str:
    """One real shard report, ``good.json``, from the MONITOR project's API tests."""
    write_project(tmp_path, 200)
    pytest_run(tmp_path, "good.json", "test_api.py")
    return "good.json"


def assert_refused(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert result.returncode == 4
    assert result.stdout == ""
    assert result.stderr == f"smoke-gate merge: {line}\n"  # one line, no traceback
    assert "PROCEED" not in result.stdout + result.stderr


def test_a_missing_shard_is_refused(tmp_path: Path, shard: str) -> None:
    result = merge_cli(tmp_path, shard, "reports/shard-2.json", "-o", "merged.json")
    assert_refused(result, "reports/shard-2.json: no such file")
    assert not (tmp_path / "merged.json").exists()


def test_a_malformed_shard_is_refused(tmp_path: Path, shard: str) -> None:
    text = (tmp_path / shard).read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])  # an upload cut short
    result = merge_cli(tmp_path, shard, "cut.json")
    assert result.returncode == 4
    assert result.stderr.startswith("smoke-gate merge: cut.json: not JSON (")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert "PROCEED" not in result.stdout + result.stderr


def test_a_shard_breaking_the_schema_is_refused(tmp_path: Path, shard: str) -> None:
    document = json.loads((tmp_path / shard).read_text())
    document["tests"][0]["outcome"] = "fine"
    (tmp_path / "edited.json").write_text(json.dumps(document))
    result = merge_cli(tmp_path, "edited.json")
    assert_refused(
        result,
        "edited.json: not a valid smoke gate report: tests[0].outcome: 'fine' is not one of "
        "['passed', 'failed', 'error', 'skipped', 'xfailed', 'xpassed']",
    )


def test_overlapping_shards_are_refused(tmp_path: Path, shard: str) -> None:
    pytest_run(tmp_path, "again.json", "test_api.py")
    result = merge_cli(tmp_path, shard, "again.json")
    assert_refused(
        result,
        "test_api.py::test_health is in both good.json and again.json: the shards overlap; "
        "give each shard its own part of the suite",
    )


def test_no_files_is_a_usage_error(tmp_path: Path) -> None:
    # The same command as `smoke-gate merge` (pytest_smoke.cli): bad usage is one line, exit 2.
    result = merge_cli(tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "python -m pytest_smoke merge: missing argument 'FILES...'; "
        "see 'python -m pytest_smoke merge --help'\n"
    )


def test_help_works(tmp_path: Path) -> None:
    result = merge_cli(tmp_path, "--help")
    assert result.returncode == 0
    assert "Usage: python -m pytest_smoke merge [OPTIONS] FILES..." in result.stdout
    assert "11 ROLLBACK" in result.stdout


def test_importing_merge_does_not_import_pytest() -> None:
    code = "import sys, pytest_smoke.merge; print(sorted({'pytest', '_pytest'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=True,
    )
    assert result.stdout == "[]\n"

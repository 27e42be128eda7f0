"""Shared fixtures of tests/server: throwaway history databases, and stored runs in bulk.

- ``postgres_url`` (module scope): a PostgreSQL database made for the test module on
  127.0.0.1:5432 (trust auth, user postgres), dropped after it; skips when none answers.
- ``sqlite_url`` (function scope): a SQLite file under the test's tmp_path.
- :func:`seed`: ``n`` finished runs stored at once (for list tests and benchmarks/service.py).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

import pytest

from e2e.test_demo_run import base_environment, started_demo

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from pathlib import Path

    from e2e.test_demo_run import Demo
    from pytest_smoke.server.store import RunStore

PG_HOST: Final = "127.0.0.1"
PG_PORT: Final = 5432
#: the verdicts :func:`seed` cycles through
SEED_VERDICTS: Final = ("PROCEED", "PROCEED", "MONITOR", "INVESTIGATE", "ROLLBACK")
#: tests passed (of 25) in a seeded run, by its verdict
SEED_PASSED: Final = {"PROCEED": 25, "MONITOR": 24, "INVESTIGATE": 22, "ROLLBACK": 18}


def postgres_reachable() -> bool:
    """Something accepts connections on 127.0.0.1:5432."""
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


T = TypeVar("T")


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end on a loop of its own, in a thread of its own.

    For sync fixtures: the test's own event loop (pytest-asyncio's) is never touched.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result(timeout=60)


async def postgres_execute(sql: str, database: str = "postgres") -> None:
    """Run one SQL statement as user postgres on ``database`` of the local server."""
    import asyncpg

    url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{database}"
    connection = await asyncpg.connect(url, timeout=5, command_timeout=30)
    try:
        await connection.execute(sql)
    finally:
        await connection.close(timeout=5)


@pytest.fixture(scope="module")
def healthy_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The items demo, healthy, for the module (what its services' runs run against)."""
    directory = tmp_path_factory.mktemp("demo")
    with started_demo(directory, base_environment(directory)) as demo:
        yield demo


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test module, by URL (``postgresql://...``).

    Created empty with a random name, dropped (connections and all) after the module. Skips the
    test when PostgreSQL does not answer on 127.0.0.1:5432.
    """
    if not postgres_reachable():
        pytest.skip(f"needs PostgreSQL on {PG_HOST}:{PG_PORT} (trust auth, user postgres)")
    pytest.importorskip("asyncpg", reason="asyncpg is part of the [server] extra")
    name = f"smoke_gate_test_{secrets.token_hex(6)}"
    run_async(lambda: postgres_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        run_async(lambda: postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite history under tmp_path (not created yet): ``sqlite+aiosqlite:///PATH``."""
    return f"sqlite+aiosqlite:///{tmp_path / 'history' / 'runs.db'}"


def _document(verdict: str, profile: str, index: int) -> dict[str, Any]:
    """A report-sized stand-in (a few kB, like a real report): what the list must not read."""
    return {
        "verdict": verdict,
        "profile": profile,
        "reasons": [] if verdict == "PROCEED" else [f"seeded reason {index}"],
        "tests": [
            {"nodeid": f"suite/test_seeded.py::test_{t}", "outcome": "passed", "duration": 0.01}
            for t in range(25)
        ],
    }


async def seed(
    store: RunStore,
    n: int,
    *,
    profiles: tuple[str, ...] = ("staging", "production", "canary"),
    newest: datetime | None = None,
    with_documents: bool = True,
) -> list[str]:
    """Store ``n`` finished runs at once, with their figures; their IDs, newest first.

    Run ``i`` (0 newest) is ``profiles[i % len]``'s, created one minute before run ``i - 1``
    (from ``newest``, default now), done, its verdict cycling through :data:`SEED_VERDICTS`,
    with a report of a few kB unless ``with_documents`` is false. Written in bulk through the
    store's tables (10,000 runs in seconds), not run by run.
    """
    import dataclasses

    from sqlalchemy import insert

    from pytest_smoke.server.models import Run, RunReport
    from pytest_smoke.server.runs import RunRequest

    newest = newest or datetime.now(UTC)
    runs: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    for i in range(n):
        profile = profiles[i % len(profiles)]
        verdict = SEED_VERDICTS[i % len(SEED_VERDICTS)]
        created = newest - timedelta(minutes=i)
        run_id = f"seed-{i:06d}-{secrets.token_hex(4)}"
        runs.append(
            {
                "id": run_id,
                "profile": profile,
                "request": dataclasses.asdict(RunRequest(profile)),
                "state": "done",
                "verdict": verdict,
                "exit_code": {"PROCEED": 0, "MONITOR": 0, "INVESTIGATE": 10}.get(verdict, 11),
                "error": None,
                "created_at": created,
                "started_at": created + timedelta(seconds=1),
                "finished_at": created + timedelta(seconds=20),
                # the figures the store keeps from a report, spread for the charts to draw
                "version": f"1.0.{i // 500}",
                "trigger": "api",
                "tests_total": 25,
                "tests_passed": SEED_PASSED[verdict],
                "duration_seconds": 19.0 + i % 7,
                "p95_ms": 80.0 + (i % 50) * 3,
            }
        )
        if with_documents:
            reports.append({"run_id": run_id, "document": _document(verdict, profile, i)})
    chunk = 1000
    async with store.engine.begin() as connection:
        for start in range(0, n, chunk):
            await connection.execute(insert(Run), runs[start : start + chunk])
            if reports[start : start + chunk]:
                await connection.execute(insert(RunReport), reports[start : start + chunk])
    return [run["id"] for run in runs]

"""Queue mode against the real demo: the service's QueueExecutor, a ``smoke-gate worker``
subprocess, Dramatiq over a real Redis (keys under a random prefix, removed after).

The verdicts are the local executor's (tests/server/test_executor.py): PROCEED on the healthy
demo, ROLLBACK with its database down. Needs PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest

from e2e.servers import needs_postgres_and_redis, reachable
from e2e.test_demo_run import base_environment, started_demo
from pytest_smoke.server.runs import RunRequest, RunState

from .test_executor import (
    assert_valid_report,
    clean_environment,  # noqa: F401  # autouse: no smoke setting of this process leaks
    hanging_profile,
    silent_server,  # noqa: F401  # a fixture
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from pytest_smoke.server.queue import QueueExecutor

REDIS_URL = "redis://127.0.0.1:6379/0"
RUN_LIMIT = 240.0

pytestmark = [
    needs_postgres_and_redis,
    pytest.mark.skipif(not reachable(6379), reason="needs Redis running on 127.0.0.1:6379"),
]


def key_prefix() -> Iterator[str]:
    """A key prefix of the test's own; every key under it is deleted after."""
    import redis

    prefix = f"smoke-gate-test-{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    """The module worker's key prefix."""
    yield from key_prefix()


@pytest.fixture
def own_namespace() -> Iterator[str]:
    """A key prefix for one test's worker."""
    yield from key_prefix()


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``.env.healthy`` and ``.env.down``: two demos, the second with its database down."""
    base = tmp_path_factory.mktemp("queue")
    directory = base / "profiles"
    directory.mkdir()
    environment = base_environment(base)
    extra = (
        "\nSMOKE_TEST_SLA_P95_MS=5000\n"
        f"SMOKE_TEST_REDIS_PREFIX={environment['SMOKE_TEST_REDIS_PREFIX']}\n"
    )
    with (
        started_demo(base / "healthy", environment) as healthy,
        started_demo(base / "down", environment, "database-down") as down,
    ):
        (directory / ".env.healthy").write_text(healthy.profile.read_text() + extra)
        (directory / ".env.down").write_text(down.profile.read_text() + extra)
        yield directory


def start_worker(
    profiles: Path, data: Path, namespace: str, log: Path, timeout: float = 240.0
) -> subprocess.Popen[bytes]:
    """``smoke-gate worker`` (one process, two threads) in the background."""
    environment = base_environment(data.parent)
    command = [sys.executable, "-m", "pytest_smoke", "worker", "--queue-url", REDIS_URL]
    command += ["--queue-namespace", namespace, "--profiles-dir", str(profiles)]
    command += ["--data-dir", str(data), "--run-timeout", f"{timeout:g}"]
    command += ["--processes", "1", "--threads", "2"]
    with log.open("wb") as output:
        return subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)


def stop_worker(process: subprocess.Popen[bytes], log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise AssertionError(f"the worker did not stop:\n{log.read_text()[-3000:]}") from None


@pytest.fixture(scope="module")
def worker(
    profiles: Path, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A worker for the module; its data directory."""
    base = tmp_path_factory.mktemp("worker")
    log = base / "worker.log"
    process = start_worker(profiles, base / "data", namespace, log)
    try:
        yield base / "data"
    finally:
        status = stop_worker(process, log)
        assert status == 0, log.read_text()[-3000:]


@asynccontextmanager
async def queue_executor(namespace: str) -> AsyncIterator[QueueExecutor]:
    from pytest_smoke.server.queue import QueueExecutor

    executor = QueueExecutor(REDIS_URL, timeout=240.0, namespace=namespace, grace=2.0)
    try:
        yield executor
    finally:
        await executor.shutdown()


@pytest.mark.asyncio
async def test_queued_runs_have_the_local_verdicts(namespace: str, worker: Path) -> None:
    async with queue_executor(namespace) as queue:
        await _verdicts(queue, worker)


async def _verdicts(queue: QueueExecutor, worker: Path) -> None:
    healthy = await queue.submit("q-healthy", RunRequest("healthy"))
    joined = await queue.submit("q-again", RunRequest("healthy"))
    down = await queue.submit("q-down", RunRequest("down"))
    assert (healthy.joined, joined.joined, down.joined) == (False, True, False)
    assert joined.run_id == "q-healthy"
    ok, rollback = await asyncio.wait_for(asyncio.gather(healthy.wait(), down.wait()), RUN_LIMIT)
    assert healthy.started.is_set()
    assert (ok.state, ok.verdict, ok.exit_code) == (RunState.DONE, "PROCEED", 0), ok.error
    assert (rollback.state, rollback.verdict, rollback.exit_code) == (
        RunState.DONE,
        "ROLLBACK",
        11,
    )
    assert ok.document is not None
    assert_valid_report(ok.document)
    # the worker ran them, in its own data directory
    written = worker / "runs" / "q-healthy" / "smoke-gate.json"
    assert json.loads(written.read_text()) == ok.document
    assert (await joined.wait()).verdict == "PROCEED"


@pytest.mark.asyncio
async def test_a_queued_run_is_cancelled_on_its_worker(
    own_namespace: str,
    silent_server: int,  # noqa: F811  # the fixture imported above
    tmp_path: Path,
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    hanging_profile(profiles, silent_server)
    log = tmp_path / "worker.log"
    process = start_worker(profiles, tmp_path / "data", own_namespace, log)
    try:
        async with queue_executor(own_namespace) as queue:
            await _cancels(queue, process, log, tmp_path / "data" / "runs")
    finally:
        if process.poll() is None:
            stop_worker(process, log)
    output = (tmp_path / "data" / "runs" / "q-hang" / "output.log").read_text()
    assert "KeyboardInterrupt" in output or "Interrupted" in output, output[-2000:]


async def _pytest_running(output: Path) -> None:
    """Until the run's pytest has started its session (a loaded CI machine can take seconds
    between a worker starting a run and pytest getting that far; a cancel before that finds
    no Python to interrupt yet)."""
    for _ in range(600):
        if output.is_file() and "test session starts" in output.read_text(errors="replace"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"pytest did not start in 60 s: {output}")


async def _cancels(
    queue: QueueExecutor, process: subprocess.Popen[bytes], log: Path, runs: Path
) -> None:
    """Cancel a running run; then stop the worker with a run going."""
    handle = await queue.submit("q-hang", RunRequest("hang"))
    await asyncio.wait_for(handle.started.wait(), 60)
    await _pytest_running(runs / "q-hang" / "output.log")
    assert await queue.cancel("q-hang")
    outcome = await asyncio.wait_for(handle.wait(), 30)
    assert (outcome.state, outcome.document) == (RunState.CANCELLED, None)
    assert not await queue.cancel("q-hang")

    # a worker that is stopped cancels what it runs, and exits 0
    stopping = await queue.submit("q-stopping", RunRequest("hang", read_only=True))
    await asyncio.wait_for(stopping.started.wait(), 60)
    await _pytest_running(runs / "q-stopping" / "output.log")
    status = await asyncio.to_thread(stop_worker, process, log)
    assert status == 0, log.read_text()[-3000:]
    stopped = await asyncio.wait_for(stopping.wait(), 30)
    assert stopped.state is RunState.CANCELLED
    assert stopped.error == "cancelled: the worker stopped"

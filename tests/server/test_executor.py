"""The local executor against the real demo: verdicts, joins, timeouts, crashes, cancels.

Every run is a real ``python -m pytest`` child; a hanging run hangs on a real socket server that
accepts connections and never answers. No process may outlive its run: the run's process group
is looked up in /proc after it ended. Needs PostgreSQL and Redis (the demo's).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from e2e.servers import needs_postgres_and_redis
from e2e.test_demo_run import base_environment, started_demo
from pytest_smoke.server.runs import (
    TEST_ENDPOINT_CATEGORIES,
    RunRequest,
    RunRequestError,
    RunState,
    validate_request,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_smoke.server.executor import LocalExecutor

SCHEMA = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "pytest_smoke"
    / "reports"
    / "smoke-gate-report.schema.json"
)
#: No test waits longer than this for a run.
RUN_LIMIT = 240.0


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs get this process's environment: none of its smoke settings may leak into them."""
    for key in list(os.environ):
        if key.startswith(("SMOKE_", "DEMO_")) or key in ("GATEWAY_URL", "PYTEST_ADDOPTS"):
            monkeypatch.delenv(key)


def demo_profiles(tmp_path_factory: pytest.TempPathFactory, fault: str | None) -> Iterator[Path]:
    """A profiles directory with ``.env.demo``, the profile of a demo started for the module."""
    base = tmp_path_factory.mktemp(f"demo-{fault or 'healthy'}")
    environment = base_environment(base)
    with started_demo(base, environment, fault) as demo:
        profiles = base / "profiles"
        profiles.mkdir()
        text = demo.profile.read_text()
        # as tests/e2e runs it: this loaded machine's latency is not what these runs prove, and
        # the suite's Redis keys go under a prefix of the test's own
        text += f"\nSMOKE_TEST_SLA_P95_MS=5000\n{_redis_prefix(environment)}\n"
        (profiles / ".env.demo").write_text(text)
        yield profiles


def _redis_prefix(environment: dict[str, str]) -> str:
    return f"SMOKE_TEST_REDIS_PREFIX={environment['SMOKE_TEST_REDIS_PREFIX']}"


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from demo_profiles(tmp_path_factory, None)


@pytest.fixture(scope="module")
def database_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from demo_profiles(tmp_path_factory, "database-down")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never answers; closed after."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def hanging_profile(directory: Path, port: int) -> None:
    """``.env.hang``: a deployment whose every request hangs (for minutes)."""
    (directory / ".env.hang").write_text(
        f"GATEWAY_URL=http://127.0.0.1:{port}\nSMOKE_TEST_TIMEOUT=600\n"
    )


def executor(profiles: Path, data: Path, **options: float) -> LocalExecutor:
    from pytest_smoke.server.executor import LocalExecutor

    settings = {"max_concurrent": 2, "timeout": 180.0, "grace": 2.0, **options}
    return LocalExecutor(
        profiles,
        data,
        max_concurrent=int(settings.pop("max_concurrent")),
        timeout=settings.pop("timeout"),
        grace=settings.pop("grace"),
    )


def group_members(pgid: int) -> list[int]:
    """Processes (live or zombie) whose process group is ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def assert_valid_report(document: dict[str, object]) -> None:
    import jsonschema

    jsonschema.validate(document, json.loads(SCHEMA.read_text()))


async def started_pid(handle: object, timeout: float = 60.0) -> int:
    """The pid of a run's pytest, once it has one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        pid = getattr(handle, "pid", None)
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.05)
    raise AssertionError("the run never started its pytest")


# --- requests ------------------------------------------------------------------------------------


def test_requests_are_validated_in_one_line() -> None:
    profiles = ["demo", "staging"]
    validate_request(RunRequest("demo", markers="smoke and not (load or writes)"), profiles)
    validate_request(RunRequest("demo", categories=("database", "service")), profiles)
    for request, message in [
        (RunRequest("prod"), "unknown profile 'prod'"),
        (RunRequest("demo", categories=("databse",)), "unknown category 'databse'"),
        (RunRequest("demo", markers="smoke and"), "not a marker expression"),
        (RunRequest("demo", markers="__import__('os')"), "markers:"),
        (RunRequest("demo", markers="a.b"), "not a marker expression"),
        (RunRequest("demo", markers="   "), "empty"),
    ]:
        with pytest.raises(RunRequestError) as raised:
            validate_request(request, profiles)
        assert message in str(raised.value)
        assert "\n" not in str(raised.value)


def test_identical_requests_share_a_key_and_markers_and_categories_combine() -> None:
    one = RunRequest("demo", markers="smoke  and critical", categories=("service", "database"))
    two = RunRequest("demo", markers="smoke and critical", categories=("database", "service"))
    assert one.key() == two.key()
    assert one.key() != RunRequest("demo").key()
    assert one.marker_expression() == "(smoke and critical) and (database or service)"
    assert RunRequest("demo").marker_expression() is None
    assert set(TEST_ENDPOINT_CATEGORIES) == {"db", "apis", "secrets", "metrics"}


# --- runs against the demo -----------------------------------------------------------------------


@pytest.mark.asyncio
@needs_postgres_and_redis
async def test_healthy_demo_run_is_done_and_proceeds(healthy: Path, tmp_path: Path) -> None:
    runs = executor(healthy, tmp_path / "data")
    handle = await runs.submit("healthy", RunRequest("demo"))
    assert not handle.joined
    outcome = await asyncio.wait_for(handle.wait(), RUN_LIMIT)
    assert handle.started.is_set()
    assert outcome.state is RunState.DONE, outcome
    assert (outcome.verdict, outcome.exit_code) == ("PROCEED", 0), outcome.document
    assert outcome.document is not None
    assert outcome.document["totals"]["passed"] >= 30
    assert_valid_report(outcome.document)
    written = tmp_path / "data" / "runs" / "healthy" / "smoke-gate.json"
    assert json.loads(written.read_text()) == outcome.document
    assert group_members(handle.pid or 0) == []


@pytest.mark.asyncio
@needs_postgres_and_redis
async def test_database_down_rolls_back(database_down: Path, tmp_path: Path) -> None:
    runs = executor(database_down, tmp_path / "data")
    handle = await runs.submit("down", RunRequest("demo"))
    outcome = await asyncio.wait_for(handle.wait(), RUN_LIMIT)
    assert outcome.state is RunState.DONE, outcome
    assert (outcome.verdict, outcome.exit_code) == ("ROLLBACK", 11)
    assert outcome.document is not None
    database = outcome.document["categories"]["database"]
    assert database["failed"] + database["errors"] >= 1


@pytest.mark.asyncio
@needs_postgres_and_redis
async def test_identical_requests_join_one_run(healthy: Path, tmp_path: Path) -> None:
    runs = executor(healthy, tmp_path / "data")
    request = RunRequest("demo", categories=("database",))
    first, second = await asyncio.gather(
        runs.submit("first", request), runs.submit("second", request)
    )
    other = await runs.submit("other", RunRequest("demo", quick=True, categories=("database",)))
    assert (first.joined, second.joined, other.joined) == (False, True, False)
    assert second.run_id == "first"
    pid = await started_pid(first)
    assert second.pid == pid
    one, two, three = await asyncio.wait_for(
        asyncio.gather(first.wait(), second.wait(), other.wait()), RUN_LIMIT
    )
    assert one is two
    assert (one.state, one.verdict) == (RunState.DONE, "PROCEED"), one
    assert three.state is RunState.DONE
    # one pytest each: the joined submit started none
    assert sorted(p.name for p in (tmp_path / "data" / "runs").iterdir()) == ["first", "other"]
    # once it ended, the same request is a new run
    again = await runs.submit("again", request)
    assert not again.joined
    await runs.shutdown()


@pytest.mark.asyncio
async def test_hanging_run_is_killed_at_its_timeout(silent_server: int, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    hanging_profile(profiles, silent_server)
    runs = executor(profiles, tmp_path / "data", timeout=6.0, grace=2.0)
    handle = await runs.submit("hang", RunRequest("hang"))
    pid = await started_pid(handle)
    outcome = await asyncio.wait_for(handle.wait(), 60)
    assert outcome.state is RunState.TIMED_OUT, outcome
    assert outcome.error == "timed out after 6 s"
    assert outcome.document is not None
    assert outcome.verdict == "INVESTIGATE"
    assert outcome.document["reasons"] == ["timed out after 6 s"]
    assert outcome.exit_code == outcome.document["exit_code"] == 10
    assert_valid_report(outcome.document)
    assert group_members(pid) == [], "a process of the run outlived it"
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


@pytest.mark.asyncio
async def test_crashed_runs_are_reported_and_the_next_run_goes(
    silent_server: int, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    secret = "Pl4nted-Secret-Value-77"
    # a setting pytest refuses (usage error, exit status 4, no report), a password beside it
    (profiles / ".env.broken").write_text(
        f"GATEWAY_URL=not a url\nSMOKE_TEST_DATABASE_URL=postgresql://u:{secret}@127.0.0.1:1/d\n"
    )
    hanging_profile(profiles, silent_server)
    runs = executor(profiles, tmp_path / "data", max_concurrent=1, timeout=120.0)

    broken = await runs.submit("broken", RunRequest("broken"))
    outcome = await asyncio.wait_for(broken.wait(), 60)
    assert outcome.state is RunState.CRASHED, outcome
    assert outcome.exit_code == 4
    assert outcome.error is not None
    assert outcome.error.startswith("run crashed: pytest exited with status 4 without a report")
    assert "\n" not in outcome.error
    assert outcome.verdict == "INVESTIGATE"
    assert outcome.document is not None
    assert outcome.document["reasons"] == [outcome.error]
    assert_valid_report(outcome.document)
    assert secret not in json.dumps(outcome.document)

    # pytest killed from outside (kill -9 of its group): crashed too
    hang = await runs.submit("killed", RunRequest("hang"))
    pid = await started_pid(hang)
    await asyncio.sleep(1.0)
    os.killpg(pid, signal.SIGKILL)
    killed = await asyncio.wait_for(hang.wait(), 30)
    assert killed.state is RunState.CRASHED, killed
    assert killed.exit_code == 128 + signal.SIGKILL
    assert killed.error is not None
    assert killed.error.startswith("run crashed: pytest was killed by SIGKILL")
    assert group_members(pid) == []

    # and the executor still runs the next one
    again = await runs.submit("again", RunRequest("broken", quick=True))
    assert (await asyncio.wait_for(again.wait(), 60)).state is RunState.CRASHED


@pytest.mark.asyncio
async def test_cancel_queued_and_running_runs(silent_server: int, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    hanging_profile(profiles, silent_server)
    runs = executor(profiles, tmp_path / "data", max_concurrent=1, timeout=120.0, grace=2.0)
    running = await runs.submit("running", RunRequest("hang"))
    queued = await runs.submit("queued", RunRequest("hang", quick=True))
    pid = await started_pid(running)
    assert not queued.started.is_set()

    assert await runs.cancel("queued")
    cancelled = await asyncio.wait_for(queued.wait(), 10)
    assert (cancelled.state, cancelled.document, cancelled.verdict) == (
        RunState.CANCELLED,
        None,
        None,
    )
    assert not queued.started.is_set()
    assert not (tmp_path / "data" / "runs" / "queued").exists()

    await asyncio.sleep(1.0)
    assert await runs.cancel("running")
    stopped = await asyncio.wait_for(running.wait(), 30)
    assert stopped.state is RunState.CANCELLED
    assert stopped.document is None
    assert group_members(pid) == []
    assert not await runs.cancel("running")  # ended: nothing to cancel
    assert not await runs.cancel("unknown")


@pytest.mark.asyncio
async def test_shutdown_stops_every_run(silent_server: int, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    hanging_profile(profiles, silent_server)
    runs = executor(profiles, tmp_path / "data", max_concurrent=2, timeout=120.0, grace=2.0)
    handles = [
        await runs.submit("a", RunRequest("hang")),
        await runs.submit("b", RunRequest("hang", quick=True)),
        await runs.submit("c", RunRequest("hang", read_only=True)),  # queued
    ]
    pids = [await started_pid(handle) for handle in handles[:2]]
    await asyncio.wait_for(runs.shutdown(), 30)
    outcomes = [handle.done and await handle.wait() for handle in handles]
    assert [o and o.state for o in outcomes] == [RunState.CANCELLED] * 3
    assert all(group_members(pid) == [] for pid in pids)
    with pytest.raises(RuntimeError, match="shut down"):
        await runs.submit("d", RunRequest("hang"))


def test_retention_removes_the_run_directories_of_old_runs(tmp_path: Path) -> None:
    from pytest_smoke.server.executor import remove_run_directories

    old, new = tmp_path / "runs" / "old-run", tmp_path / "runs" / "new-run"
    for directory in (old, new):
        directory.mkdir(parents=True)
        (directory / "smoke-gate.json").write_text("{}")
    a_month_ago = time.time() - 31 * 86400
    os.utime(old, (a_month_ago, a_month_ago))
    assert remove_run_directories(tmp_path, time.time() - 30 * 86400) == 1
    assert [path.name for path in (tmp_path / "runs").iterdir()] == ["new-run"]

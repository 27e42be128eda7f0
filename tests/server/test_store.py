"""The run history (pytest_smoke.server.store) on real SQLite and real PostgreSQL.

Every test runs on both: SQLite in tmp_path, PostgreSQL in a database made for this module
(skipped, saying why, where PostgreSQL does not answer on 127.0.0.1:5432).
"""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

pytest.importorskip("sqlalchemy.ext.asyncio", reason="the [server] extra is not installed")
pytest.importorskip("alembic", reason="the [server] extra is not installed")

from sqlalchemy import func, select, text

from pytest_smoke.server.migrations import VERSION_TABLE, alembic_config, head_revision
from pytest_smoke.server.models import Base, RunReport
from pytest_smoke.server.runs import RunOutcome, RunRequest, RunState
from pytest_smoke.server.store import (
    RunExistsError,
    RunNotFoundError,
    RunStore,
    ScheduleRecord,
    StoreError,
    database_url,
)

from .conftest import SEED_VERDICTS, postgres_execute, run_async, seed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    """An empty history database's URL, SQLite or PostgreSQL (its tables dropped after)."""
    if request.param == "sqlite":
        yield sqlite_url
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    name = postgres_url.rpartition("/")[2]
    yield postgres_url
    tables = ", ".join([*(table.name for table in Base.metadata.sorted_tables), VERSION_TABLE])
    run_async(lambda: postgres_execute(f"DROP TABLE IF EXISTS {tables}", name))


@pytest_asyncio.fixture
async def store(url: str) -> AsyncIterator[RunStore]:
    """The store, opened (migrated) on ``url``, closed after."""
    opened = await RunStore.open(url)
    try:
        yield opened
    finally:
        await opened.close()


def report(verdict: str, *reasons: str) -> dict[str, Any]:
    """A JSON report as far as the store cares: a verdict and some content."""
    return {"verdict": verdict, "reasons": list(reasons), "exit_status": 0}


def done(verdict: str, exit_code: int = 0) -> RunOutcome:
    """A run that ended with a report."""
    return RunOutcome(RunState.DONE, exit_code, report(verdict))


@pytest.mark.asyncio
async def test_a_run_is_created_started_finished_and_read_back(store: RunStore) -> None:
    request = RunRequest(
        "staging", quick=True, markers="smoke and not slow", categories=("database", "service")
    )
    # a creation time in another zone is the same instant, read back in UTC
    created = T0.astimezone(timezone(timedelta(hours=2)))
    record = await store.create("run-1", request, created_at=created)
    assert record.state is RunState.QUEUED
    assert record.created_at == T0
    assert record.created_at.tzinfo is UTC

    queued = await store.get("run-1")
    assert queued is not None
    assert queued == record
    assert queued.request == request
    assert queued.request.categories == ("database", "service")

    await store.mark_running("run-1", T0 + timedelta(seconds=1))
    running = await store.get("run-1")
    assert running is not None
    assert running.state is RunState.RUNNING
    assert running.started_at == T0 + timedelta(seconds=1)

    document = report("ROLLBACK", "database unreachable at 127.0.0.1:1: connection refused")
    await store.finish("run-1", RunOutcome(RunState.DONE, 11, document), T0 + timedelta(seconds=9))
    finished = await store.get("run-1")
    assert finished is not None
    assert finished.state is RunState.DONE
    assert (finished.verdict, finished.exit_code, finished.error) == ("ROLLBACK", 11, None)
    assert finished.document == document
    assert finished.finished_at == T0 + timedelta(seconds=9)
    assert finished.finished_at.tzinfo is UTC
    assert await store.get("no-such-run") is None


@pytest.mark.asyncio
async def test_outcomes_without_a_report_keep_their_state_and_error(store: RunStore) -> None:
    await store.create("cancelled", RunRequest("staging"), created_at=T0)
    await store.finish("cancelled", RunOutcome(RunState.CANCELLED, None, None), T0)
    cancelled = await store.get("cancelled")
    assert cancelled is not None
    assert (cancelled.state, cancelled.verdict, cancelled.document) == (
        RunState.CANCELLED,
        None,
        None,
    )

    await store.create("late", RunRequest("staging"), created_at=T0)
    timed_out = RunOutcome(
        RunState.TIMED_OUT,
        None,
        report("INVESTIGATE", "timed out after 5 s"),
        "timed out after 5 s",
    )
    await store.finish("late", timed_out, T0 + timedelta(seconds=5))
    late = await store.get("late")
    assert late is not None
    assert (late.state, late.verdict, late.error) == (
        RunState.TIMED_OUT,
        "INVESTIGATE",
        "timed out after 5 s",
    )

    # finishing again replaces the outcome and the report, never adds a second one
    await store.finish("late", done("PROCEED"), T0 + timedelta(seconds=6))
    again = await store.get("late")
    assert again is not None
    assert (again.state, again.verdict, again.error) == (RunState.DONE, "PROCEED", None)
    async with store.engine.connect() as connection:
        reports = await connection.scalar(
            select(func.count()).select_from(RunReport).where(RunReport.run_id == "late")
        )
    assert reports == 1


@pytest.mark.asyncio
async def test_misuse_is_refused_with_a_clear_error(store: RunStore) -> None:
    await store.create("run-1", RunRequest("staging"), created_at=T0)
    with pytest.raises(RunExistsError, match="run run-1 exists already"):
        await store.create("run-1", RunRequest("other"), created_at=T0)
    with pytest.raises(RunNotFoundError, match="no run ghost"):
        await store.mark_running("ghost", T0)
    with pytest.raises(RunNotFoundError, match="no run ghost"):
        await store.finish("ghost", done("PROCEED"), T0)
    with pytest.raises(ValueError, match="cannot finish in state 'running'"):
        await store.finish("run-1", RunOutcome(RunState.RUNNING, None, None), T0)
    with pytest.raises(ValueError, match="created_at must be timezone-aware"):
        await store.create("run-2", RunRequest("staging"), created_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="limit must be between 0 and 1000"):
        await store.list(limit=5000)
    with pytest.raises(ValueError, match="offset must be 0 or more"):
        await store.list(offset=-1)

    # a run cancelled before it started stays cancelled when its start is reported late
    await store.finish("run-1", RunOutcome(RunState.CANCELLED, None, None), T0)
    await store.mark_running("run-1", T0 + timedelta(seconds=1))
    record = await store.get("run-1")
    assert record is not None
    assert (record.state, record.started_at) == (RunState.CANCELLED, None)


@pytest.mark.asyncio
async def test_the_list_filters_pages_and_leaves_reports_unread(store: RunStore) -> None:
    ids = await seed(store, 30, newest=T0)  # staging, production, canary, staging, ...
    await store.create("queued", RunRequest("staging"), created_at=T0 - timedelta(hours=2))

    page, total = await store.list(limit=10)
    assert total == 31
    assert [r.id for r in page] == ids[:10]  # newest first
    assert all(r.document is None for r in page)
    assert all(r.created_at.tzinfo is UTC for r in page)

    second, _ = await store.list(limit=10, offset=10)
    assert [r.id for r in second] == ids[10:20]
    last, total = await store.list(limit=10, offset=30)
    assert ([r.id for r in last], total) == (["queued"], 31)
    beyond, total = await store.list(limit=10, offset=40)
    assert (beyond, total) == ([], 31)

    staging, total = await store.list(profile="staging", limit=100)
    assert total == 11
    assert {r.profile for r in staging} == {"staging"}

    rollbacks, total = await store.list(verdict="ROLLBACK", limit=100)
    assert total == SEED_VERDICTS.count("ROLLBACK") * 30 // len(SEED_VERDICTS)
    assert [r.id for r in rollbacks] == [i for n, i in enumerate(ids) if n % 5 == 4]

    queued, total = await store.list(state=RunState.QUEUED)
    assert ([r.id for r in queued], total) == (["queued"], 1)
    _, done_total = await store.list(state="done")
    assert done_total == 30

    # since inclusive, until exclusive: runs 5..9 (created T0-5min .. T0-9min)
    window, total = await store.list(
        since=T0 - timedelta(minutes=9), until=T0 - timedelta(minutes=4), limit=100
    )
    assert ([r.id for r in window], total) == (ids[5:10], 5)

    both, total = await store.list(profile="production", verdict="PROCEED", limit=100)
    expected = [i for n, i in enumerate(ids) if n % 3 == 1 and SEED_VERDICTS[n % 5] == "PROCEED"]
    assert ([r.id for r in both], total) == (expected, len(expected))

    counted, total = await store.list(limit=0)
    assert (counted, total) == ([], 31)


@pytest.mark.asyncio
async def test_ten_thousand_runs_list_quickly(store: RunStore) -> None:
    await seed(store, 10_000)
    await store.list(limit=50)  # warm the connection
    began = time.perf_counter()
    page, total = await store.list(limit=50)
    filtered, filtered_total = await store.list(profile="canary", verdict="ROLLBACK", limit=50)
    took = time.perf_counter() - began
    assert (len(page), total) == (50, 10_000)
    assert len(filtered) == 50
    # canary: every third run from the third; ROLLBACK: every fifth from the fifth
    assert filtered_total == sum(1 for i in range(10_000) if i % 3 == 2 and i % 5 == 4)
    # generous: two cores shared with other test runs; a query that reads the reports or
    # scans without its index takes seconds here
    assert took < 1.0, f"two list queries over 10,000 runs took {took:.2f} s"


@pytest.mark.asyncio
async def test_latest_verdicts_is_each_profiles_last_finished_verdict(store: RunStore) -> None:
    await store.create("a-old", RunRequest("staging"), created_at=T0)
    await store.finish("a-old", done("PROCEED"), T0 + timedelta(minutes=1))
    await store.create("a-new", RunRequest("staging"), created_at=T0 + timedelta(minutes=2))
    await store.finish("a-new", done("ROLLBACK", 11), T0 + timedelta(minutes=3))
    # a cancelled run has no verdict: the one before it still stands
    await store.create("a-cancelled", RunRequest("staging"), created_at=T0 + timedelta(minutes=4))
    await store.finish(
        "a-cancelled", RunOutcome(RunState.CANCELLED, None, None), T0 + timedelta(minutes=5)
    )
    await store.create("a-running", RunRequest("staging"), created_at=T0 + timedelta(minutes=6))
    await store.mark_running("a-running", T0 + timedelta(minutes=6))
    await store.create("b", RunRequest("production"), created_at=T0)
    await store.finish("b", done("MONITOR"), T0 + timedelta(minutes=1))
    await store.create("c", RunRequest("canary"), created_at=T0)  # queued only

    latest = await store.latest_verdicts()
    assert {profile: r.id for profile, r in latest.items()} == {
        "staging": "a-new",
        "production": "b",
    }
    assert latest["staging"].verdict == "ROLLBACK"
    assert latest["production"].verdict == "MONITOR"


@pytest.mark.asyncio
async def test_retention_deletes_old_finished_runs_with_their_reports(store: RunStore) -> None:
    cutoff = T0 - timedelta(days=30)
    await store.create("old-done", RunRequest("staging"), created_at=cutoff - timedelta(days=1))
    await store.finish("old-done", done("PROCEED"), cutoff - timedelta(days=1))
    await store.create("old-running", RunRequest("staging"), created_at=cutoff - timedelta(days=1))
    await store.mark_running("old-running", cutoff - timedelta(days=1))
    await store.create("recent", RunRequest("staging"), created_at=cutoff)
    await store.finish("recent", done("PROCEED"), cutoff + timedelta(minutes=1))

    assert await store.delete_older_than(cutoff) == 1
    assert await store.get("old-done") is None
    assert await store.get("old-running") is not None  # never delete a run still going
    kept = await store.get("recent")
    assert kept is not None
    assert kept.document == report("PROCEED")
    async with store.engine.connect() as connection:
        orphans = await connection.scalar(
            select(func.count()).select_from(RunReport).where(RunReport.run_id == "old-done")
        )
    assert orphans == 0
    assert await store.delete_older_than(cutoff) == 0


@pytest.mark.asyncio
async def test_runs_left_unfinished_by_a_dead_service_become_crashed(store: RunStore) -> None:
    await store.create("queued", RunRequest("staging"), created_at=T0)
    await store.create("running", RunRequest("staging"), created_at=T0)
    await store.mark_running("running", T0)
    await store.create("done", RunRequest("staging"), created_at=T0)
    await store.finish("done", done("PROCEED"), T0 + timedelta(minutes=1))

    before = datetime.now(UTC)
    assert await store.mark_unfinished_crashed("run crashed: the service stopped") == 2
    for run_id in ("queued", "running"):
        record = await store.get(run_id)
        assert record is not None
        assert record.state is RunState.CRASHED
        assert record.verdict == "INVESTIGATE"
        assert record.error == "run crashed: the service stopped"
        assert record.finished_at is not None
        assert record.finished_at >= before - timedelta(seconds=1)
    untouched = await store.get("done")
    assert untouched is not None
    assert (untouched.state, untouched.verdict, untouched.error) == (RunState.DONE, "PROCEED", None)
    assert await store.mark_unfinished_crashed("again") == 0


@pytest.mark.asyncio
async def test_reopening_keeps_the_history(url: str) -> None:
    first = await RunStore.open(url)
    try:
        await store_one(first)
    finally:
        await first.close()
    second = await RunStore.open(url)  # a restarted service
    try:
        record = await second.get("kept")
        assert record is not None
        assert (record.state, record.verdict) == (RunState.DONE, "MONITOR")
        assert record.document == report("MONITOR", "slow")
        _, total = await second.list()
        assert total == 1
    finally:
        await second.close()


async def store_one(store: RunStore) -> None:
    """One finished run, "kept"."""
    await store.create("kept", RunRequest("staging", read_only=True), created_at=T0)
    await store.finish("kept", RunOutcome(RunState.DONE, 0, report("MONITOR", "slow")), T0)


@pytest.mark.asyncio
async def test_migrations_are_idempotent_and_match_the_models(url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    first = await RunStore.open(url)
    await store_one(first)
    await first.close()
    # opening again (upgrade head at head) and two services opening at once change nothing
    stores = await asyncio.gather(RunStore.open(url), RunStore.open(url))
    try:
        store = stores[0]
        assert await store.get("kept") is not None

        def check(connection: Any) -> list[Any]:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            assert context.get_current_revision() == head_revision()
            # upgrading once more through Alembic's own command changes nothing either
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            return list(compare_metadata(context, Base.metadata))

        async with store.engine.begin() as connection:
            differences = await connection.run_sync(check)
            versions = await connection.scalar(text(f"SELECT count(*) FROM {VERSION_TABLE}"))
        assert differences == [], "models.py and the Alembic revisions disagree"
        assert versions == 1
    finally:
        for opened in stores:
            await opened.close()


@pytest.mark.asyncio
async def test_a_history_of_the_first_schema_is_upgraded_with_its_runs(url: str) -> None:
    from alembic import command
    from sqlalchemy.ext.asyncio import create_async_engine

    target = database_url(url)
    if target.get_backend_name() == "sqlite":
        Path(target.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target)

    def first_schema_with_a_run(connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO smoke_gate_runs (id, profile, request, state, verdict, created_at) "
                "VALUES ('old', 'staging', '{\"profile\": \"staging\"}', 'done', 'PROCEED', "
                ":created)"
            ),
            {"created": T0.replace(tzinfo=None)},
        )

    async with engine.begin() as connection:
        await connection.run_sync(first_schema_with_a_run)
    await engine.dispose()
    async with await RunStore.open(url) as store:
        old = await store.get("old")
        assert old is not None
        assert (old.verdict, old.trigger, old.version, old.flaky_tests) == (
            "PROCEED",
            "api",
            None,
            (),
        )
        assert await store.list_schedules() == []


def test_database_urls_get_their_async_driver() -> None:
    assert str(database_url("sqlite:///var/history.db")) == "sqlite+aiosqlite:///var/history.db"
    assert str(database_url("postgres://u@db:5432/app")) == "postgresql+asyncpg://u@db:5432/app"
    assert (
        str(database_url("postgresql://u@db/app?sslmode=require"))
        == "postgresql+asyncpg://u@db/app?ssl=require"
    )
    asyncpg = "postgresql+asyncpg://u@db/app"
    assert str(database_url(asyncpg)) == asyncpg


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url hunter2", "the database URL is not a URL (expected sqlite:///PATH or"),
        ("mysql://u:hunter2@db/app", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u:hunter2@db/app", "database driver 'psycopg2' is not supported"),
        ("sqlite://", "the SQLite URL names no file"),
    ],
)
def test_a_bad_database_url_is_one_line_without_its_password(url: str, message: str) -> None:
    with pytest.raises(StoreError) as raised:
        database_url(url)
    assert str(raised.value).startswith(message)
    assert "hunter2" not in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.asyncio
async def test_an_unreachable_database_is_one_line_without_its_password() -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(StoreError) as raised:
        await RunStore.open(f"postgresql://smoke:hunter2@127.0.0.1:{port}/app")
    message = str(raised.value)
    assert message.startswith(
        f"cannot open the run history at postgresql+asyncpg://smoke:***@127.0.0.1:{port}/app: "
    )
    assert "hunter2" not in message
    assert "\n" not in message


def outcome_of(verdict: str, outcomes: dict[str, str], *, p95: float | None = None) -> RunOutcome:
    """A finished run whose report lists ``outcomes`` (node id -> outcome)."""
    tests = [{"nodeid": nodeid, "outcome": outcome} for nodeid, outcome in outcomes.items()]
    ran = [outcome for outcome in outcomes.values() if outcome != "skipped"]
    document = {
        **report(verdict),
        "tests": tests,
        "totals": {
            "total": len(outcomes),
            "passed": ran.count("passed"),
            "failed": ran.count("failed"),
            "errors": ran.count("error"),
            "skipped": len(outcomes) - len(ran),
        },
        "duration_seconds": 4.5,
        "requests": None if p95 is None else {"p95_seconds": p95},
    }
    return RunOutcome(RunState.DONE, 0, document)


@pytest.mark.asyncio
async def test_a_finished_run_keeps_its_figures_version_and_trigger(store: RunStore) -> None:
    request = RunRequest("staging", version="1.4.2")
    await store.create("run-1", request, created_at=T0, trigger="watch")
    outcome = outcome_of("PROCEED", {"a": "passed", "b": "failed", "c": "skipped"}, p95=0.1234)
    await store.finish("run-1", outcome, T0 + timedelta(seconds=5))
    finished = await store.get("run-1")
    assert finished is not None
    assert (finished.version, finished.trigger, finished.request.version) == (
        "1.4.2",
        "watch",
        "1.4.2",
    )
    assert (finished.tests_total, finished.tests_passed) == (2, 1)
    assert finished.pass_rate == 0.5
    assert (finished.duration_seconds, finished.p95_ms) == (4.5, 123.4)
    await store.create("cancelled", RunRequest("staging"), created_at=T0)
    await store.finish("cancelled", RunOutcome(RunState.CANCELLED, None, None), T0)
    cancelled = await store.get("cancelled")
    assert cancelled is not None
    assert (cancelled.trigger, cancelled.tests_total, cancelled.pass_rate) == ("api", None, None)


@pytest.mark.asyncio
async def test_tests_that_flip_between_runs_of_one_version_are_flaky(store: RunStore) -> None:
    runs = [  # profile, version, outcomes; in creation order
        ("staging", "v1", {"a": "passed", "b": "passed", "c": "failed", "d": "skipped"}),
        ("staging", "v1", {"a": "failed", "b": "passed", "c": "passed", "d": "failed"}),
        ("prod", "v1", {"a": "passed", "b": "failed"}),  # another profile: not compared
        ("staging", "v2", {"a": "passed", "b": "failed"}),  # a new version: nothing flips yet
        ("staging", "v1", {"a": "failed", "b": "passed", "c": "passed"}),  # same as before
        ("staging", None, {"a": "passed"}),  # no version: never compared
        ("staging", None, {"a": "failed"}),
    ]
    for index, (profile, version, outcomes) in enumerate(runs):
        run_id = f"run-{index}"
        created = T0 + timedelta(minutes=index)
        await store.create(run_id, RunRequest(profile, version=version), created_at=created)
        await store.finish(run_id, outcome_of("PROCEED", outcomes), created + timedelta(seconds=30))
    flaky = {}
    for index in range(len(runs)):
        record = await store.get(f"run-{index}")
        assert record is not None
        flaky[index] = record.flaky_tests
    assert flaky == {0: (), 1: ("a", "c"), 2: (), 3: (), 4: (), 5: (), 6: ()}
    listed, _ = await store.list(profile="staging", limit=10)
    assert {record.id: record.flaky_tests for record in listed}["run-1"] == ("a", "c")


@pytest.mark.asyncio
async def test_trend_and_verdict_counts(store: RunStore) -> None:
    verdicts = ["PROCEED", "ROLLBACK", "PROCEED", "MONITOR", "PROCEED"]
    for index, verdict in enumerate(verdicts):
        profile = "staging" if index < 4 else "prod"
        created = T0 + timedelta(minutes=index)
        await store.create(f"run-{index}", RunRequest(profile), created_at=created)
        outcome = outcome_of(verdict, {"a": "passed", "b": "failed" if index % 2 else "passed"})
        await store.finish(f"run-{index}", outcome, created + timedelta(seconds=10))
    await store.create("queued", RunRequest("staging"), created_at=T0)
    staging = await store.trend("staging")
    assert [record.id for record in staging] == ["run-0", "run-1", "run-2", "run-3"]
    assert [record.pass_rate for record in staging] == [1.0, 0.5, 1.0, 0.5]
    assert [record.id for record in await store.trend(limit=2)] == ["run-3", "run-4"]
    later = await store.trend(since=T0 + timedelta(minutes=2))
    assert [record.id for record in later] == ["run-2", "run-3", "run-4"]
    assert await store.counts_by_verdict() == {"PROCEED": 3, "ROLLBACK": 1, "MONITOR": 1}
    assert await store.counts_by_verdict("staging", since=T0 + timedelta(minutes=1)) == {
        "ROLLBACK": 1,
        "PROCEED": 1,
        "MONITOR": 1,
    }
    with pytest.raises(ValueError, match="limit"):
        await store.trend(limit=0)


@pytest.mark.asyncio
async def test_schedules_are_stored_listed_and_deleted(store: RunStore) -> None:
    watch = ScheduleRecord(
        id="watch-1",
        profile="staging",
        request=RunRequest("staging", quick=True, version="2.0.0"),
        every_seconds=300.0,
        cron=None,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        kind="watch",
        created_at=T0,
    )
    nightly = ScheduleRecord(
        id="nightly",
        profile="prod",
        request=RunRequest("prod"),
        every_seconds=None,
        cron="0 3 * * *",
        starts_at=T0,
        ends_at=None,
        kind="schedule",
        created_at=T0 + timedelta(seconds=1),
    )
    await store.add_schedule(watch)
    await store.add_schedule(nightly)
    with pytest.raises(RunExistsError):
        await store.add_schedule(watch)
    assert await store.list_schedules() == [watch, nightly]
    assert await store.get_schedule("nightly") == nightly
    assert await store.delete_schedule("watch-1") is True
    assert await store.delete_schedule("watch-1") is False
    assert await store.get_schedule("watch-1") is None
    assert await store.list_schedules() == [nightly]

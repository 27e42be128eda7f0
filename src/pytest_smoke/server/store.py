"""The run history of ``smoke-gate serve``: every run, its state and its JSON report, kept.

:class:`RunStore` is async SQLAlchemy 2.0 over SQLite (``sqlite:///PATH``, the default, through
aiosqlite) or PostgreSQL (``postgresql://`` or ``postgres://``, through asyncpg).
:meth:`RunStore.open` migrates the database to the newest schema first (Alembic, see
``pytest_smoke.server.migrations``), so a new service version upgrades the history it finds.

What a caller needs to know:

- Timestamps go in and come out timezone-aware (UTC out); a naive one is a ValueError.
- A run's life: :meth:`~RunStore.create` (queued), :meth:`~RunStore.mark_running`,
  :meth:`~RunStore.finish` with the executor's ``RunOutcome``. An unknown run ID is a
  :class:`RunNotFoundError`; creating an ID twice a :class:`RunExistsError`.
- Only :meth:`~RunStore.get` reads the JSON report; the records of :meth:`~RunStore.list` and
  :meth:`~RunStore.latest_verdicts` have ``document=None`` (reports live in a table of their
  own, so listing thousands of runs stays fast).
- Nothing here masks: what is stored is what the executor gave (its report and error line are
  masked already).
- A bad database URL, or one the store cannot open, is a :class:`StoreError` with one line that
  never shows the password.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pytest_smoke.gate import Verdict
from pytest_smoke.server.flaky import flipped
from pytest_smoke.server.migrations import upgrade_to_head
from pytest_smoke.server.models import Run, RunReport, Schedule
from pytest_smoke.server.runs import RunOutcome, RunRequest, RunState

if TYPE_CHECKING:
    import builtins
    from collections.abc import Mapping
    from types import TracebackType

    from sqlalchemy.sql.elements import ColumnElement

#: states of a run that has not ended (queued, running): what a dead service leaves behind
UNFINISHED_STATES: Final = tuple(state for state in RunState if not state.terminal)
#: the verdict of a run the store marks crashed (what the gate says when it cannot tell)
CRASHED_VERDICT: Final = Verdict.INVESTIGATE.value
#: the largest page :meth:`RunStore.list` returns
MAX_LIMIT: Final = 1000

_URL_HELP: Final = "expected sqlite:///PATH or postgresql://USER@HOST:PORT/NAME"
_DRIVERS: Final = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_RUN_COLUMNS: Final = tuple(Run.__table__.columns)
# Alembic's run context is process-global: two stores opening at once in one event loop must
# migrate one after the other (across processes PostgreSQL's advisory lock does it).
_MIGRATING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


class StoreError(RuntimeError):
    """The history database cannot be used: one line naming the URL (no password) and why."""


class RunNotFoundError(LookupError):
    """No run has this ID."""


class RunExistsError(ValueError):
    """A run with this ID is stored already."""


@dataclass(frozen=True)
class RunRecord:
    """One stored run. ``document`` (the JSON report) is read by :meth:`RunStore.get` only."""

    id: str
    profile: str
    request: RunRequest
    state: RunState
    verdict: str | None
    exit_code: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    document: dict[str, Any] | None = None
    #: the deployed version the run checked (``request.version``)
    version: str | None = None
    #: what started it: api, gate, schedule or watch
    trigger: str = "api"
    #: node ids whose outcome flipped since the previous run of this profile and version
    flaky_tests: tuple[str, ...] = ()
    #: from the report: tests that ran (not skipped), those that passed, the run's seconds and
    #: its requests' p95 in ms; None without a report (or without requests, for ``p95_ms``)
    tests_total: int | None = None
    tests_passed: int | None = None
    duration_seconds: float | None = None
    p95_ms: float | None = None

    @property
    def pass_rate(self) -> float | None:
        """Passed / ran, 0..1; None when no test ran."""
        if not self.tests_total or self.tests_passed is None:
            return None
        return self.tests_passed / self.tests_total


@dataclass(frozen=True)
class ScheduleRecord:
    """A stored schedule: runs of ``request`` every ``every_seconds`` or by ``cron``, from
    ``starts_at`` until ``ends_at`` (None: for ever); ``kind`` schedule or watch."""

    id: str
    profile: str
    request: RunRequest
    every_seconds: float | None
    cron: str | None
    starts_at: datetime
    ends_at: datetime | None
    kind: str
    created_at: datetime


def report_figures(document: Mapping[str, Any] | None) -> dict[str, Any]:
    """The summary columns of a run from its report: tests ran and passed, seconds, p95 ms."""
    if not document:
        return {"tests_total": None, "tests_passed": None, "duration_seconds": None, "p95_ms": None}
    totals = document.get("totals") or {}
    requests = document.get("requests") or {}
    p95 = requests.get("p95_seconds")
    return {
        "tests_total": max(0, int(totals.get("total", 0)) - int(totals.get("skipped", 0))),
        "tests_passed": int(totals.get("passed", 0)),
        "duration_seconds": document.get("duration_seconds"),
        "p95_ms": round(float(p95) * 1000, 3) if p95 is not None else None,
    }


def database_url(url: str) -> URL:
    """The async SQLAlchemy URL for ``url``: SQLite through aiosqlite, PostgreSQL through asyncpg.

    Accepts ``sqlite:///PATH``, ``postgresql://`` and ``postgres://`` (and the same already
    naming aiosqlite or asyncpg). PostgreSQL's ``sslmode`` becomes asyncpg's ``ssl``. Raises
    :class:`StoreError` otherwise, without repeating the text (it may hold a password).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"the database URL is not a URL ({_URL_HELP})") from None
    # by name only: asking SQLAlchemy for the driver would load a dialect ("postgres" has none)
    scheme, _, driver = parsed.drivername.partition("+")
    backend = "postgresql" if scheme == "postgres" else scheme
    drivername = _DRIVERS.get(backend)
    if drivername is None:
        raise StoreError(f"unsupported database {scheme!r} ({_URL_HELP})")
    if driver and driver != drivername.partition("+")[2]:
        raise StoreError(f"database driver {driver!r} is not supported: use {drivername}://")
    parsed = parsed.set(drivername=drivername)
    if backend == "postgresql" and "sslmode" in parsed.query:
        parsed = parsed.update_query_dict({"ssl": parsed.query["sslmode"]}).difference_update_query(
            ["sslmode"]
        )
    if backend == "sqlite" and not parsed.database:
        raise StoreError(f"the SQLite URL names no file ({_URL_HELP})")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers (the run list) never wait for the writer (a finishing run); busy_timeout:
    # concurrent writers queue instead of failing "database is locked"; foreign_keys: reports
    # are deleted with their runs (SQLite enforces foreign keys only when asked).
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=10000",
        "foreign_keys=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _one_line(error: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy appends SQL and a docs link)."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware: {value.isoformat()}")


def _record(row: Mapping[Any, Any], document: dict[str, Any] | None = None) -> RunRecord:
    return RunRecord(
        id=row["id"],
        profile=row["profile"],
        request=RunRequest.from_json(row["request"], profile=row["profile"]),
        state=RunState(row["state"]),
        verdict=row["verdict"],
        exit_code=row["exit_code"],
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        document=document,
        version=row["version"],
        trigger=row["trigger"],
        flaky_tests=tuple(row["flaky_tests"] or ()),
        tests_total=row["tests_total"],
        tests_passed=row["tests_passed"],
        duration_seconds=row["duration_seconds"],
        p95_ms=row["p95_ms"],
    )


def _schedule(row: Mapping[Any, Any]) -> ScheduleRecord:
    return ScheduleRecord(
        id=row["id"],
        profile=row["profile"],
        request=RunRequest.from_json(row["request"], profile=row["profile"]),
        every_seconds=row["every_seconds"],
        cron=row["cron"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        kind=row["kind"],
        created_at=row["created_at"],
    )


class RunStore:
    """The run history in one database; open it with :meth:`open`, end with :meth:`close`."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Wrap an engine whose database is at the newest schema (use :meth:`open`)."""
        self._engine = engine
        self._changes = 0

    @property
    def changes(self) -> int:
        """How many writes this store has committed: a page read at one count is current
        until it grows (writes of other processes to the same database do not count)."""
        return self._changes

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine (for tools and tests; the service goes through the methods)."""
        return self._engine

    @classmethod
    async def open(cls, url: str) -> RunStore:
        """Connect to ``url``, migrate it to the newest schema (Alembic ``upgrade head``).

        A SQLite file's directory is created if missing. Raises :class:`StoreError` for a bad
        URL or a database that cannot be reached or migrated.
        """
        target = database_url(url)
        shown = target.render_as_string(hide_password=True)
        options: dict[str, Any] = {}
        if target.get_backend_name() == "sqlite":
            Path(target.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        else:  # a database restarted under a running service: reconnect, do not fail once
            options = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}
        engine = create_async_engine(target, **options)
        if target.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        migrating = _MIGRATING.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        try:
            async with migrating, engine.begin() as connection:
                await connection.run_sync(upgrade_to_head)
        except (OSError, SQLAlchemyError) as error:
            await engine.dispose()
            reason = _one_line(error)
            raise StoreError(f"cannot open the run history at {shown}: {reason}") from None
        return cls(engine)

    async def close(self) -> None:
        """Close every connection."""
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        """``async with await RunStore.open(url) as store``: closed at the end."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the store."""
        await self.close()

    async def create(
        self,
        run_id: str,
        request: RunRequest,
        *,
        state: RunState = RunState.QUEUED,
        created_at: datetime,
        trigger: str = "api",
    ) -> RunRecord:
        """Store a new run (``trigger``: what started it); :class:`RunExistsError` if
        ``run_id`` is taken."""
        _aware(created_at, "created_at")
        values = {
            "id": run_id,
            "profile": request.profile,
            "request": request.as_json(),
            "state": RunState(state).value,
            "verdict": None,
            "exit_code": None,
            "error": None,
            "created_at": created_at,
            "started_at": None,
            "finished_at": None,
            "version": request.version,
            "trigger": trigger,
            "flaky_tests": None,
            **report_figures(None),
        }
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(Run).values(values))
        except IntegrityError:
            raise RunExistsError(f"run {run_id} exists already") from None
        self._changes += 1
        return _record({**values, "created_at": created_at.astimezone(UTC)})

    async def mark_running(self, run_id: str, started_at: datetime) -> None:
        """A queued run has started. A run no longer queued (cancelled, finished) is left alone."""
        _aware(started_at, "started_at")
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(Run)
                .where(Run.id == run_id, Run.state == RunState.QUEUED.value)
                .values(state=RunState.RUNNING.value, started_at=started_at)
            )
            if result.rowcount == 0:
                await self._require(connection, run_id)
        self._changes += 1

    async def finish(self, run_id: str, outcome: RunOutcome, finished_at: datetime) -> None:
        """A run has ended: its state, verdict, exit status, error line and report, the
        report's figures and the tests that flipped since the previous run of its profile and
        version (:mod:`.flaky`; only for runs that name a version).

        ``outcome.state`` must be a terminal state (ValueError otherwise). Finishing twice
        replaces the first outcome (the later one is what really happened).
        """
        _aware(finished_at, "finished_at")
        state = RunState(outcome.state)
        if state in UNFINISHED_STATES:
            raise ValueError(f"a run cannot finish in state {state.value!r}")
        async with self._engine.begin() as connection:
            run = (
                await connection.execute(
                    select(Run.profile, Run.version, Run.created_at).where(Run.id == run_id)
                )
            ).one_or_none()
            if run is None:
                raise RunNotFoundError(f"no run {run_id}")
            flaky: list[str] = []
            if run.version is not None and outcome.document is not None:
                previous = await connection.scalar(
                    select(RunReport.document)
                    .join(Run, Run.id == RunReport.run_id)
                    .where(
                        Run.profile == run.profile,
                        Run.version == run.version,
                        Run.id != run_id,
                        Run.created_at <= run.created_at,
                    )
                    .order_by(Run.created_at.desc(), Run.id.desc())
                    .limit(1)
                )
                flaky = flipped(previous, outcome.document)
            await connection.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(
                    state=state.value,
                    verdict=outcome.verdict,
                    exit_code=outcome.exit_code,
                    error=outcome.error,
                    finished_at=finished_at,
                    flaky_tests=flaky or None,
                    **report_figures(outcome.document),
                )
            )
            await connection.execute(delete(RunReport).where(RunReport.run_id == run_id))
            if outcome.document is not None:
                await connection.execute(
                    insert(RunReport).values(run_id=run_id, document=outcome.document)
                )
        self._changes += 1

    async def get(self, run_id: str) -> RunRecord | None:
        """The run with its JSON report, or None."""
        statement = (
            select(*_RUN_COLUMNS, RunReport.document)
            .outerjoin(RunReport, RunReport.run_id == Run.id)
            .where(Run.id == run_id)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
        return None if row is None else _record(row, row["document"])

    async def list(
        self,
        *,
        profile: str | None = None,
        verdict: str | None = None,
        state: RunState | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[RunRecord], int]:
        """One page of runs, newest first, and how many match in all; reports are not read.

        Filters combine with AND: ``profile``, ``verdict`` and ``state`` by equality, created
        at or after ``since`` and before ``until``. ``limit`` 0..:data:`MAX_LIMIT`, ``offset``
        from 0 (ValueError otherwise; an unknown ``state`` too).
        """
        if not 0 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 0 and {MAX_LIMIT}: {limit}")
        if offset < 0:
            raise ValueError(f"offset must be 0 or more: {offset}")
        _aware(since, "since")
        _aware(until, "until")
        conditions: list[ColumnElement[bool]] = []
        if profile is not None:
            conditions.append(Run.profile == profile)
        if verdict is not None:
            conditions.append(Run.verdict == verdict)
        if state is not None:
            conditions.append(Run.state == RunState(state).value)
        if since is not None:
            conditions.append(Run.created_at >= since)
        if until is not None:
            conditions.append(Run.created_at < until)
        page = (
            select(*_RUN_COLUMNS)
            .where(*conditions)
            .order_by(Run.created_at.desc(), Run.id.desc())
            .limit(limit)
            .offset(offset)
        )
        count = select(func.count()).select_from(Run).where(*conditions)
        async with self._engine.connect() as connection:
            total = (await connection.execute(count)).scalar_one()
            rows = (await connection.execute(page)).mappings().all()
        return [_record(row) for row in rows], total

    async def latest_verdicts(self) -> dict[str, RunRecord]:
        """Per profile, its last finished run that has a verdict (by finished time)."""
        # one indexed look per profile ((profile, finished_at, id)): a window over every run
        # reads the whole history (80 ms at 10,000 runs, against 4)
        profiles = select(Run.profile).distinct()
        last = (
            select(*_RUN_COLUMNS)
            .where(Run.finished_at.is_not(None), Run.verdict.is_not(None))
            .order_by(Run.finished_at.desc(), Run.id.desc())
            .limit(1)
        )
        latest: dict[str, RunRecord] = {}
        async with self._engine.connect() as connection:
            for profile in (await connection.execute(profiles)).scalars().all():
                row = (
                    (await connection.execute(last.where(Run.profile == profile)))
                    .mappings()
                    .one_or_none()
                )
                if row is not None:
                    latest[profile] = _record(row)
        return latest

    async def trend(
        self, profile: str | None = None, *, since: datetime | None = None, limit: int = 500
    ) -> builtins.list[RunRecord]:
        """Finished runs with a verdict, oldest first: the newest ``limit`` (1..MAX_LIMIT) of
        ``profile`` (all when None) finished at or after ``since``; reports are not read."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}: {limit}")
        _aware(since, "since")
        conditions: list[ColumnElement[bool]] = [Run.finished_at.is_not(None)]
        conditions.append(Run.verdict.is_not(None))
        if profile is not None:
            conditions.append(Run.profile == profile)
        if since is not None:
            conditions.append(Run.finished_at >= since)
        statement = (
            select(*_RUN_COLUMNS)
            .where(*conditions)
            .order_by(Run.finished_at.desc(), Run.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [_record(row) for row in reversed(rows)]

    async def counts_by_verdict(
        self, profile: str | None = None, *, since: datetime | None = None
    ) -> dict[str, int]:
        """How many runs ended with each verdict (of ``profile``, created since ``since``)."""
        _aware(since, "since")
        conditions: list[ColumnElement[bool]] = [Run.verdict.is_not(None)]
        if profile is not None:
            conditions.append(Run.profile == profile)
        if since is not None:
            conditions.append(Run.created_at >= since)
        statement = select(Run.verdict, func.count()).where(*conditions).group_by(Run.verdict)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return {str(verdict): int(count) for verdict, count in rows}

    async def add_schedule(self, record: ScheduleRecord) -> None:
        """Store a schedule; :class:`RunExistsError` if its ID is taken."""
        for moment, name in ((record.starts_at, "starts_at"), (record.ends_at, "ends_at")):
            _aware(moment, name)
        values = {
            "id": record.id,
            "profile": record.profile,
            "request": record.request.as_json(),
            "kind": record.kind,
            "every_seconds": record.every_seconds,
            "cron": record.cron,
            "starts_at": record.starts_at,
            "ends_at": record.ends_at,
            "created_at": record.created_at,
        }
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(Schedule).values(values))
        except IntegrityError:
            raise RunExistsError(f"schedule {record.id} exists already") from None

    async def list_schedules(self) -> builtins.list[ScheduleRecord]:
        """Every stored schedule, oldest first."""
        statement = select(*Schedule.__table__.columns).order_by(Schedule.created_at, Schedule.id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [_schedule(row) for row in rows]

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        """The schedule with this ID, or None."""
        statement = select(*Schedule.__table__.columns).where(Schedule.id == schedule_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement)).mappings().one_or_none()
        return None if row is None else _schedule(row)

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Delete a schedule; whether there was one."""
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(Schedule).where(Schedule.id == schedule_id))
        return bool(result.rowcount)

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: delete finished runs created before ``cutoff``, with their reports.

        Runs still queued or running are kept, however old. Returns how many runs went.
        """
        _aware(cutoff, "cutoff")
        old = (Run.created_at < cutoff, Run.state.not_in([s.value for s in UNFINISHED_STATES]))
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(RunReport).where(RunReport.run_id.in_(select(Run.id).where(*old)))
            )
            result = await connection.execute(delete(Run).where(*old))
        self._changes += 1
        return int(result.rowcount)

    async def mark_unfinished_crashed(self, error: str) -> int:
        """At service start: runs a dead service left queued or running become crashed.

        They get ``error`` (one line), verdict INVESTIGATE, no report, and now as their finish
        time. Returns how many there were.
        """
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(Run)
                .where(Run.state.in_([s.value for s in UNFINISHED_STATES]))
                .values(
                    state=RunState.CRASHED.value,
                    verdict=CRASHED_VERDICT,
                    error=error,
                    finished_at=datetime.now(UTC),
                )
            )
        self._changes += 1
        return int(result.rowcount)

    @staticmethod
    async def _require(connection: AsyncConnection, run_id: str) -> None:
        found = await connection.scalar(select(Run.id).where(Run.id == run_id))
        if found is None:
            raise RunNotFoundError(f"no run {run_id}")

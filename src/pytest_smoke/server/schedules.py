"""Recurring runs: schedules (every N minutes, or a cron expression) and watch windows.

A *schedule* runs a profile's request for ever, every ``every_seconds`` or at the times of a
5-field crontab expression (in UTC). A *watch* is a window after a deployment: every N minutes
for M hours, then it ends (:meth:`Schedules.watch`; a new watch of a profile replaces the one
it had, the version watched before is gone).

:class:`Schedules` keeps them in the history database (:class:`~.store.RunStore`'s schedule
table), so they survive a restart: :meth:`Schedules.start` re-adds every stored one to an
APScheduler 3 ``AsyncIOScheduler`` on the running event loop (its in-memory job store: the
database is the record) and drops the watches that ended meanwhile. Runs missed while the
service was down are not caught up: the next one is at the next slot.

Each run goes through the ``submit(request, trigger)`` callback (the service's
``RunService.start``; ``trigger`` is the kind, ``schedule`` or ``watch``); an identical run
still going is joined there. A failing submission is logged, never raised into the scheduler.
An interval schedule's first run is one interval after ``starts_at``, then one each interval
(anchored on ``starts_at``, so a restart keeps the rhythm); no run of a watch starts after its
``ends_at``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pytest_smoke.server import logs
from pytest_smoke.server.store import ScheduleRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from apscheduler.triggers.base import BaseTrigger

    from pytest_smoke.server.runs import RunRequest
    from pytest_smoke.server.store import RunStore

    #: ``submit(request, trigger)``: start (or join) a run; what the scheduler calls.
    Submit = Callable[[RunRequest, str], Awaitable[object]]

#: The kinds of schedule (and the run's ``trigger`` in the history).
SCHEDULE: Final = "schedule"
WATCH: Final = "watch"
#: The shortest interval: a service is not a load generator.
MIN_INTERVAL_SECONDS: Final = 1.0
#: The longest interval and watch window: a year.
MAX_SECONDS: Final = 366 * 24 * 3600.0
#: A run whose slot the loop reached this late (s) is still started; later ones are skipped.
MISFIRE_GRACE_SECONDS: Final = 60
#: How long :meth:`Schedules.shutdown` waits for submissions under way.
SHUTDOWN_WAIT: Final = 10.0


class ScheduleError(ValueError):
    """A schedule that cannot be: a bad interval, cron expression or window (one line)."""


def now() -> datetime:
    """The time now, in UTC."""
    return datetime.now(UTC)


def check_interval(every_seconds: float, name: str = "every_seconds") -> float:
    """``every_seconds`` if it is a usable interval; :class:`ScheduleError` (naming ``name``)
    otherwise."""
    if not MIN_INTERVAL_SECONDS <= every_seconds <= MAX_SECONDS:
        raise ScheduleError(f"{name}: an interval from 1 second to 366 days")
    return every_seconds


def check_window(every_seconds: float, for_seconds: float, name: str = "for_seconds") -> float:
    """``for_seconds`` if a watch window that long holds a run every ``every_seconds``."""
    if not every_seconds <= for_seconds <= MAX_SECONDS:
        raise ScheduleError(f"{name}: a window at least one interval long and at most 366 days")
    return for_seconds


#: crontab's weekday numbers (0 and 7: Sunday) as names: APScheduler 3 counts 0 as Monday.
_WEEKDAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _crontab_weekdays(field: str) -> str:
    """The weekday field of a crontab line as APScheduler 3 reads it: numbers become names
    (numeric ranges and steps are spelt out), names, ``*`` and the rest stay as they are."""
    parts = []
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        first, _, last = span.partition("-")
        if span == "*" and step is not None:
            numbers = range(0, 7, step)
        elif first.isdigit() and (last.isdigit() or not last) and (step is not None or last):
            end = int(last) if last else 6
            numbers = range(int(first), end + 1, step or 1)
        elif span.isdigit() and not step_text:
            numbers = range(int(span), int(span) + 1)
        else:
            parts.append(part)
            continue
        if not numbers or max(numbers) > 7:
            raise ScheduleError(f"cron: weekday {part!r}: 0-7 (0 and 7: Sunday) or sun-sat")
        parts.extend(_WEEKDAYS[number] for number in numbers)
    return ",".join(dict.fromkeys(parts))


def cron_trigger(expression: str) -> CronTrigger:
    """The trigger of a 5-field crontab expression (minute hour day month weekday), in UTC,
    weekdays numbered as crontab numbers them (0 and 7: Sunday); :class:`ScheduleError` with
    APScheduler's reason for a bad one."""
    text = " ".join(expression.split())
    fields = text.split(" ")
    try:
        if len(fields) == 5:  # else from_crontab says how many fields there should be
            fields[4] = _crontab_weekdays(fields[4])
        return CronTrigger.from_crontab(" ".join(fields), timezone=UTC)
    except ScheduleError:
        raise
    except ValueError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
        raise ScheduleError(f"cron: {text!r} is not a crontab expression: {reason}") from None


def trigger_of(record: ScheduleRecord) -> BaseTrigger:
    """The APScheduler trigger of ``record``: its interval or cron, bounded by its window."""
    if (record.every_seconds is None) == (record.cron is None):
        raise ScheduleError("a schedule has either an interval or a cron expression")
    if record.cron is not None:
        trigger = cron_trigger(record.cron)
        # CronTrigger.from_crontab takes no window; these are the attributes its
        # constructor sets from start_date/end_date, and get_next_fire_time reads
        trigger.start_date = record.starts_at
        trigger.end_date = record.ends_at
        return trigger
    every = check_interval(float(record.every_seconds or 0))
    # first run one interval after the start: the deployment's own gate ran at the start
    return IntervalTrigger(
        seconds=every,
        start_date=record.starts_at + timedelta(seconds=every),
        end_date=record.ends_at,
        timezone=UTC,
    )


def ended(record: ScheduleRecord, moment: datetime | None = None) -> bool:
    """Whether ``record``'s window is over (a schedule without an end never is)."""
    return record.ends_at is not None and (moment or now()) > record.ends_at


class Schedules:
    """The schedules and watches of one service process, stored and run on its event loop.

    ``await start()`` in the app's lifespan (it needs the running loop), ``await shutdown()``
    before the runs' service stops. Methods other than :meth:`next_run_at` need it started.
    """

    def __init__(self, store: RunStore, submit: Submit) -> None:
        """Schedules kept in ``store``, each run started with ``submit(request, kind)``."""
        self.store = store
        self._submit = submit
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,  # slots missed while the loop was busy: one run, not many
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        self._firing: set[asyncio.Task[Any]] = set()

    async def start(self) -> int:
        """Start the scheduler and re-add every stored schedule; how many there are.

        Watches whose window ended while the service was down are deleted; a stored schedule
        this version cannot run (a bad cron text) is logged and left out.
        """
        self._scheduler.start()
        count = 0
        for record in await self.store.list_schedules():
            if ended(record):
                await self.store.delete_schedule(record.id)
                logs.log.info("schedule ended", extra=_fields(record))
                continue
            try:
                self._add_job(record)
            except ScheduleError as error:
                logs.log.error(f"schedule left out: {error}", extra=_fields(record))
                continue
            count += 1
        logs.log.info("schedules started", extra={"schedules": count})
        return count

    async def shutdown(self) -> None:
        """Stop firing; wait (a bounded time) for the submissions under way."""
        if not self._scheduler.running:
            return
        self._scheduler.pause()
        if self._firing:
            await asyncio.wait(set(self._firing), timeout=SHUTDOWN_WAIT)
        self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a callback of the loop

    async def add(
        self,
        request: RunRequest,
        *,
        every_seconds: float | None = None,
        cron: str | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        kind: str = SCHEDULE,
    ) -> ScheduleRecord:
        """Store and start a schedule of ``request``: every ``every_seconds`` or by ``cron``.

        :class:`ScheduleError` (one line) for neither or both, a bad interval or cron
        expression, or a window that ends before it starts.
        """
        created = now()
        record = ScheduleRecord(
            id=uuid.uuid4().hex,
            profile=request.profile,
            request=request,
            every_seconds=None if every_seconds is None else float(every_seconds),
            cron=None if cron is None else " ".join(cron.split()),
            starts_at=starts_at or created,
            ends_at=ends_at,
            kind=kind,
            created_at=created,
        )
        if record.ends_at is not None and record.ends_at <= record.starts_at:
            raise ScheduleError("the window ends before it starts")
        trigger = trigger_of(record)  # validates before anything is stored
        # in a thread: a cron that matches no date (Feb 30) is searched up to year 9999
        if await asyncio.to_thread(trigger.get_next_fire_time, None, created) is None:
            if record.ends_at is None:
                raise ScheduleError(f"cron: no date matches {record.cron!r}")
            raise ScheduleError("no run would start in the window: make it longer")
        await self.store.add_schedule(record)
        self._add_job(record, trigger)
        logs.log.info("schedule added", extra=_fields(record))
        return record

    async def watch(
        self, request: RunRequest, *, every_seconds: float, for_seconds: float
    ) -> tuple[ScheduleRecord, list[str]]:
        """A watch window from now: ``request`` every ``every_seconds`` for ``for_seconds``.

        Replaces the profile's watches (their IDs are returned with the new one): a new
        deployment ends the watch of the one before.
        """
        check_window(check_interval(every_seconds), for_seconds)
        starts_at = now()
        replaced = [
            record.id
            for record in await self.store.list_schedules()
            if record.kind == WATCH and record.profile == request.profile
        ]
        record = await self.add(
            request,
            every_seconds=every_seconds,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(seconds=for_seconds),
            kind=WATCH,
        )
        for schedule_id in replaced:
            await self.delete(schedule_id)
        return record, replaced

    async def list(self) -> list[ScheduleRecord]:
        """The stored schedules, oldest first (ended watches are dropped on the way)."""
        records = []
        for record in await self.store.list_schedules():
            if ended(record):
                await self.delete(record.id)
            else:
                records.append(record)
        return records

    async def get(self, schedule_id: str) -> ScheduleRecord | None:
        """The stored schedule with this ID, or None."""
        return await self.store.get_schedule(schedule_id)

    async def delete(self, schedule_id: str) -> bool:
        """Stop and forget a schedule; whether there was one."""
        with contextlib.suppress(LookupError):  # JobLookupError: not scheduled (ended, left out)
            self._scheduler.remove_job(schedule_id)
        deleted = await self.store.delete_schedule(schedule_id)
        if deleted:
            logs.log.info("schedule deleted", extra={"schedule_id": schedule_id})
        return deleted

    def next_run_at(self, schedule_id: str) -> datetime | None:
        """When the schedule's next run starts, or None (ended, or not scheduled)."""
        job = self._scheduler.get_job(schedule_id)
        moment = getattr(job, "next_run_time", None)
        return moment if isinstance(moment, datetime) else None

    def _add_job(self, record: ScheduleRecord, trigger: BaseTrigger | None = None) -> None:
        self._scheduler.add_job(
            self._fire,
            trigger or trigger_of(record),
            args=(record,),
            id=record.id,
            name=f"{record.kind} {record.profile}",
            replace_existing=True,
        )

    async def _fire(self, record: ScheduleRecord) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._firing.add(task)
        try:
            if ended(record):  # a slot of the window reached late: the window is over
                await self.delete(record.id)
                return
            try:
                await self._submit(record.request, record.kind)
            except Exception as error:  # a deleted profile, the queue down: the next slot retries
                logs.log.error(
                    f"scheduled run not started: {type(error).__name__}: {_one_line(error)}",
                    extra=_fields(record),
                )
            else:
                logs.log.info("scheduled run submitted", extra=_fields(record))
            if self.next_run_at(record.id) is None:  # the window's last run
                await self.store.delete_schedule(record.id)
                logs.log.info("schedule ended", extra=_fields(record))
        finally:
            if task is not None:
                self._firing.discard(task)


def _fields(record: ScheduleRecord) -> dict[str, Any]:
    return {
        "schedule_id": record.id,
        "kind": record.kind,
        "profile": record.profile,
        "version": record.request.version,
    }


def _one_line(error: BaseException) -> str:
    detail = getattr(error, "detail", None)  # an HTTPException from the service: its line
    text = str(detail if detail is not None else error).strip()
    return text.splitlines()[0] if text else "no detail"

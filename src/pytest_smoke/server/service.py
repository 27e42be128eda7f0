"""Runs of one service process: :class:`RunService` submits each run to the executor, records
it in the history and follows it to its end (``started`` -> RUNNING, the outcome -> the history,
the metrics and the log), so an answer never depends on a client staying connected."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from fastapi import HTTPException, status

from pytest_smoke.server import logs, profiles
from pytest_smoke.server.api import RequestView, RunSummary, RunView, Submitted
from pytest_smoke.server.page_cache import PageCache
from pytest_smoke.server.runs import (
    TERMINAL,
    RunOutcome,
    RunRequest,
    RunState,
)

if TYPE_CHECKING:
    from pytest_smoke.server.incidents import IncidentTracker
    from pytest_smoke.server.metrics import ServiceMetrics
    from pytest_smoke.server.settings import ServerSettings
    from pytest_smoke.server.store import RunRecord, RunStore


def now() -> datetime:
    """The time now, in UTC, as the history keeps it."""
    return datetime.now(UTC)


#: How long ``DELETE /runs/{id}`` waits for the cancelled run to be recorded.
CANCEL_WAIT: Final = 30.0


class Handle(Protocol):
    """A submitted run, as :class:`~.executor.LocalExecutor` and the queue's give it."""

    @property
    def run_id(self) -> str: ...
    @property
    def started(self) -> asyncio.Event: ...
    @property
    def joined(self) -> bool: ...
    async def wait(self) -> RunOutcome: ...


class Executor(Protocol):
    """What runs the runs: :class:`~.executor.LocalExecutor` or :class:`~.queue.QueueExecutor`."""

    async def submit(self, run_id: str, request: RunRequest) -> Handle: ...
    async def cancel(self, run_id: str) -> bool: ...
    async def shutdown(self) -> None: ...


class RunService:
    """Runs of one service process: the executor's, recorded in the history and the metrics."""

    def __init__(
        self,
        settings: ServerSettings,
        store: RunStore,
        executor: Executor,
        metrics: ServiceMetrics,
        incidents: IncidentTracker | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.executor = executor
        self.metrics = metrics
        #: opens and resolves the profiles' incidents (:mod:`.incidents`); None: no alerts
        self.incidents = incidents
        #: ``GET /runs`` pages, encoded (:mod:`.page_cache`)
        self.pages = PageCache(settings.list_cache_seconds)
        self._lock = asyncio.Lock()
        self._followers: dict[str, asyncio.Task[None]] = {}

    @property
    def active(self) -> int:
        """Runs queued or running."""
        return len(self._followers)

    async def start(self, request: RunRequest, *, trigger: str = "api") -> Submitted:
        """Validate ``request`` and start it, or join the identical run already going;
        ``trigger`` is what asked for it (api, gate, schedule, watch), kept in the history.

        Raises :class:`RunRequestError` (one line) for a request that cannot run.
        """
        await profiles.check_runnable(request, self.settings.profiles_dir)
        # One submission at a time: a run is in the history before a request can join it.
        async with self._lock:
            run_id = uuid.uuid4().hex
            try:
                handle = await self.executor.submit(run_id, request)
            except Exception as error:  # the queue's Redis is down, say: the service goes on
                logs.log.exception("the executor refused a run", extra={"run_id": run_id})
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE,
                    f"the run cannot be started now ({type(error).__name__}); retry later",
                ) from None
            if handle.joined:
                record = await self.store.get(handle.run_id)
                state = record.state if record is not None else RunState.QUEUED
                logs.run_log(handle.run_id, "run joined", profile=request.profile)
                return Submitted(
                    id=handle.run_id, url=_url(handle.run_id), state=state, joined=True
                )
            try:
                await self.store.create(run_id, request, created_at=now(), trigger=trigger)
            except Exception as error:  # a run nobody could follow must not go on
                await self.executor.cancel(run_id)
                logs.log.exception("the run was not recorded", extra={"run_id": run_id})
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE,
                    f"the history cannot record the run ({type(error).__name__}); retry later",
                ) from None
            self._followers[run_id] = asyncio.create_task(self._follow(run_id, request, handle))
        logs.run_log(run_id, "run queued", profile=request.profile, request=request.as_json())
        state = RunState.RUNNING if handle.started.is_set() else RunState.QUEUED
        return Submitted(id=run_id, url=_url(run_id), state=state, joined=False)

    async def wait(self, run_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for run ``run_id`` to be recorded as ended; whether it was."""
        follower = self._followers.get(run_id)
        if follower is None:
            return True
        try:
            await asyncio.wait_for(asyncio.shield(follower), timeout)
        except TimeoutError:
            return False
        return True

    async def cancel(self, run_id: str) -> RunRecord:
        """Cancel run ``run_id``; the run as recorded then. 404 unknown, 409 already ended."""
        record = await self.store.get(run_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id}")
        if record.state in TERMINAL:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"run {run_id} has already ended ({record.state})"
            )
        cancelled = await self.executor.cancel(run_id)
        if not cancelled and run_id not in self._followers:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"run {run_id} is not running in this service"
            )
        logs.run_log(run_id, "run cancel asked", profile=record.profile)
        await self.wait(run_id, CANCEL_WAIT)
        ended = await self.store.get(run_id)
        assert ended is not None
        return ended

    async def shutdown(self) -> None:
        """Stop every run (the executor kills them) and record how they ended."""
        await self.executor.shutdown()
        followers = list(self._followers.values())
        if followers:
            await asyncio.wait(followers, timeout=CANCEL_WAIT)

    async def _follow(self, run_id: str, request: RunRequest, handle: Handle) -> None:
        try:
            try:
                outcome = await self._watch(run_id, handle)
            except Exception as error:  # the executor failed: the run is lost, not the service
                logs.log.exception("the executor failed a run", extra={"run_id": run_id})
                outcome = RunOutcome(
                    state=RunState.CRASHED,
                    exit_code=None,
                    document=None,
                    error=f"the service lost the run: {type(error).__name__}",
                )
            try:
                await self.store.finish(run_id, outcome, now())
            except Exception:
                logs.log.exception("the run's end was not recorded", extra={"run_id": run_id})
            else:
                await self._observe(run_id)
            self.metrics.record(request.profile, outcome.state.value, outcome.document)
            logs.run_log(
                run_id,
                "run ended",
                profile=request.profile,
                state=outcome.state.value,
                verdict=outcome.verdict,
                exit_code=outcome.exit_code,
                error=outcome.error,
            )
        finally:
            self._followers.pop(run_id, None)

    async def _observe(self, run_id: str) -> None:
        """Tell the incident tracker how the run ended (it alerts in the background)."""
        if self.incidents is None:
            return
        try:
            record = await self.store.get(run_id)  # with its report: reasons and causes
            if record is not None:
                await self.incidents.observe(record)
        except Exception:  # an alert never fails the run
            logs.log.exception("the run's incident state was not updated", extra={"run_id": run_id})

    async def _watch(self, run_id: str, handle: Handle) -> RunOutcome:
        started: asyncio.Future[Any] = asyncio.ensure_future(handle.started.wait())
        ended: asyncio.Future[Any] = asyncio.ensure_future(handle.wait())
        try:
            await asyncio.wait((started, ended), return_when=asyncio.FIRST_COMPLETED)
            if started.done():  # a run cancelled while queued never starts
                await self.store.mark_running(run_id, now())
                logs.run_log(run_id, "run started")
            outcome: RunOutcome = await ended
            return outcome
        finally:
            started.cancel()


def _url(run_id: str) -> str:
    return f"/runs/{run_id}"


def run_summary(record: RunRecord) -> RunSummary:
    """``record`` as ``GET /runs`` lists it."""
    return RunSummary(
        id=record.id,
        url=_url(record.id),
        profile=record.profile,
        request=RequestView(**record.request.as_json()),
        state=record.state,
        verdict=record.verdict,  # type: ignore[arg-type]  # the store keeps the report's
        exit_code=record.exit_code,
        error=record.error,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        trigger=record.trigger,
        flaky_tests=list(record.flaky_tests),
    )


def run_view(record: RunRecord) -> RunView:
    """``record`` as ``GET /runs/{id}`` shows it, with its report."""
    return RunView(**run_summary(record).model_dump(), report=record.document)

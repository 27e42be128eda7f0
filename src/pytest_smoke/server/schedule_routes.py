"""The service's schedule endpoints (a FastAPI router; :mod:`.schedules` does the work).

- ``POST /deployments {profile, version, every_minutes=5, for_hours=2, ...}``: watch a
  deployment, a run every N minutes for M hours (201, the watch; it replaces the profile's
  previous watch, whose IDs are in ``replaced``).
- ``POST /schedules {profile, every_minutes | cron, ...}``: a schedule without end (201).
- ``GET /schedules``, ``GET /schedules/{id}``: the schedules and watches, with their next run.
- ``DELETE /schedules/{id}``: stop one (200, what it was).

The request fields (``quick``, ``markers``, ``categories``, ``read_only``, ``version``) are those
of ``POST /runs`` and are checked as it checks them, when the schedule is made. Creating and
deleting need the bearer token, reading needs it unless ``read_auth`` is ``open``. Every error
is one line (422 for a bad interval, cron expression or request). The app keeps its
:class:`~.schedules.Schedules` in ``app.state.schedules``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field

from pytest_smoke.server import profiles
from pytest_smoke.server.api import RequestView, RunFields, error_responses
from pytest_smoke.server.auth import require_read_token, require_token
from pytest_smoke.server.runs import RunRequest, RunRequestError
from pytest_smoke.server.schedules import (
    ScheduleError,
    Schedules,
    check_interval,
    check_window,
    cron_trigger,
)

if TYPE_CHECKING:
    from pytest_smoke.server.store import ScheduleRecord

#: A watch's defaults: a run every 5 minutes for 2 hours after the deployment.
DEFAULT_EVERY_MINUTES: Final = 5.0
DEFAULT_FOR_HOURS: Final = 2.0

router = APIRouter(tags=["schedules"])


class DeploymentBody(RunFields):
    """``POST /deployments``: a deployment to watch."""

    version: str = Field(min_length=1, max_length=255, description="the version deployed")
    every_minutes: float = Field(
        DEFAULT_EVERY_MINUTES, description="minutes between runs (the first one after as many)"
    )
    for_hours: float = Field(DEFAULT_FOR_HOURS, description="hours the watch lasts")


class ScheduleBody(RunFields):
    """``POST /schedules``: a recurring run, every N minutes or by a cron expression (UTC)."""

    version: str | None = Field(None, min_length=1, max_length=255)
    every_minutes: float | None = Field(None, description="minutes between runs")
    cron: str | None = Field(
        None,
        max_length=255,
        description="5-field crontab expression, minute hour day month weekday, in UTC",
    )


class ScheduleView(BaseModel):
    """A schedule or a watch, and when its next run starts."""

    id: str
    url: str
    kind: str = Field(description="schedule, or watch (a window after a deployment)")
    profile: str
    request: RequestView
    every_minutes: float | None
    cron: str | None
    starts_at: datetime
    ends_at: datetime | None
    next_run_at: datetime | None
    created_at: datetime


class WatchView(ScheduleView):
    """A new watch, and the IDs of the watches of the profile it replaced."""

    replaced: list[str]


class ScheduleList(BaseModel):
    """The schedules and watches, oldest first."""

    schedules: list[ScheduleView]


async def _schedules(request: Request) -> Schedules:
    schedules: Schedules = request.app.state.schedules
    return schedules


ScheduleService = Annotated[Schedules, Depends(_schedules)]
ScheduleId = Annotated[str, Path(max_length=64)]


async def _checked(http: Request, run: RunRequest) -> RunRequest:
    """``run`` if it can run (``POST /runs``'s checks), else 422 with the one line."""
    try:
        await profiles.check_runnable(run, http.app.state.settings.profiles_dir)
    except RunRequestError as error:
        raise HTTPException(422, str(error)) from None
    return run


def _invalid(error: ScheduleError) -> HTTPException:
    return HTTPException(422, str(error))


def schedule_view(record: ScheduleRecord, schedules: Schedules) -> ScheduleView:
    """``record`` as the API shows it."""
    return ScheduleView(
        id=record.id,
        url=f"/schedules/{record.id}",
        kind=record.kind,
        profile=record.profile,
        request=RequestView(**record.request.as_json()),
        every_minutes=None if record.every_seconds is None else record.every_seconds / 60,
        cron=record.cron,
        starts_at=record.starts_at,
        ends_at=record.ends_at,
        next_run_at=schedules.next_run_at(record.id),
        created_at=record.created_at,
    )


@router.post(
    "/deployments",
    status_code=201,
    response_model=WatchView,
    responses=error_responses(401),
    dependencies=[Depends(require_token)],
    summary="Watch a deployment: a run every N minutes for M hours",
)
async def watch_deployment(
    body: DeploymentBody, http: Request, schedules: ScheduleService
) -> WatchView:
    try:
        every = check_interval(body.every_minutes * 60, "every_minutes")
        window = check_window(every, body.for_hours * 3600, "for_hours")
    except ScheduleError as error:
        raise _invalid(error) from None
    run = await _checked(http, body.run_request(body.version))
    try:
        record, replaced = await schedules.watch(run, every_seconds=every, for_seconds=window)
    except ScheduleError as error:
        raise _invalid(error) from None
    view = schedule_view(record, schedules)
    return WatchView(**view.model_dump(), replaced=replaced)


@router.post(
    "/schedules",
    status_code=201,
    response_model=ScheduleView,
    responses=error_responses(401),
    dependencies=[Depends(require_token)],
    summary="Run a profile every N minutes, or by a cron expression (UTC)",
)
async def add_schedule(
    body: ScheduleBody, http: Request, schedules: ScheduleService
) -> ScheduleView:
    if (body.every_minutes is None) == (body.cron is None):
        raise HTTPException(422, "give either every_minutes or cron")
    try:
        every = None
        if body.every_minutes is not None:
            every = check_interval(body.every_minutes * 60, "every_minutes")
        if body.cron is not None:
            cron_trigger(body.cron)
    except ScheduleError as error:
        raise _invalid(error) from None
    run = await _checked(http, body.run_request(body.version))
    try:
        record = await schedules.add(run, every_seconds=every, cron=body.cron)
    except ScheduleError as error:
        raise _invalid(error) from None
    return schedule_view(record, schedules)


@router.get(
    "/schedules",
    response_model=ScheduleList,
    responses=error_responses(401),
    dependencies=[Depends(require_read_token)],
    summary="The schedules and watches, with their next run",
)
async def list_schedules(schedules: ScheduleService) -> ScheduleList:
    records = await schedules.list()
    return ScheduleList(schedules=[schedule_view(record, schedules) for record in records])


@router.get(
    "/schedules/{schedule_id}",
    response_model=ScheduleView,
    responses=error_responses(401, 404),
    dependencies=[Depends(require_read_token)],
    summary="A schedule or watch",
)
async def get_schedule(schedule_id: ScheduleId, schedules: ScheduleService) -> ScheduleView:
    record = await schedules.get(schedule_id)
    if record is None:
        raise HTTPException(404, f"no schedule {schedule_id}")
    return schedule_view(record, schedules)


@router.delete(
    "/schedules/{schedule_id}",
    response_model=ScheduleView,
    responses=error_responses(401, 404),
    dependencies=[Depends(require_token)],
    summary="Stop a schedule or watch",
)
async def delete_schedule(schedule_id: ScheduleId, schedules: ScheduleService) -> ScheduleView:
    record = await schedules.get(schedule_id)
    if record is None or not await schedules.delete(schedule_id):
        raise HTTPException(404, f"no schedule {schedule_id}")
    view = schedule_view(record, schedules)
    return view.model_copy(update={"next_run_at": None})

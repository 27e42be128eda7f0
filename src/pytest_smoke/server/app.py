"""The service's HTTP API: :func:`create_app` builds the FastAPI app from :class:`ServerSettings`.

Endpoints (JSON; every error is ``{"detail": "one line"}``):

- ``POST /runs`` starts a run (202 ``{id, url, state, joined}``; a request identical to one
  already queued or running joins it); ``?wait=SECONDS`` answers when the run ends (200, the
  run) or when the wait is over (202, the state so far). ``GET /runs/{id}`` is the run with its
  JSON report; ``DELETE /runs/{id}`` cancels it; ``GET /runs`` lists runs, filtered and paged.
- ``POST /run-all`` and ``POST /test/{db,apis,secrets,metrics}`` (document 000's endpoints) run
  a profile (or one dependency category of it) and answer with the run when it ends.
- ``POST /flagger/{profile}``: a Flagger webhook; 200 on PROCEED or MONITOR, 412 otherwise, 504
  when the run outlives ``max_wait`` (it goes on). Flagger sends no custom headers, so the token
  may also come in the payload's ``metadata.token``.
- ``GET /profiles`` (masked), ``GET /metrics`` (Prometheus), ``GET /health`` (no token).

Starting and cancelling need the bearer token (:mod:`.auth`); reads too unless ``read_auth`` is
``open``. The app's lifespan opens the history (:class:`~.store.RunStore`), marks runs a dead
service left unfinished as crashed, starts the executor (local, or the Dramatiq queue when
``queue_url`` is set) and the retention task.

The models of its documents are in :mod:`.api`; :class:`.service.RunService` submits, records
and follows the runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pytest_smoke import __version__
from pytest_smoke.server import logs, profiles, schedule_routes
from pytest_smoke.server.alerts import Notifier
from pytest_smoke.server.api import (
    ErrorView,
    FlaggerPayload,
    GateAnswer,
    Health,
    ProfileBody,
    ProfileList,
    ProfileView,
    RunBody,
    RunPage,
    RunView,
    SettingView,
    Submitted,
    Verdict,
    error_responses,
)
from pytest_smoke.server.auth import (
    Credentials,
    check_bearer,
    require_read_token,
    require_token,
    token_matches,
    unauthorized,
)
from pytest_smoke.server.incidents import IncidentTracker
from pytest_smoke.server.metrics import CONTENT_TYPE, ServiceMetrics
from pytest_smoke.server.runs import (
    TERMINAL,
    TEST_ENDPOINT_CATEGORIES,
    RunRequest,
    RunRequestError,
    RunState,
)
from pytest_smoke.server.schedules import Schedules
from pytest_smoke.server.service import Executor, RunService, now, run_summary, run_view
from pytest_smoke.server.store import RunStore

if TYPE_CHECKING:
    import pathlib
    from collections.abc import AsyncIterator

    from pytest_smoke.server.settings import ServerSettings
    from pytest_smoke.server.store import RunRecord

#: Verdicts a gate lets through.
PASSING: Final = frozenset({"PROCEED", "MONITOR"})
#: What a run left queued or running by a service that stopped is marked with.
UNFINISHED_ERROR: Final = "the service stopped before the run ended"
#: How often old runs are deleted (``retention_days``).
RETENTION_INTERVAL: Final = 3600.0
#: Seconds the alerts under way may take at shutdown before they are given up.
ALERTS_SHUTDOWN_WAIT: Final = 10.0

# --- the app ------------------------------------------------------------------------------------


def _make_executor(settings: ServerSettings) -> Executor:
    if settings.queue_url is not None:
        from pytest_smoke.server.queue import QueueExecutor

        return QueueExecutor(
            settings.queue_url.get_secret_value(),
            profiles_dir=settings.profiles_dir,
            data_dir=settings.data_dir,
            max_concurrent=settings.max_concurrent,
            timeout=settings.run_timeout,
            namespace=settings.queue_namespace,
        )
    from pytest_smoke.server.executor import LocalExecutor

    return LocalExecutor(
        settings.profiles_dir,
        settings.data_dir,
        max_concurrent=settings.max_concurrent,
        timeout=settings.run_timeout,
    )


async def _retain(store: RunStore, data_dir: pathlib.Path, days: int) -> None:
    """Delete runs older than ``days``, and their directories, now and every hour."""
    from pytest_smoke.server.executor import remove_run_directories

    while True:
        cutoff = now() - timedelta(days=days)
        try:
            deleted = await store.delete_older_than(cutoff)
            await asyncio.to_thread(remove_run_directories, data_dir, cutoff.timestamp())
        except Exception:
            logs.log.exception("retention: old runs were not deleted")
        else:
            if deleted:
                logs.log.info("retention: old runs deleted", extra={"deleted": deleted})
        await asyncio.sleep(RETENTION_INTERVAL)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ServerSettings = app.state.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await RunStore.open(settings.history_url)
    retention: asyncio.Task[None] | None = None
    try:
        # the incidents as the last service left them: a run it left unfinished (crashed
        # below, INVESTIGATE) is not an incident it alerted on
        incidents = IncidentTracker(Notifier.from_settings(settings), settings.base_url)
        incidents.seed(await store.latest_verdicts())
        crashed = await store.mark_unfinished_crashed(UNFINISHED_ERROR)
        if crashed:
            logs.log.warning("runs left unfinished marked crashed", extra={"runs": crashed})
        metrics = ServiceMetrics()
        for profile, record in (await store.latest_verdicts()).items():
            if record.verdict is not None:
                metrics.last_verdict(profile, record.verdict)
        service = RunService(
            settings, store, _make_executor(settings), metrics, incidents=incidents
        )
        app.state.runs = service

        async def submit(request: RunRequest, trigger: str) -> None:
            await service.start(request, trigger=trigger)

        schedules = Schedules(store, submit)
        app.state.schedules = schedules
        if settings.retention_days:
            retention = asyncio.create_task(
                _retain(store, settings.data_dir, settings.retention_days)
            )
        logs.log.info(
            "service started",
            extra={
                "profiles_dir": str(settings.profiles_dir),
                "executor": "queue" if settings.queue_url else "local",
                "version": __version__,
            },
        )
        try:
            await schedules.start()
            yield
        finally:
            await schedules.shutdown()  # before the runs: no run starts while they stop
            await service.shutdown()
            await incidents.aclose(ALERTS_SHUTDOWN_WAIT)
    finally:
        if retention is not None:
            retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retention
        await store.close()


async def _runs(request: Request) -> RunService:
    # async: FastAPI runs a plain def dependency in a worker thread, a hop on every request
    service: RunService = request.app.state.runs
    return service


Runs = Annotated[RunService, Depends(_runs)]
ProfileQuery = Annotated[str | None, Query(min_length=1, max_length=255)]
Writer = Depends(require_token)
Reader = Depends(require_read_token)


def _one_line(error: RequestValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ()))
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def _dashboard_problem(request: Request, status_code: int, message: str) -> Response | None:
    """The dashboard's HTML page for an error of a ``/ui`` request (people, not programs,
    read those), or None for the API's JSON."""
    if not request.url.path.startswith("/ui") or not request.app.state.settings.dashboard:
        return None
    from pytest_smoke.server.dashboard import routes as dashboard_routes

    return dashboard_routes.problem_page(request, status_code, message)


def _install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        detail = " ".join(str(error.detail).split())
        page = _dashboard_problem(request, error.status_code, detail)
        if page is not None:
            return page
        return JSONResponse(
            {"detail": detail}, status_code=error.status_code, headers=error.headers
        )

    async def invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        detail = _one_line(error)
        page = _dashboard_problem(request, 422, detail)
        return page or JSONResponse({"detail": detail}, status_code=422)

    async def bad_run(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(RunRequestError, bad_run)


def create_app(settings: ServerSettings) -> FastAPI:
    """The service: its routes, its lifespan (history, executor, retention), its errors."""
    app = FastAPI(
        title="pytest-smoke-gate service",
        version=__version__,
        description="Smoke-test runs over HTTP, with the rollback gate's verdict.",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    _install_error_handlers(app)
    _add_run_routes(app)
    _add_sync_routes(app)
    _add_read_routes(app)
    app.include_router(schedule_routes.router)
    if settings.dashboard:
        from pytest_smoke.server.dashboard import routes as dashboard_routes

        app.include_router(dashboard_routes.router)
    return app


async def _answer(runs: RunService, submitted: Submitted, wait: float) -> JSONResponse:
    """200 with the run when it ends within ``wait`` s, else 202 with the state so far."""
    if await runs.wait(submitted.id, wait):
        record = await runs.store.get(submitted.id)
        if record is not None and record.state in TERMINAL:
            return JSONResponse(run_view(record).model_dump(mode="json"), status_code=200)
    record = await runs.store.get(submitted.id)
    state = record.state if record is not None else submitted.state
    late = submitted.model_copy(update={"state": state})
    return JSONResponse(late.model_dump(mode="json"), status_code=202)


def _add_run_routes(app: FastAPI) -> None:
    @app.post(
        "/runs",
        status_code=202,
        response_model=Submitted,
        responses={
            200: {"model": RunView, "description": "the run ended within ?wait"},
            **error_responses(401, 503),
        },
        dependencies=[Writer],
        summary="Start a run (or join the identical one already going)",
    )
    async def start_run(
        body: RunBody,
        runs: Runs,
        wait: Annotated[
            float | None,
            Query(ge=0, description="answer when the run ends, waiting up to this many seconds"),
        ] = None,
    ) -> JSONResponse:
        if wait is not None and wait > runs.settings.max_wait:
            raise HTTPException(
                422, f"wait: at most {runs.settings.max_wait:g} s (SMOKE_SERVER_MAX_WAIT)"
            )
        submitted = await runs.start(body.run_request(body.version))
        if wait is None:
            return JSONResponse(submitted.model_dump(mode="json"), status_code=202)
        return await _answer(runs, submitted, wait)

    @app.delete(
        "/runs/{run_id}",
        response_model=RunView,
        responses=error_responses(401, 404, 409),
        dependencies=[Writer],
        summary="Cancel a run",
    )
    async def cancel_run(run_id: Annotated[str, Path(max_length=64)], runs: Runs) -> RunView:
        return run_view(await runs.cancel(run_id))


async def _run_synchronously(runs: RunService, request: RunRequest) -> JSONResponse:
    submitted = await runs.start(request)
    return await _answer(runs, submitted, runs.settings.max_wait)


def _profile_of(body: ProfileBody | None, profile: str | None) -> str:
    name = (body.profile if body is not None else None) or profile
    if not name:
        raise HTTPException(422, 'profile: give {"profile": NAME} or ?profile=NAME')
    return name


def _add_sync_routes(app: FastAPI) -> None:
    synchronous: dict[int | str, dict[str, Any]] = {
        202: {"model": Submitted, "description": "the run outlived SMOKE_SERVER_MAX_WAIT"},
        **error_responses(401, 503),
    }

    @app.post(
        "/run-all",
        response_model=RunView,
        responses=synchronous,
        dependencies=[Writer],
        summary="Run a profile's whole suite; answer when it ends",
    )
    async def run_all(
        runs: Runs, body: ProfileBody | None = None, profile: ProfileQuery = None
    ) -> JSONResponse:
        request = RunRequest(profile=_profile_of(body, profile))
        return await _run_synchronously(runs, request)

    def category_route(endpoint: str, categories: tuple[str, ...]) -> None:
        @app.post(
            f"/test/{endpoint}",
            response_model=RunView,
            responses=synchronous,
            dependencies=[Writer],
            summary=f"Run the {', '.join(categories)} tests of a profile; answer when it ends",
            name=f"test_{endpoint}",
        )
        async def run_category(
            runs: Runs, body: ProfileBody | None = None, profile: ProfileQuery = None
        ) -> JSONResponse:
            request = RunRequest(profile=_profile_of(body, profile), categories=categories)
            return await _run_synchronously(runs, request)

    for endpoint, categories in TEST_ENDPOINT_CATEGORIES.items():
        category_route(endpoint, tuple(categories))

    @app.post(
        "/flagger/{profile}",
        response_model=GateAnswer,
        responses={
            412: {"model": GateAnswer, "description": "ROLLBACK, INVESTIGATE or cancelled"},
            504: {"model": ErrorView, "description": "the run outlived SMOKE_SERVER_MAX_WAIT"},
            **error_responses(401, 503),
        },
        summary="Flagger webhook: 200 on PROCEED or MONITOR, 412 otherwise",
    )
    async def flagger(
        profile: Annotated[str, Path(min_length=1, max_length=255)],
        payload: FlaggerPayload,
        runs: Runs,
        credentials: Credentials,
    ) -> JSONResponse:
        token = runs.settings.token
        if credentials is None and "token" in payload.metadata:
            if not token_matches(payload.metadata["token"], token):
                raise unauthorized("metadata.token is not the service's token")
        else:
            check_bearer(credentials, token)
        request = _flagger_request(profile, payload.metadata)
        submitted = await runs.start(request, trigger="gate")
        if not await runs.wait(submitted.id, runs.settings.max_wait):
            raise HTTPException(
                504,
                f"run {submitted.id} still running after {runs.settings.max_wait:g} s; "
                f"see {submitted.url}",
            )
        record = await runs.store.get(submitted.id)
        assert record is not None
        return _gate_answer(record)


def _flagger_request(profile: str, metadata: dict[str, str]) -> RunRequest:
    quick = metadata.get("quick", "").strip().lower()
    if quick not in ("", "true", "false", "1", "0", "yes", "no"):
        raise HTTPException(422, "metadata.quick: expected true or false")
    categories = tuple(
        part.strip() for part in metadata.get("categories", "").split(",") if part.strip()
    )
    version = metadata.get("version", "").strip()[:255] or None
    return RunRequest(
        profile=profile,
        quick=quick in ("true", "1", "yes"),
        categories=categories,
        version=version,
    )


def _gate_answer(record: RunRecord) -> JSONResponse:
    view = run_view(record)
    document = record.document or {}
    reasons = [str(reason) for reason in document.get("reasons") or ()]
    if record.verdict in PASSING:
        answer = GateAnswer(verdict=view.verdict, reasons=reasons, run=view)
        return JSONResponse(answer.model_dump(mode="json"), status_code=200)
    if record.verdict is None:
        detail = f"run {record.id} {record.state}" + (f": {record.error}" if record.error else "")
    else:
        detail = f"{record.verdict}: {'; '.join(reasons) or 'no reason given'}"
    answer = GateAnswer(detail=detail, verdict=view.verdict, reasons=reasons, run=view)
    return JSONResponse(answer.model_dump(mode="json"), status_code=412)


def _next_page(filters: dict[str, Any], limit: int, offset: int, total: int) -> str | None:
    if offset + limit >= total:
        return None
    query = {key: value for key, value in filters.items() if value is not None}
    query.update(limit=limit, offset=offset + limit)
    return "/runs?" + urlencode(
        {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in query.items()
        }
    )


def _aware(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _add_read_routes(app: FastAPI) -> None:
    @app.get(
        "/runs/{run_id}",
        response_model=RunView,
        responses=error_responses(401, 404),
        dependencies=[Reader],
        summary="A run, with its JSON report when it is done",
    )
    async def get_run(run_id: Annotated[str, Path(max_length=64)], runs: Runs) -> RunView:
        record = await runs.store.get(run_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id}")
        return run_view(record)

    @app.get(
        "/runs",
        response_model=RunPage,
        responses=error_responses(401),
        dependencies=[Reader],
        summary="Runs, newest first, filtered and paged",
    )
    async def list_runs(
        *,
        runs: Runs,
        profile: Annotated[str | None, Query(max_length=255)] = None,
        verdict: Verdict | None = None,
        state: RunState | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> Response:
        since, until = _aware(since), _aware(until)
        filters = {
            "profile": profile,
            "verdict": verdict,
            "state": state.value if state is not None else None,
            "since": since,
            "until": until,
        }

        async def encoded_page() -> bytes:
            records, total = await runs.store.list(
                profile=profile,
                verdict=verdict,
                state=state,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )
            page = RunPage(
                runs=[run_summary(record) for record in records],
                total=total,
                limit=limit,
                offset=offset,
                next=_next_page(filters, limit, offset, total),
            )
            return page.model_dump_json().encode()

        key = (runs.store.changes, *filters.values(), limit, offset)
        return Response(await runs.pages.page(key, encoded_page), media_type="application/json")

    @app.get(
        "/profiles",
        response_model=ProfileList,
        responses=error_responses(401),
        dependencies=[Reader],
        summary="The profiles the service runs, secrets masked",
    )
    async def list_profiles(runs: Runs) -> ProfileList:
        views = await asyncio.to_thread(profiles.describe_all, runs.settings.profiles_dir)
        return ProfileList(
            profiles=[
                ProfileView(
                    name=view.name,
                    file=view.file,
                    settings=None
                    if view.settings is None
                    else [SettingView(**dataclasses.asdict(row)) for row in view.settings],
                    error=view.error,
                )
                for view in views
            ]
        )

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            # Not error_responses(): its model would be declared as text/plain, this route's type.
            401: {
                "description": "no token, or not the service's",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorView"}}
                },
            },
        },
        dependencies=[Reader],
        summary="Prometheus metrics",
    )
    async def metrics(runs: Runs) -> PlainTextResponse:
        return PlainTextResponse(runs.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/health", response_model=Health, summary="The service itself (no token)")
    async def health(runs: Runs) -> Health:
        return Health(
            status="ok",
            version=__version__,
            executor="queue" if runs.settings.queue_url is not None else "local",
            active_runs=runs.active,
        )

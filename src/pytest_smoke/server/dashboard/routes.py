"""The dashboard's pages under ``/ui``: a FastAPI router the app includes.

- ``GET /ui``: every profile's last verdict at a glance (worst first), its recent runs, the
  runs going now and the last 24 hours' verdict counts.
- ``GET /ui/profiles/{profile}``: a profile's trends (pass rate, duration, p95 latency) over
  24 h, 7 d or 30 d, its verdict counts, flaky tests and last runs; the "run now" button.
- ``GET /ui/runs``: the history, filtered by profile, verdict and time, 50 a page.
- ``GET /ui/runs/{id}``: a run: reasons, causes, failing tests, request percentiles, warnings,
  flaky tests (reloads itself while the run goes on).
- ``GET/POST /ui/login``, ``POST /ui/logout``; ``POST /ui/profiles/{profile}/run`` starts a
  run (:meth:`RunService.start`, trigger ``dashboard``) for a signed-in user, with a CSRF token.
- ``GET /ui/static/{name}``: the stylesheet and script, from the package (no CDN).

Pages need a sign-in unless ``read_auth`` is ``open`` (:mod:`.access`); a page that cannot be
shown is an HTML page with one line, never JSON.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Final
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pytest_smoke.server import logs, profiles
from pytest_smoke.server.auth import token_matches
from pytest_smoke.server.dashboard import access, charts, views
from pytest_smoke.server.runs import TERMINAL, RunRequest, RunRequestError, RunState

if TYPE_CHECKING:
    import jinja2

    from pytest_smoke.server.service import RunService
    from pytest_smoke.server.settings import ServerSettings

#: Runs a history page shows.
PAGE_SIZE: Final = 50
#: Runs a profile card shows (its sparkline and verdict strip).
CARD_RUNS: Final = 30
#: Runs drawn on a profile's charts at most.
TREND_RUNS: Final = 500
#: Seconds between reloads of the overview (a screen left open) and of a run going on.
OVERVIEW_REFRESH: Final = 30
RUN_REFRESH: Final = 5
#: The files under static/ the router serves, and their media types.
STATIC_FILES: Final = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
#: Every page: nothing from another origin, no inline script, not in a frame.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix="/ui", include_in_schema=False)


# --- rendering ----------------------------------------------------------------------------------


@functools.cache
def _static(name: str) -> tuple[bytes, str]:
    """A static file's bytes and a short hash of them (its URL's version)."""
    data = resources.files("pytest_smoke.server.dashboard").joinpath("static", name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


def _static_url(name: str) -> str:
    return f"/ui/static/{name}?v={_static(name)[1]}"


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_smoke.server.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        ago=views.ago,
        utc=views.utc,
        seconds=views.seconds_text,
        ms=views.ms_text,
        percent=views.percent_text,
        vclass=charts.verdict_class,
        glyph=lambda verdict: views.VERDICT_GLYPHS.get(verdict or "", "·"),
        meaning=lambda verdict: views.VERDICT_MEANINGS.get(verdict or "", "no verdict"),
        pass_rate=views.pass_rate,
        urlpart=lambda text: quote(str(text), safe=""),
    )
    environment.globals.update(
        static=_static_url, verdicts=views.VERDICTS, line_chart=charts.line_chart
    )
    return environment


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def _runs(request: Request) -> RunService:
    service: RunService = request.app.state.runs
    return service


def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    settings = _settings(request)
    csrf = access.csrf_token(request)
    html = (
        _environment()
        .get_template(template)
        .render(
            **context,
            csrf=csrf,
            signed_in=access.signed_in(request, settings),
            login_needed=settings.read_auth != "open",
            path=request.url.path,
            now=datetime.now(UTC),
        )
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    access.keep_csrf(response, request, csrf)
    return response


def problem_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """The dashboard's page for an error: its status and one line (the app's error handlers
    answer ``/ui`` requests with it, not with JSON)."""
    return _page(request, "problem.html", {"status": status_code, "message": message}, status_code)


def _expired_form(request: Request) -> HTMLResponse:
    """The answer to a form whose CSRF token does not match (an old page, another tab)."""
    return problem_page(request, 403, "the form has expired: reload the page and try again")


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status_code=303)


# --- pages --------------------------------------------------------------------------------------


async def _profile_names(settings: ServerSettings) -> list[str]:
    try:
        return await asyncio.to_thread(profiles.profile_names, settings.profiles_dir)
    except OSError:  # the directory went away: the history still shows
        return []


@router.get("", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    """Every profile's last verdict, worst first, with its recent runs."""
    settings = _settings(request)
    if not access.may_read(request, settings):
        return _to_login(request)
    store = _runs(request).store
    names, latest = await asyncio.gather(_profile_names(settings), store.latest_verdicts())
    since = datetime.now(UTC) - views.RANGES["24h"]
    every = sorted(set(names) | set(latest))
    recent = await asyncio.gather(*(store.trend(name, limit=CARD_RUNS) for name in every))
    counts = await store.counts_by_verdict(since=since)
    going, _ = await store.list(state=RunState.RUNNING, limit=20)
    queued, _ = await store.list(state=RunState.QUEUED, limit=20)
    cards = [
        views.ProfileCard(name=name, latest=latest.get(name), recent=runs, runnable=name in names)
        for name, runs in zip(every, recent, strict=True)
    ]
    cards.sort(key=lambda card: (views.severity(card), card.name))
    return _page(
        request,
        "overview.html",
        {
            "cards": cards,
            "counts": counts,
            "counted": sum(counts.values()),
            "going": going + queued,
            "refresh": OVERVIEW_REFRESH,
            "sparkline": charts.sparkline,
            "strip": charts.verdict_strip,
            "points": views.points,
        },
    )


def _since_for(range_name: str) -> tuple[str, datetime]:
    name = range_name if range_name in views.RANGES else views.DEFAULT_RANGE
    return name, datetime.now(UTC) - views.RANGES[name]


@router.get("/profiles/{profile}", response_class=HTMLResponse)
async def profile_page(request: Request, profile: str, range: str = "7d") -> Response:
    """A profile's trends, counts, flaky tests and last runs; its "run now" button."""
    settings = _settings(request)
    if not access.may_read(request, settings):
        return _to_login(request)
    store = _runs(request).store
    range_name, since = _since_for(range)
    names, trend, counts, (recent, total) = await asyncio.gather(
        _profile_names(settings),
        store.trend(profile, since=since, limit=TREND_RUNS),
        store.counts_by_verdict(profile, since=since),
        store.list(profile=profile, limit=15),
    )
    if not recent and profile not in names:
        return problem_page(request, 404, f"no profile {profile!r} and no runs of it")
    latest = trend[-1] if trend else (await store.latest_verdicts()).get(profile)
    return _page(
        request,
        "profile.html",
        {
            "profile": profile,
            "latest": latest,
            "runnable": profile in names,
            "range_name": range_name,
            "ranges": list(views.RANGES),
            "trend": trend,
            "counts": counts,
            "counted": sum(counts.values()),
            "recent": recent,
            "total": total,
            "flaky": views.flaky_counts(trend),
            "charts": {
                "rate": charts.line_chart(
                    views.points(trend, "pass_rate"),
                    label="Pass rate",
                    unit="%",
                    y_max=100,
                    formatter=lambda value: f"{value:.0f} %",
                ),
                "duration": charts.line_chart(
                    views.points(trend, "duration_seconds"),
                    label="Duration",
                    unit="s",
                    formatter=views.seconds_text,
                ),
                "p95": charts.line_chart(
                    views.points(trend, "p95_ms"),
                    label="p95 latency",
                    unit="ms",
                    formatter=views.ms_text,
                ),
            },
            "strip": charts.verdict_strip(views.points(trend, "duration_seconds")),
            "default_version": latest.version if latest is not None else None,
        },
    )


def _moment(text: str | None) -> datetime | None:
    """A filter's time (``datetime-local`` or ISO 8601); UTC when it names no zone."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.get("/runs", response_class=HTMLResponse)
async def history(
    request: Request,
    *,
    profile: str = "",
    verdict: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
) -> Response:
    """The runs, newest first, filtered and paged."""
    settings = _settings(request)
    if not access.may_read(request, settings):
        return _to_login(request)
    problems = []
    if verdict and verdict not in views.VERDICTS:
        problems.append(f"verdict: one of {', '.join(views.VERDICTS)}")
        verdict = ""
    moments: dict[str, datetime | None] = {}
    for name, text in (("since", since), ("until", until)):
        try:
            moments[name] = _moment(text)
        except ValueError:
            problems.append(f"{name}: not a time (YYYY-MM-DDTHH:MM, UTC)")
            moments[name] = None
    page = max(1, min(page, 1_000_000))
    store = _runs(request).store
    names, latest, (records, total) = await asyncio.gather(
        _profile_names(settings),
        store.latest_verdicts(),
        store.list(
            profile=profile or None,
            verdict=verdict or None,
            since=moments["since"],
            until=moments["until"],
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        ),
    )
    filters = {"profile": profile, "verdict": verdict, "since": since, "until": until}
    query = {key: value for key, value in filters.items() if value}
    pages = max(1, -(-total // PAGE_SIZE))
    return _page(
        request,
        "runs.html",
        {
            "records": records,
            "total": total,
            "page": page,
            "pages": pages,
            "first": (page - 1) * PAGE_SIZE + 1 if records else 0,
            "last": (page - 1) * PAGE_SIZE + len(records),
            "filters": filters,
            "profiles": sorted(set(names) | set(latest) | ({profile} if profile else set())),
            "problems": problems,
            "page_url": lambda number: "/ui/runs?" + urlencode({**query, "page": number}),
        },
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str) -> Response:
    """A run, with what its report says."""
    settings = _settings(request)
    if not access.may_read(request, settings):
        return _to_login(request)
    if len(run_id) > 64:
        return problem_page(request, 404, "no such run")
    record = await _runs(request).store.get(run_id)
    if record is None:
        return problem_page(request, 404, f"no run {run_id}")
    going = record.state not in TERMINAL
    return _page(
        request,
        "run.html",
        {
            "run": record,
            "detail": views.run_detail(record.document),
            "going": going,
            "refresh": RUN_REFRESH if going else None,
        },
    )


# --- signing in and starting runs ---------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/ui") -> Response:
    """The sign-in form: the service's token."""
    return _page(request, "login.html", {"next": access.safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    token: Annotated[str, Form(max_length=4096)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/ui",
) -> Response:
    """Check the token; put it in the HttpOnly cookie and go where the user was going."""
    target = access.safe_next(next)
    if not access.csrf_valid(request, csrf):
        return _expired_form(request)
    if not token_matches(token.strip(), _settings(request).token):
        logs.log.warning("dashboard sign-in refused")
        page = _page(
            request, "login.html", {"next": target, "error": "that is not the service's token"}
        )
        page.status_code = 401
        return page
    response = RedirectResponse(target, status_code=303)
    access.sign_in(response, request, token.strip())
    logs.log.info("dashboard sign-in")
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
    """Forget the token cookie."""
    if not access.csrf_valid(request, csrf):
        return _expired_form(request)
    response = RedirectResponse("/ui/login", status_code=303)
    access.sign_out(response, request)
    return response


@router.post("/profiles/{profile}/run")
async def run_now(
    request: Request,
    profile: str,
    csrf: Annotated[str, Form(max_length=256)] = "",
    quick: Annotated[bool, Form()] = False,
    version: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    """Start a run of ``profile`` (or join the identical one going); go to its page."""
    if not access.signed_in(request, _settings(request)):
        return _to_login(request)
    if not access.csrf_valid(request, csrf):
        return _expired_form(request)
    run_request = RunRequest(profile=profile, quick=quick, version=version.strip() or None)
    try:
        submitted = await _runs(request).start(run_request, trigger="dashboard")
    except RunRequestError as error:
        return problem_page(request, 422, str(error))
    except HTTPException as error:  # 503: the executor or the history cannot take it now
        return problem_page(request, error.status_code, str(error.detail))
    logs.run_log(submitted.id, "run asked from the dashboard", profile=profile)
    return RedirectResponse(f"/ui/runs/{submitted.id}", status_code=303)


# --- static files -------------------------------------------------------------------------------


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The dashboard's stylesheet and script (cached for a year: their URLs carry a hash)."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return Response("not found\n", status_code=404, media_type="text/plain")
    data, _ = _static(name)
    return Response(
        data,
        media_type=media_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )

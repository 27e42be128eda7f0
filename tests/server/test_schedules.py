"""Schedules and watch windows (:mod:`pytest_smoke.server.schedules` and its routes).

The scheduler is the real one (APScheduler's ``AsyncIOScheduler``) over a real SQLite history;
what it starts goes to a recording ``submit`` callback here (the service wires
``RunService.start`` in its place), so the tests count runs to the second without starting
pytest processes. The endpoints are tested on an app made of the router, the store and the
scheduler, served by uvicorn on 127.0.0.1; "survives a restart" is two such apps,
one after the other, on one SQLite file. The last test is the service itself
(``smoke-gate serve``): a schedule fires a run that the history records as ``schedule``, and
is still there after the service restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import pytest

pytest.importorskip("apscheduler", reason="schedules need the server extra (APScheduler)")
pytest.importorskip("fastapi", reason="the service needs the server extra")

from pytest_smoke.server.runs import RunRequest
from pytest_smoke.server.schedules import (
    SCHEDULE,
    WATCH,
    ScheduleError,
    Schedules,
    cron_trigger,
)
from pytest_smoke.server.store import RunStore, ScheduleRecord

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    import httpx
    from fastapi import FastAPI

TOKEN: Final = "schedules-test-token-5b1e9c"
#: Slack for a loaded 2-core machine: a slot's run may start this late (s).
LATE: Final = 1.5


@dataclass
class Recorder:
    """The ``submit`` callback: what was submitted, when."""

    calls: list[tuple[RunRequest, str, datetime]] = field(default_factory=list)
    fail: Exception | None = None

    async def __call__(self, request: RunRequest, trigger: str) -> None:
        self.calls.append((request, trigger, datetime.now(UTC)))
        if self.fail is not None:
            raise self.fail

    async def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{len(self.calls)} runs submitted in {timeout} s, not {count}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def started(url: str, recorder: Recorder) -> AsyncIterator[Schedules]:
    """A store on ``url`` and its schedules, started; shut down and closed after."""
    store = await RunStore.open(url)
    schedules = Schedules(store, recorder)
    try:
        await schedules.start()
        yield schedules
    finally:
        await schedules.shutdown()
        await store.close()


# --- the scheduler ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_interval_schedule_fires_every_interval(sqlite_url: str) -> None:
    recorder = Recorder()
    request = RunRequest("staging", quick=True, version="1.4.2")
    async with started(sqlite_url, recorder) as schedules:
        record = await schedules.add(request, every_seconds=1)
        assert record.kind == SCHEDULE
        assert record.ends_at is None
        assert await schedules.store.get_schedule(record.id) == record
        await recorder.wait_for(2, timeout=2 + 2 * LATE)
    first, second = recorder.calls[:2]
    assert first[:2] == (request, SCHEDULE)
    assert second[:2] == (request, SCHEDULE)
    # the first one interval after the start, then each interval
    assert first[2] >= record.starts_at + timedelta(seconds=1)
    assert 0.5 <= (second[2] - first[2]).total_seconds() <= 1 + LATE


@pytest.mark.asyncio
async def test_a_watch_window_stops_on_time(sqlite_url: str) -> None:
    recorder = Recorder()
    request = RunRequest("staging", version="2.0.0")
    async with started(sqlite_url, recorder) as schedules:
        record, replaced = await schedules.watch(request, every_seconds=1, for_seconds=3)
        assert replaced == []
        assert record.kind == WATCH
        assert record.ends_at == record.starts_at + timedelta(seconds=3)
        assert schedules.next_run_at(record.id) == record.starts_at + timedelta(seconds=1)
        assert record.ends_at is not None
        await asyncio.sleep((record.ends_at - datetime.now(UTC)).total_seconds() + LATE + 1)
        # runs at +1, +2, +3 s (a loaded machine may coalesce two): none after the end
        assert 2 <= len(recorder.calls) <= 3
        assert all(trigger == WATCH for _, trigger, _ in recorder.calls)
        assert all(moment <= record.ends_at for *_, moment in recorder.calls)
        # an ended watch is gone: not scheduled, not stored
        assert schedules.next_run_at(record.id) is None
        assert await schedules.store.get_schedule(record.id) is None
        assert await schedules.list() == []


@pytest.mark.asyncio
async def test_schedules_survive_a_restart(sqlite_url: str) -> None:
    request = RunRequest("staging", markers="critical or api")
    async with started(sqlite_url, Recorder()) as schedules:
        every = await schedules.add(request, every_seconds=1)
        cron = await schedules.add(RunRequest("production"), cron="*/15  3 * * 1-5")
        every_next = schedules.next_run_at(every.id)
    # a new store and scheduler on the same file: what a restarted service does
    recorder = Recorder()
    async with started(sqlite_url, recorder) as schedules:
        assert [record.id for record in await schedules.list()] == [every.id, cron.id]
        assert await schedules.get(cron.id) == cron
        assert cron.cron == "*/15 3 * * 1-5"
        next_cron = schedules.next_run_at(cron.id)
        assert next_cron is not None
        assert next_cron.hour == 3
        assert next_cron.minute % 15 == 0
        assert next_cron.weekday() < 5
        # the interval keeps its rhythm: slots are starts_at + k seconds
        assert every_next is not None
        next_every = schedules.next_run_at(every.id)
        assert next_every is not None
        assert (next_every - every.starts_at).total_seconds() % 1 == pytest.approx(0, abs=1e-3)
        await recorder.wait_for(1, timeout=1 + LATE)
        assert recorder.calls[0][:2] == (request, SCHEDULE)


@pytest.mark.asyncio
async def test_a_watch_that_ended_while_the_service_was_down_is_dropped(sqlite_url: str) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    gone = ScheduleRecord(
        id="ended-watch",
        profile="staging",
        request=RunRequest("staging", version="0.9"),
        every_seconds=300.0,
        cron=None,
        starts_at=long_ago,
        ends_at=long_ago + timedelta(hours=2),
        kind=WATCH,
        created_at=long_ago,
    )
    store = await RunStore.open(sqlite_url)
    await store.add_schedule(gone)
    await store.close()
    recorder = Recorder()
    async with started(sqlite_url, recorder) as schedules:
        assert await schedules.store.list_schedules() == []
        assert schedules.next_run_at(gone.id) is None
    assert recorder.calls == []


@pytest.mark.asyncio
async def test_a_new_watch_of_a_profile_replaces_its_previous_one(sqlite_url: str) -> None:
    async with started(sqlite_url, Recorder()) as schedules:
        old, _ = await schedules.watch(
            RunRequest("staging", version="1"), every_seconds=300, for_seconds=7200
        )
        other, _ = await schedules.watch(
            RunRequest("production", version="1"), every_seconds=300, for_seconds=7200
        )
        kept = await schedules.add(RunRequest("staging"), every_seconds=600)
        new, replaced = await schedules.watch(
            RunRequest("staging", version="2"), every_seconds=300, for_seconds=7200
        )
        assert replaced == [old.id]
        assert schedules.next_run_at(old.id) is None
        ids = {record.id for record in await schedules.list()}
        assert ids == {other.id, kept.id, new.id}


@pytest.mark.asyncio
async def test_a_failing_submission_is_logged_and_the_schedule_goes_on(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(fail=RuntimeError("the queue is down\nsecond line"))
    caplog.set_level(logging.INFO, logger="pytest_smoke.server")
    async with started(sqlite_url, recorder) as schedules:
        record = await schedules.add(RunRequest("staging"), every_seconds=1)
        await recorder.wait_for(2, timeout=2 + 2 * LATE)
        assert schedules.next_run_at(record.id) is not None
    failures = [r for r in caplog.records if r.message.startswith("scheduled run not started")]
    assert failures
    assert failures[0].message == "scheduled run not started: RuntimeError: the queue is down"
    assert failures[0].__dict__["schedule_id"] == record.id


@pytest.mark.asyncio
async def test_deleting_a_schedule_stops_it(sqlite_url: str) -> None:
    recorder = Recorder()
    async with started(sqlite_url, recorder) as schedules:
        record = await schedules.add(RunRequest("staging"), every_seconds=1)
        assert await schedules.delete(record.id)
        assert not await schedules.delete(record.id)
        await asyncio.sleep(1 + LATE)
    assert recorder.calls == []


@pytest.mark.asyncio
async def test_bad_schedules_are_refused_in_one_line(sqlite_url: str) -> None:
    async with started(sqlite_url, Recorder()) as schedules:
        request = RunRequest("staging")
        cases: list[tuple[dict[str, Any], str]] = [
            ({}, "either an interval or a cron expression"),
            ({"every_seconds": 60, "cron": "* * * * *"}, "either an interval or a cron"),
            ({"every_seconds": 0.2}, "every_seconds: an interval from 1 second to 366 days"),
            ({"every_seconds": float("nan")}, "every_seconds: an interval from 1 second"),
            ({"cron": "* * *"}, "cron: '* * *' is not a crontab expression: Wrong number"),
            ({"cron": "61 * * * *"}, "cron: '61 * * * *' is not a crontab expression"),
            ({"cron": "0 0 30 2 *"}, "cron: no date matches '0 0 30 2 *'"),
        ]
        for arguments, message in cases:
            with pytest.raises(ScheduleError, match=r"^[^\n]*$") as raised:
                await schedules.add(request, **arguments)
            assert message in str(raised.value)
        with pytest.raises(ScheduleError, match="for_seconds: a window at least one interval"):
            await schedules.watch(request, every_seconds=600, for_seconds=300)
        assert await schedules.list() == []


def _fire_times(expression: str, count: int) -> list[datetime]:
    trigger = cron_trigger(expression)
    times: list[datetime] = []
    moment = datetime(2030, 1, 1, 12, tzinfo=UTC)  # a Tuesday
    for _ in range(count):
        fire = trigger.get_next_fire_time(times[-1] if times else None, moment)
        times.append(fire)
        moment = fire + timedelta(seconds=1)
    return times


@pytest.mark.parametrize(
    ("weekdays", "days"),
    [
        ("1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("mon-fri", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("0", {"Sun"}),
        ("7", {"Sun"}),
        ("6,0", {"Sat", "Sun"}),
        ("*/2", {"Sun", "Tue", "Thu", "Sat"}),
        ("0-6", {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}),
    ],
)
def test_cron_weekdays_are_crontab_s(weekdays: str, days: set[str]) -> None:
    """crontab numbers Sunday 0 (and 7); APScheduler 3's own numbers start at Monday."""
    fired = _fire_times(f"30 2 * * {weekdays}", 14)
    assert {moment.strftime("%a") for moment in fired} == days


def test_cron_expressions_are_in_utc() -> None:
    assert _fire_times("30 2 * * *", 2) == [
        datetime(2030, 1, 2, 2, 30, tzinfo=UTC),
        datetime(2030, 1, 3, 2, 30, tzinfo=UTC),
    ]
    with pytest.raises(
        ScheduleError, match=r"^cron: weekday '5-1': 0-7 \(0 and 7: Sunday\) or sun-sat$"
    ):
        cron_trigger("0 6 * * 5-1")


# --- the endpoints ------------------------------------------------------------------------------


def _app(profiles_dir: Path, url: str, recorder: Recorder, **settings: Any) -> FastAPI:
    """The router on an app of its own: settings, a store on ``url``, the started schedules."""
    from fastapi import FastAPI

    from pytest_smoke.server import schedule_routes
    from pytest_smoke.server.settings import ServerSettings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with started(url, recorder) as schedules:
            app.state.schedules = schedules
            yield

    app = FastAPI(lifespan=lifespan)
    app.state.settings = ServerSettings(
        token=TOKEN, profiles_dir=profiles_dir, data_dir=profiles_dir / "data", **settings
    )
    app.include_router(schedule_routes.router)
    return app


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    """``.env.staging`` and ``.env.production``."""
    directory = tmp_path / "profiles"
    directory.mkdir()
    for name in ("staging", "production"):
        (directory / f".env.{name}").write_text("SMOKE_TEST_TIMEOUT=10\n")
    return directory


@contextlib.contextmanager
def api(profiles_dir: Path, url: str, **settings: Any) -> Iterator[httpx.Client]:
    """The app served by uvicorn on 127.0.0.1 (a thread of its own), and a client with the
    token; the server stopped (lifespan ended) after."""
    import threading

    import httpx
    import uvicorn

    app = _app(profiles_dir, url, Recorder(), **settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="schedules-api")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the app did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_post_deployments_starts_a_watch(profiles_dir: Path, sqlite_url: str) -> None:
    with api(profiles_dir, sqlite_url) as client:
        answer = client.post(
            "/deployments", json={"profile": "staging", "version": "3.1.0", "quick": True}
        )
        assert answer.status_code == 201, answer.text
        watch = answer.json()
        assert watch["kind"] == "watch"
        assert watch["profile"] == "staging"
        assert watch["request"]["version"] == "3.1.0"
        assert watch["request"]["quick"] is True
        assert watch["every_minutes"] == 5
        assert watch["cron"] is None
        assert watch["replaced"] == []
        assert watch["url"] == f"/schedules/{watch['id']}"
        starts = datetime.fromisoformat(watch["starts_at"])
        assert datetime.fromisoformat(watch["ends_at"]) - starts == timedelta(hours=2)
        assert datetime.fromisoformat(watch["next_run_at"]) - starts == timedelta(minutes=5)

        again = client.post(
            "/deployments",
            json={"profile": "staging", "version": "3.1.1", "every_minutes": 10, "for_hours": 1},
        ).json()
        assert again["replaced"] == [watch["id"]]
        assert again["every_minutes"] == 10
        listed = client.get("/schedules").json()["schedules"]
        assert [row["id"] for row in listed] == [again["id"]]
        assert client.get(f"/schedules/{again['id']}").json()["request"]["version"] == "3.1.1"

        deleted = client.delete(f"/schedules/{again['id']}")
        assert deleted.status_code == 200
        assert deleted.json()["next_run_at"] is None
        assert client.get("/schedules").json() == {"schedules": []}
        missing = client.delete(f"/schedules/{again['id']}")
        assert missing.status_code == 404
        assert missing.json() == {"detail": f"no schedule {again['id']}"}


def test_post_schedules_by_interval_or_cron(profiles_dir: Path, sqlite_url: str) -> None:
    with api(profiles_dir, sqlite_url) as client:
        every = client.post(
            "/schedules",
            json={"profile": "production", "every_minutes": 30, "categories": ["database"]},
        )
        assert every.status_code == 201, every.text
        assert every.json()["kind"] == "schedule"
        assert every.json()["ends_at"] is None
        assert every.json()["request"]["categories"] == ["database"]
        cron = client.post("/schedules", json={"profile": "staging", "cron": "0 * * * *"})
        assert cron.status_code == 201, cron.text
        next_run = datetime.fromisoformat(cron.json()["next_run_at"])
        assert (next_run.minute, next_run.second) == (0, 0)
        listed = client.get("/schedules").json()["schedules"]
        assert [row["id"] for row in listed] == [every.json()["id"], cron.json()["id"]]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/schedules", {"profile": "staging", "cron": "every day"}, "cron: 'every day' is not"),
        ("/schedules", {"profile": "staging", "cron": "0 25 * * *"}, "cron: '0 25 * * *' is not"),
        ("/schedules", {"profile": "staging"}, "give either every_minutes or cron"),
        (
            "/schedules",
            {"profile": "staging", "every_minutes": 5, "cron": "* * * * *"},
            "give either every_minutes or cron",
        ),
        (
            "/schedules",
            {"profile": "staging", "every_minutes": 0},
            "every_minutes: an interval from 1 second to 366 days",
        ),
        (
            "/deployments",
            {"profile": "staging", "version": "1", "every_minutes": -5},
            "every_minutes: an interval from 1 second to 366 days",
        ),
        (
            "/deployments",
            {"profile": "staging", "version": "1", "every_minutes": 30, "for_hours": 0.25},
            "for_hours: a window at least one interval long",
        ),
        (
            "/deployments",
            {"profile": "nope", "version": "1"},
            "unknown profile 'nope' (profiles: production, staging)",
        ),
        (
            "/schedules",
            {"profile": "staging", "every_minutes": 5, "categories": ["dns"]},
            "unknown category 'dns'",
        ),
        (
            "/schedules",
            {"profile": "staging", "every_minutes": 5, "markers": "import os"},
            "markers: not a marker expression",
        ),
    ],
)
def test_bad_schedules_are_422_in_one_line(
    profiles_dir: Path, sqlite_url: str, path: str, body: dict[str, Any], message: str
) -> None:
    with api(profiles_dir, sqlite_url) as client:
        answer = client.post(path, json=body)
        assert answer.status_code == 422, answer.text
        detail = answer.json()["detail"]
        assert isinstance(detail, str)
        assert "\n" not in detail
        assert message in detail
        assert client.get("/schedules").json() == {"schedules": []}


def test_the_token_guards_schedules(profiles_dir: Path, sqlite_url: str) -> None:
    with api(profiles_dir, sqlite_url) as client:
        made = client.post("/schedules", json={"profile": "staging", "every_minutes": 5}).json()
        anonymous = {"Authorization": ""}
        wrong = {"Authorization": "Bearer not-the-token"}
        for headers in (anonymous, wrong):
            deployment = {"profile": "staging", "version": "1"}
            schedule = {"profile": "staging", "every_minutes": 5}
            writes = [
                client.post("/deployments", json=deployment, headers=headers),
                client.post("/schedules", json=schedule, headers=headers),
                client.delete(f"/schedules/{made['id']}", headers=headers),
                client.get("/schedules", headers=headers),
                client.get(f"/schedules/{made['id']}", headers=headers),
            ]
            assert [answer.status_code for answer in writes] == [401] * 5
            assert all(TOKEN not in answer.text for answer in writes)
    with api(profiles_dir, sqlite_url, read_auth="open") as client:
        anonymous = {"Authorization": ""}
        assert client.get("/schedules", headers=anonymous).status_code == 200
        assert client.get(f"/schedules/{made['id']}", headers=anonymous).status_code == 200
        assert client.delete(f"/schedules/{made['id']}", headers=anonymous).status_code == 401


def test_schedules_survive_a_restart_of_the_app(profiles_dir: Path, sqlite_url: str) -> None:
    with api(profiles_dir, sqlite_url) as client:
        watch = client.post("/deployments", json={"profile": "staging", "version": "7"}).json()
        schedule = client.post("/schedules", json={"profile": "staging", "cron": "5 4 * * *"})
    with api(profiles_dir, sqlite_url) as client:
        listed = client.get("/schedules").json()["schedules"]
        assert [row["id"] for row in listed] == [watch["id"], schedule.json()["id"]]
        # the watch keeps its slots (starts_at + k * 5 minutes) and its end
        assert listed[0]["next_run_at"] == watch["next_run_at"]
        assert listed[0]["ends_at"] == watch["ends_at"]
        assert listed[1]["next_run_at"] == schedule.json()["next_run_at"]


# --- smoke-gate watch (pytest_smoke.server.watch_cli) -----------------------------------------


def test_the_watch_helper_starts_a_watch(profiles_dir: Path, sqlite_url: str) -> None:
    from pytest_smoke.server.watch_cli import WatchFailed, start_watch, summary

    with api(profiles_dir, sqlite_url) as client:
        service = f"{client.base_url}/"
        watch = start_watch(
            service, profile="staging", version="9.9.9", token=TOKEN, every_minutes=10
        )
        assert watch["kind"] == "watch"
        assert watch["request"]["version"] == "9.9.9"
        assert summary(watch) == (
            f"watching staging 9.9.9: a run every 10 min until {watch['ends_at']} "
            f"(watch {watch['id']})"
        )
        again = start_watch(service, profile="staging", version="9.9.10", token=TOKEN)
        assert summary(again).endswith("; it replaces 1 earlier watch")
        origin = str(client.base_url)
        with pytest.raises(WatchFailed) as refused:
            start_watch(service, profile="staging", version="1", token="not-the-token")
        assert str(refused.value) == (
            f"the service at {origin} refused the watch (401): "
            "the bearer token is not the service's token"
        )
        with pytest.raises(WatchFailed, match=r"refused the watch \(422\): unknown profile 'x'"):
            start_watch(service, profile="x", version="1", token=TOKEN)
        listed = client.get("/schedules").json()["schedules"]
        assert [row["id"] for row in listed] == [again["id"]]


def test_smoke_gate_watch_starts_a_watch_at_the_end_of_a_pipeline(
    profiles_dir: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_smoke.cli import main

    command = ["watch", "--profile", "staging", "--version", "7.1.0", "--every", "15"]
    with api(profiles_dir, sqlite_url) as client:
        service = ["--service", str(client.base_url)]
        monkeypatch.delenv("SMOKE_SERVER_TOKEN", raising=False)
        assert main([*command, *service]) == 1
        assert capsys.readouterr().err == (
            "smoke-gate watch: SMOKE_SERVER_TOKEN is not set: the service's bearer token "
            "is needed\n"
        )
        monkeypatch.setenv("SMOKE_SERVER_TOKEN", TOKEN)
        assert main([*command, *service]) == 0
        printed = capsys.readouterr().out
        assert printed.startswith("watching staging 7.1.0: a run every 15 min until ")
        (watch,) = client.get("/schedules").json()["schedules"]
        assert (watch["kind"], watch["every_minutes"]) == ("watch", 15)
        assert watch["request"]["version"] == "7.1.0"
        assert main([*command, *service, "--for", "0"]) == 2
        assert "invalid value for '--for'" in capsys.readouterr().err


def test_the_watch_helper_says_what_is_wrong_in_one_line() -> None:
    import socket

    from pytest_smoke.server.watch_cli import WatchFailed, service_origin, start_watch, token_from

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(WatchFailed) as unreachable:
        start_watch(
            f"http://user:secret@127.0.0.1:{port}/base", profile="p", version="1", token="t"
        )
    assert (
        str(unreachable.value)
        == f"cannot reach the service at http://127.0.0.1:{port}: ConnectError"
    )
    assert service_origin("https://u:p@smoke.example:8443/x?y=1") == "https://smoke.example:8443"
    for bad in ("ftp://host", "127.0.0.1:8080", "http://"):
        with pytest.raises(WatchFailed, match=r"^--service: expected the service.s URL"):
            service_origin(bad)
    with pytest.raises(WatchFailed, match=r"^SMOKE_SERVER_TOKEN is not set"):
        token_from({"SMOKE_SERVER_TOKEN": "  "})
    assert token_from({"SMOKE_SERVER_TOKEN": "abc"}) == "abc"


# --- the service --------------------------------------------------------------------------------


def _scheduled_runs(client: httpx.Client, profile: str, trigger: str) -> list[dict[str, Any]]:
    runs = client.get("/runs", params={"profile": profile, "limit": 500}).json()["runs"]
    return [run for run in runs if run["trigger"] == trigger]


def _wait_runs(
    client: httpx.Client,
    profile: str,
    trigger: str,
    *,
    since: datetime | None = None,
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """The runs of ``profile`` started by ``trigger``, once one was created after ``since``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _scheduled_runs(client, profile, trigger)
        if any(since is None or datetime.fromisoformat(run["created_at"]) >= since for run in runs):
            return runs
        time.sleep(0.5)
    pytest.fail(f"no {trigger} run of {profile} within {timeout} s")


def test_the_service_runs_schedules_and_watches_and_keeps_them_over_a_restart(
    tmp_path: Path,
) -> None:
    """``smoke-gate serve``, twice on one data directory. Its runs are of profiles that do not
    load (they end in a second): what is tested is who started them and when."""
    from .test_app import running_service

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for name in ("nightly", "web"):
        (profiles / f".env.{name}").write_text("SMOKE_TEST_MAX_FAILURE_PERCENT=lots\n")
    data_dir = tmp_path / "data"
    with running_service(tmp_path / "first", profiles, data_dir=data_dir) as service:
        with service.client() as client:
            schedule = client.post("/schedules", json={"profile": "nightly", "every_minutes": 0.05})
            assert schedule.status_code == 201, schedule.text
            # a run every 3 s for 10.8 s
            deployment = {"profile": "web", "version": "5.2.0", "every_minutes": 0.05}
            watch = client.post("/deployments", json={**deployment, "for_hours": 0.003})
            assert watch.status_code == 201, watch.text
            ends_at = datetime.fromisoformat(watch.json()["ends_at"])
            _wait_runs(client, "nightly", "schedule")
            watched = _wait_runs(client, "web", "watch")
            assert watched[0]["request"]["version"] == "5.2.0"
        log = service.log_lines()  # every line JSON, APScheduler's too
        assert any(line["message"] == "scheduled run submitted" for line in log)
    restarted = datetime.now(UTC)
    with running_service(tmp_path / "second", profiles, data_dir=data_dir) as service:
        with service.client() as client:
            listed = client.get("/schedules").json()["schedules"]
            assert schedule.json()["id"] in [row["id"] for row in listed]
            _wait_runs(client, "nightly", "schedule", since=restarted)
            # the watch window (10.8 s) is over by now: no run of it started after its end
            time.sleep(max(0.0, (ends_at - datetime.now(UTC)).total_seconds()) + 4)
            watched = _scheduled_runs(client, "web", "watch")
            assert watched
            assert all(datetime.fromisoformat(run["created_at"]) <= ends_at for run in watched)
            listed = client.get("/schedules").json()["schedules"]
            assert [row["id"] for row in listed] == [schedule.json()["id"]]
            assert client.delete(f"/schedules/{schedule.json()['id']}").status_code == 200
        service.log_lines()

"""Incidents (pytest_smoke.server.incidents): scripted sequences of finished runs, alerts
delivered by a real :class:`~pytest_smoke.server.alerts.Notifier` to real local receivers
(test_alerts' aiohttp :class:`Receiver`), and a tracker seeded from a real SQLite history."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import itertools
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
import pytest_asyncio

pytest.importorskip("httpx", reason="alerts are sent with httpx (the [http] extra)")
pytest.importorskip("tenacity", reason="alerts are retried with tenacity (the [http] extra)")
pytest.importorskip("aiohttp", reason="the receivers are aiohttp servers")

from e2e.servers import needs_postgres_and_redis
from pytest_smoke.server.alerts import Notifier, Target
from pytest_smoke.server.incidents import IncidentTracker
from pytest_smoke.server.runs import RunOutcome, RunRequest, RunState
from pytest_smoke.server.store import RunRecord

from .test_alerts import ROUTING_KEY, Receiver, alert_lines, closed_port_url, serve_receiver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

PUBLIC_URL = "https://gate.example.test/"
T0 = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
_ids = itertools.count(1)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A local receiver for the test: ``/hook`` (webhook) and ``/pd`` (PagerDuty)."""
    async with serve_receiver() as state:
        yield state


def report(verdict: str, profile: str) -> dict[str, Any]:
    """A report's verdict, reasons and causes, as the gate writes them."""
    if verdict == "PROCEED":
        return {"verdict": verdict, "profile": profile, "reasons": ["every smoke test passed"]}
    return {
        "verdict": verdict,
        "profile": profile,
        "reasons": [f"{verdict.lower()} reason of {profile}"],
        "causes": [{"cause": "database unavailable", "tests": ["tests/test_db.py::test_ping"]}],
    }


def record(
    profile: str,
    verdict: str | None,
    minute: int,
    *,
    state: RunState = RunState.DONE,
    version: str | None = "1.4.2",
    with_report: bool = True,
) -> RunRecord:
    """A finished run of ``profile`` ``minute`` minutes after T0, as ``RunStore.get`` gives it."""
    finished = T0 + timedelta(minutes=minute)
    return RunRecord(
        id=f"run{next(_ids):04d}",
        profile=profile,
        request=RunRequest(profile=profile, version=version),
        state=state,
        verdict=verdict,
        exit_code=None,
        error=None,
        created_at=finished - timedelta(seconds=30),
        started_at=finished - timedelta(seconds=29),
        finished_at=finished,
        document=report(verdict, profile) if verdict and with_report else None,
        version=version,
    )


def notifier_for(receiver: Receiver) -> Notifier:
    """A notifier with a webhook and a PagerDuty target on ``receiver``."""
    return Notifier(
        [
            Target("webhook", receiver.url("/hook"), "whsec-incidents"),
            Target("pagerduty", receiver.url("/pd"), ROUTING_KEY),
        ],
        backoff=0.01,
    )


def hooks(receiver: Receiver) -> list[tuple[str, str, str, str]]:
    """The webhook deliveries: (profile, event, verdict, run id) each."""
    return [
        (b["profile"], b["event"], b["verdict"], b["run"]["id"])
        for b in (r.json() for r in receiver.at("/hook"))
    ]


@pytest.mark.asyncio
async def test_a_scripted_sequence_alerts_on_transitions_only(receiver: Receiver) -> None:
    tracker = IncidentTracker(notifier_for(receiver), PUBLIC_URL)
    runs = [
        record("staging", "PROCEED", 0),  # nothing known -> good: nothing
        record("staging", "ROLLBACK", 1),  # trigger
        record("production", "INVESTIGATE", 2),  # trigger (another profile)
        record("staging", "ROLLBACK", 3),  # still bad: nothing
        record("staging", "INVESTIGATE", 4),  # still bad: nothing
        record("staging", None, 5, state=RunState.CANCELLED),  # no verdict: nothing
        record("staging", "PROCEED", 6, state=RunState.CANCELLED),  # cancelled: nothing
        record("staging", None, 7, state=RunState.CRASHED),  # no report: nothing
        record("staging", "MONITOR", 8),  # resolve
        record("staging", "PROCEED", 9),  # still good: nothing
        record("staging", "INVESTIGATE", 10),  # trigger again
        record("production", "PROCEED", 11),  # resolve
        record("staging", "PROCEED", 12),  # resolve
    ]
    for run in runs:
        await tracker.observe(run)
    assert tracker.open_incidents == {}
    await tracker.aclose()

    ids = [run.id for run in runs]
    expected = [
        ("staging", "trigger", "ROLLBACK", ids[1]),
        ("production", "trigger", "INVESTIGATE", ids[2]),
        ("staging", "resolve", "MONITOR", ids[8]),
        ("staging", "trigger", "INVESTIGATE", ids[10]),
        ("production", "resolve", "PROCEED", ids[11]),
        ("staging", "resolve", "PROCEED", ids[12]),
    ]
    assert sorted(hooks(receiver), key=expected.index) == expected
    for profile in ("staging", "production"):
        assert [h for h in hooks(receiver) if h[0] == profile] == [
            e for e in expected if e[0] == profile
        ]
    events = [r.json() for r in receiver.at("/pd")]
    staging = [(e["event_action"], e["dedup_key"]) for e in events if "staging" in e["dedup_key"]]
    assert staging == [
        ("trigger", "smoke-gate/staging"),
        ("resolve", "smoke-gate/staging"),
        ("trigger", "smoke-gate/staging"),
        ("resolve", "smoke-gate/staging"),
    ]


@pytest.mark.asyncio
async def test_an_alert_names_profile_version_verdict_reasons_causes_and_links(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    tracker = IncidentTracker(notifier_for(receiver), PUBLIC_URL)
    bad = record("staging", "ROLLBACK", 1, version="2.0.1")
    good = record("staging", "PROCEED", 2, version="2.0.2")
    await tracker.observe(bad)
    await tracker.observe(good)
    await tracker.aclose()

    trigger, resolve = (r.json() for r in receiver.at("/hook"))
    assert trigger["profile"] == "staging"
    assert trigger["version"] == "2.0.1"
    assert trigger["verdict"] == "ROLLBACK"
    assert trigger["previous_verdict"] is None
    assert trigger["reasons"] == ["rollback reason of staging"]
    assert trigger["causes"] == [
        {"cause": "database unavailable", "tests": ["tests/test_db.py::test_ping"]}
    ]
    assert trigger["run"]["url"] == f"https://gate.example.test/runs/{bad.id}"
    assert trigger["run"]["dashboard_url"] == f"https://gate.example.test/ui/runs/{bad.id}"
    assert trigger["run"]["finished_at"] == bad.finished_at.isoformat()  # type: ignore[union-attr]
    assert resolve["event"] == "resolve"
    assert resolve["version"] == "2.0.2"
    assert resolve["previous_verdict"] == "ROLLBACK"
    assert resolve["summary"] == "Resolved: staging 2.0.2 is PROCEED (was ROLLBACK)"
    (opened,) = alert_lines(caplog, "incident opened")
    assert (opened.run_id, opened.verdict) == (bad.id, "ROLLBACK")  # type: ignore[attr-defined]
    (closed,) = alert_lines(caplog, "incident resolved")
    assert (closed.run_id, closed.previous_verdict) == (good.id, "ROLLBACK")  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_run_without_a_report_alerts_without_reasons(receiver: Receiver) -> None:
    tracker = IncidentTracker(notifier_for(receiver), PUBLIC_URL)
    await tracker.observe(record("canary", "INVESTIGATE", 1, version=None, with_report=False))
    await tracker.aclose()
    (body,) = (r.json() for r in receiver.at("/hook"))
    assert (body["verdict"], body["version"], body["reasons"], body["causes"]) == (
        "INVESTIGATE",
        None,
        [],
        [],
    )
    assert body["summary"] == "INVESTIGATE: canary"


@pytest.mark.asyncio
async def test_a_run_recorded_late_changes_nothing(receiver: Receiver) -> None:
    tracker = IncidentTracker(notifier_for(receiver), PUBLIC_URL)
    await tracker.observe(record("staging", "PROCEED", 10))
    await tracker.observe(record("staging", "ROLLBACK", 5))  # finished before the one above
    await tracker.aclose()
    assert receiver.received == []
    assert tracker.open_incidents == {}


@pytest.mark.asyncio
async def test_observe_returns_at_once_when_receivers_are_slow_or_down(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.plan("/hook", (200, 5.0))
    notifier = Notifier(
        [
            Target("webhook", receiver.url("/hook")),
            Target("pagerduty", closed_port_url(), ROUTING_KEY),
        ],
        timeout=0.3,
        attempts=2,
        backoff=0.01,
    )
    tracker = IncidentTracker(notifier, PUBLIC_URL)
    for minute, verdict in enumerate(("ROLLBACK", "PROCEED", "ROLLBACK")):
        started = time.perf_counter()
        await tracker.observe(record("staging", verdict, minute))
        assert time.perf_counter() - started < 0.1
    assert notifier.pending == 6
    await tracker.aclose(timeout=10)
    assert notifier.pending == 0
    failed = alert_lines(caplog, "alert not delivered")
    assert sorted((line.target, line.action) for line in failed) == [  # type: ignore[attr-defined]
        ("pagerduty", "resolve"),
        ("pagerduty", "trigger"),
        ("pagerduty", "trigger"),
        ("webhook", "resolve"),
        ("webhook", "trigger"),
        ("webhook", "trigger"),
    ]


@pytest.mark.asyncio
async def test_seeded_from_the_history_a_restart_does_not_alert_again(
    receiver: Receiver, sqlite_url: str
) -> None:
    pytest.importorskip("aiosqlite", reason="the [server] extra is not installed")
    from pytest_smoke.server.store import RunStore

    async def finish(store: RunStore, profile: str, verdict: str, minute: int) -> str:
        run_id = f"{profile}-{minute}"
        at = T0 + timedelta(minutes=minute)
        await store.create(run_id, RunRequest(profile=profile, version="3.1"), created_at=at)
        outcome = RunOutcome(RunState.DONE, 0, report(verdict, profile))
        await store.finish(run_id, outcome, at + timedelta(seconds=20))
        return run_id

    store = await RunStore.open(sqlite_url)
    try:
        # before the restart: staging turned bad (its incident is open), production is fine
        await finish(store, "staging", "PROCEED", 0)
        await finish(store, "staging", "ROLLBACK", 1)
        await finish(store, "production", "PROCEED", 2)

        tracker = IncidentTracker(notifier_for(receiver), PUBLIC_URL)  # the new process
        tracker.seed(await store.latest_verdicts())
        assert tracker.open_incidents == {"staging": "ROLLBACK"}
        for profile, verdict, minute in (
            ("staging", "ROLLBACK", 3),  # still bad: no second trigger
            ("production", "INVESTIGATE", 4),  # trigger
            ("staging", "PROCEED", 5),  # resolves the incident opened before the restart
        ):
            run_id = await finish(store, profile, verdict, minute)
            stored = await store.get(run_id)
            assert stored is not None
            await tracker.observe(stored)
        await tracker.aclose()
    finally:
        await store.close()

    assert hooks(receiver) == [
        ("production", "trigger", "INVESTIGATE", "production-4"),
        ("staging", "resolve", "PROCEED", "staging-5"),
    ]
    resolve = receiver.at("/hook")[1].json()
    assert (resolve["version"], resolve["previous_verdict"]) == ("3.1", "ROLLBACK")
    trigger = receiver.at("/hook")[0].json()
    assert trigger["reasons"] == ["investigate reason of production"]


# --- through the service --------------------------------------------------------------------------


def _service_wires_incidents() -> bool:
    """Whether RunService takes the tracker (the lead's integration of this module)."""
    import inspect

    from pytest_smoke.server.service import RunService

    return "incidents" in inspect.signature(RunService.__init__).parameters


class _Hooks(http.server.BaseHTTPRequestHandler):
    """A webhook receiver in a thread: keeps (headers, raw body) of every POST, answers 204."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows the assertions


@needs_postgres_and_redis
@pytest.mark.skipif(
    not _service_wires_incidents(), reason="RunService does not take an IncidentTracker yet"
)
def test_the_service_alerts_when_a_real_run_turns_bad_and_resolves(tmp_path: Path) -> None:
    from e2e.test_demo_run import base_environment, started_demo

    from .test_app import RUN_WAIT, demo_profiles, running_service, service_environment

    _Hooks.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    secret = "whsec-e2e-5b1d"
    try:
        with started_demo(tmp_path / "demo", base_environment(tmp_path / "demo")) as demo:
            profiles = demo_profiles(tmp_path / "profiles", {"demo": demo})
            environment = service_environment(
                tmp_path,
                public_url="https://gate.example.test",
                alert_webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
                alert_webhook_secret=secret,
            )
            with (
                running_service(tmp_path / "service", profiles, environment=environment) as svc,
                svc.client() as client,
            ):
                # no test matches the marker: "no smoke test ran" is INVESTIGATE
                bad = client.post(
                    f"/runs?wait={RUN_WAIT}",
                    json={"profile": "demo", "markers": "no_such_marker", "version": "9.9.1"},
                ).json()
                assert bad["verdict"] == "INVESTIGATE", bad
                good = client.post(
                    f"/runs?wait={RUN_WAIT}",
                    json={"profile": "demo", "quick": True, "version": "9.9.2"},
                ).json()
                assert good["verdict"] == "PROCEED", good
                deadline = time.monotonic() + 30
                while len(_Hooks.received) < 2 and time.monotonic() < deadline:
                    time.sleep(0.1)
    finally:
        server.shutdown()
        server.server_close()

    assert len(_Hooks.received) == 2
    bodies = []
    for headers, body in _Hooks.received:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Smoke-Gate-Signature"] == expected
        bodies.append(json.loads(body))
    trigger, resolve = bodies
    assert (trigger["event"], trigger["profile"], trigger["version"]) == (
        "trigger",
        "demo",
        "9.9.1",
    )
    assert trigger["verdict"] == "INVESTIGATE"
    assert trigger["reasons"]
    assert trigger["run"]["url"] == f"https://gate.example.test/runs/{bad['id']}"
    assert (resolve["event"], resolve["verdict"], resolve["previous_verdict"]) == (
        "resolve",
        "PROCEED",
        "INVESTIGATE",
    )
    assert resolve["run"]["id"] == good["id"]

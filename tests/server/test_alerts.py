"""Alert payloads and their delivery (pytest_smoke.server.alerts) against real HTTP receivers.

:class:`Receiver` is an aiohttp server on 127.0.0.1 (a random port) that keeps every request
it gets, raw, and answers each path as planned (a status, a delay, headers): Slack, Teams,
PagerDuty and the generic webhook are each a path of it. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

pytest.importorskip("httpx", reason="alerts are sent with httpx (the [http] extra)")
pytest.importorskip("tenacity", reason="alerts are retried with tenacity (the [http] extra)")
pytest.importorskip("aiohttp", reason="the receivers are aiohttp servers")

from aiohttp import web

from pytest_smoke.masking import Masker
from pytest_smoke.server.alerts import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Alert,
    Cause,
    Notifier,
    Target,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

WEBHOOK_SECRET = "whsec-0123456789abcdef"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefghijkl"
# a Slack incoming webhook's path is its credential
SLACK_PATH = "/services/T0000/B0000/XXXXSLACKSECRETXXXX"
TEAMS_PATH = "/workflows/abc/triggers/manual/paths/invoke?sig=TEAMSSIGNATURE123"


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server that records requests and answers as :meth:`plan` says."""

    base: str = ""
    received: list[Received] = field(default_factory=list)
    plans: dict[str, list[tuple[int, float, dict[str, str]]]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """The receiver's URL for ``path`` (which may carry a query)."""
        return self.base + path

    def plan(
        self, path: str, *answers: tuple[int, float] | tuple[int, float, dict[str, str]]
    ) -> None:
        """Answer the next requests to ``path`` with these (status, delay s[, headers]); the
        last answer repeats. Unplanned paths answer 200."""
        self.plans[path] = [(a[0], a[1], a[2] if len(a) == 3 else {}) for a in answers]

    def at(self, path: str) -> list[Received]:
        """The requests to ``path`` (without its query), in arrival order."""
        return [r for r in self.received if r.path == path.split("?", maxsplit=1)[0]]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(request.path, dict(request.headers), body, time.monotonic()))
        answers = self.plans.get(request.path, [(200, 0.0, {})])
        status, delay, headers = answers.pop(0) if len(answers) > 1 else answers[0]
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, text="ok", headers=headers)


@contextlib.asynccontextmanager
async def serve_receiver() -> AsyncIterator[Receiver]:
    """A :class:`Receiver` listening on 127.0.0.1 (random port) for the block; stopped at its
    end, its slow handlers cancelled."""
    state = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    state.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A :class:`Receiver` (:func:`serve_receiver`) for the test."""
    async with serve_receiver() as state:
        yield state


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def make_alert(action: str = "trigger", **changes: Any) -> Alert:
    """A ROLLBACK trigger of ``staging`` 1.4.2 (or its resolve), with two reasons, one cause."""
    values: dict[str, Any] = {
        "action": action,
        "profile": "staging",
        "version": "1.4.2",
        "verdict": "ROLLBACK" if action == "trigger" else "PROCEED",
        "previous_verdict": "PROCEED" if action == "trigger" else "ROLLBACK",
        "reasons": (
            "critical test failed: tests/test_db.py::test_select_one",
            "3 of 10 smoke tests failed (30% > 20%)",
        ),
        "causes": (
            Cause("database unavailable", ("tests/test_db.py::test_select_one", "t2", "t3")),
        ),
        "run_id": "0123456789abcdef",
        "run_url": "https://gate.example.test/runs/0123456789abcdef",
        "dashboard_url": "https://gate.example.test/ui/runs/0123456789abcdef",
        "service_url": "https://gate.example.test",
        "finished_at": datetime(2026, 12, 6, 22, 0, tzinfo=UTC),
    }
    values.update(changes)
    return Alert(**values)


def alert_lines(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    """The log records of the service's logger with this message."""
    return [r for r in caplog.records if r.name == "pytest_smoke.server" and r.msg == message]


def all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, message and extra fields, as one text."""
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


# --- payload shapes -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_webhook_body_is_signed_with_hmac_and_timestamped(receiver: Receiver) -> None:
    notifier = Notifier([Target("webhook", receiver.url("/hook"), WEBHOOK_SECRET)])
    notifier.notify(make_alert())
    assert await notifier.wait_idle(5)
    await notifier.aclose()

    (request,) = receiver.at("/hook")
    expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == f"sha256={expected}"
    forged = hmac.new(b"another key", request.body, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] != f"sha256={forged}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("smoke-gate/")
    body = request.json()
    assert request.headers[TIMESTAMP_HEADER] == str(body["sent_at"])
    assert abs(body["sent_at"] - time.time()) < 60
    assert request.headers[EVENT_HEADER] == "trigger"
    assert request.headers[DELIVERY_HEADER] == body["delivery"]
    assert body == {
        "event": "trigger",
        "incident": "smoke-gate/staging",
        "summary": (
            "ROLLBACK: staging 1.4.2: critical test failed: tests/test_db.py::test_select_one"
        ),
        "profile": "staging",
        "version": "1.4.2",
        "verdict": "ROLLBACK",
        "previous_verdict": "PROCEED",
        "reasons": [
            "critical test failed: tests/test_db.py::test_select_one",
            "3 of 10 smoke tests failed (30% > 20%)",
        ],
        "causes": [
            {
                "cause": "database unavailable",
                "tests": ["tests/test_db.py::test_select_one", "t2", "t3"],
            }
        ],
        "run": {
            "id": "0123456789abcdef",
            "url": "https://gate.example.test/runs/0123456789abcdef",
            "dashboard_url": "https://gate.example.test/ui/runs/0123456789abcdef",
            "finished_at": "2026-12-06T22:00:00+00:00",
        },
        "service": "https://gate.example.test",
        "sent_at": body["sent_at"],
        "delivery": body["delivery"],
    }


@pytest.mark.asyncio
async def test_webhook_without_a_secret_is_not_signed(receiver: Receiver) -> None:
    notifier = Notifier([Target("webhook", receiver.url("/hook"))])
    notifier.notify(make_alert("resolve"))
    await notifier.aclose()
    (request,) = receiver.at("/hook")
    assert SIGNATURE_HEADER not in request.headers
    assert request.json()["event"] == "resolve"


@pytest.mark.asyncio
async def test_slack_message_has_text_and_blocks(receiver: Receiver) -> None:
    reasons = ("a <script> & co failed", "second reason")
    notifier = Notifier([Target("slack", receiver.url(SLACK_PATH))])
    notifier.notify(make_alert(reasons=reasons))
    await notifier.aclose()

    (request,) = receiver.at(SLACK_PATH)
    message = request.json()
    assert set(message) == {"text", "blocks"}
    assert message["text"] == (
        ":rotating_light: ROLLBACK: staging 1.4.2: a &lt;script&gt; &amp; co failed"
    )
    assert [block["type"] for block in message["blocks"]] == [
        "header",
        "section",
        "section",
        "section",
        "actions",
    ]
    header, facts, reasons_block, causes_block, actions = message["blocks"]
    assert header["text"] == {"type": "plain_text", "text": "ROLLBACK: staging 1.4.2"}
    assert facts["fields"] == [
        {"type": "mrkdwn", "text": "*Profile*\nstaging"},
        {"type": "mrkdwn", "text": "*Version*\n1.4.2"},
        {"type": "mrkdwn", "text": "*Verdict*\nROLLBACK (was PROCEED)"},
        {
            "type": "mrkdwn",
            "text": "*Run*\n<https://gate.example.test/ui/runs/0123456789abcdef|0123456789abcdef>",
        },
    ]
    assert reasons_block["text"] == {
        "type": "mrkdwn",
        "text": "*Reasons*\n• a &lt;script&gt; &amp; co failed\n• second reason",
    }
    assert causes_block["text"]["text"] == (
        "*Causes*\n• database unavailable: 3 tests (tests/test_db.py::test_select_one, t2, t3)"
    )
    assert actions["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open the run"},
            "url": "https://gate.example.test/ui/runs/0123456789abcdef",
        },
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Report (JSON)"},
            "url": "https://gate.example.test/runs/0123456789abcdef",
        },
    ]


@pytest.mark.asyncio
async def test_slack_resolve_and_long_lists_are_cut(receiver: Receiver) -> None:
    many = tuple(f"reason {i}" for i in range(25))
    notifier = Notifier([Target("slack", receiver.url(SLACK_PATH))])
    notifier.notify(make_alert("resolve", reasons=many, causes=()))
    await notifier.aclose()
    message = receiver.at(SLACK_PATH)[0].json()
    assert message["text"] == (
        ":white_check_mark: Resolved: staging 1.4.2 is PROCEED (was ROLLBACK)"
    )
    assert message["blocks"][0]["text"]["text"] == "Resolved: staging 1.4.2 is PROCEED"
    reasons = message["blocks"][2]["text"]["text"].splitlines()
    assert reasons[0] == "*Reasons*"
    assert len(reasons) == 11
    assert reasons[-1] == "• and 16 more reasons"


@pytest.mark.asyncio
async def test_teams_message_carries_an_adaptive_card(receiver: Receiver) -> None:
    notifier = Notifier([Target("teams", receiver.url(TEAMS_PATH))])
    notifier.notify(make_alert())
    await notifier.aclose()

    (request,) = receiver.at(TEAMS_PATH)
    message = request.json()
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title, facts, *rest = card["body"]
    assert title == {
        "type": "TextBlock",
        "text": "ROLLBACK: staging 1.4.2",
        "size": "Large",
        "weight": "Bolder",
        "color": "Attention",
        "wrap": True,
    }
    assert facts == {
        "type": "FactSet",
        "facts": [
            {"title": "Profile", "value": "staging"},
            {"title": "Version", "value": "1.4.2"},
            {"title": "Verdict", "value": "ROLLBACK (was PROCEED)"},
            {"title": "Run", "value": "0123456789abcdef"},
        ],
    }
    assert [block["text"] for block in rest] == [
        "Reasons",
        "- critical test failed: tests/test_db.py::test_select_one\n"
        "- 3 of 10 smoke tests failed (30% > 20%)",
        "Causes",
        "- database unavailable: 3 tests (tests/test_db.py::test_select_one, t2, t3)",
    ]
    assert all(block["wrap"] for block in rest)
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open the run",
            "url": "https://gate.example.test/ui/runs/0123456789abcdef",
        },
        {
            "type": "Action.OpenUrl",
            "title": "Report (JSON)",
            "url": "https://gate.example.test/runs/0123456789abcdef",
        },
    ]


@pytest.mark.asyncio
async def test_pagerduty_trigger_then_resolve_with_one_dedup_key(receiver: Receiver) -> None:
    # the trigger's first attempt fails: the resolve must still arrive after the trigger
    receiver.plan("/v2/enqueue", (503, 0.0), (202, 0.0))
    notifier = Notifier(
        [Target("pagerduty", receiver.url("/v2/enqueue"), ROUTING_KEY)], backoff=0.05
    )
    notifier.notify(make_alert("trigger"))
    notifier.notify(make_alert("resolve", run_id="fedcba9876543210"))
    await notifier.aclose()

    first, retried, resolve = (request.json() for request in receiver.at("/v2/enqueue"))
    assert first == retried
    assert first == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "smoke-gate/staging",
        "payload": {
            "summary": (
                "ROLLBACK: staging 1.4.2: critical test failed: tests/test_db.py::test_select_one"
            ),
            "source": "gate.example.test",
            "severity": "critical",
            "component": "staging",
            "group": "smoke-gate",
            "class": "ROLLBACK",
            "custom_details": {
                "profile": "staging",
                "version": "1.4.2",
                "verdict": "ROLLBACK",
                "previous_verdict": "PROCEED",
                "reasons": [
                    "critical test failed: tests/test_db.py::test_select_one",
                    "3 of 10 smoke tests failed (30% > 20%)",
                ],
                "causes": [
                    {
                        "cause": "database unavailable",
                        "tests": ["tests/test_db.py::test_select_one", "t2", "t3"],
                    }
                ],
                "run_id": "0123456789abcdef",
            },
            "timestamp": "2026-12-06T22:00:00+00:00",
        },
        "links": [
            {
                "href": "https://gate.example.test/ui/runs/0123456789abcdef",
                "text": "smoke-gate run 0123456789abcdef",
            },
            {
                "href": "https://gate.example.test/runs/0123456789abcdef",
                "text": "the run's report (JSON)",
            },
        ],
        "client": "smoke-gate",
        "client_url": "https://gate.example.test/ui",
    }
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "smoke-gate/staging",
    }


@pytest.mark.asyncio
async def test_investigate_is_an_error_for_pagerduty_and_a_warning_for_teams(
    receiver: Receiver,
) -> None:
    notifier = Notifier(
        [
            Target("pagerduty", receiver.url("/pd"), ROUTING_KEY),
            Target("teams", receiver.url("/teams")),
        ]
    )
    notifier.notify(make_alert(verdict="INVESTIGATE", version=None, reasons=()))
    await notifier.aclose()
    event = receiver.at("/pd")[0].json()
    assert event["payload"]["severity"] == "error"
    assert event["payload"]["summary"] == "INVESTIGATE: staging"
    card = receiver.at("/teams")[0].json()["attachments"][0]["content"]
    assert card["body"][0]["color"] == "Warning"
    assert card["body"][1]["facts"][1] == {"title": "Version", "value": "not given"}


# --- delivery -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_target_gets_each_alert_in_order(receiver: Receiver) -> None:
    receiver.plan("/slow-slack", (200, 0.3))  # a slow target delays nobody else
    notifier = Notifier(
        [
            Target("webhook", receiver.url("/hook"), WEBHOOK_SECRET),
            Target("slack", receiver.url("/slow-slack")),
            Target("teams", receiver.url("/teams")),
            Target("pagerduty", receiver.url("/pd"), ROUTING_KEY),
        ]
    )
    assert notifier.kinds == ("webhook", "slack", "teams", "pagerduty")
    for action in ("trigger", "resolve", "trigger"):
        notifier.notify(make_alert(action))
    notifier.notify(make_alert(profile="production"))
    await notifier.aclose()
    hooks = [r.json() for r in receiver.at("/hook")]
    assert [h["event"] for h in hooks if h["profile"] == "staging"] == [
        "trigger",
        "resolve",
        "trigger",
    ]
    assert [h["profile"] for h in hooks].count("production") == 1
    staging = [r.json() for r in receiver.at("/pd") if "staging" in r.json()["dedup_key"]]
    assert [e["event_action"] for e in staging] == ["trigger", "resolve", "trigger"]
    slack = [r.json()["text"] for r in receiver.at("/slow-slack")]
    assert len(slack) == 4
    assert [t.split()[0] for t in slack if "staging" in t] == [
        ":rotating_light:",
        ":white_check_mark:",
        ":rotating_light:",
    ]
    assert len(receiver.at("/teams")) == 4


@pytest.mark.asyncio
async def test_retries_with_backoff_then_gives_up_with_a_log_line(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx's own request lines too: they must not show URLs
    receiver.plan(SLACK_PATH, (503, 0.0))
    notifier = Notifier([Target("slack", receiver.url(SLACK_PATH))], attempts=3, backoff=0.1)
    notifier.notify(make_alert())
    assert await notifier.wait_idle(10)
    await notifier.aclose()

    requests = receiver.at(SLACK_PATH)
    assert len(requests) == 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert gaps[0] >= 0.1
    assert gaps[1] >= 0.2  # doubled
    (line,) = alert_lines(caplog, "alert not delivered")
    assert line.levelno == logging.WARNING
    assert line.target == "slack"  # type: ignore[attr-defined]
    assert line.outcome == "gave up"  # type: ignore[attr-defined]
    assert line.attempts == 3  # type: ignore[attr-defined]
    assert line.status == 503  # type: ignore[attr-defined]
    assert line.run_id == "0123456789abcdef"  # type: ignore[attr-defined]
    text = all_log_text(caplog)
    assert "HTTP Request" in text  # httpx did log its requests...
    assert "SLACKSECRET" not in text  # ...without the webhook's credential
    assert receiver.base not in text


@pytest.mark.asyncio
async def test_a_429_is_retried_after_retry_after_and_logged_delivered(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    receiver.plan("/pd", (429, 0.0, {"Retry-After": "0.2"}), (202, 0.0))
    notifier = Notifier([Target("pagerduty", receiver.url("/pd"), ROUTING_KEY)], backoff=5)
    notifier.notify(make_alert())
    assert await notifier.wait_idle(5)  # Retry-After (0.2 s), not the 5 s backoff
    await notifier.aclose()
    first, second = receiver.at("/pd")
    assert second.at - first.at >= 0.2
    (line,) = alert_lines(caplog, "alert delivered")
    assert (line.target, line.attempts, line.status) == ("pagerduty", 2, 202)  # type: ignore[attr-defined]
    assert ROUTING_KEY not in all_log_text(caplog)


@pytest.mark.asyncio
async def test_a_4xx_answer_is_final(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.plan("/teams", (400, 0.0))
    notifier = Notifier([Target("teams", receiver.url("/teams"))], attempts=4, backoff=0.01)
    notifier.notify(make_alert())
    await notifier.aclose()
    assert len(receiver.at("/teams")) == 1
    (line,) = alert_lines(caplog, "alert not delivered")
    assert (line.attempts, line.status, line.error) == (1, 400, "HTTP 400")  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_receiver_that_is_down_delays_nothing(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(
        [Target("webhook", closed_port_url(), WEBHOOK_SECRET)], attempts=2, backoff=0.01
    )
    started = time.perf_counter()
    notifier.notify(make_alert())
    assert time.perf_counter() - started < 0.1
    assert notifier.pending == 1
    assert await notifier.wait_idle(10)
    await notifier.aclose()
    (line,) = alert_lines(caplog, "alert not delivered")
    assert (line.attempts, line.error) == (2, "ConnectError")  # type: ignore[attr-defined]
    assert "127.0.0.1" not in all_log_text(caplog)


@pytest.mark.asyncio
async def test_a_receiver_answering_after_5_s_delays_nothing(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.plan("/hook", (200, 5.0))
    notifier = Notifier(
        [Target("webhook", receiver.url("/hook"))], timeout=0.3, attempts=2, backoff=0.01
    )
    started = time.perf_counter()
    notifier.notify(make_alert())
    assert time.perf_counter() - started < 0.1
    # each attempt is cut at the timeout: two attempts end well before the receiver answers
    assert await notifier.wait_idle(3)
    assert time.perf_counter() - started < 3
    await notifier.aclose()
    assert len(receiver.at("/hook")) == 2
    (line,) = alert_lines(caplog, "alert not delivered")
    assert line.attempts == 2  # type: ignore[attr-defined]
    assert line.error in {"ReadTimeout", "TimeoutError"}  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_aclose_waits_a_bounded_time_then_abandons(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.plan("/hook", (200, 5.0))
    notifier = Notifier([Target("webhook", receiver.url("/hook"))], timeout=30)
    notifier.notify(make_alert())
    started = time.perf_counter()
    await notifier.aclose(timeout=0.3)
    assert time.perf_counter() - started < 2
    assert notifier.pending == 0
    (abandoned,) = alert_lines(caplog, "alerts abandoned at shutdown")
    assert abandoned.deliveries == 1  # type: ignore[attr-defined]
    (line,) = alert_lines(caplog, "alert not delivered")
    assert line.outcome == "cancelled"  # type: ignore[attr-defined]
    notifier.notify(make_alert())  # after aclose: dropped, logged, no task
    assert notifier.pending == 0
    assert alert_lines(caplog, "alert dropped: the notifier is closed")


@pytest.mark.asyncio
async def test_no_secret_value_reaches_a_receiver(receiver: Receiver) -> None:
    profile_masker = Masker()
    profile_masker.add("db-password-hunter2")
    seen: list[str] = []

    def masker_for(profile: str) -> Masker:
        seen.append(profile)
        return profile_masker

    slack_url = receiver.url(SLACK_PATH)
    notifier = Notifier(
        [
            Target("slack", slack_url),
            Target("pagerduty", receiver.url("/pd"), ROUTING_KEY),
            Target("webhook", receiver.url("/hook"), WEBHOOK_SECRET),
        ],
        masker_for=masker_for,
    )
    leaky = make_alert(
        reasons=(
            "connect failed: postgresql://app:db-password-hunter2@db/app",
            f"posting to {slack_url} failed",
            f"key {ROUTING_KEY} refused, signed with {WEBHOOK_SECRET}",
        ),
        causes=(Cause("auth db-password-hunter2", ("t1",)),),
    )
    notifier.notify(leaky)
    await notifier.aclose()
    assert seen == ["staging"]
    for request in receiver.received:
        text = request.body.decode()
        assert "hunter2" not in text
        assert "SLACKSECRET" not in text
        assert WEBHOOK_SECRET not in text
        if request.path != "/pd":
            assert ROUTING_KEY not in text
    event = receiver.at("/pd")[0].json()
    assert event["routing_key"] == ROUTING_KEY  # the field itself, of course, is the key
    assert ROUTING_KEY not in json.dumps(event["payload"])
    assert event["payload"]["custom_details"]["reasons"][0] == (
        "connect failed: postgresql://app:***@db/app"
    )


@pytest.mark.asyncio
async def test_a_masker_that_fails_still_lets_the_alert_go(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    def masker_for(profile: str) -> Masker:
        raise OSError("profile file unreadable")

    notifier = Notifier([Target("webhook", receiver.url("/hook"))], masker_for=masker_for)
    notifier.notify(make_alert())
    await notifier.aclose()
    assert len(receiver.at("/hook")) == 1
    (line,) = alert_lines(caplog, "the profile's masker is not available for the alert")
    assert line.error == "OSError"  # type: ignore[attr-defined]


def test_targets_come_from_the_settings_and_never_show_their_secrets(tmp_path: Path) -> None:
    from pytest_smoke.server.settings import load_server_settings

    settings = load_server_settings(
        {
            "token": "t0k3n-for-tests",
            "profiles_dir": tmp_path,
            "data_dir": tmp_path / "data",
            "alert_webhook_url": "https://hooks.example.test/smoke",
            "alert_webhook_secret": WEBHOOK_SECRET,
            "alert_slack_url": "https://hooks.slack.com" + SLACK_PATH,
            "alert_teams_url": "https://prod.example.test" + TEAMS_PATH,
            "alert_pagerduty_routing_key": ROUTING_KEY,
            "alert_timeout": 2.5,
            "alert_attempts": 2,
        }
    )
    from pytest_smoke.server.alerts import targets_from_settings

    targets = targets_from_settings(settings)
    assert [(t.kind, t.url, t.secret) for t in targets] == [
        ("webhook", "https://hooks.example.test/smoke", WEBHOOK_SECRET),
        ("slack", "https://hooks.slack.com" + SLACK_PATH, None),
        ("teams", "https://prod.example.test" + TEAMS_PATH, None),
        ("pagerduty", "https://events.pagerduty.com/v2/enqueue", ROUTING_KEY),
    ]
    shown = repr(targets)
    for secret in (WEBHOOK_SECRET, ROUTING_KEY, "SLACKSECRET", "TEAMSSIGNATURE"):
        assert secret not in shown
    notifier = Notifier.from_settings(settings)
    assert notifier.kinds == ("webhook", "slack", "teams", "pagerduty")
    asyncio.run(notifier.aclose())


@pytest.mark.asyncio
async def test_the_service_notifier_masks_with_the_profile_s_secrets(
    receiver: Receiver, tmp_path: Path
) -> None:
    from pytest_smoke.server.settings import load_server_settings

    (tmp_path / ".env.staging").write_text(
        "SMOKE_BASE_URL=https://staging.example.test\n"
        "ORDERS_API_TOKEN=orders-token-7f3a9c\n"
        "SMOKE_DB_URL=postgresql://app:pg-pass-51c2@db.example.test/app\n"
    )
    settings = load_server_settings(
        {
            "token": "t0k3n-for-tests",
            "profiles_dir": tmp_path,
            "data_dir": tmp_path / "data",
            "alert_webhook_url": receiver.url("/hook"),
            "alert_webhook_secret": WEBHOOK_SECRET,
            "alert_attempts": 1,
        }
    )
    notifier = Notifier.from_settings(settings)
    notifier.notify(
        make_alert(reasons=("got 401 with orders-token-7f3a9c", "pg-pass-51c2 refused"))
    )
    await notifier.aclose()
    body = receiver.at("/hook")[0].json()
    assert body["reasons"] == ["got 401 with ***", "*** refused"]


def test_no_targets_no_deliveries(tmp_path: Path) -> None:
    notifier = Notifier([])
    notifier.notify(make_alert())  # no loop needed: nothing is scheduled
    assert notifier.pending == 0
    with pytest.raises(ValueError, match="attempts"):
        Notifier([], attempts=0)

"""Alerts of ``smoke-gate serve``: what an incident says, shaped for each target, and delivered.

An :class:`Alert` (made by :mod:`.incidents` when a profile's verdict turns bad or good again)
goes to every target the settings name, each optional:

``webhook``
    a JSON body (:func:`webhook_body`) signed with HMAC-SHA256 of the raw body under
    ``SMOKE_SERVER_ALERT_WEBHOOK_SECRET``: ``X-Smoke-Gate-Signature: sha256=<hex>``, with
    ``X-Smoke-Gate-Timestamp`` (Unix seconds, also in the signed body as ``sent_at``, so a
    receiver can refuse replays), ``X-Smoke-Gate-Event`` and ``X-Smoke-Gate-Delivery`` (one ID
    per delivery, the same on every retry).
``slack``
    a Slack incoming webhook message: ``text`` (the notification) and Block Kit ``blocks``.
``teams``
    a Microsoft Teams workflow webhook message carrying an Adaptive Card 1.4.
``pagerduty``
    a PagerDuty Events API v2 event: ``trigger``, then ``resolve`` under the same ``dedup_key``
    (one per profile, :attr:`Alert.dedup_key`).

:class:`Notifier` delivers them and never blocks or fails its caller: :meth:`Notifier.notify`
only schedules one background task per target. Each retries (tenacity, exponential backoff with
jitter, ``Retry-After`` honoured) on connection errors, timeouts, 429 and 5xx, at most
``attempts`` attempts of at most ``timeout`` seconds each, and logs one line when it ends: the
target kind, the outcome, the attempts and the HTTP status; never a URL, a key or a secret. The
alerts of one profile reach a target in the order they were made (a resolve never overtakes its
trigger). Every text of an alert is scrubbed by the profile's masker (``masker_for``) and by one
that knows the targets' own URLs and keys.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import urlsplit

from pytest_smoke import __version__
from pytest_smoke.masking import Masker
from pytest_smoke.server import logs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime

    import httpx
    from tenacity import RetryCallState

    from pytest_smoke.server.settings import ServerSettings

Action = Literal["trigger", "resolve"]
Kind = Literal["webhook", "slack", "teams", "pagerduty"]

#: the header with ``sha256=<hex HMAC-SHA256 of the raw body>`` (webhook target)
SIGNATURE_HEADER: Final = "X-Smoke-Gate-Signature"
#: the header with the Unix time the delivery was made (the body's ``sent_at``)
TIMESTAMP_HEADER: Final = "X-Smoke-Gate-Timestamp"
EVENT_HEADER: Final = "X-Smoke-Gate-Event"
DELIVERY_HEADER: Final = "X-Smoke-Gate-Delivery"
#: PagerDuty's severity per verdict that opens an incident
SEVERITY: Final = {"ROLLBACK": "critical", "INVESTIGATE": "error"}
#: the most reasons, causes and tests per cause a message lists (the rest: "and N more")
MAX_ITEMS: Final = 10
MAX_TESTS: Final = 5
#: statuses worth another attempt; every other non-2xx answer is final
RETRY_STATUSES: Final = frozenset({408, 425, 429})
USER_AGENT: Final = f"smoke-gate/{__version__}"
# limits of the targets: Slack header 150 and section text 3000 characters, PagerDuty's
# summary 1024 and dedup_key 255
_SLACK_HEADER: Final = 150
_SLACK_TEXT: Final = 3000
_PD_SUMMARY: Final = 1024
_PD_DEDUP: Final = 255


class Scrubber(Protocol):
    """What masks secret values in a text (:class:`~pytest_smoke.masking.Masker`)."""

    def scrub(self, text: str) -> str: ...


@dataclass(frozen=True)
class Cause:
    """A root cause the gate grouped failures under, and the tests it failed."""

    cause: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Alert:
    """One incident event of a profile: opened (``trigger``) or over (``resolve``).

    ``verdict`` is the run's that made the event (ROLLBACK or INVESTIGATE for a trigger,
    PROCEED or MONITOR for a resolve), ``previous_verdict`` the one before it; ``reasons`` and
    ``causes`` are that run's report's.
    """

    action: Action
    profile: str
    version: str | None
    verdict: str
    previous_verdict: str | None
    reasons: tuple[str, ...]
    causes: tuple[Cause, ...]
    run_id: str
    #: the run in the API (``{public_url}/runs/{id}``) and on the dashboard (``/ui/runs/{id}``)
    run_url: str
    dashboard_url: str
    #: the service as people reach it (``public_url``)
    service_url: str
    finished_at: datetime | None = None

    @property
    def dedup_key(self) -> str:
        """One key per profile: PagerDuty resolves the incident its trigger opened."""
        return f"smoke-gate/{self.profile}"[:_PD_DEDUP]

    @property
    def title(self) -> str:
        """``ROLLBACK: staging 1.4.2`` or ``Resolved: staging 1.4.3 is PROCEED``."""
        name = f"{self.profile} {self.version}" if self.version else self.profile
        if self.action == "trigger":
            return f"{self.verdict}: {name}"
        return f"Resolved: {name} is {self.verdict}"

    @property
    def summary(self) -> str:
        """The title and the first reason: one line for a notification."""
        if self.action == "trigger" and self.reasons:
            return f"{self.title}: {self.reasons[0]}"
        if self.action == "resolve" and self.previous_verdict:
            return f"{self.title} (was {self.previous_verdict})"
        return self.title

    def scrubbed(self, scrub: Callable[[str], str]) -> Alert:
        """The alert with ``scrub`` applied to every text in it."""

        def optional(text: str | None) -> str | None:
            return None if text is None else scrub(text)

        return replace(
            self,
            profile=scrub(self.profile),
            version=optional(self.version),
            reasons=tuple(scrub(reason) for reason in self.reasons),
            causes=tuple(
                Cause(scrub(cause.cause), tuple(scrub(test) for test in cause.tests))
                for cause in self.causes
            ),
        )


# --- payloads -----------------------------------------------------------------------------------


def webhook_body(alert: Alert, *, sent_at: int, delivery: str) -> dict[str, Any]:
    """The generic webhook's JSON body."""
    return {
        "event": alert.action,
        "incident": alert.dedup_key,
        "summary": alert.summary,
        "profile": alert.profile,
        "version": alert.version,
        "verdict": alert.verdict,
        "previous_verdict": alert.previous_verdict,
        "reasons": list(alert.reasons),
        "causes": [{"cause": cause.cause, "tests": list(cause.tests)} for cause in alert.causes],
        "run": {
            "id": alert.run_id,
            "url": alert.run_url,
            "dashboard_url": alert.dashboard_url,
            "finished_at": alert.finished_at.isoformat() if alert.finished_at else None,
        },
        "service": alert.service_url,
        "sent_at": sent_at,
        "delivery": delivery,
    }


def signature(secret: str, body: bytes) -> str:
    """The ``X-Smoke-Gate-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_message(alert: Alert) -> dict[str, Any]:
    """A Slack incoming webhook message: ``text`` (notifications) and Block Kit ``blocks``."""
    icon = ":rotating_light:" if alert.action == "trigger" else ":white_check_mark:"
    facts = [
        ("Profile", _slack_escape(alert.profile)),
        ("Version", _slack_escape(alert.version or "not given")),
        ("Verdict", alert.verdict + (f" (was {alert.previous_verdict})" * _was(alert))),
        ("Run", f"<{alert.dashboard_url}|{alert.run_id}>"),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(alert.title, _SLACK_HEADER)},
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in facts],
        },
    ]
    for heading, lines in _sections(alert):
        text = f"*{heading}*\n" + "\n".join(f"• {_slack_escape(line)}" for line in lines)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SLACK_TEXT)}}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open the run"},
                    "url": alert.dashboard_url,
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Report (JSON)"},
                    "url": alert.run_url,
                },
            ],
        }
    )
    return {"text": f"{icon} {_slack_escape(alert.summary)}", "blocks": blocks}


def teams_message(alert: Alert) -> dict[str, Any]:
    """A Teams workflow webhook message: one Adaptive Card 1.4 attachment."""
    colour = {"ROLLBACK": "Attention", "INVESTIGATE": "Warning"}.get(alert.verdict, "Good")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": alert.title,
            "size": "Large",
            "weight": "Bolder",
            "color": colour,
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Profile", "value": alert.profile},
                {"title": "Version", "value": alert.version or "not given"},
                {
                    "title": "Verdict",
                    "value": alert.verdict + (f" (was {alert.previous_verdict})" * _was(alert)),
                },
                {"title": "Run", "value": alert.run_id},
            ],
        },
    ]
    for heading, lines in _sections(alert):
        body.append({"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": True})
        body.append({"type": "TextBlock", "text": "\n".join(f"- {x}" for x in lines), "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open the run", "url": alert.dashboard_url},
            {"type": "Action.OpenUrl", "title": "Report (JSON)", "url": alert.run_url},
        ],
        "msteams": {"width": "Full"},
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def pagerduty_event(alert: Alert, routing_key: str) -> dict[str, Any]:
    """A PagerDuty Events API v2 event: a ``trigger`` with its payload and links, or a
    ``resolve`` (routing key, action and dedup key are all a resolve needs)."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": alert.action,
        "dedup_key": alert.dedup_key,
    }
    if alert.action == "resolve":
        return event
    source = urlsplit(alert.service_url).netloc or alert.service_url
    event["payload"] = {
        "summary": _cut(alert.summary, _PD_SUMMARY),
        "source": source,
        "severity": SEVERITY.get(alert.verdict, "error"),
        "component": alert.profile,
        "group": "smoke-gate",
        "class": alert.verdict,
        "custom_details": {
            "profile": alert.profile,
            "version": alert.version,
            "verdict": alert.verdict,
            "previous_verdict": alert.previous_verdict,
            "reasons": list(alert.reasons),
            "causes": [{"cause": c.cause, "tests": list(c.tests)} for c in alert.causes],
            "run_id": alert.run_id,
        },
    }
    if alert.finished_at is not None:
        event["payload"]["timestamp"] = alert.finished_at.isoformat()
    event["links"] = [
        {"href": alert.dashboard_url, "text": f"smoke-gate run {alert.run_id}"},
        {"href": alert.run_url, "text": "the run's report (JSON)"},
    ]
    event["client"] = "smoke-gate"
    event["client_url"] = f"{alert.service_url}/ui"
    return event


def _was(alert: Alert) -> bool:
    return alert.previous_verdict is not None and alert.previous_verdict != alert.verdict


def _sections(alert: Alert) -> list[tuple[str, list[str]]]:
    """The alert's reasons and causes as lists of lines, cut at :data:`MAX_ITEMS`."""
    sections = []
    if alert.reasons:
        sections.append(("Reasons", _at_most(alert.reasons, MAX_ITEMS, "reasons")))
    if alert.causes:
        lines = []
        for cause in alert.causes:
            tests = ", ".join(_at_most(cause.tests, MAX_TESTS, "tests"))
            count = len(cause.tests)
            lines.append(f"{cause.cause}: {count} test{'s' * (count != 1)} ({tests})")
        sections.append(("Causes", _at_most(lines, MAX_ITEMS, "causes")))
    return sections


def _at_most(items: Sequence[str], limit: int, noun: str) -> list[str]:
    if len(items) <= limit:
        return list(items)
    return [*items[: limit - 1], f"and {len(items) - limit + 1} more {noun}"]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    # the three characters Slack's mrkdwn reserves for its own markup
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- targets and delivery -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where alerts go: a ``kind`` and its URL; ``secret`` is the webhook's HMAC key or
    PagerDuty's routing key. Neither URL nor secret is ever logged or shown."""

    kind: Kind
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)

    def render(self, alert: Alert, *, sent_at: int, delivery: str) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers of one delivery of ``alert`` to this target."""
        headers = {"Content-Type": "application/json"}
        document: dict[str, Any]
        if self.kind == "webhook":
            document = webhook_body(alert, sent_at=sent_at, delivery=delivery)
            headers[TIMESTAMP_HEADER] = str(sent_at)
            headers[EVENT_HEADER] = alert.action
            headers[DELIVERY_HEADER] = delivery
        elif self.kind == "slack":
            document = slack_message(alert)
        elif self.kind == "teams":
            document = teams_message(alert)
        else:
            document = pagerduty_event(alert, self.secret or "")
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        if self.kind == "webhook" and self.secret:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        return body, headers


def targets_from_settings(settings: ServerSettings) -> list[Target]:
    """The targets the settings name (``SMOKE_SERVER_ALERT_*``), in a fixed order."""
    targets: list[Target] = []
    if settings.alert_webhook_url:
        secret = settings.alert_webhook_secret
        key = secret.get_secret_value() if secret is not None else None
        targets.append(Target("webhook", settings.alert_webhook_url, key))
    if settings.alert_slack_url is not None:
        targets.append(Target("slack", settings.alert_slack_url.get_secret_value()))
    if settings.alert_teams_url is not None:
        targets.append(Target("teams", settings.alert_teams_url.get_secret_value()))
    if settings.alert_pagerduty_routing_key is not None:
        key = settings.alert_pagerduty_routing_key.get_secret_value()
        targets.append(Target("pagerduty", settings.alert_pagerduty_url, key))
    return targets


class DeliveryRefused(Exception):
    """The target answered with a status that is not 2xx."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """429, 408, 425 and 5xx may go through later; any other answer will not."""
        return self.status in RETRY_STATUSES or self.status >= 500


class _LogScrubber(logging.Filter):
    """Scrubs the targets' URLs out of httpx's own request lines (``HTTP Request: POST URL``)."""

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self._masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._masker.scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


class Notifier:
    """Delivers alerts to the targets in the background; see the module's docstring.

    ``timeout``: seconds per attempt; ``attempts``: attempts per delivery (1 = no retry);
    ``backoff``: the first wait between attempts (doubling, with as much jitter, up to
    ``max_backoff``); ``masker_for(profile)``: the profile's masker (called in a thread; it may
    read the profile's file).
    """

    def __init__(
        self,
        targets: Iterable[Target],
        *,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        masker_for: Callable[[str], Scrubber] | None = None,
    ) -> None:
        if timeout <= 0 or attempts < 1 or backoff < 0:
            raise ValueError("timeout must be > 0, attempts >= 1 and backoff >= 0")
        self._targets = tuple(targets)
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._masker_for = masker_for
        self._own = Masker()
        for target in self._targets:
            for secret in (target.url, target.secret):
                self._own.add(secret)
            if target.kind in ("slack", "teams"):  # the path is the credential there
                split = urlsplit(target.url)
                self._own.add(split.path + (f"?{split.query}" if split.query else ""))
        self._log_filter = _LogScrubber(self._own)
        if self._own:
            logging.getLogger("httpx").addFilter(self._log_filter)
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._preparing: set[asyncio.Task[Alert]] = set()
        self._tails: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._closed = False

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> Notifier:
        """The notifier of the service: its targets, timeout and attempts from ``settings``,
        each profile's texts scrubbed with the masker of its ``.env.NAME`` file."""
        profiles_dir = settings.profiles_dir

        def masker_for(profile: str) -> Scrubber:
            from pytest_smoke.server.executor import profile_policy_and_masker

            return profile_policy_and_masker(profiles_dir, profile)[1]

        return cls(
            targets_from_settings(settings),
            timeout=settings.alert_timeout,
            attempts=settings.alert_attempts,
            masker_for=masker_for,
        )

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of the targets (``webhook``, ``slack``, ``teams``, ``pagerduty``)."""
        return tuple(target.kind for target in self._targets)

    @property
    def pending(self) -> int:
        """Deliveries not ended yet."""
        return len(self._tasks)

    def notify(self, alert: Alert) -> None:
        """Send ``alert`` to every target in the background; returns at once, never raises.

        Call it from the event loop. After :meth:`aclose`, alerts are dropped (and logged).
        """
        if not self._targets:
            return
        if self._closed:
            logs.run_log(
                alert.run_id, "alert dropped: the notifier is closed", level=logging.WARNING
            )
            return
        prepared = asyncio.create_task(self._prepare(alert))
        self._preparing.add(prepared)
        prepared.add_done_callback(self._preparing.discard)
        for index, target in enumerate(self._targets):
            key = (index, alert.profile)
            task = asyncio.create_task(
                self._deliver(self._tails.get(key), prepared, target, alert.action, alert.run_id)
            )
            self._tails[key] = task
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._ended, key=key))

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for every delivery to end; whether they all did."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks or self._preparing:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.wait({*self._tasks, *self._preparing}, timeout=left)
        return True

    async def aclose(self, timeout: float = 10.0) -> None:
        """Stop: wait up to ``timeout`` s for the deliveries under way, cancel the rest (logged
        with their count), close the HTTP client. Later alerts are dropped."""
        self._closed = True
        if not await self.wait_idle(timeout):
            logs.log.warning(
                "alerts abandoned at shutdown",
                extra={"deliveries": len(self._tasks), "timeout": timeout},
            )
            left: set[asyncio.Future[Any]] = {*self._tasks, *self._preparing}
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=1.0)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        logging.getLogger("httpx").removeFilter(self._log_filter)

    def _ended(self, task: asyncio.Task[None], key: tuple[int, str]) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    async def _prepare(self, alert: Alert) -> Alert:
        """The alert scrubbed by the profile's masker and the targets' own secrets."""
        scrubbers: list[Scrubber] = []
        if self._masker_for is not None:
            try:
                scrubbers.append(await asyncio.to_thread(self._masker_for, alert.profile))
            except Exception as error:  # an unreadable profile: its report was masked already
                logs.run_log(
                    alert.run_id,
                    "the profile's masker is not available for the alert",
                    level=logging.WARNING,
                    profile=alert.profile,
                    error=type(error).__name__,
                )
        scrubbers.append(self._own)

        def scrub(text: str) -> str:
            for scrubber in scrubbers:
                text = scrubber.scrub(text)
            return text

        return alert.scrubbed(scrub)

    async def _deliver(
        self,
        previous: asyncio.Task[None] | None,
        prepared: asyncio.Task[Alert],
        target: Target,
        action: str,
        run_id: str,
    ) -> None:
        if previous is not None:  # the profile's earlier alert first (its outcome is logged)
            await asyncio.wait({previous})
        fields: dict[str, Any] = {"target": target.kind, "action": action}
        attempts = status = 0
        try:
            alert = await asyncio.shield(prepared)
            fields["profile"] = alert.profile
            body, headers = target.render(
                alert, sent_at=int(time.time()), delivery=uuid.uuid4().hex
            )
            from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

            retrying = AsyncRetrying(
                stop=stop_after_attempt(self._attempts),
                wait=self._wait,
                retry=retry_if_exception(_retryable),
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    status = await self._post(target.url, body, headers)
        except asyncio.CancelledError:
            logs.run_log(
                run_id,
                "alert not delivered",
                level=logging.WARNING,
                **fields,
                outcome="cancelled",
                attempts=attempts,
            )
            raise
        except Exception as error:
            failure = error.status if isinstance(error, DeliveryRefused) else None
            logs.run_log(
                run_id,
                "alert not delivered",
                level=logging.WARNING,
                **fields,
                outcome="gave up",
                attempts=attempts,
                status=failure,
                error=str(error) if failure else type(error).__name__,
            )
        else:
            logs.run_log(
                run_id,
                "alert delivered",
                **fields,
                outcome="delivered",
                attempts=attempts,
                status=status,
            )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, DeliveryRefused) and error.retry_after is not None:
            return min(error.retry_after, self._max_backoff)
        exponent = max(state.attempt_number - 1, 0)
        delay = min(self._backoff * float(2**exponent), self._max_backoff)
        return delay + random.uniform(0, self._backoff)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        client = self._http()
        async with asyncio.timeout(self._timeout):  # the whole attempt, not each read
            response = await client.post(url, content=body, headers=headers)
        status = response.status_code
        if not 200 <= status < 300:
            raise DeliveryRefused(status, _retry_after(response.headers.get("Retry-After")))
        return status

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client


def _retryable(error: BaseException) -> bool:
    import httpx

    if isinstance(error, DeliveryRefused):
        return error.retryable
    return isinstance(error, httpx.TransportError | TimeoutError)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is not worth parsing here)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None

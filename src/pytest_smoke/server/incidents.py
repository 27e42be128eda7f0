"""Incidents: a profile whose verdict turns bad opens one, the first good verdict after closes it.

:class:`IncidentTracker` follows the verdict of each profile's finished runs, in the order the
service records them:

- PROCEED, MONITOR or nothing known -> ROLLBACK or INVESTIGATE: one ``trigger`` alert;
- bad -> bad (ROLLBACK -> INVESTIGATE too): nothing, the incident is open already;
- bad -> PROCEED or MONITOR: one ``resolve`` alert;
- a run without a verdict, or cancelled, changes nothing; a run that finished before the last
  one seen for its profile (recorded late) changes nothing either.

:meth:`~IncidentTracker.seed` starts it from the history (the last finished run per profile,
``RunStore.latest_verdicts``), so a restarted service neither alerts again for an incident it
opened before nor forgets to resolve it. Alerts go to a :class:`AlertSink`
(:class:`~.alerts.Notifier`), which delivers them in the background: :meth:`observe` does no I/O.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final, Protocol

from pytest_smoke.server import logs
from pytest_smoke.server.alerts import Action, Alert, Cause
from pytest_smoke.server.runs import RunState

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from pytest_smoke.server.store import RunRecord

#: the verdicts that open an incident
BAD_VERDICTS: Final = frozenset({"ROLLBACK", "INVESTIGATE"})
#: the verdicts that close one
GOOD_VERDICTS: Final = frozenset({"PROCEED", "MONITOR"})


class AlertSink(Protocol):
    """Where alerts go (:class:`~.alerts.Notifier`): ``notify`` returns at once."""

    def notify(self, alert: Alert) -> None: ...
    async def aclose(self, timeout: float = 10.0) -> None: ...


class IncidentTracker:
    """The open incidents of the service's profiles; alerts on each opening and closing.

    ``public_url`` is the service as people reach it: alerts link ``{public_url}/runs/{id}``
    and ``{public_url}/ui/runs/{id}``.
    """

    def __init__(self, notifier: AlertSink, public_url: str) -> None:
        self._notifier = notifier
        self._public_url = public_url.rstrip("/")
        self._verdicts: dict[str, str] = {}
        self._finished: dict[str, datetime] = {}

    @property
    def open_incidents(self) -> dict[str, str]:
        """Profile -> its bad verdict, for the profiles with an incident open."""
        return {p: v for p, v in self._verdicts.items() if v in BAD_VERDICTS}

    def seed(self, latest: Mapping[str, RunRecord]) -> None:
        """Start from the last finished run of each profile (``RunStore.latest_verdicts``)."""
        for profile, record in latest.items():
            if record.verdict is not None and record.verdict in BAD_VERDICTS | GOOD_VERDICTS:
                self._verdicts[profile] = record.verdict
                if record.finished_at is not None:
                    self._finished[profile] = record.finished_at

    async def observe(self, record: RunRecord) -> None:
        """A run's end was recorded: alert if its profile's incident opens or closes.

        Returns at once: the alert is delivered in the background. Give the record with its
        report (``RunStore.get``): the alert's reasons and causes come from it.
        """
        verdict = record.verdict
        if verdict is None or verdict not in BAD_VERDICTS | GOOD_VERDICTS:
            return
        if record.state == RunState.CANCELLED:
            return
        profile = record.profile
        last = self._finished.get(profile)
        if last is not None and record.finished_at is not None and record.finished_at < last:
            return  # recorded after a newer run of the profile: that one has the say
        if record.finished_at is not None:
            self._finished[profile] = record.finished_at
        previous = self._verdicts.get(profile)
        self._verdicts[profile] = verdict
        was_bad = previous in BAD_VERDICTS
        if (verdict in BAD_VERDICTS) == was_bad:
            return
        try:
            alert = self.alert(record, "resolve" if was_bad else "trigger", previous)
            logs.run_log(
                record.id,
                "incident opened" if alert.action == "trigger" else "incident resolved",
                level=logging.WARNING if alert.action == "trigger" else logging.INFO,
                profile=profile,
                version=alert.version,
                verdict=verdict,
                previous_verdict=previous,
            )
            self._notifier.notify(alert)
        except Exception:  # an alert never fails the run that made it
            logs.log.exception("the alert was not sent", extra={"run_id": record.id})

    def alert(self, record: RunRecord, action: Action, previous: str | None) -> Alert:
        """The alert ``record`` makes: its profile, version, verdict, reasons, causes, links."""
        document = record.document or {}
        return Alert(
            action=action,
            profile=record.profile,
            version=record.version or record.request.version,
            verdict=record.verdict or "",
            previous_verdict=previous,
            reasons=tuple(str(reason) for reason in _list(document.get("reasons"))),
            causes=tuple(_causes(document.get("causes"))),
            run_id=record.id,
            run_url=f"{self._public_url}/runs/{record.id}",
            dashboard_url=f"{self._public_url}/ui/runs/{record.id}",
            service_url=self._public_url,
            finished_at=record.finished_at,
        )

    async def aclose(self, timeout: float = 10.0) -> None:
        """Let the alerts under way end (up to ``timeout`` s), then stop the notifier."""
        await self._notifier.aclose(timeout)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _causes(value: Any) -> list[Cause]:
    causes = []
    for item in _list(value):
        if isinstance(item, dict) and isinstance(item.get("cause"), str):
            tests = tuple(str(test) for test in _list(item.get("tests")))
            causes.append(Cause(item["cause"], tests))
    return causes

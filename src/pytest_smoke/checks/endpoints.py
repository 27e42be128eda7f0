"""The endpoint list of the checks file (``[[endpoints]]``), fetched all at once.

Each entry is a :class:`~pytest_smoke.checks.step.Step` with a name (its test id) and a
``critical`` flag; ``[endpoint_defaults]`` gives what an entry does not say (auth, latency
limit) and how the list is fetched: :func:`fetch` sends every request at once, at most
``concurrency`` in flight (that many workers, each sending its next request as soon as it has
an answer), and returns one :class:`~pytest_smoke.checks.step.Outcome` per
endpoint, so that each test only reads its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_smoke.checks.step import Outcome, Step, run
from pytest_smoke.checks.templates import new_marker

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    import httpx

    from pytest_smoke.checks.model import Checks


@dataclass(frozen=True)
class EndpointDefaults:
    """``[endpoint_defaults]``, its documented defaults filled in."""

    concurrency: int
    timeout_seconds: float
    auth: bool
    latency_ms: int | None


@dataclass(frozen=True)
class Endpoint:
    """One ``[[endpoints]]`` entry: its name (the test id), criticality and request."""

    name: str
    critical: bool
    step: Step

    @property
    def writes(self) -> bool:
        """Whether its request may change the deployment (an unsafe method)."""
        return self.step.writes


def endpoint_defaults(checks: Checks) -> EndpointDefaults:
    """``[endpoint_defaults]`` of ``checks``; the documented defaults when it has none."""
    from pytest_smoke.checks.defaults import apply_defaults

    table: Mapping[str, Any] = (
        checks.section("endpoint_defaults")
        or apply_defaults({"endpoint_defaults": {}})["endpoint_defaults"]
    )
    return EndpointDefaults(
        concurrency=table["concurrency"],
        timeout_seconds=float(table["timeout_seconds"]),
        auth=table["auth"],
        latency_ms=table.get("latency_ms"),
    )


def endpoints_of(checks: Checks) -> list[Endpoint]:
    """The ``[[endpoints]]`` of ``checks`` in file order (empty when it has none)."""
    defaults = endpoint_defaults(checks)
    return [
        Endpoint(
            name=table["name"],
            critical=table["critical"],
            step=Step.from_table(
                table, key=f"endpoints[{index}]", auth=defaults.auth, latency_ms=defaults.latency_ms
            ),
        )
        for index, table in enumerate(checks.get("endpoints") or [])
    ]


async def fetch(
    client: httpx.AsyncClient,
    endpoints: Iterable[Endpoint],
    *,
    concurrency: int,
    timeout: float | None = None,
    auth_headers: Mapping[str, str] | None = None,
    marker: Callable[[], str] = new_marker,
) -> dict[str, Outcome]:
    """Request every endpoint, at most ``concurrency`` at once; each one's outcome by name.

    Each request gets a marker of its own for ``{marker}``; ``auth_headers`` go with the
    endpoints whose ``auth`` is true; ``timeout`` bounds each request. Never raises for what an
    endpoint answers: that is in its outcome.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    pending = list(endpoints)
    pending.reverse()  # popped from the end: file order
    outcomes: dict[str, Outcome] = {}

    async def worker() -> None:
        # A worker sends its next request as soon as it has judged an answer, in the same task:
        # a slot freed by a semaphore would wait for every task woken before it.
        while pending:
            endpoint = pending.pop()
            outcomes[endpoint.name] = await run(
                endpoint.step,
                client,
                {"marker": marker()},
                auth_headers=auth_headers,
                timeout=timeout,
            )

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(pending)))))
    return outcomes

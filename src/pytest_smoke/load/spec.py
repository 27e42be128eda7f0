"""The checks file's ``[load]`` table as plain values, and what its schema cannot say.

A burst sends its targets either at a constant arrival rate (``rate``, open loop: request ``i``
is due at ``i / rate`` seconds, whatever the server does) or from a fixed number of workers
(``concurrency``, closed loop: each sends its next request when its last one is answered), for
``duration_seconds``. Exactly one of ``rate`` and ``concurrency`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

#: How the burst picks the target of each request (see :mod:`pytest_smoke.load.schedule`).
STRATEGIES: Final = ("sequential", "interleaved", "random")
#: Methods that change nothing on the server; any other makes the burst one that writes.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Requests in flight at once, at most, in either mode; also the client's connection limit.
#: At a constant arrival rate the scheduler waits for a free slot beyond it, and the wait
#: counts in each late request's latency (measured from when it was due).
MAX_IN_FLIGHT: Final = 256
#: The burst's test ids: every target, or (under a read-only profile) the safe ones alone.
ALL: Final = "all"
SAFE: Final = "safe"

Location = Sequence[str | int]


@dataclass(frozen=True)
class Target:
    """One ``[[load.targets]]`` entry: a request and its share of the burst."""

    method: str
    path: str
    weight: int = 1

    @property
    def writes(self) -> bool:
        """Whether the request may change the deployment (an unsafe method)."""
        return self.method not in SAFE_METHODS

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Thresholds:
    """k6-style limits; ``None`` is no limit. A value above its limit fails the burst."""

    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate_percent: float | None = None


@dataclass(frozen=True)
class LoadSpec:
    """A whole burst: what to send, how, for how long, and what it must stay under."""

    targets: tuple[Target, ...]
    duration_seconds: float
    rate: float | None = None
    concurrency: int | None = None
    strategy: str = "interleaved"
    auth: bool = False
    timeout_seconds: float = 10.0
    thresholds: Thresholds = Thresholds()

    def __post_init__(self) -> None:
        if (self.rate is None) == (self.concurrency is None):
            raise ValueError("set exactly one of rate and concurrency")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be above 0, got {self.rate}")
        if self.concurrency is not None and not 1 <= self.concurrency <= MAX_IN_FLIGHT:
            raise ValueError(f"concurrency must be from 1 to {MAX_IN_FLIGHT}")
        if self.duration_seconds <= 0 or self.timeout_seconds <= 0:
            raise ValueError("duration_seconds and timeout_seconds must be above 0")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        if not self.targets or any(t.weight < 1 for t in self.targets):
            raise ValueError("a burst needs at least one target, each of weight 1 or more")

    @property
    def open_loop(self) -> bool:
        """A constant arrival rate (``rate``), as opposed to fixed concurrency."""
        return self.rate is not None

    @property
    def writes(self) -> bool:
        """Whether any target may change the deployment."""
        return any(target.writes for target in self.targets)

    def with_marker(self, marker: str) -> LoadSpec:
        """The burst with ``{marker}`` in its paths replaced by ``marker`` (one per burst)."""
        from pytest_smoke.checks.templates import fill

        return replace(
            self, targets=tuple(replace(t, path=fill(t.path, marker=marker)) for t in self.targets)
        )


def load_spec(table: Mapping[str, Any]) -> LoadSpec:
    """The burst of a validated ``[load]`` table (defaults filled in, as ``Checks`` has it)."""
    limits = table.get("thresholds") or {}
    return LoadSpec(
        targets=tuple(
            Target(str(t.get("method", "GET")), str(t["path"]), int(t.get("weight", 1)))
            for t in table["targets"]
        ),
        duration_seconds=float(table["duration_seconds"]),
        rate=None if table.get("rate") is None else float(table["rate"]),
        concurrency=None if table.get("concurrency") is None else int(table["concurrency"]),
        strategy=str(table.get("strategy", "interleaved")),
        auth=bool(table.get("auth", False)),
        timeout_seconds=float(table.get("timeout_seconds", 10)),
        thresholds=Thresholds(
            p95_ms=_number(limits.get("p95_ms")),
            p99_ms=_number(limits.get("p99_ms")),
            error_rate_percent=_number(limits.get("error_rate_percent")),
        ),
    )


def bursts(spec: LoadSpec, *, read_only: bool) -> list[tuple[str, LoadSpec]]:
    """The bursts a run makes, by test id: ``all`` targets (a check that writes when one of
    them does); and, under a read-only profile where ``all`` is not run because it writes,
    ``safe``: the same burst with the safe targets alone, so a read-only run still gets one."""
    found = [(ALL, spec)]
    safe = tuple(target for target in spec.targets if not target.writes)
    if read_only and spec.writes and safe:
        found.append((SAFE, replace(spec, targets=safe)))
    return found


def load_problems(document: Mapping[str, Any]) -> Iterator[tuple[Location, str]]:
    """What the schema cannot say about a schema-valid file's ``[load]``: exactly one of
    ``rate`` and ``concurrency``; no placeholder but ``{marker}`` in a target's path. Each
    problem is one ``(location, message)`` pair."""
    from pytest_smoke.checks.templates import placeholders

    table = document.get("load")
    if not isinstance(table, Mapping):
        return
    for index, target in enumerate(table.get("targets") or []):
        for name in placeholders(target.get("path", "")):
            if name != "marker":
                yield (
                    ["load", "targets", index, "path"],
                    f"unknown placeholder {{{name}}}; use {{marker}} "
                    f"(or {{{{{name}}}}} for literal braces)",
                )
    given = [key for key in ("rate", "concurrency") if key in table]
    if len(given) != 1:
        what = "both are set" if given else "neither is set"
        yield (
            ["load"],
            "set exactly one of rate (requests per second, a constant arrival rate) and "
            f"concurrency (workers, each sending when its last request is answered); {what}",
        )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)

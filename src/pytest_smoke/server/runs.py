"""What a run of the service is: its request, its states and its outcome (shared by the service).

A :class:`RunRequest` names a profile (a ``.env.NAME`` file of the profiles directory) and what
to run of it; :func:`validate_request` refuses, in one line, a request that cannot run. A run goes
``queued`` -> ``running`` -> one of the terminal states (:data:`TERMINAL`) and ends with a
:class:`RunOutcome`: its exit status and its JSON report
(``reports/smoke-gate-report.schema.json``).
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.markers import DEPENDENCY_MARKERS

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping


class RunState(enum.StrEnum):
    """Where a run is; DONE, TIMED_OUT, CANCELLED and CRASHED are terminal."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"
    CRASHED = "crashed"

    @property
    def terminal(self) -> bool:
        """Whether a run in this state has ended."""
        return self in TERMINAL


#: The states a run ends in.
TERMINAL: Final = frozenset(
    {RunState.DONE, RunState.TIMED_OUT, RunState.CANCELLED, RunState.CRASHED}
)

#: The document-000 endpoints -> the dependency categories they run (markers.DEPENDENCY_MARKERS).
TEST_ENDPOINT_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    "db": ("database",),
    "apis": ("service",),
    "secrets": ("secrets",),
    "metrics": ("metrics",),
}


class RunRequestError(ValueError):
    """A run request that cannot run; the message is one line, fit for an API answer."""


@dataclass(frozen=True)
class RunRequest:
    """What to run: a profile, and which of its smoke tests."""

    profile: str  # name of a .env.NAME file in the profiles directory
    quick: bool = False  # --smoke-quick (critical only)
    markers: str | None = None  # a pytest -m expression, validated
    categories: tuple[str, ...] = ()  # dependency categories, ORed into -m
    read_only: bool = False  # --smoke-read-only
    version: str | None = None  # the deployed version the run checks (watches, flaky tests)

    def as_json(self) -> dict[str, Any]:
        """The request as JSON values (``categories`` a list): stored, logged and shown."""
        return {
            "profile": self.profile,
            "quick": self.quick,
            "markers": self.markers,
            "categories": list(self.categories),
            "read_only": self.read_only,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, profile: str | None = None) -> RunRequest:
        """The request :meth:`as_json` gave, stored or sent by this or another version: unknown
        fields are dropped, missing ones keep their defaults (``profile``: this one), JSON
        arrays come back as tuples."""
        values: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in data.items()
            if name in _FIELDS
        }
        if profile is not None:
            values.setdefault("profile", profile)
        return cls(**values)

    def key(self) -> tuple[Any, ...]:
        """Identical requests (same key) join the same queued or running run."""
        markers = " ".join(self.markers.split()) if self.markers else None
        return (
            self.profile,
            self.quick,
            markers,
            tuple(sorted(set(self.categories))),
            self.read_only,
            self.version,
        )

    def marker_expression(self) -> str | None:
        """The ``-m`` expression of the run: ``markers`` and the categories ORed, or None."""
        parts = []
        if self.markers and self.markers.strip():
            parts.append(f"({' '.join(self.markers.split())})")
        categories = sorted(set(self.categories))
        if categories:
            parts.append(f"({' or '.join(categories)})")
        return " and ".join(parts) if parts else None


#: The fields of a request this version knows.
_FIELDS: Final = frozenset(field.name for field in fields(RunRequest))


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    state: RunState  # DONE, TIMED_OUT, CANCELLED or CRASHED
    exit_code: int | None  # pytest's (the gate's) exit status
    document: dict[str, Any] | None  # the JSON report (reports/smoke-gate-report.schema.json)
    error: str | None = None  # one line, masked: why it timed out / crashed

    @property
    def verdict(self) -> str | None:
        """The report's verdict (PROCEED, MONITOR, ROLLBACK, INVESTIGATE), or None without one."""
        if self.document is None:
            return None
        verdict = self.document.get("verdict")
        return verdict if isinstance(verdict, str) else None


#: The longest marker expression a request may carry.
MAX_MARKERS_LENGTH: Final = 500


def validate_request(request: RunRequest, profiles: Collection[str]) -> None:
    """Raise :class:`RunRequestError` (one line) for a request that cannot run.

    Refused: an unknown profile, an unknown category, a marker expression that is not pytest's
    ``-m`` syntax (marker names joined with ``and``, ``or``, ``not`` and parentheses; a
    ``name(key=value)`` keyword match too). The expression is parsed in-process with :mod:`ast`:
    pytest's own parser is private, and this grammar is a subset of Python's expressions.
    """
    if request.profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise RunRequestError(f"unknown profile {request.profile!r} (profiles: {known})")
    for category in request.categories:
        if category not in DEPENDENCY_MARKERS:
            known = ", ".join(DEPENDENCY_MARKERS)
            raise RunRequestError(f"unknown category {category!r} (categories: {known})")
    if request.markers is not None:
        _check_marker_expression(request.markers)


def _check_marker_expression(expression: str) -> None:
    text = " ".join(expression.split())
    if not text:
        raise RunRequestError("markers: an empty marker expression")
    if len(text) > MAX_MARKERS_LENGTH:
        raise RunRequestError(f"markers: longer than {MAX_MARKERS_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise RunRequestError(f"markers: not a marker expression: {text!r}") from None
    values = {id(k.value) for k in ast.walk(tree) if isinstance(k, ast.keyword)}
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise RunRequestError(f"markers: not a marker expression: {text!r}")
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.args):
            raise RunRequestError(f"markers: only name(key=value) calls: {text!r}")
        if isinstance(node, ast.keyword) and (
            node.arg is None or not isinstance(node.value, ast.Constant)
        ):
            raise RunRequestError(f"markers: only name(key=value) calls: {text!r}")
        if isinstance(node, ast.Constant) and (
            id(node) not in values or not isinstance(node.value, str | int | bool | type(None))
        ):
            raise RunRequestError(f"markers: only name(key=value) calls: {text!r}")
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
            raise RunRequestError(f"markers: not a marker expression: {text!r}")


_ALLOWED_NODES: Final = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.Name,
    ast.Load,
    ast.Call,
    ast.keyword,
    ast.Constant,
)

"""One request of the checks file, an ``[[endpoints]]`` entry or a workflow step, and its verdict.

A :class:`Step` is the table after defaults: method, path, body and its format, headers, the
statuses it may answer, assertions on the JSON answer (``expect``, JMESPath -> value), values to
keep for later steps (``save``), a latency limit and whether the ``[auth]`` headers go with it.
Its strings are templates (:mod:`.templates`): :func:`run` fills them from ``fields``
(``{"marker": ..., "email": ..., "saved.token": ...}``); a string that is one placeholder alone
takes the value as it is, so a saved integer id is sent as an integer.

:func:`run` never raises for what the deployment answered, or for getting no answer at all: it
returns an :class:`Outcome` whose ``failure`` is one line naming the method, the URL, the status
and the first line of the body, in the style of :mod:`.resource`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.checks.paths import search
from pytest_smoke.checks.resource import first_line, holds, send, statuses_text
from pytest_smoke.checks.templates import fill, placeholders, sole_placeholder

if TYPE_CHECKING:
    import httpx

#: Methods that change nothing on the server: any other makes a check one that writes.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: What a step may answer when its table has no ``status``.
ANY_2XX: Final = frozenset(range(200, 300))
#: The prefix of a placeholder that stands for a value saved by an earlier step.
SAVED: Final = "saved."
#: How much of a value a failure line shows.
_VALUE_CHARS: Final = 80


@dataclass(frozen=True)
class Step:
    """One request and what it must answer; build it with :meth:`from_table`."""

    key: str  #: where it is in the checks file, e.g. ``endpoints[2]``, for messages
    method: str
    path: str  #: a template: a path on the client's base URL, or a full URL
    status: frozenset[int] = ANY_2XX
    body: Any = None
    form: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    save: Mapping[str, str] = field(default_factory=dict)
    auth: bool = False
    latency_ms: int | None = None
    name: str | None = None

    @classmethod
    def from_table(
        cls,
        table: Mapping[str, Any],
        *,
        key: str,
        auth: bool = False,
        latency_ms: int | None = None,
    ) -> Step:
        """The step a checks-file table describes (defaults filled in by the loader).

        ``auth`` and ``latency_ms`` apply when the table does not set its own.
        """
        return cls(
            key=key,
            method=table.get("method", "GET"),
            path=table["path"],
            status=frozenset(table["status"]) if "status" in table else ANY_2XX,
            body=table.get("body"),
            form=table.get("format", "json") == "form",
            headers=dict(table.get("headers") or {}),
            expect=dict(table.get("expect") or {}),
            save=dict(table.get("save") or {}),
            auth=bool(table.get("auth", auth)),
            latency_ms=table.get("latency_ms", latency_ms),
            name=table.get("name"),
        )

    @property
    def writes(self) -> bool:
        """Whether the request may change the deployment (an unsafe method)."""
        return self.method not in SAFE_METHODS

    @property
    def title(self) -> str:
        """How messages name the step: its name, else method and path."""
        return f'"{self.name}"' if self.name else f"{self.method} {self.path}"

    def placeholders(self) -> set[str]:
        """Every placeholder the step's templates use (``marker``, ``saved.token``, ...)."""
        return set(placeholders([self.path, self.body, self.headers, self.expect]))


@dataclass(frozen=True)
class Outcome:
    """What one step got: the answer's status and time, the values saved, and the failure."""

    method: str
    url: str  #: the full URL, without credentials
    status: int | None  #: None when no answer came
    seconds: float
    failure: str | None = None  #: one line; None when the step passed
    saved: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None


def render(value: Any, fields: Mapping[str, Any]) -> Any:
    """``value`` with its templates filled from ``fields``, at any depth.

    A string that is one placeholder alone becomes that field's value, whatever its type;
    any other string gets each placeholder as text. Raises :class:`ValueError` for a
    placeholder without a field.
    """
    if isinstance(value, str):
        name = sole_placeholder(value)
        if name is not None and name in fields:
            return fields[name]
        return fill(value, **fields)
    if isinstance(value, list | tuple):
        return [render(item, fields) for item in value]
    if isinstance(value, Mapping):
        return {key: render(item, fields) for key, item in value.items()}
    return value


async def run(
    step: Step,
    client: httpx.AsyncClient,
    fields: Mapping[str, Any],
    *,
    auth_headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Outcome:
    """Send ``step`` on ``client`` with its templates filled from ``fields``, and judge the answer.

    ``auth_headers`` go with a step whose ``auth`` is true (its own ``headers`` win);
    ``timeout`` (seconds) replaces the client's for this request. Checked in this order: an
    answer came, the status, a JSON body (when something is expected or saved), the values to
    save, ``expect``, the latency. Values are saved from any JSON answer, also one that fails
    later checks, so that cleanup can use them.
    """
    import httpx

    from pytest_smoke.clients.http import ReadOnlyProfileError, describe_connect_error

    method = step.method
    path = str(render(step.path, fields))
    url = url_of(client, step, fields)
    headers = httpx.Headers(dict(auth_headers or {}) if step.auth else {})
    headers.update({name: str(value) for name, value in render(step.headers, fields).items()})
    options: dict[str, Any] = {"headers": headers}
    if step.body is not None:
        options["data" if step.form else "json"] = render(step.body, fields)
    if timeout is not None:
        options["timeout"] = timeout
    started = time.perf_counter()
    try:
        response = await send(client, method, path, **options)
    except (httpx.HTTPError, ReadOnlyProfileError) as error:
        seconds = time.perf_counter() - started
        detail = str(error) if isinstance(error, ReadOnlyProfileError) else None
        return Outcome(
            method,
            url,
            None,
            seconds,
            f"{method} {url}: no answer: {detail or describe_connect_error(error)}",
        )
    seconds = time.perf_counter() - started
    return _judge(step, response, url, seconds, fields)


def _judge(
    step: Step, response: httpx.Response, url: str, seconds: float, fields: Mapping[str, Any]
) -> Outcome:
    method, status = step.method, response.status_code
    answered = f"{method} {url} answered {status}"
    try:
        answer = response.json() if response.content else _no_json()
    except ValueError:
        answer, is_json = None, False
    else:
        is_json = True
    # saved first, from any JSON answer: a failing step's answer may hold what cleanup needs,
    # and a saved secret (a token) is masked before the failure line quotes the body
    saved = {name: search(path, answer) for name, path in step.save.items()} if is_json else {}
    kept = {name: value for name, value in saved.items() if value is not None}

    def outcome(failure: str | None) -> Outcome:
        return Outcome(method, url, status, seconds, failure, kept)

    if status not in step.status:
        target = f" -> {response.headers.get('location', '')}" if response.is_redirect else ""
        return outcome(
            f"{answered}{target}, expected {statuses_text(step.status)}: {first_line(response)}"
        )
    if not step.expect and not step.save:
        return outcome(_too_slow(step, answered, seconds))
    if not is_json:
        return outcome(f"{answered}, not JSON: {first_line(response)}")
    for name, path in step.save.items():
        if saved[name] is None:
            return outcome(
                f"{answered} without a value to save at save.{name} {path!r}: "
                f"{first_line(response)}"
            )
    expected_fields = {**fields, **{SAVED + name: value for name, value in kept.items()}}
    for expression, wanted in step.expect.items():
        expected = render(wanted, expected_fields)
        actual = search(expression, answer)
        if not holds(actual, expected):
            return outcome(
                f"{answered} with {expression} = {_json(actual)}, expected {_json(expected)}: "
                f"{first_line(response)}"
            )
    return outcome(_too_slow(step, answered, seconds))


def _too_slow(step: Step, answered: str, seconds: float) -> str | None:
    if step.latency_ms is None or seconds * 1000 <= step.latency_ms:
        return None
    return f"{answered} in {seconds * 1000:.0f} ms, over its limit of {step.latency_ms} ms"


def _no_json() -> Any:
    raise ValueError("empty body")


def url_of(client: httpx.AsyncClient, step: Step, fields: Mapping[str, Any]) -> str:
    """The full URL ``step`` goes to on ``client``, without credentials, as failure lines and
    the ledger name it."""
    url = client.build_request(step.method, str(render(step.path, fields))).url
    return str(url.copy_with(userinfo=b"")) if url.userinfo else str(url)


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."

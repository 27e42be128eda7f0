"""What the schema cannot say about ``[[endpoints]]`` and ``[[workflows]]``.

Names are unique (each is a test id); ``save`` names can be used as ``{saved.NAME}``;
``expect`` keys and ``save`` values are JMESPath expressions; a form body is flat; every
placeholder is one the table may use: ``{marker}`` in an endpoint; ``{marker}``, ``{email}`` and
``{saved.NAME}`` in a workflow step, where NAME must be saved by an earlier step (for a
``finally`` step: by any step, or an earlier ``finally`` step). Each problem is one
``(location, message)`` pair for :mod:`.validation` to turn into one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from pytest_smoke.checks.paths import compile_path
from pytest_smoke.checks.templates import placeholders, strings_in

Location = Sequence[str | int]

#: The placeholders each kind of table may use (besides ``{saved.NAME}`` in workflows).
ENDPOINT_FIELDS: Final = ("marker",)
STEP_FIELDS: Final = ("marker", "email")
#: The keys of a step whose strings are templates.
TEMPLATE_KEYS: Final = ("path", "body", "headers", "expect")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SAVED: Final = "saved."


def request_problems(document: Mapping[str, Any]) -> Iterator[tuple[Location, str]]:
    """Every problem of the ``[[endpoints]]`` and ``[[workflows]]`` of a schema-valid file."""
    endpoints = document.get("endpoints") or []
    yield from _duplicates(endpoints, "endpoints", "test_endpoint")
    for index, endpoint in enumerate(endpoints):
        yield from _table_problems(endpoint, ["endpoints", index], ENDPOINT_FIELDS, None)
    workflows = document.get("workflows") or []
    yield from _duplicates(workflows, "workflows", "test_workflow")
    for index, workflow in enumerate(workflows):
        saved: set[str] = set()
        for part in ("steps", "finally"):
            for number, step in enumerate(workflow.get(part) or []):
                where: list[str | int] = ["workflows", index, part, number]
                yield from _table_problems(step, where, STEP_FIELDS, saved)
                saved |= set(step.get("save") or {})


def _duplicates(
    tables: Sequence[Mapping[str, Any]], section: str, test: str
) -> Iterator[tuple[Location, str]]:
    first: dict[str, int] = {}
    for index, table in enumerate(tables):
        name = table["name"]
        if name in first:
            yield (
                [section, index, "name"],
                f"{name!r} is also the name of {section}[{first[name]}]; each needs a name of "
                f"its own (the test id is {test}[{name}])",
            )
        first.setdefault(name, index)


def _table_problems(
    table: Mapping[str, Any],
    where: list[str | int],
    fields: Sequence[str],
    saved: set[str] | None,
) -> Iterator[tuple[Location, str]]:
    for name, expression in (table.get("save") or {}).items():
        if not _NAME.fullmatch(name):
            yield (
                [*where, "save", name],
                "not a name for {saved.NAME}: use letters, digits and _, starting with a letter",
            )
        yield from _expression([*where, "save", name], expression)
    for expression in table.get("expect") or {}:
        yield from _expression([*where, "expect", expression], expression)
    if table.get("format") == "form" and "body" in table:
        yield from _form_problems(table["body"], [*where, "body"])
    for key in TEMPLATE_KEYS:
        for place, text in strings_in(table.get(key), [*where, key]):
            for name in placeholders(text):
                problem = _placeholder_problem(name, fields, saved)
                if problem:
                    yield place, problem


def _placeholder_problem(name: str, fields: Sequence[str], saved: set[str] | None) -> str | None:
    if name in fields:
        return None
    if saved is not None and name.startswith(_SAVED):
        key = name.removeprefix(_SAVED)
        if key in saved:
            return None
        return (
            f"uses {{{name}}}, which no earlier step saves; save it first, e.g. "
            f'save = {{ {key} = "<JMESPath into the answer>" }} in a step before this one'
        )
    usable = [f"{{{field}}}" for field in fields] + (["{saved.NAME}"] if saved is not None else [])
    use = ", ".join(usable[:-1]) + f" or {usable[-1]}" if len(usable) > 1 else usable[0]
    return f"unknown placeholder {{{name}}}; use {use} (or {{{{{name}}}}} for literal braces)"


def _expression(where: Location, expression: str) -> Iterator[tuple[Location, str]]:
    try:
        compile_path(expression)
    except ValueError as error:
        yield where, str(error)


def _form_problems(body: Any, where: list[str | int]) -> Iterator[tuple[Location, str]]:
    if not isinstance(body, Mapping):
        yield where, 'a form body (format = "form") must be a table of strings, got a list'
        return
    for key, value in body.items():
        if not isinstance(value, str):
            yield (
                [*where, key],
                'a form body (format = "form") must be flat, string values only',
            )

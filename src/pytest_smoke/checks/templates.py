"""Templates in checks-file paths and bodies, and the marker that makes each check's data unique.

A template is any string in a path or a body: ``{marker}`` and ``{id}`` are replaced by
:func:`fill` (a dotted ``{saved.token}`` too, given as ``fill(text, **{"saved.token": ...})``);
``{{`` and ``}}`` stand for literal braces. A marker is
``smoke-<unix seconds, 10 digits>-<8 hex digits>``: unique to one check, and dated, so that a
later run can tell an item left behind by a run long gone from one a run still going has made.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

#: A marker made by :func:`new_marker`; group 1 is the unix time it was made at.
MARKER_PATTERN: Final = re.compile(r"smoke-(\d{10})-[0-9a-f]{8}")

#: ``{{``, ``}}``, ``{name}`` or ``{scope.name}`` (``{saved.token}`` in a workflow); a lone
#: brace, or braces around anything but a name, are literal.
_TOKEN: Final = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")


def new_marker() -> str:
    """A value unique to one check, e.g. ``smoke-1718000000-9f86d081``."""
    return f"smoke-{int(time.time()):010d}-{secrets.token_hex(4)}"


def marker_age(text: str, *, now: float | None = None) -> float | None:
    """Seconds since the first marker in ``text`` was made; None when ``text`` holds none."""
    match = MARKER_PATTERN.search(text)
    if match is None:
        return None
    return (time.time() if now is None else now) - int(match.group(1))


def fill(value: Any, **fields: Any) -> Any:
    """``value`` with ``{name}`` replaced by ``fields[name]`` in every string, at any depth.

    Strings inside lists and tables (their values, not their keys) are filled; other values are
    returned as they are. ``{{``/``}}`` become ``{``/``}``. A placeholder without a field
    raises :class:`ValueError` naming it.
    """
    if isinstance(value, str):
        return _fill_string(value, fields)
    if isinstance(value, list | tuple):
        return [fill(item, **fields) for item in value]
    if isinstance(value, Mapping):
        return {key: fill(item, **fields) for key, item in value.items()}
    return value


def placeholders(value: Any) -> Iterator[str]:
    """Every ``{name}`` in the strings of ``value`` (at any depth), in order, with repeats."""
    if isinstance(value, str):
        for match in _TOKEN.finditer(value):
            if match.group(1) is not None:
                yield match.group(1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from placeholders(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from placeholders(item)


def strings_in(value: Any, where: Sequence[str | int]) -> Iterator[tuple[Sequence[str | int], str]]:
    """Every string in ``value`` (tables and lists, nested), with its key path from ``where``."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, [*where, index])
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings_in(item, [*where, key])


def sole_placeholder(text: str) -> str | None:
    """The name when ``text`` is one placeholder and nothing else (``"{saved.id}"``), else None.

    Such a string can stand for a value of any type (a saved integer stays an integer).
    """
    match = _TOKEN.fullmatch(text)
    return match.group(1) if match else None


def _fill_string(text: str, fields: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        if name not in fields:
            raise ValueError(f"template {text!r} uses {{{name}}}, which was not given")
        return str(fields[name])

    return _TOKEN.sub(replace, text)

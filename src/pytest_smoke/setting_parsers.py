"""How each setting's raw text becomes its value: one parser per kind of setting.

Each parser takes the raw string and returns the value, or raises ``ValueError`` with the part
of the message after the setting's name ("is not a number; set it in seconds, e.g. 30"). The
table of settings (:mod:`pytest_smoke.setting_specs`) names them; this module is imported when
settings are resolved, not in every pytest run.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from pytest_smoke.markers import DEPENDENCY_MARKERS

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_smoke.gate import CategoryRule, Threshold

    Parser = Callable[[str], Any]


def text(raw: str) -> str:
    return raw.strip()


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("is not a boolean; use true or false")


def number(low: float, high: float | None, unit: str, example: str) -> Parser:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"is not a number; set it in {unit}, e.g. {example}") from None
        if math.isnan(value) or value < low or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
            raise ValueError(f"is out of range; it must be {bounds} ({unit})")
        return value

    return parse


def positive(unit: str, example: str, high: float | None = None) -> Parser:
    def parse(raw: str) -> float:
        value = float(number(0, high, unit, example)(raw))
        if value <= 0:
            raise ValueError(f"must be more than 0 ({unit}), e.g. {example}")
        return value

    return parse


def count(low: int) -> Parser:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"is not a whole number; use {low} or more") from None
        if value < low:
            raise ValueError(f"must be {low} or more")
        return value

    return parse


def url(*schemes: str, example: str) -> Parser:
    def parse(raw: str) -> str:
        value = raw.strip()
        # urlsplit drops tabs and newlines and keeps spaces in the host: refuse both here
        if any(character.isspace() for character in value):
            raise ValueError(f"contains whitespace; use the form {example} (a space is %20)")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"is not a valid URL; use the form {example}") from None
        if not parts.scheme or not parts.hostname:
            raise ValueError(f"needs a scheme and a host, e.g. {example}")
        if parts.scheme.lower() not in schemes:
            raise ValueError(f"has scheme {parts.scheme!r}; use one of {', '.join(schemes)}")
        if not _valid_host(parts.hostname):
            raise ValueError(f"has an invalid host name; use the form {example}")
        return value

    return parse


#: One label of a host name: letters (any script), digits, "-" and "_", at most 63. Compiled on
#: first use (re caches it), not in every pytest run.
_HOST_LABEL: Final = r"[\w-]{1,63}"


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal, which urlsplit has already checked
        return True
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(re.fullmatch(_HOST_LABEL, label) for label in labels)


def path_expression(raw: str) -> str:
    from pytest_smoke.checks.paths import compile_path

    value = raw.strip()
    try:
        compile_path(value)
    except ValueError as error:
        raise ValueError(f"is {error}; e.g. access_token or user.token") from None
    return value


def existing_file(raw: str) -> str:
    path = raw.strip()
    if not os.path.isfile(os.path.expanduser(path)):
        raise ValueError("is not a readable file; give the path of a PEM file")
    return os.path.expanduser(path)


def existing_file_any(raw: str) -> str:
    path = os.path.expanduser(raw.strip())
    if not os.path.isfile(path):
        raise ValueError("is not a file; give the path of the checks file")
    return os.path.abspath(path)


_RESOURCE_ID_FORMAT: Final = (
    "/subscriptions/{subscription}/resourceGroups/{group}/providers/"
    "Microsoft.Compute/virtualMachines/{vm}"
)


def prometheus_textfile(raw: str) -> str:
    """A ``*.prom`` path in an existing directory: node_exporter reads no other name."""
    value = raw.strip()
    if not value.endswith(".prom"):
        raise ValueError("must end in .prom (node_exporter's textfile collector reads only those)")
    directory = os.path.dirname(value) or "."
    if not os.path.isdir(directory):
        raise ValueError(f"is in {directory!r}, which is not a directory")
    return value


def vm_resource_id(raw: str) -> str:
    value = raw.strip()
    parts = value.strip("/").split("/")
    if (
        not value.startswith("/")
        or len(parts) != 8
        or [p.lower() for p in parts[0:7:2]]
        != ["subscriptions", "resourcegroups", "providers", "virtualmachines"]
        or parts[5].lower() != "microsoft.compute"
        or not all(parts[1::2])
    ):
        raise ValueError(f"is not a VM resource ID; expected {_RESOURCE_ID_FORMAT}")
    return value


def choice(*choices: str) -> Parser:
    def parse(raw: str) -> str:
        for choice in choices:
            if raw.strip().lower() == choice.lower():
                return choice
        raise ValueError(f"is not one of {', '.join(choices)}")

    return parse


def name_list(raw: str) -> tuple[str, ...]:
    """A JSON list (``["a", "b"]``, as in the seed documents) or a comma-separated list."""
    text = raw.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError('is not a valid JSON list; use ["a", "b"] or a,b') from None
        if not all(isinstance(item, str) for item in items):
            raise ValueError('must list names as strings, e.g. ["a", "b"]')
        return tuple(item.strip() for item in items if item.strip())
    return tuple(item.strip() for item in text.split(",") if item.strip())


def categories(raw: str) -> frozenset[str]:
    names = frozenset(name_list(raw))
    unknown = sorted(names - set(DEPENDENCY_MARKERS))
    if unknown:
        raise ValueError(
            f"names unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"choose from {', '.join(DEPENDENCY_MARKERS)}"
        )
    return names


#: How category rules are written, for error messages.
_RULES_FORM: Final = (
    "CATEGORY: LEVEL<PERCENT, LEVEL<=PERCENT, e.g. workflow: rollback<50, investigate<=80"
)
_THRESHOLD: Final = r"\s*([A-Za-z]+)\s*(<=|<)\s*(.*?)\s*"
_PERCENT: Final = r"[0-9]+(?:\.[0-9]+)?\s*%?"


def category_rules(raw: str) -> tuple[CategoryRule, ...]:
    """Pass-rate rules per category: ``workflow: rollback<50, investigate<=80; service:
    rollback<90``. Categories are separated by ``;`` or a new line, a category's thresholds by
    ``,``; a level applies when the pass rate is under (``<``) or at most (``<=``) its percent.
    Empty: no rules."""
    from pytest_smoke.gate import CategoryRule, PolicyError

    rules: list[CategoryRule] = []
    for part in re.split(r"[;\n]", raw):
        if not part.strip():
            continue
        category, colon, body = (text.strip() for text in part.partition(":"))
        if not colon or not category:
            raise ValueError(f"has {part.strip()!r} without 'CATEGORY:'; write {_RULES_FORM}")
        if category not in DEPENDENCY_MARKERS:
            raise ValueError(
                f"names unknown category {category!r}; choose from {', '.join(DEPENDENCY_MARKERS)}"
            )
        if any(rule.category == category for rule in rules):
            raise ValueError(
                f"gives {category} twice; give each category once, its thresholds separated "
                "by commas"
            )
        if not body:
            raise ValueError(f"gives {category} no threshold; write {_RULES_FORM}")
        thresholds = tuple(_threshold(category, item) for item in body.split(","))
        try:
            rules.append(CategoryRule(category, thresholds))
        except PolicyError as error:
            raise ValueError(str(error)) from None
    return tuple(rules)


def _threshold(category: str, item: str) -> Threshold:
    from pytest_smoke.gate import RULE_LEVELS, Threshold

    text = item.strip()
    if not text:
        raise ValueError(f"gives {category} an empty threshold; write {_RULES_FORM}")
    match = re.fullmatch(_THRESHOLD, text)
    if match is None:
        raise ValueError(
            f"has {category}: {text!r}, not LEVEL<PERCENT or LEVEL<=PERCENT (a level applies "
            f"under its percent); write {_RULES_FORM}"
        )
    level, operator, percent = match.groups()
    levels = {verdict.lower(): verdict for verdict in RULE_LEVELS}
    if level.lower() not in levels:
        raise ValueError(
            f"has {category}: unknown level {level!r}; use rollback or investigate (a failure "
            "above every threshold is MONITOR)"
        )
    if not re.fullmatch(_PERCENT, percent):
        missing_comma = " (separate thresholds with commas)" if re.search(r"[<>=]", percent) else ""
        raise ValueError(
            f"has {category}: {text!r}: {percent!r} is not a percent{missing_comma}; write a "
            f"number from 0 to 100, e.g. {level.lower()}{operator}50"
        )
    return Threshold(levels[level.lower()], float(percent.rstrip("% ")), inclusive=operator == "<=")

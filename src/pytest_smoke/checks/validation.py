"""Is a checks file usable? The schema first (jsonschema), then what a schema cannot say.

Every problem becomes one :class:`ChecksError` line,
``checks file <path>: <dotted.key.path>: <what is expected>``, e.g.
``checks file c.toml: service.helth: unknown key; did you mean health?``. Values are quoted as
the file wrote them (``${VAR}`` unexpanded), so an error never shows a secret from the profile.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.checks.model import ChecksError
from pytest_smoke.checks.paths import compile_path
from pytest_smoke.checks.schema import load_schema
from pytest_smoke.checks.step_rules import request_problems
from pytest_smoke.checks.templates import placeholders, strings_in
from pytest_smoke.load.spec import load_problems

if TYPE_CHECKING:
    from pathlib import Path

    from jsonschema.exceptions import ValidationError

SUPPORTED_VERSION: Final = 1

#: Keys holding a JMESPath expression ("" means unset where the key is optional).
JMESPATH_KEYS: Final = (
    "auth.login.token",
    "crud.id",
    "crud.object",
    "crud.marker_field",
    "crud.list.items",
    "crud.list.total",
    "crud.list.filter_field",
)
#: Keys whose strings are templates, and the placeholders each may use.
TEMPLATE_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "service.health": ("marker",),
    "service.routes": ("marker",),
    "service.sla_path": ("marker",),
    "service.concurrency_path": ("marker",),
    "auth.protected": ("marker",),
    "crud.collection": ("marker",),
    "crud.item": ("id", "marker"),
    "crud.create": ("marker",),
    "crud.update": ("marker",),
    "crud.invalid": ("marker",),
    "errors.not_found": ("marker",),
    "rate_limit.path": ("marker",),
    "production.headers_path": ("marker",),
    "production.metrics_path": ("marker",),
    "production.cors.path": ("marker",),
}

Location = Sequence[str | int]


def check_version(raw: Mapping[str, Any], location: Path) -> None:
    """Refuse a file written for another format version (before anything else is checked)."""
    version = raw.get("version", SUPPORTED_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version != 1:
        raise _error(
            location,
            ["version"],
            f"version {version} is not supported by this release (supports {SUPPORTED_VERSION})",
        )


def validate(document: Mapping[str, Any], raw: Mapping[str, Any], location: Path) -> None:
    """Raise :class:`ChecksError` for the most relevant problem of the expanded ``document``.

    ``raw`` is the same file before ``${VAR}`` expansion, for quoting values.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(load_schema())
    error = best_match(validator.iter_errors(document))
    if error is not None:
        where, message = _explain(error, raw)
        raise _error(location, where, message)
    for where, message in _semantic_problems(document):
        raise _error(location, where, message)


def dotted(where: Location) -> str:
    """``["database", "violations", 0, "name"]`` -> ``database.violations[0].name``."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _error(location: Path, where: Location, message: str) -> ChecksError:
    key = dotted(where)
    return ChecksError(f"checks file {location}: {key + ': ' if key else ''}{message}")


# -- schema errors ----------------------------------------------------------------------------

#: Keys of the unversioned format before version 1, and what replaced them.
RENAMED_KEYS: Final[Mapping[str, str]] = {
    "crud.path": 'crud.collection (and crud.item for the item URL, e.g. "/api/items/{id}")',
    "crud.id_field": "crud.id (a JMESPath into the create answer)",
    "crud.items_field": "crud.list.items",
    "crud.limit_param": "crud.list.limit_param",
    "crud.offset_param": "crud.list.offset_param",
    "crud.filter_param": "crud.list.filter_param",
    "crud.filter_field": "crud.list.filter_field",
}


def _explain(error: ValidationError, raw: Mapping[str, Any]) -> tuple[Location, str]:
    where: list[str | int] = list(error.absolute_path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    kind = error.validator
    if kind == "additionalProperties" and isinstance(instance, Mapping):
        known = list(schema.get("properties", {}))
        unknown = next(key for key in instance if key not in known)
        what = "unknown section" if not where else "unknown key"
        renamed = RENAMED_KEYS.get(dotted([*where, unknown]))
        if renamed:
            return [*where, unknown], f"{what}; this release calls it {renamed}"
        return [*where, unknown], what + _suggestion(unknown, known)
    if kind == "required" and isinstance(instance, Mapping):
        missing = next(key for key in error.validator_value if key not in instance)
        return where, f"missing required key {missing}"
    shown = _describe(_at(raw, where, instance))
    if kind == "enum":
        choices = [str(choice) for choice in error.validator_value]
        listed = ", ".join(json.dumps(choice) for choice in choices)
        close = difflib.get_close_matches(str(instance), choices, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close and isinstance(instance, str) else ""
        return where, f"expected one of {listed}, got {shown}{hint}"
    if kind in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return where, f"expected {_expected(schema)}, got {instance}"
    if kind in {"minItems", "minLength"} and not instance:
        return where, f"expected {_expected(schema)}, got an empty {_noun(instance)}"
    # type, pattern, const and the rest; never jsonschema's own message, which shows the
    # expanded value (a secret from the profile, maybe)
    return where, f"expected {_expected(schema)}, got {shown}{_example(schema, where)}"


def _suggestion(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]}?"
    return "; expected one of: " + ", ".join(choices) if choices else ""


def _expected(schema: Mapping[str, Any]) -> str:
    title = schema.get("title")
    if isinstance(title, str):
        return title
    if "minimum" in schema or "maximum" in schema:
        return _range(schema)
    kinds = schema.get("type", [])
    names = {
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "array": "a list",
        "object": "a table",
    }
    return " or ".join(
        names.get(kind, kind) for kind in ([kinds] if isinstance(kinds, str) else kinds)
    )


def _range(schema: Mapping[str, Any]) -> str:
    noun = "an integer" if schema.get("type") == "integer" else "a number"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    if low is not None:
        return f"{noun} of at least {low}"
    return f"{noun} of at most {high}"


def _example(schema: Mapping[str, Any], where: Location) -> str:
    examples = schema.get("examples")
    if not examples or not where or not isinstance(where[-1], str):
        return ""
    return f"; e.g. {where[-1]} = {json.dumps(examples[0])}"


def _at(raw: Any, where: Location, fallback: Any) -> Any:
    node = raw
    for part in where:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return fallback
    return node


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value:g}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return f"the date/time {value}"


def _noun(value: Any) -> str:
    return "string" if isinstance(value, str) else "list"


# -- what the schema cannot say ---------------------------------------------------------------


def _semantic_problems(document: Mapping[str, Any]) -> Iterator[tuple[Location, str]]:
    for key in JMESPATH_KEYS:
        expression = _get(document, key)
        if isinstance(expression, str) and (expression or key != "crud.list.total"):
            try:
                compile_path(expression)
            except ValueError as error:
                yield key.split("."), str(error)
    for key, allowed in TEMPLATE_KEYS.items():
        value = _get(document, key)
        for where, text in strings_in(value, key.split(".")):
            for name in placeholders(text):
                if name not in allowed:
                    use = " or ".join(f"{{{each}}}" for each in allowed)
                    yield (
                        where,
                        f"unknown placeholder {{{name}}}; use {use} "
                        f"(or {{{{{name}}}}} for literal braces)",
                    )
    crud = document.get("crud")
    if isinstance(crud, Mapping):
        if "item" in crud and "id" not in placeholders(crud["item"]):
            example = crud["collection"].rstrip("/") + "/{id}"
            yield ["crud", "item"], f"must hold {{id}}, e.g. {json.dumps(example)}"
        if "marker" not in placeholders(crud["create"]):
            yield (
                ["crud", "create"],
                'must hold {marker} in one of its strings, e.g. name = "smoke-{marker}"; '
                "it is how the suite finds what it created",
            )
    login = _get(document, "auth.login")
    if isinstance(login, Mapping) and login.get("format") == "form" and "body" in login:
        yield from _form_problems(login["body"])
    yield from request_problems(document)  # [[endpoints]] and [[workflows]]
    yield from load_problems(document)  # [load]


def _form_problems(body: Any) -> Iterator[tuple[Location, str]]:
    where: list[str | int] = ["auth", "login", "body"]
    if not isinstance(body, Mapping):
        yield where, 'a form body (format = "form") must be a table of strings, got a list'
        return
    for key, value in body.items():
        if not isinstance(value, str):
            yield (
                [*where, key],
                f'a form body (format = "form") must be flat, string values only; '
                f"got {_describe(value)}",
            )


def _get(document: Mapping[str, Any], key: str) -> Any:
    node: Any = document
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node

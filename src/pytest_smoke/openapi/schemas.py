"""Reading a JSON Schema of an OpenAPI document (3.0 or 3.1), and values it accepts.

The schemas are jsonschema-path nodes (every ``$ref`` resolved by the library as they are
walked). :func:`sample` makes the value ``init`` writes into a drafted body: the schema's own
example when it gives one, else its ``const``, first ``enum`` value or ``default``, else a
value of its type within its bounds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from jsonschema_path import SchemaPath

#: What :func:`sample` answers when no value can be written (only ``null`` fits; TOML has none).
NO_VALUE: Final = object()
#: The longest a ``{marker}`` gets (``smoke-<10 digits>-<8 hex>``).
MARKER_LENGTH: Final = 25
#: String values by ``format``.
_FORMATTED: Final = {
    "email": "smoke@example.com",
    "idn-email": "smoke@example.com",
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00Z",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/smoke",
    "url": "https://example.com/smoke",
    "iri": "https://example.com/smoke",
    "uri-reference": "/smoke",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "password": "smoke-password",
    "byte": "c21va2U=",
}
_MAX_DEPTH: Final = 6


def value(schema: SchemaPath, key: str, default: Any = None) -> Any:
    """The plain value of ``schema[key]`` (``type``, ``enum``, ``example``...), or ``default``."""
    node = schema / key
    return node.read_value() if node.exists() else default


def chosen(schema: SchemaPath) -> SchemaPath:
    """``schema``, or for an ``anyOf``/``oneOf`` its first alternative that is not ``null``."""
    for key in ("anyOf", "oneOf"):
        options = schema / key
        if options.exists():
            for option in options:
                if types(option) != ["null"]:
                    return chosen(option)
    return schema


def types(schema: SchemaPath) -> list[str]:
    """The schema's types: ``type`` as a list (3.1 allows a list), else what its keywords
    imply (``properties``: object, ``items``: array); ``[]`` when it says nothing."""
    declared = value(schema, "type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in declared]
    if (schema / "properties").exists() or _all_of(schema):
        return ["object"]
    if (schema / "items").exists():
        return ["array"]
    return []


def main_type(schema: SchemaPath) -> str | None:
    """The one type the schema's value has, not counting ``null`` (``"null"`` when that is all
    it allows; None when it says nothing)."""
    declared = types(chosen(schema))
    found = [t for t in declared if t != "null"]
    return found[0] if found else ("null" if declared else None)


def properties(schema: SchemaPath) -> dict[str, SchemaPath]:
    """The object's properties, its own and those of its ``allOf`` parts, in order."""
    schema = chosen(schema)
    found: dict[str, SchemaPath] = {}
    for part in (schema, *_all_of(schema)):
        own = part / "properties"
        if own.exists():
            for name, prop in own.str_items():
                found.setdefault(name, prop)
    return found


def required(schema: SchemaPath) -> list[str]:
    """The object's required properties, its own and those of its ``allOf`` parts, in order."""
    schema = chosen(schema)
    names: list[str] = []
    for part in (schema, *_all_of(schema)):
        for name in value(part, "required", []) or []:
            if str(name) not in names:
                names.append(str(name))
    return names


def _all_of(schema: SchemaPath) -> list[SchemaPath]:
    parts = schema / "allOf"
    return list(parts) if parts.exists() else []


def example(schema: SchemaPath) -> Any:
    """The schema's example (``example`` in 3.0, the first of ``examples`` in 3.1), or
    :data:`NO_VALUE`."""
    given = value(schema, "example", NO_VALUE)
    if given is NO_VALUE:
        examples = value(schema, "examples")
        if isinstance(examples, list) and examples:
            given = examples[0]
    return NO_VALUE if given is None else given


def sample(schema: SchemaPath, depth: int = 0) -> Any:
    """A value ``schema`` accepts, or :data:`NO_VALUE` when only ``null`` would do.

    An object holds its required properties only. Strings keep to ``minLength``,
    ``maxLength`` and known ``format`` values; numbers to their bounds. A ``pattern`` is not
    followed: the example, when the schema gives one, is.
    """
    if depth > _MAX_DEPTH:
        return NO_VALUE
    given = _given(schema)
    if given is not NO_VALUE:
        return given
    alternative = chosen(schema)
    if alternative is not schema:
        return sample(alternative, depth + 1)
    kind = main_type(schema)
    if kind == "object":
        built = {}
        for name in required(schema):
            prop = properties(schema).get(name)
            item = sample(prop, depth + 1) if prop is not None else "smoke"
            if item is not NO_VALUE:
                built[name] = item
        return built
    if kind == "array":
        count = int(value(schema, "minItems", 0) or 0)
        items = schema / "items"
        if count == 0 or not items.exists():
            return []
        item = sample(items, depth + 1)
        return [] if item is NO_VALUE else [item] * count
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return int(_number(schema, 1))
    if kind == "number":
        return _number(schema, 1.5)
    if kind == "boolean":
        return True
    if kind == "null":
        return NO_VALUE
    return "smoke"


def _given(schema: SchemaPath) -> Any:
    """What the schema itself offers: its example, ``const``, first ``enum`` value, default."""
    for given in (example(schema), value(schema, "const", NO_VALUE)):
        if given is not NO_VALUE and given is not None:
            return given
    enum = value(schema, "enum")
    if isinstance(enum, list) and any(item is not None for item in enum):
        return next(item for item in enum if item is not None)
    default = value(schema, "default")
    return NO_VALUE if default is None else default


def marker_template(schema: SchemaPath) -> str | None:
    """The template that carries ``{marker}`` in a value of ``schema``: ``"{marker}"`` for a
    free string, ``"{marker}@example.com"`` for an e-mail; None when no marker fits."""
    schema = chosen(schema)
    if main_type(schema) != "string" or value(schema, "enum") or value(schema, "pattern"):
        return None
    if value(schema, "const", NO_VALUE) is not NO_VALUE:
        return None
    longest = value(schema, "maxLength")
    template = {None: "{marker}", "email": "{marker}@example.com"}.get(value(schema, "format"))
    if template is None:
        return None
    fits = longest is None or longest >= MARKER_LENGTH + len(template) - len("{marker}")
    return template if fits else None


def _string(schema: SchemaPath) -> str:
    text = _FORMATTED.get(str(value(schema, "format", "")), "smoke")
    shortest = int(value(schema, "minLength", 0) or 0)
    longest = value(schema, "maxLength")
    if len(text) < shortest:
        text += "-" * (shortest - len(text))
    if isinstance(longest, int) and len(text) > longest:
        text = text[:longest]
    return text


def _number(schema: SchemaPath, preferred: float) -> float:
    low, low_open = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_open = _bound(schema, "maximum", "exclusiveMaximum")
    candidate = preferred
    if low is not None and (candidate < low or (low_open and candidate <= low)):
        candidate = low + 1 if low_open else low
    if high is not None and (candidate > high or (high_open and candidate >= high)):
        candidate = high - 1 if high_open else high
    multiple = value(schema, "multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        candidate = math.ceil(candidate / multiple) * multiple
    return candidate


def _bound(schema: SchemaPath, inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    """A bound and whether it is open: 3.1 writes ``exclusiveMinimum: 0``, 3.0
    ``minimum: 0, exclusiveMinimum: true``."""
    bound = value(schema, inclusive)
    flag = value(schema, exclusive)
    if isinstance(flag, bool):
        return (float(bound) if isinstance(bound, int | float) else None), flag
    if isinstance(flag, int | float):
        return float(flag), True
    return (float(bound) if isinstance(bound, int | float) else None), False

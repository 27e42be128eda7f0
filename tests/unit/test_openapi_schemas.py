"""Values ``init`` writes for a schema: examples first, then const, enum, default, then a value of
the type within its bounds (3.0 and 3.1 spellings of exclusive bounds and of null)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema_path import SchemaPath

from pytest_smoke.openapi.schemas import NO_VALUE, marker_template, properties, required, sample


def schema(value: dict[str, Any]) -> SchemaPath:
    return SchemaPath.from_dict({"s": value}) / "s"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"type": "string", "example": "x-1"}, "x-1"),  # 3.0
        ({"type": "string", "examples": ["first", "second"]}, "first"),  # 3.1
        ({"const": "fixed"}, "fixed"),
        ({"type": "string", "enum": [None, "b", "c"]}, "b"),
        ({"type": "integer", "default": 7}, 7),
        ({"type": "string"}, "smoke"),
        ({"type": "string", "minLength": 8}, "smoke---"),
        ({"type": "string", "maxLength": 3}, "smo"),
        ({"type": "string", "format": "date-time"}, "2024-01-01T00:00:00Z"),
        ({"type": "string", "format": "email"}, "smoke@example.com"),
        ({"type": "integer"}, 1),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "minimum": 5, "exclusiveMinimum": True}, 6),  # 3.0
        ({"type": "integer", "exclusiveMinimum": 5}, 6),  # 3.1
        ({"type": "integer", "maximum": 0}, 0),
        ({"type": "number"}, 1.5),
        ({"type": "number", "exclusiveMaximum": 1}, 0),
        ({"type": "number", "minimum": 10, "multipleOf": 4}, 12),
        ({"type": "boolean"}, True),
        ({"type": ["string", "null"]}, "smoke"),
        ({"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 3}]}, 3),
        ({"type": "null"}, NO_VALUE),
        ({"type": "array", "items": {"type": "string"}}, []),
        ({"type": "array", "minItems": 2, "items": {"type": "integer"}}, [1, 1]),
        (
            {
                "type": "object",
                "required": ["a", "b"],
                "properties": {
                    "a": {"type": "string"},
                    "b": {"type": "object", "required": ["c"], "properties": {"c": {}}},
                    "optional": {"type": "string"},
                },
            },
            {"a": "smoke", "b": {"c": "smoke"}},
        ),
    ],
)
def test_sample(given: dict[str, Any], expected: Any) -> None:
    assert sample(schema(given)) == expected


def test_all_of_parts_merge_properties_and_required() -> None:
    merged = schema(
        {
            "allOf": [
                {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
                {"required": ["b"], "properties": {"b": {"type": "integer"}}},
            ]
        }
    )
    assert list(properties(merged)) == ["a", "b"]
    assert required(merged) == ["a", "b"]
    assert sample(merged) == {"a": "smoke", "b": 1}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"type": "string"}, "{marker}"),
        ({"type": "string", "maxLength": 100}, "{marker}"),
        ({"type": "string", "maxLength": 10}, None),  # too short for smoke-<seconds>-<hex>
        ({"type": "string", "format": "email"}, "{marker}@example.com"),
        ({"type": "string", "format": "uuid"}, None),
        ({"type": "string", "pattern": "^[A-Z]+$"}, None),
        ({"type": "string", "enum": ["a"]}, None),
        ({"type": "integer"}, None),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, "{marker}"),
    ],
)
def test_where_a_marker_fits(given: dict[str, Any], expected: str | None) -> None:
    assert marker_template(schema(given)) == expected

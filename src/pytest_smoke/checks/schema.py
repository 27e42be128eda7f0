"""The shipped JSON Schema of the checks file (``checks-file.schema.json``), read once."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

SCHEMA_NAME: Final = "checks-file.schema.json"


@functools.cache
def load_schema() -> Mapping[str, Any]:
    """The schema as parsed JSON; shared by every caller, so never change it."""
    text = resources.files(__package__).joinpath(SCHEMA_NAME).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def resolve(subschema: Mapping[str, Any]) -> Mapping[str, Any]:
    """``subschema`` with a local ``$ref`` (``#/$defs/NAME``) replaced by its target."""
    reference = subschema.get("$ref")
    if not isinstance(reference, str):
        return subschema
    target: Any = load_schema()
    for part in reference.removeprefix("#/").split("/"):
        target = target[part]
    merged = {**target, **subschema}
    del merged["$ref"]
    return merged

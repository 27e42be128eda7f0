"""The documented defaults of the checks file, filled into the tables the file has.

Plain defaults come from the schema's ``default`` keywords (one source for the loader, the
schema and the docs); derived ones (``crud.item`` from ``crud.collection`` and so on) are
computed here. A table the file does not have stays absent, so ``checks.get("crud")`` is None
without ``[crud]``; a sub-table with only defaults (``crud.status``) appears inside one it has.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from pytest_smoke.checks.schema import load_schema, resolve
from pytest_smoke.checks.templates import placeholders

#: Query parameter names per pagination style.
PAGINATION_PARAMS: Final[Mapping[str, Mapping[str, str]]] = {
    "limit_offset": {"limit_param": "limit", "offset_param": "offset"},
    "skip_limit": {"limit_param": "limit", "offset_param": "skip"},
    "page_size": {"limit_param": "size", "page_param": "page"},
    "none": {},
}
_FIRST_PAGE: Final = 1
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def apply_defaults(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a valid ``document`` with every default filled in; ``document`` is unchanged."""
    filled: dict[str, Any] = copy.deepcopy(dict(document))
    _fill(filled, load_schema())
    _derive(filled)
    return filled


def _fill(instance: Any, schema: Mapping[str, Any]) -> None:
    schema = resolve(schema)
    if isinstance(instance, dict):
        for key, prop in schema.get("properties", {}).items():
            if key not in instance and "default" in prop:
                instance[key] = copy.deepcopy(prop["default"])
            if key in instance:
                _fill(instance[key], prop)
    elif isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        for item in instance:
            _fill(item, schema["items"])


def _derive(document: dict[str, Any]) -> None:
    crud = document.get("crud")
    if isinstance(crud, dict):
        crud.setdefault("item", crud["collection"].rstrip("/") + "/{id}")
        if "marker_field" not in crud:
            crud["marker_field"] = marker_field_of(crud["create"])
        listing = crud.get("list")
        if isinstance(listing, dict):
            style = listing["pagination"]
            for key, value in PAGINATION_PARAMS[style].items():
                listing.setdefault(key, value)
            if style == "page_size":
                listing.setdefault("first_page", _FIRST_PAGE)
            if crud["marker_field"] is not None:
                listing.setdefault("filter_field", crud["marker_field"])
    service = document.get("service")
    if isinstance(service, dict) and "concurrency_path" not in service:
        auth = document.get("auth")
        protected = auth.get("protected") if isinstance(auth, dict) else None
        health = service.get("health") or []
        if protected or health:
            service["concurrency_path"] = protected or health[0]


def marker_field_of(create: Mapping[str, Any]) -> str | None:
    """A JMESPath to the first top-level key of ``create`` whose value holds ``{marker}``."""
    for key, value in create.items():
        if "marker" in placeholders(value):
            return key if _IDENTIFIER.fullmatch(key) else json.dumps(key)
    return None

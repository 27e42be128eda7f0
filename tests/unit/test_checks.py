"""The checks file: TOML, ${VAR} from the profile, validation, defaults, paths and templates."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_smoke.checks import Checks, ChecksError, load_checks
from pytest_smoke.checks.paths import compile_path, search
from pytest_smoke.checks.schema import load_schema, resolve
from pytest_smoke.checks.templates import MARKER_PATTERN, fill, marker_age, new_marker

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "checks-file.md"
CRUD = '[crud]\ncollection = "/api/items"\ncreate = { name = "smoke-{marker}", price = 1 }\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "checks.toml"
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str, variables: Mapping[str, str] | None = None) -> Checks:
    return load_checks(write(tmp_path, text), variables or {})


# -- reading and ${VAR} -----------------------------------------------------------------------


def test_variables_are_expanded_everywhere(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """
[events]
channel = "${CHANNEL}"
[crud]
collection = "/api/items"
create = { name = "smoke-{marker}", tags = ["${TAG}", "x"] }
""",
        {"CHANNEL": "demo:items:1", "TAG": "t"},
    )
    assert checks.get("events.channel") == "demo:items:1"
    assert checks.get("crud.create") == {"name": "smoke-{marker}", "tags": ["t", "x"]}
    assert checks.section("crud") is not None
    assert checks.get("nope.deeper", 5) == 5


def test_an_unset_variable_is_named_with_its_key(tmp_path: Path) -> None:
    with pytest.raises(
        ChecksError, match=r"events\.channel: uses \$\{MISSING_ONE\}, which the env"
    ):
        load(tmp_path, '[events]\nchannel = "${MISSING_ONE}"\n')


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ChecksError, match="not valid TOML") as caught:
        load(tmp_path, "[service\nhealth = 1\n")
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ChecksError, match=r"checks file .*nope\.toml: cannot read it: No such"):
        load_checks(tmp_path / "nope.toml", {})


def test_values_from_variables_under_auth_are_secret(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """
[auth.login]
url = "/login"
body = { user = { email = "${USER_NAME}", password = "${PASSWORD}" } }
[events]
channel = "${CHANNEL}"
""",
        {"USER_NAME": "me@example.com", "PASSWORD": "hunter2-xyz", "CHANNEL": "c"},
    )
    assert checks.secret_values == {"me@example.com", "hunter2-xyz"}
    assert checks.get("auth.login.body.user.password") == "hunter2-xyz"


def test_errors_quote_the_file_not_the_secret(tmp_path: Path) -> None:
    with pytest.raises(ChecksError) as caught:
        load(tmp_path, '[auth]\nprotected = "${SECRET}"\n', {"SECRET": "hunter2-xyz"})
    assert "hunter2" not in str(caught.value)
    assert 'got the string "${SECRET}"' in str(caught.value)


# -- defaults ---------------------------------------------------------------------------------


def test_no_file_and_empty_file(tmp_path: Path) -> None:
    assert Checks().get("crud") is None
    assert not Checks().has("service.health")
    checks = load(tmp_path, "")
    assert checks.data == {"version": 1}
    assert checks.get("crud") is None


def test_defaults_fill_only_tables_the_file_has(tmp_path: Path) -> None:
    checks = load(tmp_path, CRUD)
    assert checks.get("crud.status.read") == [200]
    assert checks.get("crud.status") == {
        "create": [200, 201],
        "read": [200],
        "update": [200],
        "delete": [200, 202, 204],
        "gone": [404, 410],
        "invalid": [400, 422],
    }
    assert checks.get("crud.methods") == {"create": "POST", "update": "PATCH", "delete": "DELETE"}
    assert checks.get("crud.cleanup") == {
        "sweep": False,
        "sweep_after_seconds": 600,
        "max_pages": 20,
    }
    assert checks.get("crud.id") == "id"
    assert checks.get("crud.object") == "@"
    assert checks.get("crud.envelope") == ""
    assert checks.get("crud.list") is None
    assert checks.get("auth") is None
    assert checks.get("service") is None


def test_what_the_file_says_beats_the_default(tmp_path: Path) -> None:
    checks = load(tmp_path, CRUD + '[crud.status]\nread = [203]\n[crud.methods]\nupdate = "PUT"\n')
    assert checks.get("crud.status.read") == [203]
    assert checks.get("crud.status.create") == [200, 201]
    assert checks.get("crud.methods.update") == "PUT"
    assert checks.get("crud.methods.delete") == "DELETE"


@pytest.mark.parametrize(
    ("collection", "item"),
    [("/api/items", "/api/items/{id}"), ("/api/articles/", "/api/articles/{id}")],
)
def test_item_defaults_from_collection(tmp_path: Path, collection: str, item: str) -> None:
    checks = load(tmp_path, CRUD.replace('"/api/items"', json.dumps(collection)))
    assert checks.get("crud.item") == item


def test_marker_field_is_the_first_key_holding_the_marker(tmp_path: Path) -> None:
    text = '[crud]\ncollection = "/a"\ncreate = { price = 1, title = "t", tags = ["{marker}"] }\n'
    assert load(tmp_path, text).get("crud.marker_field") == "tags"


def test_a_marker_field_that_is_no_identifier_is_quoted(tmp_path: Path) -> None:
    text = '[crud]\ncollection = "/a"\ncreate = { "display-name" = "smoke-{marker}" }\n'
    checks = load(tmp_path, text)
    assert checks.get("crud.marker_field") == '"display-name"'
    assert search(checks.get("crud.marker_field"), {"display-name": "x"}) == "x"


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("limit_offset", {"limit_param": "limit", "offset_param": "offset"}),
        ("skip_limit", {"limit_param": "limit", "offset_param": "skip"}),
        ("page_size", {"limit_param": "size", "page_param": "page", "first_page": 1}),
        ("none", {}),
    ],
)
def test_list_parameters_default_per_pagination_style(
    tmp_path: Path, style: str, expected: dict[str, Any]
) -> None:
    checks = load(tmp_path, CRUD + f'[crud.list]\nitems = "items"\npagination = "{style}"\n')
    params = {
        key: value
        for key, value in (checks.section("crud.list") or {}).items()
        if key.endswith(("_param", "first_page")) and key != "filter_param"
    }
    assert params == expected


def test_list_defaults(tmp_path: Path) -> None:
    checks = load(tmp_path, CRUD + '[crud.list]\nitems = "@"\nfilter_param = "q"\n')
    assert checks.get("crud.list") == {
        "items": "@",
        "total": "",
        "pagination": "limit_offset",
        "limit_param": "limit",
        "offset_param": "offset",
        "filter_param": "q",
        "filter_field": "name",
    }


def test_an_explicit_list_parameter_is_kept(tmp_path: Path) -> None:
    text = CRUD + '[crud.list]\nitems = "data"\npagination = "page_size"\nlimit_param = "per"\n'
    checks = load(tmp_path, text)
    assert checks.get("crud.list.limit_param") == "per"
    assert checks.get("crud.list.page_param") == "page"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[service]\nhealth = ["/h"]\n[auth]\nprotected = "/p"\n', "/p"),
        ('[service]\nhealth = ["/h", "/r"]\n', "/h"),
        ("[service]\nsla_samples = 3\n", None),
        ('[service]\nhealth = ["/h"]\nconcurrency_path = "/c"\n', "/c"),
    ],
)
def test_concurrency_path_default(tmp_path: Path, text: str, expected: str | None) -> None:
    assert load(tmp_path, text).get("service.concurrency_path") == expected


def test_service_and_auth_defaults(tmp_path: Path) -> None:
    checks = load(tmp_path, '[service]\nhealth = ["/h"]\n[auth]\n[auth.login]\nurl = "/l"\n')
    assert checks.get("service.health_status") == [200]
    assert checks.get("service.sla_samples") == 10
    assert checks.get("service.concurrency") == 10
    assert checks.section("auth") == {
        "login": {"url": "/l", "format": "json"},
        "accepted": [200],
        "refused": [401, 403],
        "header": "Authorization",
        "scheme": "Bearer",
    }


def test_defaults_inside_each_violation(tmp_path: Path) -> None:
    text = """
[[database.violations]]
name = "a"
statement = "INSERT 1"
expect = "unique"
[[database.violations]]
name = "b"
statement = "INSERT 2"
expect = "check"
also_accept = ["not_null"]
"""
    violations = load(tmp_path, text).get("database.violations")
    assert [(v["setup"], v["also_accept"]) for v in violations] == [([], []), ([], ["not_null"])]


def test_other_section_defaults(tmp_path: Path) -> None:
    text = """
[errors]
not_found = "/x"
[rate_limit]
path = "/p"
burst = 5
[azure.logs]
query = "q"
threshold = 1
"""
    checks = load(tmp_path, text)
    assert checks.get("errors.not_found_status") == [404]
    assert checks.get("rate_limit.status") == [429]
    assert checks.get("azure.logs.minutes") == 15


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        ("", False),
        ([], False),
        ({}, False),
        (0, True),
        (True, True),
        ("x", True),
        ([0], True),
    ],
)
def test_has_means_set_and_not_empty(value: Any, expected: bool) -> None:
    checks = Checks({"a": {"b": value}})
    assert checks.has("a.b") is expected
    assert not checks.has("a.c")


# -- paths ------------------------------------------------------------------------------------


def test_search_follows_jmespath() -> None:
    answer = {"article": {"slug": "s-1", "tags": ["a", "b"]}, "items": [{"id": 3}]}
    assert search("article.slug", answer) == "s-1"
    assert search("items[0].id", answer) == 3
    assert search("@", [1, 2]) == [1, 2]
    assert search("missing.key", answer) is None


def test_expressions_are_compiled_once() -> None:
    assert compile_path("a.b.c") is compile_path("a.b.c")


def test_a_bad_expression_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match=r"^not a valid JMESPath expression 'a\.\.b': ") as caught:
        compile_path("a..b")
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="Incomplete expression"):
        compile_path("items[")


# -- templates --------------------------------------------------------------------------------


def test_markers_are_unique_and_dated() -> None:
    markers = {new_marker() for _ in range(100)}
    assert len(markers) == 100
    for marker in markers:
        assert MARKER_PATTERN.fullmatch(marker)
        age = marker_age(f"title {marker} suffix")
        assert age is not None
        assert 0 <= age < 60


def test_marker_age() -> None:
    assert marker_age("smoke-1700000000-0123abcd", now=1700000600.5) == 600.5
    assert marker_age("smoke-17-0123abcd") is None
    assert marker_age("no marker here") is None


def test_fill_replaces_in_nested_values() -> None:
    body = {"name": "smoke-{marker}", "tags": ["{marker}", 1, None], "{marker}": {"id": "{id}"}}
    assert fill(body, marker="m", id=7) == {
        "name": "smoke-m",
        "tags": ["m", 1, None],
        "{marker}": {"id": "7"},
    }
    assert fill(2.5, marker="m") == 2.5


def test_fill_keeps_literal_braces() -> None:
    assert fill('{{"raw": {marker}}}', marker="m") == '{"raw": m}'
    assert fill("{{marker}}", marker="m") == "{marker}"
    assert fill("a { b } {} {1}", marker="m") == "a { b } {} {1}"


def test_fill_names_a_missing_field() -> None:
    with pytest.raises(ValueError, match=r"uses \{id\}, which was not given"):
        fill("/api/items/{id}", marker="m")


# -- the schema and the docs ------------------------------------------------------------------


def test_the_schema_is_valid_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(load_schema())
    assert load_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def table_of(prop: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The schema of the table ``prop`` is (or is an array of), else None."""
    target = resolve(prop)
    if target.get("type") == "array" and isinstance(target.get("items"), Mapping):
        target = resolve(target["items"])
    return target if "properties" in target else None


def keys(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every key of the file, dotted, with its schema; tables and their keys."""
    for name, prop in schema.get("properties", {}).items():
        dotted = f"{prefix}{name}"
        yield dotted, prop
        table = table_of(prop)
        if table is not None:
            yield from keys(table, f"{dotted}.")


def test_every_table_refuses_unknown_keys_and_every_key_is_described() -> None:
    schema = load_schema()
    assert schema["additionalProperties"] is False
    for dotted, prop in keys(schema):
        assert resolve(prop).get("description"), dotted
        table = table_of(prop)
        if table is not None:
            assert table["additionalProperties"] is False, dotted


def test_the_docs_list_every_key_with_its_default() -> None:
    text = DOCS.read_text()
    for dotted, prop in keys(load_schema()):
        rows = [line for line in text.splitlines() if line.startswith(f"| `{dotted}` |")]
        if table_of(prop) is not None:
            continue  # a table: its keys have the rows
        assert len(rows) == 1, dotted
        if "default" in prop:
            assert f"`{json.dumps(prop['default'])}`" in rows[0], dotted


def test_the_docs_example_loads(tmp_path: Path) -> None:
    example = re.search(r"## A full example.*?```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert example is not None
    variables = {
        "SMOKE_TEST_USERNAME": "me@example.com",
        "SMOKE_TEST_PASSWORD": "pw",
        "ORDER_EVENT_CHANNEL": "orders",
    }
    checks = load(tmp_path, example.group(1), variables)
    assert checks.get("crud.item") == "/api/orders/{id}"
    assert checks.get("crud.marker_field") == "reference"
    assert checks.get("crud.list.filter_field") == "reference"
    assert checks.get("crud.list.limit_param") == "size"
    assert checks.get("service.concurrency_path") == "/api/orders"


def test_importing_the_package_is_cheap() -> None:
    code = (
        "import sys, pytest_smoke.checks\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'jmespath')))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert output.strip() == "[]"


def test_a_key_of_the_format_before_version_1_names_its_replacement(tmp_path: Path) -> None:
    path = write(tmp_path, '[crud]\npath = "/api/items"\ncreate = { name = "{marker}" }\n')
    with pytest.raises(ChecksError) as caught:
        load_checks(path, {})
    assert "crud.path: unknown key; this release calls it crud.collection" in str(caught.value)

"""The ledger of created resources, the ``smoke_resources`` fixture that reports what is left on
it, and the bundled CRUD checks run against a real local API in two shapes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Imported before any pytester run: pytester drops modules first imported during a test.
import httpcore  # noqa: F401  (httpx imports it lazily)
import httpx  # noqa: F401
import pytest
import tenacity  # noqa: F401

from pytest_smoke.checks.ledger import Ledger
from pytest_smoke.setting_specs import PROFILE_ENV, PROFILE_FILE_ENV, SPECS

from .crud_api import ENVELOPED, FLAT, TOKEN, CrudApi

if TYPE_CHECKING:
    from collections.abc import Iterator

SUITE = Path(__file__).resolve().parents[2] / "src" / "pytest_smoke" / "suite"
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def test_a_resource_is_on_the_ledger_until_removed() -> None:
    ledger = Ledger()
    ledger.created("https://h/api/items/1")
    ledger.created("https://h/api/items/2")
    ledger.created("https://h/api/items/1")  # twice is once
    assert ledger.urls == ["https://h/api/items/1", "https://h/api/items/2"]
    ledger.removed("https://h/api/items/1")
    assert "https://h/api/items/1" not in ledger
    assert ledger.left_behind() == ["https://h/api/items/2 (not deleted)"]
    ledger.removed("https://h/api/items/2")
    assert len(ledger) == 0
    assert ledger.left_behind() == []


def test_a_failed_delete_is_named_with_what_it_got() -> None:
    ledger = Ledger()
    ledger.created("https://h/api/items/42")
    ledger.not_removed("https://h/api/items/42", "DELETE -> 500")
    assert ledger.left_behind() == ["https://h/api/items/42 (DELETE -> 500)"]
    ledger.created("https://h/api/items/42")  # recording it again keeps the outcome
    ledger.not_removed("https://h/api/items/42", "DELETE -> ReadTimeout")
    assert ledger.left_behind() == ["https://h/api/items/42 (DELETE -> ReadTimeout)"]


# --- the fixture, in pytest runs of their own ----------------------------------------------------


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester) -> pytest.Pytester:
    """Inner runs never see the developer's or CI's smoke settings."""
    for name in [spec.env for spec in SPECS if spec.env] + [PROFILE_ENV, PROFILE_FILE_ENV]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makeini(INI)
    return pytester


def test_what_is_left_on_the_ledger_fails_the_teardown_by_name(isolated: pytest.Pytester) -> None:
    isolated.makepyfile(
        test_made="""
        import pytest

        pytestmark = pytest.mark.smoke

        def test_cleans_up(smoke_resources):
            smoke_resources.created("https://h/api/items/1")
            smoke_resources.removed("https://h/api/items/1")

        def test_delete_failed(smoke_resources):
            smoke_resources.created("https://h/api/items/42")
            smoke_resources.not_removed("https://h/api/items/42", "DELETE -> 500")
            smoke_resources.created("https://h/api/items/43")
        """
    )
    result = isolated.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "--smoke-gate")
    result.assert_outcomes(passed=2, errors=1)
    line = (
        "left behind: https://h/api/items/42 (DELETE -> 500), https://h/api/items/43 (not deleted)"
    )
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_delete_failed*", f"*{line}*"])
    assert "Traceback" not in result.stdout.str()
    # the verdict block carries each entry, and the run is not PROCEED
    result.stdout.fnmatch_lines(["*left behind: https://h/api/items/42 (DELETE -> 500)*"])
    assert "smoke gate: PROCEED" not in result.stdout.str()


# --- the bundled CRUD checks against a real API --------------------------------------------------

FLAT_CHECKS = """
[auth]
protected = "/api/items"
refused = [401]
[crud]
collection = "/api/items"
create = { name = "{marker}", price = 12.5 }
update = { price = 13.25 }
invalid = { name = "" }
[crud.status]
create = [201]
delete = [204]
[crud.list]
items = "items"
total = "total"
filter_param = "name"
[crud.cleanup]
sweep = true
sweep_after_seconds = 600
[errors]
not_found = "/api/items/999999"
"""

ENVELOPED_CHECKS = """
[auth]
protected = "/api/articles/"
scheme = "Token"
[crud]
collection = "/api/articles/"
id = "article.slug"
object = "article"
envelope = "article"
create = { title = "{marker}", body = "smoke" }
update = { body = "updated {marker}" }
invalid = { title = "" }
[crud.methods]
update = "PUT"
[crud.list]
items = "articles"
total = "articlesCount"
pagination = "skip_limit"
[crud.cleanup]
sweep = true
[errors]
not_found = "/api/articles/no-such-article"
"""


@pytest.fixture
def suite(isolated: pytest.Pytester) -> pytest.Pytester:
    """The bundled suite, copied into the inner run's directory as package ``smoke``."""
    shutil.copytree(SUITE, isolated.path / "smoke", ignore=shutil.ignore_patterns("__pycache__"))
    return isolated


@pytest.fixture
def api(request: pytest.FixtureRequest) -> Iterator[CrudApi]:
    with CrudApi(getattr(request, "param", FLAT)) as running:
        yield running


def run_suite(
    pytester: pytest.Pytester,
    api: CrudApi,
    checks: str,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> tuple[pytest.RunResult, dict[str, Any]]:
    (pytester.path / "checks.toml").write_text(checks)
    monkeypatch.setenv("GATEWAY_URL", api.url)
    monkeypatch.setenv("SMOKE_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("SMOKE_TEST_CHECKS_FILE", str(pytester.path / "checks.toml"))
    report = pytester.path / "gate.json"
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--smoke-gate",
        "--smoke-report-json",
        str(report),
        "smoke/test_service_communication.py",
        *args,
    )
    return result, json.loads(report.read_text()) if report.exists() else {}


@pytest.mark.parametrize(
    ("api", "checks"),
    [
        pytest.param(FLAT, FLAT_CHECKS, id="flat"),
        pytest.param(ENVELOPED, ENVELOPED_CHECKS, id="enveloped"),
    ],
    indirect=["api"],
)
def test_the_bundled_crud_checks_pass_on_either_shape_and_leave_nothing(
    suite: pytest.Pytester, api: CrudApi, checks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = api.add(f"smoke-{1_000_000_000:010d}-0123abcd")  # left by a run killed long ago
    result, document = run_suite(suite, api, checks, monkeypatch, "-rA")
    passed = [
        "test_missing_or_bad_token_is_refused",
        "test_sweep_leftover_resources",
        "test_crud_flow",
        "test_crud_update",
        "test_pagination",
        "test_unknown_resource_is_not_found",
        "test_invalid_input_is_refused",
    ]
    if api.shape is FLAT:
        passed.append("test_filtering")
    outcomes = {t["nodeid"].rsplit("::", 1)[1]: t["outcome"] for t in document["tests"]}
    assert {name: outcomes.get(name) for name in passed} == dict.fromkeys(passed, "passed"), (
        result.stdout.str()[-3000:]
    )
    assert old[api.shape.id_key] not in [i[api.shape.id_key] for i in api.items.values()]
    assert api.items == {}
    result.stdout.fnmatch_lines(["*sweep: removed 1 of 1 items left by earlier runs*"])
    assert document["left_behind"] == []
    # no path ever doubled its slash, and no unsafe request was redirected
    assert not [path for _, path in api.requests if "//" in path]


def test_a_delete_answering_500_is_reported_as_left_behind(
    suite: pytest.Pytester, api: CrudApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.delete_status = 500
    result, document = run_suite(suite, api, FLAT_CHECKS, monkeypatch, "-k", "test_crud_flow")
    entry = f"{api.url}/api/items/1 (DELETE -> 500)"
    result.stdout.fnmatch_lines(
        [
            "*DELETE /api/items/1 answered 500, expected 204: *internal error*",
            f"*left behind: {entry}*",
        ]
    )
    assert document["left_behind"] == [entry]
    assert document["verdict"] != "PROCEED"
    assert len(api.items) == 1

"""Reports a pipeline reads: JSON, JUnit properties, the HTML section, the step summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from pytest_smoke.reports.json_report import SCHEMA_FILE

from .conftest import SINGLE, XDIST, run

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import SampleProject


MIXED = """
    import pytest
    pytestmark = pytest.mark.smoke

    @pytest.mark.database
    @pytest.mark.parametrize("i", range(4))
    def test_db(i): pass

    @pytest.mark.service
    @pytest.mark.critical
    def test_health(): assert False, "GET /health -> 503"

    @pytest.mark.service
    @pytest.mark.parametrize("i", range(3))
    def test_api(i): pass

    @pytest.mark.redis
    def test_bus(): pytest.skip("SMOKE_TEST_REDIS_URL is not set")
"""


def read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_json_report_follows_its_schema(pytester: pytest.Pytester, extra: tuple[str, ...]) -> None:
    pytester.makepyfile(MIXED)
    result = run(pytester, extra, "--smoke-gate", "--smoke-report-json", "out/gate.json")
    assert result.ret == 11
    document = read_json(pytester.path / "out" / "gate.json")
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    assert document["schema_version"] == 1
    assert document["verdict"] == "ROLLBACK"
    assert document["exit_code"] == 11
    assert document["gate_enabled"] is True
    assert document["pytest_exit_status"] == 1
    assert document["reasons"] == [
        "critical test failed: test_json_report_follows_its_schema.py::test_health"
    ]
    assert document["totals"] == {"total": 9, "passed": 7, "failed": 1, "errors": 0, "skipped": 1}
    assert document["categories"]["database"]["passed"] == 4
    assert document["categories"]["redis"]["skipped"] == 1
    health = next(t for t in document["tests"] if t["nodeid"].endswith("test_health"))
    assert health == {**health, "outcome": "failed", "critical": True, "categories": ["service"]}
    result.stdout.fnmatch_lines(["reports: out/gate.json"])


def test_json_report_names_grouped_causes(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest
        from pytest_smoke import DependencyUnavailable
        @pytest.fixture
        def db():
            raise DependencyUnavailable("database", "db:5432", "timed out after 5s")
    """)
    pytester.makepyfile("""
        import pytest
        pytestmark = [pytest.mark.smoke, pytest.mark.database]
        @pytest.mark.parametrize("i", range(3))
        def test_db(db, i): pass
    """)
    pytester.runpytest("--smoke-report-json", "gate.json")
    document = read_json(pytester.path / "gate.json")
    assert document["causes"] == [
        {
            "cause": "database unreachable at db:5432: timed out after 5s",
            "tests": [f"test_json_report_names_grouped_causes.py::test_db[{i}]" for i in range(3)],
        }
    ]
    assert document["verdict"] == "ROLLBACK"
    assert document["gate_enabled"] is False


def test_the_same_decision_with_and_without_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MIXED)
    run(pytester, (), "--smoke-report-json", "single.json")
    run(pytester, ("-n", "2"), "--smoke-report-json", "xdist.json")
    single, xdist = (read_json(pytester.path / name) for name in ("single.json", "xdist.json"))
    for key in (
        "verdict",
        "exit_code",
        "reasons",
        "causes",
        "totals",
        "categories",
        "failure_rate",
        "flaky",
    ):
        assert single[key] == xdist[key], key
    outcomes = {t["nodeid"]: t["outcome"] for t in single["tests"]}
    assert outcomes == {t["nodeid"]: t["outcome"] for t in xdist["tests"]}


def junit_properties(path: Path) -> dict[str, str]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_junit_testsuite_carries_the_verdict(
    pytester: pytest.Pytester, extra: tuple[str, ...]
) -> None:
    pytester.makepyfile(MIXED)
    run(pytester, extra, "--smoke-gate", "--junitxml", "junit.xml")
    properties = junit_properties(pytester.path / "junit.xml")
    assert properties["smoke_gate_verdict"] == "ROLLBACK"
    assert properties["smoke_gate_exit_code"] == "11"
    assert properties["smoke_gate_total"] == "9"
    assert properties["smoke_gate_failed"] == "1"
    assert properties["smoke_gate_skipped"] == "1"
    assert properties["smoke_gate_reason_1"].startswith("critical test failed: ")
    assert properties["smoke_gate_category_service"] == "passed=3 failed=1 errors=0 skipped=0"


def test_html_report_has_a_verdict_section(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_html", reason="pytest-html is in the html extra")
    pytester.makepyfile(MIXED)
    result = pytester.runpytest("--smoke-gate", "--html", "report.html")
    assert result.ret == 11
    html = (pytester.path / "report.html").read_text()
    assert '<div id="smoke-gate" data-verdict="ROLLBACK">' in html
    assert "critical test failed: " in html
    result.stdout.fnmatch_lines(["reports: report.html"])


def test_no_crash_without_pytest_html(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(3)
    result = pytester.runpytest_subprocess("-p", "no:html", "--smoke-gate")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*smoke gate: PROCEED*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_github_step_summary_is_appended(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "step_summary.md"
    summary.write_text("## Deploy\n\ndeployed v42\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(MIXED)
    pytester.runpytest("--smoke-gate")
    text = summary.read_text()
    assert text.startswith("## Deploy\n\ndeployed v42\n")  # other steps' text is kept
    assert "## :rotating_light: Smoke gate: ROLLBACK" in text
    assert (
        "- critical test failed: test\\_github\\_step\\_summary\\_is\\_appended.py::test\\_health"
    ) in text
    assert "| category | passed | failed | errors | skipped |" in text
    assert "| service | 3 | 1 | 0 | 0 |" in text
    assert "| **total** | 7 | 1 | 0 | 1 |" in text
    assert "exit status: 11" in text


def test_no_step_summary_outside_github(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(3)
    pytester.runpytest("--smoke-gate")
    assert not list(pytester.path.glob("*.md"))

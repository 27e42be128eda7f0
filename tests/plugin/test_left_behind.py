"""What a check created and could not remove reaches the verdict and every report, once."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from pytest_smoke.reports.json_report import SCHEMA_FILE

from .conftest import SINGLE, XDIST, run

if TYPE_CHECKING:
    from pathlib import Path

SECRET = "sweep-token-planted-3141"

#: A fixture keeping the contract of smoke_resources: the entries under the stash key, then a
#: teardown failure of one line.
CONFTEST = """
    import pytest
    from pytest_smoke import _state

    @pytest.fixture
    def leaky(request):
        entries = []
        yield entries
        if entries:
            request.node.stash[_state.item_left_behind_key] = entries
            pytest.fail(f"left behind: {', '.join(entries)}", pytrace=False)
"""

SUITE = f"""
    import pytest
    pytestmark = [pytest.mark.smoke, pytest.mark.service]

    def test_create(leaky):
        leaky.append("https://api.example.com/api/items/42 (DELETE -> 500)")
        leaky.append("https://api.example.com/api/items/43?token={SECRET} (DELETE -> timeout)")

    def test_update(leaky):
        leaky.append("https://api.example.com/api/items/44 (DELETE -> 503)")

    @pytest.mark.parametrize("i", range(8))
    def test_read(leaky, i): pass
"""

ENTRIES = [
    "https://api.example.com/api/items/42 (DELETE -> 500)",
    "https://api.example.com/api/items/43?token=*** (DELETE -> timeout)",
    "https://api.example.com/api/items/44 (DELETE -> 503)",
]


def read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    return document


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_left_behind_reaches_the_verdict_and_the_json_report(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...]
) -> None:
    monkeypatch.setenv("SMOKE_TEST_TOKEN", SECRET)  # a secret the masker knows
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SUITE)
    result = run(pytester, extra, "--smoke-gate", "--smoke-report-json", "gate.json")
    # each leaking test is one teardown error, nothing more: 2 of 10 = 20%, not over
    result.assert_outcomes(passed=10, errors=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*smoke gate: MONITOR*"])
    block = result.outlines[next(i for i, o in enumerate(result.outlines) if "smoke gate:" in o) :]
    lines = [line for line in block if line.startswith("left behind: ")]
    assert sorted(lines) == [f"left behind: {entry}" for entry in ENTRIES]
    document = read_json(pytester.path / "gate.json")
    assert sorted(document["left_behind"]) == ENTRIES
    assert document["totals"]["errors"] == 2
    assert not any("left behind" in reason for reason in document["reasons"][1:])
    assert SECRET not in result.stdout.str() + (pytester.path / "gate.json").read_text()


def test_left_behind_in_the_step_summary_and_html(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pytest_html", reason="pytest-html is in the html extra")
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SUITE)
    pytester.runpytest("--html", "report.html")
    markdown = summary.read_text()
    assert "**Left behind** (created by the checks, not removed)" in markdown
    assert "- https://api.example.com/api/items/42 (DELETE -\\> 500)" in markdown
    html = (pytester.path / "report.html").read_text()
    assert "<h3>Left behind</h3>" in html
    assert "https://api.example.com/api/items/44 (DELETE -&gt; 503)" in html


def test_the_smoke_resources_fixture_reaches_the_report(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_smoke.checks.ledger")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_create(smoke_resources):
            smoke_resources.created("https://api.example.com/api/items/7")
            smoke_resources.not_removed("https://api.example.com/api/items/7", "DELETE -> 500")
    """)
    result = pytester.runpytest("--smoke-report-json", "gate.json")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["left behind: https://api.example.com/api/items/7*"])
    assert read_json(pytester.path / "gate.json")["left_behind"][0].startswith(
        "https://api.example.com/api/items/7"
    )

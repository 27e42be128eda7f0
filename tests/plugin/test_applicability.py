"""Not applicable is not skipped: checks the deployment does not configure are deselected at
collection, listed once (terminal, JSON, HTML, step summary), and never counted by the gate."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from pytest_smoke.reports.json_report import SCHEMA_FILE

from .conftest import SINGLE, XDIST, run

if TYPE_CHECKING:
    from pathlib import Path

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

#: A suite for a deployment that has only a gateway and a checks file with [service] health.
SUITE = """
    import pytest

    pytestmark = pytest.mark.smoke

    def test_health(): pass

    @pytest.mark.needs_checks("service.health")
    def test_health_paths(): pass

    async def test_bus(redis_client): pass

    async def test_events(event_bus): pass

    async def test_secrets(keyvault_client): pass

    async def test_tables(db_session): pass

    @pytest.mark.needs_checks("crud.list.filter_param")
    def test_filter(): pass

    @pytest.mark.needs_checks("crud.update")
    def test_update(): pass

    @pytest.mark.needs_https
    def test_certificate(): pass

    @pytest.mark.writes
    def test_create(): pass

    @pytest.mark.writes
    async def test_insert(db_session): pass

    def test_not_gated_either(): pass
"""

NOT_CONFIGURED_LINE = (
    "not configured: database (SMOKE_TEST_DATABASE_URL), redis (SMOKE_TEST_REDIS_URL), "
    "secrets (AZURE_KEYVAULT_NAME or AZURE_KEYVAULT_URL), tls (GATEWAY_URL is http://), "
    "checks file crud: 8 checks"
)


def project(pytester: pytest.Pytester, suite: str = SUITE, checks: str = "") -> None:
    pytester.makeini(INI)
    pytester.makefile(".toml", checks=checks or '[service]\nhealth = ["/health"]\n')
    pytester.makefile(
        ".http", **{".env": "GATEWAY_URL=http://127.0.0.1:9\nSMOKE_TEST_CHECKS_FILE=checks.toml\n"}
    )
    pytester.makepyfile(test_suite=suite)


def read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    return document


def groups(document: dict[str, Any]) -> dict[str, list[str]]:
    return {
        group["reason"]: [test.split("::")[1] for test in group["tests"]]
        for group in document["not_applicable"]
    }


EXPECTED = {
    "database (SMOKE_TEST_DATABASE_URL)": ["test_tables", "test_insert"],
    "redis (SMOKE_TEST_REDIS_URL)": ["test_bus", "test_events"],
    "secrets (AZURE_KEYVAULT_NAME or AZURE_KEYVAULT_URL)": ["test_secrets"],
    "tls (GATEWAY_URL is http://)": ["test_certificate"],
    "checks file crud": ["test_filter", "test_update"],
}


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_not_configured_checks_are_deselected_and_listed_once(
    pytester: pytest.Pytester, extra: tuple[str, ...]
) -> None:
    project(pytester)
    result = run(
        pytester, extra, "--smoke-env", "http", "--smoke-gate", "--smoke-report-json", "gate.json"
    )
    # 4 of 12 ran: were the 8 "skipped", the skip rule would say INVESTIGATE
    result.assert_outcomes(passed=4)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*smoke gate: PROCEED*", NOT_CONFIGURED_LINE])
    output = result.stdout.str()
    assert output.count("not configured:") == 1
    assert "skipped" not in output
    document = read_json(pytester.path / "gate.json")
    assert groups(document) == EXPECTED
    assert document["totals"] == {"total": 4, "passed": 4, "failed": 0, "errors": 0, "skipped": 0}
    assert document["verdict"] == "PROCEED"


def test_not_applicable_under_xdist_equals_the_serial_run(pytester: pytest.Pytester) -> None:
    project(pytester)
    run(pytester, SINGLE.values[0], "--smoke-env", "http", "--smoke-report-json", "serial.json")
    run(pytester, ("-n", "2"), "--smoke-env", "http", "--smoke-report-json", "xdist.json")
    serial = read_json(pytester.path / "serial.json")["not_applicable"]
    assert serial == read_json(pytester.path / "xdist.json")["not_applicable"]
    assert sum(len(group["tests"]) for group in serial) == 8


def test_a_skip_at_run_time_still_counts(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        import pytest
        pytestmark = pytest.mark.smoke

        def test_health(): pass

        @pytest.mark.parametrize("i", range(2))
        def test_vector(i): pytest.skip("the pgvector extension is not available")

        async def test_bus(redis_client): pass
        """,
    )
    result = pytester.runpytest("--smoke-env", "http", "--smoke-gate")
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == 10
    result.stdout.fnmatch_lines(
        [
            "*smoke gate: INVESTIGATE*",
            "reasons: 2 of 3 smoke tests skipped (66.7% > 50%)",
            "not configured: redis (SMOKE_TEST_REDIS_URL): 1 check",
        ]
    )


def test_tests_that_are_not_gated_are_left_alone(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        import pytest

        @pytest.mark.smoke
        def test_smoke(): pass

        async def test_plain_redis(redis_client): pass

        @pytest.mark.needs_checks("crud.update")
        def test_plain_marked(): pass
        """,
    )
    result = pytester.runpytest("--smoke-env", "http", "-rs")
    # not gated: the fixture still skips at run time, the marker means nothing
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*SMOKE_TEST_REDIS_URL is not set*"])
    assert "not configured" not in result.stdout.str()


def test_only_what_would_have_run_is_listed(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest("--smoke-env", "http", "-k", "not bus and not events")
    result.stdout.fnmatch_lines(
        [
            "not configured: database (SMOKE_TEST_DATABASE_URL), secrets (AZURE_KEYVAULT_NAME "
            "or AZURE_KEYVAULT_URL), tls (GATEWAY_URL is http://), checks file crud: 6 checks"
        ]
    )


def test_quick_lists_only_critical_checks(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        import pytest
        pytestmark = pytest.mark.smoke

        @pytest.mark.critical
        def test_health(): pass

        @pytest.mark.critical
        async def test_bus(redis_client): pass

        async def test_events(event_bus): pass
        """,
    )
    result = pytester.runpytest("--smoke-env", "http", "--smoke-quick")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["not configured: redis (SMOKE_TEST_REDIS_URL): 1 check"])


def test_nothing_applicable_is_investigate_and_says_why(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        import pytest
        pytestmark = pytest.mark.smoke

        async def test_bus(redis_client): pass

        async def test_events(event_bus): pass
        """,
    )
    # no --smoke-* option: collecting smoke tests is what makes it a smoke run
    result = pytester.runpytest("--smoke-env", "http")
    result.stdout.fnmatch_lines(
        [
            "*smoke gate: INVESTIGATE*",
            "reasons: no smoke test ran (2 smoke tests not applicable to this deployment: "
            "not configured or not run)",
            "not configured: redis (SMOKE_TEST_REDIS_URL): 2 checks",
        ]
    )


@pytest.mark.parametrize(
    ("args", "environ", "ini"),
    [
        (("--smoke-read-only",), {}, ""),
        ((), {"SMOKE_TEST_READ_ONLY": "true"}, ""),
        ((), {}, "smoke_read_only = true\n"),
    ],
    ids=["option", "environment", "ini"],
)
def test_read_only_profile_does_not_run_checks_that_write(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    environ: dict[str, str],
    ini: str,
) -> None:
    project(
        pytester,
        """
        import pytest
        pytestmark = pytest.mark.smoke

        def test_read(): pass

        @pytest.mark.writes
        @pytest.mark.parametrize("i", range(2))
        def test_write(i): pass

        @pytest.mark.writes
        async def test_bus_write(redis_client): pass
        """,
    )
    pytester.makeini(INI + ini)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest("--smoke-env", "http", "--smoke-report-json", "gate.json", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "not configured: redis (SMOKE_TEST_REDIS_URL): 1 check",
            "not run: read-only profile: 2 checks that write",
        ]
    )
    assert groups(read_json(pytester.path / "gate.json"))["read-only profile"] == [
        "test_write[0]",
        "test_write[1]",
    ]


def test_a_read_only_database_does_not_run_checks_that_write_to_it(
    pytester: pytest.Pytester,
) -> None:
    project(
        pytester,
        """
        import pytest
        pytestmark = pytest.mark.smoke

        @pytest.mark.writes
        def test_http_write(): pass

        @pytest.mark.writes
        async def test_db_write(db_session): pass

        async def test_db_read(db_session): pass
        """,
    )
    pytester.makefile(
        ".http",
        **{
            ".env": "GATEWAY_URL=http://127.0.0.1:9\nSMOKE_TEST_CHECKS_FILE=checks.toml\n"
            "SMOKE_TEST_DATABASE_URL=postgresql://app@127.0.0.1:9/app\n"
            "SMOKE_TEST_DB_READ_ONLY=true\n"
        },
    )
    result = pytester.runpytest("--smoke-env", "http", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["*::test_http_write", "*::test_db_read", "*2/3 tests collected (1 deselected)*"]
    )
    assert "test_db_write" not in result.stdout.str()


def test_the_html_report_and_step_summary_list_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pytest_html", reason="pytest-html is in the html extra")
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project(pytester)
    pytester.runpytest("--smoke-env", "http", "--html", "report.html", "--smoke-read-only")
    html = (pytester.path / "report.html").read_text()
    assert '<ul id="smoke-not-applicable">' in html
    assert "redis (SMOKE_TEST_REDIS_URL): 2" in html
    assert "read-only profile: 1" in html
    markdown = summary.read_text()
    assert "**Not applicable** (deselected, not counted)" in markdown
    assert "- checks file crud: 2 checks" in markdown
    assert "- read-only profile: 1 check" in markdown


def test_a_bad_needs_checks_marker_is_one_line_and_exit_4(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        import pytest

        @pytest.mark.smoke
        @pytest.mark.needs_checks("crud", "crud..update")
        def test_typo(): pass
        """,
    )
    result = pytester.runpytest("--smoke-env", "http")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: test_suite.py::test_typo: needs_checks: 'crud..update' is not a dotted "
            "checks-file key; use @pytest.mark.needs_checks('section.key', ...)"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_the_new_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.needs_checks(*keys): smoke test that needs these checks-file keys*",
            "@pytest.mark.writes: smoke test that changes the deployment*",
            "@pytest.mark.needs_https: smoke test that needs an https:// GATEWAY_URL*",
        ]
    )
    pytester.makepyfile("""
        import pytest

        @pytest.mark.needs_checks("crud.update")
        @pytest.mark.writes
        @pytest.mark.needs_https
        def test_all(): pass
    """)
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)

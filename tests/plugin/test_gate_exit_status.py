"""The gate's verdict and exit status, through real pytest runs (single process and xdist)."""

from __future__ import annotations

import json

import pytest

from .conftest import INI, SINGLE, XDIST, SampleProject, run, verdict_line


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
class TestDoneWhen:
    """The four sample projects of the issue, each with and without -n 2."""

    def test_a_failing_critical_test_rolls_back_and_is_named(
        self, pytester: pytest.Pytester, sample_project: SampleProject, extra: tuple[str, ...]
    ) -> None:
        sample_project(10, failing=3, critical=True)
        result = run(pytester, extra, "--smoke-gate")
        assert result.ret == 11
        assert "smoke gate: ROLLBACK" in verdict_line(result.stdout.str())
        result.stdout.fnmatch_lines(["reasons: critical test failed: test_sample.py::test_0"])

    def test_30_percent_failing_rolls_back_for_the_rate(
        self, pytester: pytest.Pytester, sample_project: SampleProject, extra: tuple[str, ...]
    ) -> None:
        sample_project(10, failing=3)
        result = run(pytester, extra, "--smoke-gate")
        assert result.ret == 11
        result.stdout.fnmatch_lines(["reasons: failure rate 30.0% > 20% threshold"])

    def test_one_non_critical_failure_is_monitor_and_exit_0(
        self, pytester: pytest.Pytester, sample_project: SampleProject, extra: tuple[str, ...]
    ) -> None:
        sample_project(10, failing=1)
        result = run(pytester, extra, "--smoke-gate")
        assert result.ret == 0
        assert "smoke gate: MONITOR" in verdict_line(result.stdout.str())
        result.stdout.fnmatch_lines(
            ["reasons: 1 non-critical smoke test failed (failure rate 10.0%, threshold 20%)"]
        )

    def test_all_passing_is_proceed_and_exit_0(
        self, pytester: pytest.Pytester, sample_project: SampleProject, extra: tuple[str, ...]
    ) -> None:
        sample_project(10)
        result = run(pytester, extra, "--smoke-gate")
        assert result.ret == 0
        assert "smoke gate: PROCEED" in verdict_line(result.stdout.str())
        result.stdout.fnmatch_lines(["total * 10 passed * 0 failed", "*", "exit status: 0"])


def test_without_the_gate_pytests_status_stands_and_the_verdict_is_printed(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(10, failing=3, critical=True)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "smoke gate: ROLLBACK (advisory: gate off" in verdict_line(result.stdout.str())


def test_the_gate_can_be_switched_on_in_ini(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(10, failing=3)
    pytester.makeini(INI + "smoke_gate = true\n")
    assert pytester.runpytest().ret == 11


def test_the_gate_can_be_switched_on_by_environment(
    pytester: pytest.Pytester, sample_project: SampleProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_project(10, failing=3)
    monkeypatch.setenv("SMOKE_GATE", "1")
    assert pytester.runpytest().ret == 11


def test_policy_threshold_from_the_command_line(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(10, failing=3)
    result = pytester.runpytest("--smoke-gate", "--smoke-max-failure-percent", "30")
    assert result.ret == 0
    assert "MONITOR" in verdict_line(result.stdout.str())


def test_a_run_without_smoke_tests_prints_nothing_and_changes_nothing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("def test_plain(): assert False")
    result = pytester.runpytest()
    assert result.ret == 1
    assert "smoke gate" not in result.stdout.str()


def test_no_smoke_test_collected_with_the_gate_on_is_investigate(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest("--smoke-gate")
    assert result.ret == 10
    result.stdout.fnmatch_lines(
        [
            "reasons: no smoke test ran: none was collected*",
            "not gated: 1 test without a smoke or critical marker",
        ]
    )


def test_an_empty_run_with_the_gate_on_is_investigate_not_5(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    assert pytester.runpytest("--smoke-gate").ret == 10


def test_a_collection_error_is_investigate(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(4)
    pytester.makepyfile(test_broken="import pytest\npytestmark = pytest.mark.smoke\nimport nope")
    result = pytester.runpytest("--smoke-gate", "--continue-on-collection-errors")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["reasons: 1 collection error: *"])


def test_a_collection_error_that_stops_pytest_is_investigate(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(4)
    pytester.makepyfile(test_broken="import nope")
    result = pytester.runpytest("--smoke-gate")
    assert result.ret == 10


def test_mostly_skipped_is_investigate(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.smoke
        def test_ran(): pass
        @pytest.mark.parametrize("i", range(2))
        def test_skipped(i): pytest.skip("SMOKE_TEST_REDIS_URL is not set")
    """)
    result = pytester.runpytest("--smoke-gate")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["reasons: 2 of 3 smoke tests skipped (66.7% > 50%)"])


def test_a_test_that_passes_only_on_rerun_is_investigate(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        import pathlib, pytest
        pytestmark = pytest.mark.smoke
        def test_steady(): pass
        def test_flaky(tmp_path_factory):
            marker = tmp_path_factory.getbasetemp().parent / "flaky-ran-once"
            if not marker.exists():
                marker.touch()
                assert False, "first attempt fails"
    """)
    result = pytester.runpytest("--smoke-gate", "--reruns", "1")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["reasons: passed only on rerun: test_*.py::test_flaky"])


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_any_database_failure_rolls_back(pytester: pytest.Pytester, extra: tuple[str, ...]) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.smoke
        @pytest.mark.parametrize("i", range(19))
        def test_service(i): pass
        @pytest.mark.database
        def test_db_constraint(): assert False
    """)
    result = run(pytester, extra, "--smoke-gate")
    assert result.ret == 11
    result.stdout.fnmatch_lines(["reasons: database test failed: test_*.py::test_db_constraint"])


def test_a_whole_category_failing_rolls_back(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.smoke
        @pytest.mark.parametrize("i", range(18))
        def test_service(i): pass
        @pytest.mark.redis
        @pytest.mark.parametrize("i", range(2))
        def test_bus(i): assert False
    """)
    result = pytester.runpytest("--smoke-gate")
    assert result.ret == 11
    result.stdout.fnmatch_lines(["reasons: every redis test failed (2 of 2)"])


CAUSE_CONFTEST = """
    import pytest
    from pytest_smoke import DependencyUnavailable

    @pytest.fixture
    def bus():
        raise DependencyUnavailable("redis", "127.0.0.1:1", "connection refused")
"""


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_failures_from_one_dead_dependency_are_grouped_and_named(
    pytester: pytest.Pytester, extra: tuple[str, ...]
) -> None:
    pytester.makeini(INI)
    pytester.makeconftest(CAUSE_CONFTEST)
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.smoke
        @pytest.mark.parametrize("i", range(10))
        def test_service(i): pass
        @pytest.mark.parametrize("i", range(4))
        def test_event(bus, i): pass
    """)
    result = run(pytester, extra, "--smoke-gate")
    # 4 errors grouped into one cause: 1 of 11 (9.1%), MONITOR instead of 4 of 14 (ROLLBACK).
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*smoke gate: MONITOR*",
            "other * 10 passed * 4 errors   (4 caused by: redis unreachable at 127.0.0.1:1: "
            "connection refused)",
            "causes:  redis unreachable at 127.0.0.1:1: connection refused (4 failed)",
        ]
    )


def test_a_project_can_name_its_own_root_causes(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makeconftest("""
        def pytest_smoke_root_cause(item, call, report):
            if call.excinfo and "503" in str(call.excinfo.value):
                return "gateway /health 503"
    """)
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.smoke
        @pytest.mark.parametrize("i", range(2))
        def test_health(i): raise AssertionError("GET /health -> 503")
        def test_other(): pass
    """)
    result = pytester.runpytest("--smoke-gate")
    result.stdout.fnmatch_lines(["causes:  gateway /health 503 (2 failed)"])


def test_a_crashed_xdist_worker_never_ends_in_0(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        import os, pytest
        pytestmark = pytest.mark.smoke
        @pytest.mark.parametrize("i", range(12))
        def test_fine(i): pass
        def test_crash(): os._exit(1)
    """)
    result = pytester.runpytest_subprocess("-n", "2", "--smoke-gate", "-p", "no:cacheprovider")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["*xdist worker crashed: gw*"])


def test_stopping_early_is_investigate_not_proceed(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.smoke
        @pytest.mark.parametrize("i", range(20))
        def test_a(i): assert i != 0
    """)
    result = pytester.runpytest("--smoke-gate", "-x")
    assert result.ret in (10, 11)
    assert "smoke gate: PROCEED" not in result.stdout.str()


def test_an_error_while_deciding_fails_closed(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(10)
    pytester.makeconftest("""
        def pytest_smoke_decision(config, decision):
            raise RuntimeError("notifier exploded")
    """)
    result = pytester.runpytest("--smoke-gate")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(
        [
            "*smoke gate: could not decide*",
            "internal error in pytest-smoke-gate: RuntimeError: notifier exploded",
        ]
    )


def test_decision_hook_receives_the_decision(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(10, failing=1)
    pytester.makeconftest("""
        def pytest_smoke_decision(config, decision):
            print(f"\\nNOTIFY {decision.verdict} {decision.exit_code}")
    """)
    result = pytester.runpytest("--smoke-gate", "-s")
    result.stdout.fnmatch_lines(["NOTIFY MONITOR 0"])


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_a_passing_check_with_a_warning_is_monitor(
    pytester: pytest.Pytester, extra: tuple[str, ...]
) -> None:
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.smoke

        @pytest.mark.parametrize("i", range(5))
        def test_fine(i): pass

        def test_cpu(smoke_warning):
            smoke_warning("CPU 95% > 80% threshold (under 50% over: WARNING)")
    """)
    result = run(pytester, extra, "--smoke-gate", "--smoke-report-json", "gate.json")
    assert result.ret == 0
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*smoke gate: MONITOR*",
            "reasons: warning: test_*.py::test_cpu: CPU 95% > 80% threshold (under 50% over: *",
        ]
    )
    document = json.loads((pytester.path / "gate.json").read_text())
    (cpu,) = [t["nodeid"] for t in document["tests"] if t["nodeid"].endswith("::test_cpu")]
    assert document["warnings"] == [f"{cpu}: CPU 95% > 80% threshold (under 50% over: WARNING)"]

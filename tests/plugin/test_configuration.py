"""Options, ini, markers, fixtures, quick mode, env profiles and bad input, through pytest."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pytest_smoke.markers import MARKER_HELP

from .conftest import INI, SampleProject


def test_markers_are_registered_with_their_meaning(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    for name, text in MARKER_HELP.items():
        result.stdout.fnmatch_lines([f"@pytest.mark.{name}: {text}"])


def test_our_markers_pass_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.smoke
        @pytest.mark.critical
        @pytest.mark.database
        @pytest.mark.redis
        @pytest.mark.service
        @pytest.mark.azure
        @pytest.mark.secrets
        @pytest.mark.metrics
        def test_all(): pass
    """)
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


def test_options_are_documented_and_never_clash_with_pytest_smoke(
    pytester: pytest.Pytester,
) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    for option in (
        "--smoke-env",
        "--smoke-env-file",
        "--smoke-gate",
        "--smoke-quick",
        "--smoke-report-json",
        "--smoke-max-failure-percent",
        "--smoke-timeout",
    ):
        assert option in help_text
    # The PyPI plugin "pytest-smoke" owns these; defining one would break users who have both.
    options = set(re.findall(r"(--smoke[a-z-]*)", help_text))
    assert not options & {"--smoke", "--smoke-scope", "--smoke-last", "--smoke-random"}


def test_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(
        [
            "smoke_settings* -- *",
            "*The run's resolved, immutable*",
        ]
    )


def test_quick_mode_runs_only_critical_tests(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.smoke
        @pytest.mark.critical
        def test_login(): pass
        def test_listing(): pass
        def test_search(): pass
    """)
    result = pytester.runpytest("--smoke-quick", "-v")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["*::test_login PASSED*"])


def test_quick_mode_from_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        import pytest
        @pytest.mark.critical
        def test_login(): pass
        @pytest.mark.smoke
        def test_listing(): pass
    """)
    monkeypatch.setenv("SMOKE_QUICK", "true")
    pytester.runpytest().assert_outcomes(passed=1, deselected=1)


SHOW_SETTINGS = """
    import pytest
    @pytest.mark.smoke
    def test_show(smoke_settings):
        print(f"\\nGATEWAY={smoke_settings.gateway_url} TIMEOUT={smoke_settings.timeout:g} "
              f"PROFILE={smoke_settings.profile}")
"""


def test_profile_is_loaded_from_the_rootdir(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makefile(
        ".staging", **{".env": "GATEWAY_URL=https://staging.example.com\nSMOKE_TEST_TIMEOUT=12\n"}
    )
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest("--smoke-env", "staging", "-s")
    result.stdout.fnmatch_lines(["GATEWAY=https://staging.example.com TIMEOUT=12 PROFILE=staging"])


def test_environment_beats_profile_and_option_beats_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INI + "smoke_timeout = 9\nsmoke_gateway_url = https://ini.example.com\n")
    pytester.makefile(
        ".staging", **{".env": "GATEWAY_URL=https://profile.example.com\nSMOKE_TEST_TIMEOUT=12\n"}
    )
    pytester.makepyfile(SHOW_SETTINGS)
    monkeypatch.setenv("SMOKE_TEST_TIMEOUT", "13")
    result = pytester.runpytest("--smoke-env", "staging", "-s")
    result.stdout.fnmatch_lines(["GATEWAY=https://profile.example.com TIMEOUT=13 *"])
    result = pytester.runpytest("--smoke-env", "staging", "--smoke-timeout", "14", "-s")
    result.stdout.fnmatch_lines(["GATEWAY=https://profile.example.com TIMEOUT=14 *"])
    result = pytester.runpytest("-s")  # no profile: ini, under the environment variable
    result.stdout.fnmatch_lines(["GATEWAY=https://ini.example.com TIMEOUT=13 PROFILE=None"])


def test_profile_named_in_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "smoke_env = demo\n")
    pytester.makefile(".demo", **{".env": "GATEWAY_URL=http://127.0.0.1:8000\n"})
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["GATEWAY=http://127.0.0.1:8000 * PROFILE=demo"])


def test_report_header_names_the_profile_and_masks_passwords(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makefile(
        ".staging", **{".env": "SMOKE_TEST_DATABASE_URL=postgresql://app:hunter2@db:5432/app\n"}
    )
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest("--smoke-env", "staging", "-v")
    result.stdout.fnmatch_lines(
        [
            "smoke: profile staging (*.env.staging), gate off (advisory)",
            "  SMOKE_TEST_DATABASE_URL=postgresql://app:***@db:5432/app  [profile .env.staging]",
        ]
    )
    assert "hunter2" not in result.stdout.str()


def usage_error(pytester: pytest.Pytester, *args: str) -> str:
    """Run, expect pytest's usage error, and return its one message line."""
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_x(): pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    messages = [line for line in result.stderr.lines if line.strip()]
    assert len(messages) == 1, messages
    assert messages[0].startswith("ERROR: smoke: ")
    return messages[0]


def test_unknown_profile(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makefile(".demo", **{".env": ""})
    message = usage_error(pytester, "--smoke-env", "prod")
    assert "--smoke-env prod: unknown profile" in message
    assert "demo" in message


def test_unreadable_profile(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    if os.geteuid() == 0:  # root reads any file whatever its mode; this one fails with EIO
        path = "/proc/self/mem"
    else:
        unreadable = pytester.makefile(".staging", **{".env": ""})
        unreadable.chmod(0)
        path = str(unreadable)
    assert "cannot read profile file" in usage_error(pytester, "--smoke-env-file", path)


def test_malformed_profile(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makefile(".staging", **{".env": "GATEWAY_URL=https://x.example.com\n'oops\n"})
    assert "line 2 is not KEY=VALUE" in usage_error(pytester, "--smoke-env", "staging")


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        pytest.param(
            "GATEWAY_URL=api.example.com",
            "GATEWAY_URL='api.example.com' (profile .env.staging) needs a scheme and a "
            "host, e.g. https://api.example.com",
            id="url-without-scheme",
        ),
        pytest.param(
            "SMOKE_TEST_REDIS_URL=redis://:6379/0",
            "SMOKE_TEST_REDIS_URL=(hidden) (profile .env.staging) needs a scheme and a "
            "host, e.g. redis://cache.example.com:6379/0",
            id="url-without-host",
        ),
        pytest.param(
            "SMOKE_GATE_MAX_FAILURE_PERCENT=120",
            "SMOKE_GATE_MAX_FAILURE_PERCENT='120' (profile .env.staging) is out of "
            "range; it must be between 0 and 100 (percent)",
            id="threshold-out-of-range",
        ),
        pytest.param(
            "METRIC_THRESHOLD_CPU=-1",
            "METRIC_THRESHOLD_CPU='-1' (profile .env.staging) is out of range; it must be "
            "between 0 and 100 (percent)",
            id="metric-threshold-out-of-range",
        ),
        pytest.param(
            "VM_RESOURCE_ID=/subscriptions/s/vm1",
            "VM_RESOURCE_ID='/subscriptions/s/vm1' (profile .env.staging) is not a VM resource "
            "ID; expected /subscriptions/{subscription}/resourceGroups/{group}/providers/"
            "Microsoft.Compute/virtualMachines/{vm}",
            id="bad-vm-resource-id",
        ),
        pytest.param(
            "SMOKE_TEST_TIMEOUT=thirty",
            "SMOKE_TEST_TIMEOUT='thirty' (profile .env.staging) is not a number; set it "
            "in seconds, e.g. 30",
            id="timeout-not-a-number",
        ),
    ],
)
def test_bad_values_in_a_profile(pytester: pytest.Pytester, profile: str, expected: str) -> None:
    pytester.makeini(INI)
    pytester.makefile(".staging", **{".env": profile + "\n"})
    assert usage_error(pytester, "--smoke-env", "staging") == f"ERROR: smoke: {expected}"


def test_bad_threshold_option(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    message = usage_error(pytester, "--smoke-max-failure-percent", "abc")
    assert "--smoke-max-failure-percent='abc' (command line) is not a number" in message


def test_bad_ini_value(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "smoke_category_min_tests = 0\n")
    message = usage_error(pytester, "--smoke-gate")
    assert "smoke_category_min_tests='0' (ini) must be 1 or more" in message


def test_a_stray_bad_variable_does_not_break_unrelated_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GATEWAY_URL is a common name; a project without smoke tests must not pay for ours.
    pytester.makeini(INI)
    monkeypatch.setenv("GATEWAY_URL", "localhost:8000")
    pytester.makepyfile("def test_unit(): pass")
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_same_bad_variable_stops_a_run_with_smoke_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INI)
    monkeypatch.setenv("GATEWAY_URL", "localhost:8000")
    assert "GATEWAY_URL='localhost:8000' (environment) needs a scheme" in usage_error(pytester)


def test_env_file_relative_to_the_working_directory(
    pytester: pytest.Pytester, sample_project: SampleProject
) -> None:
    sample_project(2)
    Path(pytester.path, "deploy").mkdir()
    Path(pytester.path, "deploy", "smoke.env").write_text("SMOKE_GATE=true\n")
    result = pytester.runpytest("--smoke-env-file", "deploy/smoke.env")
    result.stdout.fnmatch_lines(["*smoke gate: PROCEED*", "exit status: 0"])

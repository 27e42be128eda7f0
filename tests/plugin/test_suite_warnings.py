"""A run of the bundled suite prints no warning, whatever the project's ini says; the project's
own warnings, and its own asyncio settings, stay as they are."""

from __future__ import annotations

import pytest

from pytest_smoke import suite_settings

SUITE = ("--pyargs", "pytest_smoke.suite", "-p", "no:cacheprovider")


@pytest.fixture
def no_ini(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with no ini file at all (the suite's conftest writes one for every run)."""
    (pytester.path / "tox.ini").unlink()
    return pytester


def header_scope(result: pytest.RunResult) -> str:
    """The fixture loop scope pytest-asyncio reports in its header line."""
    line = next(line for line in result.outlines if line.startswith("asyncio: "))
    return line.split("asyncio_default_fixture_loop_scope=")[1].split(",")[0]


@pytest.mark.parametrize("extra", [(), ("-n", "2")], ids=["single", "xdist"])
def test_the_suite_without_an_ini_prints_no_warning(
    no_ini: pytest.Pytester, extra: tuple[str, ...]
) -> None:
    result = no_ini.runpytest_subprocess(*SUITE, *extra)

    output = result.stdout.str() + result.stderr.str()
    assert "Warning" not in output
    assert "warnings summary" not in output
    assert "is unset" not in output
    result.stdout.fnmatch_lines(["*smoke gate: INVESTIGATE*"])  # it did run: nothing configured


def test_the_suite_gets_a_loop_scope_only_when_the_project_sets_none(
    no_ini: pytest.Pytester,
) -> None:
    result = no_ini.runpytest_subprocess(*SUITE)

    assert header_scope(result) in ("fixture-scope", "function")


@pytest.mark.parametrize("source", ["ini", "command line"], ids=["ini", "override"])
def test_a_loop_scope_the_project_sets_stands(pytester: pytest.Pytester, source: str) -> None:
    args: tuple[str, ...] = ()
    if source == "ini":
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = module\n")
    else:
        args = ("-o", "asyncio_default_fixture_loop_scope=module")

    result = pytester.runpytest_subprocess(*SUITE, *args)

    assert header_scope(result) == "module"
    assert "Warning" not in result.stdout.str() + result.stderr.str()


def test_the_projects_own_warnings_still_show(no_ini: pytest.Pytester) -> None:
    test_file = no_ini.makepyfile(
        test_own="""
        import warnings

        def test_warns():
            warnings.warn(UserWarning("the project's own warning"))
        """
    )

    result = no_ini.runpytest_subprocess(*SUITE, str(test_file))

    result.stdout.fnmatch_lines(["*warnings summary*", "*UserWarning: the project's own warning"])
    assert "is unset" not in result.stdout.str() + result.stderr.str()


def test_a_run_without_the_suite_keeps_pytest_asyncios_warning(no_ini: pytest.Pytester) -> None:
    # The project's own run: its missing setting is its own business, told as before.
    no_ini.makepyfile(test_plain="def test_plain(): pass")

    result = no_ini.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert "is unset" in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("args", "pyargs", "expected"),
    [
        (["pytest_smoke.suite"], True, True),
        (["pytest_smoke.suite.test_production_health::test_x"], True, True),
        (["pytest_smoke"], True, True),
        (["pytest_smoke.suite"], False, False),  # without --pyargs: a path, which is not there
        (["tests/"], False, False),
        (["pytest_smoke_suite_of_mine"], True, False),
    ],
)
def test_which_runs_name_the_bundled_suite(
    pytester: pytest.Pytester, args: list[str], pyargs: bool, expected: bool
) -> None:
    config = pytester.parseconfig(*(["--pyargs"] if pyargs else []), *args)

    assert suite_settings.runs_bundled_suite(config) is expected


def test_a_path_inside_the_suite_names_it(pytester: pytest.Pytester) -> None:
    suite = suite_settings.suite_directory()
    config = pytester.parseconfig(str(suite / "test_production_health.py"))

    assert suite_settings.runs_bundled_suite(config)

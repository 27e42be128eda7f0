"""The plugin must cost almost nothing in every pytest run where it is installed.

pytest loads ``pytest_smoke.plugin`` through its ``pytest11`` entry point (``pytest_smoke:plugin``)
in every run of every project that has pytest-smoke-gate installed, smoke run or not. So a run
must never import the heavy client libraries behind the optional extras (SQLAlchemy, asyncpg,
redis, httpx, the Azure SDK, aiohttp), nor jinja2, and not even python-dotenv unless an env
profile is actually used. Those belong in the fixtures and checks that need them, imported when
they run.

Each test runs pytest in a subprocess (a fresh interpreter, so nothing the outer test session
imported leaks in) with a conftest that dumps ``sorted(sys.modules)`` at session finish.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from pathlib import Path

#: Top-level modules no pytest run may import just because the plugin is installed.
HEAVY: Final = ("sqlalchemy", "asyncpg", "redis", "httpx", "azure", "aiohttp", "jinja2")
#: Imported only when an env profile is used.
DOTENV: Final = "dotenv"

MODULES_FILE: Final = "modules.json"

# Third-party plugins are excluded only when they themselves import a listed module at load:
# we measure OUR plugin, not theirs. Checked with, for each pytest11 entry point,
#   python -c "import pytest, sys; import <module>; print([m for m in HEAVY if m in sys.modules])"
# - pytest-html (``html``, pytest_html.plugin) imports jinja2 at load, hence ``-p no:html``.
#   Its other entry point, ``html_fixtures`` (pytest_html.fixtures), imports none and stays.
# - pytest-asyncio, pytest-timeout, pytest-xdist, pytest-rerunfailures, pytest-metadata and
#   anyio's plugin import none of the listed modules, so they stay loaded, as in real runs.
# ``-p no:NAME`` for a plugin that is not installed is harmless.
BASE_ARGS: Final = ("-p", "no:cacheprovider", "-p", "no:html")

CONFTEST: Final = f"""
import json
import sys
from pathlib import Path


def pytest_sessionfinish(session):
    path = Path(__file__).with_name({MODULES_FILE!r})
    path.write_text(json.dumps(sorted(sys.modules)), encoding="utf-8")
"""

TESTS: Final = """
import pytest


@pytest.mark.smoke
def test_service_answers():
    assert True


@pytest.mark.smoke
def test_config_is_sane():
    assert 1 + 1 == 2


def test_plain():
    assert True
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with two smoke tests, one plain test and the sys.modules-dumping conftest.

    The suite's autouse conftest fixtures give every inner run an ini (so the rootdir is this
    directory) and remove SMOKE_ENV and the other smoke variables from the environment, so no
    profile (and no dotenv) is loaded by accident.
    """
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_smoke_suite=TESTS)
    return pytester


def imported_top_level(pytester: pytest.Pytester) -> set[str]:
    path: Path = pytester.path / MODULES_FILE
    modules: list[str] = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()  # so a later run cannot pass on a stale dump
    return {name.partition(".")[0] for name in modules}


@pytest.mark.parametrize("extra", [(), ("--smoke-gate",)], ids=["plain-run", "smoke-gate"])
def test_no_heavy_imports_without_profile(project: pytest.Pytester, extra: tuple[str, ...]) -> None:
    result = project.runpytest_subprocess(*BASE_ARGS, *extra)

    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    if extra:
        result.stdout.fnmatch_lines(["*smoke gate: PROCEED*"])
    imported = imported_top_level(project)
    assert "pytest_smoke" in imported  # the plugin really was loaded
    assert sorted(imported.intersection(HEAVY)) == []
    assert DOTENV not in imported  # no env profile used: python-dotenv is not needed


def test_env_profile_imports_dotenv_only(project: pytest.Pytester) -> None:
    env_file = project.path / ".env.staging"
    env_file.write_text(
        "SMOKE_TEST_TIMEOUT=10\nGATEWAY_URL=https://api.example.com\n", encoding="utf-8"
    )

    result = project.runpytest_subprocess(*BASE_ARGS, "--smoke-env-file", str(env_file))

    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["smoke: profile staging (*.env.staging)*"])
    imported = imported_top_level(project)
    assert DOTENV in imported  # the profile is parsed with python-dotenv
    assert sorted(imported.intersection(HEAVY)) == []


#: What a plain run (no smoke test, no smoke option) may import of the plugin: the package (the
#: entry point) and what it needs to register options, markers and hooks; and the fixtures, once
#: it collects a file. The rest (settings, gate, reporter, reports, clients, the per-loop-scope
#: fixtures) is imported by smoke runs.
PLAIN_RUN_MODULES: Final = {
    "pytest_smoke",
    "pytest_smoke.hookspecs",
    "pytest_smoke.markers",
    "pytest_smoke.plugin",
    "pytest_smoke.setting_specs",
}
FIXTURE_MODULES: Final = {"pytest_smoke.fixtures"}
#: The only module of the package pytest's assertion rewriter imports in such a run: each costs
#: several times a plain import (see pytest_smoke/__init__.py).
REWRITTEN: Final = ["pytest_smoke"]

LOADERS_CONFTEST: Final = f"""
import json
import sys
from pathlib import Path


def pytest_sessionfinish(session):
    loaders = {{
        name: type(module.__loader__).__name__
        for name, module in sys.modules.items()
        if name.partition(".")[0] == "pytest_smoke"
    }}
    Path(__file__).with_name({MODULES_FILE!r}).write_text(json.dumps(loaders), encoding="utf-8")
"""


def imported_plugin_modules(pytester: pytest.Pytester) -> dict[str, str]:
    path: Path = pytester.path / MODULES_FILE
    loaders: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    return loaders


@pytest.mark.parametrize("tests", ["", "def test_plain(): pass\n"], ids=["empty", "plain-tests"])
def test_a_plain_run_imports_only_what_registers_the_plugin(
    pytester: pytest.Pytester, tests: str
) -> None:
    pytester.makeconftest(LOADERS_CONFTEST)
    if tests:
        pytester.makepyfile(test_plain=tests)

    pytester.runpytest_subprocess(*BASE_ARGS)

    loaders = imported_plugin_modules(pytester)
    assert set(loaders) == PLAIN_RUN_MODULES | (FIXTURE_MODULES if tests else set())
    rewritten = sorted(name for name, loader in loaders.items() if "Rewrit" in loader)
    assert rewritten == REWRITTEN


def test_a_plain_projects_collection_error_gets_no_verdict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken="import module_that_is_not_there")

    result = pytester.runpytest_subprocess(*BASE_ARGS)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "smoke gate" not in result.stdout.str()


def test_a_smoke_projects_collection_error_is_investigate(pytester: pytest.Pytester) -> None:
    # Smoke tests collected, a broken module stops pytest before they run: the (advisory)
    # verdict says so, as when the gate was asked for.
    pytester.makepyfile(
        test_smoke="import pytest\n\n@pytest.mark.smoke\ndef test_ok(): pass\n",
        test_broken="import module_that_is_not_there",
    )

    result = pytester.runpytest_subprocess(*BASE_ARGS)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*smoke gate: INVESTIGATE*", "*1 collection error*"])

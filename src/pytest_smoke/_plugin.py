"""The hooks of pytest-smoke-gate, registered by its entry module :mod:`pytest_smoke.plugin`.

Each hook is a few lines; the work happens in settings, recorder, gate and reports, which know
nothing of these hooks. What this module imports stays small, because pytest imports it in
every run of every project that has the plugin installed, smoke run or not: the fixtures are
registered when a run collects a file, settings, gate and reports when a smoke run needs them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

import pytest

from pytest_smoke import markers, setting_specs

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from pytest_smoke.gate import Decision
    from pytest_smoke.masking import Masker
    from pytest_smoke.settings import Settings

#: The name :mod:`pytest_smoke.fixtures` is registered under, once per run that needs it.
FIXTURES_PLUGIN: Final = "smoke-fixtures"


# The stash keys a run that is not a smoke run reads: here, not in pytest_smoke._state (which
# has the others and re-exports these), because every module a run imports costs it time.
# Typed by their annotation, not by subscripting StashKey, which goes through typing's machinery.
settings_key: Final[pytest.StashKey[Settings]] = pytest.StashKey()
masker_key: Final[pytest.StashKey[Masker]] = pytest.StashKey()
#: Whether this process puts the gate's data on test reports: in a smoke run (asked for, or smoke
#: tests collected) and on every xdist worker, whose controller decides.
recording_key: Final[pytest.StashKey[bool]] = pytest.StashKey()
#: When the run started: ``time.time()`` and ``time.monotonic()``, for the reports.
started_key: Final[pytest.StashKey[tuple[float, float]]] = pytest.StashKey()


class HookSpecs:
    """The hooks pytest-smoke-gate adds; implement them in a conftest.py or a plugin."""

    @staticmethod
    @pytest.hookspec(firstresult=True)
    def pytest_smoke_root_cause(
        item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
    ) -> str | None:
        """Name the root cause of a failed test phase, or return ``None`` to leave it ungrouped.

        Failures with the same cause are grouped by the gate: counted once toward the failure
        rate and named in the verdict. The default implementation finds a
        :class:`pytest_smoke.DependencyUnavailable` in the exception chain. Called where the
        test runs (on xdist workers too); the first non-``None`` answer wins.
        """

    @staticmethod
    def pytest_smoke_decision(config: pytest.Config, decision: Decision) -> None:
        """Called once, on the controller, with the gate's :class:`pytest_smoke.Decision`.

        Use it to notify people or act on the verdict; the exit status is already decided.
        """


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(HookSpecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    setting_specs.add_options(parser)


@pytest.hookimpl(tryfirst=True, specname="pytest_configure")  # before pytest-asyncio reads it
def pytest_configure_suite_loop_scope(config: pytest.Config) -> None:
    # Only a run that names the bundled suite can need it: most runs stop at this check.
    if config.pluginmanager.hasplugin("asyncio") and any(
        "suite" in arg or "pytest_smoke" in arg for arg in config.args
    ):
        from pytest_smoke import suite_settings

        suite_settings.set_fixture_loop_scope(config)


def pytest_configure(config: pytest.Config) -> None:
    for line in markers.marker_lines():
        config.addinivalue_line("markers", line)
    config.stash[started_key] = (time.time(), time.monotonic())
    requested = setting_specs.smoke_run_requested(config)
    if requested:  # bad settings or checks file stop an explicit smoke run here, exit 4
        from pytest_smoke import _state

        _state.get_settings(config)
        _state.get_checks(config)
    if hasattr(config, "workerinput"):  # xdist worker: the controller aggregates and reports
        config.stash[recording_key] = True
    elif requested or getattr(config.option, "dist", "no") != "no":
        # An xdist controller never collects: it cannot wait for smoke tests to show up.
        from pytest_smoke import reporter

        reporter.start(config, requested=requested)


@pytest.hookimpl(trylast=True)  # after pytest's fixture manager has read every plugin
def pytest_sessionstart(session: pytest.Session) -> None:
    if session.config.option.showfixtures:  # lists them even where no test file is collected
        _register_fixtures(session)


def pytest_collectstart(collector: pytest.Collector) -> None:
    # Before the first file's tests (or doctests) are built, so they find our fixtures; a run
    # that collects no file (`pytest --co` in an empty project) never pays for them.
    if isinstance(collector, pytest.File):
        _register_fixtures(collector.session)


def _register_fixtures(session: pytest.Session) -> None:
    manager = session.config.pluginmanager
    if manager.has_plugin(FIXTURES_PLUGIN):
        return
    from pytest_smoke.plugin import import_unrewritten

    fixtures = import_unrewritten("fixtures")
    manager.register(fixtures, FIXTURES_PLUGIN)
    fixtures.register_aliases(session)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    settings = config.stash.get(settings_key, None)  # only where something resolved them
    if settings is None:
        return None
    profile = f"{settings.profile} ({settings.profile_file})" if settings.profile_file else "none"
    lines = [f"smoke: profile {profile}, gate {'on' if settings.gate else 'off (advisory)'}"]
    if config.option.verbose > 0:
        lines += [f"  {name}={value}  [{source}]" for name, value, source in settings.describe()]
    return lines


@pytest.hookimpl(trylast=True)  # after -k, -m and --deselect: only what would have run
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    gated = [item for item in items if _gated(item)]
    if not gated:
        return
    from pytest_smoke import reporter, selection

    if not config.stash.get(recording_key, False):  # smoke tests: a smoke run after all
        # Collection is over: pytest counted its errors (testsfailed) and no test has run yet.
        reporter.start(
            config, requested=False, smoke_tests_collected=True, errors=session.testsfailed
        )
    selection.select(config, items, gated)


def _gated(item: pytest.Item) -> bool:
    # One walk up the item's nodes for every test of every run, not one per gated marker.
    return any(mark.name in markers.GATED_MARKERS for mark in item.iter_markers())


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    # The bundled suite run from the wheel gets ids that do not depend on where the venv is;
    # why this hook and not another way: see pytest_smoke.suite_ids.
    if "pytest_smoke" not in module_path.parts:  # every other test file of every run
        return None
    from pytest_smoke import suite_ids

    nodeid = suite_ids.installed_suite_nodeid(module_path)
    if nodeid is None:
        return None  # pytest's own implementation builds the module
    module: pytest.Module = pytest.Module.from_parent(parent, path=module_path, nodeid=nodeid)
    return module


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    recording = item.config.stash.get(recording_key, False)  # a plain run records nothing
    masker = item.config.stash.get(masker_key, None)
    if recording or masker:
        from pytest_smoke import reporter

        if recording:
            reporter.annotate(report, item, call)
        if masker:  # before the report reaches the terminal, JUnit, HTML, JSON or the controller
            reporter.scrub_report(report, masker)
    return report


@pytest.hookimpl(trylast=True)
def pytest_smoke_root_cause(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> str | None:
    if call.excinfo is None:
        return None
    from pytest_smoke.causes import root_cause_of

    return root_cause_of(call.excinfo.value)

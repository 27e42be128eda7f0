"""The hooks of pytest-smoke-gate: the ``pytest11`` entry point ``smoke = pytest_smoke:plugin``.

Each hook is a few lines; the work happens in settings, recorder, gate and reports, which know
nothing of these hooks. What this module imports and registers stays small, because pytest
imports it in every run of every project that has the plugin installed, smoke run or not: the
fixtures are registered when a run collects a file, the report hooks when a run records or
masks, settings, gate and reports when a smoke run needs them.
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

#: The names :mod:`pytest_smoke.fixtures` and the hook classes below are registered under,
#: once per run that needs them.
FIXTURES_PLUGIN: Final = "smoke-fixtures"
RUN_PLUGIN: Final = "smoke-run"
SUITE_PLUGIN: Final = "smoke-suite"
FIXTURE_LISTING_PLUGIN: Final = "smoke-fixture-listing"


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


# The hooks every run needs are module functions, registered with the module; the others are
# methods of the classes below, registered only in a run that needs them: pluggy inspects each
# hook implementation it registers, and a run of 50 plain tests would otherwise call the report
# wrapper 150 times for nothing.


@pytest.hookimpl(tryfirst=True)  # the suite's loop scope before pytest-asyncio reads it
def pytest_configure(config: pytest.Config) -> None:
    if _may_name_bundled_suite(config):
        from pytest_smoke import suite_settings

        suite_settings.set_fixture_loop_scope(config)
        config.pluginmanager.register(SuiteHooks(), SUITE_PLUGIN)
    if config.option.showfixtures:
        config.pluginmanager.register(FixtureListing(), FIXTURE_LISTING_PLUGIN)
    for line in markers.marker_lines():
        config.addinivalue_line("markers", line)
    config.stash[started_key] = (time.time(), time.monotonic())
    requested = setting_specs.smoke_run_requested(config)
    if requested:  # bad settings or checks file stop an explicit smoke run here, exit 4
        from pytest_smoke import _state

        _state.get_settings(config)
        _state.get_checks(config)
    if hasattr(config, "workerinput"):  # xdist worker: the controller aggregates and reports
        start_recording(config)
    elif requested or getattr(config.option, "dist", "no") != "no":
        # An xdist controller never collects: it cannot wait for smoke tests to show up.
        from pytest_smoke import reporter

        reporter.start(config, requested=requested)


def _may_name_bundled_suite(config: pytest.Config) -> bool:
    # A cheap look at the command line; suite_settings and suite_ids look closely.
    places = (*config.args, str(config.invocation_params.dir))
    return any("suite" in place or "pytest_smoke" in place for place in places)


def pytest_collectstart(collector: pytest.Collector) -> None:
    # Before the first file's tests (or doctests) are built, so they find our fixtures; a run
    # that collects no file (`pytest --co` in an empty project) never pays for them.
    if isinstance(collector, pytest.File):
        _register_fixtures(collector.session)


def _register_fixtures(session: pytest.Session) -> None:
    manager = session.config.pluginmanager
    if manager.has_plugin(FIXTURES_PLUGIN):
        return
    from pytest_smoke import import_unrewritten

    fixtures = import_unrewritten("fixtures")
    manager.register(fixtures, FIXTURES_PLUGIN)
    fixtures.register_aliases(session)


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


def start_recording(config: pytest.Config) -> None:
    """From now on this process puts the gate's data on every test report."""
    config.stash[recording_key] = True
    register_run_hooks(config)


def register_run_hooks(config: pytest.Config) -> None:
    """Register :class:`RunHooks` for this run, once: when it starts recording or resolves
    settings (whose secrets its reports must not show)."""
    if not config.pluginmanager.has_plugin(RUN_PLUGIN):
        config.pluginmanager.register(RunHooks(), RUN_PLUGIN)


class RunHooks:
    """The hooks of a run that records for the gate, or masks secrets in its reports."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        recording = item.config.stash.get(recording_key, False)
        masker = item.config.stash.get(masker_key, None)
        if recording or masker:
            from pytest_smoke import reporter

            if recording:
                reporter.annotate(report, item, call)
            if masker:  # before the report reaches the terminal, JUnit, HTML, JSON or xdist
                reporter.scrub_report(report, masker)
        return report

    @pytest.hookimpl(trylast=True)
    def pytest_smoke_root_cause(
        self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
    ) -> str | None:
        if call.excinfo is None:
            return None
        from pytest_smoke.causes import root_cause_of

        return root_cause_of(call.excinfo.value)

    def pytest_report_header(self, config: pytest.Config) -> list[str] | None:
        settings = config.stash.get(settings_key, None)  # only where something resolved them
        if settings is None:
            return None
        profile_file = settings.profile_file
        profile = f"{settings.profile} ({profile_file})" if profile_file else "none"
        lines = [f"smoke: profile {profile}, gate {'on' if settings.gate else 'off (advisory)'}"]
        if config.option.verbose > 0:
            described = settings.describe()
            lines += [f"  {name}={value}  [{source}]" for name, value, source in described]
        return lines


class SuiteHooks:
    """Registered in a run whose command line may name the bundled suite."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(
        self, module_path: Path, parent: pytest.Collector
    ) -> pytest.Module | None:
        # The bundled suite run from the wheel gets ids that do not depend on where the venv
        # is; why this hook and not another way: see pytest_smoke.suite_ids.
        if "pytest_smoke" not in module_path.parts:  # every other test file of the run
            return None
        from pytest_smoke import suite_ids

        nodeid = suite_ids.installed_suite_nodeid(module_path)
        if nodeid is None:
            return None  # pytest's own implementation builds the module
        module: pytest.Module = pytest.Module.from_parent(parent, path=module_path, nodeid=nodeid)
        return module


class FixtureListing:
    """Registered for ``pytest --fixtures``, which lists ours even where no file is collected."""

    @pytest.hookimpl(trylast=True)  # after pytest's fixture manager has read every plugin
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        _register_fixtures(session)

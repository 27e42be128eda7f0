"""The hooks of pytest-smoke-gate: the ``pytest11`` entry point ``smoke = pytest_smoke:plugin``.

Each hook is a few lines; the work happens in settings, recorder, gate and reports, which know
nothing of these hooks. What this module imports and registers stays small, because pytest
imports it in every run of every project that has the plugin installed, smoke run or not: the
fixtures are registered when a run collects a file, the report hooks when a run records or
masks, settings, gate and reports when a smoke run needs them. Every name defined or imported
here is one more that pluggy and pytest's fixture manager look at in every run, so the hooks
registered on demand live in :mod:`pytest_smoke.lazy_hooks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_smoke import markers, setting_specs

if TYPE_CHECKING:
    from typing import Final

    from pytest_smoke.masking import Masker
    from pytest_smoke.settings import Settings

#: The names :mod:`pytest_smoke.fixtures` and the classes of :mod:`pytest_smoke.lazy_hooks` are
#: registered under, once per run that needs them.
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


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_smoke import import_unrewritten

    pluginmanager.add_hookspecs(import_unrewritten("hookspecs"))


def pytest_addoption(parser: pytest.Parser) -> None:
    setting_specs.add_options(parser)


# The hooks every run needs are module functions, registered with the module; the others are
# methods of the classes in pytest_smoke.lazy_hooks, registered only in a run that needs them.


@pytest.hookimpl(tryfirst=True)  # the suite's loop scope before pytest-asyncio reads it
def pytest_configure(config: pytest.Config) -> None:
    import time

    # A cheap look at the command line for the bundled suite; suite_settings and suite_ids
    # look closely.
    places = (*config.args, str(config.invocation_params.dir))
    if any("suite" in place or "pytest_smoke" in place for place in places):
        from pytest_smoke import suite_settings
        from pytest_smoke.lazy_hooks import SuiteHooks

        suite_settings.set_fixture_loop_scope(config)
        config.pluginmanager.register(SuiteHooks(), SUITE_PLUGIN)
    if config.option.showfixtures:
        from pytest_smoke.lazy_hooks import FixtureListing

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


def pytest_collectstart(collector: pytest.Collector) -> None:
    # Before the first file's tests (or doctests) are built, so they find our fixtures; a run
    # that collects no file (`pytest --co` in an empty project) never pays for them.
    if isinstance(collector, pytest.File):
        register_fixtures(collector.session)


def register_fixtures(session: pytest.Session) -> None:
    """Register :mod:`pytest_smoke.fixtures` for this run, once."""
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
    # One walk up each item's nodes, not one per gated marker.
    gated = [
        item
        for item in items
        if any(mark.name in markers.GATED_MARKERS for mark in item.iter_markers())
    ]
    if not gated:
        return
    from pytest_smoke import reporter, selection

    if not config.stash.get(recording_key, False):  # smoke tests: a smoke run after all
        # Collection is over: pytest counted its errors (testsfailed) and no test has run yet.
        reporter.start(
            config, requested=False, smoke_tests_collected=True, errors=session.testsfailed
        )
    selection.select(config, items, gated)


def start_recording(config: pytest.Config) -> None:
    """From now on this process puts the gate's data on every test report."""
    config.stash[recording_key] = True
    register_run_hooks(config)


def register_run_hooks(config: pytest.Config) -> None:
    """Register :class:`pytest_smoke.lazy_hooks.RunHooks` for this run, once: when it starts
    recording or resolves settings (whose secrets its reports must not show)."""
    if not config.pluginmanager.has_plugin(RUN_PLUGIN):
        from pytest_smoke.lazy_hooks import RunHooks

        config.pluginmanager.register(RunHooks(), RUN_PLUGIN)

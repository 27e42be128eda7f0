"""pytest hooks of pytest-smoke-gate (entry point ``smoke``). Each hook is a few lines; the
work happens in settings, recorder, gate and reports, which know nothing of these hooks.

pytest imports this module in every run of every project that has the plugin installed, smoke
run or not, and rewrites the assertions of every module of the package it imports. So what it
imports stays small: the fixtures are declarations whose bodies import their implementation;
settings, gate and reports are imported when a smoke run needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_smoke import _state, hooks, markers, setting_specs
from pytest_smoke.fixtures import (
    register_aliases,
    smoke_auth_headers,
    smoke_azure_credential,
    smoke_checks,
    smoke_db_engine,
    smoke_db_session,
    smoke_db_sessionmaker,
    smoke_event_bus,
    smoke_http_client,
    smoke_http_latencies,
    smoke_keyvault_client,
    smoke_logs_client,
    smoke_masker,
    smoke_metrics_client,
    smoke_redis_client,
    smoke_resources,
    smoke_settings,
    smoke_test_user_token,
    smoke_warning,
)

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path


__all__ = [
    "smoke_auth_headers",
    "smoke_azure_credential",
    "smoke_checks",
    "smoke_db_engine",
    "smoke_db_session",
    "smoke_db_sessionmaker",
    "smoke_event_bus",
    "smoke_http_client",
    "smoke_http_latencies",
    "smoke_keyvault_client",
    "smoke_logs_client",
    "smoke_masker",
    "smoke_metrics_client",
    "smoke_redis_client",
    "smoke_resources",
    "smoke_settings",
    "smoke_test_user_token",
    "smoke_warning",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


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
    _state.mark_run_started(config)
    requested = setting_specs.smoke_run_requested(config)
    if requested:  # bad settings or checks file stop an explicit smoke run here, exit 4
        _state.get_settings(config)
        _state.get_checks(config)
    if hasattr(config, "workerinput"):  # xdist worker: the controller aggregates and reports
        config.stash[_state.recording_key] = True
    elif requested or getattr(config.option, "dist", "no") != "no":
        # An xdist controller never collects: it cannot wait for smoke tests to show up.
        from pytest_smoke import reporter

        reporter.start(config, requested=requested)


@pytest.hookimpl(trylast=True)  # after pytest's fixture manager has read every plugin
def pytest_sessionstart(session: pytest.Session) -> None:
    register_aliases(session)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    settings = _state.resolved_settings(config)
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

    if not config.stash.get(_state.recording_key, False):  # smoke tests: a smoke run after all
        # Collection is over: pytest counted its errors (testsfailed) and no test has run yet.
        reporter.start(
            config, requested=False, smoke_tests_collected=True, errors=session.testsfailed
        )
    selection.select(config, items, gated)


def _gated(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in markers.GATED_MARKERS)


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
    recording = item.config.stash.get(_state.recording_key, False)  # a plain run records nothing
    masker = _state.existing_masker(item.config)
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

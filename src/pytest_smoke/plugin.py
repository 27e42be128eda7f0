"""pytest hooks of pytest-smoke-gate (entry point ``smoke``). Each hook is a few lines; the
work happens in settings, recorder, gate and reports, which know nothing of these hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_smoke import _state, hooks, markers, options, suite_ids
from pytest_smoke.fixtures.resources import smoke_resources
from pytest_smoke.fixtures.settings import (
    smoke_checks,
    smoke_masker,
    smoke_settings,
    smoke_warning,
)
from pytest_smoke.reporter import WORKER_NOT_APPLICABLE, GateReporter, XdistHooks, scrub_report

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from pytest_smoke.settings import Settings

__all__ = ["smoke_checks", "smoke_masker", "smoke_resources", "smoke_settings", "smoke_warning"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for line in markers.marker_lines():
        config.addinivalue_line("markers", line)
    requested = options.smoke_run_requested(config)
    if requested:  # bad settings or checks file stop an explicit smoke run here, exit 4
        _state.get_settings(config)
        _state.get_checks(config)
    if config.pluginmanager.hasplugin("asyncio"):  # the async fixtures need pytest-asyncio
        from pytest_smoke.fixtures import azure, database, http, redis

        config.pluginmanager.register(database, "smoke-db-fixtures")
        config.pluginmanager.register(redis, "smoke-redis-fixtures")
        config.pluginmanager.register(http, "smoke-http-fixtures")
        config.pluginmanager.register(azure, "smoke-azure-fixtures")
    else:
        from pytest_smoke.fixtures import without_asyncio

        config.pluginmanager.register(without_asyncio, "smoke-async-fixtures-unavailable")
    if hasattr(config, "workerinput"):
        return  # xdist worker: the controller aggregates and reports
    reporter = GateReporter(config, requested=requested)
    config.pluginmanager.register(reporter, "smoke-gate-reporter")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(reporter), "smoke-gate-xdist")
    if config.pluginmanager.hasplugin("html") and getattr(config.option, "htmlpath", None):
        from pytest_smoke.reports.html import HtmlVerdictSection

        config.pluginmanager.register(HtmlVerdictSection(reporter.html_section), "smoke-gate-html")


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
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gated = [item for item in items if _gated(item)]
    if not gated:
        return
    settings = _state.get_settings(config)  # smoke tests collected: bad settings stop the run
    if settings.quick:
        keep = [item for item in items if item.get_closest_marker(markers.CRITICAL)]
        dropped = [item for item in items if not item.get_closest_marker(markers.CRITICAL)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
            gated = [item for item in gated if item.get_closest_marker(markers.CRITICAL)]
    _deselect_not_applicable(config, items, gated, settings)


def _gated(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in markers.GATED_MARKERS)


def _deselect_not_applicable(
    config: pytest.Config, items: list[pytest.Item], gated: list[pytest.Item], settings: Settings
) -> None:
    """Deselect the gated tests the deployment does not configure (never counted as skipped)
    and keep their ids by reason for the reports."""
    from pytest_smoke.features import not_applicable

    groups = not_applicable(gated, settings, lambda: _state.get_checks(config))
    if not groups:
        return
    dropped = {id(item) for group in groups.values() for item in group}
    config.hook.pytest_deselected(items=[item for group in groups.values() for item in group])
    items[:] = [item for item in items if id(item) not in dropped]
    record = {reason: [item.nodeid for item in group] for reason, group in groups.items()}
    config.stash[_state.not_applicable_key] = record
    if hasattr(config, "workeroutput"):  # xdist: only workers collect; tell the controller
        config.workeroutput[WORKER_NOT_APPLICABLE] = [[r, ids] for r, ids in record.items()]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    # The bundled suite run from the wheel gets ids that do not depend on where the venv is;
    # why this hook and not another way: see pytest_smoke.suite_ids.
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
    names = item.stash.get(_state.item_markers_key, None)
    if names is None:
        names = sorted({mark.name for mark in item.iter_markers()} & markers.OWN_MARKERS)
        item.stash[_state.item_markers_key] = names
    # Carried on the report so they reach the xdist controller; keywords would mix in names.
    report.smoke_markers = names  # type: ignore[attr-defined]
    if report.failed:
        report.smoke_cause = item.config.hook.pytest_smoke_root_cause(  # type: ignore[attr-defined]
            item=item, call=call, report=report
        )
    if report.when == "teardown":  # the test's requests and warnings, carried to the controller
        rows = _state.new_request_rows(item.config)
        if rows:
            report.smoke_requests = rows  # type: ignore[attr-defined]
        warnings = item.stash.get(_state.item_warnings_key, None)
        if warnings:
            report.smoke_warnings = list(warnings)  # type: ignore[attr-defined]
        left_behind = item.stash.get(_state.item_left_behind_key, None)
        if left_behind:
            report.smoke_left_behind = list(left_behind)  # type: ignore[attr-defined]
    masker = _state.existing_masker(item.config)
    if masker:  # before the report reaches the terminal, JUnit, HTML, JSON or the controller
        scrub_report(report, masker)
    return report


@pytest.hookimpl(trylast=True)
def pytest_smoke_root_cause(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> str | None:
    if call.excinfo is None:
        return None
    from pytest_smoke.causes import root_cause_of

    return root_cause_of(call.excinfo.value)

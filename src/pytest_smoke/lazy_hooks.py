"""The hooks the plugin registers only in a run that needs them (see :mod:`pytest_smoke.plugin`).

pluggy inspects each hook implementation it registers, and a run of 50 plain tests would
otherwise call the report wrapper 150 times for nothing; this module is not even imported by a
run that uses none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_smoke import plugin

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path


class RunHooks:
    """The hooks of a run that records for the gate, or masks secrets in its reports."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        recording = item.config.stash.get(plugin.recording_key, False)
        masker = item.config.stash.get(plugin.masker_key, None)
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
        settings = config.stash.get(plugin.settings_key, None)  # only where something resolved them
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
        plugin.register_fixtures(session)

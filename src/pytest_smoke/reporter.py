"""The controller-side plugin object: records outcomes, asks the gate, writes every report.

Registered on the controller only (never on an xdist worker), like pytest's own JUnit reporter,
and only in a smoke run: in ``pytest_configure`` when the run asks for the gate or is distributed
by xdist, else once smoke tests are collected. Worker reports reach it through
``pytest_runtest_logreport``.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Final

import pytest

from pytest_smoke import _state, plugin
from pytest_smoke.markers import OWN_MARKERS
from pytest_smoke.recorder import ResultRecorder

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from pytest_smoke.gate import Decision, RunSummary
    from pytest_smoke.masking import Masker
    from pytest_smoke.settings import Settings

#: The key under which an xdist worker sends its not-applicable tests: [[reason, [nodeid]]].
WORKER_NOT_APPLICABLE: Final = "smoke_not_applicable"

# The gate, the settings and the report writers are imported only when a smoke run ends.
_COLOUR = {
    "PROCEED": {"green": True},
    "MONITOR": {"yellow": True},
    "INVESTIGATE": {"yellow": True},
    "ROLLBACK": {"red": True},
}


class GateReporter:
    """Aggregates a run's results and applies the gate at session end."""

    def __init__(
        self,
        config: pytest.Config,
        *,
        requested: bool,
        smoke_tests_collected: bool = False,
        collection_errors: int = 0,
    ) -> None:
        """``requested``: the run asked for the gate; ``smoke_tests_collected``: registered
        because smoke tests were collected, after ``collection_errors`` collection errors."""
        self.config = config
        self.requested = requested
        self.smoke_tests_collected = smoke_tests_collected
        self.recorder = ResultRecorder()
        self.recorder.collection_errors = collection_errors
        self.decision: Decision | None = None
        self.failure: str | None = None
        self.report_paths: list[str] = []
        #: Why the run's metrics could not be written or pushed (one line each); the verdict
        #: and the exit status stand.
        self.metrics_problems: list[str] = []
        self._started, self._monotonic = _state.run_started(config)

    # -- what the gate is configured to do --

    @property
    def settings(self) -> Settings | None:
        return _state.resolved_settings(self.config)

    @property
    def gate_enabled(self) -> bool:
        return bool(self.settings and self.settings.gate)

    # -- recording --

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.recorder.add_phase(
            nodeid=report.nodeid,
            when=report.when or "",
            outcome=report.outcome,
            markers=getattr(report, "smoke_markers", None),
            wasxfail=hasattr(report, "wasxfail"),
            cause=getattr(report, "smoke_cause", None),
            duration=report.duration,
        )
        requests = getattr(report, "smoke_requests", None)
        if requests:
            self.recorder.add_requests(requests)
        warnings = getattr(report, "smoke_warnings", None)
        if warnings:
            self.recorder.add_warnings(report.nodeid, warnings)
        left_behind = getattr(report, "smoke_left_behind", None)
        if left_behind:
            self.recorder.add_left_behind(left_behind)
        load = getattr(report, "smoke_load", None)
        if load:
            self.recorder.add_load(load)

    def add_not_applicable(self, groups: Mapping[str, Iterable[str]]) -> None:
        """Tests deselected as not applicable, by this process or an xdist worker."""
        for reason, nodeids in groups.items():
            self.recorder.add_not_applicable(reason, nodeids)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.recorder.add_collection_error()

    # -- deciding --

    @pytest.hookimpl(tryfirst=True)  # before the JUnit and HTML writers read the decision
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        recorder = self.recorder
        deselected = self.config.stash.get(_state.not_applicable_key, None)
        if deselected:  # collected here (no xdist); workers send theirs in pytest_testnodedown
            self.add_not_applicable(deselected)
        # Smoke tests collected but none applied is a smoke run too (INVESTIGATE), unless the
        # run only listed tests (--collect-only).
        not_applicable = bool(recorder.not_applicable) and not self.config.option.collectonly
        # A collection error alone is pytest's business, unless smoke tests were collected too.
        collection_errors = recorder.collection_errors and self.smoke_tests_collected
        if not (
            self.requested or recorder.has_gated_results() or collection_errors or not_applicable
        ):
            return  # not a smoke run: stay silent and leave everything as pytest has it
        # Usually resolved already; on an xdist controller this may be the first ask. Bad
        # settings raise pytest's usage error here: one line, exit status 4.
        _state.get_settings(self.config)
        try:
            self._decide(
                recorder.summary(interrupted=_interruption(session, exitstatus)), exitstatus
            )
            assert self.decision is not None
            self.config.hook.pytest_smoke_decision(config=self.config, decision=self.decision)
        except Exception as error:  # fail closed: a gate that cannot decide never says 0
            self.failure = f"{type(error).__name__}: {error}"
            self.decision = None
            if self.gate_enabled:
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            return
        if self.gate_enabled:
            from pytest_smoke.gate import gate_exit_status

            session.exitstatus = gate_exit_status(self.decision, int(exitstatus))

    def _decide(self, run: RunSummary, exitstatus: int) -> None:
        from pytest_smoke.gate import Policy, decide
        from pytest_smoke.latency import request_summary
        from pytest_smoke.reports.json_report import report_document, write_json
        from pytest_smoke.reports.junit import suite_properties
        from pytest_smoke.reports.step_summary import append_step_summary, step_summary_markdown

        settings = self.settings
        policy = settings.policy if settings else Policy()
        decision = decide(run, policy)
        self.decision = decision
        for name, value in suite_properties(decision):
            self._junit_property(name, value)
        if settings and (
            settings.report_json or settings.prometheus_textfile or settings.pushgateway_url
        ):
            finished = time.time()
            document = report_document(
                decision,
                run,
                policy,
                gate_enabled=self.gate_enabled,
                pytest_exit_status=int(exitstatus),
                profile=settings.profile,
                started_at=_iso(self._started),
                finished_at=_iso(finished),
                duration_seconds=time.monotonic() - self._monotonic,
                ungated=self.recorder.ungated_count(),
                tool_version=_version(),
                requests=request_summary(self.recorder.requests),
                load=self.recorder.load,
            )
            if settings.report_json:
                write_json(settings.report_json, document)
                self.report_paths.append(_shown_path(settings.report_json))
            self._export_metrics(settings, document)
        for option in ("xmlpath", "htmlpath"):
            path = getattr(self.config.option, option, None)
            if path:
                self.report_paths.append(_shown_path(path))
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            append_step_summary(
                summary_path, step_summary_markdown(decision, gate_enabled=self.gate_enabled)
            )

    def _export_metrics(self, settings: Settings, document: Mapping[str, Any]) -> None:
        if not (settings.prometheus_textfile or settings.pushgateway_url):
            return
        try:
            from pytest_smoke.reports import prometheus
        except ImportError:
            self.metrics_problems.append(
                "metrics not exported: prometheus-client is not installed "
                "(pip install 'pytest-smoke-gate[metrics]')"
            )
            return
        profile = prometheus.profile_label(document)
        if settings.prometheus_textfile:
            try:
                prometheus.write_textfile(settings.prometheus_textfile, document, profile=profile)
                self.report_paths.append(_shown_path(settings.prometheus_textfile))
            except (OSError, ValueError) as error:
                self.metrics_problems.append(f"metrics not written: {error}")
        if settings.pushgateway_url:
            try:
                prometheus.push(settings.pushgateway_url, document, profile=profile)
            except prometheus.PushError as error:
                self.metrics_problems.append(f"metrics not pushed: {error}")

    def _junit_property(self, name: str, value: str) -> None:
        # record_testsuite_property does not work under xdist (pytest #7767); the controller's
        # LogXML object does, and it is only present when --junitxml was given.
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # a pytest that moved it: lose the properties, not the verdict
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is not None:
            xml.add_global_property(name, value)

    def html_section(self) -> str | None:
        if self.decision is None:
            return None
        from pytest_smoke.reports.html import verdict_html

        return verdict_html(self.decision, gate_enabled=self.gate_enabled)

    # -- telling --

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.failure:
            terminalreporter.write_sep("=", "smoke gate: could not decide", red=True, bold=True)
            terminalreporter.write_line(f"internal error in pytest-smoke-gate: {self.failure}")
            terminalreporter.write_line("failing closed: exit status 3 when the gate is on")
            return
        if self.decision is None:
            return
        from pytest_smoke.reports.terminal import verdict_lines, verdict_title

        decision = self.decision
        title = verdict_title(decision, gate_enabled=self.gate_enabled)
        terminalreporter.write_sep("=", title, bold=True, **_COLOUR[str(decision.verdict)])
        from pytest_smoke.latency import request_summary

        for line in verdict_lines(
            decision,
            gate_enabled=self.gate_enabled,
            report_paths=self.report_paths,
            ungated=self.recorder.ungated_count(),
            requests=request_summary(self.recorder.requests),
            load=self.recorder.load,
        ):
            terminalreporter.write_line(line)
        for problem in self.metrics_problems:
            terminalreporter.write_line(problem, yellow=True)


def start(
    config: pytest.Config, *, requested: bool, smoke_tests_collected: bool = False, errors: int = 0
) -> None:
    """Register the gate's reporter (and its xdist and pytest-html parts) for this run.

    ``requested``: the run asked for the gate; ``smoke_tests_collected``: registered because
    smoke tests were collected, after ``errors`` collection errors.
    """
    plugin.start_recording(config)
    reporter = GateReporter(
        config,
        requested=requested,
        smoke_tests_collected=smoke_tests_collected,
        collection_errors=errors,
    )
    config.pluginmanager.register(reporter, "smoke-gate-reporter")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(reporter), "smoke-gate-xdist")
    if config.pluginmanager.hasplugin("html") and getattr(config.option, "htmlpath", None):
        from pytest_smoke.reports.html import HtmlVerdictSection

        config.pluginmanager.register(HtmlVerdictSection(reporter.html_section), "smoke-gate-html")


class XdistHooks:
    """Hooks that exist only with pytest-xdist; registered only when it is installed."""

    def __init__(self, reporter: GateReporter) -> None:
        self.reporter = reporter

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object | None) -> None:
        # Workers collect, so only they know what was deselected; a crashed one sends nothing.
        output = getattr(node, "workeroutput", None) or {}
        groups = output.get(WORKER_NOT_APPLICABLE)
        if groups:
            self.reporter.add_not_applicable(dict(groups))
        if error is not None:
            gateway = getattr(node, "gateway", None)
            name = getattr(gateway, "id", "worker")
            self.reporter.recorder.add_worker_crash(f"{name}: {str(error).strip()[:200]}")


def annotate(report: pytest.TestReport, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """Put on a test's report what the gate needs to know of it: plain attributes, which
    pytest-xdist carries from a worker to the controller."""
    names = item.stash.get(_state.item_markers_key, None)
    if names is None:
        names = sorted({mark.name for mark in item.iter_markers()} & OWN_MARKERS)
        item.stash[_state.item_markers_key] = names
    # Our marker names, not keywords, which would mix in other names.
    report.smoke_markers = names  # type: ignore[attr-defined]
    if report.failed:
        report.smoke_cause = item.config.hook.pytest_smoke_root_cause(  # type: ignore[attr-defined]
            item=item, call=call, report=report
        )
    if report.when == "teardown":  # the test's requests, warnings, leftovers and load burst
        rows = _state.new_request_rows(item.config)
        if rows:
            report.smoke_requests = rows  # type: ignore[attr-defined]
        warnings = item.stash.get(_state.item_warnings_key, None)
        if warnings:
            report.smoke_warnings = list(warnings)  # type: ignore[attr-defined]
        left_behind = item.stash.get(_state.item_left_behind_key, None)
        if left_behind:
            report.smoke_left_behind = list(left_behind)  # type: ignore[attr-defined]
        load = item.stash.get(_state.item_load_key, None)
        if load:
            report.smoke_load = load  # type: ignore[attr-defined]


def scrub_report(report: pytest.TestReport, masker: Masker) -> None:
    """Remove every registered secret from what a test report carries, in place."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], masker.scrub(longrepr[2]))
    elif longrepr is not None:
        text = str(longrepr)
        scrubbed = masker.scrub(text)
        if scrubbed != text:  # keep the rich traceback object unless it holds a secret
            report.longrepr = scrubbed
    report.sections = [(title, masker.scrub(content)) for title, content in report.sections]
    report.user_properties = [
        (name, masker.scrub_value(value)) for name, value in report.user_properties
    ]
    cause = getattr(report, "smoke_cause", None)
    if cause:
        report.smoke_cause = masker.scrub(cause)  # type: ignore[attr-defined]
    warnings = getattr(report, "smoke_warnings", None)
    if warnings:
        report.smoke_warnings = [masker.scrub(w) for w in warnings]  # type: ignore[attr-defined]
    left_behind = getattr(report, "smoke_left_behind", None)
    if left_behind:
        report.smoke_left_behind = [masker.scrub(e) for e in left_behind]  # type: ignore[attr-defined]
    load = getattr(report, "smoke_load", None)
    if load:
        report.smoke_load = masker.scrub_value(load)  # type: ignore[attr-defined]


def _interruption(session: pytest.Session, exitstatus: int) -> str | None:
    reason = session.shouldfail or session.shouldstop
    if reason:
        return reason if isinstance(reason, str) else "pytest stopped early"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    return None


def _shown_path(path: str) -> str:
    """Relative to the working directory when it lies below it, as a person would type it."""
    relative = os.path.relpath(os.path.abspath(path))
    return path if relative.startswith("..") else relative


def _iso(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _version() -> str:
    from pytest_smoke import __version__

    return __version__

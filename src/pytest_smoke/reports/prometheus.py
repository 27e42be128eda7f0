"""The decision as Prometheus metrics: one set of names for CLI runs and for the service.

The names are document 003's (``smoke_test_total``, ``smoke_test_passed_total``,
``smoke_test_failed_total``, ``smoke_test_duration_seconds``) plus the gate's own
(``smoke_gate_verdict``, ``smoke_gate_runs_total``). :class:`SmokeMetrics` creates them in a
registry and records a JSON report document (``smoke-gate-report.schema.json``) into them; the
service's ``/metrics`` (``pytest_smoke.server.metrics``) keeps one for its lifetime, a CLI run
builds a fresh one with :func:`registry_for` and hands it to node_exporter's textfile collector
(:func:`write_textfile`) or to a Pushgateway (:func:`push`).

What each metric counts, per ``profile`` and ``category`` (a dependency category of the report's
``categories``; ``other`` for tests with none; a test in two categories counts in both):

- ``smoke_test_total``: tests, skipped ones included;
- ``smoke_test_passed_total``: tests that passed;
- ``smoke_test_failed_total``: tests that failed or errored;
- ``smoke_test_duration_seconds`` (histogram, ``profile`` only): each test's duration;
- ``smoke_gate_verdict`` (gauge, ``profile`` and ``verdict``): 1 for the profile's last verdict,
  0 for the other three;
- ``smoke_gate_runs_total`` (``profile`` and ``state``): runs by final state (``done``,
  ``timed out``, ``cancelled``, ``crashed``; a CLI run that wrote its report is ``done``).

Imports ``prometheus_client`` (the ``server`` extra): import this module only when the metrics
are asked for, never at plugin load.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    push_to_gateway,
    write_to_textfile,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

TEST_TOTAL: Final = "smoke_test_total"
TEST_PASSED: Final = "smoke_test_passed_total"
TEST_FAILED: Final = "smoke_test_failed_total"
TEST_DURATION: Final = "smoke_test_duration_seconds"
GATE_VERDICT: Final = "smoke_gate_verdict"
GATE_RUNS: Final = "smoke_gate_runs_total"
#: Every metric name, as exposed (``# TYPE`` lines; counters' samples end in ``_total``).
METRIC_NAMES: Final = (TEST_TOTAL, TEST_PASSED, TEST_FAILED, TEST_DURATION, GATE_VERDICT, GATE_RUNS)

#: The gate's verdicts, from best to worst (``pytest_smoke.gate.Verdict``, without importing it).
VERDICTS: Final = ("PROCEED", "MONITOR", "INVESTIGATE", "ROLLBACK")
#: Upper bounds of the test-duration buckets, in seconds: smoke tests take from milliseconds to
#: their timeout (30 s by default).
DURATION_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: The state of a CLI run that wrote its report (``pytest_smoke.server.runs.RunState.DONE``).
DONE: Final = "done"
DEFAULT_JOB: Final = "smoke-gate"
#: The profile label of a report that names none (a run without ``--smoke-env``).
DEFAULT_PROFILE: Final = "default"


class PushError(RuntimeError):
    """The Pushgateway could not be reached or refused the metrics (one line, no credentials)."""


class SmokeMetrics:
    """The smoke metrics, created in ``registry``; record reports and runs into them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("profile", "category")
        self.tests = Counter(TEST_TOTAL, "Smoke tests run.", labels, registry=registry)
        self.passed = Counter(TEST_PASSED, "Smoke tests passed.", labels, registry=registry)
        self.failed = Counter(
            TEST_FAILED, "Smoke tests failed or errored.", labels, registry=registry
        )
        self.duration = Histogram(
            TEST_DURATION,
            "Duration of each smoke test, in seconds.",
            ("profile",),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.verdict = Gauge(
            GATE_VERDICT,
            "1 for the last verdict of the profile's smoke gate, 0 for the others.",
            ("profile", "verdict"),
            registry=registry,
        )
        self.runs = Counter(
            GATE_RUNS, "Smoke gate runs, by final state.", ("profile", "state"), registry=registry
        )

    def record_report(self, document: Mapping[str, Any], *, profile: str) -> None:
        """Add a finished run's report (counts per category, test durations, its verdict)."""
        for category, counts in (document.get("categories") or {}).items():
            self.tests.labels(profile, category).inc(counts.get("total", 0))
            self.passed.labels(profile, category).inc(counts.get("passed", 0))
            failing = counts.get("failed", 0) + counts.get("errors", 0)
            self.failed.labels(profile, category).inc(failing)
        histogram = self.duration.labels(profile)
        for test in document.get("tests") or ():
            if test.get("duration_seconds") is not None:
                histogram.observe(test["duration_seconds"])
        if document.get("verdict") is not None:
            self.set_verdict(profile, document["verdict"])

    def record_run(self, profile: str, state: str) -> None:
        """Count one run of ``profile`` that ended in ``state``."""
        self.runs.labels(profile, state).inc()

    def set_verdict(self, profile: str, verdict: str) -> None:
        """Make ``verdict`` the profile's last verdict (1) and the other three 0."""
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}: expected one of {', '.join(VERDICTS)}")
        for name in VERDICTS:
            self.verdict.labels(profile, name).set(1 if name == verdict else 0)


def profile_label(document: Mapping[str, Any]) -> str:
    """The report's profile (``--smoke-env``), or :data:`DEFAULT_PROFILE` when it names none."""
    return str(document.get("profile") or DEFAULT_PROFILE)


def registry_for(
    document: Mapping[str, Any], *, profile: str, state: str = DONE
) -> CollectorRegistry:
    """A registry of its own (not the global one) holding one run: ``document``, in ``state``."""
    registry = CollectorRegistry(auto_describe=True)
    metrics = SmokeMetrics(registry)
    metrics.record_run(profile, state)
    metrics.record_report(document, profile=profile)
    return registry


def write_textfile(
    path: str | os.PathLike[str], document: Mapping[str, Any], *, profile: str
) -> Path:
    """Write the run's metrics for node_exporter's textfile collector, atomically (a temporary
    file renamed over ``path``, so the collector never reads half a file). node_exporter reads
    only ``*.prom`` files: any other name is refused (``ValueError``)."""
    target = Path(path)
    if target.suffix != ".prom":
        raise ValueError(
            f"{target.name}: node_exporter's textfile collector reads only *.prom files; "
            "name it e.g. smoke-gate.prom"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(target), registry_for(document, profile=profile))
    return target


def push(
    gateway_url: str,
    document: Mapping[str, Any],
    *,
    profile: str,
    job: str = DEFAULT_JOB,
    timeout: float = 5.0,
) -> None:
    """Replace the group ``job``/``profile`` on the Pushgateway at ``gateway_url`` with this run's
    metrics (``PUT /metrics/job/JOB/profile/PROFILE``). Raises :class:`PushError` (one line,
    naming the gateway without any credentials in its URL) when that fails."""
    parts = urlsplit(gateway_url if "://" in gateway_url else f"http://{gateway_url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError(f"Pushgateway URL {_shown(gateway_url)!r}: expected http(s)://HOST:PORT")
    try:
        push_to_gateway(
            gateway_url,
            job=job,
            registry=registry_for(document, profile=profile),
            grouping_key={"profile": profile},
            timeout=timeout,
        )
    except OSError as error:  # URLError and HTTPError are OSErrors
        reason = getattr(error, "reason", None) or error
        raise PushError(f"Pushgateway {_shown(gateway_url)}: {reason}") from None


def _shown(url: str) -> str:
    """``url`` without a ``user:password@`` part."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()

"""The report as Prometheus metrics: a registry, a node_exporter textfile, a Pushgateway stand-in.

The documents are made by the gate and report code itself (``decide`` + ``report_document``), and
the exposition is read back with prometheus-client's own parser.
"""

from __future__ import annotations

import json
import socket
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from clients.threaded_server import JsonHandler, serving
from pytest_smoke.gate import Outcome, Policy, RunSummary, TestResult, decide
from pytest_smoke.reports import prometheus
from pytest_smoke.reports.json_report import SCHEMA_FILE, report_document

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DATABASE = frozenset({"database"})
SERVICE = frozenset({"service"})


def document(results: tuple[TestResult, ...], *, profile: str | None = "staging") -> dict[str, Any]:
    """A report exactly as a run writes it."""
    run = RunSummary(results=results)
    policy = Policy()
    return report_document(
        decide(run, policy),
        run,
        policy,
        gate_enabled=True,
        pytest_exit_status=1,
        profile=profile,
        started_at="2024-05-01T10:00:00+00:00",
        finished_at="2024-05-01T10:00:03+00:00",
        duration_seconds=3.0,
        ungated=0,
        tool_version="0.1.0",
    )


HEALTHY = (
    TestResult("t::db", Outcome.PASSED, DATABASE, critical=True, duration=0.02),
    TestResult("t::api", Outcome.PASSED, SERVICE, duration=0.3),
    TestResult("t::api2", Outcome.SKIPPED, SERVICE),
    TestResult("t::plain", Outcome.PASSED, duration=1.5),
)
BROKEN = (
    TestResult("t::db", Outcome.FAILED, DATABASE, critical=True, duration=2.0),
    TestResult("t::db2", Outcome.ERROR, DATABASE, duration=0.01),
    TestResult("t::api", Outcome.PASSED, SERVICE, duration=0.3),
)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found[(name, frozenset(labels.items()))]


def test_the_documents_are_valid_reports() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    for results in (HEALTHY, BROKEN):
        jsonschema.validate(document(results), schema)


def test_a_run_counts_its_tests_per_category() -> None:
    text = generate_latest(prometheus.registry_for(document(BROKEN), profile="staging")).decode()
    found = samples(text)
    assert value(found, "smoke_test_total", profile="staging", category="database") == 2
    assert value(found, "smoke_test_passed_total", profile="staging", category="database") == 0
    # failed and errored both count as failed
    assert value(found, "smoke_test_failed_total", profile="staging", category="database") == 2
    assert value(found, "smoke_test_total", profile="staging", category="service") == 1
    assert value(found, "smoke_test_passed_total", profile="staging", category="service") == 1
    assert value(found, "smoke_test_failed_total", profile="staging", category="service") == 0
    assert value(found, "smoke_test_duration_seconds_count", profile="staging") == 3
    assert value(found, "smoke_test_duration_seconds_sum", profile="staging") == pytest.approx(2.31)
    assert value(found, "smoke_test_duration_seconds_bucket", profile="staging", le="0.025") == 1
    assert value(found, "smoke_gate_runs_total", profile="staging", state="done") == 1


def test_skipped_and_uncategorised_tests_are_counted() -> None:
    found = samples(
        generate_latest(prometheus.registry_for(document(HEALTHY), profile="prod")).decode()
    )
    assert value(found, "smoke_test_total", profile="prod", category="service") == 2
    assert value(found, "smoke_test_passed_total", profile="prod", category="service") == 1
    assert value(found, "smoke_test_total", profile="prod", category="other") == 1


@pytest.mark.parametrize(
    ("results", "verdict"), [(HEALTHY, "PROCEED"), (BROKEN, "ROLLBACK")], ids=["healthy", "broken"]
)
def test_the_verdict_gauge_is_one_for_the_verdict_and_zero_for_the_others(
    results: tuple[TestResult, ...], verdict: str
) -> None:
    report = document(results)
    assert report["verdict"] == verdict
    found = samples(generate_latest(prometheus.registry_for(report, profile="staging")).decode())
    gauges = {
        v: value(found, "smoke_gate_verdict", profile="staging", verdict=v)
        for v in prometheus.VERDICTS
    }
    assert gauges == {v: (1.0 if v == verdict else 0.0) for v in prometheus.VERDICTS}


def test_every_metric_name_is_exposed_with_its_type() -> None:
    text = generate_latest(prometheus.registry_for(document(HEALTHY), profile="p")).decode()
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
    assert {name: types.get(name) for name in prometheus.METRIC_NAMES} == {
        "smoke_test_total": "counter",
        "smoke_test_passed_total": "counter",
        "smoke_test_failed_total": "counter",
        "smoke_test_duration_seconds": "histogram",
        "smoke_gate_verdict": "gauge",
        "smoke_gate_runs_total": "counter",
    }


def test_a_long_lived_registry_adds_runs_up_and_keeps_the_last_verdict() -> None:
    registry = CollectorRegistry()
    metrics = prometheus.SmokeMetrics(registry)
    for results in (BROKEN, HEALTHY):
        metrics.record_report(document(results), profile="staging")
        metrics.record_run("staging", "done")
    metrics.record_run("staging", "timed out")
    found = samples(generate_latest(registry).decode())
    assert value(found, "smoke_test_total", profile="staging", category="database") == 3
    assert value(found, "smoke_gate_runs_total", profile="staging", state="done") == 2
    assert value(found, "smoke_gate_runs_total", profile="staging", state="timed out") == 1
    assert value(found, "smoke_gate_verdict", profile="staging", verdict="PROCEED") == 1
    assert value(found, "smoke_gate_verdict", profile="staging", verdict="ROLLBACK") == 0


def test_an_unknown_verdict_is_refused() -> None:
    metrics = prometheus.SmokeMetrics(CollectorRegistry())
    with pytest.raises(ValueError, match="unknown verdict 'GO'"):
        metrics.set_verdict("staging", "GO")


def test_a_report_without_a_profile_is_labelled_default() -> None:
    assert prometheus.profile_label(document(HEALTHY, profile=None)) == "default"
    assert prometheus.profile_label(document(HEALTHY, profile="qa")) == "qa"


def test_the_textfile_is_written_whole_for_node_exporter(tmp_path: Path) -> None:
    target = tmp_path / "textfile" / "smoke-gate.prom"
    target.parent.mkdir()
    target.write_text("stale\n")
    assert prometheus.write_textfile(target, document(BROKEN), profile="staging") == target
    found = samples(target.read_text())
    assert value(found, "smoke_gate_verdict", profile="staging", verdict="ROLLBACK") == 1
    assert [p.name for p in target.parent.iterdir()] == ["smoke-gate.prom"]  # no temporary left


def test_a_textfile_node_exporter_would_not_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"reads only \*\.prom files"):
        prometheus.write_textfile(tmp_path / "smoke.txt", document(HEALTHY), profile="p")
    assert list(tmp_path.iterdir()) == []


class Pushgateway(JsonHandler):
    """Records each request's method, path and body; answers with ``status``."""

    status: ClassVar[int] = 200
    received: ClassVar[list[tuple[str, str, str, bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append(("PUT", self.path, self.headers.get("Content-Type", ""), body))
        self.answer_json(self.status, None if self.status == 200 else {"error": "refused"})


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[Pushgateway]]]:
    """A Pushgateway stand-in on a free port: its URL and its handler class (``received``)."""
    handler = type("Gateway", (Pushgateway,), {"received": [], "status": 200})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler


def test_push_replaces_the_profiles_group(gateway: tuple[str, type[Pushgateway]]) -> None:
    url, handler = gateway
    prometheus.push(url, document(BROKEN), profile="staging")
    [(method, path, content_type, body)] = handler.received
    assert (method, path) == ("PUT", "/metrics/job/smoke-gate/profile/staging")
    assert content_type.startswith("text/plain; version=0.0.4")
    found = samples(body.decode())
    assert value(found, "smoke_test_failed_total", profile="staging", category="database") == 2
    assert value(found, "smoke_gate_verdict", profile="staging", verdict="ROLLBACK") == 1


def test_push_takes_another_job_name(gateway: tuple[str, type[Pushgateway]]) -> None:
    url, handler = gateway
    prometheus.push(url.removeprefix("http://"), document(HEALTHY), profile="qa", job="deploys")
    assert [r[1] for r in handler.received] == ["/metrics/job/deploys/profile/qa"]


def test_a_refused_push_is_one_line_without_credentials(
    gateway: tuple[str, type[Pushgateway]],
) -> None:
    url, handler = gateway
    handler.status = 500
    with_credentials = url.replace("http://", "http://pusher:s3cr3t-pw@")
    with pytest.raises(prometheus.PushError) as caught:
        prometheus.push(with_credentials, document(HEALTHY), profile="staging")
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cr3t-pw" not in message
    assert message.startswith(f"Pushgateway {url}: ")


def test_an_unreachable_pushgateway_is_a_push_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(prometheus.PushError, match=rf"^Pushgateway http://127.0.0.1:{port}: "):
        prometheus.push(f"http://127.0.0.1:{port}", document(HEALTHY), profile="s", timeout=2)


def test_a_push_that_outlives_its_timeout_is_a_push_error() -> None:
    with socket.socket() as silent:  # accepts (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(prometheus.PushError, match="timed out"):
            prometheus.push(f"http://127.0.0.1:{port}", document(HEALTHY), profile="s", timeout=0.5)


def test_a_url_that_is_no_http_url_is_refused() -> None:
    with pytest.raises(prometheus.PushError, match="expected http"):
        prometheus.push("ftp://gateway:9091", document(HEALTHY), profile="s")

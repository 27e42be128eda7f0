"""A burst's summary (HdrHistogram percentiles, errors, rates), its k6-style thresholds, the
one line that says what broke, and the summary in the JSON report, the verdict block and a
merge of shard reports."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from pytest_smoke.gate import Decision, Policy, RunSummary, decide
from pytest_smoke.load.spec import LoadSpec, Target, Thresholds
from pytest_smoke.load.stats import LoadResult, Tally
from pytest_smoke.load.thresholds import Check, check_thresholds
from pytest_smoke.reports.json_report import SCHEMA_FILE, report_document
from pytest_smoke.reports.load import load_line
from pytest_smoke.reports.terminal import verdict_lines

SPEC = LoadSpec(targets=(Target("GET", "/a", 3), Target("GET", "/b")), duration_seconds=1, rate=100)
REPORT_SCHEMA = json.loads(SCHEMA_FILE.read_text())


def tally_of(latencies_ms: list[float], *, statuses: list[int] | None = None) -> Tally:
    """Requests 10 ms apart, each answered with ``latencies_ms[i]``, 200 unless told."""
    tally = Tally(SPEC.targets)
    for i, latency in enumerate(latencies_ms):
        due = i * 0.01
        tally.add(
            i % 2,
            sent=due,
            latency=latency / 1000,
            status=(statuses or [200] * len(latencies_ms))[i],
            lag=0.0005,
            finished=due + latency / 1000,
        )
    return tally


def result_of(latencies_ms: list[float], **kwargs: Any) -> LoadResult:
    return tally_of(latencies_ms, **kwargs).result(SPEC, 0.0)


def test_percentiles_come_from_the_histogram_within_its_precision() -> None:
    latencies = [float(ms) for ms in range(1, 1001)]  # 1..1000 ms
    result = result_of(latencies)
    assert result.latency is not None
    assert result.latency.p50_ms == pytest.approx(500, rel=1e-3)
    assert result.latency.p95_ms == pytest.approx(950, rel=1e-3)
    assert result.latency.p99_ms == pytest.approx(990, rel=1e-3)
    assert result.latency.p99_ms >= 990  # never below the exact value
    assert result.latency.max_ms == pytest.approx(1000)  # exact
    assert result.lag is not None
    assert result.lag.p99_ms == pytest.approx(0.5, rel=1e-3)


def test_requests_rates_and_failures() -> None:
    statuses = [200, 201, 302, 404, 503, 503, 200, 200]
    result = result_of([5.0] * 8, statuses=statuses)
    assert result.requests == 8
    assert result.errors == 3  # 404 and 503 twice: a status of 400 or more; 302 is not
    assert result.error_rate_percent == pytest.approx(37.5)
    assert result.failures == {"503": 2, "404": 1}
    assert result.statuses == {200: 3, 201: 1, 302: 1, 404: 1, 503: 2}
    assert result.achieved_rate == pytest.approx(100)  # 8 sends 10 ms apart
    assert [(t.path, n, e) for t, n, e in result.per_target] == [("/a", 4, 1), ("/b", 4, 2)]


def test_a_request_never_sent_or_unanswered_is_an_error() -> None:
    tally = Tally(SPEC.targets)
    tally.add(0, sent=0.0, latency=0.01, status=200, finished=0.01)
    tally.add(1, sent=0.01, latency=2.0, failure="timeout", finished=2.0)
    tally.add(0, sent=None, latency=3.0, failure="not sent in time", finished=3.0)
    result = tally.result(SPEC, 0.0)
    assert (result.requests, result.errors, result.not_sent) == (3, 2, 1)
    assert result.failures == {"timeout": 1, "not sent in time": 1}
    assert result.achieved_rate == pytest.approx(100)  # two sends, 10 ms apart
    assert result.elapsed_seconds == pytest.approx(3.0)


def test_thresholds_pass_at_their_limit_and_fail_above_it() -> None:
    result = result_of([10.0] * 99 + [1000.0])  # p95 10 ms, p99 10 ms, max 1 s
    at_limit = check_thresholds(result, Thresholds(p95_ms=10.01, p99_ms=10.01))
    assert at_limit.passed
    assert at_limit.message() == ""
    broken = check_thresholds(result, Thresholds(p95_ms=5, p99_ms=100, error_rate_percent=0))
    assert not broken.passed
    assert [c.name for c in broken.checks if not c.passed] == ["p95_ms"]
    assert broken.message() == "p95 10 ms > 5 ms (+5 ms)"


def test_the_message_names_each_broken_threshold_and_by_how_much() -> None:
    result = result_of([1012.0] * 40, statuses=[200] * 39 + [500])
    verdict = check_thresholds(result, Thresholds(p95_ms=2000, p99_ms=1000, error_rate_percent=1))
    assert verdict.message() == (
        "p99 1012 ms > 1000 ms (+12 ms); error rate 2.5% > 1% (+1.5 points)"
    )
    assert verdict.as_list() == [
        {"name": "p95_ms", "limit": 2000.0, "value": pytest.approx(1012, rel=1e-3), "passed": True},
        {
            "name": "p99_ms",
            "limit": 1000.0,
            "value": pytest.approx(1012, rel=1e-3),
            "passed": False,
        },
        {"name": "error_rate_percent", "limit": 1.0, "value": 2.5, "passed": False},
    ]


def test_a_burst_without_requests_fails_its_thresholds() -> None:
    empty = Tally(SPEC.targets).result(SPEC, 0.0)
    verdict = check_thresholds(empty, Thresholds(p99_ms=100, error_rate_percent=1))
    assert not verdict.passed
    assert verdict.message() == (
        "p99: no request was answered (limit 100 ms); "
        "error rate: no request was answered (limit 1%)"
    )
    assert check_thresholds(empty, Thresholds()).passed  # no limit, nothing to break


def test_a_value_at_its_limit_passes() -> None:
    assert Check("p95_ms", 500, 500).passed
    assert not Check("p95_ms", 500, 500.1).passed


# -- the reports ---------------------------------------------------------------------------


def summary(latencies_ms: list[float], thresholds: Thresholds, **kwargs: Any) -> dict[str, Any]:
    result = result_of(latencies_ms, **kwargs)
    return {
        "test": "suite/test_load_burst.py::test_load_burst[all]",
        **result.as_dict(check_thresholds(result, thresholds)),
    }


def decision() -> tuple[Decision, RunSummary]:
    run = RunSummary(results=())
    return decide(run, Policy()), run


def document_with(load: dict[str, Any] | None) -> dict[str, Any]:
    verdict, run = decision()
    return report_document(
        verdict,
        run,
        Policy(),
        gate_enabled=True,
        pytest_exit_status=0,
        profile=None,
        started_at="2024-06-01T00:00:00+00:00",
        finished_at="2024-06-01T00:00:05+00:00",
        duration_seconds=5,
        ungated=0,
        tool_version="0",
        load=load,
    )


def test_the_json_report_holds_the_load_section_in_its_schema() -> None:
    load = summary([4.0] * 100, Thresholds(p95_ms=500, p99_ms=1000, error_rate_percent=1))
    document = document_with(load)
    jsonschema.validate(document, REPORT_SCHEMA)
    section = document["load"]
    assert section["mode"] == "rate"
    assert section["latency_from"] == "scheduled"
    assert section["target_rate"] == 100
    assert section["requests"] == 100
    assert section["p99_ms"] == pytest.approx(4, rel=1e-3)
    assert section["passed"] is True
    assert [t["name"] for t in section["thresholds"]] == ["p95_ms", "p99_ms", "error_rate_percent"]
    assert document_with(None)["load"] is None
    jsonschema.validate(document_with(None), REPORT_SCHEMA)


def test_the_verdict_block_has_one_load_line() -> None:
    verdict, _ = decision()
    passed = summary([4.0] * 100, Thresholds(p99_ms=1000))
    lines = verdict_lines(verdict, gate_enabled=True, load=passed)
    (line,) = [line for line in lines if line.startswith("load: ")]
    assert line == (
        "load: 100 requests in 1.0 s, 100.0/s (target 100/s), p50 4.0 ms, p95 4.0 ms, "
        "p99 4.0 ms, max 4.0 ms, 0 errors (0%): thresholds passed"
    )
    broken = summary([1012.0] * 40, Thresholds(p99_ms=1000), statuses=[200] * 39 + [503])
    assert load_line(broken).endswith("1 error (2.5%): broke p99 1012 ms > 1000 ms (+12 ms)")
    assert not [line for line in verdict_lines(verdict, gate_enabled=True) if "load" in line]


def test_a_merge_keeps_the_burst_of_the_shard_that_ran_it(tmp_path: Any) -> None:
    from pytest_smoke.merge import load_shard, merge, merged_document

    load = summary([4.0] * 100, Thresholds(p99_ms=1000))
    paths = []
    for index, section in enumerate((None, load)):
        document = document_with(section)
        if section is None:
            del document["load"]  # a report written before the section existed
        path = tmp_path / f"shard{index}.json"
        path.write_text(json.dumps(document))
        paths.append(path)
    merged = merge([load_shard(path) for path in paths])
    assert merged.load == load
    combined = merged_document(merged, decide(merged.run, merged.policy))
    jsonschema.validate(combined, REPORT_SCHEMA)
    assert combined["load"] == load

"""Folding per-phase reports into one result per test."""

from __future__ import annotations

from pytest_smoke.gate import Outcome
from pytest_smoke.recorder import ResultRecorder

SMOKE = ["smoke"]


def phases(recorder: ResultRecorder, nodeid: str, *steps: tuple[str, str], **kw: object) -> None:
    for when, outcome in steps:
        recorder.add_phase(
            nodeid=nodeid,
            when=when,
            outcome=outcome,
            markers=kw.get("markers", SMOKE),
            cause=kw.get("cause"),
        )  # type: ignore[arg-type]


def only(recorder: ResultRecorder) -> Outcome:
    (result,) = recorder.summary().results
    return result.outcome


def test_pass() -> None:
    recorder = ResultRecorder()
    phases(recorder, "t::a", ("setup", "passed"), ("call", "passed"), ("teardown", "passed"))
    assert only(recorder) is Outcome.PASSED


def test_setup_failure_is_an_error_and_keeps_its_cause() -> None:
    recorder = ResultRecorder()
    phases(recorder, "t::a", ("setup", "failed"), ("teardown", "passed"), cause="db down")
    (result,) = recorder.summary().results
    assert (result.outcome, result.cause) == (Outcome.ERROR, "db down")


def test_teardown_error_after_a_pass_is_an_error() -> None:
    recorder = ResultRecorder()
    phases(recorder, "t::a", ("setup", "passed"), ("call", "passed"), ("teardown", "failed"))
    assert only(recorder) is Outcome.ERROR


def test_teardown_error_after_a_failure_stays_a_failure() -> None:
    recorder = ResultRecorder()
    phases(recorder, "t::a", ("setup", "passed"), ("call", "failed"), ("teardown", "failed"))
    assert only(recorder) is Outcome.FAILED


def test_skip_in_setup() -> None:
    recorder = ResultRecorder()
    phases(recorder, "t::a", ("setup", "skipped"), ("teardown", "passed"))
    assert only(recorder) is Outcome.SKIPPED


def test_xfail() -> None:
    recorder = ResultRecorder()
    recorder.add_phase(nodeid="t::a", when="call", outcome="skipped", markers=SMOKE, wasxfail=True)
    assert only(recorder) is Outcome.XFAILED


def test_pass_on_rerun_is_flaky() -> None:
    recorder = ResultRecorder()
    phases(
        recorder,
        "t::a",
        ("setup", "passed"),
        ("call", "rerun"),
        ("teardown", "passed"),
        ("setup", "passed"),
        ("call", "passed"),
        ("teardown", "passed"),
    )
    (result,) = recorder.summary().results
    assert (result.outcome, result.reruns, result.flaky) == (Outcome.PASSED, 1, True)


def test_unmarked_tests_are_not_gated_but_counted() -> None:
    recorder = ResultRecorder()
    phases(recorder, "t::plain", ("call", "failed"), markers=[])
    phases(recorder, "t::dep", ("call", "failed"), markers=["database"])
    assert recorder.summary().results == ()
    assert recorder.ungated_count() == 2


def test_a_crash_report_without_markers_is_gated_fail_closed() -> None:
    recorder = ResultRecorder()
    recorder.add_phase(nodeid="t::a", when="???", outcome="failed", markers=None)
    assert only(recorder) is Outcome.FAILED


def test_a_crash_after_setup_keeps_the_markers_from_setup() -> None:
    recorder = ResultRecorder()
    recorder.add_phase(
        nodeid="t::a", when="setup", outcome="passed", markers=["smoke", "critical", "database"]
    )
    recorder.add_phase(nodeid="t::a", when="???", outcome="failed", markers=None)
    (result,) = recorder.summary().results
    assert result.critical
    assert result.categories == {"database"}


def test_left_behind_entries_are_kept_once_in_order() -> None:
    recorder = ResultRecorder()
    recorder.add_left_behind(["https://h/1 (DELETE -> 500)", "https://h/2 (DELETE -> 503)"])
    recorder.add_left_behind(["https://h/1 (DELETE -> 500)"])
    assert recorder.summary().left_behind == (
        "https://h/1 (DELETE -> 500)",
        "https://h/2 (DELETE -> 503)",
    )


def test_not_applicable_from_several_workers_is_deduplicated_and_ordered() -> None:
    recorder = ResultRecorder()
    for _worker in range(2):  # every xdist worker collects, and reports, the whole suite
        recorder.add_not_applicable("read-only profile", ["t::w"])
        recorder.add_not_applicable("checks file crud", ["t::u", "t::f"])
        recorder.add_not_applicable("redis (SMOKE_TEST_REDIS_URL)", ["t::bus"])
    summary = recorder.summary()
    assert [(group.reason, group.tests) for group in summary.not_applicable] == [
        ("redis (SMOKE_TEST_REDIS_URL)", ("t::bus",)),
        ("checks file crud", ("t::u", "t::f")),
        ("read-only profile", ("t::w",)),
    ]
    assert summary.results == ()

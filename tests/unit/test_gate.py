"""The gate's rules, table-driven, without pytest in the loop."""

from __future__ import annotations

import pytest

from pytest_smoke.gate import (
    EXIT_CODES,
    CategoryRule,
    NotApplicable,
    Outcome,
    Policy,
    PolicyError,
    RunSummary,
    TestResult,
    Threshold,
    Verdict,
    decide,
)

P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED


def results(*outcomes: Outcome, categories: frozenset[str] = frozenset()) -> list[TestResult]:
    return [
        TestResult(f"t.py::test_{i}", outcome, categories=categories)
        for i, outcome in enumerate(outcomes)
    ]


def run(*items: TestResult | list[TestResult], **kwargs: object) -> RunSummary:
    flat: list[TestResult] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return RunSummary(results=tuple(flat), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcomes", "verdict"),
    [
        pytest.param([P] * 10, Verdict.PROCEED, id="all-pass"),
        pytest.param([P] * 9 + [F], Verdict.MONITOR, id="10pct-fail"),
        pytest.param([P] * 8 + [F] * 2, Verdict.MONITOR, id="exactly-20pct-is-not-over"),
        pytest.param([P] * 4 + [F], Verdict.MONITOR, id="exactly-20pct-of-5"),
        pytest.param([P] * 12 + [F] * 3, Verdict.MONITOR, id="exactly-20pct-of-15"),
        pytest.param([P] * 7 + [F] * 3, Verdict.ROLLBACK, id="30pct-fail"),
        pytest.param([P] * 39 + [F] * 11, Verdict.ROLLBACK, id="22pct-fail"),
        pytest.param([P] * 8 + [E] * 2, Verdict.MONITOR, id="errors-count-as-failures-at-20pct"),
        pytest.param([P] * 7 + [F, E, E], Verdict.ROLLBACK, id="errors-count-as-failures-30pct"),
        pytest.param([P, Outcome.XFAILED, Outcome.XPASSED], Verdict.PROCEED, id="xfail-xpass-pass"),
    ],
)
def test_failure_rate_threshold(outcomes: list[Outcome], verdict: Verdict) -> None:
    assert decide(run(results(*outcomes))).verdict is verdict


def test_rate_just_over_threshold_rolls_back() -> None:
    # 201 failures in 1000 is 20.1%: over, by the smallest step a run of that size can make.
    decision = decide(run(results(*([P] * 799 + [F] * 201))))
    assert decision.verdict is Verdict.ROLLBACK
    assert "failure rate 20.1% > 20% threshold" in decision.reasons


def test_a_failed_critical_test_rolls_back_and_is_named() -> None:
    critical = TestResult("t.py::test_login", F, critical=True)
    decision = decide(run(results(*[P] * 20), critical))
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.reasons == ("critical test failed: t.py::test_login",)


def test_a_critical_setup_error_rolls_back() -> None:
    decision = decide(run(results(*[P] * 20), TestResult("t.py::test_x", E, critical=True)))
    assert decision.verdict is Verdict.ROLLBACK


def test_any_database_failure_rolls_back() -> None:
    db = results(P, P, P, F, categories=frozenset({"database"}))
    decision = decide(run(results(*[P] * 30), db))
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.reasons == ("database test failed: t.py::test_3",)


def test_rollback_categories_are_policy() -> None:
    db = TestResult("t.py::test_db", F, categories=frozenset({"database"}))
    svc = TestResult("t.py::test_svc", F, categories=frozenset({"service"}))
    passing = results(*[P] * 30)
    relaxed = Policy(rollback_categories=frozenset())
    assert decide(run(passing, db), relaxed).verdict is Verdict.MONITOR
    strict = Policy(rollback_categories=frozenset({"service"}))
    assert decide(run(passing, svc), strict).verdict is Verdict.ROLLBACK


def test_a_whole_category_failing_rolls_back() -> None:
    redis = [
        TestResult(f"t.py::test_bus_{i}", F, categories=frozenset({"redis"})) for i in range(2)
    ]
    decision = decide(run(results(*[P] * 30), redis))
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.reasons == ("every redis test failed (2 of 2)",)


def test_a_category_of_one_test_is_not_whole_under_the_default_minimum() -> None:
    one = TestResult("t.py::test_svc", F, categories=frozenset({"service"}))
    assert decide(run(results(*[P] * 30), one)).verdict is Verdict.MONITOR
    assert decide(run(results(*[P] * 30), one), Policy(category_min_tests=1)).verdict is (
        Verdict.ROLLBACK
    )


def test_skipped_tests_do_not_make_a_category_look_broken() -> None:
    redis = [
        TestResult("t.py::test_a", F, categories=frozenset({"redis"})),
        TestResult("t.py::test_b", S, categories=frozenset({"redis"})),
    ]
    decision = decide(run(results(*[P] * 30), redis))
    assert decision.verdict is Verdict.MONITOR


def test_failures_sharing_a_cause_count_once_toward_the_rate() -> None:
    cause = "redis unreachable at 127.0.0.1:6379: connection refused"
    down = [TestResult(f"t.py::test_bus_{i}", F, cause=cause) for i in range(4)]
    decision = decide(run(results(*[P] * 10), down))
    # 4 failures grouped as 1 -> 1 failing of 11 units: 9.1%, not 4 of 14 (28.6%).
    assert decision.verdict is Verdict.MONITOR
    assert decision.failure_rate == pytest.approx(1 / 11)
    assert [(g.cause, len(g.nodeids)) for g in decision.causes] == [(cause, 4)]


def test_without_grouping_the_same_failures_roll_back() -> None:
    down = [TestResult(f"t.py::test_bus_{i}", F) for i in range(4)]
    assert decide(run(results(*[P] * 10), down)).verdict is Verdict.ROLLBACK


def test_a_whole_category_down_names_its_cause() -> None:
    cause = "redis unreachable at 127.0.0.1:6379: connection refused"
    down = [
        TestResult(f"t.py::test_bus_{i}", E, categories=frozenset({"redis"}), cause=cause)
        for i in range(3)
    ]
    decision = decide(run(results(*[P] * 10), down))
    assert decision.reasons == (f"every redis test failed (3 of 3) (caused by: {cause})",)


@pytest.mark.parametrize(
    ("summary", "reason"),
    [
        pytest.param(RunSummary(), "no smoke test ran: none was collected", id="nothing"),
        pytest.param(run(results(S, S)), "no smoke test ran: all 2 were skipped", id="all-skip"),
        pytest.param(
            run(results(P, S, S)), "2 of 3 smoke tests skipped (66.7% > 50%)", id="most-skipped"
        ),
        pytest.param(
            run(results(P, P), collection_errors=1), "1 collection error", id="collection-error"
        ),
        pytest.param(
            run(TestResult("t.py::test_f", P, reruns=1), results(P)),
            "passed only on rerun: t.py::test_f",
            id="flaky",
        ),
        pytest.param(
            run(results(P), worker_crashes=("gw0: Not properly terminated",)),
            "xdist worker crashed: gw0",
            id="worker-crash",
        ),
        pytest.param(
            run(results(P), interrupted="stopping after 1 failures"),
            "the run was cut short: stopping after 1 failures",
            id="cut-short",
        ),
    ],
)
def test_untrustworthy_runs_need_investigation(summary: RunSummary, reason: str) -> None:
    decision = decide(summary)
    assert decision.verdict is Verdict.INVESTIGATE
    assert any(r.startswith(reason) for r in decision.reasons), decision.reasons
    assert decision.exit_code == 10


def test_exactly_half_skipped_is_trusted() -> None:
    assert decide(run(results(P, S))).verdict is Verdict.PROCEED


def test_rollback_outranks_investigate_and_keeps_it_as_a_note() -> None:
    summary = run(results(F, F, P), collection_errors=2)
    decision = decide(summary)
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.notes == ("2 collection errors: some smoke tests could not even be loaded",)


def test_a_test_failing_on_every_rerun_is_a_failure_not_flaky() -> None:
    decision = decide(run(TestResult("t.py::test_f", F, reruns=2), results(*[P] * 9)))
    assert decision.verdict is Verdict.MONITOR
    assert decision.flaky == ()


def test_counts_per_category_and_total() -> None:
    db = results(P, P, categories=frozenset({"database"}))
    svc = [
        TestResult("s.py::a", F, categories=frozenset({"service"})),
        TestResult("s.py::b", S, categories=frozenset({"service", "azure"})),
    ]
    decision = decide(run(db, svc, results(P)))
    assert list(decision.categories) == ["database", "service", "azure", "other"]
    assert decision.categories["service"].failed == 1
    assert decision.categories["service"].skipped == 1
    assert decision.categories["azure"].skipped == 1
    assert decision.totals.total == 5


def test_exit_codes_are_documented_and_outside_pytests_range() -> None:
    assert EXIT_CODES == {
        Verdict.PROCEED: 0,
        Verdict.MONITOR: 0,
        Verdict.INVESTIGATE: 10,
        Verdict.ROLLBACK: 11,
    }
    assert all(code == 0 or code > 5 for code in EXIT_CODES.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_failure_percent": 101}, "max_failure_percent must be between 0 and 100"),
        ({"max_skip_percent": -1}, "max_skip_percent must be between 0 and 100"),
        ({"category_min_tests": 0}, "category_min_tests must be 1 or more"),
        ({"rollback_categories": frozenset({"dtabase"})}, "unknown category dtabase"),
    ],
)
def test_policy_rejects_values_out_of_range(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_zero_percent_threshold_rolls_back_on_any_failure() -> None:
    strict = Policy(max_failure_percent=0)
    assert decide(run(results(*[P] * 99, F)), strict).verdict is Verdict.ROLLBACK
    assert decide(run(results(*[P] * 99)), strict).verdict is Verdict.PROCEED


def test_failures_sharing_a_cause_are_one_reason_line() -> None:
    cause = "database unreachable at db:5432: connection refused"
    down = [
        TestResult(f"t.py::test_db_{i}", E, categories=frozenset({"database"}), cause=cause)
        for i in range(5)
    ]
    decision = decide(run(results(*[P] * 30), down))
    assert decision.reasons[0] == (
        f"5 database tests failed (caused by: {cause}): t.py::test_db_0, t.py::test_db_1, "
        "t.py::test_db_2 and 2 more"
    )


def test_a_recorded_warning_makes_an_all_passing_run_monitor() -> None:
    decision = decide(run(results(*[P] * 10), warnings=("t.py::test_cpu: CPU 95% > 80%",)))
    assert decision.verdict is Verdict.MONITOR
    assert decision.reasons == ("warning: t.py::test_cpu: CPU 95% > 80%",)
    assert decision.exit_code == 0


def test_warnings_never_soften_a_rollback() -> None:
    summary = run(TestResult("t.py::test_x", F, critical=True), warnings=("t.py::y: slow",))
    assert decide(summary).verdict is Verdict.ROLLBACK


def test_not_applicable_and_left_behind_are_carried_never_counted() -> None:
    deselected = (NotApplicable("redis (SMOKE_TEST_REDIS_URL)", ("t.py::a", "t.py::b", "t.py::c")),)
    left = ("https://h/api/items/42 (DELETE -> 500)",)
    decision = decide(run(results(P, P), not_applicable=deselected, left_behind=left))
    assert decision.verdict is Verdict.PROCEED  # 3 not applicable of 5 would be 60% "skipped"
    assert decision.totals.total == 2
    assert (decision.not_applicable, decision.left_behind) == (deselected, left)


def test_nothing_applicable_says_so() -> None:
    deselected = (NotApplicable("read-only profile", ("t.py::a",)),)
    decision = decide(run(not_applicable=deselected))
    assert decision.verdict is Verdict.INVESTIGATE
    assert decision.reasons == (
        "no smoke test ran (1 smoke test not applicable to this deployment: not configured or "
        "not run)",
    )


# -- category rules: document 003's rollback decision matrix --

#: Reference 003: under 50% of workflows passing ROLLBACK, 50-80% INVESTIGATE, above 80% MONITOR.
MATRIX = CategoryRule(
    "workflow",
    (Threshold(Verdict.ROLLBACK, 50), Threshold(Verdict.INVESTIGATE, 80, inclusive=True)),
)


def workflows(passed: int, failed: int, *, skipped: int = 0) -> list[TestResult]:
    outcomes = [P] * passed + [F] * failed + [S] * skipped
    return [
        TestResult(f"t.py::test_workflow[{i}]", outcome, categories=frozenset({"workflow"}))
        for i, outcome in enumerate(outcomes)
    ]


@pytest.mark.parametrize(
    ("passed", "verdict", "reason"),
    [
        pytest.param(
            0, Verdict.ROLLBACK, "workflow: 0 of 100 passed (0.0%) < 50%: rollback", id="0pct"
        ),
        pytest.param(
            49, Verdict.ROLLBACK, "workflow: 49 of 100 passed (49.0%) < 50%: rollback", id="49pct"
        ),
        pytest.param(
            50,
            Verdict.INVESTIGATE,
            "workflow: 50 of 100 passed (50.0%) <= 80%: investigate",
            id="50pct",
        ),
        pytest.param(
            80,
            Verdict.INVESTIGATE,
            "workflow: 80 of 100 passed (80.0%) <= 80%: investigate",
            id="80pct",
        ),
        pytest.param(
            81, Verdict.MONITOR, "workflow: 81 of 100 passed (81.0%) > 80%: monitor", id="81pct"
        ),
        pytest.param(
            99, Verdict.MONITOR, "workflow: 99 of 100 passed (99.0%) > 80%: monitor", id="99pct"
        ),
    ],
)
def test_the_003_matrix_at_its_boundaries(passed: int, verdict: Verdict, reason: str) -> None:
    # The failure-rate rule off, so the category rule alone decides.
    policy = Policy(max_failure_percent=100, category_min_tests=101, category_rules=(MATRIX,))
    decision = decide(run(workflows(passed, 100 - passed)), policy)
    assert decision.verdict is verdict
    assert reason in decision.reasons
    assert decision.exit_code == verdict.exit_code


def test_every_workflow_passing_adds_no_reason() -> None:
    decision = decide(run(workflows(100, 0)), Policy(category_rules=(MATRIX,)))
    assert decision.verdict is Verdict.PROCEED
    assert decision.reasons == ("every smoke test passed",)


def test_the_reason_names_the_counts_the_rate_and_the_threshold() -> None:
    decision = decide(run(workflows(1, 2), results(*[P] * 30)), Policy(category_rules=(MATRIX,)))
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.reasons == ("workflow: 1 of 3 passed (33.3%) < 50%: rollback",)


def test_the_monitor_line_sits_beside_the_failure_line() -> None:
    decision = decide(run(workflows(9, 1), results(*[P] * 30)), Policy(category_rules=(MATRIX,)))
    assert decision.verdict is Verdict.MONITOR
    assert decision.reasons == (
        "1 non-critical smoke test failed (failure rate 2.5%, threshold 20%)",
        "workflow: 9 of 10 passed (90.0%) > 80%: monitor",
    )


def test_a_rule_without_investigate_monitors_from_its_rollback_threshold() -> None:
    rule = CategoryRule("service", (Threshold(Verdict.ROLLBACK, 90),))
    service = [
        TestResult(f"t.py::test_svc_{i}", P if i < 9 else F, categories=frozenset({"service"}))
        for i in range(10)
    ]
    decision = decide(run(service, results(*[P] * 30)), Policy(category_rules=(rule,)))
    assert decision.verdict is Verdict.MONITOR
    assert "service: 9 of 10 passed (90.0%) >= 90%: monitor" in decision.reasons


def test_skipped_tests_count_neither_way() -> None:
    # 1 passed, 1 failed, 8 skipped: 50% of those that ran, not 10% of all.
    summary = run(workflows(1, 1, skipped=8), results(*[P] * 30))
    decision = decide(summary, Policy(max_skip_percent=100, category_rules=(MATRIX,)))
    assert decision.verdict is Verdict.INVESTIGATE
    assert decision.reasons == ("workflow: 1 of 2 passed (50.0%) <= 80%: investigate",)


def test_a_ruled_category_none_of_whose_tests_ran_adds_nothing() -> None:
    decision = decide(
        run(workflows(0, 0, skipped=2), results(*[P] * 30)), Policy(category_rules=(MATRIX,))
    )
    assert decision.verdict is Verdict.PROCEED


def test_errors_count_as_failures_in_a_rule() -> None:
    errored = [TestResult("t.py::test_w", E, categories=frozenset({"workflow"}))]
    decision = decide(
        run(workflows(1, 0), errored, results(*[P] * 30)), Policy(category_rules=(MATRIX,))
    )
    assert "workflow: 1 of 2 passed (50.0%) <= 80%: investigate" in decision.reasons


def test_rules_never_soften_the_default_rules() -> None:
    # 9 of 10 workflows pass (MONITOR by the matrix), but one was critical: still ROLLBACK.
    signup = TestResult("t.py::test_signup", F, categories=frozenset({"workflow"}), critical=True)
    decision = decide(
        run(workflows(9, 0), signup, results(*[P] * 30)), Policy(category_rules=(MATRIX,))
    )
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.reasons == ("critical test failed: t.py::test_signup",)


def test_a_rate_rounded_onto_the_threshold_shows_more_decimals() -> None:
    policy = Policy(max_failure_percent=100, category_min_tests=10000, category_rules=(MATRIX,))
    decision = decide(run(workflows(999, 1001)), policy)
    assert decision.reasons == ("workflow: 999 of 2000 passed (49.95%) < 50%: rollback",)


def test_no_category_rules_by_default() -> None:
    # 7 of 10 workflows pass among 40 tests: document 001's rules alone say MONITOR (7.5% of
    # the run failed); the matrix, once set, says INVESTIGATE.
    summary = run(workflows(7, 3), results(*[P] * 30))
    assert Policy().category_rules == ()
    assert decide(summary).verdict is Verdict.MONITOR
    assert not any(reason.startswith("workflow:") for reason in decide(summary).reasons)
    assert decide(summary, Policy(category_rules=(MATRIX,))).verdict is Verdict.INVESTIGATE


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ((), "gives workflow no threshold"),
        ((Threshold(Verdict.MONITOR, 90),), "a rule sets rollback or investigate"),
        (
            (Threshold(Verdict.ROLLBACK, 101),),
            "rollback<101: the percent must be between 0 and 100",
        ),
        ((Threshold(Verdict.ROLLBACK, 0),), "rollback<0: it never applies"),
        (
            (Threshold(Verdict.INVESTIGATE, 100, inclusive=True),),
            "investigate<=100: it applies even when every test passed",
        ),
        (
            (Threshold(Verdict.ROLLBACK, 50), Threshold(Verdict.ROLLBACK, 60)),
            "gives workflow rollback twice",
        ),
        (
            (Threshold(Verdict.ROLLBACK, 80, inclusive=True), Threshold(Verdict.INVESTIGATE, 80)),
            "investigate<80 not above rollback<=80",
        ),
    ],
)
def test_a_category_rule_refuses_contradictions(
    thresholds: tuple[Threshold, ...], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        CategoryRule("workflow", thresholds)


def test_a_category_rule_names_known_categories_only() -> None:
    with pytest.raises(PolicyError, match="unknown category 'workflows'; choose from database"):
        CategoryRule("workflows", (Threshold(Verdict.ROLLBACK, 50),))


def test_a_policy_takes_one_rule_per_category() -> None:
    with pytest.raises(PolicyError, match="category_rules gives workflow twice"):
        Policy(category_rules=(MATRIX, MATRIX))


def test_thresholds_are_kept_most_severe_first_and_read_back() -> None:
    rule = CategoryRule(
        "workflow",
        (Threshold(Verdict.INVESTIGATE, 80, inclusive=True), Threshold(Verdict.ROLLBACK, 50)),
    )
    assert rule == MATRIX
    assert str(rule) == "workflow: rollback<50, investigate<=80"

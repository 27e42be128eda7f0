"""Category rules (reference 003's matrix) through real pytest runs: set in ini, by option and in
an env profile, they change the verdict and the exit status; a bad rule stops the run with one
line and exit status 4; the rules reach the JSON report and ``smoke-gate merge``."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

import jsonschema
import pytest

from pytest_smoke import merge
from pytest_smoke.reports.json_report import SCHEMA_FILE

from .conftest import INI, verdict_line

if TYPE_CHECKING:
    from collections.abc import Callable

MATRIX = "workflow: rollback<50, investigate<=80"


@pytest.fixture
def project(pytester: pytest.Pytester) -> Callable[[int, int], None]:
    """Write ``workflows`` workflow smoke tests, the first ``failing`` of them failing, beside
    30 passing service tests: the whole run's failure rate stays at or under 20%, so 001's
    rules alone say MONITOR and only a category rule can say more."""

    def make(workflows: int, failing: int) -> None:
        pytester.makepyfile(
            test_deployment=f"""
            import pytest
            pytestmark = pytest.mark.smoke

            @pytest.mark.workflow
            @pytest.mark.parametrize("i", range({workflows}))
            def test_workflow(i):
                assert i >= {failing}, "step 2 of 4: POST /api/login -> 500"

            @pytest.mark.service
            @pytest.mark.parametrize("i", range(30))
            def test_endpoint(i):
                pass
            """
        )

    return make


def test_without_rules_001s_defaults_decide(
    pytester: pytest.Pytester, project: Callable[[int, int], None]
) -> None:
    project(10, 4)  # 60% of workflows pass; 4 of 40 tests failed (10%)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smoke-gate")
    assert result.ret == 0
    assert "smoke gate: MONITOR" in verdict_line(result.stdout.str())
    assert "workflow:" not in result.stdout.str().split("reasons:")[1]


@pytest.mark.parametrize(
    ("failing", "status", "reason"),
    [
        pytest.param(
            6, 11, "ROLLBACK*workflow: 4 of 10 passed (40.0%) < 50%: rollback", id="40pct"
        ),
        pytest.param(
            5, 10, "INVESTIGATE*workflow: 5 of 10 passed (50.0%) <= 80%: investigate", id="50pct"
        ),
        pytest.param(
            2, 10, "INVESTIGATE*workflow: 8 of 10 passed (80.0%) <= 80%: investigate", id="80pct"
        ),
        pytest.param(1, 0, "MONITOR*workflow: 9 of 10 passed (90.0%) > 80%: monitor", id="90pct"),
        pytest.param(0, 0, "PROCEED*every smoke test passed", id="all-pass"),
    ],
)
def test_the_matrix_set_in_ini(
    pytester: pytest.Pytester,
    project: Callable[[int, int], None],
    failing: int,
    status: int,
    reason: str,
) -> None:
    pytester.makeini(INI + f"smoke_category_rules = {MATRIX}\n")
    project(10, failing)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smoke-gate")
    assert result.ret == status
    verdict, line = reason.split("*")
    assert f"smoke gate: {verdict}" in verdict_line(result.stdout.str())
    result.stdout.fnmatch_lines([f"*{line}", f"exit status: {status}"])


def test_the_matrix_set_by_option(
    pytester: pytest.Pytester, project: Callable[[int, int], None]
) -> None:
    project(10, 3)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--smoke-gate", "--smoke-category-rules", MATRIX
    )
    assert result.ret == 10
    result.stdout.fnmatch_lines(
        [
            "*smoke gate: INVESTIGATE*",
            "reasons: workflow: 7 of 10 passed (70.0%) <= 80%: investigate",
        ]
    )


def test_the_matrix_set_in_a_multi_line_ini_value(
    pytester: pytest.Pytester, project: Callable[[int, int], None]
) -> None:
    pytester.makeini(
        INI + "smoke_category_rules =\n    service: rollback<100\n    workflow: investigate<=80\n"
    )
    project(10, 1)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smoke-gate", "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "  SMOKE_GATE_CATEGORY_RULES=service: rollback<100; workflow: investigate<=80  [ini]",
            "*smoke gate: MONITOR*",
            "*workflow: 9 of 10 passed (90.0%) > 80%: monitor",
        ]
    )


def test_the_matrix_set_in_a_profile_beats_ini(
    pytester: pytest.Pytester, project: Callable[[int, int], None]
) -> None:
    # ini asks for ROLLBACK under 100%; the profile (which wins) for the 003 matrix.
    pytester.makeini(INI + "smoke_category_rules = workflow: rollback<100\n")
    pytester.makefile(
        ".staging", **{".env": f'SMOKE_GATE=true\nSMOKE_GATE_CATEGORY_RULES="{MATRIX}"\n'}
    )
    project(10, 1)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smoke-env", "staging", "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            f"  SMOKE_GATE_CATEGORY_RULES={MATRIX}  [profile .env.staging]",
            "*smoke gate: MONITOR*",
            "*workflow: 9 of 10 passed (90.0%) > 80%: monitor",
        ]
    )


def test_skipped_workflows_count_neither_way(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + f"smoke_category_rules = {MATRIX}\n")
    pytester.makepyfile(
        """
        import pytest
        pytestmark = pytest.mark.smoke

        @pytest.mark.workflow
        def test_signup(): pass

        @pytest.mark.workflow
        def test_checkout(): assert False

        @pytest.mark.workflow
        def test_refund(): pytest.skip("no refunds on this deployment")

        @pytest.mark.service
        @pytest.mark.parametrize("i", range(30))
        def test_endpoint(i): pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--smoke-gate")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["reasons: workflow: 1 of 2 passed (50.0%) <= 80%: investigate"])


@pytest.mark.parametrize(
    ("args", "ini", "profile", "expected"),
    [
        pytest.param(
            ("--smoke-category-rules", "workflows: rollback<50"),
            "",
            None,
            "ERROR: smoke: --smoke-category-rules='workflows: rollback<50' (command line) names "
            "unknown category 'workflows'; choose from database, redis, service, azure, secrets, "
            "metrics, workflow, contract, load",
            id="unknown-category-option",
        ),
        pytest.param(
            ("--smoke-gate",),
            "smoke_category_rules = workflow: rollback<fifty\n",
            None,
            "ERROR: smoke: smoke_category_rules='workflow: rollback<fifty' (ini) has workflow: "
            "'rollback<fifty': 'fifty' is not a percent; write a number from 0 to 100, e.g. "
            "rollback<50",
            id="bad-number-ini",
        ),
        pytest.param(
            ("--smoke-env", "staging"),
            "",
            "SMOKE_GATE_CATEGORY_RULES=workflow: rollback<=80, investigate<50\n",
            "ERROR: smoke: SMOKE_GATE_CATEGORY_RULES='workflow: rollback<=80, investigate<50' "
            "(profile .env.staging) has workflow: investigate<50 not above rollback<=80: no pass "
            "rate would give INVESTIGATE; set the investigate percent above the rollback one, "
            "e.g. workflow: rollback<50, investigate<=80",
            id="contradiction-profile",
        ),
        pytest.param(
            ("--smoke-category-rules", "workflow rollback<50"),
            "",
            None,
            "ERROR: smoke: --smoke-category-rules='workflow rollback<50' (command line) has "
            "'workflow rollback<50' without 'CATEGORY:'; write CATEGORY: LEVEL<PERCENT, "
            "LEVEL<=PERCENT, e.g. workflow: rollback<50, investigate<=80",
            id="bad-syntax-option",
        ),
    ],
)
def test_a_bad_rule_is_one_line_and_exit_4(
    pytester: pytest.Pytester,
    args: tuple[str, ...],
    ini: str,
    profile: str | None,
    expected: str,
) -> None:
    pytester.makeini(INI + ini)
    if profile is not None:
        pytester.makefile(".staging", **{".env": profile})
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_x(): pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # 4
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert [line for line in result.stderr.lines if line.strip()] == [expected]


def test_the_rules_reach_the_json_report_and_merge(
    pytester: pytest.Pytester, project: Callable[[int, int], None]
) -> None:
    project(10, 3)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--smoke-gate",
        "--smoke-category-rules",
        f"{MATRIX}; service: rollback<90",
        "--smoke-report-json",
        "gate.json",
    )
    assert result.ret == 10
    path = pytester.path / "gate.json"
    document = json.loads(path.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    assert document["policy"]["category_rules"] == {
        "workflow": [
            {"verdict": "ROLLBACK", "operator": "<", "percent": 50.0},
            {"verdict": "INVESTIGATE", "operator": "<=", "percent": 80.0},
        ],
        "service": [{"verdict": "ROLLBACK", "operator": "<", "percent": 90.0}],
    }
    assert document["reasons"] == ["workflow: 7 of 10 passed (70.0%) <= 80%: investigate"]

    # The merge re-decides from the report alone: the same rules, the same verdict.
    out, err = io.StringIO(), io.StringIO()
    status = merge.run([str(path)], stdout=out, stderr=err, environ={})
    assert (status, err.getvalue()) == (10, "")
    assert "workflow: 7 of 10 passed (70.0%) <= 80%: investigate" in out.getvalue()


def test_merge_refuses_shards_gated_with_different_rules(
    pytester: pytest.Pytester, project: Callable[[int, int], None]
) -> None:
    project(2, 0)
    shards = (("a", "test_workflow", MATRIX), ("b", "test_endpoint", "workflow: rollback<60"))
    paths = []
    for name, selected, rules in shards:
        pytester.runpytest(
            "-p", "no:cacheprovider", "-k", selected, "--smoke-category-rules", rules,
            "--smoke-report-json", f"{name}.json",
        )  # fmt: skip
        paths.append(str(pytester.path / f"{name}.json"))
    err = io.StringIO()
    assert merge.run(paths, stdout=io.StringIO(), stderr=err, environ={}) == 4
    assert "were gated with different policies (category_rules" in err.getvalue()


def test_a_report_without_rules_still_merges(
    pytester: pytest.Pytester, project: Callable[[int, int], None]
) -> None:
    # Reports written before category rules existed have no policy.category_rules: none.
    project(10, 4)
    pytester.runpytest("-p", "no:cacheprovider", "--smoke-report-json", "old.json")
    path = pytester.path / "old.json"
    document = json.loads(path.read_text())
    del document["policy"]["category_rules"]
    path.write_text(json.dumps(document))
    out = io.StringIO()
    assert merge.run([str(path)], stdout=out, stderr=io.StringIO(), environ={}) == 0
    assert "smoke gate: MONITOR" in out.getvalue()


def test_a_report_with_a_contradicting_rule_is_refused_by_merge(
    pytester: pytest.Pytester, project: Callable[[int, int], None]
) -> None:
    project(2, 0)
    pytester.runpytest("-p", "no:cacheprovider", "--smoke-report-json", "edited.json")
    path = pytester.path / "edited.json"
    document = json.loads(path.read_text())
    document["policy"]["category_rules"] = {
        "workflow": [
            {"verdict": "ROLLBACK", "operator": "<=", "percent": 80},
            {"verdict": "INVESTIGATE", "operator": "<", "percent": 50},
        ]
    }
    path.write_text(json.dumps(document))
    err = io.StringIO()
    assert merge.run([str(path)], stdout=io.StringIO(), stderr=err, environ={}) == 4
    assert err.getvalue() == (
        f"smoke-gate merge: {path}: not a valid smoke gate report: policy: category_rules has "
        "workflow: investigate<50 not above rollback<=80: no pass rate would give INVESTIGATE; "
        "set the investigate percent above the rollback one, e.g. workflow: rollback<50, "
        "investigate<=80\n"
    )

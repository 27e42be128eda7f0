"""Merging shard reports: the same decision as one run of the union, and clear input errors."""

from __future__ import annotations

import io
import json
import random
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from pytest_smoke import merge as merging
from pytest_smoke.gate import NotApplicable, Outcome, Policy, RunSummary, TestResult, decide
from pytest_smoke.latency import percentile, request_summary
from pytest_smoke.merge import (
    MergeError,
    load_shard,
    merge,
    merge_requests,
    merged_document,
    schema_problem,
    verdict_block,
    worst_pytest_status,
)
from pytest_smoke.reports.json_report import SCHEMA_FILE, report_document

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
REDIS_DOWN = "redis unreachable at 127.0.0.1:1: connection refused"
DB = frozenset({"database"})
REDIS = frozenset({"redis"})
SERVICE = frozenset({"service"})


def document(
    results: Sequence[TestResult] = (),
    *,
    policy: Policy | None = None,
    collection_errors: int = 0,
    worker_crashes: Sequence[str] = (),
    interrupted: str | None = None,
    pytest_exit_status: int = 0,
    profile: str | None = None,
    started_at: str = "2024-05-01T10:00:00+00:00",
    finished_at: str = "2024-05-01T10:01:00+00:00",
    duration: float = 60.0,
    ungated: int = 0,
    requests: Mapping[str, Any] | None = None,
    not_applicable: Sequence[NotApplicable] = (),
    left_behind: Sequence[str] = (),
) -> dict[str, Any]:
    """A shard report exactly as a run writes it."""
    policy = policy or Policy()
    run = RunSummary(
        results=tuple(results),
        collection_errors=collection_errors,
        worker_crashes=tuple(worker_crashes),
        interrupted=interrupted,
        not_applicable=tuple(not_applicable),
        left_behind=tuple(left_behind),
    )
    return report_document(
        decide(run, policy),
        run,
        policy,
        gate_enabled=False,
        pytest_exit_status=pytest_exit_status,
        profile=profile,
        started_at=started_at,
        finished_at=finished_at,
        duration_seconds=duration,
        ungated=ungated,
        tool_version="0.1.0",
        requests=requests,
    )


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Write a shard (a document, or raw text) as ``name`` in the working directory."""
    monkeypatch.chdir(tmp_path)

    def make(name: str, content: Mapping[str, Any] | str) -> str:
        text = content if isinstance(content, str) else json.dumps(content)
        (tmp_path / name).write_text(text)
        return name

    return make


def t(name: str, outcome: Outcome = P, **kwargs: Any) -> TestResult:
    return TestResult(f"test_{name}.py::test_{name}", outcome, **kwargs)


def split_cases() -> Iterator[Any]:
    passing = [t(f"ok{i}") for i in range(8)]
    yield pytest.param(passing, 4, id="all-pass")
    yield pytest.param([*passing, t("api", F, categories=SERVICE)], 8, id="monitor")
    yield pytest.param(
        [t("health", F, critical=True, categories=SERVICE), *passing], 1, id="critical-rollback"
    )
    # Each shard alone stays under 20% (one cause group); the union has every redis test down.
    redis = [t(f"bus{i}", E, categories=REDIS, cause=REDIS_DOWN) for i in range(2)]
    yield pytest.param([redis[0], *passing[:4], redis[1], *passing[4:]], 5, id="category-down")
    # 1 of 4 in one shard is 25%, 0 of 4 in the other: the union's 1 of 8 is 12.5%, MONITOR.
    yield pytest.param([t("a", F), *passing[:3], *passing[4:]], 4, id="rate-only-local")
    # 2 of 8 in one shard (25% skipped), 3 of 4 in the other: the union's 5 of 12 is under 50%.
    skipped = [t(f"skip{i}", S) for i in range(5)]
    yield pytest.param([*skipped[:2], *passing[:6], *skipped[2:], passing[6]], 8, id="skips")
    yield pytest.param([t("flaky", reruns=1), *passing], 1, id="flaky")
    yield pytest.param([t("db", F, categories=DB), *passing], 3, id="database")
    cause_split = [t("c1", F, cause=REDIS_DOWN), *passing[:3], t("c2", F, cause=REDIS_DOWN)]
    yield pytest.param(cause_split + passing[3:], 2, id="cause-across-shards")
    yield pytest.param([], 0, id="nothing-ran")


@pytest.mark.parametrize(("results", "cut"), list(split_cases()))
def test_two_shards_decide_as_their_union(write: Any, results: list[TestResult], cut: int) -> None:
    first = write("a.json", document(results[:cut]))
    second = write("b.json", document(results[cut:]))
    merged = merge([load_shard(first), load_shard(second)])
    union = decide(RunSummary(results=tuple(results)))
    assert decide(merged.run, merged.policy) == union


def test_three_shards_and_a_policy_carried_through(write: Any) -> None:
    policy = Policy(max_failure_percent=10, rollback_categories=frozenset({"redis"}))
    results = [t("bus", F, categories=REDIS), *[t(f"ok{i}") for i in range(14)]]
    names = [write(f"{i}.json", document(results[i::3], policy=policy)) for i in range(3)]
    merged = merge([load_shard(name) for name in names])
    assert merged.policy == policy
    ordered = results[0::3] + results[1::3] + results[2::3]  # shards in order, each in its own
    assert decide(merged.run, merged.policy) == decide(RunSummary(tuple(ordered)), policy)
    assert decide(merged.run, merged.policy).reasons == (
        "redis test failed: test_bus.py::test_bus",
    )


def test_run_level_facts_are_combined(write: Any) -> None:
    first = write(
        "a.json",
        document(
            [t("a")],
            collection_errors=1,
            worker_crashes=["gw0: node down"],
            pytest_exit_status=1,
            started_at="2024-05-01T10:00:05+00:00",
            finished_at="2024-05-01T10:02:00+00:00",
            duration=115.0,
            ungated=2,
        ),
    )
    second = write(
        "b.json",
        document(
            [t("b")],
            collection_errors=2,
            interrupted="pytest stopped early",
            pytest_exit_status=2,
            # The same instant zone-wise earlier: 09:59:59 UTC.
            started_at="2024-05-01T11:59:59+02:00",
            finished_at="2024-05-01T10:01:30+00:00",
            duration=91.5,
            ungated=1,
        ),
    )
    merged = merge([load_shard(first), load_shard(second)])
    assert merged.run.collection_errors == 3
    assert merged.run.worker_crashes == ("a.json: gw0: node down",)
    assert merged.run.interrupted == "b.json: pytest stopped early"
    assert merged.pytest_exit_status == 2
    assert merged.started_at == "2024-05-01T11:59:59+02:00"
    assert merged.finished_at == "2024-05-01T10:02:00+00:00"
    assert merged.duration_seconds == pytest.approx(206.5)  # the sum, not the span
    assert merged.ungated == 3
    assert merged.shards == ("a.json", "b.json")
    decision = decide(merged.run, merged.policy)
    assert decision.reasons == (
        "3 collection errors: some smoke tests could not even be loaded",
        "xdist worker crashed: a.json: gw0: node down",
        "the run was cut short: b.json: pytest stopped early",
    )


@pytest.mark.parametrize(
    ("statuses", "worst"),
    [
        ([0, 0], 0),
        ([0, 1], 1),
        ([1, 2], 2),
        ([2, 4], 4),
        ([4, 3, 1], 3),
        ([5, 0], 0),  # one run of the whole suite would have collected the other shard's tests
        ([5, 1], 1),
        ([5, 5], 5),
        ([1, 99], 99),  # a plugin's own status is worse than failed tests
        ([99, 2], 2),
    ],
)
def test_worst_pytest_status(statuses: list[int], worst: int) -> None:
    assert worst_pytest_status(statuses) == worst


def rows(seconds: Sequence[float], *, retried: int = 0, unanswered: int = 0) -> list[Any]:
    return [
        ("GET", f"/r{i}", None if i < unanswered else 200, value, 2 if i < retried else 1)
        for i, value in enumerate(seconds)
    ]


def test_requests_merge_exactly_what_can_be() -> None:
    first = request_summary(rows([0.1, 0.2, 0.3], retried=1))
    second = request_summary(rows([0.05, 0.9], unanswered=1))
    merged = merge_requests([first, None, second])
    assert merged is not None
    assert first is not None
    assert second is not None
    assert merged["count"] == 5
    assert merged["retried"] == 1
    assert merged["unanswered"] == 1
    assert merged["max_seconds"] == 0.9
    assert merged["slowest"] == second["slowest"]
    for key in ("p50_seconds", "p95_seconds", "p99_seconds"):
        assert merged[key] == max(first[key], second[key])
    assert merged["percentiles_exact"] is False
    assert merge_requests([None, None]) is None
    only = merge_requests([None, first])
    assert only == {**first, "percentiles_exact": True}


def test_merged_percentiles_bound_holds_as_documented() -> None:
    # "at most (100 - p)% of all requests, plus fewer than one per shard, were slower"
    generator = random.Random(6)
    for _ in range(300):
        shards = [
            [generator.expovariate(5) for _ in range(generator.randint(1, 40))]
            for _ in range(generator.randint(2, 5))
        ]
        merged = merge_requests([request_summary(rows(shard)) for shard in shards])
        assert merged is not None
        every = [value for shard in shards for value in shard]
        for q in (50, 95, 99):
            estimate = merged[f"p{q}_seconds"]
            slower = sum(1 for value in every if value > estimate + 1e-6)
            assert slower < len(every) * (100 - q) / 100 + len(shards)
            assert estimate <= merged["max_seconds"]
            assert estimate >= min(percentile(shard, q) or 0 for shard in shards)


# -- shards that do not belong together --


def test_the_same_test_in_two_shards_is_an_error(write: Any) -> None:
    first = write("a.json", document([t("x"), t("y")]))
    second = write("b.json", document([t("y")]))
    with pytest.raises(MergeError) as caught:
        merge([load_shard(first), load_shard(second)])
    assert str(caught.value) == (
        "test_y.py::test_y is in both a.json and b.json: the shards overlap; "
        "give each shard its own part of the suite"
    )


def test_the_same_test_twice_in_one_shard_is_an_error(write: Any) -> None:
    name = write("a.json", document([t("x"), t("x")]))
    with pytest.raises(MergeError, match=r"^test_x.py::test_x is twice in a.json: the shards"):
        merge([load_shard(name)])


def test_the_same_file_twice_is_an_error(write: Any) -> None:
    name = write("a.json", document([]))
    with pytest.raises(MergeError) as caught:
        merge([load_shard(name), load_shard(f"./{name}")])
    assert str(caught.value) == "./a.json: given twice (as a.json too); give each shard once"


def test_different_policies_are_an_error(write: Any) -> None:
    first = write("a.json", document([t("x")]))
    second = write("b.json", document([t("y")], policy=Policy(max_failure_percent=30)))
    with pytest.raises(MergeError) as caught:
        merge([load_shard(first), load_shard(second)])
    assert str(caught.value) == (
        "a.json and b.json were gated with different policies (max_failure_percent 20 and 30); "
        "run every shard with the same smoke gate settings"
    )


def test_policy_comparison_ignores_the_order_of_categories(write: Any) -> None:
    policy = Policy(rollback_categories=frozenset({"database", "redis"}))
    first = document([t("x")], policy=policy)
    second = document([t("y")], policy=policy)
    second["policy"]["rollback_categories"].reverse()
    merged = merge([load_shard(write("a.json", first)), load_shard(write("b.json", second))])
    assert merged.policy == policy


def test_different_profiles_are_an_error(write: Any) -> None:
    first = write("a.json", document([t("x")], profile="staging"))
    second = write("b.json", document([t("y")], profile="production"))
    with pytest.raises(MergeError) as caught:
        merge([load_shard(first), load_shard(second)])
    assert str(caught.value) == (
        'a.json and b.json ran against different profiles ("staging" and "production"); '
        "merge the shards of one environment"
    )


def test_no_shards_is_an_error() -> None:
    with pytest.raises(MergeError, match=r"^no shard reports given$"):
        merge([])


# -- bad shard files --


def valid() -> dict[str, Any]:
    return document([t("a"), t("b", F, categories=REDIS, cause=REDIS_DOWN)])


def changed(path: str, value: Any) -> dict[str, Any]:
    """The valid document with the value at ``path`` (keys and indexes, dotted) replaced."""
    data = valid()
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target: Any = data
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()

INVALID = [
    pytest.param(
        changed("tests.1.outcome", "broken"),
        "tests[1].outcome: 'broken' is not one of",
        id="outcome",
    ),
    pytest.param(
        changed("tests.0.reruns", -1),
        "tests[0].reruns: -1 is less than the minimum of 0",
        id="negative",
    ),
    pytest.param(
        changed("tests.0.critical", 1),
        "tests[0].critical: 1 is not of type 'boolean'",
        id="not-boolean",
    ),
    pytest.param(
        changed("collection_errors", True),
        "collection_errors: True is not of type 'integer'",
        id="bool-as-int",
    ),
    pytest.param(
        changed("tests", _DELETE), "the report: 'tests' is a required property", id="no-tests"
    ),
    pytest.param(
        changed("tests.0.nodeid", _DELETE),
        "tests[0]: 'nodeid' is a required property",
        id="no-nodeid",
    ),
    pytest.param(
        changed("policy.max_failure_percent", 120),
        "policy.max_failure_percent: 120 is greater than the maximum of 100",
        id="over-100",
    ),
    pytest.param(changed("reasons", []), "reasons: [] should be non-empty", id="no-reasons"),
    pytest.param(
        changed("tool.name", "other"),
        "tool.name: 'pytest-smoke-gate' was expected",
        id="tool",
    ),
    pytest.param(
        changed("categories.redis.failed", "1"),
        "categories.redis.failed: '1' is not of type 'integer'",
        id="counts-ref",
    ),
    pytest.param(
        changed("interrupted", 3),
        "interrupted: 3 is not of type 'string', 'null'",
        id="nullable",
    ),
]


@pytest.mark.parametrize(("data", "problem"), INVALID)
def test_a_shard_breaking_the_schema_is_named_in_one_line(
    write: Any, data: dict[str, Any], problem: str
) -> None:
    name = write("shard.json", data)
    with pytest.raises(MergeError) as caught:
        load_shard(name)
    assert str(caught.value).startswith(f"shard.json: not a valid smoke gate report: {problem}")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


BAD_FILES = [
    pytest.param(
        "{",
        "shard.json: not JSON (Expecting property name enclosed in double quotes "
        "at line 1 column 2)",
        id="truncated",
    ),
    pytest.param("", "shard.json: not JSON (the file is empty)", id="empty"),
    pytest.param('{"a": NaN}', "shard.json: not JSON (NaN is not a JSON number)", id="nan"),
    pytest.param(
        '{"a": 1e999}', "shard.json: not JSON (the number 1e999 is out of range)", id="infinite"
    ),
    pytest.param(
        "[1, 2]",
        "shard.json: not a smoke gate report (the JSON is a list, not an object)",
        id="list",
    ),
    pytest.param(
        '{"verdict": "PROCEED"}',
        "shard.json: not a smoke gate report (no "
        "schema_version; write one with pytest --smoke-report-json)",
        id="no-version",
    ),
    pytest.param(
        '{"schema_version": 2}',
        "shard.json: schema_version 2 is not supported "
        "(this pytest-smoke-gate 0.1.0 reads version 1)",
        id="version-2",
    ),
    pytest.param(
        '{"schema_version": true}',
        "shard.json: schema_version true is not supported "
        "(this pytest-smoke-gate 0.1.0 reads version 1)",
        id="version-true",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_a_shard_that_is_not_a_report_is_named_in_one_line(
    write: Any, text: str, message: str
) -> None:
    name = write("shard.json", text)
    with pytest.raises(MergeError) as caught:
        load_shard(name)
    assert str(caught.value) == message


def test_a_missing_shard(write: Any) -> None:
    with pytest.raises(MergeError) as caught:
        load_shard("reports/shard-2.json")
    assert str(caught.value) == "reports/shard-2.json: no such file"


def test_a_directory_for_a_shard(write: Any, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    with pytest.raises(MergeError) as caught:
        load_shard("reports")
    assert str(caught.value) == "reports: is a directory, not a report file"


def test_not_utf8(write: Any, tmp_path: Path) -> None:
    (tmp_path / "shard.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(MergeError) as caught:
        load_shard("shard.json")
    assert str(caught.value) == "shard.json: not JSON (not UTF-8 text)"


def test_a_bad_timestamp(write: Any) -> None:
    name = write("shard.json", changed("started_at", "2024-05-01 10:00"))
    with pytest.raises(MergeError) as caught:
        load_shard(name)
    assert str(caught.value) == (
        "shard.json: not a valid smoke gate report: started_at must be a date-time with a UTC "
        'offset (RFC 3339), not "2024-05-01 10:00"'
    )


def test_an_unknown_rollback_category(write: Any) -> None:
    name = write("shard.json", changed("policy.rollback_categories", ["nosuch"]))
    with pytest.raises(MergeError) as caught:
        load_shard(name)
    assert str(caught.value).startswith(
        "shard.json: not a valid smoke gate report: policy: rollback_categories: unknown "
        "category nosuch; choose from database, "
    )


def test_valid_reports_pass_the_schema() -> None:
    samples = [
        valid(),
        document(),
        document(
            [t("x", S), t("y", reruns=2)],
            requests=request_summary(rows([0.1, 0.4])),
            interrupted="interrupted",
            profile="staging",
        ),
    ]
    for sample in samples:
        assert schema_problem(sample, SCHEMA) is None


# -- the merged report and the command --


def test_merged_document_follows_the_schema(write: Any) -> None:
    first = write("a.json", document([t("a")], requests=request_summary(rows([0.2]))))
    second = write("b.json", document([t("b", F)], requests=request_summary(rows([0.1, 0.5]))))
    merged = merge([load_shard(first), load_shard(second)])
    decision = decide(merged.run, merged.policy)
    data = merged_document(merged, decision)
    jsonschema.validate(data, SCHEMA)
    assert data["gate_enabled"] is True
    assert data["verdict"] == "ROLLBACK"  # 1 of 2 failed: 50% > 20%
    assert data["merged_from"] == ["a.json", "b.json"]
    assert data["requests"]["count"] == 3
    assert data["requests"]["percentiles_exact"] is False
    assert [test["nodeid"] for test in data["tests"]] == ["test_a.py::test_a", "test_b.py::test_b"]


def test_verdict_block_is_the_runs_block(write: Any) -> None:
    first = write("a.json", document([t("a"), t("b", F)]))
    second = write("b.json", document([t(f"c{i}") for i in range(8)]))
    merged = merge([load_shard(first), load_shard(second)])
    lines = verdict_block(merged, decide(merged.run, merged.policy), output="merged.json")
    assert lines == [
        "=" * 29 + " smoke gate: MONITOR " + "=" * 30,
        "other        9 passed   1 failed",
        "total        9 passed   1 failed",
        "reasons: 1 non-critical smoke test failed (failure rate 10.0%, threshold 20%)",
        "exit status: 0",
        "reports: merged.json",
        "shards:  2 merged: a.json, b.json",
    ]
    assert len(lines[0]) == 80


def cli(
    files: Sequence[str], environ: Mapping[str, str] | None = None, **options: Any
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = merging.run(files, environ=environ or {}, stdout=out, stderr=err, **options)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("results", "status", "verdict"),
    [
        ([t("a")], 0, "PROCEED"),
        ([t("a"), *[t(f"b{i}") for i in range(9)], t("c", F)], 0, "MONITOR"),
        ([t("a", S)], 10, "INVESTIGATE"),
        ([t("a", F, critical=True)], 11, "ROLLBACK"),
    ],
)
def test_the_command_exits_with_the_gates_status(
    write: Any, tmp_path: Path, results: list[TestResult], status: int, verdict: str
) -> None:
    name = write("a.json", document(results))
    code, out, err = cli([name], output="out/merged.json")
    assert (code, err) == (status, "")
    assert f"smoke gate: {verdict}" in out.splitlines()[0]
    written = json.loads((tmp_path / "out" / "merged.json").read_text())
    jsonschema.validate(written, SCHEMA)
    assert (written["verdict"], written["exit_code"]) == (verdict, status)


def test_a_shard_whose_pytest_broke_never_proceeds(write: Any) -> None:
    name = write("a.json", document([t("a")], pytest_exit_status=3))
    code, out, _ = cli([name])
    assert code == 3  # as a run: the gate never turns an internal error into 0
    assert "smoke gate: PROCEED" in out


def test_bad_input_is_one_line_and_no_verdict(write: Any) -> None:
    good = write("a.json", document([t("a")]))
    bad = write("b.json", '{"schema_version": 1')
    code, out, err = cli([good, bad, "missing.json"], output="merged.json")
    assert code == 4
    assert out == ""
    assert err == (
        "smoke-gate merge: b.json: not JSON (Expecting ',' delimiter at line 1 column 21)\n"
    )


def test_bad_input_writes_no_report(write: Any, tmp_path: Path) -> None:
    code, _, _ = cli([write("a.json", document([t("a")])), "missing.json"], output="merged.json")
    assert code == 4
    assert not (tmp_path / "merged.json").exists()


def test_an_unwritable_output_is_an_input_error(write: Any, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    code, out, err = cli([write("a.json", document([t("a")]))], output="taken/merged.json")
    assert (code, out) == (4, "")
    assert err.startswith("smoke-gate merge: taken/merged.json: cannot write the merged report")
    assert err.count("\n") == 1


def test_an_unexpected_failure_fails_closed(write: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(merging, "decide", broken)
    code, out, err = cli([write("a.json", document([t("a")]))])
    assert (code, out) == (3, "")
    assert err == (
        "smoke-gate merge: internal error: RuntimeError: boom; failing closed (exit status 3)\n"
    )


_NOT_SET = "smoke-gate merge: GITHUB_STEP_SUMMARY is not set: no step summary written\n"


@pytest.mark.parametrize(
    ("option", "with_variable", "expected"),
    [
        pytest.param(None, True, (True, ""), id="auto-on-github"),
        pytest.param(True, True, (True, ""), id="asked-on-github"),
        pytest.param(False, True, (False, ""), id="refused-on-github"),
        pytest.param(None, False, (False, ""), id="auto-elsewhere"),
        pytest.param(True, False, (False, _NOT_SET), id="asked-elsewhere"),
    ],
)
def test_github_step_summary(
    write: Any,
    tmp_path: Path,
    option: bool | None,
    with_variable: bool,
    expected: tuple[bool, str],
) -> None:
    appended, err = expected
    summary = tmp_path / "summary.md"
    summary.write_text("## Deploy\n")
    environ = {"GITHUB_STEP_SUMMARY": str(summary)} if with_variable else {}
    first = write("a.json", document([t("a", F, critical=True)]))
    second = write("b.json", document([t("b")]))
    assert cli([first, second], environ, github_step_summary=option)[::2] == (11, err)
    text = summary.read_text()
    assert text.startswith("## Deploy\n")  # other steps' text is kept
    assert ("## :rotating_light: Smoke gate: ROLLBACK" in text) is appended
    assert ("Merged from 2 shard reports." in text) is appended


def test_warnings_carried_by_shards_count_as_in_a_run(write: Any) -> None:
    # Checks that passed with a warning (smoke_warning): a MONITOR reason, as in one run.
    first = document([t("a")])
    first["warnings"] = ["test_a.py::test_a: CPU 95% > 80% threshold"]
    second = document([t("b")])
    merged = merge([load_shard(write("a.json", first)), load_shard(write("b.json", second))])
    decision = decide(merged.run, merged.policy)
    assert decision.reasons == ("warning: test_a.py::test_a: CPU 95% > 80% threshold",)
    assert merged_document(merged, decision)["warnings"] == first["warnings"]
    broken = write("c.json", {**second, "warnings": "CPU high"})
    with pytest.raises(MergeError) as caught:
        load_shard(broken)
    assert str(caught.value) == (
        "c.json: not a valid smoke gate report: warnings: 'CPU high' is not of type 'array'"
    )


def test_estimated_percentiles_are_marked_in_the_block(write: Any) -> None:
    first = write("a.json", document([t("a")], requests=request_summary(rows([0.2]))))
    second = write("b.json", document([t("b")], requests=request_summary(rows([0.1, 0.5]))))
    merged = merge([load_shard(first), load_shard(second)])
    lines = verdict_block(merged, decide(merged.run, merged.policy))
    assert (
        "requests: 3, p50 300 ms, p95 480 ms, p99 496 ms, max 500 ms (GET /r1), 0 retried "
        "(percentiles: the largest shard's)"
    ) in lines


REDIS_UNSET = "redis (SMOKE_TEST_REDIS_URL)"
READ_ONLY = "read-only profile"


def test_not_applicable_and_left_behind_are_unioned(write: Any) -> None:
    # A -k split: each shard lists what it deselected; a -n run inside a shard lists each once.
    first = write(
        "a.json",
        document(
            [t("a")],
            not_applicable=[
                NotApplicable(READ_ONLY, ("test_w.py::test_w1",)),
                NotApplicable(REDIS_UNSET, ("test_bus.py::test_a", "test_bus.py::test_b")),
            ],
            left_behind=["https://h/api/items/1 (DELETE -> 500)"],
        ),
    )
    second = write(
        "b.json",
        document(
            [t("b")],
            not_applicable=[
                NotApplicable(REDIS_UNSET, ("test_bus.py::test_b", "test_bus.py::test_c")),
                NotApplicable("checks file crud", ("test_crud.py::test_update",)),
            ],
            left_behind=[
                "https://h/api/items/2 (DELETE -> timeout)",
                "https://h/api/items/1 (DELETE -> 500)",
            ],
        ),
    )
    merged = merge([load_shard(first), load_shard(second)])
    assert merged.run.not_applicable == (
        NotApplicable(
            REDIS_UNSET, ("test_bus.py::test_a", "test_bus.py::test_b", "test_bus.py::test_c")
        ),
        NotApplicable("checks file crud", ("test_crud.py::test_update",)),
        NotApplicable(READ_ONLY, ("test_w.py::test_w1",)),
    )
    assert merged.run.left_behind == (
        "https://h/api/items/1 (DELETE -> 500)",
        "https://h/api/items/2 (DELETE -> timeout)",
    )
    decision = decide(merged.run, merged.policy)
    assert decision.verdict == "PROCEED"  # listed, never counted
    out = merged_document(merged, decision)
    jsonschema.validate(out, SCHEMA)
    assert out["not_applicable"][0] == {
        "reason": REDIS_UNSET,
        "tests": ["test_bus.py::test_a", "test_bus.py::test_b", "test_bus.py::test_c"],
    }
    assert out["left_behind"] == list(merged.run.left_behind)
    block = verdict_block(merged, decision)
    assert "left behind: https://h/api/items/2 (DELETE -> timeout)" in block
    assert "not configured: redis (SMOKE_TEST_REDIS_URL), checks file crud: 4 checks" in block
    assert "not run: read-only profile: 1 check that writes" in block


def test_reports_without_not_applicable_or_left_behind_still_merge(write: Any) -> None:
    old = document([t("a")])
    del old["not_applicable"], old["left_behind"]
    merged = merge(
        [load_shard(write("old.json", old)), load_shard(write("new.json", document([t("b")])))]
    )
    assert (merged.run.not_applicable, merged.run.left_behind) == ((), ())

"""One verdict from the JSON reports of a split run: ``smoke-gate merge``.

A CI matrix runs the suite in shards, each writing ``--smoke-report-json``; the verdict must be
the one the whole suite would get. This module reads the shard reports, checks them, rebuilds one
:class:`~pytest_smoke.gate.RunSummary` and asks :func:`~pytest_smoke.gate.decide`, so the rules
are the gate's own. It prints the run's verdict block, writes a merged report in the same schema
and returns the gate's exit status.

Plain functions, no pytest (a merge job installs the package, not a test run): :func:`load_shard`
-> :func:`merge` -> ``decide`` -> :func:`merged_document` / :func:`verdict_block`, and
:func:`run` for the command line. Anything wrong with the input is a :class:`MergeError`: one
line naming the file and the problem, exit status 4, never a verdict.

How the shards combine:

- tests: the shards' tests, shards in the order given, each in its own order. Two shards with the
  same test id overlapped, and one file given twice would count twice: both are errors. The
  verdict does not depend on the order; the order of test ids in reasons and causes does.
- ``policy`` and ``profile``: must be the same in every shard (the gate decides with one policy,
  for one environment), else an error.
- ``warnings`` (checks that passed with one, each naming its test): every shard's, in order.
- ``not_applicable``: the union by reason, each test once; ``left_behind``: every shard's
  entries, each once (both absent in older reports: none).
- ``collection_errors`` and ``ungated``: summed. A file that fails to collect in several shards
  (a ``-k`` split collects every file) counts once per shard.
- ``worker_crashes``: every shard's, each prefixed with its file; ``interrupted``: every
  interrupted shard's reason, prefixed the same way, joined with ``"; "``.
- ``pytest_exit_status``: the worst of the shards' (see :func:`worst_pytest_status`).
- ``started_at``: the earliest; ``finished_at``: the latest; ``duration_seconds``: the *sum* of
  the shards' durations, the time spent running tests. The shards ran on different machines,
  whose clocks and queues differ, so the span from ``started_at`` to ``finished_at`` is the
  pipeline's wall time, not the tests'; it stays readable from those two fields.
- ``requests``: see :func:`merge_requests`.
- ``load``: the load burst of the one shard that ran it (its test id is in one shard only).

The exit status is the gate's (0 PROCEED and MONITOR, 10 INVESTIGATE, 11 ROLLBACK), except that a
shard whose pytest itself failed (status 3 or 4) is never turned into 0, as in a run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from pytest_smoke.gate import (
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
    gate_exit_status,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from pytest_smoke.gate import Decision

#: Exit status for bad input (pytest's USAGE_ERROR): never a verdict's status. (Bad usage of
#: the command line is :mod:`pytest_smoke.cli`'s: 2.)
EXIT_INPUT_ERROR: Final = 4
#: Exit status when the merge itself fails (pytest's INTERNAL_ERROR): fail closed, never 0.
EXIT_INTERNAL_ERROR: Final = 3

_PROG: Final = "smoke-gate merge"

# pytest exit statuses from worst to best; see worst_pytest_status.
_INTERNAL_ERROR, _USAGE_ERROR, _INTERRUPTED, _TESTS_FAILED, _OK, _NO_TESTS = 3, 4, 2, 1, 0, 5
_SEVERITY: Final = {_INTERNAL_ERROR: 6, _USAGE_ERROR: 5, _INTERRUPTED: 4, _TESTS_FAILED: 2, _OK: 1}
_UNKNOWN_SEVERITY: Final = 3


class MergeError(Exception):
    """Input the merge cannot use; the message is one line naming the file and the problem."""


@dataclass(frozen=True)
class Shard:
    """One shard's report, checked, as the merge needs it."""

    path: str
    run: RunSummary
    policy: Policy
    policy_values: Mapping[str, Any]
    profile: str | None
    pytest_exit_status: int
    started_at: datetime
    started_text: str
    finished_at: datetime
    finished_text: str
    duration_seconds: float
    ungated: int
    requests: Mapping[str, Any] | None
    load: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class MergedRun:
    """The shards as one run: what the gate decides on and what the merged report says."""

    shards: tuple[str, ...]
    run: RunSummary
    policy: Policy
    profile: str | None
    pytest_exit_status: int
    started_at: str
    finished_at: str
    duration_seconds: float
    ungated: int
    requests: Mapping[str, Any] | None
    load: Mapping[str, Any] | None = None


# -- reading one shard --


def load_shard(path: str | os.PathLike[str]) -> Shard:
    """Read, check and convert one shard report; :class:`MergeError` says what is wrong."""
    name = os.fspath(path)
    document = _read_json(name)
    if not isinstance(document, dict):
        raise MergeError(
            f"{name}: not a smoke gate report (the JSON is {_kind(document)}, not an object)"
        )
    _check_version(name, document)
    problem = schema_problem(document, _schema())
    if problem is not None:
        raise MergeError(f"{name}: not a valid smoke gate report: {problem}")
    return _shard(name, document)


def _read_json(name: str) -> Any:
    try:
        raw = Path(name).read_bytes()
    except FileNotFoundError:
        raise MergeError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise MergeError(f"{name}: is a directory, not a report file") from None
    except OSError as error:
        raise MergeError(f"{name}: cannot read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MergeError(f"{name}: not JSON (not UTF-8 text)") from None
    if not text.strip():
        raise MergeError(f"{name}: not JSON (the file is empty)")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise MergeError(
            f"{name}: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except ValueError as error:
        raise MergeError(f"{name}: not JSON ({error})") from None
    except RecursionError:
        raise MergeError(f"{name}: not JSON (nested too deeply)") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is out of range")
    return value


def _check_version(name: str, document: Mapping[str, Any]) -> None:
    from pytest_smoke.reports.json_report import SCHEMA_VERSION

    if "schema_version" not in document:
        raise MergeError(
            f"{name}: not a smoke gate report (no schema_version; "
            "write one with pytest --smoke-report-json)"
        )
    version = document["schema_version"]
    if not _same(version, SCHEMA_VERSION):
        raise MergeError(
            f"{name}: schema_version {_shown(version)} is not supported "
            f"(this pytest-smoke-gate {_tool_version()} reads version {SCHEMA_VERSION})"
        )


def _shard(name: str, document: Mapping[str, Any]) -> Shard:
    tests = tuple(
        TestResult(
            nodeid=test["nodeid"],
            outcome=Outcome(test["outcome"]),
            categories=frozenset(test["categories"]),
            critical=test["critical"],
            cause=test["cause"],
            reruns=int(test["reruns"]),
            duration=float(test["duration_seconds"]),
        )
        for test in document["tests"]
    )
    values = document["policy"]
    rules = values.get("category_rules", {})  # absent in older reports: none
    try:
        category_rules = tuple(
            CategoryRule(
                category,
                tuple(
                    Threshold(Verdict(t["verdict"]), float(t["percent"]), t["operator"] == "<=")
                    for t in thresholds
                ),
            )
            for category, thresholds in rules.items()
        )
    except PolicyError as error:
        raise MergeError(
            f"{name}: not a valid smoke gate report: policy: category_rules {error}"
        ) from None
    try:
        policy = Policy(
            max_failure_percent=float(values["max_failure_percent"]),
            max_skip_percent=float(values["max_skip_percent"]),
            category_min_tests=int(values["category_min_tests"]),
            rollback_categories=frozenset(values["rollback_categories"]),
            category_rules=category_rules,
        )
    except PolicyError as error:
        raise MergeError(f"{name}: not a valid smoke gate report: policy: {error}") from None
    return Shard(
        path=name,
        run=RunSummary(
            results=tests,
            collection_errors=int(document["collection_errors"]),
            worker_crashes=tuple(document["worker_crashes"]),
            interrupted=document["interrupted"],
            warnings=tuple(document.get("warnings", ())),  # absent in older reports
            not_applicable=tuple(
                NotApplicable(group["reason"], tuple(group["tests"]))
                for group in document.get("not_applicable", ())
            ),
            left_behind=tuple(document.get("left_behind", ())),
        ),
        policy=policy,
        policy_values={
            **values,
            "rollback_categories": sorted(set(values["rollback_categories"])),
            "category_rules": rules,
        },
        profile=document["profile"],
        pytest_exit_status=int(document["pytest_exit_status"]),
        started_at=_timestamp(name, "started_at", document["started_at"]),
        started_text=document["started_at"],
        finished_at=_timestamp(name, "finished_at", document["finished_at"]),
        finished_text=document["finished_at"],
        duration_seconds=float(document["duration_seconds"]),
        ungated=int(document["ungated"]),
        requests=document.get("requests"),
        load=document.get("load"),  # absent in older reports
    )


def _timestamp(name: str, key: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise MergeError(
            f"{name}: not a valid smoke gate report: {key} must be a date-time with a UTC "
            f"offset (RFC 3339), not {_shown(text)}"
        )
    return moment


# -- merging --


def merge(shards: Sequence[Shard]) -> MergedRun:
    """Combine checked shards into one run; :class:`MergeError` when they do not belong together."""
    if not shards:
        raise MergeError("no shard reports given")
    _check_distinct_files(shards)
    first = shards[0]
    for shard in shards[1:]:
        _check_same_policy(first, shard)
        if shard.profile != first.profile:
            raise MergeError(
                f"{first.path} and {shard.path} ran against different profiles "
                f"({_shown(first.profile)} and {_shown(shard.profile)}); "
                "merge the shards of one environment"
            )
    _check_no_overlap(shards)
    crashes = [f"{s.path}: {crash}" for s in shards for crash in s.run.worker_crashes]
    interrupted = [f"{s.path}: {s.run.interrupted}" for s in shards if s.run.interrupted]
    return MergedRun(
        shards=tuple(s.path for s in shards),
        run=RunSummary(
            results=tuple(r for s in shards for r in s.run.results),
            collection_errors=sum(s.run.collection_errors for s in shards),
            worker_crashes=tuple(crashes),
            interrupted="; ".join(interrupted) or None,
            warnings=tuple(w for s in shards for w in s.run.warnings),
            not_applicable=_merged_not_applicable(shards),
            left_behind=tuple(dict.fromkeys(entry for s in shards for entry in s.run.left_behind)),
        ),
        policy=first.policy,
        profile=first.profile,
        pytest_exit_status=worst_pytest_status(s.pytest_exit_status for s in shards),
        started_at=min(shards, key=lambda s: s.started_at).started_text,
        finished_at=max(shards, key=lambda s: s.finished_at).finished_text,
        duration_seconds=sum(s.duration_seconds for s in shards),
        ungated=sum(s.ungated for s in shards),
        requests=merge_requests([s.requests for s in shards]),
        # the burst is one test: it ran in one shard at most (two would overlap)
        load=next((s.load for s in shards if s.load), None),
    )


def _merged_not_applicable(shards: Sequence[Shard]) -> tuple[NotApplicable, ...]:
    from pytest_smoke.features import merge_groups

    groups = merge_groups(
        (group.reason, group.tests) for shard in shards for group in shard.run.not_applicable
    )
    return tuple(NotApplicable(reason, tuple(tests)) for reason, tests in groups)


def _check_distinct_files(shards: Sequence[Shard]) -> None:
    seen: dict[str, str] = {}
    for shard in shards:
        real = os.path.realpath(shard.path)
        if real in seen:
            raise MergeError(
                f"{shard.path}: given twice (as {seen[real]} too); give each shard once"
            )
        seen[real] = shard.path


def _check_same_policy(first: Shard, other: Shard) -> None:
    for key in sorted(set(first.policy_values) | set(other.policy_values)):
        mine, theirs = first.policy_values.get(key), other.policy_values.get(key)
        if mine != theirs:
            raise MergeError(
                f"{first.path} and {other.path} were gated with different policies "
                f"({key} {_shown(mine)} and {_shown(theirs)}); "
                "run every shard with the same smoke gate settings"
            )


def _check_no_overlap(shards: Sequence[Shard]) -> None:
    owner: dict[str, str] = {}
    for shard in shards:
        for result in shard.run.results:
            if result.nodeid in owner:
                where = (
                    f"twice in {shard.path}"
                    if owner[result.nodeid] == shard.path
                    else f"in both {owner[result.nodeid]} and {shard.path}"
                )
                raise MergeError(
                    f"{result.nodeid} is {where}: the shards overlap; "
                    "give each shard its own part of the suite"
                )
            owner[result.nodeid] = shard.path


def worst_pytest_status(statuses: Iterable[int]) -> int:
    """The worst of the shards' pytest exit statuses, as one run would have had it.

    From worst: 3 internal error, 4 usage error, 2 interrupted, any other status, 1 tests
    failed, 0 all passed. 5 (no tests collected) only when every shard had 5: one run of the
    whole suite collects what any shard collected.
    """
    values = list(statuses)
    if not values:
        return _NO_TESTS
    if all(value == _NO_TESTS for value in values):
        return _NO_TESTS
    candidates = [value for value in values if value != _NO_TESTS]
    return max(candidates, key=lambda value: _SEVERITY.get(value, _UNKNOWN_SEVERITY))


def merge_requests(summaries: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """The shards' ``requests`` summaries as one; ``None`` when no shard made a request.

    ``count``, ``retried``, ``unanswered``, ``max_seconds`` and ``slowest`` are exact. The
    percentiles are not: exact ones need every request's time and a report carries only each
    shard's summary. Each of ``p50``/``p95``/``p99_seconds`` is the largest of the shards'
    values, a conservative estimate: at most (100 - p)% of all requests, plus fewer than one
    per shard, were slower than it, and it never exceeds ``max_seconds``. With one shard that
    made requests, the numbers are that shard's, exact. ``percentiles_exact`` (a key beside the
    schema's) says which.
    """
    present = [s for s in summaries if s]
    if not present:
        return None
    slowest = max(present, key=lambda s: float(s["slowest"]["seconds"]))
    merged: dict[str, Any] = {
        "count": sum(int(s["count"]) for s in present),
        **{
            key: max(float(s[key]) for s in present)
            for key in ("p50_seconds", "p95_seconds", "p99_seconds", "max_seconds")
        },
        "retried": sum(int(s["retried"]) for s in present),
        "unanswered": sum(int(s["unanswered"]) for s in present),
        "slowest": dict(slowest["slowest"]),
        "percentiles_exact": len(present) == 1 and present[0].get("percentiles_exact") is not False,
    }
    return merged


# -- telling --


def exit_status(merged: MergedRun, decision: Decision) -> int:
    """The gate's exit status, except that, as in a run, a shard whose pytest run went wrong
    (internal or usage error) never turns into 0."""
    return gate_exit_status(decision, merged.pytest_exit_status)


def merged_document(merged: MergedRun, decision: Decision) -> dict[str, Any]:
    """The merged report: the run's JSON document (schema version 1), gate on, plus
    ``merged_from``, the shard files (a key beside the schema's)."""
    from pytest_smoke.reports.json_report import report_document

    document = report_document(
        decision,
        merged.run,
        merged.policy,
        gate_enabled=True,
        pytest_exit_status=merged.pytest_exit_status,
        profile=merged.profile,
        started_at=merged.started_at,
        finished_at=merged.finished_at,
        duration_seconds=merged.duration_seconds,
        ungated=merged.ungated,
        tool_version=_tool_version(),
        requests=merged.requests,
        load=merged.load,
    )
    document["merged_from"] = list(merged.shards)
    return document


def verdict_block(
    merged: MergedRun, decision: Decision, *, output: str | None = None, width: int = 80
) -> list[str]:
    """The verdict block a run prints, title rule included, then the shards it came from."""
    from pytest_smoke.reports.terminal import verdict_lines, verdict_title

    lines = [
        _rule(verdict_title(decision, gate_enabled=True), width),
        *verdict_lines(
            decision,
            gate_enabled=True,
            report_paths=[output] if output else [],
            ungated=merged.ungated,
            requests=merged.requests,
            load=merged.load,
        ),
    ]
    if merged.requests and not merged.requests.get("percentiles_exact", True):
        lines = [
            f"{line} (percentiles: the largest shard's)" if line.startswith("requests: ") else line
            for line in lines
        ]
    lines.append(f"{'shards:':<9}{len(merged.shards)} merged: {', '.join(merged.shards)}")
    return lines


def _rule(title: str, width: int) -> str:
    # The shape of pytest's write_sep, so a merge looks like the end of a run.
    fill = max((width - len(title) - 2) // 2, 1)
    line = f"{'=' * fill} {title} {'=' * fill}"
    return line + "=" if len(line) < width else line


def step_summary(merged: MergedRun, decision: Decision) -> str:
    """The run's Markdown step summary, saying it was merged."""
    from pytest_smoke.reports.step_summary import step_summary_markdown

    markdown = step_summary_markdown(decision, gate_enabled=True)
    return f"{markdown}\nMerged from {len(merged.shards)} shard reports.\n"


def run(
    files: Sequence[str],
    *,
    output: str | None = None,
    github_step_summary: bool | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The ``merge`` command: load, merge, decide, write, print; returns the exit status.

    ``github_step_summary``: ``None`` appends the Markdown summary when ``GITHUB_STEP_SUMMARY``
    is set, as a run does; ``True`` asks for it (a note on stderr when the variable is unset);
    ``False`` never writes it. Bad input: one line on stderr, :data:`EXIT_INPUT_ERROR`. An
    unexpected failure: one line, :data:`EXIT_INTERNAL_ERROR` (fail closed).
    """
    environ = os.environ if environ is None else environ
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    try:
        merged = merge([load_shard(name) for name in files])
        decision = decide(merged.run, merged.policy)
        if output:
            _write(output, merged_document(merged, decision))
        summary_path = environ.get("GITHUB_STEP_SUMMARY")
        if github_step_summary is not False and summary_path:
            _append_summary(summary_path, step_summary(merged, decision), err)
        elif github_step_summary:
            print(f"{_PROG}: GITHUB_STEP_SUMMARY is not set: no step summary written", file=err)
    except MergeError as error:
        print(f"{_PROG}: {error}", file=err)
        return EXIT_INPUT_ERROR
    except Exception as error:  # fail closed: a merge that cannot decide never says 0
        print(
            f"{_PROG}: internal error: {type(error).__name__}: {error}; "
            f"failing closed (exit status {EXIT_INTERNAL_ERROR})",
            file=err,
        )
        return EXIT_INTERNAL_ERROR
    width = shutil.get_terminal_size().columns
    for line in verdict_block(merged, decision, output=output, width=width):
        print(line, file=out)
    return exit_status(merged, decision)


def _write(output: str, document: Mapping[str, Any]) -> None:
    from pytest_smoke.reports.json_report import write_json

    try:
        write_json(output, document)
    except OSError as error:
        raise MergeError(
            f"{output}: cannot write the merged report: {error.strerror or error}"
        ) from None


def _append_summary(path: str, markdown: str, err: TextIO) -> None:
    from pytest_smoke.reports.step_summary import append_step_summary

    try:
        append_step_summary(path, markdown)
    except OSError as error:  # the summary is a courtesy; the verdict and exit status stand
        print(f"{_PROG}: {path}: cannot append the step summary: {error.strerror}", file=err)


# -- the schema --


def schema_problem(document: Any, schema: Mapping[str, Any]) -> str | None:
    """The most relevant way ``document`` breaks ``schema``, located by its path; ``None`` if
    it follows it. Checked with jsonschema (draft 2020-12), imported only here."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(schema).iter_errors(document))
    if error is None:
        return None
    path = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    ).lstrip(".")
    return f"{path or 'the report'}: {error.message}"


_KINDS: Final = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _kind(value: Any) -> str:
    """What a JSON value is, in words ("a list", "null")."""
    return _KINDS.get(type(value), type(value).__name__)


def _same(value: Any, expected: Any) -> bool:
    """Equal and of the same JSON type (``true`` is not ``1`` here)."""
    return type(value) is type(expected) and bool(value == expected)


def _shown(value: Any) -> str:
    """A value as JSON, shortened for a one-line message."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 20.0 reads as 20
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema() -> Mapping[str, Any]:
    from pytest_smoke.reports.json_report import SCHEMA_FILE

    schema: Mapping[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def _tool_version() -> str:
    from pytest_smoke import __version__

    return __version__

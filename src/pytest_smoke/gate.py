"""The rollback gate: test results and a policy in, a decision out.

Pure logic: no I/O and no pytest. The rules, checked from the most severe down; the verdict is
the first level with a reason, and every reason at that level is reported:

ROLLBACK
    a ``critical`` test failed or errored; a test of a rollback category (``database`` by default)
    failed; every test of one dependency category failed; or the failure rate of the smoke tests
    that ran exceeds ``max_failure_percent``.
INVESTIGATE
    the run cannot be trusted: no smoke test ran, collection errors, more than
    ``max_skip_percent`` skipped, a test passed only on rerun, an xdist worker crashed, or the run
    was cut short.
MONITOR
    some non-critical tests failed, under the threshold, or a check passed with a warning.
PROCEED
    every smoke test passed.

Category rules (``Policy.category_rules``, none by default) add reasons on the pass rate of one
category's tests that ran (skipped tests count neither way): ``workflow: rollback<50,
investigate<=80`` is ROLLBACK under 50% passing, INVESTIGATE from 50% to 80%, MONITOR above 80%
and nothing when all passed. They add reasons to the rules above, never take any away.

Tests that do not apply to the deployment (not configured, or writes under a read-only profile)
were deselected before the run: they are listed, never counted, skipped or not. Resources a test
left behind are listed too; the teardown that failed to remove them already counts as an error.

Failures that share a root cause (a dependency that is down) are grouped: a group counts as one
test toward the failure rate, and the decision names the cause.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from pytest_smoke.markers import DEPENDENCY_MARKERS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class Verdict(enum.StrEnum):
    """What to do with the deployment, from best to worst."""

    PROCEED = "PROCEED"
    MONITOR = "MONITOR"
    INVESTIGATE = "INVESTIGATE"
    ROLLBACK = "ROLLBACK"

    @property
    def exit_code(self) -> int:
        """The process exit status for this verdict when the gate is on."""
        return EXIT_CODES[self]


#: Exit status per verdict. 1-5 are pytest's own; 10 and 11 are outside them on purpose, so a
#: pipeline can tell "the deployment is bad" from "pytest could not run".
EXIT_CODES: Final[Mapping[Verdict, int]] = {
    Verdict.PROCEED: 0,
    Verdict.MONITOR: 0,
    Verdict.INVESTIGATE: 10,
    Verdict.ROLLBACK: 11,
}


#: pytest's exit statuses that mean the run itself went wrong (internal error, usage error).
UNTRUSTED_PYTEST_STATUSES: Final = frozenset({3, 4})


def gate_exit_status(decision: Decision, pytest_status: int) -> int:
    """The process exit status with the gate on: the verdict's, except that a run that itself
    went wrong (pytest's 3 or 4) is never turned into 0."""
    if decision.exit_code == 0 and pytest_status in UNTRUSTED_PYTEST_STATUSES:
        return pytest_status
    return decision.exit_code


class Outcome(enum.StrEnum):
    """The final outcome of one test, all of its phases combined."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"


FAILING: Final = frozenset({Outcome.FAILED, Outcome.ERROR})


@dataclass(frozen=True)
class TestResult:
    """One gated test as the gate sees it."""

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str
    outcome: Outcome
    categories: frozenset[str] = frozenset()
    critical: bool = False
    cause: str | None = None
    reruns: int = 0
    duration: float = 0.0

    @property
    def failed(self) -> bool:
        return self.outcome in FAILING

    @property
    def ran(self) -> bool:
        return self.outcome is not Outcome.SKIPPED

    @property
    def flaky(self) -> bool:
        """Passed, but only after at least one rerun."""
        return self.reruns > 0 and not self.failed


@dataclass(frozen=True)
class NotApplicable:
    """Smoke tests deselected for one reason ("redis (SMOKE_TEST_REDIS_URL)")."""

    reason: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class RunSummary:
    """Everything the gate needs to know about one run."""

    results: tuple[TestResult, ...] = ()
    collection_errors: int = 0
    worker_crashes: tuple[str, ...] = ()
    interrupted: str | None = None
    #: Warnings checks recorded while passing (a metric near its limit): at least MONITOR.
    warnings: tuple[str, ...] = ()
    #: Smoke tests deselected as not applicable, by reason: listed, never counted.
    not_applicable: tuple[NotApplicable, ...] = ()
    #: What tests created and could not remove ("https://h/api/items/42 (DELETE -> 500)").
    left_behind: tuple[str, ...] = ()


class PolicyError(ValueError):
    """A policy value out of its range; the message names the setting and the valid range."""


#: The levels a category rule sets, most severe first. A category with a failure above every
#: threshold of its rule is MONITOR; one whose tests all passed adds nothing.
RULE_LEVELS: Final = (Verdict.ROLLBACK, Verdict.INVESTIGATE)


@dataclass(frozen=True)
class Threshold:
    """One level of a category rule: ``verdict`` when the category's pass rate is under
    ``percent`` (``inclusive``: at or under it). Written ``rollback<50`` or ``investigate<=80``."""

    verdict: Verdict
    percent: float
    inclusive: bool = False

    def problem(self) -> str | None:
        """What is wrong with this threshold, or ``None``; :class:`CategoryRule` raises it."""
        if self.verdict not in RULE_LEVELS:
            return (
                "a rule sets rollback or investigate (a failure above every threshold is MONITOR)"
            )
        if not 0 <= self.percent <= 100:  # also refuses NaN
            return "the percent must be between 0 and 100"
        if self.percent == 0 and not self.inclusive:
            return "it never applies (no pass rate is under 0%)"
        if self.percent == 100 and self.inclusive:
            return (
                f"it applies even when every test passed; {self.verdict.lower()}<100 applies on "
                "any failure"
            )
        return None

    @property
    def operator(self) -> str:
        return "<=" if self.inclusive else "<"

    @property
    def limit(self) -> Fraction:
        """The threshold as a share (0..1), exact."""
        return Fraction(str(self.percent)) / 100

    def applies(self, rate: Fraction) -> bool:
        """Whether a pass rate (a share, 0..1) is in this level's band or a worse one."""
        return rate <= self.limit if self.inclusive else rate < self.limit

    def __str__(self) -> str:
        return f"{self.verdict.lower()}{self.operator}{_number(self.percent)}"


@dataclass(frozen=True)
class CategoryRule:
    """Pass-rate thresholds for the tests of one category, most severe first:
    ``workflow: rollback<50, investigate<=80``."""

    category: str
    thresholds: tuple[Threshold, ...]

    def __post_init__(self) -> None:
        if self.category not in DEPENDENCY_MARKERS:
            raise PolicyError(
                f"names unknown category {self.category!r}; "
                f"choose from {', '.join(DEPENDENCY_MARKERS)}"
            )
        example = f"e.g. {self.category}: rollback<50, investigate<=80"
        if not self.thresholds:
            raise PolicyError(f"gives {self.category} no threshold; {example}")
        for threshold in self.thresholds:
            problem = threshold.problem()
            if problem:
                raise PolicyError(f"has {self.category}: {threshold}: {problem}")
        levels = [threshold.verdict for threshold in self.thresholds]
        for level in RULE_LEVELS:
            if levels.count(level) > 1:
                raise PolicyError(
                    f"gives {self.category} {level.lower()} twice; one threshold per level"
                )
        ordered = tuple(sorted(self.thresholds, key=lambda t: RULE_LEVELS.index(t.verdict)))
        object.__setattr__(self, "thresholds", ordered)
        # A less severe level must start above the more severe one, or its band is empty.
        for worse, milder in itertools.pairwise(ordered):
            if (milder.limit, milder.inclusive) <= (worse.limit, worse.inclusive):
                raise PolicyError(
                    f"has {self.category}: {milder} not above {worse}: no pass rate would give "
                    f"{milder.verdict}; set the {milder.verdict.lower()} percent above the "
                    f"{worse.verdict.lower()} one, {example}"
                )

    def __str__(self) -> str:
        return f"{self.category}: {', '.join(str(t) for t in self.thresholds)}"


@dataclass(frozen=True)
class Policy:
    """The numbers the gate decides with. Defaults follow the rollback criteria we grew from;
    ``category_rules`` (document 003's matrix, say) are none by default."""

    max_failure_percent: float = 20.0
    max_skip_percent: float = 50.0
    category_min_tests: int = 2
    rollback_categories: frozenset[str] = frozenset({"database"})
    category_rules: tuple[CategoryRule, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_failure_percent", "max_skip_percent"):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise PolicyError(f"{name} must be between 0 and 100, got {value!r}")
        if self.category_min_tests < 1:
            raise PolicyError(
                f"category_min_tests must be 1 or more, got {self.category_min_tests!r}"
            )
        unknown = sorted(set(self.rollback_categories) - set(DEPENDENCY_MARKERS))
        if unknown:
            raise PolicyError(
                f"rollback_categories: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(unknown)}; choose from {', '.join(DEPENDENCY_MARKERS)}"
            )
        seen: set[str] = set()
        for rule in self.category_rules:
            if rule.category in seen:
                raise PolicyError(
                    f"category_rules gives {rule.category} twice; give each category once"
                )
            seen.add(rule.category)


@dataclass(frozen=True)
class Counts:
    """Test counts for one category, or for the whole run."""

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    @property
    def ran(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def failing(self) -> int:
        return self.failed + self.errors

    @classmethod
    def of(cls, results: Iterable[TestResult]) -> Counts:
        passed = failed = errors = skipped = 0
        for result in results:
            if result.outcome is Outcome.FAILED:
                failed += 1
            elif result.outcome is Outcome.ERROR:
                errors += 1
            elif result.outcome is Outcome.SKIPPED:
                skipped += 1
            else:
                passed += 1
        return cls(passed=passed, failed=failed, errors=errors, skipped=skipped)


@dataclass(frozen=True)
class CauseGroup:
    """Failures that share one root cause."""

    cause: str
    nodeids: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    """The gate's answer: the verdict, why, and the numbers behind it."""

    verdict: Verdict
    reasons: tuple[str, ...]
    totals: Counts
    categories: Mapping[str, Counts]
    causes: tuple[CauseGroup, ...] = ()
    failure_rate: float | None = None
    flaky: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    results: tuple[TestResult, ...] = field(default=(), repr=False)
    not_applicable: tuple[NotApplicable, ...] = ()
    left_behind: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code


_MAX_LISTED: Final = 3


def decide(run: RunSummary, policy: Policy | None = None) -> Decision:
    """Turn one run's results into a :class:`Decision` under ``policy``."""
    policy = policy or Policy()
    results = run.results
    totals = Counts.of(results)
    categories = _category_counts(results)
    causes = _cause_groups(results)
    rate = _failure_rate(results, causes)
    flaky = tuple(r.nodeid for r in results if r.flaky)

    reasons: dict[Verdict, list[str]] = {verdict: [] for verdict in Verdict}
    reasons[Verdict.ROLLBACK] = _rollback_reasons(results, policy, rate)
    reasons[Verdict.INVESTIGATE] = _investigate_reasons(run, totals, policy, flaky)
    if totals.failing:
        shown = _percent(rate) if rate is not None else "n/a"
        reasons[Verdict.MONITOR] = [
            f"{_plural(totals.failing, 'non-critical smoke test')} failed "
            f"(failure rate {shown}, threshold {_number(policy.max_failure_percent)}%)"
        ]
    for level, reason in _category_rule_reasons(results, policy):
        reasons[level].append(reason)
    reasons[Verdict.MONITOR].extend(f"warning: {warning}" for warning in run.warnings)

    verdict = next(
        (v for v in (Verdict.ROLLBACK, Verdict.INVESTIGATE, Verdict.MONITOR) if reasons[v]),
        Verdict.PROCEED,
    )
    notes = tuple(reasons[Verdict.INVESTIGATE]) if verdict is Verdict.ROLLBACK else ()
    return Decision(
        verdict=verdict,
        reasons=tuple(reasons[verdict]) or (_all_passed(totals),),
        totals=totals,
        categories=categories,
        causes=causes,
        failure_rate=float(rate) if rate is not None else None,
        flaky=flaky,
        notes=notes,
        results=results,
        not_applicable=run.not_applicable,
        left_behind=run.left_behind,
    )


def _rollback_reasons(
    results: tuple[TestResult, ...], policy: Policy, rate: Fraction | None
) -> list[str]:
    reasons: list[str] = []
    critical = [r for r in results if r.critical and r.failed]
    reasons.extend(_failed_lines("critical", critical))

    seen = {r.nodeid for r in critical}
    for category in _ordered(policy.rollback_categories):
        failed = [r for r in results if category in r.categories and r.failed]
        reasons.extend(_failed_lines(category, [r for r in failed if r.nodeid not in seen]))
        seen.update(r.nodeid for r in failed)

    for category in _ordered({c for r in results for c in r.categories}):
        ran = [r for r in results if category in r.categories and r.ran]
        if len(ran) >= policy.category_min_tests and all(r.failed for r in ran):
            shared = {r.cause for r in ran}
            why = f" (caused by: {shared.pop()})" if len(shared) == 1 and None not in shared else ""
            reasons.append(f"every {category} test failed ({len(ran)} of {len(ran)}){why}")

    limit = Fraction(str(policy.max_failure_percent)) / 100
    if rate is not None and rate > limit:
        reasons.append(
            f"failure rate {_percent(rate)} > {_number(policy.max_failure_percent)}% threshold"
        )
    return reasons


def _category_rule_reasons(
    results: tuple[TestResult, ...], policy: Policy
) -> list[tuple[Verdict, str]]:
    """One (level, reason) per ruled category with a failure among its tests that ran."""
    by_category = {rule.category: rule for rule in policy.category_rules}
    reasons: list[tuple[Verdict, str]] = []
    for category in _ordered(by_category):
        ran = [r for r in results if category in r.categories and r.ran]
        passed = sum(1 for r in ran if not r.failed)
        if passed == len(ran):  # all passed, or none ran (the skip rules cover that)
            continue
        rate = Fraction(passed, len(ran))
        thresholds = by_category[category].thresholds
        hit = next((t for t in thresholds if t.applies(rate)), None)
        # Above every threshold: MONITOR, told against the mildest threshold's complement.
        mildest = thresholds[-1]
        limit = hit or mildest
        operator = hit.operator if hit else (">" if mildest.inclusive else ">=")
        level = hit.verdict if hit else Verdict.MONITOR
        reasons.append(
            (
                level,
                f"{category}: {passed} of {len(ran)} passed ({_rate_shown(rate, limit.limit)}) "
                f"{operator} {_number(limit.percent)}%: {level.lower()}",
            )
        )
    return reasons


def _rate_shown(rate: Fraction, limit: Fraction) -> str:
    """``rate`` as a percent, with the decimals it takes to stay on its side of ``limit``
    (999 of 2000 is 49.95%, not "50.0% < 50%")."""
    side = (rate > limit) - (rate < limit)
    text = ""
    for digits in range(1, 8):
        text = f"{float(rate) * 100:.{digits}f}"
        shown = Fraction(text) / 100
        if (shown > limit) - (shown < limit) == side:
            break
    return f"{text}%"


def _investigate_reasons(
    run: RunSummary, totals: Counts, policy: Policy, flaky: tuple[str, ...]
) -> list[str]:
    reasons: list[str] = []
    if totals.total == 0 and run.not_applicable:
        count = sum(len(group.tests) for group in run.not_applicable)
        reasons.append(
            f"no smoke test ran ({_plural(count, 'smoke test')} not applicable to this "
            "deployment: not configured or not run)"
        )
    elif totals.total == 0:
        reasons.append("no smoke test ran: none was collected (mark tests with @pytest.mark.smoke)")
    elif totals.ran == 0:
        reasons.append(f"no smoke test ran: all {totals.total} were skipped")
    elif Fraction(totals.skipped, totals.total) > Fraction(str(policy.max_skip_percent)) / 100:
        reasons.append(
            f"{totals.skipped} of {totals.total} smoke tests skipped "
            f"({_percent(Fraction(totals.skipped, totals.total))} > "
            f"{_number(policy.max_skip_percent)}%)"
        )
    if run.collection_errors:
        reasons.append(
            f"{_plural(run.collection_errors, 'collection error')}: "
            "some smoke tests could not even be loaded"
        )
    if flaky:
        reasons.append(f"passed only on rerun: {_listed(flaky)}")
    reasons.extend(f"xdist worker crashed: {message}" for message in run.worker_crashes)
    if run.interrupted:
        reasons.append(f"the run was cut short: {run.interrupted}")
    return reasons


def _category_counts(results: tuple[TestResult, ...]) -> dict[str, Counts]:
    present = {c for r in results for c in r.categories}
    counts = {c: Counts.of(r for r in results if c in r.categories) for c in _ordered(present)}
    uncategorised = [r for r in results if not r.categories]
    if uncategorised:
        counts["other"] = Counts.of(uncategorised)
    return counts


def _cause_groups(results: tuple[TestResult, ...]) -> tuple[CauseGroup, ...]:
    groups: dict[str, list[str]] = {}
    for result in results:
        if result.failed and result.cause:
            groups.setdefault(result.cause, []).append(result.nodeid)
    return tuple(CauseGroup(cause, tuple(ids)) for cause, ids in groups.items())


def _failure_rate(
    results: tuple[TestResult, ...], causes: tuple[CauseGroup, ...]
) -> Fraction | None:
    """Failing share of the tests that ran, each root-cause group counted as one test."""
    ran = sum(1 for r in results if r.ran)
    if not ran:
        return None
    grouped = sum(len(group.nodeids) for group in causes)
    failing = sum(1 for r in results if r.failed) - grouped + len(causes)
    return Fraction(failing, ran - grouped + len(causes))


def _ordered(categories: Iterable[str]) -> list[str]:
    """Known dependency categories in their documented order, then any others by name."""
    known = list(DEPENDENCY_MARKERS)
    return sorted(categories, key=lambda c: (known.index(c) if c in known else len(known), c))


def _all_passed(totals: Counts) -> str:
    if totals.skipped:
        return f"every smoke test that ran passed ({totals.skipped} skipped)"
    return "every smoke test passed"


def _failed_lines(kind: str, failed: list[TestResult]) -> list[str]:
    """One line per failed test without a cause; one line per cause for the others."""
    lines = [f"{kind} test failed: {r.nodeid}" for r in failed if not r.cause]
    by_cause: dict[str, list[str]] = {}
    for result in failed:
        if result.cause:
            by_cause.setdefault(result.cause, []).append(result.nodeid)
    for cause, nodeids in by_cause.items():
        if len(nodeids) == 1:
            lines.append(f"{kind} test failed: {nodeids[0]} (caused by: {cause})")
        else:
            lines.append(
                f"{len(nodeids)} {kind} tests failed (caused by: {cause}): "
                f"{_listed(tuple(nodeids))}"
            )
    return lines


def _listed(nodeids: tuple[str, ...]) -> str:
    shown = ", ".join(nodeids[:_MAX_LISTED])
    more = len(nodeids) - _MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _percent(value: Fraction) -> str:
    return f"{float(value) * 100:.1f}%"


def _number(value: float) -> str:
    return f"{value:g}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"

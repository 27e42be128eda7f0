"""Flaky tests across runs: a test that passed in one run and failed in the next run of the same
profile and deployed version, with nothing deployed in between, is flaky (or the deployment is
unstable): the history marks it, the gate's own flaky rule (reruns within a run) is unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: outcomes that count as a pass or a failure; skipped tests count as neither
_PASSING: Final = frozenset({"passed", "xfailed"})
_FAILING: Final = frozenset({"failed", "error", "xpassed"})


def _results(tests: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    results: dict[str, bool] = {}
    for test in tests:
        outcome = test.get("outcome")
        if outcome in _PASSING or outcome in _FAILING:
            results[str(test.get("nodeid"))] = outcome in _PASSING
    return results


def flipped(previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> list[str]:
    """Node ids that passed in one report and failed in the other (sorted); none without both."""
    if not previous or not current:
        return []
    before = _results(previous.get("tests") or ())
    after = _results(current.get("tests") or ())
    return sorted(test for test, passed in after.items() if before.get(test, passed) != passed)

"""Which dependencies are down: one dead service costs one connect timeout per process.

The first fixture that fails to reach a dependency records the failure; every later fixture
for the same dependency raises the same :class:`DependencyUnavailable` at once, so the gate
groups all those failures under one cause and the run does not wait once per test.
"""

from __future__ import annotations

from pytest_smoke.causes import DependencyUnavailable


class DependencyStatus:
    """Per-process record of dependencies found down (and of those found up)."""

    def __init__(self) -> None:
        self._down: dict[str, DependencyUnavailable] = {}
        self._up: set[str] = set()

    def raise_if_down(self, dependency: str) -> None:
        failure = self._down.get(dependency)
        if failure is not None:
            raise DependencyUnavailable(failure.dependency, failure.target, failure.detail)

    def mark_down(self, failure: DependencyUnavailable) -> None:
        self._down.setdefault(failure.dependency, failure)

    def mark_up(self, dependency: str) -> None:
        self._up.add(dependency)

    def is_up(self, dependency: str) -> bool:
        """Reached at least once in this process (later failures are still reported)."""
        return dependency in self._up

"""Root causes: how a failure says "this is not the test's fault, a dependency is down".

A fixture that cannot reach a configured dependency raises :class:`DependencyUnavailable`. The
plugin finds it anywhere in the failure's exception chain, and the gate groups every failure with
the same cause, counts the group once toward the failure rate, and names it in the verdict.
Projects with their own notion of a cause implement the ``pytest_smoke_root_cause`` hook.
"""

from __future__ import annotations


class DependencyUnavailable(Exception):
    """A configured dependency (database, redis, service, azure...) could not be reached.

    ``cause`` is the one line the gate shows and groups by, e.g.
    ``database unreachable at db.example.com:5432: connection refused``.
    """

    def __init__(self, dependency: str, target: str, detail: str) -> None:
        self.dependency = dependency
        self.target = target
        self.detail = detail
        super().__init__(self.cause)

    @property
    def cause(self) -> str:
        return f"{self.dependency} unreachable at {self.target}: {self.detail}"


def root_cause_of(error: BaseException | None) -> str | None:
    """The cause of the first :class:`DependencyUnavailable` in ``error``'s chain, if any."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DependencyUnavailable):
            return current.cause
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend((current.__cause__, current.__context__))
    return None

"""One test id per checks-file entry (``[[endpoints]]``, ``[[workflows]]``), made at collection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pytest_smoke.checks import Checks


def collected_checks(config: pytest.Config) -> Checks | None:
    """The run's checks file while collecting; None when it cannot be loaded (a bad file, bad
    settings): the selection then stops the run with its one-line usage error, exit 4."""
    from pytest_smoke import _state

    try:
        return _state.get_checks(config)
    except pytest.UsageError:
        return None


def parametrize(
    metafunc: pytest.Metafunc, argument: str, entries: Iterable[tuple[str, bool, bool]]
) -> None:
    """Parametrize ``argument`` by entry name, each ``(name, critical, writes)`` its own test id
    marked ``critical`` and ``writes`` as it says. Without entries the test stays as it is: its
    ``needs_checks`` marker makes it not applicable."""
    params: list[Any] = []
    for name, critical, writes in entries:
        marks = [
            mark
            for mark, on in ((pytest.mark.critical, critical), (pytest.mark.writes, writes))
            if on
        ]
        params.append(pytest.param(name, id=name, marks=marks))
    if params:
        metafunc.parametrize(argument, params)

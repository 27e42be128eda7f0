"""The hooks pytest-smoke-gate adds; implement them in a conftest.py or a plugin.

A module of its own, not a class in :mod:`pytest_smoke.plugin`: pluggy looks up every name of
what it is given statically (``inspect.getattr_static``), and a class has some thirty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_smoke.gate import Decision


@pytest.hookspec(firstresult=True)
def pytest_smoke_root_cause(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> str | None:
    """Name the root cause of a failed test phase, or return ``None`` to leave it ungrouped.

    Failures with the same cause are grouped by the gate: counted once toward the failure
    rate and named in the verdict. The default implementation finds a
    :class:`pytest_smoke.DependencyUnavailable` in the exception chain. Called where the
    test runs (on xdist workers too); the first non-``None`` answer wins.
    """


def pytest_smoke_decision(config: pytest.Config, decision: Decision) -> None:
    """Called once, on the controller, with the gate's :class:`pytest_smoke.Decision`.

    Use it to notify people or act on the verdict; the exit status is already decided.
    """

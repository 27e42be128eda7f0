"""pytest-smoke-gate: post-deployment smoke tests and a rollback gate for pytest.

The plugin itself is loaded by pytest through the ``pytest11`` entry point; this package exposes
the pieces a conftest, a script or another gate may use.
"""

from __future__ import annotations

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.gate import (
    EXIT_CODES,
    Decision,
    Outcome,
    Policy,
    RunSummary,
    TestResult,
    Verdict,
    decide,
)
from pytest_smoke.settings import Settings, SettingsError

__version__ = "0.1.0"

__all__ = [
    "EXIT_CODES",
    "Decision",
    "DependencyUnavailable",
    "Outcome",
    "Policy",
    "RunSummary",
    "Settings",
    "SettingsError",
    "TestResult",
    "Verdict",
    "__version__",
    "decide",
]

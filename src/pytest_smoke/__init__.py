"""pytest-smoke-gate: post-deployment smoke tests and a rollback gate for pytest.

pytest loads the plugin through the ``pytest11`` entry point; this package exposes the pieces a
conftest, a script or another gate may use. They are imported on first use (PEP 562), so that
loading the plugin into every pytest run costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "DependencyUnavailable": "pytest_smoke.causes",
    "EXIT_CODES": "pytest_smoke.gate",
    "Decision": "pytest_smoke.gate",
    "Outcome": "pytest_smoke.gate",
    "Policy": "pytest_smoke.gate",
    "RunSummary": "pytest_smoke.gate",
    "TestResult": "pytest_smoke.gate",
    "Verdict": "pytest_smoke.gate",
    "decide": "pytest_smoke.gate",
    "Settings": "pytest_smoke.settings",
    "SettingsError": "pytest_smoke.settings",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_smoke' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)

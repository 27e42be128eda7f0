"""The namespace of the package ``pytest_smoke``: ``__init__.py`` runs this file in it.

pytest loads the plugin through the ``pytest11`` entry point ``smoke = pytest_smoke:plugin``;
the package exposes the pieces a conftest, a script or another gate may use. They are imported
on first use (PEP 562), so that loading the plugin into every pytest run costs almost nothing.

Why the entry point names an attribute of the package and not the module
``pytest_smoke.plugin``: pytest imports every module of a plugin's package through its assertion
rewriter, whose cached code is read back one object at a time (``marshal.load`` on a file),
several times what Python's own import costs. So the package's ``__init__.py``, which pytest
must import first anyway, is the only module of it that goes through the rewriter, and it is
three statements: asked for ``plugin``, this namespace imports the hook module and what it needs
with Python's own loader (:func:`import_unrewritten`). None of them asserts anything.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

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

#: The hook module, after the modules it imports from this package (a module it imports that is
#: not listed here is still imported, through the rewriter).
_PLUGIN_MODULES = ("markers", "setting_specs", "plugin")

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
    "__version__",  # noqa: F822 (set by __init__.py before it runs this file)
    "decide",
]


def __getattr__(name: str) -> Any:
    if name == "plugin":  # the pytest11 entry point
        for module in _PLUGIN_MODULES:
            plugin = import_unrewritten(module)
        return plugin
    source = _EXPORTS.get(name)
    if source is None:
        raise AttributeError(f"module 'pytest_smoke' has no attribute {name!r}")
    return getattr(importlib.import_module(source), name)


def __dir__() -> list[str]:
    return sorted(__all__)


def import_unrewritten(name: str) -> ModuleType:
    """Import ``pytest_smoke.<name>`` with Python's own loader, not pytest's rewriter, unless
    it is imported already. Only for modules without ``assert`` statements."""
    qualified = f"{__name__}.{name}"
    module = sys.modules.get(qualified)
    if module is None:
        # The package's spec and path: this file runs in the package's namespace.
        path = __spec__.submodule_search_locations
        spec = importlib.machinery.PathFinder.find_spec(qualified, path)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {qualified!r}", name=qualified)
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[qualified]
            raise
        globals()[name] = module
    return module

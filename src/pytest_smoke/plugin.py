"""pytest-smoke-gate's entry module (``pytest11`` entry point ``smoke``).

pytest imports it in every run of every project that has the plugin installed, smoke run or
not, and imports every module of the package through its assertion rewriter, whose cached code
is checked by hashing the source and read back one object at a time (``marshal.load`` on a
file): measured with callgrind, several times what Python's own import costs, about 2.5M
instructions for the hooks alone and 7.5M for ``setting_specs``. So this module holds no hook:
it imports :mod:`pytest_smoke._plugin`, which has them, and the modules it needs, with Python's
own loader, and hands the hooks to pytest. None of them asserts anything.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType


def import_unrewritten(name: str) -> ModuleType:
    """Import ``pytest_smoke.<name>`` with Python's own loader, not pytest's rewriter, unless
    it is imported already. Only for modules without ``assert`` statements."""
    qualified = f"{__package__}.{name}"
    module = sys.modules.get(qualified)
    if module is None:
        package = sys.modules[__package__]
        spec = importlib.machinery.PathFinder.find_spec(qualified, package.__path__)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {qualified!r}", name=qualified)
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[qualified]
            raise
        setattr(package, name, module)
    return module


# What _plugin imports of the package first (a module it imports that is not listed here is
# still imported, through the rewriter), then _plugin itself.
for _name in ("markers", "setting_specs"):
    import_unrewritten(_name)

import_unrewritten("_plugin")

# Registered by pytest as this module's own hooks: the names it looks for.
from pytest_smoke._plugin import (  # noqa: E402  (after the import above, not through the rewriter)
    pytest_addhooks,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_collectstart,
    pytest_configure,
)

__all__ = [
    "import_unrewritten",
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_collectstart",
    "pytest_configure",
]

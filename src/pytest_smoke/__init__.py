"""pytest-smoke-gate: post-deployment smoke tests and a rollback gate for pytest.

The package's names are defined in ``_package.py``, which this file runs in the package's
namespace with Python's own loader. Why not here: pytest loads the plugin through the
``pytest11`` entry point ``smoke = pytest_smoke:plugin`` and imports this file through its
assertion rewriter, in every pytest run of every project that has the plugin installed. The
rewriter hashes the source and reads its cached code back one object at a time
(``marshal.load`` on a file, a method call per object): with the names defined here, 515 reads;
with these three statements, 94. Type checkers read ``__init__.pyi``.
"""

import importlib.machinery as _machinery
import sys as _sys

__version__ = "0.1.0"  # here, where flit_core reads it without importing the package
_machinery.SourceFileLoader(__name__, f"{__path__[0]}/_package.py").exec_module(
    _sys.modules[__name__]
)

"""Short, stable test ids for the bundled suite when it runs from the installed package.

``pytest --pyargs pytest_smoke.suite`` collects the suite from wherever pip put the wheel, and
pytest names a file by its path relative to the rootdir (``_pytest/nodes.py``, ``FSCollector``),
or, outside it, relative to the command-line argument (``_check_initialpaths_for_relpath``). So
the same test was ``venv/lib/python3.11/site-packages/pytest_smoke/suite/test_x.py::test_y``
with the venv inside the working directory, ``test_x.py::test_y`` with it elsewhere, and
``tmp/.../test_x.py::test_y`` from ``/``: reports, reruns and dashboards could not match them.

The choice: the plugin's ``pytest_pycollect_makemodule`` (a documented, ``firstresult`` hook
that exists to build the ``Module`` of a test file) builds the module of a file inside the
installed ``pytest_smoke`` package with the node id ``pytest_smoke/suite/test_x.py``; items
derive their ids from their module's, so every test follows. ``nodeid`` is a constructor
argument of ``FSCollector`` in every pytest we support (pytest 9 parses a string into its
``NodeId``). Nothing else changes: the rootdir, the module's path (import, ``ihook``, conftests) and
the directory nodes above it. Less fragile than the alternatives: moving the rootdir changes
the cache directory and ini lookup for the whole run; rewriting ``nodeid`` after collection
writes pytest's private ``_id`` and misses collection errors. Fixtures keep working:
pytest >= 9.1 ties conftest fixtures to nodes, not id strings, and older versions match a
conftest's base id against the (unchanged) package node above the module. Every xdist worker
runs the same hook, so the workers agree on the ids. The suite is part of the package in a
source checkout too (``src/pytest_smoke/suite``, an editable install): its ids there are the
same, ``pytest_smoke/suite/test_x.py::test_y``, whether it is collected with ``--pyargs`` or
by its path.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

_PACKAGE: Final = "pytest_smoke"


@functools.cache
def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def installed_suite_nodeid(module_path: Path) -> str | None:
    """``pytest_smoke/suite/test_x.py`` for a test module inside the ``pytest_smoke`` package
    (the bundled suite, from a wheel or an editable install), else ``None`` (leave the id to
    pytest)."""
    if _PACKAGE not in module_path.parts:  # every other test file of every run: one check
        return None
    try:
        relative = module_path.resolve().relative_to(_package_dir())
    except ValueError:
        return None
    return f"{_PACKAGE}/{relative.as_posix()}"

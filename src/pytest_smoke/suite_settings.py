"""pytest-asyncio's fixture loop scope for a run of the bundled suite, when the user's ini has none.

pytest-asyncio warns (``PytestDeprecationWarning``, once per process: controller and each xdist
worker) when ``asyncio_default_fixture_loop_scope`` is unset. A project that runs the bundled
suite (``pytest --pyargs pytest_smoke.suite``, ``smoke-gate run``) did not write that suite and
should not see a warning about it. So in such a run, and only when neither the ini nor ``-o``
sets the key, the plugin gives it a value before pytest-asyncio reads it:

- ``fixture-scope`` with pytest-asyncio >= 1.5: what an unset key means today, so the user's own
  async fixtures in the same run behave exactly as in their other runs;
- ``function`` with older versions, which do not know ``fixture-scope``: pytest-asyncio's
  announced default. The suite's own async fixtures set their loop scope explicitly, so either
  value leaves the suite as it is.

A value the user sets always stands, and no warning filter is touched: the user's own warnings,
pytest-asyncio's included in runs without the suite, show as before.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pytest

KEY: Final = "asyncio_default_fixture_loop_scope"
_SUITE_MODULE: Final = "pytest_smoke.suite"
#: The names that collect the whole bundled suite with --pyargs (its modules too, below).
_SUITE_MODULES: Final = ("pytest_smoke", _SUITE_MODULE)


def set_fixture_loop_scope(config: pytest.Config) -> None:
    """Give ``asyncio_default_fixture_loop_scope`` a value for this run if the bundled suite is
    collected and nothing sets it; call before pytest-asyncio's ``pytest_configure``."""
    if config.getini(KEY) is not None:  # the user's ini or -o sets it (an empty value too)
        return
    if not runs_bundled_suite(config):
        return
    # pytest has no public API to give an ini key a value for one run: ``-o`` is parsed before
    # any plugin runs, and ``Config.inicfg`` is deprecated. ``getini`` answers from this cache
    # (every pytest since 7), so the value lands where pytest-asyncio reads it. Should the cache
    # go, the run stays as it is, with pytest-asyncio's warning.
    cache = getattr(config, "_inicache", None)
    if isinstance(cache, dict):
        cache[KEY] = _loop_scope()


def suite_directory() -> Path:
    """Where the bundled suite is: ``pytest_smoke/suite``, in the wheel or the source tree."""
    return Path(__file__).resolve().parent / "suite"


def runs_bundled_suite(config: pytest.Config) -> bool:
    """Whether the command line names the bundled suite, or a file or directory inside it."""
    pyargs = bool(config.getoption("pyargs", False))
    suite = suite_directory()
    for arg in config.args:
        target = arg.split("::", 1)[0]
        if pyargs and (target in _SUITE_MODULES or target.startswith(f"{_SUITE_MODULE}.")):
            return True
        try:
            path = (config.invocation_params.dir / target).resolve()
        except (OSError, ValueError):
            continue
        if path == suite or suite in path.parents:
            return True
    return False


def _loop_scope() -> str:
    version = str(getattr(sys.modules.get("pytest_asyncio"), "__version__", ""))
    found = re.match(r"(\d+)\.(\d+)", version)
    if found and (int(found[1]), int(found[2])) >= (1, 5):
        return "fixture-scope"
    return "function"

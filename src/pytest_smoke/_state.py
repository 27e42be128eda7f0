"""Per-run state kept in ``config.stash``, and the one way to read the settings from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from pytest_smoke.reporter import GateReporter
    from pytest_smoke.settings import Settings

settings_key: Final = pytest.StashKey["Settings"]()
settings_error_key: Final = pytest.StashKey[str]()
reporter_key: Final = pytest.StashKey["GateReporter"]()


def get_settings(config: pytest.Config) -> Settings:
    """The run's settings; a usage error, in one line, if they could not be resolved."""
    error = config.stash.get(settings_error_key, None)
    if error is not None:
        raise pytest.UsageError(error)
    return config.stash[settings_key]

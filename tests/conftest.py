from __future__ import annotations

import pytest

from pytest_smoke.settings import PROFILE_ENV, PROFILE_FILE_ENV, SPECS

pytest_plugins = ["pytester"]

_OUR_VARIABLES = [spec.env for spec in SPECS if spec.env] + [
    PROFILE_ENV,
    PROFILE_FILE_ENV,
    "GITHUB_STEP_SUMMARY",
]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's tests never see the developer's or CI's smoke settings."""
    for name in _OUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)

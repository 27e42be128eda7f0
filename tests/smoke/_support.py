"""Shared by the bundled smoke modules: reading the checks file, unique markers, settings."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from pytest_smoke.checks import Checks

#: Every async check runs in the session's event loop: engines and clients are pooled across
#: checks whatever the project's default loop scope.
ASYNC = pytest.mark.asyncio(loop_scope="session")


def need(checks: Checks, dotted: str) -> Any:
    """The checks-file value at ``dotted``, or skip naming what to add to the checks file."""
    value = checks.get(dotted)
    if value is None or value in ([], {}):
        where = f" ({checks.path})" if checks.path else " (set SMOKE_TEST_CHECKS_FILE)"
        pytest.skip(f"the checks file has no {dotted}{where}")
    return value


def new_marker() -> str:
    """A value unique to this check, for names the check creates (and then removes)."""
    return f"smoke-{uuid.uuid4().hex[:12]}"


def fill(value: Any, marker: str) -> Any:
    """``value`` with every ``{marker}`` replaced, in strings, lists and tables."""
    if isinstance(value, str):
        return value.replace("{marker}", marker)
    if isinstance(value, list):
        return [fill(item, marker) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, marker) for key, item in value.items()}
    return value


async def apply_session_settings(target: AsyncSession | AsyncConnection, checks: Checks) -> None:
    """``SET LOCAL`` each of ``database.session_settings`` in the current transaction."""
    from sqlalchemy import text

    for name, value in (checks.get("database.session_settings") or {}).items():
        await target.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": str(value)}
        )

"""Shared by the bundled smoke modules: the checks file, the CRUD resource, session settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from pytest_smoke.checks import Checks
    from pytest_smoke.checks.ledger import Ledger
    from pytest_smoke.checks.resource import Resource

#: Every async check runs in the session's event loop: engines and clients are pooled across
#: checks whatever the project's default loop scope.
ASYNC = pytest.mark.asyncio(loop_scope="session")


def need(checks: Checks, dotted: str) -> Any:
    """The checks-file value at ``dotted``, or skip naming what to add to the checks file.

    A guard only: the checks declare what they need with ``needs_checks``, and a check whose
    keys are missing is deselected before it runs.
    """
    if not checks.has(dotted):
        where = f" ({checks.path})" if checks.path else " (set SMOKE_TEST_CHECKS_FILE)"
        pytest.skip(f"the checks file has no {dotted}{where}")
    return checks.get(dotted)


def crud_resource(
    client: httpx.AsyncClient, headers: dict[str, str], checks: Checks, ledger: Ledger
) -> Resource:
    """The checks file's ``[crud]`` resource, whatever it creates recorded on ``ledger``."""
    from pytest_smoke.checks.resource import Resource

    return Resource(client, need(checks, "crud"), headers=headers, ledger=ledger)


async def apply_session_settings(target: AsyncSession | AsyncConnection, checks: Checks) -> None:
    """``SET LOCAL`` each of ``database.session_settings`` in the current transaction."""
    from sqlalchemy import text

    for name, value in (checks.get("database.session_settings") or {}).items():
        await target.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": str(value)}
        )

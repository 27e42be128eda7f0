"""Database: the deployment's PostgreSQL accepts work, keeps its promises and enforces its rules.

Every check runs inside a transaction that is rolled back: nothing is left behind. The checks
that write scratch rows are marked ``writes``: under a read-only profile (SMOKE_TEST_READ_ONLY,
or SMOKE_TEST_DB_READ_ONLY for the database alone) they are not run, and the others read only.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from pytest_smoke.checks.templates import new_marker

from ._support import ASYNC, apply_session_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from pytest_smoke.checks import Checks

#: The checks-file keys of the scratch row the writing checks insert and count.
SCRATCH = ("database.scratch.insert", "database.scratch.count")

pytestmark = [pytest.mark.smoke, pytest.mark.database, ASYNC]


@pytest.mark.critical
async def test_database_connectivity_and_version(
    db_session: AsyncSession, smoke_checks: Checks
) -> None:
    """The database answers and runs at least the configured server version.

    Impact: no request that reads or writes data can succeed; roll back.
    """
    from sqlalchemy import text

    number = (await db_session.execute(text("SHOW server_version_num"))).scalar_one()
    major = int(number) // 10000
    minimum = int(smoke_checks.get("database.min_server_version", 0))
    assert major >= minimum, f"PostgreSQL {major} is older than the required {minimum}"


@pytest.mark.writes
@pytest.mark.needs_checks(*SCRATCH)
async def test_commit_and_rollback(db_session: AsyncSession, smoke_checks: Checks) -> None:
    """A committed write is visible; a rolled-back one is gone.

    Impact: writes could be lost or half-applied after the deployment.
    """
    from sqlalchemy import text

    insert = text(smoke_checks.get("database.scratch.insert"))
    count = text(smoke_checks.get("database.scratch.count"))
    await apply_session_settings(db_session, smoke_checks)
    kept, undone = new_marker(), new_marker()
    await db_session.execute(insert, {"marker": kept})
    await db_session.commit()  # a savepoint inside the test's transaction: undone at the end
    async with db_session.begin_nested() as savepoint:
        await db_session.execute(insert, {"marker": undone})
        await savepoint.rollback()
    assert (await db_session.execute(count, {"marker": kept})).scalar_one() == 1
    assert (await db_session.execute(count, {"marker": undone})).scalar_one() == 0


@pytest.mark.writes
@pytest.mark.needs_checks(*SCRATCH)
async def test_concurrent_transactions_are_isolated(
    db_engine: AsyncEngine, smoke_checks: Checks
) -> None:
    """An uncommitted write in one transaction is invisible to another.

    Impact: concurrent requests could read each other's half-done work.
    """
    from sqlalchemy import text

    insert = text(smoke_checks.get("database.scratch.insert"))
    count = text(smoke_checks.get("database.scratch.count"))
    marker = new_marker()
    async with db_engine.connect() as writer, db_engine.connect() as reader:
        await writer.begin()
        await reader.begin()
        try:
            await apply_session_settings(writer, smoke_checks)
            await apply_session_settings(reader, smoke_checks)
            await writer.execute(insert, {"marker": marker})
            assert (await writer.execute(count, {"marker": marker})).scalar_one() == 1
            assert (await reader.execute(count, {"marker": marker})).scalar_one() == 0
        finally:
            await writer.rollback()
            await reader.rollback()


VIOLATIONS = {
    "unique": "23505",
    "foreign_key": "23503",
    "check": "23514",
    "not_null": "23502",
    "row_level_security": "42501",
}


@pytest.mark.writes
@pytest.mark.needs_checks("database.violations")
async def test_constraints_are_enforced(db_session: AsyncSession, smoke_checks: Checks) -> None:
    """Each configured violation (unique, foreign key, check...) is refused by the database.

    Impact: invalid data could be stored, and later requests fail on it.
    """
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    violations = smoke_checks.get("database.violations")
    await apply_session_settings(db_session, smoke_checks)
    failures = []
    for violation in violations:
        marker = new_marker()
        for statement in violation.get("setup", []):
            await db_session.execute(text(statement), {"marker": marker})
        expected = {VIOLATIONS[violation["expect"]]} | {
            VIOLATIONS[other] for other in violation.get("also_accept", [])
        }
        try:
            async with db_session.begin_nested():
                await db_session.execute(text(violation["statement"]), {"marker": marker})
        except DBAPIError as error:
            state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
            if state not in expected:
                failures.append(f"{violation['name']}: refused with SQLSTATE {state}")
        else:
            failures.append(f"{violation['name']}: accepted")
    assert not failures, "; ".join(failures)


async def test_connection_pool_under_concurrent_load(db_engine: AsyncEngine) -> None:
    """Ten concurrent queries all get a connection and finish.

    Impact: under load, requests would queue or fail for want of connections.
    """
    from sqlalchemy import text

    async def query() -> int:
        async with db_engine.connect() as connection:
            result = await connection.execute(text("SELECT 1 FROM pg_sleep(0.05)"))
            return int(result.scalar_one())

    assert await asyncio.gather(*(query() for _ in range(10))) == [1] * 10


@pytest.mark.writes
@pytest.mark.needs_checks("database.rls", *SCRATCH)
async def test_row_level_security_isolates_tenants(
    db_session: AsyncSession, smoke_checks: Checks
) -> None:
    """A row written as one tenant is invisible when the session acts as another.

    Impact: one customer could see another customer's data.
    """
    from sqlalchemy import text

    rls = smoke_checks.get("database.rls")
    insert = text(smoke_checks.get("database.scratch.insert"))
    count = text(smoke_checks.get("database.scratch.count"))
    set_tenant = text("SELECT set_config(:name, :value, true)")
    marker = new_marker()
    await apply_session_settings(db_session, smoke_checks)
    await db_session.execute(set_tenant, {"name": rls["setting"], "value": rls["own"]})
    await db_session.execute(insert, {"marker": marker})
    assert (await db_session.execute(count, {"marker": marker})).scalar_one() == 1
    await db_session.execute(set_tenant, {"name": rls["setting"], "value": rls["other"]})
    assert (await db_session.execute(count, {"marker": marker})).scalar_one() == 0, (
        "the row is visible to another tenant: row-level security is not enforced "
        "(is the suite connecting as a superuser or the table owner?)"
    )


async def test_jsonb_round_trip_and_query(db_session: AsyncSession) -> None:
    """JSONB values survive a round trip and can be queried by containment.

    Impact: features storing documents would corrupt or lose them.
    """
    from sqlalchemy import text

    document = '{"order": {"id": 7, "lines": [1, 2]}, "tags": ["smoke"]}'
    row = (
        await db_session.execute(
            text(
                "SELECT doc -> 'order' ->> 'id', doc @> '{\"tags\": [\"smoke\"]}' "
                "FROM (SELECT CAST(:doc AS jsonb) AS doc) AS d"
            ),
            {"doc": document},
        )
    ).one()
    assert tuple(row) == ("7", True)


async def test_pgvector_similarity(db_session: AsyncSession) -> None:
    """pgvector answers a distance query, when the extension is available.

    Impact: similarity search (recommendations, retrieval) would fail.
    """
    from sqlalchemy import text

    available = (
        await db_session.execute(
            text("SELECT installed_version FROM pg_available_extensions WHERE name = 'vector'")
        )
    ).first()
    if available is None:
        pytest.skip("the pgvector extension is not available on this server")
    if available[0] is None:
        pytest.skip("pgvector is available but not installed in this database")
    distance = (
        await db_session.execute(text("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector"))
    ).scalar_one()
    assert distance == pytest.approx(1.0)


@pytest.mark.needs_checks("database.required_tables")
async def test_schema_is_migrated(db_session: AsyncSession, smoke_checks: Checks) -> None:
    """The required tables exist, and the Alembic revision is the expected head if configured.

    Impact: the new code would query tables or columns the database does not have.
    """
    from sqlalchemy import text

    tables = smoke_checks.get("database.required_tables")
    missing = [
        table
        for table in tables
        if (await db_session.execute(text("SELECT to_regclass(:t)"), {"t": table})).scalar() is None
    ]
    assert not missing, f"missing tables: {', '.join(missing)}"
    head = smoke_checks.get("database.alembic_head")
    if head:
        revision = (
            await db_session.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar()
        assert revision == head, f"database at revision {revision}, the code expects {head}"

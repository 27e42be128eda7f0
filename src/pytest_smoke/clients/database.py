"""PostgreSQL through SQLAlchemy 2 (async) and asyncpg: engines, a probe, rolled-back sessions.

Plain async code, usable from a script. Two facts shape it (measured, see DESIGN.md section 5):
asyncpg waits 60 s for a silent host unless told otherwise, so every connect is bounded; and a
pooled connection only works in the event loop that opened it, so callers choose pooling by
how long their loop lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.clients.tcp import endpoint, format_target

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

DEPENDENCY = "database"


def asyncpg_url(url: str) -> str:
    """The URL with the ``postgresql+asyncpg`` driver, whatever PostgreSQL scheme it had."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def make_engine(
    url: str, *, connect_timeout: float, timeout: float, pooled: bool, read_only: bool = False
) -> AsyncEngine:
    """An engine whose connects give up after ``connect_timeout`` and queries after ``timeout``.

    ``pooled=False`` (NullPool) opens a connection per use: right when the caller's event loop
    is shorter-lived than the engine. ``read_only=True`` makes every transaction of its
    connections READ ONLY on the server (``default_transaction_read_only``): a write fails with
    "cannot execute ... in a read-only transaction", whoever sends it.
    """
    server_settings = {"application_name": "pytest-smoke-gate"}
    if read_only:
        server_settings["default_transaction_read_only"] = "on"
    options: dict[str, Any] = {
        "connect_args": {
            "timeout": connect_timeout,
            "command_timeout": timeout,
            "server_settings": server_settings,
        },
    }
    if pooled:
        options.update(pool_size=5, max_overflow=10, pool_timeout=connect_timeout)
    else:
        options["poolclass"] = NullPool
    return create_async_engine(asyncpg_url(url), **options)


def target_of(url: str) -> str:
    return format_target(*endpoint(url))


def describe_error(error: BaseException, *, connect_timeout: float) -> str:
    """One line saying why a connection failed, never with a password in it."""
    if isinstance(error, TimeoutError):
        return f"no answer within {connect_timeout:g}s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"host not found ({error.strerror})"
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    name = type(cause).__name__
    if name == "InvalidPasswordError":
        return "authentication failed"
    if name == "InvalidCatalogNameError":
        return "database does not exist"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{name}: {first_line}"[:200] if first_line else name


async def connect(engine: AsyncEngine, url: str, *, connect_timeout: float) -> AsyncConnection:
    """A connection from ``engine``, or :class:`DependencyUnavailable` within the timeout."""
    try:
        async with asyncio.timeout(connect_timeout + 1):
            return await engine.connect()
    except Exception as error:  # refused, timed out, DNS, auth: all mean "not reachable"
        detail = describe_error(error, connect_timeout=connect_timeout)
        raise DependencyUnavailable(DEPENDENCY, target_of(url), detail) from None


@dataclass
class RolledBackTransaction:
    """A test's view of the database: everything it does is undone at the end."""

    connection: AsyncConnection
    session: AsyncSession
    sessionmaker: async_sessionmaker[AsyncSession]


@contextlib.asynccontextmanager
async def rolled_back_transaction(
    connection: AsyncConnection, *, read_only: bool, teardown_timeout: float
) -> AsyncIterator[RolledBackTransaction]:
    """Open an outer transaction that is always rolled back, commits inside it included.

    Sessions join it through SAVEPOINTs (``join_transaction_mode="create_savepoint"``), so a
    ``session.commit()`` in the code under test releases a savepoint, and the outer rollback
    still undoes it. The rollback is bounded by ``teardown_timeout``: a query left running (a
    test interrupted by pytest-timeout) gets its connection terminated instead of waited for.
    """
    transaction = await connection.begin()
    if read_only:
        await connection.execute(text("SET TRANSACTION READ ONLY"))
    maker = async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    session = maker()
    try:
        yield RolledBackTransaction(connection, session, maker)
    finally:
        try:
            async with asyncio.timeout(teardown_timeout):
                await session.close()
                await transaction.rollback()
                await connection.close()
        except BaseException:  # timed out, or the connection is busy or broken
            await _terminate(connection)


async def _terminate(connection: AsyncConnection) -> None:
    """Drop the connection without waiting for the server; it rolls back on its own."""
    with contextlib.suppress(Exception):
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is not None:
            driver.terminate()
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()

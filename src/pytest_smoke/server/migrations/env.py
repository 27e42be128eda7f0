"""Alembic's environment for the history schema (see the package docstring).

With ``config.attributes["connection"]`` (what :func:`upgrade_to_head` passes) it migrates on
that connection, inside the caller's transaction; otherwise it connects to the configuration's
``sqlalchemy.url`` itself (an async URL), or writes SQL when Alembic runs offline.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import async_engine_from_config

from pytest_smoke.server.migrations import VERSION_TABLE
from pytest_smoke.server.models import Base

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

config = context.config
target_metadata = Base.metadata


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite cannot ALTER most things: later revisions copy tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = async_engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


_shared = config.attributes.get("connection")
if context.is_offline_mode():
    _run_offline()
elif _shared is not None:
    _run_migrations(_shared)
else:
    asyncio.run(_run_online())

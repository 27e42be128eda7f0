"""The history schema's Alembic migrations, run by the service itself: no alembic.ini needed.

:func:`upgrade_to_head` brings a database to the newest revision (``RunStore.open`` calls it on
every start; at head it changes nothing). :func:`alembic_config` is the one Alembic configuration,
built in code, for the service and for developers. A new revision, after changing
``pytest_smoke.server.models``, from a scratch database at head::

    from alembic import command
    from pytest_smoke.server.migrations import alembic_config
    command.revision(alembic_config("sqlite+aiosqlite:///scratch.db"), "what changed",
                     autogenerate=True)

then read and tidy the file it writes into ``versions/`` (tests/server/test_store.py checks that
the revisions and the models agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: this directory: env.py, script.py.mako and versions/
SCRIPT_LOCATION: Final = Path(__file__).resolve().parent
#: Alembic's bookkeeping table, prefixed like ours so an application's own Alembic is untouched
VERSION_TABLE: Final = "smoke_gate_alembic_version"
#: the PostgreSQL advisory lock two services starting at once take, so only one migrates
_MIGRATION_LOCK: Final = 0x5_6A7E_0001


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for the history schema; ``url`` (async driver) when it connects."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # r0002_slug.py: a module name mypy accepts (Alembic's default starts with the digits)
    config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    if url is not None:
        # ConfigParser interpolation: a literal % (an escaped password) must be doubled
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(connection: Connection) -> None:
    """Migrate the database behind ``connection`` to the newest revision, in its transaction.

    Synchronous: call it through ``AsyncConnection.run_sync``. On PostgreSQL a transaction-level
    advisory lock makes a second service that starts at the same time wait, then find head.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def head_revision() -> str:
    """The newest revision's identifier."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its revisions
        raise RuntimeError(f"no Alembic revision in {SCRIPT_LOCATION / 'versions'}")
    return head

"""Whether the servers the end-to-end runs need are here: running, or installed to start."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest


def reachable(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


#: PostgreSQL answers, or its binaries are installed (the launcher starts a throwaway one).
POSTGRES = bool(
    reachable(5432)
    or shutil.which("initdb")
    or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
)
#: Redis answers, or redis-server is installed.
REDIS = reachable(6379) or bool(shutil.which("redis-server"))

needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="needs PostgreSQL, running or installed (its binaries)"
)
needs_postgres_and_redis = pytest.mark.skipif(
    not (POSTGRES and REDIS),
    reason="needs PostgreSQL and Redis, running or installed (their binaries)",
)

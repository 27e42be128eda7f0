"""The app factory: ``uvicorn articles_api.main:create_app --factory``."""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI

from . import errors
from .routes import articles, router
from .settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

logger = logging.getLogger("uvicorn.error")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # min_size=0: no connection at start, so the service starts (and its health says "fail")
    # while the database is down.
    pool = await asyncpg.create_pool(
        settings.database_url, min_size=0, max_size=10, timeout=3, command_timeout=10
    )
    app.state.pool = pool
    where = urlsplit(settings.database_url)
    logger.info(
        "articles: database %s:%s%s, fault %s",
        where.hostname,
        where.port,
        where.path,
        settings.fault or "none",
    )
    try:
        yield
    finally:
        await pool.close()


def create_app(env: Mapping[str, str] | None = None) -> FastAPI:
    """The app configured from ``env`` (default ``os.environ``); ConfigError names a bad one."""
    settings = Settings.from_env(os.environ if env is None else env)
    app = FastAPI(title="articles", version="1.0.0", lifespan=_lifespan)
    app.state.settings = settings
    errors.install(app)
    app.include_router(router)
    app.include_router(articles)
    return app

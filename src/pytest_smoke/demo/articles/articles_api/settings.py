"""The service's configuration: ``ARTICLES_*`` environment variables, read once at start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

FAULTS = (
    "database-down",  # launcher-level: the database URL points at a closed port
    "endpoint-500",  # GET /api/articles/ answers 500
    "auth-broken",  # every token is refused with 403, valid ones included
)
MIN_SECRET_BYTES = 32


class ConfigError(ValueError):
    """An ``ARTICLES_*`` variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)
    secret_key: str = field(repr=False)
    token_minutes: int
    fault: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        fault = env.get("ARTICLES_FAULT", "").strip() or None
        if fault is not None and fault not in FAULTS:
            raise ConfigError(
                f"ARTICLES_FAULT={fault!r} is not a known fault; valid: {', '.join(FAULTS)}"
            )
        database_url = _required(env, "ARTICLES_DATABASE_URL")
        if urlsplit(database_url).scheme not in ("postgresql", "postgres"):
            raise ConfigError("ARTICLES_DATABASE_URL must be a postgresql:// URL")
        secret_key = _required(env, "ARTICLES_SECRET_KEY")
        if len(secret_key.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"ARTICLES_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes")
        raw_minutes = env.get("ARTICLES_TOKEN_MINUTES", "30")
        try:
            minutes = int(raw_minutes)
        except ValueError:
            minutes = 0
        if minutes <= 0:
            raise ConfigError(f"ARTICLES_TOKEN_MINUTES={raw_minutes!r} is not a positive integer")
        return cls(database_url, secret_key, minutes, fault)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"{name} is not set; see examples/articles/CONTRACT.md")
    return value

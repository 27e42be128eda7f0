"""The service's own settings (``SMOKE_SERVER_*``), read with pydantic-settings.

Not the runs' settings: those are the env profiles (:mod:`.profiles`). Every value is checked
when the service starts; a bad one is one line naming the variable (:class:`ServerSettingsError`),
and ``smoke-gate serve`` exits 2 on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_PREFIX = "SMOKE_SERVER_"
_HTTP_URL = re.compile(r"https?://[^\s/]+\S*\Z")
#: The variable that holds the bearer token.
TOKEN_ENV = f"{ENV_PREFIX}TOKEN"


class ServerSettingsError(ValueError):
    """A bad service setting: one line naming the variable and what to do."""


class ServerSettings(BaseSettings):
    """``smoke-gate serve``'s settings; each from ``SMOKE_SERVER_<NAME>`` or a keyword."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True
    )

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    #: Where the ``.env.NAME`` profiles are; runs start in this directory.
    profiles_dir: Path = Field(default_factory=Path.cwd)
    #: The default SQLite history and the runs' report files.
    data_dir: Path = Path(".smoke-gate")
    #: SQLAlchemy URL of the history; default: SQLite under ``data_dir``.
    database_url: SecretStr | None = None
    #: The bearer token every start/cancel (and, with ``read_auth=token``, every read) needs.
    token: SecretStr
    read_auth: Literal["token", "open"] = "token"
    max_concurrent: Annotated[int, Field(ge=1, le=64)] = 2
    run_timeout: Annotated[float, Field(gt=0)] = 900.0
    max_wait: Annotated[float, Field(gt=0)] = 900.0
    #: Finished runs older than this many days are deleted; 0 keeps them all.
    retention_days: Annotated[int, Field(ge=0)] = 30
    #: Redis URL: runs go through the Dramatiq queue to ``smoke-gate worker`` processes.
    queue_url: SecretStr | None = None
    #: Prefix of every Redis key of the queue (``queue.DEFAULT_NAMESPACE``); workers use the same.
    queue_namespace: Annotated[str, Field(min_length=1, max_length=100)] = "smoke-gate"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Seconds a ``GET /runs`` page is kept at most (this service's writes end it at once;
    #: the bound on staleness when other service processes write the same history); 0: never.
    list_cache_seconds: Annotated[float, Field(ge=0, le=3600)] = 2.0
    #: The service's address as people and alert receivers reach it (links in alerts);
    #: default ``http://HOST:PORT``.
    public_url: str | None = None
    #: Incidents (a profile turning to ROLLBACK or INVESTIGATE, and back) go to these targets.
    alert_webhook_url: str | None = None
    #: HMAC-SHA256 key of the generic webhook's signature header
    alert_webhook_secret: SecretStr | None = None
    #: Slack incoming webhook and Teams workflow URLs carry their credential: secrets
    alert_slack_url: SecretStr | None = None
    alert_teams_url: SecretStr | None = None
    alert_pagerduty_routing_key: SecretStr | None = None
    alert_pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    #: Seconds per delivery attempt, and attempts per alert (with backoff between them)
    alert_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    alert_attempts: Annotated[int, Field(ge=1, le=20)] = 4
    #: The dashboard at /ui
    dashboard: bool = True

    @field_validator("token")
    @classmethod
    def _usable_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if not token.strip() or token != token.strip():
            raise ValueError("must be a non-empty token without surrounding blanks")
        return value

    @field_validator("public_url", "alert_webhook_url", "alert_pagerduty_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("alert_slack_url", "alert_teams_url")
    @classmethod
    def _secret_http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _HTTP_URL.match(value.get_secret_value()):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("profiles_dir")
    @classmethod
    def _existing_directory(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory (the .env.NAME profiles go there)")
        return value.resolve()

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def base_url(self) -> str:
        """``public_url`` without its trailing slash, else ``http://HOST:PORT``."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def history_url(self) -> str:
        """The history database's URL (``database_url``, else SQLite under ``data_dir``)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.data_dir / 'history.sqlite3'}"


def load_server_settings(
    given: Mapping[str, object] | None = None, *, labels: Mapping[str, str] | None = None
) -> ServerSettings:
    """The settings from the environment, ``given`` values (not ``None``) taking precedence.

    Raises :class:`ServerSettingsError` with one line for the first bad or missing value,
    naming it by ``labels[name]`` when given (a command-line option), else by its variable; a
    secret's value is never part of it.
    """
    values = {name: value for name, value in (given or {}).items() if value is not None}
    try:
        return ServerSettings(**values)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ServerSettingsError(_one_line(error, labels or {})) from None


def _one_line(error: ValidationError, labels: Mapping[str, str]) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    name = str(first["loc"][0]) if first["loc"] else "?"
    variable = labels.get(name, f"{ENV_PREFIX}{name.upper()}")
    if name == "token" and first["type"] == "missing":
        return (
            f"{TOKEN_ENV} is not set: the service needs a bearer token; set it, or give "
            "--token-file PATH"
        )
    if first["type"] == "extra_forbidden":
        return f"{variable}: unknown setting"
    message = first["msg"].removeprefix("Value error, ")
    return f"{variable}: {message[:1].lower()}{message[1:]}"

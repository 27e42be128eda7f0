"""Env profiles, environment variables, ini values and options -> one validated, immutable Settings.

Precedence, the only place it is written down:

    command line  >  environment variable  >  .env.<profile> file  >  ini  >  default

An environment variable set to the empty string counts as unset (CI systems pass a missing
secret that way).

Every setting is described once in :data:`SPECS`; the plugin builds its options and ini keys
from the same table, and ``.env.staging.example`` documents the same names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from pytest_smoke.setting_specs import (
    DEFAULT_CATEGORY_MIN_TESTS,
    DEFAULT_MAX_FAILURE_PERCENT,
    DEFAULT_MAX_SKIP_PERCENT,
    DEFAULT_ROLLBACK_CATEGORIES,
    PROFILE_ENV,
    PROFILE_FILE_ENV,
    PROFILE_FILE_OPTION,
    PROFILE_INI,
    PROFILE_OPTION,
    SPECS,
    SettingSpec,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_smoke.gate import CategoryRule, Policy


class SettingsError(ValueError):
    """Bad configuration. The message is one line naming the setting and the fix."""


_PROFILE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KNOWN_KEYS: Final = frozenset(
    {spec.env for spec in SPECS if spec.env} | {PROFILE_ENV, PROFILE_FILE_ENV}
)


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one run. Immutable; secrets never appear in its repr."""

    profile: str | None = None
    profile_file: Path | None = None
    gate: bool = False
    quick: bool = False
    read_only: bool = False
    report_json: str | None = None
    prometheus_textfile: str | None = None
    pushgateway_url: str | None = field(default=None, repr=False)  # may hold user:password@
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    gateway_url: str | None = None
    timeout: float = 30.0
    connect_timeout: float = 5.0
    checks_file: str | None = None
    sla_p95_ms: float = 1000.0
    tls_min_days: int = 14
    db_read_only: bool = False
    redis_key_prefix: str = "smoke-test"
    redis_key_ttl: float = 300.0
    event_delivery_limit: int = 3
    http_retries: int = 3
    http_backoff: float = 0.5
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    token: str | None = field(default=None, repr=False)
    login_url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token_path: str = "access_token"
    oauth_scope: str | None = None
    azure_keyvault_name: str | None = None
    azure_keyvault_url: str | None = None
    azure_secret_list: tuple[str, ...] = ()
    azure_client_id: str | None = None
    azure_client_secret: str | None = field(default=None, repr=False)
    azure_tenant_id: str | None = None
    azure_authority_host: str | None = None
    azure_keyvault_dns_suffix: str = "vault.azure.net"
    secret_expiry_days: int = 30
    azure_metrics_endpoint: str | None = None
    metric_window_minutes: int = 15
    metric_aggregation: str = "Average"
    azure_logs_endpoint: str = "https://api.loganalytics.io"
    azure_log_workspace_id: str | None = None
    vm_resource_id: str | None = None
    metric_threshold_cpu: float = 80.0
    metric_threshold_memory: float = 500.0
    max_failure_percent: float = DEFAULT_MAX_FAILURE_PERCENT
    max_skip_percent: float = DEFAULT_MAX_SKIP_PERCENT
    category_min_tests: int = DEFAULT_CATEGORY_MIN_TESTS
    rollback_categories: frozenset[str] = DEFAULT_ROLLBACK_CATEGORIES
    category_rules: tuple[CategoryRule, ...] = ()
    #: Every variable of the profile file, for ``${VAR}`` in the checks file (may hold secrets).
    profile_values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: Where each setting came from: "default", "ini", the profile file, "environment", "option".
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def policy(self) -> Policy:
        """The gate policy these settings describe."""
        from pytest_smoke.gate import Policy

        return Policy(
            max_failure_percent=self.max_failure_percent,
            max_skip_percent=self.max_skip_percent,
            category_min_tests=self.category_min_tests,
            rollback_categories=self.rollback_categories,
            category_rules=self.category_rules,
        )

    def describe(self) -> list[tuple[str, str, str]]:
        """(setting, display value, source) for every setting not left at its default.

        Passwords in URLs and secret values are masked.
        """
        rows = []
        for spec in SPECS:
            source = self.sources.get(spec.name, "default")
            if source == "default":
                continue
            rows.append((spec.env or spec.name, display(spec, getattr(self, spec.name)), source))
        return rows


def display(spec: SettingSpec, value: Any) -> str:
    """A value as it may be shown to a person: secrets masked, lists joined."""
    if value is None:
        return ""
    if isinstance(value, tuple) and not all(isinstance(item, str) for item in value):
        return "; ".join(str(item) for item in value)  # category rules: their own text form
    if isinstance(value, (tuple, frozenset)):
        return ",".join(sorted(value) if isinstance(value, frozenset) else value)
    if spec.secret:
        return mask_url(value) if "://" in str(value) else "***"
    return f"{value:g}" if isinstance(value, float) else str(value)


def mask_url(url: str) -> str:
    """The URL with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def load_settings(
    *,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    ini: Mapping[str, str],
    rootdir: Path,
) -> Settings:
    """Resolve every setting from its sources, in precedence order, and validate it.

    ``cli`` maps setting names (and ``profile`` / ``profile_file``) to option values, ``None``
    when not given; ``ini`` maps ini keys to their raw strings. Raises :class:`SettingsError`.
    """
    profile, profile_file = _locate_profile(cli, environ, ini, rootdir)
    profile_values = read_profile(profile_file) if profile_file else {}
    origin = f"profile {profile_file.name}" if profile_file else ""

    values: dict[str, Any] = {"profile": profile, "profile_file": profile_file}
    sources: dict[str, str] = {}
    for spec in SPECS:
        raw, source, label = _pick(
            spec, cli=cli, environ=environ, profile_values=profile_values, origin=origin, ini=ini
        )
        if source is None:
            values[spec.name] = spec.default
            continue
        try:
            values[spec.name] = raw if raw is True else spec.parse(str(raw))
        except ValueError as error:
            shown = "(hidden)" if spec.secret else repr(raw)
            raise SettingsError(f"{label}={shown} ({source}) {error}") from None
        sources[spec.name] = source
    _check_login_credentials(values, sources)
    from pytest_smoke.gate import Policy, PolicyError

    try:
        Policy(
            max_failure_percent=values["max_failure_percent"],
            max_skip_percent=values["max_skip_percent"],
            category_min_tests=values["category_min_tests"],
            rollback_categories=values["rollback_categories"],
            category_rules=values["category_rules"],
        )
    except PolicyError as error:  # the parsers check the same ranges; this keeps them honest
        raise SettingsError(f"gate policy: {error}") from None
    known = {key: value for key, value in profile_values.items() if value is not None}
    return Settings(**values, sources=sources, profile_values=known)


def _check_login_credentials(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """A login URL needs the username and password its default body sends."""
    if not values["login_url"]:
        return
    credentials = (("username", "SMOKE_TEST_USERNAME"), ("password", "SMOKE_TEST_PASSWORD"))
    missing = [env for name, env in credentials if not values[name]]
    if not missing or _checks_file_has_login_body(values["checks_file"]):
        return
    verb = "is" if len(missing) == 1 else "are"
    raise SettingsError(
        f"SMOKE_TEST_LOGIN_URL is set ({sources['login_url']}) but {' and '.join(missing)} "
        f"{verb} not; set {' and '.join(missing)} in the env profile or the environment, or "
        "remove SMOKE_TEST_LOGIN_URL"
    )


def _checks_file_has_login_body(path: str | None) -> bool:
    """Whether the checks file gives ``[auth.login] body`` (credentials of its own)."""
    if path is None:
        return False
    import tomllib

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return True  # the checks file's own loader reports that, more usefully
    auth = data.get("auth")
    login = auth.get("login") if isinstance(auth, dict) else None
    return isinstance(login, dict) and login.get("body") is not None


def _pick(
    spec: SettingSpec,
    *,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    profile_values: Mapping[str, str | None],
    origin: str,
    ini: Mapping[str, str],
) -> tuple[Any, str | None, str]:
    """The raw value, where it came from, and the name the user set it by."""
    if spec.option and cli.get(spec.name) is not None:
        return cli[spec.name], "command line", spec.option
    # An empty variable is an unset one: CI systems pass a missing secret as "".
    if spec.env and environ.get(spec.env, "").strip():
        return environ[spec.env], "environment", spec.env
    if spec.env and profile_values.get(spec.env) is not None:
        return profile_values[spec.env], origin, spec.env
    if spec.ini and ini.get(spec.ini, "").strip():
        return ini[spec.ini], "ini", spec.ini
    return None, None, spec.name


def _locate_profile(
    cli: Mapping[str, Any], environ: Mapping[str, str], ini: Mapping[str, str], rootdir: Path
) -> tuple[str | None, Path | None]:
    explicit = cli.get("profile_file") or environ.get(PROFILE_FILE_ENV)
    name = cli.get("profile") or environ.get(PROFILE_ENV) or ini.get(PROFILE_INI, "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            raise SettingsError(
                f"{PROFILE_FILE_OPTION} {explicit}: no such file; pass the path of an env file "
                f"such as .env.staging"
            )
        return name or path.name.removeprefix(".env.") or None, path
    if not name:
        return None, None
    if not _PROFILE_NAME.match(name):
        raise SettingsError(
            f"{PROFILE_OPTION} {name!r} is not a profile name; use letters, digits, '.', '-', '_' "
            f"(the profile NAME is read from .env.NAME)"
        )
    path = rootdir / f".env.{name}"
    if not path.is_file():
        found = available_profiles(rootdir)
        here = (
            f"profiles in {rootdir}: {', '.join(found)}" if found else f"no profiles in {rootdir}"
        )
        raise SettingsError(
            f"{PROFILE_OPTION} {name}: unknown profile, {path} does not exist ({here}); "
            f"create it from .env.staging.example or pass {PROFILE_FILE_OPTION} PATH"
        )
    return name, path


def available_profiles(rootdir: Path) -> list[str]:
    """Profile names with a ``.env.NAME`` file in ``rootdir`` (examples excluded)."""
    return sorted(
        path.name.removeprefix(".env.")
        for path in rootdir.glob(".env.*")
        if path.is_file() and not path.name.endswith(".example")
    )


def read_profile(path: Path) -> dict[str, str | None]:
    """Parse an env file with python-dotenv; refuse malformed lines and misspelt SMOKE_ keys."""
    import difflib
    import io

    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"profile file {path} is not UTF-8 text; save it as UTF-8") from None
    except OSError as error:
        raise SettingsError(f"cannot read profile file {path}: {error.strerror}") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.string.strip().splitlines()[0][:60]
            raise SettingsError(
                f"profile file {path} line {binding.original.line} is not KEY=VALUE: {line!r}"
            )
    values = dict(dotenv_values(stream=io.StringIO(text), interpolate=True))
    for key in values:
        if key.startswith(("SMOKE_", "METRIC_THRESHOLD_")) and key not in _KNOWN_KEYS:
            close = difflib.get_close_matches(key, sorted(_KNOWN_KEYS), n=1)
            hint = f"did you mean {close[0]}?" if close else "see .env.staging.example"
            raise SettingsError(f"profile file {path}: unknown setting {key}; {hint}")
    return values

"""Env profiles, environment variables, ini values and options -> one validated, immutable Settings.

Precedence, the only place it is written down:

    command line  >  environment variable  >  .env.<profile> file  >  ini  >  default

Every setting is described once in :data:`SPECS`; the plugin builds its options and ini keys
from the same table, and ``.env.staging.example`` documents the same names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from pytest_smoke.gate import Policy, PolicyError
from pytest_smoke.markers import DEPENDENCY_MARKERS


class SettingsError(ValueError):
    """Bad configuration. The message is one line naming the setting and the fix."""


Parser = Callable[[str], Any]


@dataclass(frozen=True)
class SettingSpec:
    """How one setting is named in each source, parsed and documented."""

    name: str
    help: str
    parse: Parser
    default: Any = None
    env: str | None = None
    ini: str | None = None
    option: str | None = None
    flag: bool = False
    secret: bool = False
    metavar: str | None = None


# --- parsers: each raises ValueError with the part of the message after the setting's name ---


def _text(raw: str) -> str:
    return raw.strip()


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("is not a boolean; use true or false")


def _number(low: float, high: float | None, unit: str, example: str) -> Parser:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"is not a number; set it in {unit}, e.g. {example}") from None
        if value != value or value < low or (high is not None and value > high):  # NaN too
            bounds = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
            raise ValueError(f"is out of range; it must be {bounds} ({unit})")
        return value

    return parse


def _positive(unit: str, example: str, high: float | None = None) -> Parser:
    def parse(raw: str) -> float:
        value = float(_number(0, high, unit, example)(raw))
        if value <= 0:
            raise ValueError(f"must be more than 0 ({unit}), e.g. {example}")
        return value

    return parse


def _count(low: int) -> Parser:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"is not a whole number; use {low} or more") from None
        if value < low:
            raise ValueError(f"must be {low} or more")
        return value

    return parse


def _url(*schemes: str, example: str) -> Parser:
    def parse(raw: str) -> str:
        value = raw.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"is not a valid URL; use the form {example}") from None
        if not parts.scheme or not parts.hostname:
            raise ValueError(f"needs a scheme and a host, e.g. {example}")
        if parts.scheme.lower() not in schemes:
            raise ValueError(f"has scheme {parts.scheme!r}; use one of {', '.join(schemes)}")
        return value

    return parse


def _name_list(raw: str) -> tuple[str, ...]:
    """A JSON list (``["a", "b"]``, as in the seed documents) or a comma-separated list."""
    text = raw.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError('is not a valid JSON list; use ["a", "b"] or a,b') from None
        if not all(isinstance(item, str) for item in items):
            raise ValueError('must list names as strings, e.g. ["a", "b"]')
        return tuple(item.strip() for item in items if item.strip())
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _categories(raw: str) -> frozenset[str]:
    names = frozenset(_name_list(raw))
    unknown = sorted(names - set(DEPENDENCY_MARKERS))
    if unknown:
        raise ValueError(
            f"names unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"choose from {', '.join(DEPENDENCY_MARKERS)}"
        )
    return names


_PG_EXAMPLE: Final = "postgresql://user:password@db.example.com:5432/app"

#: Every setting, in the order the example profile and the docs list them.
SPECS: Final[tuple[SettingSpec, ...]] = (
    # -- how the run is driven --
    SettingSpec("gate", "Apply the gate's exit status (0 PROCEED/MONITOR, 10 INVESTIGATE, "
                "11 ROLLBACK) instead of pytest's.", _boolean, False,
                env="SMOKE_GATE", ini="smoke_gate", option="--smoke-gate", flag=True),
    SettingSpec("quick", "Run only tests marked critical.", _boolean, False,
                env="SMOKE_QUICK", ini="smoke_quick", option="--smoke-quick", flag=True),
    SettingSpec("report_json", "Write the gate decision as JSON to this path.", _text, None,
                env="SMOKE_REPORT_JSON", ini="smoke_report_json", option="--smoke-report-json",
                metavar="PATH"),
    # -- the deployment under test --
    SettingSpec("database_url", "PostgreSQL URL of the deployment's database.",
                _url("postgresql", "postgres", "postgresql+asyncpg", example=_PG_EXAMPLE),
                env="SMOKE_TEST_DATABASE_URL", ini="smoke_database_url", secret=True),
    SettingSpec("redis_url", "Redis URL of the event bus.",
                _url("redis", "rediss", example="redis://cache.example.com:6379/0"),
                env="SMOKE_TEST_REDIS_URL", ini="smoke_redis_url", secret=True),
    SettingSpec("gateway_url", "Base URL of the deployed service (API gateway).",
                _url("http", "https", example="https://api.example.com"),
                env="GATEWAY_URL", ini="smoke_gateway_url"),
    SettingSpec("timeout", "Seconds one operation against the deployment may take.",
                _positive("seconds", "30", high=3600), 30.0,
                env="SMOKE_TEST_TIMEOUT", ini="smoke_timeout", option="--smoke-timeout",
                metavar="SECONDS"),
    SettingSpec("connect_timeout", "Seconds to wait for a connection before a dependency "
                "counts as down.", _positive("seconds", "5", high=600), 5.0,
                env="SMOKE_TEST_CONNECT_TIMEOUT", ini="smoke_connect_timeout",
                option="--smoke-connect-timeout", metavar="SECONDS"),
    # -- Azure --
    SettingSpec("azure_keyvault_name", "Key Vault name (the vault URL is derived from it).",
                _text, env="AZURE_KEYVAULT_NAME", ini="smoke_azure_keyvault_name"),
    SettingSpec("azure_keyvault_url", "Key Vault URL; overrides AZURE_KEYVAULT_NAME.",
                _url("https", example="https://my-vault.vault.azure.net"),
                env="AZURE_KEYVAULT_URL", ini="smoke_azure_keyvault_url"),
    SettingSpec("azure_secret_list", "Secret names that must exist, enabled and not expiring.",
                _name_list, (), env="AZURE_SECRET_LIST", ini="smoke_azure_secret_list"),
    SettingSpec("azure_client_id", "Service principal client ID (with secret and tenant).",
                _text, env="AZURE_CLIENT_ID"),
    SettingSpec("azure_client_secret", "Service principal client secret.", _text,
                env="AZURE_CLIENT_SECRET", secret=True),
    SettingSpec("azure_tenant_id", "Azure AD tenant ID.", _text, env="AZURE_TENANT_ID"),
    SettingSpec("vm_resource_id", "Resource ID of the VM whose metrics are checked.", _text,
                env="VM_RESOURCE_ID", ini="smoke_vm_resource_id"),
    SettingSpec("metric_threshold_cpu", "CPU percentage above which the VM is unhealthy.",
                _number(0, 100, "percent", "80"), 80.0,
                env="METRIC_THRESHOLD_CPU", ini="smoke_metric_threshold_cpu"),
    SettingSpec("metric_threshold_memory", "Available memory (MB) below which the VM is "
                "unhealthy.", _positive("MB", "500"), 500.0,
                env="METRIC_THRESHOLD_MEMORY", ini="smoke_metric_threshold_memory"),
    # -- the gate's policy --
    SettingSpec("max_failure_percent", "ROLLBACK when more than this percent of smoke tests "
                "fail.", _number(0, 100, "percent", "20"), Policy.max_failure_percent,
                env="SMOKE_GATE_MAX_FAILURE_PERCENT", ini="smoke_max_failure_percent",
                option="--smoke-max-failure-percent", metavar="PERCENT"),
    SettingSpec("max_skip_percent", "INVESTIGATE when more than this percent of smoke tests "
                "are skipped.", _number(0, 100, "percent", "50"), Policy.max_skip_percent,
                env="SMOKE_GATE_MAX_SKIP_PERCENT", ini="smoke_max_skip_percent",
                option="--smoke-max-skip-percent", metavar="PERCENT"),
    SettingSpec("category_min_tests", "A dependency category counts as completely broken "
                "(ROLLBACK) when all of at least this many of its tests fail.", _count(1),
                Policy.category_min_tests, env="SMOKE_GATE_CATEGORY_MIN_TESTS",
                ini="smoke_category_min_tests", option="--smoke-category-min-tests",
                metavar="N"),
    SettingSpec("rollback_categories", "Categories in which any single failure means "
                "ROLLBACK (comma-separated).", _categories, Policy.rollback_categories,
                env="SMOKE_GATE_ROLLBACK_CATEGORIES", ini="smoke_rollback_categories",
                option="--smoke-rollback-categories", metavar="NAMES"),
)

PROFILE_OPTION: Final = "--smoke-env"
PROFILE_ENV: Final = "SMOKE_ENV"
PROFILE_INI: Final = "smoke_env"
PROFILE_FILE_OPTION: Final = "--smoke-env-file"
PROFILE_FILE_ENV: Final = "SMOKE_ENV_FILE"

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
    report_json: str | None = None
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    gateway_url: str | None = None
    timeout: float = 30.0
    connect_timeout: float = 5.0
    azure_keyvault_name: str | None = None
    azure_keyvault_url: str | None = None
    azure_secret_list: tuple[str, ...] = ()
    azure_client_id: str | None = None
    azure_client_secret: str | None = field(default=None, repr=False)
    azure_tenant_id: str | None = None
    vm_resource_id: str | None = None
    metric_threshold_cpu: float = 80.0
    metric_threshold_memory: float = 500.0
    max_failure_percent: float = Policy.max_failure_percent
    max_skip_percent: float = Policy.max_skip_percent
    category_min_tests: int = Policy.category_min_tests
    rollback_categories: frozenset[str] = Policy.rollback_categories
    #: Where each setting came from: "default", "ini", the profile file, "environment", "option".
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def policy(self) -> Policy:
        """The gate policy these settings describe."""
        return Policy(
            max_failure_percent=self.max_failure_percent,
            max_skip_percent=self.max_skip_percent,
            category_min_tests=self.category_min_tests,
            rollback_categories=self.rollback_categories,
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
        raw, source, label = _pick(spec, cli, environ, profile_values, origin, ini)
        if source is None:
            values[spec.name] = spec.default
            continue
        try:
            values[spec.name] = raw if raw is True else spec.parse(str(raw))
        except ValueError as error:
            shown = "(hidden)" if spec.secret else repr(raw)
            raise SettingsError(f"{label}={shown} ({source}) {error}") from None
        sources[spec.name] = source
    try:
        Policy(
            max_failure_percent=values["max_failure_percent"],
            max_skip_percent=values["max_skip_percent"],
            category_min_tests=values["category_min_tests"],
            rollback_categories=values["rollback_categories"],
        )
    except PolicyError as error:  # the parsers check the same ranges; this keeps them honest
        raise SettingsError(f"gate policy: {error}") from None
    return Settings(**values, sources=sources)


def _pick(
    spec: SettingSpec,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    profile_values: Mapping[str, str | None],
    origin: str,
    ini: Mapping[str, str],
) -> tuple[Any, str | None, str]:
    """The raw value, where it came from, and the name the user set it by."""
    if spec.option and cli.get(spec.name) is not None:
        return cli[spec.name], "command line", spec.option
    if spec.env and spec.env in environ:
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
        here = f"profiles in {rootdir}: {', '.join(found)}" if found else f"no profiles in {rootdir}"
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


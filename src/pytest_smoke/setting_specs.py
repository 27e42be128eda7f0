"""The table of every setting: its names in each source, its parser, default and help; and the
command-line options and ini keys built from it (:func:`add_options`).

Kept apart from :mod:`pytest_smoke.settings` and free of dataclasses, because the plugin builds
its options and ini keys from this table in every pytest run, smoke run or not; for the same
reason the parsers live in :mod:`pytest_smoke.setting_parsers`, imported on first use.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    # Only in annotations: building the alias at runtime goes through typing's machinery.
    Parser = Callable[[str], Any]

# The gate's defaults (pytest_smoke.gate.Policy has the same; a unit test keeps them equal).
DEFAULT_MAX_FAILURE_PERCENT: Final = 20.0
DEFAULT_MAX_SKIP_PERCENT: Final = 50.0
DEFAULT_CATEGORY_MIN_TESTS: Final = 2
DEFAULT_ROLLBACK_CATEGORIES: Final = frozenset({"database"})


class SettingSpec:
    """How one setting is named in each source, parsed and documented.

    A plain class, not a dataclass: the table is built in every pytest run, and a dataclass
    decorator costs about a millisecond to apply.
    """

    __slots__ = (
        "default",
        "env",
        "flag",
        "help",
        "ini",
        "metavar",
        "name",
        "option",
        "parse",
        "secret",
    )

    def __init__(
        self,
        name: str,
        help: str,
        parse: Parser,
        default: Any = None,
        *,
        env: str | None = None,
        ini: str | None = None,
        option: str | None = None,
        flag: bool = False,
        secret: bool = False,
        metavar: str | None = None,
    ) -> None:
        self.name = name
        self.help = help
        self.parse = parse
        self.default = default
        self.env = env
        self.ini = ini
        self.option = option
        self.flag = flag
        self.secret = secret
        self.metavar = metavar

    def __repr__(self) -> str:
        return f"SettingSpec({self.name!r})"


class _Parser:
    """A parser of :mod:`pytest_smoke.setting_parsers`, imported on the first value it parses:
    the plugin registers options and ini keys from this table in every pytest run, and needs
    no parser for that. ``arguments``: made by calling the factory ``name`` with them."""

    __slots__ = ("_arguments", "_name", "_parse")

    def __init__(
        self, name: str, arguments: tuple[tuple[Any, ...], dict[str, Any]] | None = None
    ) -> None:
        self._name = name
        self._arguments = arguments
        self._parse: Parser | None = None

    def __call__(self, raw: str) -> Any:
        if self._parse is None:
            from pytest_smoke import setting_parsers

            parser = getattr(setting_parsers, self._name)
            if self._arguments is not None:
                args, kwargs = self._arguments
                parser = parser(*args, **kwargs)
            self._parse = parser
        return self._parse(raw)

    def __repr__(self) -> str:
        return f"<parser {self._name}>"


def _factory(name: str) -> Callable[..., _Parser]:
    """``_url("https", example=...)`` in the table: a parser made from arguments."""
    return lambda *args, **kwargs: _Parser(name, (args, kwargs))


_text: Final = _Parser("text")
_boolean: Final = _Parser("boolean")
_path_expression: Final = _Parser("path_expression")
_existing_file: Final = _Parser("existing_file")
_existing_file_any: Final = _Parser("existing_file_any")
_vm_resource_id: Final = _Parser("vm_resource_id")
_name_list: Final = _Parser("name_list")
_categories: Final = _Parser("categories")
_category_rules: Final = _Parser("category_rules")
_prometheus_textfile: Final = _Parser("prometheus_textfile")
_number: Final = _factory("number")
_positive: Final = _factory("positive")
_count: Final = _factory("count")
_url: Final = _factory("url")
_choice: Final = _factory("choice")


_PG_EXAMPLE: Final = "postgresql://user:password@db.example.com:5432/app"

#: Every setting, in the order the example profile and the docs list them.
SPECS: Final[tuple[SettingSpec, ...]] = (
    # -- how the run is driven --
    SettingSpec(
        "gate",
        "Apply the gate's exit status (0 PROCEED/MONITOR, 10 INVESTIGATE, "
        "11 ROLLBACK) instead of pytest's.",
        _boolean,
        False,
        env="SMOKE_GATE",
        ini="smoke_gate",
        option="--smoke-gate",
        flag=True,
    ),
    SettingSpec(
        "quick",
        "Run only tests marked critical.",
        _boolean,
        False,
        env="SMOKE_QUICK",
        ini="smoke_quick",
        option="--smoke-quick",
        flag=True,
    ),
    SettingSpec(
        "read_only",
        "Read-only profile (production): checks that write are not run, http_client refuses "
        "POST/PUT/PATCH/DELETE to the gateway, database sessions are READ ONLY.",
        _boolean,
        False,
        env="SMOKE_TEST_READ_ONLY",
        ini="smoke_read_only",
        option="--smoke-read-only",
        flag=True,
    ),
    SettingSpec(
        "report_json",
        "Write the gate decision as JSON to this path.",
        _text,
        None,
        env="SMOKE_REPORT_JSON",
        ini="smoke_report_json",
        option="--smoke-report-json",
        metavar="PATH",
    ),
    SettingSpec(
        "prometheus_textfile",
        "Write the run's metrics (smoke_test_total, ..., smoke_gate_verdict) to this .prom "
        "file for node_exporter's textfile collector.",
        _prometheus_textfile,
        None,
        env="SMOKE_PROMETHEUS_TEXTFILE",
        ini="smoke_prometheus_textfile",
        option="--smoke-prometheus-textfile",
        metavar="PATH",
    ),
    SettingSpec(
        "pushgateway_url",
        "Push the run's metrics to this Prometheus Pushgateway (job smoke-gate, label profile).",
        _url("http", "https", example="http://pushgateway.monitoring:9091"),
        None,
        env="SMOKE_PUSHGATEWAY_URL",
        ini="smoke_pushgateway_url",
        option="--smoke-pushgateway",
        metavar="URL",
    ),
    # -- the deployment under test --
    SettingSpec(
        "database_url",
        "PostgreSQL URL of the deployment's database.",
        _url("postgresql", "postgres", "postgresql+asyncpg", example=_PG_EXAMPLE),
        env="SMOKE_TEST_DATABASE_URL",
        ini="smoke_database_url",
        secret=True,
    ),
    SettingSpec(
        "redis_url",
        "Redis URL of the event bus.",
        _url("redis", "rediss", example="redis://cache.example.com:6379/0"),
        env="SMOKE_TEST_REDIS_URL",
        ini="smoke_redis_url",
        secret=True,
    ),
    SettingSpec(
        "gateway_url",
        "Base URL of the deployed service (API gateway).",
        _url("http", "https", example="https://api.example.com"),
        env="GATEWAY_URL",
        ini="smoke_gateway_url",
    ),
    SettingSpec(
        "timeout",
        "Seconds one operation against the deployment may take.",
        _positive("seconds", "30", high=3600),
        30.0,
        env="SMOKE_TEST_TIMEOUT",
        ini="smoke_timeout",
        option="--smoke-timeout",
        metavar="SECONDS",
    ),
    SettingSpec(
        "connect_timeout",
        "Seconds to wait for a connection before a dependency counts as down.",
        _positive("seconds", "5", high=600),
        5.0,
        env="SMOKE_TEST_CONNECT_TIMEOUT",
        ini="smoke_connect_timeout",
        option="--smoke-connect-timeout",
        metavar="SECONDS",
    ),
    SettingSpec(
        "checks_file",
        "TOML file naming what the bundled suite checks on this deployment (see examples/demo).",
        _existing_file_any,
        env="SMOKE_TEST_CHECKS_FILE",
        ini="smoke_checks_file",
        option="--smoke-checks",
        metavar="PATH",
    ),
    SettingSpec(
        "sla_p95_ms",
        "Milliseconds the 95th percentile of the service's response times may reach.",
        _positive("milliseconds", "1000", high=600000),
        1000.0,
        env="SMOKE_TEST_SLA_P95_MS",
        ini="smoke_sla_p95_ms",
    ),
    SettingSpec(
        "tls_min_days",
        "Days the service's TLS certificate must stay valid for.",
        _count(0),
        14,
        env="SMOKE_TEST_TLS_MIN_DAYS",
        ini="smoke_tls_min_days",
    ),
    # -- database --
    SettingSpec(
        "db_read_only",
        "Run every db_session in a READ ONLY transaction (for production profiles).",
        _boolean,
        False,
        env="SMOKE_TEST_DB_READ_ONLY",
        ini="smoke_db_read_only",
    ),
    # -- event bus --
    SettingSpec(
        "redis_key_prefix",
        "Prefix of every Redis key, channel and stream the run writes (a run id follows it).",
        _text,
        "smoke-test",
        env="SMOKE_TEST_REDIS_PREFIX",
        ini="smoke_redis_prefix",
    ),
    SettingSpec(
        "redis_key_ttl",
        "Seconds every key the run writes lives at most (removed at teardown anyway).",
        _positive("seconds", "300", high=86400),
        300.0,
        env="SMOKE_TEST_REDIS_TTL",
        ini="smoke_redis_ttl",
    ),
    SettingSpec(
        "event_delivery_limit",
        "Deliveries of one queued event before it goes to the dead-letter stream.",
        _count(1),
        3,
        env="SMOKE_TEST_EVENT_DELIVERY_LIMIT",
        ini="smoke_event_delivery_limit",
    ),
    # -- HTTP and authentication --
    SettingSpec(
        "http_retries",
        "Retries of a request after a connect error or a 502/503/504 (0 disables).",
        _count(0),
        3,
        env="SMOKE_TEST_HTTP_RETRIES",
        ini="smoke_http_retries",
    ),
    SettingSpec(
        "http_backoff",
        "First retry delay in seconds; doubles per retry, with jitter; Retry-After wins.",
        _positive("seconds", "0.5", high=60),
        0.5,
        env="SMOKE_TEST_HTTP_BACKOFF",
        ini="smoke_http_backoff",
    ),
    SettingSpec(
        "ca_bundle",
        "PEM file of the CA(s) to trust for HTTPS (default: the system's).",
        _existing_file,
        env="SMOKE_TEST_CA_BUNDLE",
        ini="smoke_ca_bundle",
    ),
    SettingSpec(
        "client_cert",
        "PEM client certificate for mutual TLS.",
        _existing_file,
        env="SMOKE_TEST_CLIENT_CERT",
        ini="smoke_client_cert",
    ),
    SettingSpec(
        "client_key",
        "PEM private key of the client certificate (if not inside it).",
        _existing_file,
        env="SMOKE_TEST_CLIENT_KEY",
        ini="smoke_client_key",
    ),
    SettingSpec(
        "token",
        "Static bearer token for the service.",
        _text,
        env="SMOKE_TEST_TOKEN",
        secret=True,
    ),
    SettingSpec(
        "login_url",
        "Login endpoint that issues a token for SMOKE_TEST_USERNAME / SMOKE_TEST_PASSWORD.",
        _url("http", "https", example="https://api.example.com/auth/login"),
        env="SMOKE_TEST_LOGIN_URL",
        ini="smoke_login_url",
    ),
    SettingSpec(
        "username",
        "User the login endpoint authenticates.",
        _text,
        env="SMOKE_TEST_USERNAME",
        ini="smoke_username",
    ),
    SettingSpec(
        "password",
        "Password for the login endpoint.",
        _text,
        env="SMOKE_TEST_PASSWORD",
        secret=True,
    ),
    SettingSpec(
        "token_path",
        "JMESPath of the token in the login answer (access_token, user.token, data[0].token).",
        _path_expression,
        "access_token",
        env="SMOKE_TEST_TOKEN_PATH",
        ini="smoke_token_path",
    ),
    SettingSpec(
        "oauth_scope",
        "OAuth2 scope for a client-credentials token from Azure AD (with AZURE_CLIENT_*).",
        _text,
        env="SMOKE_TEST_OAUTH_SCOPE",
        ini="smoke_oauth_scope",
    ),
    # -- Azure --
    SettingSpec(
        "azure_keyvault_name",
        "Key Vault name (the vault URL is derived from it).",
        _text,
        env="AZURE_KEYVAULT_NAME",
        ini="smoke_azure_keyvault_name",
    ),
    SettingSpec(
        "azure_keyvault_url",
        "Key Vault URL; overrides AZURE_KEYVAULT_NAME.",
        _url("https", example="https://my-vault.vault.azure.net"),
        env="AZURE_KEYVAULT_URL",
        ini="smoke_azure_keyvault_url",
    ),
    SettingSpec(
        "azure_secret_list",
        "Secret names that must exist, enabled and not expiring.",
        _name_list,
        (),
        env="AZURE_SECRET_LIST",
        ini="smoke_azure_secret_list",
    ),
    SettingSpec(
        "azure_client_id",
        "Service principal client ID (with secret and tenant).",
        _text,
        env="AZURE_CLIENT_ID",
    ),
    SettingSpec(
        "azure_client_secret",
        "Service principal client secret.",
        _text,
        env="AZURE_CLIENT_SECRET",
        secret=True,
    ),
    SettingSpec("azure_tenant_id", "Azure AD tenant ID.", _text, env="AZURE_TENANT_ID"),
    SettingSpec(
        "azure_authority_host",
        "Azure AD authority for tokens (sovereign clouds, a local stand-in).",
        _url("https", example="https://login.microsoftonline.us"),
        env="AZURE_AUTHORITY_HOST",
        ini="smoke_azure_authority_host",
    ),
    SettingSpec(
        "azure_keyvault_dns_suffix",
        "DNS suffix of Key Vault in your cloud (vault.azure.net; vault.usgovcloudapi.net...).",
        _text,
        "vault.azure.net",
        env="AZURE_KEYVAULT_DNS_SUFFIX",
        ini="smoke_azure_keyvault_dns_suffix",
    ),
    SettingSpec(
        "secret_expiry_days",
        "A secret expiring within this many days counts as EXPIRING.",
        _count(0),
        30,
        env="SMOKE_TEST_SECRET_EXPIRY_DAYS",
        ini="smoke_secret_expiry_days",
    ),
    SettingSpec(
        "azure_metrics_endpoint",
        "Azure Monitor metrics endpoint of the resources' region.",
        _url("https", example="https://eastus.metrics.monitor.azure.com"),
        env="AZURE_METRICS_ENDPOINT",
        ini="smoke_azure_metrics_endpoint",
    ),
    SettingSpec(
        "metric_window_minutes",
        "Minutes of metrics the checks look back over.",
        _count(1),
        15,
        env="SMOKE_TEST_METRIC_WINDOW_MINUTES",
        ini="smoke_metric_window_minutes",
    ),
    SettingSpec(
        "metric_aggregation",
        "Aggregation of the metric values (Average, Maximum, Minimum).",
        _choice("Average", "Maximum", "Minimum"),
        "Average",
        env="SMOKE_TEST_METRIC_AGGREGATION",
        ini="smoke_metric_aggregation",
    ),
    SettingSpec(
        "azure_logs_endpoint",
        "Log Analytics query endpoint (sovereign clouds, a stand-in).",
        _url("https", example="https://api.loganalytics.io"),
        "https://api.loganalytics.io",
        env="AZURE_LOGS_ENDPOINT",
        ini="smoke_azure_logs_endpoint",
    ),
    SettingSpec(
        "azure_log_workspace_id",
        "Log Analytics workspace the log checks query.",
        _text,
        env="AZURE_LOG_WORKSPACE_ID",
        ini="smoke_azure_log_workspace_id",
    ),
    SettingSpec(
        "vm_resource_id",
        "Resource ID of the VM whose metrics are checked.",
        _vm_resource_id,
        env="VM_RESOURCE_ID",
        ini="smoke_vm_resource_id",
    ),
    SettingSpec(
        "metric_threshold_cpu",
        "CPU percentage above which the VM is unhealthy.",
        _number(0, 100, "percent", "80"),
        80.0,
        env="METRIC_THRESHOLD_CPU",
        ini="smoke_metric_threshold_cpu",
    ),
    SettingSpec(
        "metric_threshold_memory",
        "Available memory (MB) below which the VM is unhealthy.",
        _positive("MB", "500"),
        500.0,
        env="METRIC_THRESHOLD_MEMORY",
        ini="smoke_metric_threshold_memory",
    ),
    # -- the gate's policy --
    SettingSpec(
        "max_failure_percent",
        "ROLLBACK when more than this percent of smoke tests fail.",
        _number(0, 100, "percent", "20"),
        DEFAULT_MAX_FAILURE_PERCENT,
        env="SMOKE_GATE_MAX_FAILURE_PERCENT",
        ini="smoke_max_failure_percent",
        option="--smoke-max-failure-percent",
        metavar="PERCENT",
    ),
    SettingSpec(
        "max_skip_percent",
        "INVESTIGATE when more than this percent of smoke tests are skipped.",
        _number(0, 100, "percent", "50"),
        DEFAULT_MAX_SKIP_PERCENT,
        env="SMOKE_GATE_MAX_SKIP_PERCENT",
        ini="smoke_max_skip_percent",
        option="--smoke-max-skip-percent",
        metavar="PERCENT",
    ),
    SettingSpec(
        "category_min_tests",
        "A dependency category counts as completely broken "
        "(ROLLBACK) when all of at least this many of its tests fail.",
        _count(1),
        DEFAULT_CATEGORY_MIN_TESTS,
        env="SMOKE_GATE_CATEGORY_MIN_TESTS",
        ini="smoke_category_min_tests",
        option="--smoke-category-min-tests",
        metavar="N",
    ),
    SettingSpec(
        "rollback_categories",
        "Categories in which any single failure means ROLLBACK (comma-separated).",
        _categories,
        DEFAULT_ROLLBACK_CATEGORIES,
        env="SMOKE_GATE_ROLLBACK_CATEGORIES",
        ini="smoke_rollback_categories",
        option="--smoke-rollback-categories",
        metavar="NAMES",
    ),
    SettingSpec(
        "category_rules",
        "Pass-rate rules per category, e.g. 'workflow: rollback<50, investigate<=80; "
        "service: rollback<90' (none by default).",
        _category_rules,
        (),
        env="SMOKE_GATE_CATEGORY_RULES",
        ini="smoke_category_rules",
        option="--smoke-category-rules",
        metavar="RULES",
    ),
)

PROFILE_OPTION: Final = "--smoke-env"
PROFILE_ENV: Final = "SMOKE_ENV"
PROFILE_INI: Final = "smoke_env"
PROFILE_FILE_OPTION: Final = "--smoke-env-file"
PROFILE_FILE_ENV: Final = "SMOKE_ENV_FILE"


# --- the table as pytest options and ini keys ---

_PROFILE_HELP: Final = (
    "Load the env profile .env.NAME from the rootdir (python-dotenv syntax). "
    "Precedence: command line > environment variable > profile > ini > default."
)
_PROFILE_FILE_HELP: Final = "Load the env profile from PATH instead of .env.NAME."

#: Settings whose presence alone means the user asked for a smoke run.
_RUN_SETTINGS: Final = ("gate", "quick", "report_json")


def _dest(name: str) -> str:
    return f"smoke_{name}"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("smoke", "smoke gate (pytest-smoke-gate)")
    group.addoption(
        PROFILE_OPTION,
        dest=_dest("profile"),
        metavar="NAME",
        default=None,
        help=f"{_PROFILE_HELP} [env {PROFILE_ENV}, ini {PROFILE_INI}]",
    )
    # addini without a type: a string key, without pytest 9's look at the type (typing.get_origin)
    parser.addini(PROFILE_INI, _PROFILE_HELP, default="")
    group.addoption(
        PROFILE_FILE_OPTION,
        dest=_dest("profile_file"),
        metavar="PATH",
        default=None,
        help=f"{_PROFILE_FILE_HELP} [env {PROFILE_FILE_ENV}]",
    )
    for spec in SPECS:
        if spec.option:
            # Every setting with an option has an environment variable and an ini key.
            kind = {"action": "store_true"} if spec.flag else {"metavar": spec.metavar}
            group.addoption(
                spec.option,
                dest=_dest(spec.name),
                default=None,
                help=f"{spec.help} [env {spec.env}, ini {spec.ini}]",
                **kind,
            )
        if spec.ini:
            parser.addini(spec.ini, f"{spec.help} [env {spec.env}]", default="")


def cli_values(config: pytest.Config) -> dict[str, Any]:
    """Option values by setting name; ``None`` where the option was not given."""
    names = ["profile", "profile_file", *(spec.name for spec in SPECS if spec.option)]
    return {name: config.getoption(_dest(name)) for name in names}


def ini_values(config: pytest.Config) -> dict[str, str]:
    keys = [PROFILE_INI, *(spec.ini for spec in SPECS if spec.ini)]
    return {key: str(config.getini(key)) for key in keys}


def smoke_run_requested(config: pytest.Config) -> bool:
    """Whether the user explicitly asked for a smoke run (then bad settings stop it at once)."""
    if any(value is not None for value in cli_values(config).values()):
        return True
    specs = {spec.name: spec for spec in SPECS}
    env_names = [PROFILE_ENV, PROFILE_FILE_ENV, *(specs[n].env for n in _RUN_SETTINGS)]
    ini_names = [PROFILE_INI, *(specs[n].ini for n in _RUN_SETTINGS)]
    return any(name and os.environ.get(name) for name in env_names) or any(
        name and str(config.getini(name)).strip() for name in ini_names
    )

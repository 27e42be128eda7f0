"""Which smoke tests apply to the configured deployment, and why the others do not.

A smoke test whose feature the profile does not configure (no Redis URL, no ``[crud]`` in the
checks file, a plain-HTTP gateway for a TLS check) is *not applicable*: the plugin deselects it
at collection and lists it once under its reason, so it is never counted as skipped. Under a
read-only profile the checks that write are not run, the same way.

Three sources, checked in this order, the first reason wins:

1. the fixtures a test uses (:data:`FIXTURE_FEATURES`: one table, fixture -> feature);
2. its ``needs_checks(*keys)`` marker (checks-file keys; a few may come from a setting instead,
   :data:`CHECKS_KEY_SETTINGS`) and its ``needs_https`` marker;
3. its ``writes`` marker under a read-only profile (``SMOKE_TEST_READ_ONLY``), or under
   ``SMOKE_TEST_DB_READ_ONLY`` when it also uses the database.

Plain data in and out (no pytest here at import): this runs at the collection of every smoke
run, so it only reads settings and, when a test asks for a key, the checks file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pytest_smoke.markers import NEEDS_HTTPS, WRITES, needs_checks_keys

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    import pytest

    from pytest_smoke.checks.model import Checks
    from pytest_smoke.settings import Settings


class Feature:
    """Something a profile configures, what to set for it, and how to tell it is set.

    A plain class, not a dataclass: the table is built at import, in every pytest run.
    """

    __slots__ = ("configured", "name", "needs")

    def __init__(
        self, name: str, needs: str, configured: Callable[[Settings, Callable[[], Checks]], bool]
    ) -> None:
        self.name = name
        self.needs = needs
        self.configured = configured

    @property
    def reason(self) -> str:
        return f"{self.name} ({self.needs})"

    def __repr__(self) -> str:
        return f"Feature({self.name!r})"


def _auth_configured(settings: Settings, checks: Callable[[], Checks]) -> bool:
    return bool(
        settings.token
        or settings.login_url
        or settings.oauth_scope
        # a login in the checks file: [auth.login] url (D's token provider reads it)
        or checks().has("auth.login.url")
    )


DATABASE: Final = Feature("database", "SMOKE_TEST_DATABASE_URL", lambda s, c: bool(s.database_url))
REDIS: Final = Feature("redis", "SMOKE_TEST_REDIS_URL", lambda s, c: bool(s.redis_url))
SERVICE: Final = Feature("service", "GATEWAY_URL", lambda s, c: bool(s.gateway_url))
AUTH: Final = Feature(
    "auth",
    "SMOKE_TEST_TOKEN, SMOKE_TEST_LOGIN_URL or [auth.login] url, or SMOKE_TEST_OAUTH_SCOPE",
    _auth_configured,
)
SECRETS: Final = Feature(
    "secrets",
    "AZURE_KEYVAULT_NAME or AZURE_KEYVAULT_URL",
    lambda s, c: bool(s.azure_keyvault_name or s.azure_keyvault_url),
)
METRICS: Final = Feature(
    "metrics", "AZURE_METRICS_ENDPOINT", lambda s, c: bool(s.azure_metrics_endpoint)
)
LOGS: Final = Feature("logs", "AZURE_LOG_WORKSPACE_ID", lambda s, c: bool(s.azure_log_workspace_id))

#: The one table of fixture-based applicability: a gated test that uses one of these fixtures
#: (directly or through another fixture) needs its feature. The fixtures themselves still skip
#: at run time when not configured, for tests that are not gated. Keyed by the ``smoke_`` names:
#: the generic ones (``db_session``) depend on them, so a test that uses ours has both in its
#: fixture closure, and a test that uses a project's own ``db_session`` has neither.
FIXTURE_FEATURES: Final[dict[str, Feature]] = {
    "smoke_db_engine": DATABASE,
    "smoke_db_session": DATABASE,
    "smoke_db_sessionmaker": DATABASE,
    "smoke_redis_client": REDIS,
    "smoke_event_bus": REDIS,
    "smoke_http_client": SERVICE,
    "smoke_test_user_token": AUTH,
    "smoke_auth_headers": AUTH,
    "smoke_keyvault_client": SECRETS,
    "smoke_metrics_client": METRICS,
    "smoke_logs_client": LOGS,
}

#: Checks-file keys that a setting can supply instead: ``needs_checks("azure.secrets")`` is
#: satisfied by ``AZURE_SECRET_LIST`` too (a marker cannot say "this setting or that key").
CHECKS_KEY_SETTINGS: Final[dict[str, tuple[str, str]]] = {
    "azure.secrets": ("azure_secret_list", "AZURE_SECRET_LIST"),
    "azure.vm_resource_ids": ("vm_resource_id", "VM_RESOURCE_ID"),
}

#: Fixtures through which a test writes to the database.
DATABASE_FIXTURES: Final = frozenset(
    name for name, feature in FIXTURE_FEATURES.items() if feature is DATABASE
)

READ_ONLY: Final = "read-only profile"
DB_READ_ONLY: Final = "read-only database (SMOKE_TEST_DB_READ_ONLY)"
#: Reasons that say "not run" (the deployment forbids it) rather than "not configured".
NOT_RUN_REASONS: Final = (READ_ONLY, DB_READ_ONLY)

_CHECKS_FILE: Final = "checks file "
_TLS: Final = "tls ("
_FEATURE_ORDER: Final = {
    feature.reason: index for index, feature in enumerate(dict.fromkeys(FIXTURE_FEATURES.values()))
}


def not_applicable(
    items: Iterable[pytest.Item], settings: Settings, checks: Callable[[], Checks]
) -> dict[str, list[pytest.Item]]:
    """The items that do not apply to this deployment, grouped by reason (in
    :func:`reason_order`); an item not in any group applies. ``checks`` is called only when a
    test's applicability depends on the checks file."""
    configured: dict[Feature, bool] = {}
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        reason = _reason(item, settings, checks, configured)
        if reason is not None:
            groups.setdefault(reason, []).append(item)
    return {reason: groups[reason] for reason in sorted(groups, key=reason_order)}


def _reason(
    item: pytest.Item,
    settings: Settings,
    checks: Callable[[], Checks],
    configured: dict[Feature, bool],
) -> str | None:
    fixtures = getattr(item, "fixturenames", ())
    for name in fixtures:
        feature = FIXTURE_FEATURES.get(name)
        if feature is None:
            continue
        if feature not in configured:
            configured[feature] = feature.configured(settings, checks)
        if not configured[feature]:
            return feature.reason
    for key in needs_checks_keys(item):
        missing = _missing_key(key, settings, checks)
        if missing is not None:
            return missing
    if item.get_closest_marker(NEEDS_HTTPS) is not None:
        url = settings.gateway_url
        if not url:
            return f"{_TLS}GATEWAY_URL is not set)"
        scheme = url.partition("://")[0].lower()
        if scheme != "https":
            return f"{_TLS}GATEWAY_URL is {scheme}://)"
    if item.get_closest_marker(WRITES) is not None:
        if settings.read_only:
            return READ_ONLY
        if settings.db_read_only and not DATABASE_FIXTURES.isdisjoint(fixtures):
            return DB_READ_ONLY
    return None


def _missing_key(key: str, settings: Settings, checks: Callable[[], Checks]) -> str | None:
    """``checks file <what to add>`` when ``key`` is not set, else None."""
    alternative = CHECKS_KEY_SETTINGS.get(key)
    if alternative is not None and getattr(settings, alternative[0]):
        return None
    loaded = checks()
    if loaded.has(key):
        return None
    if alternative is not None:
        return f"{_CHECKS_FILE}{key} or {alternative[1]}"
    # Name the outermost table the file lacks: "[crud]" missing is one thing to add, not five.
    parts = key.split(".")
    missing = next(
        (
            ".".join(parts[:depth])
            for depth in range(1, len(parts))
            if loaded.get(".".join(parts[:depth])) is None
        ),
        key,
    )
    return f"{_CHECKS_FILE}{missing}"


def read_only_reason(settings: Settings) -> str | None:
    """Why ``http_client`` refuses writes ("profile 'prod' is read-only (SMOKE_TEST_READ_ONLY)"),
    or None when the profile is not read-only."""
    if not settings.read_only:
        return None
    source = settings.sources.get("read_only")
    setting = {"command line": "--smoke-read-only", "ini": "smoke_read_only"}.get(
        source or "", "SMOKE_TEST_READ_ONLY"
    )
    who = f"profile {settings.profile!r}" if settings.profile else "this run"
    return f"{who} is read-only ({setting})"


def reason_order(reason: str) -> tuple[int, int, str]:
    """Sort key: features in table order, then TLS, the checks file, and the read-only ones."""
    if reason in _FEATURE_ORDER:
        return (0, _FEATURE_ORDER[reason], reason)
    if reason.startswith(_TLS):
        return (1, 0, reason)
    if reason.startswith(_CHECKS_FILE):
        return (2, 0, reason)
    if reason in NOT_RUN_REASONS:
        return (4, NOT_RUN_REASONS.index(reason), reason)
    return (3, 0, reason)


def summary_lines(groups: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """``not configured: a, b: N checks`` and ``not run: <reason>: N checks that write``."""
    lines: list[str] = []
    configured = [(reason, tests) for reason, tests in groups if reason not in NOT_RUN_REASONS]
    if configured:
        count = sum(len(tests) for _, tests in configured)
        named = [reason for reason, _ in configured if not reason.startswith(_CHECKS_FILE)]
        keys = [reason[len(_CHECKS_FILE) :] for reason, _ in configured if reason not in named]
        if keys:  # "checks file a, b" rather than "checks file a, checks file b"
            named.append(_CHECKS_FILE + ", ".join(keys))
        lines.append(f"not configured: {', '.join(named)}: {_checks(count)}")
    lines.extend(
        f"not run: {reason}: {_checks(len(tests))} that write{'s' if len(tests) == 1 else ''}"
        for reason, tests in groups
        if reason in NOT_RUN_REASONS
    )
    return lines


def merge_groups(groups: Iterable[tuple[str, Iterable[str]]]) -> list[tuple[str, list[str]]]:
    """Union by reason, each test once (first seen), reasons in :func:`reason_order`.

    For the reports of xdist workers (each collects the whole suite) and of shards.
    """
    merged: dict[str, dict[str, None]] = {}
    for reason, tests in groups:
        merged.setdefault(reason, {}).update(dict.fromkeys(tests))
    return [(reason, list(merged[reason])) for reason in sorted(merged, key=reason_order)]


def _checks(count: int) -> str:
    return f"{count} check{'' if count == 1 else 's'}"

"""Which smoke tests apply to a deployment: the table, the reasons, their order and wording."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_smoke import features
from pytest_smoke.checks.model import Checks
from pytest_smoke.settings import Settings


class FakeMark:
    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.name, self.args, self.kwargs = name, args, kwargs


class FakeItem:
    """What features.not_applicable reads from a pytest item."""

    def __init__(self, name: str, *marks: FakeMark, fixtures: tuple[str, ...] = ()) -> None:
        self.nodeid = f"test_x.py::{name}"
        self.fixturenames = list(fixtures)
        self._marks = marks

    def iter_markers(self, name: str) -> list[FakeMark]:
        return [mark for mark in self._marks if mark.name == name]

    def get_closest_marker(self, name: str) -> FakeMark | None:
        return next(iter(self.iter_markers(name)), None)


def reasons(items: list[FakeItem], settings: Settings, checks: Checks | None = None) -> dict:
    groups = features.not_applicable(items, settings, lambda: checks or Checks())  # type: ignore[arg-type]
    return {
        reason: [item.nodeid.split("::")[1] for item in group] for reason, group in groups.items()
    }


def test_every_public_dependency_fixture_is_in_the_table() -> None:
    assert set(features.FIXTURE_FEATURES) == {
        "smoke_db_engine",
        "smoke_db_session",
        "smoke_db_sessionmaker",
        "smoke_redis_client",
        "smoke_event_bus",
        "smoke_http_client",
        "smoke_test_user_token",
        "smoke_auth_headers",
        "smoke_keyvault_client",
        "smoke_metrics_client",
        "smoke_logs_client",
    }


def test_fixtures_need_their_setting() -> None:
    items = [
        FakeItem("db", fixtures=("request", "smoke_db_session")),
        FakeItem("bus", fixtures=("smoke_event_bus",)),
        FakeItem("http", fixtures=("smoke_http_client",)),
        FakeItem("vault", fixtures=("smoke_keyvault_client",)),
        FakeItem("plain", fixtures=("tmp_path",)),
    ]
    assert reasons(items, Settings(gateway_url="https://api.example.com")) == {
        "database (SMOKE_TEST_DATABASE_URL)": ["db"],
        "redis (SMOKE_TEST_REDIS_URL)": ["bus"],
        "secrets (AZURE_KEYVAULT_NAME or AZURE_KEYVAULT_URL)": ["vault"],
    }


@pytest.mark.parametrize(
    ("settings", "checks", "applies"),
    [
        (Settings(), Checks(), False),
        (Settings(token="t"), Checks(), True),
        (Settings(login_url="https://x.example.com/login"), Checks(), True),
        (Settings(oauth_scope="api://x/.default"), Checks(), True),
        (Settings(), Checks({"auth": {"login": {"url": "/api/login"}}}), True),
        (Settings(), Checks({"auth": {"protected": "/api/items"}}), False),
    ],
)
def test_auth_needs_a_token_source(settings: Settings, checks: Checks, applies: bool) -> None:
    found = reasons([FakeItem("t", fixtures=("smoke_auth_headers",))], settings, checks)
    assert (found == {}) is applies


def test_the_checks_file_is_read_only_when_a_test_needs_it() -> None:
    asked: list[int] = []

    def checks() -> Checks:
        asked.append(1)
        return Checks()

    features.not_applicable([FakeItem("db", fixtures=("smoke_db_session",))], Settings(), checks)  # type: ignore[list-item]
    assert asked == []


def test_needs_checks_names_the_outermost_missing_table() -> None:
    checks = Checks({"crud": {"collection": "/api/items", "list": {"items": "items"}}})
    items = [
        FakeItem("filter", FakeMark("needs_checks", "crud.list.filter_param")),
        FakeItem("update", FakeMark("needs_checks", "crud.collection", "crud.update")),
        FakeItem("events", FakeMark("needs_checks", "events.channel")),
        FakeItem("ok", FakeMark("needs_checks", "crud.list.items")),
    ]
    assert reasons(items, Settings(), checks) == {
        "checks file crud.list.filter_param": ["filter"],
        "checks file crud.update": ["update"],
        "checks file events": ["events"],
    }


def test_a_setting_can_stand_in_for_a_checks_key() -> None:
    item = FakeItem("secrets", FakeMark("needs_checks", "azure.secrets"))
    assert reasons([item], Settings()) == {
        "checks file azure.secrets or AZURE_SECRET_LIST": ["secrets"]
    }
    assert reasons([item], Settings(azure_secret_list=("db-password",))) == {}
    assert reasons([item], Settings(), Checks({"azure": {"secrets": ["db-password"]}})) == {}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (None, "tls (GATEWAY_URL is not set)"),
        ("http://api.example.com", "tls (GATEWAY_URL is http://)"),
        ("HTTPS://api.example.com", None),
    ],
)
def test_needs_https(url: str | None, reason: str | None) -> None:
    found = reasons([FakeItem("tls", FakeMark("needs_https"))], Settings(gateway_url=url))
    assert found == ({reason: ["tls"]} if reason else {})


def test_writes_under_a_read_only_profile() -> None:
    items = [
        FakeItem("http_write", FakeMark("writes"), fixtures=("smoke_http_client",)),
        FakeItem("db_write", FakeMark("writes"), fixtures=("smoke_db_session",)),
        FakeItem("read", fixtures=("smoke_http_client", "smoke_db_session")),
    ]
    full = Settings(gateway_url="http://x.example.com", database_url="postgresql://db/app")
    assert reasons(items, full) == {}
    read_only = Settings(
        gateway_url="http://x.example.com", database_url="postgresql://db/app", read_only=True
    )
    assert reasons(items, read_only) == {"read-only profile": ["http_write", "db_write"]}
    db_only = Settings(
        gateway_url="http://x.example.com", database_url="postgresql://db/app", db_read_only=True
    )
    assert reasons(items, db_only) == {"read-only database (SMOKE_TEST_DB_READ_ONLY)": ["db_write"]}


def test_not_configured_comes_before_read_only() -> None:
    item = FakeItem("bus_write", FakeMark("writes"), fixtures=("smoke_event_bus",))
    assert reasons([item], Settings(read_only=True)) == {
        "redis (SMOKE_TEST_REDIS_URL)": ["bus_write"]
    }


@pytest.mark.parametrize(
    ("mark", "message"),
    [
        (FakeMark("needs_checks"), "no key given"),
        (FakeMark("needs_checks", "crud..update"), "is not a dotted checks-file key"),
        (FakeMark("needs_checks", 3), "is not a dotted checks-file key"),
        (FakeMark("needs_checks", "crud", optional=True), "takes no keyword arguments"),
    ],
)
def test_a_bad_needs_checks_marker_is_a_usage_error(mark: FakeMark, message: str) -> None:
    with pytest.raises(pytest.UsageError, match=f"^test_x.py::bad: needs_checks: .*{message}"):
        reasons([FakeItem("bad", mark)], Settings())


def test_reasons_are_ordered_features_tls_checks_file_read_only() -> None:
    shuffled = [
        "read-only profile",
        "checks file crud",
        "tls (GATEWAY_URL is http://)",
        "redis (SMOKE_TEST_REDIS_URL)",
        "read-only database (SMOKE_TEST_DB_READ_ONLY)",
        "database (SMOKE_TEST_DATABASE_URL)",
        "checks file azure.secrets or AZURE_SECRET_LIST",
    ]
    assert sorted(shuffled, key=features.reason_order) == [
        "database (SMOKE_TEST_DATABASE_URL)",
        "redis (SMOKE_TEST_REDIS_URL)",
        "tls (GATEWAY_URL is http://)",
        "checks file azure.secrets or AZURE_SECRET_LIST",
        "checks file crud",
        "read-only profile",
        "read-only database (SMOKE_TEST_DB_READ_ONLY)",
    ]


def test_summary_lines() -> None:
    groups = [
        ("redis (SMOKE_TEST_REDIS_URL)", ["a", "b"]),
        ("secrets (AZURE_KEYVAULT_NAME or AZURE_KEYVAULT_URL)", ["c"]),
        ("checks file crud.list.filter_param", ["d", "e"]),
        ("read-only profile", [f"w{i}" for i in range(9)]),
    ]
    assert features.summary_lines(groups) == [
        "not configured: redis (SMOKE_TEST_REDIS_URL), secrets (AZURE_KEYVAULT_NAME or "
        "AZURE_KEYVAULT_URL), checks file crud.list.filter_param: 5 checks",
        "not run: read-only profile: 9 checks that write",
    ]
    assert features.summary_lines([("read-only profile", ["w"])]) == [
        "not run: read-only profile: 1 check that writes"
    ]
    assert features.summary_lines([]) == []


def test_merge_groups_unions_by_reason_each_test_once() -> None:
    merged = features.merge_groups(
        [
            ("read-only profile", ["w1"]),
            ("redis (SMOKE_TEST_REDIS_URL)", ["a", "b"]),
            ("redis (SMOKE_TEST_REDIS_URL)", ["b", "c"]),
            ("read-only profile", ["w1", "w2"]),
        ]
    )
    assert merged == [
        ("redis (SMOKE_TEST_REDIS_URL)", ["a", "b", "c"]),
        ("read-only profile", ["w1", "w2"]),
    ]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (Settings(), None),
        (
            Settings(read_only=True, profile="prod", sources={"read_only": "profile .env.prod"}),
            "profile 'prod' is read-only (SMOKE_TEST_READ_ONLY)",
        ),
        (
            Settings(read_only=True, sources={"read_only": "command line"}),
            "this run is read-only (--smoke-read-only)",
        ),
        (
            Settings(read_only=True, sources={"read_only": "ini"}),
            "this run is read-only (smoke_read_only)",
        ),
    ],
)
def test_read_only_reason(settings: Settings, expected: str | None) -> None:
    assert features.read_only_reason(settings) == expected


def test_missing_checks_file_keys_are_named_once_under_the_checks_file() -> None:
    from pytest_smoke.features import summary_lines

    groups = [
        ("redis (SMOKE_TEST_REDIS_URL)", ["a"]),
        ("checks file rate_limit", ["b"]),
        ("checks file production", ["c", "d"]),
    ]
    assert summary_lines(groups) == [
        "not configured: redis (SMOKE_TEST_REDIS_URL), checks file rate_limit, production: 4 checks"
    ]

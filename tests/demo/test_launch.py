"""The demo launcher (python -m pytest_smoke.demo.launch) end to end: subprocesses, real servers.

``up`` uses the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) when they answer, or
starts throwaway ones (forced here with the hidden ``--throwaway`` flag). Every test that starts a
demo stops it again, however the test ends. Both apps: ``items`` (the default) and ``articles``
(``--app articles``: PostgreSQL only, plain HTTP).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import redis

from pytest_smoke.settings import read_profile

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = ROOT / "src" / "pytest_smoke" / "demo"
ITEMS_DIR = DEMO_DIR / "items"
LAUNCH = DEMO_DIR / "launch.py"
LAUNCHER = "pytest_smoke.demo.launch"
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
PROFILE_KEYS = {
    "SMOKE_TEST_DATABASE_URL",
    "SMOKE_TEST_REDIS_URL",
    "GATEWAY_URL",
    "SMOKE_TEST_CA_BUNDLE",
    "SMOKE_TEST_LOGIN_URL",
    "SMOKE_TEST_USERNAME",
    "SMOKE_TEST_PASSWORD",
    "SMOKE_TEST_CHECKS_FILE",
    "DEMO_EVENT_CHANNEL",
    # the Azure stand-in's
    "AZURE_KEYVAULT_URL",
    "AZURE_SECRET_LIST",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
    "AZURE_METRICS_ENDPOINT",
    "AZURE_LOGS_ENDPOINT",
    "VM_RESOURCE_ID",
    "AZURE_LOG_WORKSPACE_ID",
}
ARTICLES_DIR = DEMO_DIR / "articles"
ARTICLES_PROFILE_KEYS = {
    "GATEWAY_URL",
    "SMOKE_TEST_DATABASE_URL",
    "SMOKE_TEST_USERNAME",
    "SMOKE_TEST_PASSWORD",
    "SMOKE_TEST_CHECKS_FILE",
}
PG_NOT_FOUND = (
    "launch.py: PostgreSQL not found: start one and set SMOKE_DEMO_POSTGRES_URL, "
    "or install it (Debian: apt-get install postgresql)"
)
REDIS_NOT_FOUND = (
    "launch.py: Redis not found: start one and set SMOKE_DEMO_REDIS_URL, "
    "or install it (Debian: apt-get install redis-server)"
)


def postgres_answers(url: str) -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=2)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def pg_binaries() -> bool:
    return bool(shutil.which("pg_ctl") or list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")))


LOCAL_SERVICES = postgres_answers(LOCAL_POSTGRES_URL) and redis_answers(LOCAL_REDIS_URL)
needs_app = pytest.mark.skipif(
    not ((ITEMS_DIR / "app.py").exists() and (ITEMS_DIR / "schema.sql").exists()),
    reason="pytest_smoke/demo/items/app.py and schema.sql are not written yet",
)
needs_local_services = pytest.mark.skipif(
    not LOCAL_SERVICES, reason="no PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379"
)
needs_local_postgres = pytest.mark.skipif(
    not postgres_answers(LOCAL_POSTGRES_URL), reason="no PostgreSQL on 127.0.0.1:5432"
)
needs_server_binaries = pytest.mark.skipif(
    not (pg_binaries() and shutil.which("redis-server")),
    reason="PostgreSQL (initdb, pg_ctl) or redis-server is not installed",
)


def launcher(
    *args: str, env: dict[str, str] | None = None, script: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The launcher as users run it (``python -m pytest_smoke.demo.launch``), or ``script``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "DEMO_", "PYTEST_"))
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *(["-m", LAUNCHER] if script is None else [str(script)]), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def database_exists(database_url: str) -> bool:
    """Is the database of ``database_url`` in pg_database (asked as its user, from 'postgres')?"""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")

    async def look() -> bool:
        conn = await asyncpg.connect(parts._replace(path="/postgres").geturl(), timeout=5)
        try:
            count = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
        finally:
            await conn.close()
        return bool(count)

    return asyncio.run(look())


def health(profile: dict[str, str]) -> httpx.Response:
    context = ssl.create_default_context(cafile=profile["SMOKE_TEST_CA_BUNDLE"])
    return httpx.get(f"{profile['GATEWAY_URL']}/health", verify=context, timeout=10)


@dataclass
class Demo:
    state_dir: Path
    profile_path: Path
    profile: dict[str, str]
    stderr: str


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Callable[..., Demo]]:
    """``up(name, *args, env=...)``: a demo in ``tmp_path/name``; all are stopped at the end."""
    started: list[tuple[Path, dict[str, str] | None]] = []

    def start(name: str, *args: str, env: dict[str, str] | None = None) -> Demo:
        state_dir = tmp_path / name
        started.append((state_dir, env))
        result = launcher("up", "--state-dir", str(state_dir), *args, env=env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 1, result.stdout
        path = Path(lines[0])
        values = read_profile(path)  # the suite's own parser accepts it
        profile = {key: value for key, value in values.items() if value is not None}
        return Demo(state_dir, path, profile, result.stderr)

    yield start
    for state_dir, env in started:
        launcher("down", "--state-dir", str(state_dir), env=env)


def down(demo: Demo, env: dict[str, str] | None = None) -> None:
    result = launcher("down", "--state-dir", str(demo.state_dir), env=env)
    assert result.returncode == 0, result.stderr


# --- no servers needed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["up"],
        ["down"],
        ["up", "--state-dir", "x", "--fault", "no-such-fault"],
        ["sideways"],
        ["up", "--state-dir", "x", "--app", "no-such-app"],
        ["up", "--state-dir", "x", "--app", "articles", "--fault", "slow"],
    ],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    result = launcher(*args)
    assert result.returncode == 2
    assert "usage: launch.py" in result.stderr


def test_a_fault_the_articles_app_lacks_is_named() -> None:
    result = launcher("up", "--state-dir", "x", "--app", "articles", "--fault", "events-off")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "launch.py up: error: argument --fault: 'events-off' is not a fault of the articles app "
        "(choose from database-down, endpoint-500, auth-broken)"
    )


def test_help_does_not_show_the_hidden_flag() -> None:
    result = launcher("up", "--help")
    assert result.returncode == 0
    assert "--state-dir" in result.stdout
    assert "--fault" in result.stdout
    assert "{items,articles}" in result.stdout
    assert "--throwaway" not in result.stdout


def test_down_without_a_demo_is_a_no_op(tmp_path: Path) -> None:
    result = launcher("down", "--state-dir", str(tmp_path / "never-up"))
    assert result.returncode == 0
    assert "nothing to stop" in result.stderr
    assert not (tmp_path / "never-up").exists()


def test_missing_postgresql_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = launcher(
        "up",
        "--state-dir",
        str(tmp_path / "state"),
        "--throwaway",
        env={"PATH": str(empty), "SMOKE_DEMO_PG_BIN_DIRS": str(empty / "*")},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [PG_NOT_FOUND]
    assert result.stdout == ""
    assert not (tmp_path / "state").exists()


@needs_local_postgres
def test_missing_redis_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = launcher(
        "up",
        "--state-dir",
        str(tmp_path / "state"),
        "--throwaway",
        env={"PATH": str(empty), "SMOKE_DEMO_POSTGRES_URL": LOCAL_POSTGRES_URL},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == REDIS_NOT_FOUND
    assert result.stdout == ""
    assert not (tmp_path / "state").exists()


def test_an_unreachable_configured_server_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    result = launcher(
        "up",
        "--state-dir",
        str(tmp_path / "state"),
        env={"SMOKE_DEMO_POSTGRES_URL": f"postgresql://postgres:secret@127.0.0.1:{closed}/x"},
    )
    assert result.returncode == 1
    message = result.stderr.splitlines()[-1]
    assert message.startswith(
        f"launch.py: PostgreSQL at postgresql://postgres:***@127.0.0.1:{closed}"
    )
    assert "secret" not in result.stderr
    assert not (tmp_path / "state").exists()


@needs_local_services
def test_a_service_that_does_not_start_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    """A stand-in app that fails at import, next to a copy of the launcher."""
    demo_dir = tmp_path / "demo"
    (demo_dir / "items").mkdir(parents=True)
    shutil.copy(LAUNCH, demo_dir / "launch.py")
    (demo_dir / "items" / "schema.sql").write_text("CREATE TABLE probe (id int);\n")
    (demo_dir / "items" / "app.py").write_text(
        "raise RuntimeError('stand-in app: boom at import')\n"
    )
    state_dir = tmp_path / "state"
    result = launcher("up", "--state-dir", str(state_dir), script=demo_dir / "launch.py")
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "the service exited with status" in result.stderr
    assert "boom at import" in result.stderr  # the last lines of app.log
    database = next(
        line.split("database: ")[1].split(",")[0]
        for line in result.stderr.splitlines()
        if "database: smoke_demo_" in line
    )
    assert not database_exists(f"{LOCAL_POSTGRES_URL.rpartition('/')[0]}/{database}")
    assert not state_dir.exists()


# --- the real demo -----------------------------------------------------------------------------


@needs_app
@needs_local_services
def test_two_demos_side_by_side_then_down(up: Callable[..., Demo], tmp_path: Path) -> None:
    first = up("first")
    second = up("second", "--profile-out", str(tmp_path / "profiles" / ".env.second"))
    for demo in (first, second):
        assert set(demo.profile) == PROFILE_KEYS
        assert stat.S_IMODE(demo.profile_path.stat().st_mode) == 0o600
        assert stat.S_IMODE((demo.state_dir / "state.json").stat().st_mode) == 0o600
        for name in ("ca.pem", "server.pem", "server.key", "app.log"):
            assert (demo.state_dir / name).is_file()
        profile = demo.profile
        gateway = profile["GATEWAY_URL"]
        assert gateway.startswith("https://127.0.0.1:")
        assert profile["SMOKE_TEST_LOGIN_URL"] == f"{gateway}/auth/login"
        assert profile["SMOKE_TEST_CA_BUNDLE"] == str(demo.state_dir / "ca.pem")
        assert profile["SMOKE_TEST_CHECKS_FILE"] == str(ITEMS_DIR / "smoke-checks.toml")
        assert profile["DEMO_EVENT_CHANNEL"].startswith("demo:items:")
        assert urlsplit(profile["SMOKE_TEST_DATABASE_URL"]).username == "demo_app"
        assert urlsplit(profile["SMOKE_TEST_DATABASE_URL"]).password
        assert database_exists(profile["SMOKE_TEST_DATABASE_URL"])
        response = health(profile)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert first.profile_path == first.state_dir / ".env.demo"
    assert second.profile_path == tmp_path / "profiles" / ".env.second"
    assert first.profile["GATEWAY_URL"] != second.profile["GATEWAY_URL"]
    assert first.profile["DEMO_EVENT_CHANNEL"] != second.profile["DEMO_EVENT_CHANNEL"]
    first_db = urlsplit(first.profile["SMOKE_TEST_DATABASE_URL"]).path
    assert first_db != urlsplit(second.profile["SMOKE_TEST_DATABASE_URL"]).path

    # A second up in the same state dir is refused, and leaves the running demo alone.
    again = launcher("up", "--state-dir", str(first.state_dir))
    assert again.returncode == 1
    assert "already holds a demo" in again.stderr
    assert health(first.profile).status_code == 200

    down(first)
    assert not listening(port_of(first.profile["GATEWAY_URL"]))
    assert not database_exists(first.profile["SMOKE_TEST_DATABASE_URL"])
    assert not first.state_dir.exists()
    # The other demo and the local servers (which down did not start) are untouched.
    assert health(second.profile).status_code == 200
    assert postgres_answers(LOCAL_POSTGRES_URL)
    assert redis_answers(LOCAL_REDIS_URL)

    down(first)  # idempotent
    down(second)
    assert not listening(port_of(second.profile["GATEWAY_URL"]))
    assert not database_exists(second.profile["SMOKE_TEST_DATABASE_URL"])
    assert not second.profile_path.exists()
    assert not second.state_dir.exists()


@needs_app
@needs_local_services
def test_down_keeps_a_state_dir_it_did_not_create(up: Callable[..., Demo], tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("not the launcher's\n")
    demo = up("mine")
    down(demo)
    assert sorted(path.name for path in mine.iterdir()) == ["notes.txt"]


@needs_app
@needs_local_services
def test_fault_database_down(up: Callable[..., Demo]) -> None:
    demo = up("broken", "--fault", "database-down")
    database_url = demo.profile["SMOKE_TEST_DATABASE_URL"]
    assert urlsplit(database_url).hostname == "127.0.0.1"
    assert not listening(port_of(database_url))
    response = health(demo.profile)
    assert response.status_code == 503
    assert response.json()["database"] != "ok"
    down(demo)
    assert not listening(port_of(demo.profile["GATEWAY_URL"]))


@needs_app
@needs_server_binaries
def test_throwaway_postgresql_and_redis(up: Callable[..., Demo]) -> None:
    demo = up("throwaway", "--throwaway")
    assert "PostgreSQL: throwaway server" in demo.stderr
    assert "Redis: throwaway server" in demo.stderr
    pg_port = port_of(demo.profile["SMOKE_TEST_DATABASE_URL"])
    redis_port = port_of(demo.profile["SMOKE_TEST_REDIS_URL"])
    assert pg_port != 5432
    assert redis_port != 6379
    state = json.loads((demo.state_dir / "state.json").read_text())
    pgdata = Path(state["throwaway_postgres"]["pgdata"])
    assert (pgdata / "PG_VERSION").is_file()
    assert database_exists(demo.profile["SMOKE_TEST_DATABASE_URL"])
    response = health(demo.profile)
    assert response.status_code == 200, response.text

    down(demo)
    assert not listening(pg_port)
    assert not listening(redis_port)
    assert not listening(port_of(demo.profile["GATEWAY_URL"]))
    assert not pgdata.exists()
    for directory in state["dirs"]:
        assert not Path(directory).exists()
    assert not demo.state_dir.exists()


# --- the articles app --------------------------------------------------------------------------

needs_articles = pytest.mark.skipif(
    not (ARTICLES_DIR / "articles_api" / "main.py").exists(),
    reason="pytest_smoke/demo/articles is not written yet",
)


def articles_login(profile: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{profile['GATEWAY_URL']}/api/auth/token",
        data={
            "username": profile["SMOKE_TEST_USERNAME"],
            "password": profile["SMOKE_TEST_PASSWORD"],
        },
        timeout=10,
    )


def articles_list(profile: dict[str, str], token: str) -> httpx.Response:
    headers = {"Authorization": f"Token {token}"}
    return httpx.get(f"{profile['GATEWAY_URL']}/api/articles/", headers=headers, timeout=10)


def healthz(profile: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{profile['GATEWAY_URL']}/api/healthz", timeout=10)


def role_exists(name: str) -> bool:
    async def look() -> bool:
        conn = await asyncpg.connect(LOCAL_POSTGRES_URL, timeout=5)
        try:
            return bool(await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name))
        finally:
            await conn.close()

    return asyncio.run(look())


@needs_articles
@needs_local_postgres
def test_two_articles_apps_side_by_side_then_down(up: Callable[..., Demo], tmp_path: Path) -> None:
    # No Redis anywhere on the PATH, none configured: the articles app does not need one.
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    no_redis = {"PATH": str(empty), "SMOKE_DEMO_REDIS_URL": "redis://127.0.0.1:1/0"}
    first = up("first", "--app", "articles", env=no_redis)
    second = up("second", "--app", "articles", env=no_redis)
    for demo in (first, second):
        assert set(demo.profile) == ARTICLES_PROFILE_KEYS
        assert "Redis" not in demo.stderr
        assert "Azure" not in demo.stderr
        assert stat.S_IMODE(demo.profile_path.stat().st_mode) == 0o600
        assert not (demo.state_dir / "ca.pem").exists()
        profile = demo.profile
        assert profile["GATEWAY_URL"].startswith("http://127.0.0.1:")
        assert profile["SMOKE_TEST_CHECKS_FILE"] == str(ARTICLES_DIR / "smoke-checks.toml")
        assert profile["SMOKE_TEST_USERNAME"] == "smoke-bot"
        database = urlsplit(profile["SMOKE_TEST_DATABASE_URL"])
        # Each run logs in as its own role, named like its database: no shared password.
        assert database.username == database.path.lstrip("/")
        assert database.username.startswith("smoke_articles_")
        assert database.password
        assert database_exists(profile["SMOKE_TEST_DATABASE_URL"])
        assert healthz(profile).json() == {"status": "pass"}
        login = articles_login(profile)
        assert login.status_code == 200, login.text
        assert login.json()["token_type"] == "bearer"
        listing = articles_list(profile, login.json()["access_token"])
        assert listing.json() == {"articles": [], "articlesCount": 0}
    first_role = urlsplit(first.profile["SMOKE_TEST_DATABASE_URL"]).username
    second_role = urlsplit(second.profile["SMOKE_TEST_DATABASE_URL"]).username
    assert first_role != second_role
    assert first.profile["SMOKE_TEST_PASSWORD"] != second.profile["SMOKE_TEST_PASSWORD"]
    # The state records the role with the database, so that down drops both.
    state = json.loads((first.state_dir / "state.json").read_text())
    assert state["app"] == "articles"
    assert state["database"]["role"] == first_role

    down(first)
    assert not listening(port_of(first.profile["GATEWAY_URL"]))
    assert not database_exists(f"{LOCAL_POSTGRES_URL.rpartition('/')[0]}/{first_role}")
    assert not role_exists(str(first_role))
    assert not first.state_dir.exists()
    assert healthz(second.profile).status_code == 200  # the other one is untouched
    down(second)
    assert not role_exists(str(second_role))
    assert role_exists("articles_app")  # the schema's group role stays, like demo_app


@needs_articles
@needs_local_postgres
def test_articles_fault_database_down(up: Callable[..., Demo]) -> None:
    demo = up("broken", "--app", "articles", "--fault", "database-down")
    database_url = demo.profile["SMOKE_TEST_DATABASE_URL"]
    assert not listening(port_of(database_url))
    response = healthz(demo.profile)
    assert response.status_code == 503
    assert response.json() == {"status": "fail"}
    # The database itself exists (down drops it), only the URLs point elsewhere.
    state = json.loads((demo.state_dir / "state.json").read_text())
    assert state["database"]["name"] == urlsplit(database_url).path.lstrip("/")
    down(demo)


@needs_articles
@needs_local_postgres
@pytest.mark.parametrize("fault", ["endpoint-500", "auth-broken"])
def test_articles_faults_reach_the_app(up: Callable[..., Demo], fault: str) -> None:
    demo = up(fault, "--app", "articles", "--fault", fault)
    assert healthz(demo.profile).status_code == 200
    login = articles_login(demo.profile)
    assert login.status_code == 200
    listing = articles_list(demo.profile, login.json()["access_token"])
    assert listing.status_code == (500 if fault == "endpoint-500" else 403)
    down(demo)


@needs_articles
@needs_server_binaries
def test_articles_on_a_throwaway_postgresql(up: Callable[..., Demo]) -> None:
    demo = up("throwaway", "--app", "articles", "--throwaway")
    assert "PostgreSQL: throwaway server" in demo.stderr
    assert "Redis" not in demo.stderr
    pg_port = port_of(demo.profile["SMOKE_TEST_DATABASE_URL"])
    assert pg_port != 5432
    assert healthz(demo.profile).status_code == 200
    assert articles_login(demo.profile).status_code == 200
    down(demo)
    assert not listening(pg_port)
    assert not listening(port_of(demo.profile["GATEWAY_URL"]))
    assert not demo.state_dir.exists()

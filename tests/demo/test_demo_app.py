"""The items demo (pytest_smoke/demo/items/app.py) in-process, on the local PostgreSQL and Redis.

The module gets its own database, ``smoke_demo_test_<random>``, made from ``schema.sql`` and
dropped at the end however the run ends; the app connects to it as ``demo_app``, so row-level
security applies as in the demo. Redis names (event channel, rate-limit keys) carry a per-run
prefix and are removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio
import redis
import redis.asyncio as redis_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import ModuleType

    from fastapi import FastAPI

HOST = "127.0.0.1"
PG_PORT, REDIS_PORT = 5432, 6379
DEMO_DIR = Path(__file__).resolve().parents[2] / "src" / "pytest_smoke" / "demo" / "items"
RUN = f"smoke-demo-test:{secrets.token_hex(4)}"
CHANNEL = f"{RUN}:items"
SECRET = secrets.token_urlsafe(32)
USERNAME, PASSWORD = "smoke-bot", "smoke-password"
ORIGIN = "https://app.example.com"
FAULTS = [
    "database-down",
    "health-503",
    "endpoint-500",
    "slow",
    "auth-broken",
    "events-off",
    "rate-limit-off",
    "header-missing",
]
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000",
}


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


_MISSING = [
    f"{name} on {HOST}:{port}"
    for name, port in (("PostgreSQL", PG_PORT), ("Redis", REDIS_PORT))
    if not _listening(port)
]
pytestmark = pytest.mark.skipif(bool(_MISSING), reason=f"needs {' and '.join(_MISSING)}")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- the database and the environment ----------------------------------------------------------


async def _create_database(name: str) -> None:
    admin = await asyncpg.connect(host=HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        # demo_app is cluster-wide: serialize role changes with other workers of this run.
        await admin.execute("SELECT pg_advisory_lock(hashtext('smoke-demo-test'))")
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(host=HOST, port=PG_PORT, user="postgres", database=name)
        try:
            await conn.execute((DEMO_DIR / "schema.sql").read_text())
            await conn.execute("ALTER ROLE demo_app PASSWORD 'x'")
        finally:
            await conn.close()
    finally:
        await admin.close()  # also releases the lock


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(host=HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """The name of a fresh database with the demo schema; dropped at the end of the module."""
    name = f"smoke_demo_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_create_database(name))
        yield name
    finally:
        asyncio.run(_drop_database(name))


@pytest.fixture(scope="module")
def _redis_cleanup() -> Iterator[None]:
    """Remove every Redis key of this run at the end of the module."""
    yield
    with redis.Redis(host=HOST, port=REDIS_PORT) as client:
        keys = list(client.scan_iter(match=f"{RUN}:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(scope="module")
def env(database: str, _redis_cleanup: None) -> dict[str, str]:
    """The launcher's environment for the demo, pointed at this module's database."""
    return {
        "DEMO_DATABASE_URL": f"postgresql://demo_app:x@{HOST}:{PG_PORT}/{database}",
        "DEMO_REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/0",
        "DEMO_JWT_SECRET": SECRET,
        "DEMO_USERNAME": USERNAME,
        "DEMO_PASSWORD": PASSWORD,
        "DEMO_EVENT_CHANNEL": CHANNEL,
        "DEMO_RATE_LIMIT": "3/3600",
        "DEMO_RATE_LIMIT_PREFIX": f"{RUN}:ratelimit",
    }


@pytest.fixture(scope="module")
def demo(env: dict[str, str]) -> Iterator[ModuleType]:
    """The demo's app.py imported as uvicorn would, with ``env`` as the environment."""
    name = f"demo_app_{secrets.token_hex(4)}"
    spec = importlib.util.spec_from_file_location(name, DEMO_DIR / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            mp.delenv("DEMO_FAULT", raising=False)
            spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


@pytest.fixture
def make_app(demo: ModuleType, env: dict[str, str]) -> Any:
    """``make_app(**overrides)``: a new app from ``env`` plus overrides, with its own rate-limit
    counters (keys are per client address, and every in-process client is 127.0.0.1)."""

    def make(**overrides: str) -> FastAPI:
        prefix = f"{RUN}:ratelimit:{secrets.token_hex(4)}"
        app: FastAPI = demo.create_app({**env, "DEMO_RATE_LIMIT_PREFIX": prefix, **overrides})
        return app

    return make


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to ``app`` in-process, with the app's lifespan run around it."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://demo.test") as client,
    ):
        yield client


@pytest_asyncio.fixture
async def client(demo: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the module-level ``app``, the one ``uvicorn app:app`` serves."""
    async with serve(demo.app) as client:
        yield client


async def login(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/auth/login", json={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest_asyncio.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    """Authorization headers for the demo user (tenant 1)."""
    return await login(client)


@contextlib.asynccontextmanager
async def as_postgres(database: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test database: row-level security does not apply."""
    conn = await asyncpg.connect(host=HOST, port=PG_PORT, user="postgres", database=database)
    try:
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def subscribed(channel: str = CHANNEL) -> AsyncIterator[Any]:
    """A pub/sub subscription to ``channel``, confirmed by Redis before it is handed out."""
    client = redis_asyncio.Redis(host=HOST, port=REDIS_PORT)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel)
        confirmation = await pubsub.get_message(timeout=5)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"
        yield pubsub
    finally:
        await pubsub.aclose()
        await client.aclose()


async def next_event(pubsub: Any, timeout: float = 5.0) -> dict[str, Any] | None:
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
    return None if message is None else json.loads(message["data"])


def unique(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}"


# --- health -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_health_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.asyncio
async def test_health_503_when_the_database_is_down(make_app: Any) -> None:
    # database-down is the launcher's fault: the app only sees a URL nobody listens on.
    dead = f"postgresql://demo_app:x@{HOST}:{_closed_port()}/smoke_demo"
    async with serve(make_app(DEMO_DATABASE_URL=dead, DEMO_FAULT="database-down")) as client:
        started = time.monotonic()
        response = await client.get("/health")
        assert time.monotonic() - started < 6
        assert response.status_code == 503
        assert response.json() == {"status": "degraded", "database": "down", "redis": "ok"}

        token = await login(client)
        response = await client.get("/api/items", headers=token)
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error"}


@pytest.mark.asyncio
async def test_redis_down_degrades_health_but_not_writes(make_app: Any) -> None:
    dead = f"redis://{HOST}:{_closed_port()}/0"
    async with serve(make_app(DEMO_REDIS_URL=dead)) as client:
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json() == {"status": "degraded", "database": "ok", "redis": "down"}
        # The rate limit fails open, and a committed write is not turned into an error.
        assert (await client.get("/api/ping")).status_code == 200
        auth = await login(client)
        created = await client.post(
            "/api/items", headers=auth, json={"name": unique("r"), "price": 1}
        )
        assert created.status_code == 201


# --- the schema ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_schema_is_reapplicable_and_binds_demo_app(database: str) -> None:
    async with as_postgres(database) as conn:
        await conn.execute((DEMO_DIR / "schema.sql").read_text())
        await conn.execute(
            "INSERT INTO items (tenant_id, name, price) VALUES (1, $1, 1)", unique("s")
        )
        role = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'demo_app'"
        )
        owners = await conn.fetch(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE tablename IN ('tenants', 'items')"
        )
    assert tuple(role) == (False, False, True)
    assert [row["tableowner"] for row in owners] == ["postgres"]

    app_conn = await asyncpg.connect(
        host=HOST, port=PG_PORT, user="demo_app", password="x", database=database
    )
    try:
        assert await app_conn.fetchval("SELECT count(*) FROM items") == 0
        async with app_conn.transaction():
            await app_conn.execute("SET LOCAL app.current_tenant = '1'")
            assert await app_conn.fetchval("SELECT count(*) FROM items") >= 1
        # After a SET LOCAL the setting reads '' rather than NULL: still no rows, no error.
        assert await app_conn.fetchval("SELECT count(*) FROM items") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute("ALTER TABLE items DISABLE ROW LEVEL SECURITY")
    finally:
        await app_conn.close()


# --- login and tokens ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_login_issues_a_token_for_tenant_1(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/login", json={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["tenant"] == 1
    assert claims["exp"] - claims["iat"] == 900


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "credentials",
    [{"username": USERNAME, "password": "wrong"}, {"username": "someone", "password": PASSWORD}],
)
async def test_login_with_wrong_credentials_is_401(
    client: httpx.AsyncClient, credentials: dict[str, str]
) -> None:
    response = await client.post("/auth/login", json=credentials)
    assert response.status_code == 401
    assert "detail" in response.json()


def _forged(secret: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": USERNAME, "tenant": 1, "exp": now + 60, **claims}, secret, "HS256")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Basic c21va2UtYm90OnNtb2tlLXBhc3N3b3Jk",
        "Bearer not-a-jwt",
        f"Bearer {_forged(secret=secrets.token_urlsafe(32))}",
        f"Bearer {_forged(exp=int(time.time()) - 10)}",
        f"Bearer {_forged(tenant='1')}",
    ],
    ids=["missing", "empty", "basic", "garbage", "other-secret", "expired", "tenant-not-int"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/items"), ("POST", "/api/items"), ("GET", "/api/items/1"),
     ("PATCH", "/api/items/1"), ("DELETE", "/api/items/1")],
)  # fmt: skip
async def test_items_need_a_valid_token(
    client: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    body = {"name": "x", "price": 1} if method in ("POST", "PATCH") else None
    response = await client.request(method, path, headers=headers, json=body)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)


# --- items --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_items_round_trip(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    name = unique("widget")
    created = await client.post("/api/items", headers=auth, json={"name": name, "price": 9.5})
    assert created.status_code == 201, created.text
    item = created.json()
    assert set(item) == {"id", "name", "price", "tenant_id", "created_at"}
    assert (item["name"], item["price"], item["tenant_id"]) == (name, 9.5, 1)
    url = f"/api/items/{item['id']}"

    fetched = await client.get(url, headers=auth)
    assert fetched.status_code == 200
    assert fetched.json() == item

    renamed = unique("gadget")
    patched = await client.patch(url, headers=auth, json={"name": renamed})
    assert patched.status_code == 200
    assert patched.json() == {**item, "name": renamed}
    repriced = await client.patch(url, headers=auth, json={"price": 3})
    assert repriced.json() == {**item, "name": renamed, "price": 3.0}

    deleted = await client.delete(url, headers=auth)
    assert deleted.status_code == 204
    assert deleted.content == b""
    for method in ("GET", "DELETE"):
        gone = await client.request(method, url, headers=auth)
        assert gone.status_code == 404
        assert "detail" in gone.json()
    missing = await client.patch(url, headers=auth, json={"price": 1})
    assert missing.status_code == 404


@pytest.mark.asyncio
async def test_other_tenants_items_are_invisible(
    client: httpx.AsyncClient, auth: dict[str, str], database: str
) -> None:
    name = unique("theirs")
    async with as_postgres(database) as conn:
        their_id = await conn.fetchval(
            "INSERT INTO items (tenant_id, name, price) VALUES (2, $1, 1) RETURNING id", name
        )
    url = f"/api/items/{their_id}"
    assert (await client.get(url, headers=auth)).status_code == 404
    assert (await client.patch(url, headers=auth, json={"price": 0})).status_code == 404
    assert (await client.delete(url, headers=auth)).status_code == 404
    listing = (await client.get("/api/items", headers=auth, params={"name": name})).json()
    assert listing["total"] == 0
    assert listing["items"] == []
    # Names are unique per tenant only.
    ours = await client.post("/api/items", headers=auth, json={"name": name, "price": 2})
    assert ours.status_code == 201
    async with as_postgres(database) as conn:
        rows = await conn.fetch("SELECT tenant_id, price FROM items WHERE name = $1", name)
    assert sorted((row["tenant_id"], float(row["price"])) for row in rows) == [(1, 2.0), (2, 1.0)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"name", "price"}),
        ({"name": "", "price": 1}, {"name"}),
        ({"name": "x" * 101, "price": 1}, {"name"}),
        ({"name": "ok", "price": -0.01}, {"price"}),
        ({"name": "ok", "price": "1"}, {"price"}),
        ({"name": "ok", "price": 1e12}, {"price"}),
        ({"name": 5, "price": 1}, {"name"}),
        ({"name": "ok", "price": 1, "colour": "red"}, {"colour"}),
    ],
)
async def test_invalid_item_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any], fields: set[str]
) -> None:
    response = await client.post("/api/items", headers=auth, json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert {error["loc"][-1] for error in detail} == fields


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [{}, {"price": -1}, {"name": ""}, {"name": None, "price": None}])
async def test_invalid_patch_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]
) -> None:
    created = await client.post("/api/items", headers=auth, json={"name": unique("p"), "price": 1})
    response = await client.patch(f"/api/items/{created.json()['id']}", headers=auth, json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


@pytest.mark.asyncio
async def test_malformed_query_and_path_are_422(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "many"}):
        response = await client.get("/api/items", headers=auth, params=params)
        assert response.status_code == 422, params
    assert (await client.get("/api/items/abc", headers=auth)).status_code == 422
    assert (await client.get(f"/api/items/{2**40}", headers=auth)).status_code == 404


@pytest.mark.asyncio
async def test_duplicate_name_is_409(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    first, second = unique("dup"), unique("dup")
    for name in (first, second):
        response = await client.post("/api/items", headers=auth, json={"name": name, "price": 1})
        assert response.status_code == 201
    again = await client.post("/api/items", headers=auth, json={"name": first, "price": 2})
    assert again.status_code == 409
    assert "detail" in again.json()
    second_id = response.json()["id"]
    renamed = await client.patch(f"/api/items/{second_id}", headers=auth, json={"name": first})
    assert renamed.status_code == 409


@pytest.mark.asyncio
async def test_pagination_and_name_filter(
    client: httpx.AsyncClient, auth: dict[str, str], database: str
) -> None:
    async with as_postgres(database) as conn:
        await conn.execute("DELETE FROM items")
    names = [unique(f"page{i}") for i in range(5)]
    ids = []
    for name in names:
        response = await client.post("/api/items", headers=auth, json={"name": name, "price": 1})
        ids.append(response.json()["id"])

    default = (await client.get("/api/items", headers=auth)).json()
    assert (default["total"], default["limit"], default["offset"]) == (5, 20, 0)
    assert [item["id"] for item in default["items"]] == ids

    page = (await client.get("/api/items", headers=auth, params={"limit": 2, "offset": 2})).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    assert [item["id"] for item in page["items"]] == ids[2:4]
    beyond = (await client.get("/api/items", headers=auth, params={"offset": 10})).json()
    assert (beyond["total"], beyond["items"]) == (5, [])

    only = (await client.get("/api/items", headers=auth, params={"name": names[3]})).json()
    assert only["total"] == 1
    assert [item["name"] for item in only["items"]] == [names[3]]
    none = (await client.get("/api/items", headers=auth, params={"name": "absent"})).json()
    assert (none["total"], none["items"]) == (0, [])


# --- events -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_write_publishes_one_event(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    name, renamed = unique("evented"), unique("evented")
    async with subscribed() as pubsub:
        created = await client.post("/api/items", headers=auth, json={"name": name, "price": 1})
        item_id = created.json()["id"]
        await client.patch(f"/api/items/{item_id}", headers=auth, json={"name": renamed})
        await client.delete(f"/api/items/{item_id}", headers=auth)
        # Failed writes publish nothing.
        await client.delete(f"/api/items/{item_id}", headers=auth)
        await client.post("/api/items", headers=auth, json={"name": "", "price": 1})

        events = [await next_event(pubsub) for _ in range(3)]
        assert events == [
            {"type": "item.created", "id": item_id, "name": name},
            {"type": "item.updated", "id": item_id, "name": renamed},
            {"type": "item.deleted", "id": item_id, "name": renamed},
        ]
        assert await next_event(pubsub, timeout=0.3) is None


# --- ping and rate limiting ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_ping_is_rate_limited_with_retry_after(make_app: Any) -> None:
    async with serve(make_app(DEMO_RATE_LIMIT="3/3600")) as client:
        answers = [await client.get("/api/ping") for _ in range(5)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    assert answers[0].json() == {"pong": True}
    assert "detail" in answers[3].json()
    assert 1 <= int(answers[3].headers["retry-after"]) <= 3600


@pytest.mark.asyncio
async def test_rate_limit_window_resets(make_app: Any) -> None:
    async with serve(make_app(DEMO_RATE_LIMIT="1/1")) as client:
        assert (await client.get("/api/ping")).status_code == 200
        limited = await client.get("/api/ping")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1"
        await asyncio.sleep(1.1)
        assert (await client.get("/api/ping")).status_code == 200


# --- headers, CORS, metrics, unknown routes ------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/health"), ("GET", "/api/ping"), ("GET", "/nowhere")]
)
async def test_security_headers_on_every_response(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, header


@pytest.mark.asyncio
async def test_cors_preflight_from_an_allowed_origin(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/items",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.asyncio
async def test_cors_preflight_from_another_origin(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/items",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    simple = await client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.asyncio
async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await client.get("/api/items/987654", headers=auth)
    await client.get("/no/such/thing")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "# TYPE demo_http_requests_total counter" in text
    assert "# TYPE demo_http_request_duration_seconds histogram" in text
    assert (
        'demo_http_requests_total{method="GET",route="/api/items/{item_id}",status="404"}' in text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert "987654" not in text
    assert "/no/such/thing" not in text


@pytest.mark.asyncio
async def test_unknown_route_is_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.asyncio
async def test_openapi_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "/api/items/{item_id}" in response.json()["paths"]


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_fault_health_503(make_app: Any) -> None:
    async with serve(make_app(DEMO_FAULT="health-503")) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "down", "database": "ok", "redis": "ok"}


@pytest.mark.asyncio
async def test_fault_endpoint_500(make_app: Any) -> None:
    async with serve(make_app(DEMO_FAULT="endpoint-500")) as client:
        auth = await login(client)
        created = await client.post(
            "/api/items", headers=auth, json={"name": unique("e"), "price": 1}
        )
        assert created.status_code == 201
        response = await client.get(f"/api/items/{created.json()['id']}", headers=auth)
        assert (await client.get("/api/items", headers=auth)).status_code == 200
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    assert "Traceback" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.asyncio
async def test_fault_slow(make_app: Any) -> None:
    async with serve(make_app(DEMO_FAULT="slow", DEMO_SLOW_SECONDS="0.3")) as client:
        started = time.monotonic()
        assert (await client.get("/api/ping")).status_code == 200
        api_seconds = time.monotonic() - started
        started = time.monotonic()
        assert (await client.get("/metrics")).status_code == 200
        other_seconds = time.monotonic() - started
    assert api_seconds >= 0.3
    assert other_seconds < api_seconds  # only /api/* is slowed


@pytest.mark.asyncio
async def test_fault_auth_broken(make_app: Any) -> None:
    async with serve(make_app(DEMO_FAULT="auth-broken")) as client:
        auth = await login(client)
        response = await client.get("/api/items", headers=auth)
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.asyncio
async def test_fault_events_off(make_app: Any) -> None:
    async with serve(make_app(DEMO_FAULT="events-off")) as client, subscribed() as pubsub:
        auth = await login(client)
        created = await client.post(
            "/api/items", headers=auth, json={"name": unique("q"), "price": 1}
        )
        assert created.status_code == 201
        deleted = await client.delete(f"/api/items/{created.json()['id']}", headers=auth)
        assert deleted.status_code == 204
        assert await next_event(pubsub, timeout=0.5) is None


@pytest.mark.asyncio
async def test_fault_rate_limit_off(make_app: Any) -> None:
    async with serve(make_app(DEMO_FAULT="rate-limit-off", DEMO_RATE_LIMIT="2/3600")) as client:
        answers = [(await client.get("/api/ping")).status_code for _ in range(6)]
    assert answers == [200] * 6


@pytest.mark.asyncio
async def test_fault_header_missing(make_app: Any) -> None:
    async with serve(make_app(DEMO_FAULT="header-missing")) as client:
        response = await client.get("/health")
    assert "x-content-type-options" not in response.headers
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.asyncio
async def test_fault_schema_break(make_app: Any) -> None:
    app = make_app(DEMO_FAULT="schema-break")
    async with serve(app) as client:
        auth = await login(client)
        listing = await client.get("/api/items?limit=1", headers=auth)
    assert listing.status_code == 200
    page = listing.json()
    # the count as a string, everything else as documented, the document itself unchanged
    assert isinstance(page["total"], str)
    assert int(page["total"]) >= 0
    assert (page["limit"], page["offset"]) == (1, 0)
    schema = app.openapi()["components"]["schemas"]["ItemPage"]["properties"]["total"]
    assert schema["type"] == "integer"


def test_unknown_fault_fails_at_creation(make_app: Any, demo: ModuleType) -> None:
    with pytest.raises(demo.ConfigError, match="DEMO_FAULT='bogus'") as failure:
        make_app(DEMO_FAULT="bogus")
    assert all(fault in str(failure.value) for fault in FAULTS)


def test_unknown_fault_stops_uvicorn(env: dict[str, str]) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(DEMO_DIR), "--port", "0"],
        env={**os.environ, **env, "DEMO_FAULT": "bogus"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode != 0
    assert "ConfigError: DEMO_FAULT='bogus' is not a known fault; valid: database-down" in (
        process.stderr
    )
    assert SECRET not in process.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEMO_JWT_SECRET": ""}, "DEMO_JWT_SECRET is not set"),
        ({"DEMO_DATABASE_URL": "mysql://x@y/z"}, "DEMO_DATABASE_URL must be a postgresql://"),
        ({"DEMO_REDIS_URL": "http://x"}, "DEMO_REDIS_URL must be a redis://"),
        ({"DEMO_RATE_LIMIT": "20"}, "DEMO_RATE_LIMIT"),
        ({"DEMO_TOKEN_TTL": "-5"}, "DEMO_TOKEN_TTL"),
        ({"DEMO_SLOW_SECONDS": "soon"}, "DEMO_SLOW_SECONDS"),
    ],
)
def test_bad_configuration_is_named(
    make_app: Any, demo: ModuleType, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(demo.ConfigError, match=message):
        make_app(**overrides)

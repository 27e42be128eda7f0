"""The demo service the bundled smoke suite runs against (see examples/demo/CONTRACT.md).

A small FastAPI app: JWT login, tenant-scoped items in PostgreSQL under row-level security,
an event on Redis pub/sub for every write, a rate-limited ping, Prometheus metrics, and the
faults ``DEMO_FAULT`` switches on so the suite can be seen failing. Run it by hand with::

    uvicorn app:app --app-dir src/pytest_smoke/demo/items

with the ``DEMO_*`` variables of that CONTRACT.md set. They are read once, when the app is
created; a missing or invalid one stops the start with a message naming it.
"""

import asyncio
import hmac
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, model_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import RowMapping, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pytest_smoke.demo import ITEMS_APP_FAULTS

# Our lines go through uvicorn's handler, so they show up with its format and level.
logger = logging.getLogger("uvicorn.error")

DEMO_TENANT = 1  # the one user belongs to tenant 1 ('demo')
INT4_MAX = 2**31 - 1
HEALTH_TIMEOUT = 2.0
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000",
}
UNIQUE_VIOLATION = "23505"


class ConfigError(ValueError):
    """A ``DEMO_*`` variable is missing or invalid; the message names it and what to do."""


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The service's configuration, read from the environment once (CONTRACT.md)."""

    database_url: URL = field(repr=False)
    redis_url: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    username: str
    password: str = field(repr=False)
    token_ttl: int
    event_channel: str
    cors_origins: tuple[str, ...]
    rate_limit: int
    rate_window: int
    # Not in the contract: lets test runs share a Redis without sharing counters.
    rate_limit_prefix: str
    fault: str | None
    slow_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        fault = env.get("DEMO_FAULT", "").strip() or None
        if fault is not None and fault not in ITEMS_APP_FAULTS:
            raise ConfigError(
                f"DEMO_FAULT={fault!r} is not a known fault; valid: {', '.join(ITEMS_APP_FAULTS)}"
            )
        limit, _, window = env.get("DEMO_RATE_LIMIT", "20/10").partition("/")
        return cls(
            database_url=_database_url(_required(env, "DEMO_DATABASE_URL")),
            redis_url=_redis_url(_required(env, "DEMO_REDIS_URL")),
            jwt_secret=_required(env, "DEMO_JWT_SECRET"),
            username=env.get("DEMO_USERNAME", "smoke-bot"),
            password=env.get("DEMO_PASSWORD", "smoke-password"),
            token_ttl=_positive_int("DEMO_TOKEN_TTL", env.get("DEMO_TOKEN_TTL", "900")),
            event_channel=env.get("DEMO_EVENT_CHANNEL", "demo:items"),
            cors_origins=tuple(
                origin.strip()
                for origin in env.get("DEMO_CORS_ORIGINS", "https://app.example.com").split(",")
                if origin.strip()
            ),
            rate_limit=_positive_int("DEMO_RATE_LIMIT (N/SECONDS)", limit),
            rate_window=_positive_int("DEMO_RATE_LIMIT (N/SECONDS)", window),
            rate_limit_prefix=env.get("DEMO_RATE_LIMIT_PREFIX", "demo:ratelimit"),
            fault=fault,
            slow_seconds=_seconds("DEMO_SLOW_SECONDS", env.get("DEMO_SLOW_SECONDS", "1.5")),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"{name} is not set; see examples/demo/CONTRACT.md")
    return value


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} is not a positive integer")
    return value


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < math.inf:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds")
    return value


def _database_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("DEMO_DATABASE_URL is not a database URL") from None
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigError("DEMO_DATABASE_URL must be a postgresql:// URL")
    return url.set(drivername="postgresql+asyncpg")


def _redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("DEMO_REDIS_URL must be a redis:// URL")
    return raw


# --- models -------------------------------------------------------------------------------------

Name = Annotated[str, Field(strict=True, min_length=1, max_length=100)]
# numeric(12,2): larger prices would be a database error, so they are a 422 here.
Price = Annotated[float, Field(strict=True, ge=0, lt=1e10, allow_inf_nan=False)]


class LoginRequest(BaseModel):
    username: str
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    price: Price


class ItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    price: Price | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> "ItemPatch":
        if self.name is None and self.price is None:
            raise ValueError("give name and/or price")
        return self


class Item(BaseModel):
    id: int
    name: str
    price: float
    tenant_id: int
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> "Item":
        return cls(**{**row, "price": float(row["price"])})


class ItemPage(BaseModel):
    items: list[Item]
    total: int
    limit: int
    offset: int


class RateLimited(BaseModel):
    detail: str


# --- dependencies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    redis: Redis


@dataclass(frozen=True)
class Principal:
    username: str
    tenant: int


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


# auto_error=False: a missing header is ours to answer, with 401 rather than FastAPI's choice.
_bearer = HTTPBearer(auto_error=False)


async def _authenticate(
    services: Annotated[Services, Depends(_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("missing bearer token")
    if services.settings.fault == "auth-broken":
        raise _unauthorized("invalid token")
    try:
        claims = jwt.decode(
            credentials.credentials,
            services.settings.jwt_secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "tenant"]},
        )
    except jwt.InvalidTokenError:
        raise _unauthorized("invalid token") from None
    tenant = claims["tenant"]
    if type(tenant) is not int:
        raise _unauthorized("invalid token")
    return Principal(str(claims["sub"]), tenant)


ServicesDep = Annotated[Services, Depends(_services)]
PrincipalDep = Annotated[Principal, Depends(_authenticate)]


@asynccontextmanager
async def _tenant_transaction(
    services: Services, principal: Principal
) -> AsyncIterator[AsyncConnection]:
    """One transaction whose SQL runs as the principal's tenant, so row-level security applies.

    A duplicate item name (unique per tenant) becomes 409.
    """
    try:
        async with services.engine.begin() as conn:
            # SET LOCAL takes no bind parameter; set_config(..., is_local => true) is the same.
            await conn.execute(
                text("SELECT set_config('app.current_tenant', :tenant, true)"),
                {"tenant": str(principal.tenant)},
            )
            yield conn
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION:
            raise HTTPException(409, "an item with this name already exists") from None
        raise


async def _publish(services: Services, kind: str, item_id: int, name: str) -> None:
    if services.settings.fault == "events-off":
        return
    event = json.dumps({"type": f"item.{kind}", "id": item_id, "name": name})
    try:
        await services.redis.publish(services.settings.event_channel, event)
    except (RedisError, OSError) as exc:
        # The write is committed; failing the request now would invite a duplicate retry.
        logger.warning("item.%s event not published: %s", kind, type(exc).__name__)


async def _item_id(item_id: int) -> int:
    # An id the column cannot hold names no item: 404 rather than a database error.
    if not 0 < item_id <= INT4_MAX:
        raise HTTPException(404, f"item {item_id} not found")
    return item_id


ItemId = Annotated[int, Depends(_item_id)]


# --- routes -------------------------------------------------------------------------------------

router = APIRouter()
COLUMNS = "id, name, price, tenant_id, created_at"


@router.get("/health")
async def health(services: ServicesDep) -> JSONResponse:
    database, redis = await asyncio.gather(
        _healthy("database", _select_one(services.engine)),
        _healthy("redis", services.redis.ping()),
    )
    if services.settings.fault == "health-503" or not (database or redis):
        status = "down"
    else:
        status = "ok" if database and redis else "degraded"
    body = {
        "status": status,
        "database": "ok" if database else "down",
        "redis": "ok" if redis else "down",
    }
    return JSONResponse(body, status_code=200 if status == "ok" else 503)


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _healthy(dependency: str, check: Awaitable[object]) -> bool:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await check
    except Exception as exc:
        logger.warning("health: %s check failed: %s", dependency, type(exc).__name__)
        return False
    return True


@router.post("/auth/login")
async def login(body: LoginRequest, services: ServicesDep) -> TokenResponse:
    settings = services.settings
    user_ok = hmac.compare_digest(body.username.encode(), settings.username.encode())
    password_ok = hmac.compare_digest(body.password.encode(), settings.password.encode())
    if not (user_ok and password_ok):
        raise _unauthorized("invalid username or password")
    now = datetime.now(UTC)
    claims = {
        "sub": settings.username,
        "tenant": DEMO_TENANT,
        "iat": now,
        "exp": now + timedelta(seconds=settings.token_ttl),
    }
    token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    return TokenResponse(access_token=token, expires_in=settings.token_ttl)


# The 429 is documented, so that a client (and the suite's contract checks) can expect it.
@router.get(
    "/api/ping",
    responses={429: {"model": RateLimited, "description": "Over the rate limit; see Retry-After"}},
)
async def ping(request: Request, services: ServicesDep) -> dict[str, bool]:
    if services.settings.fault != "rate-limit-off":
        client = request.client.host if request.client else "unknown"
        retry_after = await _over_limit(services, client)
        if retry_after is not None:
            raise HTTPException(429, "rate limit exceeded", {"Retry-After": str(retry_after)})
    return {"pong": True}


async def _over_limit(services: Services, client: str) -> int | None:
    """Seconds until ``client``'s window ends if it is over the limit, else None.

    A fixed window in Redis, shared by every worker: the first hit of a window creates the
    counter with the window as its TTL (SET NX EX, then INCR, which keeps the TTL), all in one
    MULTI so a counter can never be left without a TTL.
    """
    settings = services.settings
    key = f"{settings.rate_limit_prefix}:{client}"
    try:
        async with services.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=settings.rate_window, nx=True)
            pipe.incr(key)
            pipe.pttl(key)
            _, count, ttl_ms = await pipe.execute()
    except (RedisError, OSError) as exc:
        # Failing open: a Redis outage shows on /health, it should not take ping down too.
        logger.warning("rate limit not checked: %s", type(exc).__name__)
        return None
    if count <= settings.rate_limit:
        return None
    return max(1, math.ceil(int(ttl_ms) / 1000))


@router.get("/api/items", response_model=ItemPage)
async def list_items(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
    name: Annotated[str | None, Query(max_length=100)] = None,
) -> ItemPage | JSONResponse:
    where, params = ("WHERE name = :name", {"name": name}) if name is not None else ("", {})
    async with _tenant_transaction(services, principal) as conn:
        total = (await conn.execute(text(f"SELECT count(*) FROM items {where}"), params)).scalar()
        rows = await conn.execute(
            text(f"SELECT {COLUMNS} FROM items {where} ORDER BY id LIMIT :limit OFFSET :offset"),
            {**params, "limit": limit, "offset": offset},
        )
        items = [Item.from_row(row) for row in rows.mappings()]
    page = ItemPage(items=items, total=total or 0, limit=limit, offset=offset)
    if services.settings.fault == "schema-break":
        # The count as a string, as a careless serializer change would send it: the answer no
        # longer matches the schema the OpenAPI document gives (ItemPage.total: integer).
        return JSONResponse({**page.model_dump(mode="json"), "total": str(page.total)})
    return page


@router.post("/api/items", status_code=201)
async def create_item(body: ItemCreate, services: ServicesDep, principal: PrincipalDep) -> Item:
    async with _tenant_transaction(services, principal) as conn:
        result = await conn.execute(
            text(
                "INSERT INTO items (tenant_id, name, price) VALUES (:tenant, :name, :price)"
                f" RETURNING {COLUMNS}"
            ),
            {"tenant": principal.tenant, "name": body.name, "price": body.price},
        )
        item = Item.from_row(result.mappings().one())
    await _publish(services, "created", item.id, item.name)
    return item


@router.get("/api/items/{item_id}")
async def get_item(item_id: ItemId, services: ServicesDep, principal: PrincipalDep) -> Item:
    if services.settings.fault == "endpoint-500":
        raise RuntimeError("DEMO_FAULT=endpoint-500")
    async with _tenant_transaction(services, principal) as conn:
        result = await conn.execute(
            text(f"SELECT {COLUMNS} FROM items WHERE id = :id"), {"id": item_id}
        )
        return Item.from_row(_found(result.mappings().one_or_none(), item_id))


@router.patch("/api/items/{item_id}")
async def update_item(
    item_id: ItemId, body: ItemPatch, services: ServicesDep, principal: PrincipalDep
) -> Item:
    changes = body.model_dump(exclude_none=True)
    assignments = ", ".join(f"{column} = :{column}" for column in changes)  # ItemPatch's fields
    async with _tenant_transaction(services, principal) as conn:
        result = await conn.execute(
            text(f"UPDATE items SET {assignments} WHERE id = :id RETURNING {COLUMNS}"),
            {**changes, "id": item_id},
        )
        item = Item.from_row(_found(result.mappings().one_or_none(), item_id))
    await _publish(services, "updated", item.id, item.name)
    return item


@router.delete("/api/items/{item_id}", status_code=204)
async def delete_item(item_id: ItemId, services: ServicesDep, principal: PrincipalDep) -> Response:
    async with _tenant_transaction(services, principal) as conn:
        result = await conn.execute(
            text("DELETE FROM items WHERE id = :id RETURNING id, name"), {"id": item_id}
        )
        row = _found(result.mappings().one_or_none(), item_id)
    await _publish(services, "deleted", row["id"], row["name"])
    return Response(status_code=204)


def _found(row: RowMapping | None, item_id: int) -> RowMapping:
    if row is None:
        raise HTTPException(404, f"item {item_id} not found")
    return row


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)


# --- the outer layer: headers, metrics, faults, 500s -------------------------------------------


class Metrics:
    """Request count and latency, labelled by route template so raw paths cannot explode them.

    One registry per app (tests create several). With several uvicorn workers each keeps its
    own counts; prometheus_client's multiprocess mode would be the next step.
    """

    METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "demo_http_requests_total",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "demo_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in self.METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class EdgeMiddleware:
    """The outermost layer, so every answer (a CORS preflight, a 404, a 500) passes through it.

    It adds the security headers, records metrics, applies the ``slow`` fault and turns an
    unhandled error into 500 ``{"detail": "internal error"}``. That last part is here rather
    than in an ``Exception`` handler because Starlette runs those outside all middleware, so
    their 500 would miss the security headers.
    """

    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.delay = settings.slow_seconds if settings.fault == "slow" else 0.0
        self.headers = dict(SECURITY_HEADERS)
        if settings.fault == "header-missing":
            del self.headers["X-Content-Type-Options"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message).update(self.headers)
            await send(message)

        try:
            if self.delay and scope["path"].startswith("/api/"):
                await asyncio.sleep(self.delay)
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error in %s %s", scope["method"], _route(scope))
            if response_started:
                raise
            error = JSONResponse({"detail": "internal error"}, status_code=500)
            await error(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(scope["method"], _route(scope), status, elapsed)


def _route(scope: Scope) -> str:
    # The router stores the matched route in the scope; unmatched paths share one label.
    return str(getattr(scope.get("route"), "path", "<unmatched>"))


# --- the app ------------------------------------------------------------------------------------


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_async_engine(
        settings.database_url, connect_args={"timeout": 3}, pool_pre_ping=True
    )
    redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    app.state.services = Services(settings, engine, redis)
    logger.info(
        "demo: database %s, fault %s, rate limit %d/%ds, CORS %s",
        settings.database_url.render_as_string(hide_password=True),
        settings.fault or "none",
        settings.rate_limit,
        settings.rate_window,
        ", ".join(settings.cors_origins) or "none",
    )
    try:
        yield
    finally:
        await redis.aclose()
        await engine.dispose()


def create_app(env: Mapping[str, str] | None = None) -> FastAPI:
    """The demo app configured from ``env`` (default: ``os.environ``).

    Raises ConfigError, naming the variable, when the configuration is unusable.
    """
    settings = Settings.from_env(os.environ if env is None else env)
    app = FastAPI(title="smoke demo", lifespan=_lifespan)
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.include_router(router)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
    )
    # Added last, so outermost.
    app.add_middleware(EdgeMiddleware, settings=settings, metrics=app.state.metrics)
    return app


app = create_app()

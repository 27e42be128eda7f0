"""The articles example (pytest_smoke/demo/articles) in-process, against the local PostgreSQL.

Its contract (examples/articles/CONTRACT.md) as a client sees it: the OAuth2 form login, the
``Token`` scheme and its 403s, the trailing-slash collection and its 307, the ``{"article": ...}``
envelope, PUT (not PATCH), ``skip``/``limit`` paging and the faults. The module gets its own
database, ``smoke_articles_test_<random>``, made from ``schema.sql`` with one user, and dropped at
the end however the run ends; the app connects as a member of ``articles_app``, as deployed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import re
import secrets
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import ModuleType

    from fastapi import FastAPI

HOST, PG_PORT = "127.0.0.1", 5432
ROOT = Path(__file__).resolve().parents[2]
ARTICLES_DIR = ROOT / "src" / "pytest_smoke" / "demo" / "articles"
SECRET = secrets.token_urlsafe(32)
USERNAME, PASSWORD = "smoke-bot", secrets.token_hex(8)
OTHER_USER = "someone-else"
ARTICLE_KEYS = {
    "slug",
    "title",
    "description",
    "body",
    "tagList",
    "createdAt",
    "updatedAt",
    "author",
}


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(not _listening(PG_PORT), reason=f"needs PostgreSQL on {HOST}:{PG_PORT}"),
    pytest.mark.asyncio,
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- the package, the database, the environment -----------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[ModuleType]:
    """The demo's articles_api package, imported as uvicorn's ``--app-dir`` would."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ARTICLES_DIR))
        yield importlib.import_module("articles_api")
    for name in [n for n in sys.modules if n == "articles_api" or n.startswith("articles_api.")]:
        del sys.modules[name]


async def _create_database(name: str, login_password: str, password_hash: str) -> None:
    admin = await asyncpg.connect(host=HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        # articles_app is cluster-wide: take turns with other runs creating it.
        await admin.execute("SELECT pg_advisory_lock(736105119)")
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(host=HOST, port=PG_PORT, user="postgres", database=name)
        try:
            await conn.execute((ARTICLES_DIR / "schema.sql").read_text())
            await conn.execute(
                f"CREATE ROLE \"{name}\" LOGIN IN ROLE articles_app PASSWORD '{login_password}'"
            )
            await conn.execute(
                "INSERT INTO users (username, password_hash) VALUES ($1, $2), ($3, 'x')",
                USERNAME,
                password_hash,
                OTHER_USER,
            )
        finally:
            await conn.close()
    finally:
        await admin.close()  # also releases the lock


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(host=HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def database(api: ModuleType) -> Iterator[str]:
    """A fresh database with the articles schema and two users; dropped at the end (with its
    login role, named like it)."""
    passwords = importlib.import_module("articles_api.passwords")
    name = f"smoke_articles_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_create_database(name, "x", passwords.hash_password(PASSWORD)))
        yield name
    finally:
        asyncio.run(_drop_database(name))


@pytest.fixture(scope="module")
def env(database: str) -> dict[str, str]:
    """The environment the launcher gives the app, pointed at this module's database."""
    return {
        "ARTICLES_DATABASE_URL": f"postgresql://{database}:x@{HOST}:{PG_PORT}/{database}",
        "ARTICLES_SECRET_KEY": SECRET,
    }


@pytest.fixture
def make_app(api: ModuleType, env: dict[str, str]) -> Any:
    """``make_app(**overrides)``: the app from ``env`` plus overrides, as the factory makes it."""
    main = importlib.import_module("articles_api.main")

    def make(**overrides: str) -> FastAPI:
        app: FastAPI = main.create_app({**env, **overrides})
        return app

    return make


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to ``app`` in-process, with the app's lifespan run around it. An
    unhandled error is answered (500) as the server would, not raised into the test."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://articles.test") as client,
    ):
        yield client


@pytest_asyncio.fixture
async def client(make_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the healthy app."""
    async with serve(make_app()) as client:
        yield client


async def login(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/api/auth/token", data={"username": USERNAME, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Token {response.json()['access_token']}"}


@pytest_asyncio.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    """``Authorization: Token <jwt>`` for the seeded user."""
    return await login(client)


@contextlib.asynccontextmanager
async def as_postgres(database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(host=HOST, port=PG_PORT, user="postgres", database=database)
    try:
        yield conn
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def no_articles(database: str) -> None:
    """Start with an empty articles table (the listing tests count)."""
    async with as_postgres(database) as conn:
        await conn.execute("DELETE FROM articles")


def new_article(**changes: Any) -> dict[str, Any]:
    article = {
        "title": f"Smoke {secrets.token_hex(3)}",
        "description": "a description",
        "body": "a body",
        "tagList": ["smoke", "test"],
    }
    return {"article": {**article, **changes}}


async def create(client: httpx.AsyncClient, auth: dict[str, str], **changes: Any) -> Any:
    response = await client.post("/api/articles/", headers=auth, json=new_article(**changes))
    assert response.status_code == 201, response.text
    return response.json()["article"]


def _token(secret: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": USERNAME, "exp": now + 60, **claims}, secret, "HS256")


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ARTICLES_DATABASE_URL": ""}, "ARTICLES_DATABASE_URL is not set"),
        ({"ARTICLES_DATABASE_URL": "mysql://x@h/d"}, "must be a postgresql:// URL"),
        ({"ARTICLES_SECRET_KEY": ""}, "ARTICLES_SECRET_KEY is not set"),
        ({"ARTICLES_SECRET_KEY": "short"}, "at least 32 bytes"),
        ({"ARTICLES_TOKEN_MINUTES": "0"}, "ARTICLES_TOKEN_MINUTES='0' is not a positive"),
        ({"ARTICLES_FAULT": "slow"}, "ARTICLES_FAULT='slow' is not a known fault; valid: "),
    ],
)
async def test_bad_configuration_names_the_variable(
    make_app: Any, api: ModuleType, overrides: dict[str, str], message: str
) -> None:
    settings = importlib.import_module("articles_api.settings")
    with pytest.raises(settings.ConfigError, match=re.escape(message)):
        make_app(**overrides)


async def test_the_checks_file_describes_these_conventions() -> None:
    from pytest_smoke.checks import load_checks

    variables = {"SMOKE_TEST_USERNAME": USERNAME, "SMOKE_TEST_PASSWORD": PASSWORD}
    checks = load_checks(ARTICLES_DIR / "smoke-checks.toml", variables)
    assert checks.get("auth.scheme") == "Token"
    assert checks.get("auth.login.format") == "form"
    assert checks.get("auth.login.body") == {"username": USERNAME, "password": PASSWORD}
    assert checks.get("crud.id") == "article.slug"
    assert checks.get("crud.marker_field") == "title"
    assert checks.get("crud.methods.update") == "PUT"
    assert (checks.get("crud.list.limit_param"), checks.get("crud.list.offset_param")) == (
        "limit",
        "skip",
    )
    assert not checks.has("crud.list.filter_param")
    for section in ("events", "rate_limit", "production", "azure", "database.rls"):
        assert checks.get(section) is None, section


# --- health, OpenAPI ----------------------------------------------------------------------------


async def test_healthz_passes_while_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "pass"}
    assert (await client.get("/health")).status_code == 404  # not the items demo's path


async def test_database_down_fails_health_fast_and_reads_answer_500(make_app: Any) -> None:
    # database-down is the launcher's fault: the app only sees a URL nobody listens on.
    dead = f"postgresql://articles_app:x@{HOST}:{_closed_port()}/smoke_articles"
    async with serve(make_app(ARTICLES_DATABASE_URL=dead)) as client:
        started = time.monotonic()
        response = await client.get("/api/healthz")
        assert time.monotonic() - started < 6
        assert response.status_code == 503
        assert response.json() == {"status": "fail"}
        login = await client.post(
            "/api/auth/token", data={"username": USERNAME, "password": PASSWORD}
        )
        assert login.status_code == 500
        assert login.json() == {"errors": {"body": ["internal error"]}}
        token = {"Authorization": f"Token {_token()}"}
        listing = await client.get("/api/articles/", headers=token)
        assert listing.status_code == 500
        assert "Traceback" not in listing.text


async def test_openapi_describes_the_api(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert set(document["paths"]) == {
        "/api/healthz",
        "/api/auth/token",
        "/api/users",
        "/api/user",
        "/api/users/{username}",
        "/api/articles/",
        "/api/articles/{slug}",
    }
    assert set(document["paths"]["/api/articles/{slug}"]) == {"get", "put", "delete"}
    login = document["paths"]["/api/auth/token"]["post"]["requestBody"]["content"]
    assert list(login) == ["application/x-www-form-urlencoded"]
    scheme = document["components"]["securitySchemes"]["Token"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


# --- login and the Token scheme -----------------------------------------------------------------


async def test_login_is_the_oauth2_password_form(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/token", data={"username": USERNAME, "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type"}
    assert body["token_type"] == "bearer"
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == USERNAME
    assert claims["exp"] - claims["iat"] == 30 * 60


async def test_login_as_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/token", json={"username": USERNAME, "password": PASSWORD}
    )
    assert response.status_code == 422
    assert response.json()["errors"]["body"]


@pytest.mark.parametrize(
    "form",
    [
        {"username": USERNAME, "password": "wrong"},
        {"username": "nobody", "password": PASSWORD},
        {"username": OTHER_USER, "password": "x"},  # a malformed stored hash never matches
    ],
    ids=["wrong-password", "unknown-user", "malformed-hash"],
)
async def test_wrong_credentials_are_401(client: httpx.AsyncClient, form: dict[str, str]) -> None:
    response = await client.post("/api/auth/token", data=form)
    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect username or password"}
    assert response.headers["www-authenticate"] == "Bearer"


ROUTES = [
    ("GET", "/api/articles/"),
    ("POST", "/api/articles/"),
    ("GET", "/api/articles/some-slug"),
    ("PUT", "/api/articles/some-slug"),
    ("DELETE", "/api/articles/some-slug"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_no_authorization_header_is_403_not_authenticated(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    # Refused before the body is looked at: an anonymous client learns nothing about it.
    response = await client.request(method, path, json={"article": {}})
    assert response.status_code == 403
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer {token}",
        "token {token}",
        "{token}",
        "Token",
        "Token not-a-jwt",
        "Token {other_secret}",
        "Token {expired}",
        "Token {no_subject}",
    ],
    ids=[
        "bearer",
        "lowercase-scheme",
        "bare",
        "empty",
        "garbage",
        "other-secret",
        "expired",
        "no-subject",
    ],
)
@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_anything_but_a_valid_token_in_the_token_scheme_is_403(
    client: httpx.AsyncClient, method: str, path: str, authorization: str
) -> None:
    header = authorization.format(
        token=_token(),
        other_secret=_token(secret=secrets.token_urlsafe(32)),
        expired=_token(exp=int(time.time()) - 10),
        no_subject=jwt.encode({"exp": int(time.time()) + 60}, SECRET, "HS256"),
    )
    response = await client.request(
        method, path, headers={"Authorization": header}, json=new_article()
    )
    assert response.status_code == 403
    assert isinstance(response.json()["detail"], str)


async def test_the_token_from_the_login_is_accepted(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    assert auth["Authorization"].startswith("Token ey")
    response = await client.get("/api/articles/", headers=auth)
    assert response.status_code == 200


# --- the collection: trailing slash, envelope, PUT ------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_the_collection_without_its_slash_redirects_307(
    client: httpx.AsyncClient, auth: dict[str, str], method: str
) -> None:
    response = await client.request(method, "/api/articles", headers=auth, json=new_article())
    assert response.status_code == 307
    assert response.headers["location"] == "http://articles.test/api/articles/"


async def test_article_round_trip_in_the_envelope(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    created = await client.post(
        "/api/articles/", headers=auth, json=new_article(title="Hello, World!")
    )
    assert created.status_code == 201
    assert list(created.json()) == ["article"]
    article = created.json()["article"]
    assert set(article) == ARTICLE_KEYS
    assert re.fullmatch(r"hello-world-[0-9a-f]{6}", article["slug"]), article["slug"]
    assert (article["title"], article["description"], article["body"]) == (
        "Hello, World!",
        "a description",
        "a body",
    )
    assert article["tagList"] == ["smoke", "test"]
    assert article["author"] == {
        "username": USERNAME,
        "bio": "",
        "image": None,
        "following": False,
    }
    assert article["createdAt"] == article["updatedAt"]
    assert article["createdAt"].endswith("Z")
    url = f"/api/articles/{article['slug']}"

    fetched = await client.get(url, headers=auth)
    assert fetched.status_code == 200
    assert fetched.json() == {"article": article}

    updated = await client.put(
        url, headers=auth, json={"article": {"description": "changed", "title": "New title"}}
    )
    assert updated.status_code == 200
    changed = updated.json()["article"]
    # The slug stays with its article: its URL keeps working after a new title.
    assert changed["slug"] == article["slug"]
    assert {**changed, "updatedAt": None} == {
        **article,
        "description": "changed",
        "title": "New title",
        "updatedAt": None,
    }
    assert datetime.fromisoformat(changed["updatedAt"]) > datetime.fromisoformat(
        article["updatedAt"]
    )
    assert (await client.get(url, headers=auth)).json() == {"article": changed}

    patched = await client.patch(url, headers=auth, json={"article": {"body": "x"}})
    assert patched.status_code == 405

    deleted = await client.delete(url, headers=auth)
    assert deleted.status_code == 204
    assert deleted.content == b""
    for method in ("GET", "PUT", "DELETE"):
        gone = await client.request(method, url, headers=auth, json={"article": {"body": "x"}})
        assert gone.status_code == 404
        assert gone.json() == {"errors": {"body": ["article not found"]}}


async def test_equal_titles_get_their_own_slugs(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    first = await create(client, auth, title="Same Title")
    second = await create(client, auth, title="Same Title")
    assert first["slug"] != second["slug"]
    odd = await create(client, auth, title="Ünïcödé & émojis 🎉 ---")
    assert re.fullmatch(r"unicode-emojis-[0-9a-f]{6}", odd["slug"]), odd["slug"]
    symbols = await create(client, auth, title="!!!")
    assert re.fullmatch(r"article-[0-9a-f]{6}", symbols["slug"]), symbols["slug"]


@pytest.mark.parametrize(
    "body",
    [
        {"title": "t", "description": "d", "body": "b"},  # not enveloped
        {"article": {"title": "", "description": "d", "body": "b"}},
        {"article": {"title": "t"}},
        {"article": {"title": "t", "description": "d", "body": "b", "tagList": "smoke"}},
        {"article": {"title": "t", "description": "d", "body": "b", "author": "me"}},
        {"article": None},
    ],
    ids=["bare", "empty-title", "missing-fields", "tags-not-a-list", "unknown-field", "null"],
)
async def test_an_invalid_create_is_422_with_errors(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post("/api/articles/", headers=auth, json=body)
    assert response.status_code == 422
    messages = response.json()["errors"]["body"]
    assert messages
    assert all(isinstance(message, str) for message in messages)


async def test_missing_fields_are_named(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.post("/api/articles/", headers=auth, json={"article": {"title": ""}})
    messages = response.json()["errors"]["body"]
    assert "article.title: String should have at least 1 character" in messages
    assert "article.description: Field required" in messages
    assert "article.body: Field required" in messages


@pytest.mark.parametrize(
    "body",
    [{"article": {}}, {"article": {"title": None}}, {"article": {"title": ""}}, {"title": "x"}],
    ids=["nothing-to-change", "null-title", "empty-title", "bare"],
)
async def test_an_invalid_update_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]
) -> None:
    article = await create(client, auth)
    response = await client.put(f"/api/articles/{article['slug']}", headers=auth, json=body)
    assert response.status_code == 422
    assert response.json()["errors"]["body"]


async def test_only_the_author_may_change_an_article(
    client: httpx.AsyncClient, auth: dict[str, str], database: str
) -> None:
    slug = f"theirs-{secrets.token_hex(3)}"
    async with as_postgres(database) as conn:
        await conn.execute(
            "INSERT INTO articles (slug, title, description, body, author_id)"
            " SELECT $1, 'Theirs', '', '', id FROM users WHERE username = $2",
            slug,
            OTHER_USER,
        )
    url = f"/api/articles/{slug}"
    assert (await client.get(url, headers=auth)).json()["article"]["author"]["username"] == (
        OTHER_USER
    )
    for method in ("PUT", "DELETE"):
        response = await client.request(method, url, headers=auth, json={"article": {"body": "x"}})
        assert response.status_code == 403
        assert response.json() == {"errors": {"body": ["only the author may change this article"]}}


async def test_a_token_for_a_user_that_does_not_exist_cannot_write(
    client: httpx.AsyncClient,
) -> None:
    ghost = {"Authorization": f"Token {_token(sub='ghost')}"}
    response = await client.post("/api/articles/", headers=ghost, json=new_article())
    assert response.status_code == 403
    assert response.json() == {"errors": {"body": ["the token's user does not exist"]}}


# --- the listing ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_articles")
async def test_list_is_newest_first_paged_by_skip_and_limit(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    slugs = [(await create(client, auth, title=f"Page {n}"))["slug"] for n in range(5)]
    newest_first = slugs[::-1]

    everything = await client.get("/api/articles/", headers=auth)
    assert everything.status_code == 200
    body = everything.json()
    assert set(body) == {"articles", "articlesCount"}
    assert body["articlesCount"] == 5
    assert [a["slug"] for a in body["articles"]] == newest_first
    assert all(set(a) == ARTICLE_KEYS for a in body["articles"])

    pages = []
    for skip in (0, 2, 4, 6):
        page = await client.get("/api/articles/", headers=auth, params={"skip": skip, "limit": 2})
        assert page.json()["articlesCount"] == 5
        pages += [a["slug"] for a in page.json()["articles"]]
    assert pages == newest_first  # no overlap, no gap, the same order


@pytest.mark.usefixtures("no_articles")
async def test_list_defaults_to_20_and_has_no_filter(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    for n in range(21):
        await create(client, auth, title=f"Many {n}")
    target = await create(client, auth, title="Find me")
    response = await client.get("/api/articles/", headers=auth, params={"title": "Find me"})
    body = response.json()
    assert body["articlesCount"] == 22  # an unknown parameter filters nothing
    assert len(body["articles"]) == 20
    assert body["articles"][0]["slug"] == target["slug"]


@pytest.mark.usefixtures("no_articles")
async def test_an_empty_or_exhausted_list(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.get("/api/articles/", headers=auth)
    assert response.json() == {"articles": [], "articlesCount": 0}
    await create(client, auth)
    past_the_end = await client.get("/api/articles/", headers=auth, params={"skip": 5})
    assert past_the_end.json() == {"articles": [], "articlesCount": 1}


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"skip": -1}, {"limit": "ten"}, {"skip": 10**10}],
    ids=["limit-0", "limit-101", "skip-negative", "limit-text", "skip-huge"],
)
async def test_bad_paging_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], params: dict[str, Any]
) -> None:
    response = await client.get("/api/articles/", headers=auth, params=params)
    assert response.status_code == 422
    assert response.json()["errors"]["body"][0].startswith("query.")


# --- faults -------------------------------------------------------------------------------------


async def test_fault_endpoint_500_breaks_the_listing_only(make_app: Any) -> None:
    async with serve(make_app(ARTICLES_FAULT="endpoint-500")) as client:
        auth = await login(client)
        listing = await client.get("/api/articles/", headers=auth)
        assert listing.status_code == 500
        assert listing.json() == {"errors": {"body": ["internal error"]}}
        article = await create(client, auth)
        url = f"/api/articles/{article['slug']}"
        assert (await client.get(url, headers=auth)).status_code == 200
        assert (await client.delete(url, headers=auth)).status_code == 204
        assert (await client.get("/api/healthz")).status_code == 200


async def test_fault_auth_broken_refuses_every_token(make_app: Any) -> None:
    async with serve(make_app(ARTICLES_FAULT="auth-broken")) as client:
        auth = await login(client)  # tokens are still issued...
        for method, path in ROUTES:
            response = await client.request(method, path, headers=auth, json=new_article())
            assert response.status_code == 403, (method, path)  # ...and never accepted
            assert response.json() == {"detail": "could not validate credentials"}
        assert (await client.get("/api/healthz")).status_code == 200


async def test_fault_database_down_is_accepted_and_changes_nothing_in_the_app(
    make_app: Any,
) -> None:
    # The launcher's fault: the app knows the name, the closed port does the rest.
    async with serve(make_app(ARTICLES_FAULT="database-down")) as client:
        assert (await client.get("/api/healthz")).status_code == 200


# --- passwords ----------------------------------------------------------------------------------


async def test_password_hashes(api: ModuleType) -> None:
    passwords = importlib.import_module("articles_api.passwords")
    stored = passwords.hash_password("s3cret")
    assert stored.startswith("scrypt$16384$8$1$")
    assert "s3cret" not in stored
    assert passwords.hash_password("s3cret") != stored  # salted
    assert passwords.verify_password("s3cret", stored)
    assert not passwords.verify_password("s3cret!", stored)
    for malformed in ("", "x", "bcrypt$1$2$3$aa$bb", "scrypt$n$8$1$aa$bb", "scrypt$16384$8$1$zz$"):
        assert not passwords.verify_password("s3cret", malformed)


# --- the schema ---------------------------------------------------------------------------------


async def test_schema_is_reapplicable_and_the_app_role_cannot_touch_users(database: str) -> None:
    async with as_postgres(database) as conn:
        await conn.execute((ARTICLES_DIR / "schema.sql").read_text())
        owners = await conn.fetch(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE tablename IN ('users', 'articles')"
        )
    assert [row["tableowner"] for row in owners] == ["postgres"]
    app_conn = await asyncpg.connect(
        host=HOST, port=PG_PORT, user=database, password="x", database=database
    )
    try:
        assert await app_conn.fetchval("SELECT count(*) FROM users") == 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute("UPDATE users SET bio = 'x'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute("DROP TABLE articles")
        with pytest.raises(asyncpg.CheckViolationError):
            await app_conn.execute(
                "INSERT INTO articles (slug, title, description, body, author_id)"
                " SELECT 'x', '', '', '', min(id) FROM users"
            )
    finally:
        await app_conn.close()


# --- users: sign up, log in, the current user, delete -------------------------------------------


def new_user() -> dict[str, str]:
    name = f"smoke-{secrets.token_hex(4)}"
    return {"username": name, "email": f"{name}@example.com", "password": secrets.token_hex(8)}


async def test_sign_up_log_in_profile_and_delete(client: httpx.AsyncClient, database: str) -> None:
    user = new_user()
    signed_up = await client.post("/api/users", json={"user": user})
    assert signed_up.status_code == 201, signed_up.text
    assert signed_up.json() == {
        "user": {"username": user["username"], "email": user["email"], "bio": "", "image": None}
    }
    token = await client.post(
        "/api/auth/token", data={"username": user["username"], "password": user["password"]}
    )
    assert token.status_code == 200, token.text
    auth = {"Authorization": f"Token {token.json()['access_token']}"}
    profile = await client.get("/api/user", headers=auth)
    assert profile.status_code == 200
    assert profile.json()["user"]["email"] == user["email"]
    await create(client, auth)  # deleted with its author
    url = f"/api/users/{user['username']}"
    wrong = await client.request("DELETE", url, json={"user": {"password": "not-it-at-all"}})
    assert wrong.status_code == 403
    assert wrong.json() == {"errors": {"body": ["incorrect password"]}}
    gone = await client.request("DELETE", url, json={"user": {"password": user["password"]}})
    assert gone.status_code == 204
    again = await client.request("DELETE", url, json={"user": {"password": user["password"]}})
    assert again.status_code == 404
    assert (await client.get("/api/user", headers=auth)).status_code == 404
    async with as_postgres(database) as conn:
        left = await conn.fetchval(
            "SELECT count(*) FROM users WHERE username = $1", user["username"]
        )
    assert left == 0


async def test_a_taken_name_or_address_and_a_bad_sign_up_are_422(
    client: httpx.AsyncClient,
) -> None:
    user = new_user()
    assert (await client.post("/api/users", json={"user": user})).status_code == 201
    try:
        for taken in (
            {**new_user(), "username": user["username"]},
            {**new_user(), "email": user["email"]},
        ):
            response = await client.post("/api/users", json={"user": taken})
            assert response.status_code == 422
            assert response.json() == {
                "errors": {"body": ["username or email has already been taken"]}
            }
        for bad in ({"email": "no-at-sign"}, {"password": "short"}, {"username": ""}):
            response = await client.post("/api/users", json={"user": {**new_user(), **bad}})
            assert response.status_code == 422, bad
    finally:
        await client.request(
            "DELETE",
            f"/api/users/{user['username']}",
            json={"user": {"password": user["password"]}},
        )


async def test_deleting_a_user_needs_no_token_so_auth_broken_cannot_strand_one(
    make_app: Any,
) -> None:
    user = new_user()
    async with serve(make_app(ARTICLES_FAULT="auth-broken")) as client:
        assert (await client.post("/api/users", json={"user": user})).status_code == 201
        token = await client.post(
            "/api/auth/token", data={"username": user["username"], "password": user["password"]}
        )
        auth = {"Authorization": f"Token {token.json()['access_token']}"}
        assert (await client.get("/api/user", headers=auth)).status_code == 403
        deleted = await client.request(
            "DELETE",
            f"/api/users/{user['username']}",
            json={"user": {"password": user["password"]}},
        )
        assert deleted.status_code == 204

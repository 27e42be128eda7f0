"""The endpoints: health, the OAuth2 password login, the users, and the articles collection."""

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from . import repository
from .errors import ApiError
from .passwords import DUMMY_HASH, hash_password, verify_password
from .schemas import (
    Article,
    ArticleEnvelope,
    ArticleInCreate,
    ArticleInUpdate,
    ArticleList,
    Health,
    Token,
    User,
    UserEnvelope,
    UserInCreate,
    UserInDelete,
)
from .security import CurrentUser, issue_token
from .settings import Settings

logger = logging.getLogger("uvicorn.error")
HEALTH_TIMEOUT = 2.0
MAX_SKIP = 10**9


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _pool(request: Request) -> Any:
    return request.app.state.pool


SettingsDep = Annotated[Settings, Depends(_settings)]
PoolDep = Annotated[Any, Depends(_pool)]  # asyncpg.Pool, untyped

router = APIRouter(prefix="/api")


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(pool: PoolDep) -> Any:
    """``pass`` when the database answers within 2 s, else 503 ``fail``."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await repository.ping(pool)
    except Exception as error:
        logger.warning("healthz: the database does not answer: %s", type(error).__name__)
        return JSONResponse({"status": "fail"}, status_code=503)
    return Health(status="pass")


@router.post("/auth/token", tags=["auth"])
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    pool: PoolDep,
    settings: SettingsDep,
) -> Token:
    """The OAuth2 password flow: a form with ``username`` and ``password``."""
    stored = await repository.password_hash(pool, form.username)
    # Hash even for an unknown user, so the answer's timing does not tell which it was.
    matches = await asyncio.to_thread(verify_password, form.password, stored or DUMMY_HASH)
    if stored is None or not matches:
        raise HTTPException(
            401, "Incorrect username or password", headers={"WWW-Authenticate": "Bearer"}
        )
    return Token(access_token=issue_token(settings, form.username))


@router.post("/users", status_code=201, tags=["users"])
async def sign_up(pool: PoolDep, user: Annotated[UserInCreate, Body(embed=True)]) -> UserEnvelope:
    """Register: ``{"user": {"username", "email", "password"}}``; log in with the form after."""
    hashed = await asyncio.to_thread(hash_password, user.password)
    row = await repository.create_user(pool, user.username, user.email, hashed)
    return UserEnvelope(user=User.from_row(row))


@router.get("/user", tags=["users"])
async def current_user(username: CurrentUser, pool: PoolDep) -> UserEnvelope:
    """The user the token was issued to."""
    return UserEnvelope(user=User.from_row(await repository.get_user(pool, username)))


@router.delete("/users/{username}", status_code=204, tags=["users"])
async def delete_user(
    username: str, pool: PoolDep, user: Annotated[UserInDelete, Body(embed=True)]
) -> Response:
    """Delete an account, and its articles. It takes the account's password, not a token: a
    stolen token cannot delete the account."""
    stored = await repository.password_hash(pool, username)
    if stored is None:
        raise ApiError(404, "user not found")
    if not await asyncio.to_thread(verify_password, user.password, stored):
        raise ApiError(403, "incorrect password")
    await repository.delete_user(pool, username)
    return Response(status_code=204)


articles = APIRouter(prefix="/api/articles", tags=["articles"])


@articles.get("/")
async def list_articles(
    _user: CurrentUser,
    pool: PoolDep,
    settings: SettingsDep,
    skip: Annotated[int, Query(ge=0, le=MAX_SKIP)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ArticleList:
    """A page of articles, newest first, and how many there are in all."""
    if settings.fault == "endpoint-500":
        raise RuntimeError("ARTICLES_FAULT=endpoint-500")
    rows, total = await repository.list_articles(pool, skip, limit)
    return ArticleList(articles=[Article.from_row(row) for row in rows], articles_count=total)


@articles.post("/", status_code=201)
async def create_article(
    user: CurrentUser, pool: PoolDep, article: Annotated[ArticleInCreate, Body(embed=True)]
) -> ArticleEnvelope:
    row = await repository.create_article(pool, user, article)
    return ArticleEnvelope(article=Article.from_row(row))


@articles.get("/{slug}")
async def get_article(slug: str, _user: CurrentUser, pool: PoolDep) -> ArticleEnvelope:
    return ArticleEnvelope(article=Article.from_row(await repository.get_article(pool, slug)))


@articles.put("/{slug}")
async def update_article(
    slug: str,
    user: CurrentUser,
    pool: PoolDep,
    article: Annotated[ArticleInUpdate, Body(embed=True)],
) -> ArticleEnvelope:
    """Change the fields given; the others, and the slug, stay."""
    row = await repository.update_article(pool, slug, user, article)
    return ArticleEnvelope(article=Article.from_row(row))


@articles.delete("/{slug}", status_code=204)
async def delete_article(slug: str, user: CurrentUser, pool: PoolDep) -> Response:
    await repository.delete_article(pool, slug, user)
    return Response(status_code=204)

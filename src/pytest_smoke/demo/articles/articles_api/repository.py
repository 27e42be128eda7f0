"""The SQL, on an asyncpg pool: users (for login) and articles (see ../schema.sql)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]

from .errors import ApiError

if TYPE_CHECKING:
    from .schemas import ArticleInCreate, ArticleInUpdate

Record = Any  # asyncpg.Record: asyncpg ships no type information
SLUG_ATTEMPTS = 3

# The columns every article answer needs, the author's profile included.
ARTICLE = """
    a.slug, a.title, a.description, a.body, a.tag_list, a.created_at, a.updated_at,
    u.username, u.bio, u.image
"""


def not_found() -> ApiError:
    return ApiError(404, "article not found")


def slugify(title: str) -> str:
    """``title`` as a URL slug plus a short random suffix, so equal titles get their own slug."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-")
    return f"{words or 'article'}-{secrets.token_hex(3)}"


async def password_hash(pool: asyncpg.Pool, username: str) -> str | None:
    value = await pool.fetchval("SELECT password_hash FROM users WHERE username = $1", username)
    return None if value is None else str(value)


USER = "username, email, bio, image"


async def create_user(pool: asyncpg.Pool, username: str, email: str, hashed: str) -> Record:
    """A new user; 422 when the username or the e-mail address is taken."""
    try:
        return await pool.fetchrow(
            f"INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3)"
            f" RETURNING {USER}",
            username,
            email,
            hashed,
        )
    except asyncpg.UniqueViolationError:
        raise ApiError(422, "username or email has already been taken") from None


async def get_user(pool: asyncpg.Pool, username: str) -> Record:
    row = await pool.fetchrow(f"SELECT {USER} FROM users WHERE username = $1", username)
    if row is None:
        raise ApiError(404, "user not found")
    return row


async def delete_user(pool: asyncpg.Pool, username: str) -> None:
    """Delete the user, and with them their articles (ON DELETE CASCADE)."""
    await pool.execute("DELETE FROM users WHERE username = $1", username)


async def ping(pool: asyncpg.Pool) -> None:
    await pool.fetchval("SELECT 1")


async def list_articles(pool: asyncpg.Pool, skip: int, limit: int) -> tuple[list[Record], int]:
    """One page, newest first (ties broken by id, so pages never overlap), and the total."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        total = await conn.fetchval("SELECT count(*) FROM articles")
        rows = await conn.fetch(
            f"SELECT {ARTICLE} FROM articles a JOIN users u ON u.id = a.author_id"
            " ORDER BY a.created_at DESC, a.id DESC OFFSET $1 LIMIT $2",
            skip,
            limit,
        )
    return list(rows), int(total)


async def get_article(pool: asyncpg.Pool, slug: str) -> Record:
    row = await pool.fetchrow(
        f"SELECT {ARTICLE} FROM articles a JOIN users u ON u.id = a.author_id WHERE a.slug = $1",
        slug,
    )
    if row is None:
        raise not_found()
    return row


async def create_article(pool: asyncpg.Pool, author: str, article: ArticleInCreate) -> Record:
    query = f"""
        WITH inserted AS (
            INSERT INTO articles (slug, title, description, body, tag_list, author_id)
            SELECT $1, $2, $3, $4, $5, id FROM users WHERE username = $6
            RETURNING *
        )
        SELECT {ARTICLE} FROM inserted a JOIN users u ON u.id = a.author_id
    """
    for attempt in range(SLUG_ATTEMPTS):
        values = (article.title, article.description, article.body, article.tag_list, author)
        try:
            row = await pool.fetchrow(query, slugify(article.title), *values)
        except asyncpg.UniqueViolationError:
            if attempt + 1 == SLUG_ATTEMPTS:
                raise
            continue
        if row is None:  # a valid token for a user that is gone
            raise ApiError(403, "the token's user does not exist")
        return row
    raise AssertionError("unreachable")


async def _lock_own_article(conn: Any, slug: str, username: str) -> None:
    """Lock the article for a change; 404 if there is none, 403 if it is someone else's."""
    author = await conn.fetchval(
        "SELECT u.username FROM articles a JOIN users u ON u.id = a.author_id"
        " WHERE a.slug = $1 FOR UPDATE OF a",
        slug,
    )
    if author is None:
        raise not_found()
    if author != username:
        raise ApiError(403, "only the author may change this article")


async def update_article(
    pool: asyncpg.Pool, slug: str, username: str, changes: ArticleInUpdate
) -> Record:
    """Change the given fields; the slug stays, so the article's URL keeps working."""
    async with pool.acquire() as conn, conn.transaction():
        await _lock_own_article(conn, slug, username)
        return await conn.fetchrow(
            f"""
            WITH updated AS (
                UPDATE articles SET
                    title = coalesce($2, title),
                    description = coalesce($3, description),
                    body = coalesce($4, body),
                    tag_list = coalesce($5, tag_list),
                    updated_at = now()
                WHERE slug = $1
                RETURNING *
            )
            SELECT {ARTICLE} FROM updated a JOIN users u ON u.id = a.author_id
            """,
            slug,
            changes.title,
            changes.description,
            changes.body,
            changes.tag_list,
        )


async def delete_article(pool: asyncpg.Pool, slug: str, username: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await _lock_own_article(conn, slug, username)
        await conn.execute("DELETE FROM articles WHERE slug = $1", slug)

"""Tokens: issued by the OAuth2 password flow, presented as ``Authorization: Token <jwt>``.

The ``Token`` scheme is the RealWorld API's; FastAPI's ``OAuth2PasswordBearer`` would expect
``Bearer``, so the header is read as an API key and its scheme checked here. Every refusal is
403, as in the RealWorld backends: no header, another scheme, a forged or expired token.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

if TYPE_CHECKING:
    from .settings import Settings

SCHEME = "Token"
ALGORITHM = "HS256"

_authorization = APIKeyHeader(
    name="Authorization",
    scheme_name="Token",
    description="`Token <access_token>`, the token from POST /api/auth/token",
    auto_error=False,  # a missing header is answered below, with 403 like every refusal
)


def issue_token(settings: Settings, username: str) -> str:
    now = datetime.now(UTC)
    claims = {"sub": username, "iat": now, "exp": now + timedelta(minutes=settings.token_minutes)}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def _refused(detail: str) -> HTTPException:
    return HTTPException(403, detail)


async def current_username(
    request: Request, authorization: Annotated[str | None, Depends(_authorization)]
) -> str:
    """The username the request's token was issued to; 403 for anything else."""
    if not authorization:
        raise _refused("Not authenticated")
    scheme, _, token = authorization.partition(" ")
    if scheme != SCHEME or not token.strip():
        raise _refused(f"wrong authorization scheme: send '{SCHEME} <access_token>'")
    settings: Settings = request.app.state.settings
    if settings.fault == "auth-broken":
        raise _refused("could not validate credentials")
    try:
        claims = jwt.decode(
            token.strip(),
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
    except jwt.InvalidTokenError:
        raise _refused("could not validate credentials") from None
    return str(claims["sub"])


CurrentUser = Annotated[str, Depends(current_username)]

"""Bearer tokens: who may start, cancel and (with ``read_auth=token``) read runs.

Starting or cancelling a run always needs ``Authorization: Bearer <SMOKE_SERVER_TOKEN>``; reads
need it unless ``SMOKE_SERVER_READ_AUTH=open``; ``/health`` never does. Tokens are compared
with :func:`hmac.compare_digest` (no timing oracle). A refusal is 401 with
``WWW-Authenticate: Bearer`` and one line that never echoes what was sent.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

if TYPE_CHECKING:
    from pydantic import SecretStr

    from pytest_smoke.server.settings import ServerSettings

#: FastAPI's bearer scheme, lenient: the refusal is ours (401, one line), not its 403.
bearer = HTTPBearer(auto_error=False, description="SMOKE_SERVER_TOKEN")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def token_matches(given: str | None, expected: SecretStr) -> bool:
    """Whether ``given`` is the token, compared in constant time."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def unauthorized(
    message: str = "a bearer token is needed: Authorization: Bearer <token>",
) -> HTTPException:
    """The 401 answer, with the ``WWW-Authenticate`` challenge."""
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": "Bearer"},
    )


def check_bearer(credentials: HTTPAuthorizationCredentials | None, expected: SecretStr) -> None:
    """Raise the 401 unless ``credentials`` carry the token."""
    if credentials is None:
        raise unauthorized()
    if not token_matches(credentials.credentials, expected):
        raise unauthorized("the bearer token is not the service's token")


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


async def require_token(request: Request, credentials: Credentials) -> None:
    """Dependency: the request carries the token (starting and cancelling runs)."""
    check_bearer(credentials, _settings(request).token)


async def require_read_token(request: Request, credentials: Credentials) -> None:
    """Dependency: the request carries the token, unless ``read_auth`` is ``open``."""
    settings = _settings(request)
    if settings.read_auth != "open":
        check_bearer(credentials, settings.token)

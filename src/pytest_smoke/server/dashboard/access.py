"""Who may use the dashboard: the service's token in a cookie, and CSRF tokens for its forms.

- Signing in (``/ui/login``) puts the bearer token in an HttpOnly, SameSite=Strict cookie
  scoped to ``/ui`` (Secure when the page came over HTTPS); it is compared with
  :func:`~pytest_smoke.server.auth.token_matches` on every request that needs it. Starting a run
  always needs it; reading the pages needs it unless ``read_auth`` is ``open``.
- Every form carries a CSRF token (double submit): a random value in a SameSite=Strict cookie
  and the same value in a hidden field, compared with :func:`hmac.compare_digest`. A page
  from another site can neither read the cookie nor set it, so it cannot fill in the field.
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING, Final

from pytest_smoke.server.auth import token_matches

if TYPE_CHECKING:
    from fastapi import Request, Response

    from pytest_smoke.server.settings import ServerSettings

#: The cookie that holds the service's token after signing in.
TOKEN_COOKIE: Final = "smoke_gate_token"
#: The cookie (and the form field ``csrf``) of the double-submit CSRF token.
CSRF_COOKIE: Final = "smoke_gate_csrf"
#: Where the cookies apply: the dashboard only, never the JSON API (it takes the header).
COOKIE_PATH: Final = "/ui"
#: How long a sign-in lasts, in seconds (12 hours: a working day at the screen).
SESSION_SECONDS: Final = 12 * 3600


def signed_in(request: Request, settings: ServerSettings) -> bool:
    """Whether the request's cookie holds the service's token."""
    return token_matches(request.cookies.get(TOKEN_COOKIE), settings.token)


def may_read(request: Request, settings: ServerSettings) -> bool:
    """Whether the pages may be shown: ``read_auth`` is ``open``, or the request signed in."""
    return settings.read_auth == "open" or signed_in(request, settings)


def csrf_token(request: Request) -> str:
    """The request's CSRF token (its cookie's), or a new one; :func:`keep_csrf` sets it."""
    current = request.cookies.get(CSRF_COOKIE, "")
    return current if len(current) >= 32 else secrets.token_urlsafe(32)


def csrf_valid(request: Request, submitted: str | None) -> bool:
    """Whether the form's ``csrf`` field is the cookie's token (constant-time)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if len(cookie) < 32 or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def keep_csrf(response: Response, request: Request, token: str) -> None:
    """Set the CSRF cookie to ``token`` unless the request carried it already."""
    if request.cookies.get(CSRF_COOKIE) == token:
        return
    response.set_cookie(
        CSRF_COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def sign_in(response: Response, request: Request, token: str) -> None:
    """Put ``token`` (checked by the caller) in the HttpOnly cookie."""
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def sign_out(response: Response, request: Request) -> None:
    """Remove the token cookie."""
    response.delete_cookie(
        TOKEN_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_secure(request)
    )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path, never another site (else ``/ui``)."""
    if (
        not target
        or not target.startswith(COOKIE_PATH)
        or target.startswith("//")
        or "\\" in target
        or any(ord(character) < 32 for character in target)
    ):
        return COOKIE_PATH
    return target

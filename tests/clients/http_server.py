"""A real local HTTP(S) server whose answers each test scripts, plus small socket helpers.

The server is an aiohttp application served on ``127.0.0.1`` port 0 inside the test's own event
loop, so it starts in milliseconds and needs no thread. Use it as an async context manager::

    async with ScriptedServer() as server:
        server.script("/health", Reply(503), Reply(503), Reply(200))
        ...  # requests to server.url
        assert server.count("/health") == 3

A path answers with its scripted replies in order, the last one repeating; unscripted paths
answer 404. Every request is recorded in ``server.hits``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

if TYPE_CHECKING:
    import ssl

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, JSON or raw body, headers, and an optional delay."""

    status: int = 200
    json: Any = None
    body: str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    async def respond(self) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.json is not None:
            return web.json_response(self.json, status=self.status, headers=self.headers)
        body = self.body.encode() if isinstance(self.body, str) else self.body
        return web.Response(status=self.status, body=body, headers=self.headers)


@dataclass(frozen=True)
class Hit:
    """One request the server received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode()))


class ScriptedServer:
    """An HTTP server on 127.0.0.1:<free port>, HTTPS when given an ``ssl_context``."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._handlers: dict[str, Handler] = {}
        self._runner: web.AppRunner | None = None
        self.hits: list[Hit] = []
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def count(self, path: str) -> int:
        """How many requests ``path`` received."""
        return sum(1 for hit in self.hits if hit.path == path)

    def route(self, path: str, handler: Handler) -> None:
        """Answer requests to ``path`` with ``handler`` (any method)."""
        self._handlers[path] = handler

    def script(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` with ``replies`` in order; the last one repeats."""
        if not replies:
            raise ValueError("script at least one reply")
        queue = list(replies)

        async def handler(request: web.Request) -> web.StreamResponse:
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
            return await reply.respond()

        self.route(path, handler)

    def add_login(
        self,
        path: str = "/login",
        *,
        username: str,
        password: str,
        expires_in: float | None = None,
        token_path: str = "access_token",
        make_token: Callable[[], str] | None = None,
        delay: float = 0.0,
    ) -> list[str]:
        """A login endpoint taking JSON or form credentials; returns the list of tokens it issues.

        Wrong credentials get 401. The token is placed at the dotted ``token_path``, with
        ``expires_in`` (when given) next to it.
        """
        issued: list[str] = []

        async def login(request: web.Request) -> web.StreamResponse:
            if request.method != "POST":
                return web.json_response({"error": "method not allowed"}, status=405)
            if request.content_type == "application/json":
                credentials = await request.json()
            else:
                credentials = dict(await request.post())
            if delay:
                await asyncio.sleep(delay)
            if (credentials.get("username"), credentials.get("password")) != (username, password):
                return web.json_response({"error": "invalid credentials"}, status=401)
            token = make_token() if make_token is not None else f"tok-{secrets.token_hex(8)}"
            issued.append(token)
            leaf: dict[str, Any] = {token_path.rsplit(".", 1)[-1]: token}
            if expires_in is not None:
                leaf["expires_in"] = expires_in
            document: dict[str, Any] = leaf
            for key in reversed(token_path.split(".")[:-1]):
                document = {key: document}
            return web.json_response(document)

        self.route(path, login)
        return issued

    def add_entra_token_endpoint(
        self,
        tenant_id: str,
        *,
        client_id: str,
        client_secret: str,
        expires_in: int,
    ) -> list[str]:
        """Microsoft Entra ID's v2.0 token endpoint for the client-credentials grant.

        ``POST /<tenant>/oauth2/v2.0/token`` with a form body ``client_id``, ``client_secret``,
        ``grant_type=client_credentials``, ``scope``; answers JSON ``token_type``,
        ``expires_in``, ``ext_expires_in``, ``access_token`` like the real service, or 401
        ``invalid_client``. Returns the list of tokens it issues.
        """
        issued: list[str] = []

        async def token(request: web.Request) -> web.StreamResponse:
            form = await request.post()
            if form.get("grant_type") != "client_credentials" or not form.get("scope"):
                return web.json_response(
                    {"error": "invalid_request", "error_description": "AADSTS900144: bad grant"},
                    status=400,
                )
            if (form.get("client_id"), form.get("client_secret")) != (client_id, client_secret):
                return web.json_response(
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                    },
                    status=401,
                )
            access_token = f"entra-{len(issued)}-{secrets.token_hex(8)}"
            issued.append(access_token)
            return web.json_response(
                {
                    "token_type": "Bearer",
                    "expires_in": expires_in,
                    "ext_expires_in": expires_in,
                    "access_token": access_token,
                }
            )

        self.route(f"/{tenant_id}/oauth2/v2.0/token", token)
        return issued

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(
            Hit(
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        handler = self._handlers.get(request.path)
        if handler is None:
            return web.json_response({"error": "not scripted"}, status=404)
        return await handler(request)


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT carrying ``claims`` (enough for code that only reads ``exp``)."""

    def encode(part: dict[str, Any]) -> str:
        raw = json.dumps(part, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(claims)}.sig"


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port whose listener completes TCP handshakes (via the backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]

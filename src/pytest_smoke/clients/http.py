"""The HTTP client for the deployment's gateway: TLS always verified, retries, latency per request.

:func:`build_http_client` returns an ``httpx.AsyncClient`` whose transport retries what is safe
to retry (see :class:`RetryingTransport`) and records one :class:`RequestTiming` per request in a
:class:`LatencyLog`. :func:`raise_unavailable` turns a transport error into the
:class:`~pytest_smoke.causes.DependencyUnavailable` the gate groups failures by.
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Final, NoReturn
from urllib.parse import parse_qsl, urlencode

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.clients.tcp import format_target
from pytest_smoke.latency import percentile

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

#: Methods a server must be able to receive twice; only these are retried after a 502/503/504.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Methods that do not change the server (RFC 9110 "safe"); a read-only client sends only these.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Connections a client opens at once unless told otherwise (httpx's own default).
DEFAULT_MAX_CONNECTIONS: Final = 100
#: Statuses that mean "the gateway or its upstream is momentarily unavailable".
RETRY_STATUSES: Final = frozenset({502, 503, 504})
#: Errors raised before the request left this machine, so any method may be sent again.
CONNECT_ERRORS: Final = (httpx.ConnectError, httpx.ConnectTimeout)
#: The connection dropped before any answer came (a kept-alive connection the server closed,
#: as uvicorn does after an unhandled error): sent again for idempotent methods only.
DROPPED_CONNECTION_ERRORS: Final = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)

# Query parameters whose values never reach a latency log.
_SECRET_QUERY_WORDS: Final = ("token", "secret", "password", "passwd", "key", "sig", "code", "auth")


class ReadOnlyProfileError(RuntimeError):
    """A request that would change the deployment, refused because the profile is read-only.

    The message is one line: ``refusing POST /api/items: profile 'prod' is read-only
    (SMOKE_TEST_READ_ONLY)``; it names the method and the path, never the query or the host.
    """

    def __init__(self, method: str, path: str, why: str) -> None:
        super().__init__(f"refusing {method} {path}: {why}")
        self.method = method
        self.path = path


def read_only_guard(base_url: str, why: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook refusing every unsafe method (POST, PUT, PATCH, DELETE...) sent to
    the origin of ``base_url`` with :class:`ReadOnlyProfileError`; ``why`` ends its message.

    A request hook runs before the transport, so a refused request is never sent, retried or
    timed, and it runs again for each redirect (a 307 keeps the method).
    """
    origin = _origin(httpx.URL(base_url))

    async def guard(request: httpx.Request) -> None:
        if request.method not in SAFE_METHODS and _origin(request.url) == origin:
            raise ReadOnlyProfileError(request.method, request.url.path, why)

    return guard


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme))


@dataclass(frozen=True, slots=True)
class RequestTiming:
    """One logical request: all its attempts, from the first send to the last response's headers.

    ``url`` is the path and query only (secret-looking query values masked), never the host's
    credentials. ``status`` is ``None`` when no response arrived at all.
    """

    method: str
    url: str
    status: int | None
    seconds: float
    attempts: int


@dataclass(slots=True)
class LatencyLog:
    """The timings of every request a client made, in the order they finished."""

    entries: list[RequestTiming] = field(default_factory=list)

    def record(self, timing: RequestTiming) -> None:
        self.entries.append(timing)

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0-100) of the request durations in seconds, ``None`` if empty.

        Linear interpolation between the closest ranks, as numpy's default does.
        """
        return percentile([entry.seconds for entry in self.entries], q)

    def p50(self) -> float | None:
        return self.percentile(50)

    def p95(self) -> float | None:
        return self.percentile(95)

    def p99(self) -> float | None:
        return self.percentile(99)


def retry_after_seconds(response: httpx.Response, *, now: float | None = None) -> float | None:
    """The wait ``Retry-After`` asks for (seconds or an HTTP date); ``None`` if absent/invalid."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is read as such
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(seconds, 0.0)


class RetryingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport so that every request made through it gets retries and is timed.

    Retried, with exponential backoff plus jitter starting at ``backoff`` seconds:

    - connect errors and connect timeouts, for any method (the request never left);
    - a connection dropped before any answer (``RemoteProtocolError``, ``ReadError``,
      ``WriteError``: typically a kept-alive connection the server had just closed), for
      idempotent methods only;
    - 502/503/504 responses, for idempotent methods with a replayable body only; a
      ``Retry-After`` header replaces the backoff, capped at ``max_retry_after``.

    ``retries`` is the number of attempts after the first. When they run out the last response
    is returned, or the last connect error raised. Nothing else is retried: a read timeout may
    mean the server already acted on the request.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        retries: int,
        backoff: float,
        max_retry_after: float = 30.0,
        latencies: LatencyLog | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if backoff < 0 or max_retry_after < 0:
            raise ValueError("backoff and max_retry_after must be >= 0")
        self._transport = transport
        self._retries = retries
        self._max_retry_after = max_retry_after
        self._backoff = wait_exponential(multiplier=backoff, max=max_retry_after) + wait_random(
            0, backoff
        )
        self.latencies = latencies

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempts = 0
        total = self._retries + 1

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            response = await self._transport.handle_async_request(request)
            if attempts < total and self._should_retry(request, response):
                # Discarded: read it so the connection can go back to the pool, then close it.
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            return response

        retrying = AsyncRetrying(
            stop=stop_after_attempt(total),
            retry=(
                retry_if_exception_type(CONNECT_ERRORS)
                | retry_if_exception(lambda error: _dropped_idempotent(request, error))
                | retry_if_result(lambda response: self._should_retry(request, response))
            ),
            wait=self._wait,
            retry_error_callback=_last_outcome,
        )
        started = time.perf_counter()
        status: int | None = None
        try:
            response: httpx.Response = await retrying(attempt)
            status = response.status_code
            return response
        finally:
            if self.latencies is not None:
                self.latencies.record(
                    RequestTiming(
                        method=request.method,
                        url=_loggable_target(request.url),
                        status=status,
                        seconds=time.perf_counter() - started,
                        attempts=attempts,
                    )
                )

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _should_retry(self, request: httpx.Request, response: httpx.Response) -> bool:
        return (
            response.status_code in RETRY_STATUSES
            and request.method in IDEMPOTENT_METHODS
            # A streamed body cannot be sent twice; bytes, JSON and form bodies can.
            and isinstance(request.stream, httpx.ByteStream)
        )

    def _wait(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and not outcome.failed:
            asked = retry_after_seconds(outcome.result())
            if asked is not None:
                return min(asked, self._max_retry_after)
        return float(self._backoff(retry_state))


def _dropped_idempotent(request: httpx.Request, error: BaseException) -> bool:
    return (
        isinstance(error, DROPPED_CONNECTION_ERRORS)
        and request.method in IDEMPOTENT_METHODS
        and isinstance(request.stream, httpx.ByteStream)
    )


def _last_outcome(retry_state: RetryCallState) -> httpx.Response:
    """Out of attempts: hand back the last response, or raise the last error."""
    assert retry_state.outcome is not None  # tenacity calls this only after an attempt
    response: httpx.Response = retry_state.outcome.result()
    return response


def _loggable_target(url: httpx.URL) -> str:
    """Path and query of ``url``, with the values of secret-looking query parameters masked."""
    if not url.query:
        return url.path
    pairs = [
        (name, "***" if any(word in name.lower() for word in _SECRET_QUERY_WORDS) else value)
        for name, value in parse_qsl(url.query.decode("ascii", "replace"), keep_blank_values=True)
    ]
    return f"{url.path}?{urlencode(pairs, safe='*')}"


def build_ssl_context(
    ca_bundle: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> ssl.SSLContext:
    """A verifying TLS context: the system's trust store, or only ``ca_bundle`` when given.

    ``client_cert`` (PEM, possibly holding the key too) and ``client_key`` enable mutual TLS.
    There is deliberately no way to turn verification off.
    """
    context = ssl.create_default_context(cafile=ca_bundle)
    if client_cert is not None:
        context.load_cert_chain(client_cert, client_key)
    elif client_key is not None:
        raise ValueError("client_key is set but client_cert is not: set both for mutual TLS")
    return context


def build_http_client(
    base_url: str,
    *,
    timeout: float,
    connect_timeout: float,
    retries: int,
    backoff: float,
    ca_bundle: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    latencies: LatencyLog | None = None,
    max_retry_after: float = 30.0,
    proxy: str | None = None,
    read_only: str | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for ``base_url`` with verified TLS, retries and latency records.

    ``timeout`` bounds each read, write and pool wait, ``connect_timeout`` each connect.
    ``retries``/``backoff``/``max_retry_after`` configure :class:`RetryingTransport`. Proxy
    variables from the environment are not read (they would route requests around the retrying
    transport); pass ``proxy`` explicitly. ``read_only``: refuse unsafe methods to
    ``base_url``'s origin (:func:`read_only_guard`), the text saying why. ``max_connections``
    bounds the connections open at once (requests beyond it wait for one, within ``timeout``):
    at least as many as the checks send concurrently. The caller closes the client (``async
    with`` or ``await client.aclose()``).
    """
    context = build_ssl_context(ca_bundle, client_cert, client_key)
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=20)
    inner = httpx.AsyncHTTPTransport(verify=context, proxy=proxy, limits=limits)
    transport = RetryingTransport(
        inner,
        retries=retries,
        backoff=backoff,
        max_retry_after=max_retry_after,
        latencies=latencies,
    )
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        transport=transport,
        verify=context,
        trust_env=False,
        event_hooks={"request": [read_only_guard(base_url, read_only)]} if read_only else None,
    )


def describe_connect_error(error: BaseException) -> str:
    """One line saying why a request got no response, for a person to act on.

    "connection refused", "no answer within 2s", "TLS certificate not trusted: ...",
    "host not found", ... Made for httpx transport errors, it also reads the cause chain of
    other clients' errors (aiohttp, azure-core). Never contains the URL, so no credential can
    leak through it.
    """
    if isinstance(error, httpx.TimeoutException):
        return _describe_timeout(error)
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            # aiohttp's certificate error subclasses this one without its attributes.
            reason = getattr(cause, "verify_message", None) or getattr(cause, "reason", None)
            if reason:
                return f"TLS certificate not trusted: {reason}"
            continue
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed: {cause.reason or type(cause).__name__}"
        if isinstance(cause, socket.gaierror):
            return "host not found"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by peer"
        if isinstance(cause, TimeoutError):
            return "timed out"
    text = str(error).lower()
    for marker, detail in _MESSAGE_DETAILS:
        if marker in text:
            return detail
    if isinstance(error, httpx.RemoteProtocolError):
        return "the server closed the connection without a response"
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


_MESSAGE_DETAILS: Final = (
    ("certificate verify failed", "TLS certificate not trusted"),
    ("connection refused", "connection refused"),
    ("name or service not known", "host not found"),
    ("nodename nor servname", "host not found"),
    ("temporary failure in name resolution", "host not found"),
    ("no address associated", "host not found"),
)


def _describe_timeout(error: httpx.TimeoutException) -> str:
    phases: dict[type[httpx.TimeoutException], tuple[str, str]] = {
        httpx.ConnectTimeout: ("connect", "no answer within {}"),
        httpx.ReadTimeout: ("read", "no response within {}"),
        httpx.WriteTimeout: ("write", "could not send the request within {}"),
        httpx.PoolTimeout: ("pool", "no free connection within {}"),
    }
    phase, template = phases.get(type(error), ("", "timed out after {}"))
    seconds: object = None
    with contextlib.suppress(RuntimeError):  # RuntimeError: no request attached to the error
        seconds = error.request.extensions.get("timeout", {}).get(phase)
    limit = f"{seconds:g}s" if isinstance(seconds, int | float) else "the timeout"
    return template.format(limit)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and everything in its cause/context chain and exception groups, once each."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend((current.__cause__, current.__context__))


def target_of(url: httpx.URL | str) -> str:
    """``host:port`` of ``url`` (scheme default port if none), without credentials or path."""
    parsed = httpx.URL(url)
    host = parsed.host or "?"
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme, 0)
    return format_target(host, port)


def raise_unavailable(
    error: httpx.TransportError, url: httpx.URL | str, *, dependency: str = "service"
) -> NoReturn:
    """Raise :class:`DependencyUnavailable` for a transport error on a request to ``url``.

    The cause reads e.g. ``service unreachable at api.example.com:443: connection refused``;
    it names host and port only, never credentials, paths or queries.
    """
    detail = describe_connect_error(error)
    raise DependencyUnavailable(dependency, target_of(url), detail) from error

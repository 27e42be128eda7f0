"""The HTTP client a burst sends with: built like ``http_client``, without its retries.

TLS is verified the same way (``SMOKE_TEST_CA_BUNDLE``, client certificates), proxies from the
environment are ignored and a read-only profile refuses unsafe methods, as ``http_client``
does. Unlike it, nothing is retried and nothing goes to the run's latency log: a retried
request would hide the very errors and delays a burst is there to measure, and thousands of
burst requests would drown the ``requests`` summary of the checks. Connections: as many as
requests may be in flight (:data:`~pytest_smoke.load.spec.MAX_IN_FLIGHT`), so no request
waits for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import httpx

from pytest_smoke.clients.http import build_ssl_context, read_only_guard
from pytest_smoke.load.runner import RequestFailed
from pytest_smoke.load.spec import MAX_IN_FLIGHT

#: Idle connections kept open for reuse. httpcore's pool looks at every connection it holds for
#: each request, so hundreds of idle ones (left by a moment of high concurrency) would cost
#: more CPU per request than reconnecting now and then does.
KEEP_ALIVE: Final = 32

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_smoke.load.runner import Send
    from pytest_smoke.load.spec import Target


def burst_client(
    base_url: str,
    *,
    timeout: float,
    connect_timeout: float,
    ca_bundle: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    read_only: str | None = None,
    max_connections: int = MAX_IN_FLIGHT,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on ``base_url`` for a burst; ``read_only``: refuse unsafe
    methods to its origin, the text saying why. The caller closes it."""
    context = build_ssl_context(ca_bundle, client_cert, client_key)
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=KEEP_ALIVE)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
        transport=httpx.AsyncHTTPTransport(verify=context, limits=limits),
        verify=context,
        trust_env=False,
        event_hooks={"request": [read_only_guard(base_url, read_only)]} if read_only else None,
    )


def http_send(client: httpx.AsyncClient, headers: Mapping[str, str] | None = None) -> Send:
    """A ``send`` for :func:`~pytest_smoke.load.runner.run_burst`: the target's request on
    ``client`` with ``headers``, its body read in full; an httpx error (no usable answer)
    becomes :class:`~pytest_smoke.load.runner.RequestFailed` named after it
    (``ConnectError``, ``ReadTimeout``)."""
    sent_headers = dict(headers or {})

    async def send(target: Target) -> int:
        try:
            response = await client.request(target.method, target.path, headers=sent_headers)
        except httpx.HTTPError as error:  # no usable answer: connect, read, decoding...
            raise RequestFailed(type(error).__name__) from None
        return response.status_code

    return send

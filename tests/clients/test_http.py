"""The gateway HTTP client against a real local server: retries, timeouts, latencies, TLS."""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio

from pytest_smoke.causes import DependencyUnavailable, root_cause_of
from pytest_smoke.clients.http import (
    LatencyLog,
    build_http_client,
    describe_connect_error,
    raise_unavailable,
    retry_after_seconds,
)

from .http_server import Reply, ScriptedServer, closed_port, silent_listener

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import trustme

FAST: dict[str, Any] = {"timeout": 5.0, "connect_timeout": 2.0, "retries": 3, "backoff": 0.01}


@pytest_asyncio.fixture(loop_scope="function")
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as running:
        yield running


def client_for(
    base_url: str, latencies: LatencyLog | None = None, **options: Any
) -> httpx.AsyncClient:
    return build_http_client(base_url, latencies=latencies, **{**FAST, **options})


async def get_or_unavailable(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """What a fixture does: a transport error becomes the gate's DependencyUnavailable."""
    try:
        return await client.get(url)
    except httpx.TransportError as error:
        raise_unavailable(error, client.base_url.join(url) if url.startswith("/") else url)


@pytest.mark.asyncio
async def test_503_then_200_is_retried_and_recorded(server: ScriptedServer) -> None:
    server.script("/health", Reply(503), Reply(200, json={"ok": True}))
    latencies = LatencyLog()
    async with client_for(server.url, latencies) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert server.count("/health") == 2
    [timing] = latencies.entries
    assert (timing.method, timing.url, timing.status, timing.attempts) == ("GET", "/health", 200, 2)


@pytest.mark.asyncio
async def test_gives_up_after_retries_and_returns_the_last_response(server: ScriptedServer) -> None:
    server.script("/down", Reply(502, body="bad gateway"))
    latencies = LatencyLog()
    async with client_for(server.url, latencies, retries=2) as client:
        response = await client.get("/down")

    assert response.status_code == 502
    assert response.text == "bad gateway"  # the last response is handed back unread and open
    assert server.count("/down") == 3
    assert latencies.entries[0].attempts == 3


@pytest.mark.asyncio
async def test_retry_after_seconds_is_waited_exactly(server: ScriptedServer) -> None:
    server.script("/busy", Reply(503, headers={"Retry-After": "1"}), Reply(200))
    async with client_for(server.url, backoff=5.0) as client:
        started = time.perf_counter()
        response = await client.get("/busy")
        elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert 1.0 <= elapsed < 4.0  # Retry-After (1 s), not the 5 s backoff; slack for load


@pytest.mark.asyncio
async def test_retry_after_is_capped(server: ScriptedServer) -> None:
    server.script("/busy", Reply(503, headers={"Retry-After": "120"}), Reply(200))
    async with client_for(server.url, max_retry_after=0.2) as client:
        started = time.perf_counter()
        response = await client.get("/busy")
        elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert 0.2 <= elapsed < 3.0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": value})

    now = datetime(2026, 11, 2, 12, 0, 0, tzinfo=UTC)
    in_ten_seconds = format_datetime(now + timedelta(seconds=10), usegmt=True)
    assert retry_after_seconds(answer("3")) == 3.0
    assert retry_after_seconds(answer(in_ten_seconds), now=now.timestamp()) == 10.0
    assert retry_after_seconds(answer(in_ten_seconds), now=now.timestamp() + 60) == 0.0
    assert retry_after_seconds(answer("soon")) is None
    assert retry_after_seconds(httpx.Response(503)) is None


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 401, 404, 422, 500, 501])
async def test_client_errors_and_other_5xx_are_not_retried(
    server: ScriptedServer, status: int
) -> None:
    server.script("/thing", Reply(status), Reply(200))
    async with client_for(server.url) as client:
        response = await client.get("/thing")

    assert response.status_code == status
    assert server.count("/thing") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_non_idempotent_methods_are_not_retried_on_503(
    server: ScriptedServer, method: str
) -> None:
    server.script("/orders", Reply(503), Reply(201))
    async with client_for(server.url) as client:
        response = await client.request(method, "/orders", json={"item": 1})

    assert response.status_code == 503
    assert server.count("/orders") == 1


@pytest.mark.asyncio
async def test_put_with_a_body_is_retried_with_the_same_body(server: ScriptedServer) -> None:
    server.script("/items/1", Reply(504), Reply(200))
    async with client_for(server.url) as client:
        response = await client.put("/items/1", json={"name": "x"})

    assert response.status_code == 200
    assert [hit.body for hit in server.hits] == [b'{"name":"x"}'] * 2


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_connection_refused_is_retried_then_raised_quickly(method: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    latencies = LatencyLog()
    async with client_for(url, latencies, retries=3, backoff=0.01) as client:
        started = time.perf_counter()
        with pytest.raises(httpx.ConnectError) as raised:
            await client.request(method, "/health")
        elapsed = time.perf_counter() - started

    assert elapsed < 3.0
    [timing] = latencies.entries
    assert (timing.status, timing.attempts) == (None, 4)
    assert describe_connect_error(raised.value) == "connection refused"


async def _drops_first_connection() -> tuple[asyncio.Server, list[str]]:
    """A server that closes its first connection after reading the request, without answering
    (a kept-alive connection the server dropped), then answers 200 on later ones."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode().strip()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        seen.append(request_line.split(" ")[0])
        if len(seen) > 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), seen


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
async def test_a_dropped_connection_is_retried_for_idempotent_methods(method: str) -> None:
    server, seen = await _drops_first_connection()
    port = server.sockets[0].getsockname()[1]
    async with server, client_for(f"http://127.0.0.1:{port}", None, backoff=0.01) as client:
        response = await client.request(method, "/api/items/1")
    assert (response.status_code, seen) == (200, [method, method])


@pytest.mark.asyncio
async def test_a_dropped_connection_is_not_retried_for_post() -> None:
    server, seen = await _drops_first_connection()
    port = server.sockets[0].getsockname()[1]
    async with server, client_for(f"http://127.0.0.1:{port}", None, backoff=0.01) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.post("/api/items", json={"name": "x"})
    assert seen == ["POST"]  # never sent twice: the server may have created it


@pytest.mark.asyncio
async def test_silent_listener_fails_within_the_timeout_with_a_clear_message() -> None:
    with silent_listener() as port:
        url = f"http://127.0.0.1:{port}"
        latencies = LatencyLog()
        async with client_for(url, latencies, timeout=1.0, connect_timeout=1.0) as client:
            started = time.perf_counter()
            with pytest.raises(DependencyUnavailable) as raised:
                await get_or_unavailable(client, "/health")
            elapsed = time.perf_counter() - started

    assert 1.0 <= elapsed < 4.0
    assert raised.value.cause == f"service unreachable at 127.0.0.1:{port}: no response within 1s"
    assert latencies.entries[0].attempts == 1  # the request may have been received: no retry


@pytest.mark.asyncio
async def test_unavailable_cause_never_shows_credentials() -> None:
    port = closed_port()
    url = f"http://admin:hunter2@127.0.0.1:{port}/path?token=abc"
    async with client_for(f"http://127.0.0.1:{port}", retries=0) as client:
        with pytest.raises(DependencyUnavailable) as raised:
            await get_or_unavailable(client, url)

    assert root_cause_of(raised.value) == (
        f"service unreachable at 127.0.0.1:{port}: connection refused"
    )
    assert "hunter2" not in str(raised.value)
    assert "abc" not in str(raised.value)


@pytest.mark.asyncio
async def test_latencies_are_recorded_per_request(server: ScriptedServer) -> None:
    server.script("/fast", Reply(200))
    server.script("/slow", Reply(200, delay=0.2))
    latencies = LatencyLog()
    async with client_for(server.url, latencies) as client:
        await asyncio.gather(*(client.get("/fast") for _ in range(18)))
        await client.get("/slow")
        await client.get("/slow", params={"access_token": "s3cret", "page": "2"})

    assert len(latencies.entries) == 20
    p50, p95, p99 = latencies.p50(), latencies.p95(), latencies.p99()
    assert p50 is not None
    assert p95 is not None
    assert p99 is not None
    assert p50 < 0.2 <= p95 <= p99
    urls = {timing.url for timing in latencies.entries}
    assert urls == {"/fast", "/slow", "/slow?access_token=***&page=2"}
    assert LatencyLog().p95() is None


# --- TLS ---------------------------------------------------------------------------------------


@pytest.fixture
def ca() -> trustme.CA:
    trustme_module = pytest.importorskip("trustme", reason="trustme (test CA) is not installed")
    authority: trustme.CA = trustme_module.CA()
    return authority


@pytest.fixture
def ca_pem(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_tls(ca: trustme.CA, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest_asyncio.fixture(loop_scope="function")
async def https_server(ca: trustme.CA) -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer(server_tls(ca)) as running:
        running.script("/health", Reply(200, json={"ok": True}))
        yield running


@pytest.mark.asyncio
async def test_https_with_the_ca_bundle_works(https_server: ScriptedServer, ca_pem: str) -> None:
    async with client_for(https_server.url, ca_bundle=ca_pem) as client:
        response = await client.get("/health")

    assert response.json() == {"ok": True}


@pytest.mark.asyncio
async def test_https_without_the_ca_bundle_fails_with_a_certificate_message(
    https_server: ScriptedServer,
) -> None:
    async with client_for(https_server.url) as client:
        with pytest.raises(DependencyUnavailable) as raised:
            await get_or_unavailable(client, "/health")

    assert raised.value.detail.startswith("TLS certificate not trusted: ")
    assert "certificate" in raised.value.detail.removeprefix("TLS certificate not trusted: ")
    assert https_server.count("/health") == 0


@pytest.mark.asyncio
async def test_client_certificate_is_presented(ca: trustme.CA, ca_pem: str, tmp_path: Path) -> None:
    identity = ca.issue_cert("smoke-client@example.test")
    cert_path, key_path = tmp_path / "client.pem", tmp_path / "client.key"
    for blob in identity.cert_chain_pems:
        blob.write_to_path(str(cert_path), append=True)
    identity.private_key_pem.write_to_path(str(key_path))

    async with ScriptedServer(server_tls(ca, require_client_cert=True)) as mtls:
        mtls.script("/health", Reply(200))
        async with client_for(
            mtls.url, ca_bundle=ca_pem, client_cert=str(cert_path), client_key=str(key_path)
        ) as client:
            assert (await client.get("/health")).status_code == 200
        async with client_for(mtls.url, ca_bundle=ca_pem, retries=0) as anonymous:
            with pytest.raises(httpx.TransportError):
                await anonymous.get("/health")


def test_there_is_no_way_to_disable_verification() -> None:
    with pytest.raises(TypeError):
        build_http_client("https://127.0.0.1", verify=False, **FAST)  # type: ignore[call-arg]

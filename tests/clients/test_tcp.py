"""URLs to host and port, and the bounded TCP probe the fixtures use before anything else."""

from __future__ import annotations

import socket

import pytest

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.clients.tcp import endpoint, format_target, probe_tcp


def test_endpoint_uses_the_schemes_default_port() -> None:
    assert endpoint("postgresql://u:pw@db.example.com/app") == ("db.example.com", 5432)
    assert endpoint("https://api.example.com") == ("api.example.com", 443)
    assert endpoint("redis://cache:6380/0") == ("cache", 6380)


def test_format_target_brackets_ipv6() -> None:
    assert format_target("127.0.0.1", 5432) == "127.0.0.1:5432"
    assert format_target("::1", 6379) == "[::1]:6379"


@pytest.mark.asyncio
async def test_probe_succeeds_against_a_listener() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        await probe_tcp("service", "127.0.0.1", server.getsockname()[1], timeout=2)


@pytest.mark.asyncio
async def test_probe_names_a_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once it is closed
    with pytest.raises(DependencyUnavailable) as caught:
        await probe_tcp("service", "127.0.0.1", port, timeout=2)
    assert caught.value.cause == f"service unreachable at 127.0.0.1:{port}: connection refused"

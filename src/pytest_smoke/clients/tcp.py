"""Is anything listening? URLs to host and port, and a TCP connect bounded in time."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Final
from urllib.parse import urlsplit

from pytest_smoke.causes import DependencyUnavailable

#: Ports implied by a URL's scheme when it names none.
DEFAULT_PORTS: Final = {
    "postgresql": 5432,
    "postgres": 5432,
    "postgresql+asyncpg": 5432,
    "redis": 6379,
    "rediss": 6379,
    "http": 80,
    "https": 443,
}


def endpoint(url: str) -> tuple[str, int]:
    """The (host, port) a URL points at, with the scheme's default port."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"URL has no host: {parts.scheme}://…")
    port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    if port is None:
        raise ValueError(f"URL has no port and scheme {parts.scheme!r} has no default")
    return parts.hostname, port


def format_target(host: str, port: int) -> str:
    """``host:port`` as errors and reports show it (IPv6 hosts in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def probe_tcp(dependency: str, host: str, port: int, *, timeout: float) -> None:
    """Open and close a TCP connection to ``host:port`` within ``timeout`` seconds.

    Raises :class:`DependencyUnavailable` naming the dependency, ``host:port`` and the error
    (refused, no answer, host not found). It takes a host and port, not a URL, so no password
    can reach a traceback through its arguments.
    """
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        detail = f"no answer within {timeout:g}s"
    except socket.gaierror as error:
        detail = f"host not found ({error.strerror})"
    except OSError as error:  # asyncio words it "Connect call failed (...)": use the errno
        detail = (os.strerror(error.errno) if error.errno else type(error).__name__).lower()
    else:
        writer.close()
        await writer.wait_closed()
        return
    raise DependencyUnavailable(dependency, format_target(host, port), detail)

"""Is anything listening? A TCP connect, bounded in time, for any URL with a host."""

from __future__ import annotations

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


def probe_tcp(dependency: str, host: str, port: int, *, timeout: float) -> float:
    """Open and close a TCP connection to ``host:port``; return the seconds it took.

    Raises :class:`DependencyUnavailable` naming the dependency, ``host:port`` and the error
    (refused, timed out, unknown host) within ``timeout`` seconds. It takes a host and port,
    not a URL, so no password can reach a traceback through its arguments.
    """
    import time

    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return time.perf_counter() - started
    except TimeoutError:
        detail = f"no answer within {timeout:g}s"
    except socket.gaierror as error:
        detail = f"host not found ({error.strerror})"
    except OSError as error:
        detail = (error.strerror or type(error).__name__).lower()
    raise DependencyUnavailable(dependency, target, detail) from None

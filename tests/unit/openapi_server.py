"""A real local HTTP(S) server for the OpenAPI tests: files from a directory, or a handler.

A thread serves it (``ThreadingHTTPServer`` on ``127.0.0.1`` port 0), so code that fetches
synchronously, as collection and ``init`` do, can reach it from the test's own thread.
"""

from __future__ import annotations

import contextlib
import json
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterator
    from pathlib import Path


class QuietFiles(SimpleHTTPRequestHandler):
    """Serves the files of a directory, without logging every request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler] | Any, *, tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """Serve ``handler`` on a free port; yields the base URL (no trailing slash)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serving_files(directory: Path, *, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve the files of ``directory``; yields the base URL."""
    with serving(partial(QuietFiles, directory=str(directory)), tls=tls) as url:
        yield url


def answer(handler: BaseHTTPRequestHandler, status: int, body: Any, content_type: str) -> None:
    """Send ``body`` (JSON unless it is bytes) with ``status``."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)

"""A ``http.server`` handler base answering JSON, and a server run in a thread for one test.

For tests whose server must keep answering while the code under test blocks its own event loop
or runs in a child pytest (``ScriptedServer`` lives in the test's loop instead).
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterator
    from socketserver import BaseServer

ServerT = TypeVar("ServerT", bound="BaseServer")


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler (no request log on stderr) with :meth:`answer_json`."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer_json(self, status: int, body: Any = None) -> None:
        """Answer ``status`` with ``body`` as JSON; no body at all when it is ``None``."""
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """``server`` answering from a daemon thread until the block ends, then shut and closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

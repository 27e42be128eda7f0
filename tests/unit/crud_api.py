"""A small real REST API on 127.0.0.1, in two shapes, for the CRUD resource and ledger tests.

``FLAT`` is the demo's: ``/api/items``, bare JSON objects with an integer ``id``, PATCH,
``?limit=&offset=&name=``, ``{"items": [...], "total": n}``, 201/204, ``Bearer`` tokens.
``ENVELOPED`` is the articles example's: a trailing-slash collection ``/api/articles/``
(``POST /api/articles`` answers 307 to it, as Starlette does), bodies enveloped as
``{"article": {...}}``, the id a ``slug``, PUT (PATCH answers 405), ``?skip=&limit=``,
``{"articles": [...], "articlesCount": n}``, 200 on delete, ``Token`` tokens.

It runs in a thread (ThreadingHTTPServer), so in-process pytester runs can use it as well as
async clients. ``delete_status`` makes every DELETE answer that status instead.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

TOKEN = "crud-api-token"


@dataclass(frozen=True)
class Shape:
    collection: str
    envelope: str | None
    id_key: str
    name_key: str
    list_key: str
    total_key: str
    update_method: str
    offset_param: str
    create_status: int
    delete_status: int
    scheme: str

    @property
    def base(self) -> str:
        return self.collection.rstrip("/")


FLAT = Shape(
    collection="/api/items",
    envelope=None,
    id_key="id",
    name_key="name",
    list_key="items",
    total_key="total",
    update_method="PATCH",
    offset_param="offset",
    create_status=201,
    delete_status=204,
    scheme="Bearer",
)
ENVELOPED = Shape(
    collection="/api/articles/",
    envelope="article",
    id_key="slug",
    name_key="title",
    list_key="articles",
    total_key="articlesCount",
    update_method="PUT",
    offset_param="skip",
    create_status=201,
    delete_status=200,
    scheme="Token",
)


class CrudApi:
    """The API of one shape on a free port; ``items`` is its store, in creation order."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.items: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.delete_status: int | None = None
        self._next = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"{self.shape.scheme} {TOKEN}"}

    def __enter__(self) -> CrudApi:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, name: str, **fields: Any) -> dict[str, Any]:
        """Store an item directly, as an earlier run would have made it."""
        with self._lock:
            self._next += 1
            key = str(self._next) if self.shape.id_key == "id" else f"{name}-{self._next}"
            item: dict[str, Any] = {
                self.shape.id_key: self._next if self.shape.id_key == "id" else key,
                self.shape.name_key: name,
                **fields,
            }
            self.items[key] = item
            return item

    def item_path(self, item: dict[str, Any]) -> str:
        return f"{self.shape.base}/{quote(str(item[self.shape.id_key]), safe='')}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                api._serve(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        return Handler

    # --- the API --------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        shape = self.shape
        split = urlsplit(request.path)
        path, query = unquote(split.path), parse_qs(split.query)
        self.requests.append((request.command, request.path))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        if request.headers.get("Authorization") != f"{shape.scheme} {TOKEN}":
            return _answer(request, 401, {"detail": "not authenticated"})
        if shape.collection.endswith("/") and path == shape.base:
            location = f"{self.url}{shape.collection}" + (f"?{split.query}" if split.query else "")
            return _answer(request, 307, None, {"Location": location})
        if path == shape.collection:
            if request.command == "GET":
                return _answer(request, 200, self._list(query))
            if request.command == "POST":
                return self._create(request, raw)
            return _answer(request, 405, {"detail": "method not allowed"})
        if path.startswith(shape.base + "/"):
            return self._one(request, path.removeprefix(shape.base + "/"), raw)
        return _answer(request, 404, {"detail": "Not Found"})

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        shape = self.shape
        items = list(self.items.values())
        if "name" in query:
            items = [item for item in items if item[shape.name_key] == query["name"][0]]
        offset = int(query.get(shape.offset_param, ["0"])[0])
        limit = int(query.get("limit", ["20"])[0])
        return {shape.list_key: items[offset : offset + limit], shape.total_key: len(items)}

    def _create(self, request: BaseHTTPRequestHandler, raw: bytes) -> None:
        fields = self._fields(raw)
        if fields is None or not fields.get(self.shape.name_key):
            return _answer(request, 422, {"detail": [{"msg": "name must not be empty"}]})
        item = self.add(fields.pop(self.shape.name_key), **fields)
        return _answer(request, self.shape.create_status, self._wrap(item))

    def _one(self, request: BaseHTTPRequestHandler, key: str, raw: bytes) -> None:
        shape = self.shape
        item = self.items.get(key)
        if request.command == "DELETE" and self.delete_status is not None:
            return _answer(request, self.delete_status, {"detail": "internal error"})
        if item is None:
            return _answer(request, 404, {"detail": f"{key} not found"})
        if request.command == "GET":
            return _answer(request, 200, self._wrap(item))
        if request.command == shape.update_method:
            fields = self._fields(raw)
            if fields is None:
                return _answer(request, 422, {"detail": "bad body"})
            item.update(fields)
            return _answer(request, 200, self._wrap(item))
        if request.command == "DELETE":
            del self.items[key]
            return _answer(request, shape.delete_status, None if shape.delete_status == 204 else {})
        return _answer(request, 405, {"detail": "method not allowed"})

    def _fields(self, raw: bytes) -> dict[str, Any] | None:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return None
        if self.shape.envelope is not None:
            body = body.get(self.shape.envelope) if isinstance(body, dict) else None
        return dict(body) if isinstance(body, dict) else None

    def _wrap(self, item: dict[str, Any]) -> dict[str, Any]:
        return {self.shape.envelope: item} if self.shape.envelope else item


def _answer(
    request: BaseHTTPRequestHandler,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    request.send_response(status)
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    if data:
        request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)

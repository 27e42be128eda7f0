"""What an OpenAPI document describes, operation by operation.

Read through jsonschema-path (:attr:`Document.spec`): a ``$ref`` anywhere (a parameter, a
response, a schema, another file) is resolved by the library as the tree is walked, never here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from jsonschema_path import SchemaPath

    from pytest_smoke.openapi.document import Document

#: HTTP methods an OpenAPI path item may hold, in the order the specification lists them.
METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_VARIABLE: Final = re.compile(r"\{([^{}]+)\}")
_JSON: Final = re.compile(r"^application/(?:[\w.+-]+\+)?json$")


@dataclass(frozen=True)
class Parameter:
    """One parameter of an operation (its own, or its path item's)."""

    name: str
    where: str  #: query, path, header or cookie
    required: bool
    node: SchemaPath

    @property
    def schema(self) -> SchemaPath | None:
        """The parameter's schema, if it has one."""
        schema = self.node / "schema"
        return schema if schema.exists() else None


@dataclass(frozen=True)
class Operation:
    """One operation: ``GET /api/items`` and what the document says about it."""

    method: str  #: upper case
    path: str  #: as the document writes it, e.g. ``/api/items/{item_id}``
    #: The URL of the operation's first server (its variables at their defaults), ``""`` when
    #: the document names none (``/``).
    server: str
    node: SchemaPath
    parameters: tuple[Parameter, ...]
    #: The security schemes of the first requirement; empty when none is needed (no
    #: ``security``, an empty list, or an optional ``{}`` requirement).
    security: tuple[str, ...]

    @property
    def label(self) -> str:
        """``GET /api/items``: the operation as the document names it."""
        return f"{self.method} {self.path}"

    @property
    def base(self) -> str:
        """The path of the server URL, without a trailing slash: ``""`` or ``"/v1"``."""
        return urlsplit(self.server).path.rstrip("/")

    @property
    def gateway_path(self) -> str:
        """The path on the gateway: the server's base path, then the operation's path."""
        return f"{self.base}{self.path}"

    @property
    def body_required(self) -> bool:
        """Whether the operation needs a request body."""
        body = self.node / "requestBody"
        return body.exists() and (body / "required").read_bool(default=False)

    @property
    def needs_input(self) -> bool:
        """Whether a call needs something: a required parameter or a required body."""
        return self.body_required or any(p.required for p in self.parameters)

    def parameter(self, name: str, where: str = "query") -> Parameter | None:
        """The parameter ``name`` in ``where``, if the operation has one."""
        return next((p for p in self.parameters if p.name == name and p.where == where), None)

    def statuses(self) -> list[str]:
        """The response keys the document lists: ``"200"``, ``"2XX"``, ``"default"``..."""
        responses = self.node / "responses"
        # keys(): iterating a SchemaPath yields its child nodes, not their names
        return [str(key) for key in responses.keys()] if responses.exists() else []  # noqa: SIM118

    def success_statuses(self) -> list[int]:
        """The 2xx statuses the document lists (exact codes only), in order."""
        return [int(key) for key in self.statuses() if key.isdigit() and key.startswith("2")]

    def error_statuses(self) -> list[int]:
        """The 4xx statuses the document lists (exact codes only), in order."""
        return [int(key) for key in self.statuses() if key.isdigit() and key.startswith("4")]

    def response_schema(self, status: str | None = None) -> SchemaPath | None:
        """The JSON schema of the answer with ``status`` (default: the first 2xx listed)."""
        if status is None:
            success = [key for key in self.statuses() if key.startswith("2")]
            if not success:
                return None
            status = success[0]
        response = self.node / "responses" / status
        return json_schema_of(response / "content") if response.exists() else None

    def request_body(self) -> tuple[str, SchemaPath] | None:
        """The request body's media type and schema: JSON first, else a form."""
        content = self.node / "requestBody" / "content"
        if not content.exists():
            return None
        for media, node in content.str_items():
            if _JSON.match(media.split(";")[0].strip().lower()) and (node / "schema").exists():
                return "json", node / "schema"
        for media, node in content.str_items():
            if media.startswith("application/x-www-form-urlencoded") and (node / "schema").exists():
                return "form", node / "schema"
        return None


def operations_of(document: Document) -> list[Operation]:
    """Every operation of the document's ``paths``, in the document's order."""
    return list(_operations(document.spec))


def _operations(spec: SchemaPath) -> Iterator[Operation]:
    paths = spec / "paths"
    if not paths.exists():
        return
    top_security = spec / "security"
    for path, item in paths.str_items():
        shared = _parameters(item)
        for method in METHODS:
            node = item / method
            if not node.exists():
                continue
            own = _parameters(node)
            names = {(p.name, p.where) for p in own}
            parameters = (*[p for p in shared if (p.name, p.where) not in names], *own)
            security = node / "security" if (node / "security").exists() else top_security
            yield Operation(
                method=method.upper(),
                path=path,
                server=_server(node, item, spec),
                node=node,
                parameters=tuple(parameters),
                security=_security(security),
            )


def _parameters(node: SchemaPath) -> list[Parameter]:
    found = []
    parameters = node / "parameters"
    if parameters.exists():
        for parameter in parameters:
            where = str((parameter / "in").read_value())
            found.append(
                Parameter(
                    name=str((parameter / "name").read_value()),
                    where=where,
                    required=where == "path" or (parameter / "required").read_bool(default=False),
                    node=parameter,
                )
            )
    return found


def _security(requirements: SchemaPath) -> tuple[str, ...]:
    if not requirements.exists():
        return ()
    listed = [list(requirement.keys()) for requirement in requirements]
    if not listed or any(not names for names in listed):
        return ()  # none, or an optional {} requirement: a call without credentials is fine
    return tuple(str(name) for name in listed[0])


def _server(*nodes: SchemaPath) -> str:
    """The first server URL of the operation, else of its path item, else of the document."""
    for node in nodes:
        servers = node / "servers"
        if servers.exists():
            for server in servers:
                return server_url(server)
    return ""


def server_url(server: SchemaPath) -> str:
    """A server object's URL with its variables at their defaults."""
    url = str((server / "url").read_value())
    variables = server / "variables"

    def default(match: re.Match[str]) -> str:
        value = variables / match.group(1) / "default"
        return str(value.read_value()) if variables.exists() and value.exists() else ""

    return _VARIABLE.sub(default, url)


def json_schema_of(content: SchemaPath) -> SchemaPath | None:
    """The schema of the JSON media type of a ``content`` map (``application/json``, ``+json``,
    then ``*/*``), if it has one."""
    if not content.exists():
        return None
    media_types = list(content.str_items())
    for wanted in (_JSON.match, lambda media: media in ("*/*", "application/*")):
        for media, node in media_types:
            if wanted(media.split(";")[0].strip().lower()) and (node / "schema").exists():
                schema: SchemaPath = node / "schema"
                return schema
    return None


def security_schemes(document: Document) -> dict[str, SchemaPath]:
    """``components.securitySchemes`` by name."""
    schemes = document.spec / "components" / "securitySchemes"
    return dict(schemes.str_items()) if schemes.exists() else {}


def read(node: SchemaPath, key: str, default: Any = None) -> Any:
    """The plain value at ``node[key]``, or ``default``."""
    child = node / key
    return child.read_value() if child.exists() else default

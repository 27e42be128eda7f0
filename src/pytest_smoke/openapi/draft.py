"""``smoke-gate init``: a checks file drafted from the deployment's OpenAPI document.

:func:`draft_checks` reads the document (:mod:`.operations`) and writes what it can tell:

- ``[service]`` and ``[[endpoints]]``: the health-like paths (``/health``, ``/healthz``,
  ``/ping``...) and the list endpoints, GETs that need no input and answer an array;
- ``[auth]``: the security scheme the operations ask for (http bearer: ``Bearer``; apiKey: its
  header; OAuth2 password flow: a form login at ``tokenUrl``), the login operation the document
  describes, and a protected GET;
- ``[crud]``: a collection path with POST and an item path with GET and DELETE, the create body
  from the schema's required fields (its examples when it gives them), ``{marker}`` in a string
  field, the id and the object in the create answer, the update method, the list's items, total
  and pagination parameters by their names;
- ``[errors]``: an item id no one has;
- ``[openapi]``: the document itself, for the contract checks.

Whatever is a guess carries a ``# guessed: ...`` comment; what could not be drafted is said in a
comment too. The TOML is written with tomlkit (comments included).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from pytest_smoke.openapi import schemas
from pytest_smoke.openapi.operations import Operation, operations_of, read, security_schemes

if TYPE_CHECKING:
    from jsonschema_path import SchemaPath
    from tomlkit.items import Table

    from pytest_smoke.openapi.document import Document, Location

#: The last path segment of a health-like endpoint.
HEALTH_WORDS: Final = frozenset(
    {
        "health",
        "healthz",
        "healthcheck",
        "health-check",
        "livez",
        "readyz",
        "live",
        "ready",
        "liveness",
        "readiness",
        "ping",
        "heartbeat",
        "alive",
        "status",
    }
)
#: Names of the array in a list answer, most likely first (the collection's own name is tried
#: after these).
LIST_NAMES: Final = ("items", "data", "results", "records", "content", "values", "list")
#: Names of the total count in a list answer.
TOTAL_NAMES: Final = ("total", "count", "total_count", "totalCount", "totalItems", "total_items")
#: Names of the token in a login answer.
TOKEN_NAMES: Final = ("access_token", "accessToken", "token", "id_token", "jwt")
IDENTITY_NAMES: Final = ("username", "email", "login", "user_name", "userName", "user")
PASSWORD_NAMES: Final = ("password", "passwd", "pass")
#: Form fields an OAuth2 token endpoint may take besides the credentials.
OAUTH_FIELDS: Final = frozenset({"grant_type", "scope", "client_id", "client_secret"})
LOGIN_WORDS: Final = ("login", "token", "signin", "sign-in", "session", "auth")
#: Fields that most likely carry a resource's name, preferred for ``{marker}``.
MARKER_NAMES: Final = ("name", "title", "label", "subject", "username", "slug", "key")
#: An integer id no resource has (the largest 4-byte integer: fits any id column).
UNKNOWN_INTEGER_ID: Final = 2147483647
USERNAME: Final = "${SMOKE_TEST_USERNAME}"
PASSWORD: Final = "${SMOKE_TEST_PASSWORD}"
UPDATED_TEXT: Final = "updated by the smoke suite"


@dataclass
class Draft:
    """A drafted checks file: its TOML text, and one line saying what is in it."""

    text: str
    summary: str
    guesses: int = 0


@dataclass
class _Auth:
    header: str
    scheme: str
    why: str  # where header and scheme come from
    guessed: bool
    login: dict[str, Any] | None = None
    login_why: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class _Crud:
    collection: Operation  # the POST
    item_path: str
    parameter: str
    read: Operation
    delete: Operation
    listing: Operation | None
    update: Operation | None


def draft_checks(document: Document, *, output: Path | None) -> Draft:
    """The checks file drafted from ``document``; ``output`` is where it will be written (a
    local document is named relative to it), None for standard output."""
    return _Drafter(document, output).draft()


class _Drafter:
    def __init__(self, document: Document, output: Path | None) -> None:
        import tomlkit

        self.document = document
        self.output = output
        self.operations = operations_of(document)
        self.toml = tomlkit.document()
        self.guesses = 0
        self.summary: list[str] = []

    # --- the file, section by section --------------------------------------------------------

    def draft(self) -> Draft:
        import tomlkit

        free = [op for op in self.operations if op.method == "GET" and not op.needs_input]
        health = [op for op in free if _health_like(op)]
        lists = [op for op in free if op not in health and _list_schema(op) is not None]
        auth = self._auth()
        self._header()
        self.toml.add("version", 1)
        self._service(health, lists)
        self._auth_section(auth, free, lists)
        self._endpoints(health, lists, auth)
        self._crud(auth)
        self._openapi(free, auth)
        text = tomlkit.dumps(self.toml)
        summary = ", ".join(self.summary) or "nothing but the document"
        return Draft(text, summary, self.guesses)

    def _header(self) -> None:
        import tomlkit

        info = self.document.spec / "info"
        # one line each: a comment cannot hold a line break
        title, version = (
            " ".join(str(read(info, key, "")).split()) for key in ("title", "version")
        )
        lines = [
            f"Drafted by `smoke-gate init` from {self.document.location.shown}",
            f'("{title}" {version}, OpenAPI {self.document.version}).',
            "Lines marked 'guessed' are guesses from names and schemas: check them before you",
            "rely on this file. Every key: docs/checks-file.md; ${VAR} comes from the env profile.",
        ]
        for line in lines:
            self.toml.add(tomlkit.comment(line))

    def _service(self, health: list[Operation], lists: list[Operation]) -> None:
        import tomlkit

        if not health and not lists:
            self.toml.add(tomlkit.comment("no health-like path found: no [service] section"))
            return
        table = tomlkit.table()
        if health:
            self._key(
                table,
                "health",
                [op.gateway_path for op in health],
                "paths named like health checks",
            )
            statuses = _union(op.success_statuses() for op in health)
            if statuses:
                _note(
                    table, "health_status", statuses, "the 2xx statuses the document lists for them"
                )
        if lists:
            self._key(
                table,
                "sla_path",
                lists[0].gateway_path,
                "a list endpoint; its p95 is held to SMOKE_TEST_SLA_P95_MS",
            )
        self.toml.add("service", table)
        self.summary.append(f"{len(health)} health path(s)")

    def _endpoints(
        self, health: list[Operation], lists: list[Operation], auth: _Auth | None
    ) -> None:
        import tomlkit

        entries = tomlkit.aot()
        names: set[str] = set()
        for op in [*health, *lists]:
            if op.security and auth is None:
                continue  # it needs credentials the suite cannot send
            entry = tomlkit.table()
            kind = "a health-like path" if op in health else "a list endpoint"
            entry.add(tomlkit.comment(f"{op.label}: {kind} that needs no input"))
            entry.add("name", _unique(_name_of(op.gateway_path), names))
            entry.add("path", op.gateway_path)
            if op.success_statuses():
                entry.add("status", op.success_statuses())
            if op.security:
                _note(entry, "auth", True, f"the document asks for {' and '.join(op.security)}")
            if op in health:
                self._key(entry, "critical", True, "a health endpoint: failing means ROLLBACK")
            entries.append(entry)
        if entries:
            self.toml.add("endpoints", entries)
            self.summary.append(f"{len(entries)} endpoint(s)")

    # --- [auth] -------------------------------------------------------------------------------

    def _auth(self) -> _Auth | None:
        secured = [op for op in self.operations if op.security]
        if not secured:
            return None
        name = secured[0].security[0]
        scheme = security_schemes(self.document).get(name)
        if scheme is None:
            return None
        kind = str(read(scheme, "type", ""))
        why = f"securitySchemes.{name}"
        if kind == "http":
            word = str(read(scheme, "scheme", "")).lower()
            if word == "bearer":
                auth = _Auth("Authorization", "Bearer", f"{why} (http bearer)", False)
            elif word == "basic":
                auth = _Auth("Authorization", "Basic", f"{why} (http basic)", True)
                auth.notes.append(
                    "http basic: put base64(user:password) in SMOKE_TEST_TOKEN; no login"
                )
                return auth
            else:
                return None
        elif kind == "apiKey":
            if read(scheme, "in") != "header":
                return None
            header = str(read(scheme, "name", "Authorization"))
            word = _scheme_word(str(read(scheme, "description", "")))
            auth = _Auth(
                header,
                word,
                f"{why} (apiKey in the {header} header"
                + (f', "{word} <token>" as its description says)' if word else ")"),
                bool(word),
            )
        elif kind in ("oauth2", "openIdConnect"):
            auth = _Auth("Authorization", "Bearer", f"{why} ({kind})", False)
            token_url = (
                read(scheme / "flows" / "password", "tokenUrl") if kind == "oauth2" else None
            )
            if token_url:
                auth.login = {
                    "url": self._absolute(str(token_url)),
                    "format": "form",
                    "body": {"grant_type": "password", "username": USERNAME, "password": PASSWORD},
                    "token": "access_token",
                }
                auth.login_why = f"{why}: the OAuth2 password flow's tokenUrl"
                return auth
        else:
            return None
        auth.login, auth.login_why = self._login()
        return auth

    def _login(self) -> tuple[dict[str, Any] | None, str]:
        """A login operation: a POST taking one identity field and a password, answering a
        token; paths named like a login first."""
        candidates: list[tuple[bool, int, Operation, dict[str, Any]]] = []
        for op in self.operations:
            if op.method != "POST" or any(p.required for p in op.parameters):
                continue
            found = _login_of(op)
            if found is not None:
                worded = any(word in op.path.lower() for word in LOGIN_WORDS)
                candidates.append((not worded, len(candidates), op, found))
        if not candidates:
            return None, ""
        _, _, op, login = min(candidates, key=lambda c: (c[0], c[1]))
        login["url"] = op.gateway_path
        return login, f"{op.label} takes a username and a password and answers a token"

    def _auth_section(
        self, auth: _Auth | None, free: list[Operation], lists: list[Operation]
    ) -> None:
        import tomlkit

        if auth is None:
            if any(op.security for op in self.operations):
                self.toml.add(
                    tomlkit.comment(
                        "the document's security scheme is not one the suite can send "
                        "(a header token): no [auth]"
                    )
                )
            return
        table = tomlkit.table()
        protected = next((op for op in lists if op.security), None) or next(
            (op for op in free if op.security), None
        )
        if protected is not None:
            self._key(
                table,
                "protected",
                protected.gateway_path,
                f"{protected.label} needs {' and '.join(protected.security)} and no input",
            )
            if protected.success_statuses():
                table.add("accepted", protected.success_statuses())
            refused = [s for s in protected.error_statuses() if s in (401, 403)]
            if refused:
                table.add("refused", refused)
        table.add("header", auth.header)
        if auth.guessed:
            self._key(table, "scheme", auth.scheme, auth.why)
        else:
            _note(table, "scheme", auth.scheme, f"from {auth.why}")
        for note in auth.notes:
            table.add(tomlkit.comment(note))
        if auth.login is not None:
            login = tomlkit.table()
            self._key(login, "url", auth.login["url"], auth.login_why)
            login.add("format", auth.login["format"])
            _note(login, "body", _inline(auth.login["body"]), "credentials from the env profile")
            _note(login, "token", auth.login["token"], "where the token is in the answer")
            table.add("login", login)
        elif not auth.notes:
            table.add(
                tomlkit.comment(
                    "no login found in the document: set SMOKE_TEST_LOGIN_URL (or "
                    "SMOKE_TEST_TOKEN) in the env profile"
                )
            )
        self.toml.add("auth", table)
        self.summary.append(f"auth {auth.scheme or auth.header}")

    # --- [crud] and [errors] -----------------------------------------------------------------

    def _crud(self, auth: _Auth | None) -> None:
        import tomlkit

        found = self._resource()
        if found is None:
            self.toml.add(
                tomlkit.comment(
                    "no CRUD resource found (a collection path with POST, and the same path + "
                    "/{id} with GET and DELETE): no [crud] section"
                )
            )
            return
        if auth is None and any(
            op is not None and op.security for op in (found.collection, found.read, found.delete)
        ):
            self.toml.add(tomlkit.comment("the CRUD resource needs credentials: no [crud]"))
            return
        body = _json_body(found.collection)
        assert body is not None  # _resource() chose a POST with a JSON body
        envelope, inner = _envelope(body)
        create, marker_field = _create_body(inner, found.parameter)
        if create is None:
            self.toml.add(
                tomlkit.comment(
                    f"{found.collection.label}: no string field can carry {{marker}}: no [crud]"
                )
            )
            return
        table = tomlkit.table()
        collection = found.collection.gateway_path
        self._key(
            table,
            "collection",
            collection,
            f"POST creates here; {found.read.path} reads and {found.delete.method} deletes one",
        )
        base = found.collection.base
        table.add("item", f"{base}{_item_template(found.item_path, found.parameter)}")
        id_path, object_path, why = _id_in_answer(found.collection, found.parameter)
        self._key(table, "id", id_path, why)
        table.add("object", object_path)
        if envelope:
            self._key(table, "envelope", envelope, "the request body has this one object field")
        fixed = [n for n in (found.parameter, _camel(found.parameter)) if n in create]
        if fixed and fixed[0] != marker_field:
            table.add(
                tomlkit.comment(
                    f"{fixed[0]} names the item ({{{found.parameter}}}) and every create sends "
                    "the same value: make it unique if the service refuses a second one"
                )
            )
        _note(
            table,
            "create",
            _inline(create),
            f"the schema's required fields; {{marker}} in {marker_field}"
            + (" (an example where given)" if _has_examples(inner) else ""),
        )
        update = self._update(found, create, marker_field)
        if update is not None:
            self._key(table, "update", _inline(update), "a changed field the create also sets")
        invalid, why = _invalid_body(inner, create, marker_field)
        if invalid is not None:
            self._key(table, "invalid", _inline(invalid), why)
        methods = tomlkit.table()
        if found.update is not None and found.update.method != "PATCH" and update is not None:
            methods.add("update", found.update.method)
        if methods:
            table.add("methods", methods)
        table.add("status", self._crud_statuses(found, update is not None, invalid is not None))
        listing = self._listing(found, marker_field)
        if listing is not None:
            table.add("list", listing)
        self.toml.add("crud", table)
        self._errors(found)
        self.summary.append(f"crud {collection}")

    def _resource(self) -> _Crud | None:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in self.operations:
            by_path.setdefault(op.path, {})[op.method] = op
        for path, ops in by_path.items():
            post = ops.get("POST")
            if post is None or any(p.required for p in post.parameters):
                continue
            body = _json_body(post)
            if body is None or schemas.main_type(body) != "object":
                continue
            item = re.compile(re.escape(path.rstrip("/")) + r"/\{([^{}/]+)\}/?")
            for item_path, item_ops in by_path.items():
                match = item.fullmatch(item_path)
                if match is None or "GET" not in item_ops or "DELETE" not in item_ops:
                    continue
                parameter = match.group(1)
                if not all(_only_needs(item_ops[m], parameter) for m in ("GET", "DELETE")):
                    continue
                update = next(
                    (
                        item_ops[m]
                        for m in ("PATCH", "PUT")
                        if m in item_ops
                        and _only_needs(item_ops[m], parameter, body=True)
                        and _json_body(item_ops[m]) is not None
                    ),
                    None,
                )
                listing = ops.get("GET")
                return _Crud(
                    collection=post,
                    item_path=item_path,
                    parameter=parameter,
                    read=item_ops["GET"],
                    delete=item_ops["DELETE"],
                    listing=listing if listing is not None and not listing.needs_input else None,
                    update=update,
                )
        return None

    def _update(
        self, found: _Crud, create: dict[str, Any], marker_field: str
    ) -> dict[str, Any] | None:
        if found.update is None:
            return None
        body = _json_body(found.update)
        if body is None:
            return None
        _, inner = _envelope(body)
        fields = schemas.properties(inner)
        update = {name: create[name] for name in schemas.required(inner) if name in create}
        for name, value in create.items():
            if name == marker_field or name not in fields:
                continue
            changed = _changed(value, fields[name])
            if changed is not None:
                update[name] = changed
                return update
        return None

    def _crud_statuses(self, found: _Crud, update: bool, invalid: bool) -> Table:
        import tomlkit

        table = tomlkit.table()
        steps: list[tuple[str, list[int]]] = [
            ("create", found.collection.success_statuses()),
            ("read", found.read.success_statuses()),
        ]
        if update and found.update is not None:
            steps.append(("update", found.update.success_statuses()))
        steps.append(("delete", found.delete.success_statuses()))
        if invalid:
            steps.append(
                ("invalid", [s for s in found.collection.error_statuses() if s in (400, 422)])
            )
        for step, statuses in steps:
            if statuses:
                table.add(step, statuses)
        table.add(tomlkit.comment("each as the document lists it; gone is 404 or 410"))
        return table

    def _listing(self, found: _Crud, marker_field: str) -> Table | None:
        import tomlkit

        if found.listing is None:
            return None
        where = _list_schema(found.listing)
        if where is None:
            return None
        items, total = where
        table = tomlkit.table()
        why = "the array in the list answer" if items != "@" else "the answer is the array"
        self._key(table, "items", items, why)
        if total:
            self._key(table, "total", total, "an integer named like a total count")
        style, params, why = _pagination(found.listing)
        _note(table, "pagination", style, why)
        for key, name in params.items():
            table.add(key, name)
        if found.listing.parameter(marker_field) is not None:
            self._key(
                table,
                "filter_param",
                marker_field,
                f"a query parameter named like {marker_field}, which carries the marker",
            )
        return table

    def _errors(self, found: _Crud) -> None:
        import tomlkit

        parameter = found.read.parameter(found.parameter, "path")
        schema = parameter.schema if parameter is not None else None
        kind = schemas.main_type(schema) if schema is not None else None
        if kind == "integer":
            unknown = str(UNKNOWN_INTEGER_ID)
        elif schema is not None and schemas.value(schema, "format") == "uuid":
            unknown = "00000000-0000-4000-8000-000000000000"
        else:
            unknown = "smoke-no-such-item"
        table = tomlkit.table()
        path = found.item_path.replace("{" + found.parameter + "}", unknown)
        self._key(
            table,
            "not_found",
            f"{found.read.base}{path}",
            f"an id no one has; GET {found.read.path} must answer 404",
        )
        self.toml.add("errors", table)

    # --- [openapi] ----------------------------------------------------------------------------

    def _openapi(self, free: list[Operation], auth: _Auth | None) -> None:
        import tomlkit

        table = tomlkit.table()
        reference, why = self._document_reference()
        if why.startswith("guessed"):
            self._key(table, "document", reference, why)
        else:
            _note(table, "document", reference, why)
        checked = [op for op in free if not (op.security and auth is None)]
        skipped = [op for op in free if op.security and auth is None]
        if any(op.security for op in checked):
            _note(table, "auth", True, "the [auth] headers go to the operations that ask for them")
        if skipped:
            _note(
                table,
                "exclude",
                [op.path for op in skipped],
                "they need credentials the suite cannot send",
            )
        labels = ", ".join(op.label for op in checked) or "none"
        table.add(tomlkit.comment(f"{len(checked)} contract check(s): {labels}"))
        self.toml.add("openapi", table)
        self.summary.append(f"{len(checked)} contract check(s)")

    def _document_reference(self) -> tuple[str, str]:
        location: Location = self.document.location
        if location.remote:
            parts = urlsplit(location.url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            return path or "/", (
                f"guessed: init read it from {location.shown}; a path on GATEWAY_URL "
                "(write the full URL if it is served elsewhere)"
            )
        file = location.shown
        base = self.output.parent if self.output is not None else Path.cwd()
        relative = os.path.relpath(Path(file).absolute(), base.absolute())
        if relative.startswith("/"):  # pragma: no cover - relpath answers a relative path
            return Path(file).absolute().as_uri(), "the local file init read"
        return relative, "a local file, relative to this checks file"

    # --- helpers ------------------------------------------------------------------------------

    def _absolute(self, url: str) -> str:
        """A URL of the document (``tokenUrl``) as a checks-file path."""
        if url.startswith(("http://", "https://", "/")):
            return url
        base = next((op.base for op in self.operations), "")
        return f"{base}/{url}"

    def _key(self, table: Any, key: str, value: Any, why: str) -> None:
        """Add ``key = value`` to ``table`` with the comment ``# guessed: why``."""
        _note(table, key, value, why if why.startswith("guessed") else f"guessed: {why}")
        self.guesses += 1


# --- what the document's operations look like --------------------------------------------------


def _note(table: Any, key: str, value: Any, comment: str) -> None:
    """Add ``key = value  # comment`` to a tomlkit table."""
    import tomlkit

    item = tomlkit.item(value)
    item.comment(comment)
    table.add(key, item)


def _health_like(op: Operation) -> bool:
    segments = [s for s in op.path.lower().split("/") if s]
    last = segments[-1] if segments else ""
    return last in HEALTH_WORDS or last.startswith("health")


def _list_schema(op: Operation) -> tuple[str, str] | None:
    """Where a list answer holds its array (``"@"``, ``"items"``, ``"data"``...) and its total
    count (``""`` when none); None when the answer is no list."""
    schema = op.response_schema()
    if schema is None:
        return None
    schema = schemas.chosen(schema)
    kind = schemas.main_type(schema)
    if kind == "array":
        return "@", ""
    if kind != "object":
        return None
    fields = schemas.properties(schema)
    arrays = [name for name, prop in fields.items() if schemas.main_type(prop) == "array"]
    if not arrays:
        return None
    collection = _name_of(op.path).rsplit("-", 1)[-1]
    preferred = [*LIST_NAMES, collection]
    items = min(arrays, key=lambda n: preferred.index(n) if n in preferred else len(preferred))
    return _jmespath(items), _total(fields)


def _total(fields: dict[str, SchemaPath], depth: int = 0) -> str:
    for name, prop in fields.items():
        integer = schemas.main_type(prop) == "integer"
        if integer and (name in TOTAL_NAMES or name.endswith(("Count", "_count"))):
            return _jmespath(name)
    if depth == 0:  # one envelope down: {"meta": {"total": n}}
        for name, prop in fields.items():
            if schemas.main_type(prop) == "object":
                inner = _total(schemas.properties(prop), 1)
                if inner:
                    return f"{_jmespath(name)}.{inner}"
    return ""


def _pagination(listing: Operation) -> tuple[str, dict[str, Any], str]:
    """The pagination style of a list operation from its query parameter names."""
    params: dict[str, Any] = {}
    names = {p.name for p in listing.parameters if p.where == "query"}
    lowered = {name.lower(): name for name in names}
    sizes = ("size", "per_page", "perpage", "page_size", "pagesize", "limit", "count")
    size = next((lowered[s] for s in sizes if s in lowered), None)
    if "limit" in lowered and "offset" in lowered:
        params = _renamed({"limit_param": lowered["limit"], "offset_param": lowered["offset"]})
        return "limit_offset", params, "from the query parameters limit and offset"
    if "limit" in lowered and "skip" in lowered:
        params = _renamed({"limit_param": lowered["limit"], "offset_param": lowered["skip"]})
        return "skip_limit", params, "from the query parameters skip and limit"
    if "page" in lowered and size is not None:
        if size != "size":
            params["limit_param"] = size
        if lowered["page"] != "page":
            params["page_param"] = lowered["page"]
        page = listing.parameter(lowered["page"])
        first = _first_page(page.schema if page is not None else None)
        if first == 0:
            params["first_page"] = 0
        return "page_size", params, f"from the query parameters page and {size}"
    if "offset" in lowered and size is not None:
        params = {"limit_param": size, "offset_param": lowered["offset"]}
        return "limit_offset", _renamed(params), f"from the query parameters offset and {size}"
    return "none", {}, "guessed: no paging parameters found"


def _renamed(params: dict[str, str]) -> dict[str, str]:
    """Only the parameter names that differ from their style's defaults."""
    defaults = {"limit_param": ("limit",), "offset_param": ("offset", "skip")}
    return {k: v for k, v in params.items() if v not in defaults.get(k, ())}


def _first_page(schema: SchemaPath | None) -> int:
    if schema is None:
        return 1
    for key in ("minimum", "default"):
        bound = schemas.value(schema, key)
        if bound in (0, 1):
            return int(bound)
    return 1


def _json_body(op: Operation) -> SchemaPath | None:
    """The schema of the operation's JSON request body, if it takes one."""
    body = op.request_body()
    return body[1] if body is not None and body[0] == "json" else None


def _only_needs(op: Operation, parameter: str, *, body: bool = False) -> bool:
    """Whether ``op`` needs nothing but the path parameter (and a body, if ``body``)."""
    required = [p for p in op.parameters if p.required]
    if body is False and op.body_required:
        return False
    return all(p.name == parameter and p.where == "path" for p in required)


def _envelope(schema: SchemaPath) -> tuple[str, SchemaPath]:
    """``("article", inner)`` for a body ``{"article": {...}}`` (one required object field),
    else ``("", schema)``."""
    schema = schemas.chosen(schema)
    fields = schemas.properties(schema)
    if len(fields) == 1:
        (name, prop), required = next(iter(fields.items())), schemas.required(schema)
        if name in required and schemas.properties(prop):
            return name, schemas.chosen(prop)
    return "", schema


def _create_body(inner: SchemaPath, parameter: str) -> tuple[dict[str, Any] | None, str]:
    """The create body (the required fields) with ``{marker}`` in one string field: the id
    (named like the item path's ``parameter``) if it can carry it, else a name-like field."""
    fields = schemas.properties(inner)
    names = schemas.required(inner)
    carriers = [n for n in names if n in fields and schemas.marker_template(fields[n])]
    optional = [n for n in fields if n not in names and schemas.marker_template(fields[n])]
    preferred = [parameter, _camel(parameter), *MARKER_NAMES]
    ranked = sorted(
        carriers or optional,
        key=lambda n: preferred.index(n) if n in preferred else len(preferred),
    )
    if not ranked:
        return None, ""
    marker_field = ranked[0]
    body: dict[str, Any] = {}
    for name in [*names, *([marker_field] if marker_field not in names else [])]:
        if name == marker_field:
            body[name] = schemas.marker_template(fields[name])
            continue
        prop = fields.get(name)
        value = schemas.sample(prop) if prop is not None else "smoke"
        if value is not schemas.NO_VALUE:
            body[name] = _literal(value)
    return body, marker_field


def _invalid_body(
    inner: SchemaPath, create: dict[str, Any], marker_field: str
) -> tuple[dict[str, Any] | None, str]:
    """A body the service must refuse, and why: the create body with a required number (or
    boolean) as a word, else without a required field other than the marker's."""
    fields = schemas.properties(inner)
    names = [n for n in schemas.required(inner) if n in create]
    for name in names:
        if name in fields and schemas.main_type(fields[name]) in ("number", "integer", "boolean"):
            kind = schemas.main_type(fields[name])
            article = "an" if kind == "integer" else "a"
            return {**create, name: "not-a-number"}, f"{name} is a word, not {article} {kind}"
    for name in names:
        if name != marker_field:
            body = {key: value for key, value in create.items() if key != name}
            return body, f"the required {name} is missing"
    return None, ""


def _has_examples(inner: SchemaPath) -> bool:
    fields = schemas.properties(inner)
    return any(
        schemas.example(fields[name]) is not schemas.NO_VALUE
        for name in schemas.required(inner)
        if name in fields
    )


def _changed(value: Any, schema: SchemaPath) -> Any:
    """Another value for a field, that ``schema`` accepts; None when none is easy to tell."""
    schema = schemas.chosen(schema)
    kind = schemas.main_type(schema)
    if schemas.value(schema, "enum") or schemas.value(schema, "format"):
        return None
    if kind == "string" and isinstance(value, str):
        longest = schemas.value(schema, "maxLength")
        text = UPDATED_TEXT if longest is None or longest >= len(UPDATED_TEXT) else "updated"
        return text if text != value else None
    if (
        kind in ("number", "integer")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        high = schemas.value(schema, "maximum")
        changed = value + 1
        return changed if not isinstance(high, int | float) or changed <= high else None
    if kind == "boolean" and isinstance(value, bool):
        return not value
    return None


def _id_in_answer(create: Operation, parameter: str) -> tuple[str, str, str]:
    """``(id, object, why)``: where the new item's id and the item are in the create answer."""
    candidates = [parameter, _camel(parameter), "id", "uuid", "slug", "key"]
    schema = create.response_schema()
    if schema is None:
        return "id", "@", "the create answer has no documented JSON body"
    fields = schemas.properties(schema)
    for name in candidates:
        if name in fields:
            return _jmespath(name), "@", f"the create answer's field named like {{{parameter}}}"
    if len(fields) == 1:
        (envelope, prop) = next(iter(fields.items()))
        inner = schemas.properties(prop)
        for name in candidates:
            if name in inner:
                return (
                    f"{_jmespath(envelope)}.{_jmespath(name)}",
                    _jmespath(envelope),
                    f"the create answer holds the item in {envelope}, named like {{{parameter}}}",
                )
    return "id", "@", f"no field named like {{{parameter}}} in the create answer"


def _login_of(op: Operation) -> dict[str, Any] | None:
    """The login table of ``op`` if it looks like a login: one identity field and a password
    (inside one envelope at most), nothing else required, a token in the answer."""
    body = op.request_body()
    if body is None:
        return None
    kind, schema = body
    envelope, inner = _envelope(schema) if kind == "json" else ("", schemas.chosen(schema))
    fields = schemas.properties(inner)
    identity = [n for n in IDENTITY_NAMES if n in fields]
    password = next((n for n in PASSWORD_NAMES if n in fields), None)
    if len(identity) != 1 or password is None:
        return None
    others = set(schemas.required(inner)) - {identity[0], password} - OAUTH_FIELDS
    if others:
        return None
    token = _token_path(op)
    if token is None:
        return None
    credentials: dict[str, Any] = {identity[0]: USERNAME, password: PASSWORD}
    if kind == "form" and "grant_type" in fields:
        credentials = {"grant_type": "password", **credentials}
    return {
        "format": kind,
        "body": {envelope: credentials} if envelope else credentials,
        "token": token,
    }


def _token_path(op: Operation) -> str | None:
    schema = op.response_schema()
    if schema is None:
        return None
    fields = schemas.properties(schema)
    for name in TOKEN_NAMES:
        if name in fields:
            return _jmespath(name)
    for outer, prop in fields.items():
        inner = schemas.properties(prop)
        for name in TOKEN_NAMES:
            if name in inner:
                return f"{_jmespath(outer)}.{_jmespath(name)}"
    return None


# --- small text helpers ------------------------------------------------------------------------


def _scheme_word(description: str) -> str:
    """``Token`` from an apiKey description such as "`Token <access_token>`"; ``""`` if none."""
    match = re.search(r"\b([A-Z][A-Za-z]+) <[^<>\s]+>", description)
    return match.group(1) if match else ""


def _item_template(path: str, parameter: str) -> str:
    """The item path with the id placeholder the checks file knows: ``{id}``."""
    literal: str = _literal(path.replace("{" + parameter + "}", "\0"))
    return literal.replace("\0", "{id}")


def _name_of(path: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.strip("/")).strip("-._")
    return name or "root"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}-{number}", number + 1
    taken.add(candidate)
    return candidate


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _jmespath(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f'"{name}"'


def _union(lists: Any) -> list[int]:
    found: list[int] = []
    for statuses in lists:
        found += [s for s in statuses if s not in found]
    return found


def _literal(value: Any) -> Any:
    """``value`` with its braces doubled (the checks file reads ``{name}`` as a placeholder) and
    ``${`` broken up (it would be read as a variable)."""
    if isinstance(value, str):
        return value.replace("{", "{{").replace("}", "}}").replace("$" + "{{", "$ {{")
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _literal(item) for key, item in value.items()}
    return value


def _inline(value: Any) -> Any:
    """``value`` for tomlkit, its tables inline (``{ name = "x" }``)."""
    import tomlkit

    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for key, item in value.items():
            table.append(key, _inline(item))
        return table
    if isinstance(value, list):
        return [_inline(item) for item in value]
    return value


def checked(draft: Draft, output: Path | None) -> None:
    """Load ``draft`` as the suite would (schema, semantic checks, defaults), from where it will
    be written; a :class:`~pytest_smoke.checks.ChecksError` means init drafted something wrong.
    """
    import tempfile

    from pytest_smoke.checks import load_checks

    directory = output.parent if output is not None else Path.cwd()
    variables = {"SMOKE_TEST_USERNAME": "user", "SMOKE_TEST_PASSWORD": "password"}
    with tempfile.NamedTemporaryFile(
        "w", suffix=".toml", dir=directory if directory.is_dir() else None, encoding="utf-8"
    ) as handle:
        handle.write(draft.text)
        handle.flush()
        load_checks(handle.name, variables)


def save(draft: Draft, output: Path) -> None:
    """Write ``draft`` to ``output`` atomically (a temporary file renamed over it)."""
    temporary = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(draft.text, encoding="utf-8")
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)

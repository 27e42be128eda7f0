"""The OpenAPI document: where it is, reading it (JSON or YAML) and validating it.

A checks file names the document as a path on ``GATEWAY_URL`` (``"/openapi.json"``), a full
http(s) URL, or a local file (relative to the checks file, or a ``file://`` URL); ``init`` takes
a URL or a file path. :func:`read_document` fetches or reads it, parses it with jsonschema-path's
YAML loader (JSON is YAML), and hands it to openapi-core, which validates it with
openapi-spec-validator (OpenAPI 3.0 or 3.1) and resolves every ``$ref``, also into other files.
Anything wrong is a :class:`DocumentError`: one line naming the document and what to do.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urljoin, urlsplit, urlunsplit

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

    from jsonschema_path import SchemaPath
    from openapi_core import OpenAPI

#: How long fetching the document may take, unless told otherwise.
DEFAULT_TIMEOUT: Final = 10.0
#: A document larger than this is refused rather than parsed.
MAX_BYTES: Final = 20 * 1024 * 1024
_REMOTE: Final = ("http://", "https://")
_JSON_SUFFIX: Final = re.compile(r"^application/[\w.-]+\+json$")


class DocumentError(Exception):
    """The OpenAPI document cannot be used; the message is one line naming it and why."""


@dataclass(frozen=True)
class Location:
    """Where the document is: ``url`` is an http(s) or a ``file://`` URL."""

    url: str

    @property
    def remote(self) -> bool:
        """Whether the document is fetched over HTTP(S)."""
        return self.url.startswith(_REMOTE)

    @property
    def shown(self) -> str:
        """The URL for messages: without a password, a local file as its path."""
        if not self.remote:
            return str(_file_path(self.url))
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        user = parts.netloc.rpartition("@")[0].partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{parts.netloc.rpartition('@')[2]}"))


def locate(document: str, *, checks_file: Path | None, gateway_url: str | None) -> Location:
    """Where ``openapi.document`` of a checks file points.

    A path starting with ``/`` is on ``gateway_url``; an http(s) or ``file://`` URL is taken as
    it is; anything else is a file relative to the checks file's directory. Raises
    :class:`DocumentError` for a gateway path without a gateway.
    """
    if document.startswith(_REMOTE) or document.startswith("file://"):
        return Location(document)
    if document.startswith("/"):
        if not gateway_url:
            raise DocumentError(
                f"OpenAPI document {document}: a path on GATEWAY_URL, which is not set; set it "
                "in the env profile, or give openapi.document as a full URL"
            )
        return Location(urljoin(gateway_url.rstrip("/") + "/", document.lstrip("/")))
    base = checks_file.parent if checks_file is not None else Path.cwd()
    return Location((base / document).absolute().as_uri())


def locate_given(source: str) -> Location:
    """Where ``init --openapi SOURCE`` points: an http(s) URL, a ``file://`` URL or a path."""
    if source.startswith(_REMOTE) or source.startswith("file://"):
        return Location(source)
    return Location(Path(source).absolute().as_uri())


@dataclass(frozen=True)
class Document:
    """A parsed OpenAPI 3 document that openapi-spec-validator found valid.

    ``app`` is openapi-core's view of it (its response validation); ``location`` where it was
    read from.
    """

    app: OpenAPI
    location: Location

    @property
    def spec(self) -> SchemaPath:
        """The document as a jsonschema-path tree: every ``$ref`` resolved as it is walked."""
        return self.app.spec

    @property
    def version(self) -> str:
        """The document's ``openapi`` field, e.g. ``"3.1.0"``."""
        return str((self.spec / "openapi").read_value())

    @property
    def title(self) -> str:
        """``info.title``."""
        return str((self.spec / "info" / "title").read_value())


def read_document(
    location: Location,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    verify: ssl.SSLContext | None = None,
) -> Document:
    """Fetch or read the document at ``location``, parse and validate it.

    ``timeout`` bounds the whole fetch; ``verify`` is the TLS context for an https URL (the
    system's trust store when None). Raises :class:`DocumentError`.
    """
    text = _fetch(location, timeout, verify) if location.remote else _read(location)
    return parse_document(text, location)


def parse_document(text: str, location: Location) -> Document:
    """Parse ``text`` (JSON or YAML) read from ``location`` and validate it as OpenAPI 3."""
    from jsonschema_path.handlers.file import FileHandler
    from openapi_spec_validator.versions.exceptions import OpenAPIVersionNotFound
    from openapi_spec_validator.versions.shortcuts import get_spec_version

    where = f"OpenAPI document {location.shown}"
    try:
        data = FileHandler()(io.StringIO(text))
    except Exception as error:  # the YAML parser's errors, whatever its version calls them
        raise DocumentError(f"{where}: neither JSON nor YAML: {_one_line(error)}") from None
    if not isinstance(data, dict):
        raise DocumentError(f"{where}: not an OpenAPI document (no top-level object)")
    if "swagger" in data and "openapi" not in data:
        raise DocumentError(
            f"{where}: a Swagger {data.get('swagger')} document; this release reads OpenAPI 3.0 "
            "and 3.1 (convert it, e.g. with swagger2openapi)"
        )
    try:
        get_spec_version(data)
    except OpenAPIVersionNotFound:
        raise DocumentError(
            f"{where}: not an OpenAPI 3 document (its 'openapi' field is "
            f"{data.get('openapi', 'missing')!r}; this release reads 3.0 and 3.1)"
        ) from None
    return Document(_validated(data, location, where), location)


def _validated(data: dict[str, Any], location: Location, where: str) -> OpenAPI:
    from jsonschema.exceptions import ValidationError
    from openapi_core import Config, OpenAPI
    from openapi_core.deserializing.media_types.util import json_loads
    from openapi_core.exceptions import SpecError
    from referencing.exceptions import Unresolvable

    # openapi-core reads application/json and a few others as JSON; a structured-syntax suffix
    # (RFC 6839: application/problem+json) means JSON too.
    suffixed: dict[str, Callable[[bytes], Any]] = {
        media: json_loads for media in _media_types(data) if _JSON_SUFFIX.match(media)
    }
    config = Config(extra_media_type_deserializers=suffixed)
    try:
        app = OpenAPI.from_dict(data, config=config, base_uri=location.url)
    except ValidationError as error:
        at = " > ".join(str(part) for part in error.absolute_path)
        version = str(data.get("openapi", ""))
        raise DocumentError(
            f"{where}: not a valid OpenAPI {version} document: {_first_line(error.message)}"
            + (f" (at {at})" if at else "")
        ) from None
    except SpecError as error:
        raise DocumentError(f"{where}: not a usable OpenAPI document: {error}") from None
    except Unresolvable as error:  # a $ref to a file, a URL or a place that is not there
        raise DocumentError(
            f"{where}: a $ref cannot be resolved: {_one_line(getattr(error, 'ref', error))}"
        ) from None
    if app.response_validator_cls is None:
        raise DocumentError(
            f"{where}: OpenAPI {data.get('openapi')} is not supported; this release reads "
            "3.0 and 3.1"
        )
    return app


def _media_types(node: Any) -> set[str]:
    """Every media type named under a ``content`` map anywhere in the document."""
    found: set[str] = set()
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            content = current.get("content")
            if isinstance(content, dict):
                found.update(str(key).split(";")[0].strip().lower() for key in content)
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return found


def _read(location: Location) -> str:
    path = _file_path(location.url)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise DocumentError(f"OpenAPI document {path}: larger than {MAX_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise DocumentError(
            f"OpenAPI document {path}: cannot read it: {error.strerror or error}"
        ) from None
    except UnicodeDecodeError:
        raise DocumentError(f"OpenAPI document {path}: not UTF-8 text") from None


def _fetch(location: Location, timeout: float, verify: ssl.SSLContext | None) -> str:
    import httpx

    from pytest_smoke.clients.http import describe_connect_error

    where = f"OpenAPI document {location.shown}"
    try:
        with httpx.Client(
            timeout=timeout, verify=verify if verify is not None else True, trust_env=False
        ) as client:
            response = client.get(
                location.url,
                headers={"Accept": "application/json, application/yaml;q=0.9, */*;q=0.5"},
                follow_redirects=True,
            )
    except httpx.HTTPError as error:
        raise DocumentError(f"{where}: cannot fetch it: {describe_connect_error(error)}") from None
    if response.status_code != 200:
        first = next((line.strip() for line in response.text.splitlines() if line.strip()), "")
        raise DocumentError(
            f"{where}: answered {response.status_code}, not 200"
            + (f": {first[:160]}" if first else "")
        )
    if len(response.content) > MAX_BYTES:
        raise DocumentError(f"{where}: larger than {MAX_BYTES} bytes")
    try:
        return response.content.decode(response.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise DocumentError(f"{where}: not UTF-8 text") from None


def _file_path(url: str) -> Path:
    from urllib.request import url2pathname

    return Path(url2pathname(urlsplit(url).path))


def _first_line(message: str) -> str:
    """What a schema error says, without the schema and instance that the jsonschema-rs backend
    of openapi-spec-validator appends after a blank line."""
    return _one_line(message.split("\n\n", 1)[0])


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 200 else text[:197] + "..."

"""Contract checks (``[openapi]``): which operations are checked, and whether an answer keeps to
the document.

:func:`plan_contract` runs once, when the tests are collected: it reads the document and picks
the safe operations (GET) that need no input (no required parameter, no required body), filtered
by ``include`` and ``exclude``. A document that cannot be read, or one with nothing to check, is
a plan with a ``problem``: one check that fails naming it, never a silent pass.

:func:`check_answer` holds one answer to the document with openapi-core's response validation:
the status must be one the document lists for the operation (an exact code, a range such as
``2XX``, or ``default``), the body must be of a documented media type and valid against its
schema (the OpenAPI 3.0 or 3.1 dialect, as the document says), and documented headers valid.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from pytest_smoke.openapi.document import DocumentError, locate, read_document
from pytest_smoke.openapi.operations import Operation, operations_of

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    from pytest_smoke.openapi.document import Document

#: The test id of the one check a plan with a problem makes.
DOCUMENT_ID: Final = "document"
#: Methods checked: safe ones the document describes (HEAD and OPTIONS are rarely documented).
CHECKED_METHODS: Final = frozenset({"GET"})
_MORE_ERRORS: Final = 2


@dataclass(frozen=True)
class ContractPlan:
    """The contract checks of a run: the document and its operations by test id, or why none
    can be made (``problem``, one line naming the document)."""

    document: Document | None = None
    operations: dict[str, Operation] = field(default_factory=dict)
    problem: str | None = None

    @property
    def ids(self) -> list[str]:
        """The test ids: ``GET /api/items`` each, or :data:`DOCUMENT_ID` for a problem."""
        return [DOCUMENT_ID] if self.problem is not None else list(self.operations)


def plan_contract(
    section: Mapping[str, Any],
    *,
    checks_file: Path | None,
    gateway_url: str | None,
    verify: ssl.SSLContext | None = None,
) -> ContractPlan:
    """Read the document ``section`` (``[openapi]`` after defaults) names and pick what to check.

    Never raises for the document: what is wrong with it is the plan's ``problem``.
    """
    try:
        location = locate(section["document"], checks_file=checks_file, gateway_url=gateway_url)
        document = read_document(location, timeout=section["timeout_seconds"], verify=verify)
    except DocumentError as error:
        return ContractPlan(problem=f"{error} (openapi.document)")
    chosen = select(operations_of(document), section.get("include"), section["exclude"])
    if not chosen:
        filters = (
            " and openapi.include/exclude" if section.get("include") or section["exclude"] else ""
        )
        return ContractPlan(
            document,
            problem=f"OpenAPI document {location.shown}: no GET operation that needs no input"
            f"{filters}; nothing to check (openapi.document)",
        )
    return ContractPlan(document, {op.label: op for op in chosen})


def select(
    operations: Iterable[Operation], include: Iterable[str] | None, exclude: Iterable[str]
) -> list[Operation]:
    """The operations a contract check calls: GETs needing no input, whose path matches an
    ``include`` pattern (when there are any) and no ``exclude`` pattern (fnmatch, case
    sensitive), in the document's order, each label once."""
    included, excluded = list(include or []), list(exclude)
    chosen: dict[str, Operation] = {}
    for op in operations:
        if op.method not in CHECKED_METHODS or op.needs_input:
            continue
        if included and not any(fnmatch.fnmatchcase(op.path, p) for p in included):
            continue
        if any(fnmatch.fnmatchcase(op.path, p) for p in excluded):
            continue
        chosen.setdefault(op.label, op)
    return list(chosen.values())


@dataclass
class _Request:
    """The request, as openapi-core's ``Request`` protocol has it: at the operation's server
    (any host for a relative one), so the library finds the operation it was sent to."""

    host_url: str
    path: str
    method: str
    parameters: Any
    content_type: str = ""
    body: bytes | None = None


@dataclass(frozen=True)
class _Response:
    """The answer, as openapi-core's ``Response`` protocol has it."""

    status_code: int
    content_type: str
    headers: Mapping[str, str]
    data: bytes | None


def check_answer(
    document: Document,
    operation: Operation,
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
) -> str | None:
    """Why the answer breaks the document's contract for ``operation``, in one line; None when
    it keeps to it. ``headers`` are the answer's (case-insensitive mapping, as httpx gives)."""
    from openapi_core.datatypes import RequestParameters

    parts = urlsplit(operation.server)
    host = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "http://smoke"
    request = _Request(host, operation.gateway_path, operation.method.lower(), RequestParameters())
    content_type = headers.get("content-type", "").lower()
    response = _Response(status, content_type, headers, body)
    errors = list(document.app.iter_response_errors(request, response))
    if not errors:
        return None
    where = f"{operation.label} answered {status}"
    described = [_describe(error, status, content_type) for error in errors]
    more = len(described) - _MORE_ERRORS
    text = "; ".join(described[:_MORE_ERRORS]) + (f"; and {more} more" if more > 0 else "")
    return f"{where}, which breaks the document's contract: {text}"


def _describe(error: BaseException, status: int, content_type: str) -> str:
    """One error of openapi-core as a person reads it."""
    from openapi_core.deserializing.exceptions import DeserializeError
    from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    from openapi_core.validation.response.exceptions import MissingData
    from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

    cause = error.__cause__ or error
    if isinstance(error, ResponseNotFound):
        listed = ", ".join(str(s) for s in error.availableresponses) or "none"
        return f"the document does not list {status} for it (it lists {listed})"
    if isinstance(error, MissingData):
        return "the body is empty, but the document describes one"
    if isinstance(cause, MediaTypeNotFound):
        listed = ", ".join(cause.availableMimetypes)
        return f"Content-Type {content_type or '(none)'} is not documented (it lists {listed})"
    if isinstance(cause, DeserializeError):
        return f"the body cannot be read as {content_type or 'the documented media type'}"
    if isinstance(cause, InvalidSchemaValue):
        found = [_schema_error(e) for e in cause.schema_errors]
        more = len(found) - _MORE_ERRORS
        text = "; ".join(found[:_MORE_ERRORS]) + (f"; and {more} more" if more > 0 else "")
        return f"the body does not match the documented schema: {text}"
    name = getattr(error, "name", None)
    detail = _one_line(cause)
    return f"header {name}: {detail}" if name and cause is not error else detail


def _schema_error(error: BaseException) -> str:
    """``$.items[0].price: '1.5' is not of type 'number'`` from a jsonschema error."""
    where = getattr(error, "json_path", "$")
    message = getattr(error, "message", None) or str(error)
    return f"{where}: {_one_line(message)}"


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 200 else text[:197] + "..."

"""Error bodies in the RealWorld shape, ``{"errors": {"body": [messages]}}``.

Authentication failures keep FastAPI's own ``{"detail": ...}``, as the security classes give it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from fastapi import FastAPI, Request


class ApiError(Exception):
    """An answer other than success, with one message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def errors_body(*messages: str) -> dict[str, dict[str, list[str]]]:
    return {"errors": {"body": list(messages)}}


async def _api_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return JSONResponse(errors_body(error.message), status_code=error.status)


async def _invalid(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    messages = []
    for problem in error.errors():
        location = list(problem.get("loc", ()))
        if location[:1] == ["body"]:  # FastAPI's "where": the body, query...; not a field
            location = location[1:]
        where = ".".join(str(part) for part in location)
        messages.append(f"{where}: {problem.get('msg', 'invalid')}" if where else problem["msg"])
    return JSONResponse(errors_body(*messages), status_code=422)


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    # Starlette's outermost middleware calls this, then re-raises so the server logs the trace.
    return JSONResponse(errors_body("internal error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _unexpected)

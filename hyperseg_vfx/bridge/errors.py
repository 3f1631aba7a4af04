"""The bridge's one error shape, `{"error": {"code", "message", "field"}}`, and the handlers that
turn every failure into it: a client always gets JSON with a 4xx/5xx status, never a traceback,
and the server keeps serving.

    ShotError             422 invalid_shot (field: the shot field, e.g. clicks[0].keys.1001)
    OutputExistsError     409 output_exists (an output exists and may not be replaced; the door's rule)
    PathRefused           403 forbidden_path out of the allowed folders (the same whether anything is
                          there or not), else 422 invalid_path (a FIFO, a folder, a link loop, ...)
    other HypersegError   422 invalid_input (unreadable plate, bad farm argument, ...; field when it has one)
    request validation    400 invalid_json for a body that is not JSON, else 422 invalid_request
    HTTP errors           their status (404 not_found, 405 method_not_allowed, ...)
    anything else         500 internal_error, logged with its traceback
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import HypersegError
from ..door import OutputExistsError, PathRefused
from ..shot import ShotError

log = logging.getLogger("hyperseg_vfx.bridge")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
              429: "too_many_requests"}


class ApiError(Exception):
    """A refusal with its HTTP status, machine-readable code and the request field at fault."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    """A pydantic error location as a dotted field path, without the leading 'body'."""
    text = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.field)


async def _shot_error(_request: Request, exc: ShotError) -> JSONResponse:
    return error_response(422, "invalid_shot", str(exc), exc.field or None)


async def _output_exists(_request: Request, exc: OutputExistsError) -> JSONResponse:
    return error_response(409, "output_exists", str(exc), exc.field or "output")


async def _path_refused(_request: Request, exc: PathRefused) -> JSONResponse:
    if exc.outside:
        return error_response(403, "forbidden_path", str(exc), exc.field)
    return error_response(422, "invalid_path", str(exc), exc.field)


async def _user_error(_request: Request, exc: HypersegError) -> JSONResponse:
    return error_response(422, "invalid_input", str(exc), getattr(exc, "field", None) or None)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors() or [{"type": "", "loc": (), "msg": "invalid request"}]
    first = errors[0]
    if first["type"] == "json_invalid":
        reason = first.get("ctx", {}).get("error", first["msg"])
        return error_response(400, "invalid_json", f"the body is not valid JSON: {reason}")
    field = _field(tuple(first.get("loc", ())))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    message = f"{field or 'body'}: {first['msg']}{more}"
    return error_response(422, "invalid_request", message, field or None)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error",
                          f"internal error ({type(exc).__name__}); the bridge log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ShotError, _shot_error)
    app.add_exception_handler(OutputExistsError, _output_exists)
    app.add_exception_handler(PathRefused, _path_refused)
    app.add_exception_handler(HypersegError, _user_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

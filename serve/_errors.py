"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``.

HubErrors map to HTTP statuses here, in one table; anything unexpected is a 500 that says only
that it happened (the traceback goes to the replica's log, never to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import (
    Conflict,
    ExpressionError,
    GateLocked,
    HubError,
    IllegalTransition,
    InputsInvalid,
    InvalidRequest,
    NodeFamilyDisabled,
    NotFound,
    RuntimeUnavailable,
    StoreError,
    WorkflowInvalid,
)

_log = logging.getLogger("runtime_hub.api")

STATUS: list[tuple[type[HubError], int]] = [
    (NotFound, 404),
    (IllegalTransition, 409),
    (Conflict, 409),
    (NodeFamilyDisabled, 403),
    (GateLocked, 403),
    (WorkflowInvalid, 422),
    (InputsInvalid, 422),
    (InvalidRequest, 422),
    (ExpressionError, 422),  # an expression the request gave (evaluate, a breakpoint)
    (RuntimeUnavailable, 503),
    (StoreError, 503),
]


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (auth, body size, unknown route...)."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def status_of(exc: HubError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def hub_error(_: Request, exc: HubError) -> JSONResponse:
        details = _jsonable(exc.details)
        if isinstance(exc, InputsInvalid):
            details = _inputs_pointers(details)
        return error_response(status_of(exc), exc.code, exc.message, details)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"path": _path(e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        return error_response(
            422, "invalid_request", f"invalid request: {summary}", {"errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unexpected error in %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", "the API failed unexpectedly; see the runtime's logs"
        )


def _path(loc: tuple[Any, ...] | list[Any]) -> str:
    """A field path as users write it: ``/inputs/userId``, ``query.limit``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        return "/" + "/".join(parts[1:])
    return ".".join(parts)


def _inputs_pointers(details: dict[str, Any]) -> dict[str, Any]:
    """Input errors point into the request body (``/inputs/userId``), as body errors do."""
    errors = [
        {**e, "path": "/inputs" + (f"/{e['path']}" if e.get("path") else "")}
        for e in details.get("errors", [])
        if isinstance(e, dict)
    ]
    return {**details, "errors": errors}


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    import json

    return dict(json.loads(json.dumps(details, default=str)))

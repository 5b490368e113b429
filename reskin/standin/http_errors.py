"""HTTP errors of the stand-in, in the service's documented shape.

Every error answers ``{"message", "path", "requestId", "statusCode", "timestamp"}`` with a fresh
request id, also sent as ``x-request-id``. Validation errors can instead take the shape seen in
the wild, ``{"detail": [{"loc", "msg", "type", "input"}]}``, when the ``detail_errors`` fault is on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_MAX_ECHO = 200


class ApiProblem(Exception):
    """Raised by a handler to answer an HTTP error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        detail: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        #: The same problem as ``{"detail": [...]}`` items, for validation errors.
        self.detail = list(detail) if detail is not None else None


class DeliberateCut(Exception):
    """Raised mid-body to make the server drop a download connection on purpose."""


class QuietDeliberateCuts(logging.Filter):
    """Keeps the server's "Exception in ASGI application" log quiet for :class:`DeliberateCut`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DeliberateCut))


def bad_request(message: str, *, field: str) -> ApiProblem:
    """A 400 about one field of the body."""
    return ApiProblem(
        400,
        f"{field}: {message}",
        detail=[{"loc": ["body", field], "msg": message, "type": "value_error", "input": None}],
    )


def from_validation_error(exc: ValidationError) -> ApiProblem:
    """A 400 listing what pydantic refused in the body."""
    items = []
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
        items.append(
            {
                "loc": ["body", *error["loc"]],
                "msg": error["msg"],
                "type": error["type"],
                "input": _short(error.get("input")),
            }
        )
    return ApiProblem(400, "; ".join(parts), detail=items)


def error_response(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The documented error body."""
    request_id = str(uuid.uuid4())
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = {
        "message": message,
        "path": path,
        "requestId": request_id,
        "statusCode": status,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return JSONResponse(
        body, status_code=status, headers={**(headers or {}), REQUEST_ID_HEADER: request_id}
    )


def install_handlers(app: FastAPI, *, detail_errors: Callable[[], bool]) -> None:
    """Route every error of ``app`` through the documented body."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)  # noqa: S101 - registered for this class only
        if exc.detail is not None and exc.status == 400 and detail_errors():
            request_id = str(uuid.uuid4())
            return JSONResponse(
                {"detail": exc.detail},
                status_code=400,
                headers={**exc.headers, REQUEST_ID_HEADER: request_id},
            )
        return error_response(request, exc.status, exc.message, exc.headers)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this class only
        message = "Cannot find this endpoint" if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only (POST for
            # /v2/video/generations); Allow must list every method the path answers.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(request, exc.status_code, message, headers)

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101 - idem
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return error_response(request, 400, "; ".join(parts) or "invalid request")

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, DeliberateCut):
            log.error("stand-in handler failed on %s", request.url.path, exc_info=exc)
        return error_response(request, 500, "Internal server error")

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(Exception, on_crash)


#: The methods :func:`allowed_methods` tries on a path.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method the app answers on ``request``'s path: each one a route fully matches when
    the request is asked with it (through the routes' own ``matches``, so included routers
    count too)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


def _short(value: Any) -> Any:
    # A data URI is megabytes; the wild shape echoes inputs, but not whole videos.
    if isinstance(value, str) and len(value) > _MAX_ECHO:
        return value[:_MAX_ECHO] + "..."
    if isinstance(value, dict | list):
        text = str(value)
        return text[:_MAX_ECHO] + "..." if len(text) > _MAX_ECHO else value
    return value

"""One JSON error shape for every error the API returns.

``{"error": {"status": 404, "code": "not_found", "message": "...", "field": null}}``: the
HTTP status again, a stable code, a message that says what to do (personal data scrubbed for
roles without PII rights), and for a validation error the field at fault
(``query.page_size``).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from crmine.api._masking import scrub
from crmine.exceptions import (
    ConfigError,
    CrmineError,
    DataError,
    MissingColumnError,
    SchemaError,
    WorkspaceError,
)

__all__ = ["ERROR_RESPONSES", "ApiError", "ErrorBody", "ErrorResponse", "install_handlers"]

log = logging.getLogger("crmine.api")

_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large",
          422: "invalid_request", 429: "rate_limited", 500: "internal_error",
          503: "unavailable"}  # fmt: skip


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse, "description": _CODES[s].replace("_", " ")}
    for s in (401, 403, 404, 422, 429, 500)
}


class ApiError(Exception):
    """An error the API answers with ``status`` (and optional headers, e.g. Retry-After)."""

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


def _pii(request: Request) -> bool:
    user = getattr(request.state, "user", None)
    from crmine.api._policy import has_pii_rights

    return user is not None and has_pii_rights(user.role)


def error_response(request: Request, status: int, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"status": status, "code": _CODES.get(status, "error"),
                      "message": scrub(message, _pii(request))[:2000], "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


def _status_of(exc: CrmineError) -> int:
    if isinstance(exc, (DataError, MissingColumnError, ConfigError)):
        return 422
    if isinstance(exc, (WorkspaceError, SchemaError)):
        return 404
    return 422


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.message, exc.field, exc.headers)

    @app.exception_handler(CrmineError)
    async def _crmine(request: Request, exc: CrmineError) -> JSONResponse:
        return error_response(request, _status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                            for e in errors[:5])
        return error_response(request, 422, message or "invalid request", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code,
                                                                            "error")
        return error_response(request, exc.status_code, message,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        # The cause goes to the server log, never to the client: it may hold personal data.
        ref = secrets.token_hex(4)
        log.exception("internal error %s on %s %s", ref, request.method, request.url.path)
        return error_response(request, 500, f"internal error (reference {ref}); the server "
                              "log has the details")

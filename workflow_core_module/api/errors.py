"""Every error answers {"error": {"code", "message", "details"}}; nothing malformed gives a 500."""

from __future__ import annotations

import logging
from typing import Any

from quart import Quart, Response, jsonify, request
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, RequestEntityTooLarge

from ..errors import Conflict, DomainError, Forbidden, Invalid, LimitExceeded, NotFound, Unavailable

log = logging.getLogger(__name__)

_CODES = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 429: "too_many_requests",
          503: "unavailable"}


# The one place a domain error becomes an HTTP answer (most specific class first).
_STATUS: tuple[tuple[type[DomainError], int, str], ...] = (
    (Invalid, 400, "invalid_input"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (LimitExceeded, 409, "limit_exceeded"),
    (Conflict, 409, "conflict"),
    (Unavailable, 503, "unavailable"),
)


def status_of(exc: DomainError) -> tuple[int, str]:
    """(HTTP status, error code) for a domain error; anything else is an internal error."""
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            return status, code
    return 500, "internal_error"


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query")]
    return ".".join(parts) or "body"


def validation_details(error: Exception) -> dict[str, str]:
    """Field -> message from a pydantic ValidationError (or the message of anything else)."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        details: dict[str, str] = {}
        for item in errors():
            name = _field(tuple(item.get("loc", ())))
            message = "unknown field" if item.get("type") == "extra_forbidden" else str(item.get("msg", "invalid"))
            if item.get("type") in ("model_type", "dict_type") and name == "body":
                message = "expected a JSON object"
            details.setdefault(name, message)
        return details
    return {"body": "expected a JSON object" if "None" in str(error) or "dict" in str(error) else str(error)}


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(DomainError)
    async def domain(exc: DomainError) -> Response:
        status, code = status_of(exc)
        if status >= 500:
            log.error("request failed: %s", exc.message, extra={"category": "ERROR"})
        return error_response(status, code, exc.message, exc.details)

    @app.errorhandler(RequestSchemaValidationError)
    async def schema(exc: RequestSchemaValidationError) -> Response:
        details = validation_details(exc.validation_error)
        message = "; ".join(f"{k}: {v}" for k, v in details.items())
        return error_response(400, "invalid_input", message, details)

    @app.errorhandler(RequestEntityTooLarge)
    async def too_large(exc: RequestEntityTooLarge) -> Response:
        limit = request.max_content_length
        return error_response(413, "payload_too_large", f"the body is larger than {limit} bytes", {"limit": limit})

    @app.errorhandler(UnicodeDecodeError)
    async def not_utf8(exc: UnicodeDecodeError) -> Response:
        return error_response(400, "invalid_input", "the body is not valid UTF-8 JSON", {"body": "not valid UTF-8"})

    @app.errorhandler(BadRequest)
    async def bad_request(exc: BadRequest) -> Response:
        return error_response(400, "invalid_input", "the body is not valid JSON (send Content-Type: application/json)",
                              {"body": "not valid JSON"})

    @app.errorhandler(HTTPException)
    async def http(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = error_response(status, _CODES.get(status, "error"), exc.description or exc.name)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:  # a 405 names the methods the path takes
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error", extra={"category": "ERROR", "action": "http.500"})
        return error_response(500, "internal_error", "an unexpected error happened; it has been logged")

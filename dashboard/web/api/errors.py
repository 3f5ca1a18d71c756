"""How the JSON API refuses (SPEC §8): every refusal answers `{"error", "message", "field"}`
(plus `errors` when there are several problems), with the status its kind implies, and never a
stack trace or SQL.

Services raise `dashboard.errors.Refused` (Invalid, Forbidden, NotFound, Conflict): answered
here with its kind, status and text. `ApiError(status, message, field=...)` is for refusals only
the HTTP layer knows (a body that is not JSON, a missing token). Everything else — routing 404/405,
a too-large body, a lost database, a stale version — is turned into the same shape here.
"""
from __future__ import annotations

import contextlib
from typing import Any

from flask import current_app, jsonify, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from dashboard.errors import Refused, describe
from dashboard.extensions import db
from dashboard.transactions import TransactionConflict

ERROR_CODES = {
    400: "validation",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
# The statuses the blueprint answers itself, so that an app-wide handler for one of them (an
# HTML 404 page, say) never wins over the API's JSON for errors raised inside an API view.
HANDLED_STATUSES = (400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503)


class ApiError(Exception):
    """A refused API request; becomes `{"error", "message", "field"[, "errors"]}`."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or ERROR_CODES.get(status, "error")
        self.message = message
        self.field = field
        self.errors = errors
        self.headers = headers or {}


def validation_error(message: str, field: str | None = None,
                     errors: list[dict[str, Any]] | None = None) -> ApiError:
    return ApiError(400, message, field, errors)


def forbidden(message: str = "Your role may not do this.") -> ApiError:
    return ApiError(403, message)


def not_found(message: str = "Not found.") -> ApiError:
    return ApiError(404, message)


def conflict(message: str, field: str | None = None) -> ApiError:
    return ApiError(409, message, field)


def error_response(status: int, message: str, field: str | None = None,
                   errors: list[dict[str, Any]] | None = None, code: str | None = None):
    body: dict[str, Any] = {
        "error": code or ERROR_CODES.get(status, "error"),
        "message": message,
        "field": field,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    return response


def is_api_request() -> bool:
    """True for paths under /api — the UI's own error pages should defer to api_error_for()."""
    return request.path == "/api" or request.path.startswith("/api/")


def api_error_for(exc: BaseException):
    """The JSON answer for any exception raised while serving /api."""
    # With the database gone even the rollback fails; the client must still get its JSON answer.
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()
    if isinstance(exc, ApiError):
        response = error_response(exc.status, exc.message, exc.field, exc.errors, exc.code)
        response.headers.update(exc.headers)
        return response
    if isinstance(exc, StaleDataError):
        # Another writer changed a versioned object between this request's read and its write.
        return error_response(409, describe(Refused("stale_version")), "version", code="conflict")
    if isinstance(exc, Refused):
        every = [{"error": p.kind, "message": describe(p), "field": p.field} for p in (exc, *exc.also)]
        return error_response(exc.status, describe(exc), exc.field, every if exc.also else None, code=exc.kind)
    if isinstance(exc, TransactionConflict):
        current_app.logger.error("%s", exc)
        return error_response(503, "Other changes to the same data kept conflicting with this one; "
                                   "nothing was saved. Try again shortly.")
    if isinstance(exc, OperationalError):
        current_app.logger.exception("database unavailable")
        return error_response(503, "The database is unavailable; nothing was saved. Try again shortly.")
    if isinstance(exc, DataError):
        # A value the database cannot hold (validation should have caught it first).
        current_app.logger.warning("data error: %s", exc.orig)
        return error_response(400, "A value is out of range or not valid.")
    if isinstance(exc, IntegrityError):
        current_app.logger.warning("integrity conflict: %s", exc.orig)
        return error_response(409, "The change conflicts with the stored data; reload and try again.")
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    current_app.logger.exception("unexpected error in the API")
    return error_response(500, "An unexpected error occurred.")


def _http_error(exc: HTTPException):
    status = exc.code or 500
    message = {
        404: "Not found.",
        405: f"Method {request.method} is not allowed here.",
        413: "The request body is too large.",
    }.get(status, exc.description or exc.name)
    response = error_response(status, message)
    if status == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def http_exception_anywhere(exc: HTTPException):
    """Routing errors (404, 405) happen before a blueprint is known; answer JSON for /api paths."""
    if is_api_request():
        return api_error_for(exc)
    return exc

"""The token-authenticated JSON API under /api (SPEC §8).

How a module plugs in: it does `from dashboard.web.api import bp, current_api_user, ApiError,
json_body` and adds its routes with `@bp.get(...)`, `@bp.post(...)`, ... Then it is named in
API_MODULES below; `register_api(app)` imports them and registers the blueprint.

What every route gets from this module, without doing anything:
- authentication: `Authorization: Bearer TOKEN` is checked before any view runs (401 otherwise);
  the caller is `current_api_user()`. The API is exempt from CSRF (no cookies are trusted here).
- both spellings of a path (with and without the final slash) for every method, no redirect.
- one transaction per request: a 2xx/3xx answer commits once, anything else rolls back; a
  serialization failure or deadlock reruns the view a bounded number of times, then answers 503
  (dashboard/transactions.py).
- JSON errors `{"error", "message", "field"}` (plus `errors` when several) for everything that
  can go wrong, including routing 404/405, 413 and an unreachable database (503); never a trace.
  Services raise `dashboard.errors.Refused` (Invalid, Forbidden, NotFound, Conflict), answered
  here with its kind, status and text; `ApiError(status, message, field=...)` is for refusals
  that only the HTTP layer knows (a body that is not JSON, a missing token).
- a body limit of API_BODY_LIMIT, except for endpoints listed in LARGE_BODY_ENDPOINTS.
- SPEC §8's optional guarantees: a body must be JSON (415 otherwise; no body needs no
  Content-Type); a POST with `Idempotency-Key` answers its first answer again
  (dashboard/web/idempotency.py); API_RATE_LIMIT per token (dashboard/rate_limit.py, 429 with
  Retry-After); a stale `If-Match`/`version` answers 409 (dashboard/models/versions.py, checked by
  the services; a concurrent writer that slipped past the check meets the ORM's version guard,
  StaleDataError, also 409).
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import json
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, g, jsonify, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from dashboard import listing as queries, serializers
from dashboard.errors import Invalid, Refused, describe
from dashboard.extensions import csrf, db
from dashboard.web.guards import has_nul
from dashboard.transactions import TransactionConflict, run_in_transaction

API_MODULES = ("progress", "importing", "audit", "openapi", "users", "omr", "clinic", "notifications", "reports",
               "entry")

# Other bodies are small JSON objects; the snapshot import may be big (SPEC §8: >= 64 MB).
API_BODY_LIMIT = 2 * 1024 * 1024
IMPORT_BODY_LIMIT = 64 * 1024 * 1024
LARGE_BODY_ENDPOINTS = {"api.import_snapshot": IMPORT_BODY_LIMIT}

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


class ApiBlueprint(Blueprint):
    """A blueprint whose every path also answers without (or with) its final slash, and whose
    every view runs in one transaction."""

    def add_url_rule(self, rule: str, endpoint: str | None = None, view_func: Callable | None = None,
                     **options: Any) -> None:
        if view_func is not None:
            view_func = _transactional(view_func)
        endpoint = endpoint or (view_func.__name__ if view_func else None)
        super().add_url_rule(rule, endpoint, view_func, **options)
        # A second rule rather than strict_slashes=False: with that flag werkzeug answers a
        # wrong method on the other spelling with 404 instead of 405.
        twin = rule.rstrip("/") if rule.endswith("/") else rule + "/"
        if twin:
            super().add_url_rule(twin, endpoint, view_func, **options)


bp = ApiBlueprint("api", __name__, url_prefix="/api")


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


def current_api_user():
    """The user the bearer token belongs to (set before every API view)."""
    return g.api_user


# Deeper JSON is refused (400) before anything walks it; real bodies nest a few levels.
MAX_JSON_DEPTH = 64
JSON_MEDIA_TYPES = ("application/json",)


def is_json_media_type(mimetype: str) -> bool:
    return mimetype in JSON_MEDIA_TYPES or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def has_body() -> bool:
    """Whether the request carries a body (announced by its length, or sent chunked)."""
    if request.content_length:
        return True
    return request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def check_media_type() -> None:
    """A body must be JSON (SPEC §8): 415 `unsupported_media_type` otherwise."""
    g.api_body_checked = True
    if has_body() and not is_json_media_type(request.mimetype):
        raise ApiError(415, describe(Invalid("unsupported_media_type")), "Content-Type")


def json_body() -> Any:
    """The request body parsed as JSON; numbers with a fraction become exact Decimals.

    A body that is not sent as JSON is a 415; bad JSON, or JSON nested deeper than
    MAX_JSON_DEPTH, is a 400 naming no field; an oversized body is a 413, whether announced by its
    Content-Length (refused before reading) or sent chunked (refused once the limit is reached).
    """
    check_media_type()
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body (no Content-Length) is cut at the limit by werkzeug without a word; one
        # that reached the limit is too large, not a shorter document.
        raise RequestEntityTooLarge()
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise validation_error(describe(Invalid("too_deep", max=MAX_JSON_DEPTH)))
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation_error(f"The body is not valid JSON: {exc}") from None
    if has_nul(data):
        raise validation_error("Text in the body must not contain NUL characters.")
    return data


def json_depth(raw: bytes) -> int:
    """How deeply the brackets of a JSON text nest (brackets inside strings not counted), found
    without parsing: Python's parser recurses and fails on very deep input."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON, though Python's parser takes them by default."""
    raise ValueError(f"{name} is not a JSON value")


def json_object() -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    data = json_body()
    if not isinstance(data, dict):
        raise validation_error("The body must be a JSON object.")
    return data


def list_response(resource: str, visible: set[int] | None):
    """The paginated answer `{"count", "next", "previous", "results"}` for a list (SPEC §8).

    Lists of derived rows first recompute the lectures they may show that are stale (SPEC §7).
    """
    try:
        plan = queries.plan_list(resource, request.args, visible)
        if plan.spec.derived:
            queries.refresh_stale(visible, plan.lecture_id)
        page = queries.fetch_page(plan)
    except queries.InvalidQuery as exc:
        raise validation_error(str(exc), exc.field) from None
    except queries.PageOutOfRange:
        raise not_found("Invalid page.") from None
    serialize = serializers.SERIALIZERS[resource]
    return jsonify({
        "count": page.count,
        "next": _page_url(page.page + 1) if page.has_next else None,
        "previous": _page_url(page.page - 1) if page.has_previous else None,
        "results": [serialize(row) for row in page.rows],
    })


def detail_response(resource: str, object_id: int, visible: set[int] | None):
    """One object, or 404 when it is missing or outside the caller's lectures."""
    if queries.RESOURCES[resource].derived:
        lecture_id = queries.lecture_of(resource, object_id)
        if lecture_id is None or (visible is not None and lecture_id not in visible):
            raise not_found()
        queries.refresh_stale(visible, lecture_id)
    row = queries.get_row(resource, object_id, visible)
    if row is None:
        raise not_found()
    return jsonify(serializers.SERIALIZERS[resource](row))


def _page_url(page: int) -> str:
    """This list's absolute URL for another page, keeping every other parameter.

    With DASHBOARD_BASE_URL set (SPEC §8) the link starts with it, whatever Host header the
    request came with; unset, with the request's own scheme and host."""
    args = request.args.copy()
    if page > 1:
        args["page"] = str(page)
    else:
        args.pop("page", None)
    query = urlencode(list(args.items(multi=True)))
    base = current_app.config.get("DASHBOARD_BASE_URL")
    url = (base + request.script_root + request.path) if base else request.base_url
    return url + ("?" + query if query else "")


def is_api_request() -> bool:
    """True for paths under /api — the UI's own error pages should defer to api_error_for()."""
    return request.path == "/api" or request.path.startswith("/api/")


def _transactional(view: Callable) -> Callable:
    """Commit once after a successful answer (reads may recompute stale lectures); roll back otherwise.

    A serialization failure or deadlock runs the view again (the body is cached, so it reads
    the same input), a bounded number of times; then TransactionConflict answers 503.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        def answer():
            g.api_body_checked = False
            response = current_app.make_response(view(*args, **kwargs))
            if not g.api_body_checked and request.method in ("POST", "PATCH", "PUT"):
                # The view never read its body: a body it ignored must still be JSON (SPEC §8).
                check_media_type()
            return response

        work = answer
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key is not None:
            work = functools.partial(_answer_once, key.strip(), answer)
        return run_in_transaction(work, should_commit=lambda response: response.status_code < 400)

    return wrapper


def _answer_once(key: str, answer: Callable[[], Any]):
    """Run the POST once per (user, Idempotency-Key); the same key again answers the stored answer."""
    from dashboard.web import idempotency

    def run() -> idempotency.Answer:
        response = answer()
        g.api_fresh_response = response
        return idempotency.Answer(response.status_code, response.get_data(as_text=True), response.content_type)

    g.api_fresh_response = None
    try:
        # Both spellings of a path (with and without the final slash) are one request.
        path = request.path.rstrip("/") or "/"
        stored, replayed = idempotency.answer_once(current_api_user().id, key, request.method, path, run)
    except Refused as exc:
        raise ApiError(exc.status, describe(exc), exc.field, code=exc.kind) from None
    if not replayed:
        return g.api_fresh_response
    response = current_app.response_class(stored.body, status=stored.status, content_type=stored.content_type)
    response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.before_request
def _authenticate():
    limit = LARGE_BODY_ENDPOINTS.get(request.endpoint or "", API_BODY_LIMIT)
    request.max_content_length = limit
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "An API token is required: send 'Authorization: Bearer TOKEN'.")
    # Imported here: accounts is its own module and must not be imported at app import time.
    from dashboard import rate_limit
    from dashboard.accounts.users import token_hash, user_for_token

    rate = rate_limit.parse(current_app.config.get("API_RATE_LIMIT"))
    if rate is not None:
        # Counted before the token is looked up, on a connection of its own: the count stays
        # whatever this request's transaction does, and guessing tokens is counted too.
        wait = rate_limit.hit(token_hash(token.strip()), rate)
        if wait:
            raise ApiError(429, describe(Invalid("rate_limited", seconds=wait)), code="rate_limited",
                           headers={"Retry-After": str(wait)})
    user = user_for_token(token.strip())
    if user is None:
        raise ApiError(401, "The API token is unknown, revoked, or its user is deactivated.")
    g.api_user = user
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


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
    current_app.logger.exception("unexpected error in the API")
    return error_response(500, "An unexpected error occurred.")


@bp.errorhandler(Exception)
def _api_exception(exc: Exception):
    return api_error_for(exc)


# Blueprint handlers per status code too, so that an app-wide handler for one code (an HTML
# 404 page, say) never wins over the API's JSON for errors raised inside an API view.
for _status in (400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503):
    bp.register_error_handler(_status, api_error_for)


def _http_exception_anywhere(exc: HTTPException):
    """Routing errors (404, 405) happen before a blueprint is known; answer JSON for /api paths."""
    if is_api_request():
        return api_error_for(exc)
    return exc


def register_api(app: Flask) -> None:
    """Import the API modules, exempt the blueprint from CSRF and register it."""
    for name in API_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    csrf.exempt(bp)
    app.register_blueprint(bp)
    # Routing errors under /api. An app-wide handler for a single code (404, 405) registered
    # elsewhere would win over this one: such a handler must return api_error_for(exc) when
    # is_api_request().
    app.register_error_handler(HTTPException, _http_exception_anywhere)

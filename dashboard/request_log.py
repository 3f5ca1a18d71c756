"""Structured request logs: one JSON line per request, with its timing.

    {"ts": "2026-04-01T01:02:03.456Z", "event": "request", "method": "POST",
     "path": "/lectures/7/cell/activity", "status": 200, "duration_ms": 41.7,
     "user_id": 12, "request_id": "5b0c…"}

`init_app(app)` registers the timing hooks; it attaches a handler writing to stderr (where
gunicorn's and systemd's logs collect it) only when `REQUEST_LOG` is true, which it is by
default except under TESTING. Without the handler the records still go to the logger
`dashboard.request` at INFO, which the root logger's default WARNING level drops: tests stay
quiet and can still read them with `caplog`.

The request id is the `X-Request-ID` the proxy sent (nginx's `$request_id`), or a new one; the
answer carries it back (and the 500 page shows it) so that a report from a user can be matched
with a log line. The user id is read from what the request already loaded (the API's token user,
Flask-Login's user) without a query: logging must work when the database does not.

Every other record of the app's loggers (`dashboard`, `dashboard.*`: warnings, errors and their
tracebacks) is one JSON object per line as well (python-json-logger), carrying the request id and
user id of the request it was written in:

    {"ts": "...", "level": "ERROR", "logger": "dashboard", "message": "unexpected error on a page",
     "request_id": "5b0c…", "user_id": 12, "exc_info": "Traceback (most recent call last): ..."}
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import inspect

APP_LOGGER_NAME = "dashboard"
LOGGER_NAME = "dashboard.request"
REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from the proxy as a request id: short, and harmless in a log line or a header.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

logger = logging.getLogger(LOGGER_NAME)


class _JsonLineHandler(logging.StreamHandler):
    """The message of each record is already a JSON object: write it alone on its line."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(message)s"))


class RequestContext(logging.Filter):
    """Put the current request's id and user id on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        in_request = has_request_context()
        record.request_id = g.get("request_id") if in_request else None
        record.user_id = _user_id() if in_request else None
        return True


class _JsonRecordHandler(logging.StreamHandler):
    """Each record as one JSON object on its line: time, level, logger, message, request and user."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.addFilter(RequestContext())
        self.setFormatter(JsonFormatter(
            "%(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="ts",  # ISO 8601 in UTC, as the request lines
            json_ensure_ascii=False,
        ))


def _start_timer() -> None:
    # Who acts is found out afresh for each request. (In production every request has its own
    # app context and so its own `g`; a test client reusing the test's context must not report,
    # or act as, the previous request's user.)
    g.pop("api_user", None)
    g.pop("_login_user", None)
    g.request_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def _user_id() -> int | None:
    """The id of the user this request acted for, from objects already loaded (never a query)."""
    user = g.get("api_user") or g.get("_login_user")
    if user is None:
        return None
    state = inspect(user, raiseerr=False)
    # Flask-Login's anonymous user is not a mapped object; an expired User still knows its key.
    if state is None or state.identity is None:
        return None
    return state.identity[0]


def _log_request(response: Response) -> Response:
    started = g.get("request_started")
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers.setdefault(REQUEST_ID_HEADER, request_id)
    if logger.isEnabledFor(logging.INFO):
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        line = {
            "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": "request",
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": None if duration is None else round(duration, 1),
            "user_id": _user_id(),
            "request_id": request_id,
        }
        logger.info(json.dumps(line, ensure_ascii=False))
    return response


def configure(enabled: bool) -> None:
    """Send the request log to stderr as JSON lines (once per process, however many apps)."""
    if not enabled:
        return
    app_logger = logging.getLogger(APP_LOGGER_NAME)
    if not any(isinstance(handler, _JsonRecordHandler) for handler in app_logger.handlers):
        from flask.logging import default_handler

        # Flask's own handler would print the same records again as plain text.
        app_logger.removeHandler(default_handler)
        app_logger.addHandler(_JsonRecordHandler())
    app_logger.propagate = False
    if not any(isinstance(handler, _JsonLineHandler) for handler in logger.handlers):
        logger.addHandler(_JsonLineHandler())
    logger.setLevel(logging.INFO)
    # Our handler writes the line; the root logger (gunicorn's, pytest's) must not print it again.
    logger.propagate = False


def init_app(app: Flask) -> None:
    """Time every request and log it; call early in create_app so the log runs after every other
    after-request hook (Flask runs them in reverse order of registration)."""
    app.before_request(_start_timer)
    app.after_request(_log_request)
    configure(app.config.get("REQUEST_LOG", not app.testing))

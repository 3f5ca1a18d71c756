"""Whether this instance can serve, and what a visitor sees when it cannot.

- `GET /healthz`, for the load balancer and the service manager: one trivial query, so an
  instance whose database is unreachable reports itself down (503) and the proxy can stop
  sending it requests. It needs no login (nothing it answers is private) and is never cached.
- The database unreachable, or a conflict that outlived its retries (dashboard/transactions.py),
  during a page request: a 503 page saying nothing was saved. Under /api the API's own JSON
  answers these (its blueprint handler is found first).
"""
from __future__ import annotations

import contextlib

from flask import Blueprint, Flask, current_app, g, jsonify, render_template
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from dashboard.accounts.access import public
from dashboard.extensions import db, login_manager
from dashboard.transactions import TransactionConflict
from dashboard.web.api import api_error_for, is_api_request

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """200 `{"status": "ok"}` when the database answers `SELECT 1`; 503 `{"status": "unavailable"}` otherwise."""
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError:
        current_app.logger.warning("health check: the database does not answer", exc_info=True)
        with contextlib.suppress(SQLAlchemyError):
            db.session.rollback()
        response = jsonify({"status": "unavailable", "message": "The database does not answer."})
        response.status_code = 503
    else:
        response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable_page(exc: Exception):
    if is_api_request():
        return api_error_for(exc)
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()
    # The page must render without the database: the language choice reads the signed-in user,
    # whose row cannot be loaded (or reloaded after the rollback) now. Show it as to a visitor.
    g._login_user = login_manager.anonymous_user()
    if isinstance(exc, TransactionConflict):
        current_app.logger.error("%s", exc)
        message = _("Other changes to the same data kept conflicting with this one, so nothing was saved. "
                    "Try again in a moment.")
    else:
        current_app.logger.error("database unavailable", exc_info=exc)
        message = _("The database is unavailable, so nothing was saved. Try again in a moment.")
    # Minimal: no navigation, so rendering needs neither the database nor the signed-in user.
    return render_template("errors/error.html", status=503, title=_("Temporarily unavailable"),
                           message=message, minimal=True), 503, {"Retry-After": "5"}


def init_app(app: Flask) -> None:
    """Register /healthz and the 503 page."""
    app.register_blueprint(bp)
    app.register_error_handler(OperationalError, _unavailable_page)
    app.register_error_handler(TransactionConflict, _unavailable_page)

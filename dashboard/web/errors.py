"""Error pages (400, 403, 404, 405, 500) in the dashboard's own look.

A service's `Forbidden` or `NotFound` that a page does not catch becomes the 403 or 404 page.

Paths under /api keep their JSON errors: these handlers hand those to the API's own
`api_error_for`. An htmx request gets the same page; htmx does not swap a 4xx/5xx answer
(docs/ui.md), and static/app.js shows a short notice instead.
"""
from __future__ import annotations

import contextlib

from flask import Flask, current_app, g, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from dashboard.errors import Forbidden, NotFound
from dashboard.web.api import api_error_for, is_api_request


def _page(status: int, title: str, message: str, minimal: bool = False, request_id: str | None = None):
    return render_template("errors/error.html", status=status, title=title, message=message,
                           minimal=minimal, request_id=request_id), status


def _bad_request(exc: HTTPException):
    if is_api_request():
        return api_error_for(exc)
    if isinstance(exc, CSRFError):
        return _page(400, _("The form has expired"),
                     _("This form is no longer valid (its security token expired or is missing). "
                       "Reload the page and try again."))
    return _page(400, _("Bad request"), _("The request could not be understood."))


def _forbidden(exc: HTTPException | Forbidden):
    if is_api_request():
        return api_error_for(exc)
    return _page(403, _("Not allowed"), _("Your account may not do this."))


def _not_found(exc: HTTPException | NotFound):
    if is_api_request():
        return api_error_for(exc)
    return _page(404, _("Not found"), _("There is nothing here, or it is not yours to see."))


def _method_not_allowed(exc: HTTPException):
    if is_api_request():
        return api_error_for(exc)
    return _page(405, _("Not allowed"), _("This address does not accept that kind of request."))


def _server_error(exc: BaseException):
    if is_api_request():
        return api_error_for(exc)
    original = getattr(exc, "original_exception", None) or exc
    if not isinstance(original, HTTPException):
        current_app.logger.error("unexpected error on a page", exc_info=original)
    # With the database gone even the rollback fails; the visitor must still get the page.
    with contextlib.suppress(SQLAlchemyError):
        from dashboard.extensions import db

        db.session.rollback()
    # Minimal: no navigation, so rendering needs neither the database nor the signed-in user.
    return _page(500, _("Something went wrong"),
                 _("The change was not saved. Try again in a moment; if it keeps happening, tell an administrator."),
                 minimal=True, request_id=g.get("request_id"))


def init_app(app: Flask) -> None:
    """Register the page handlers; each defers to the JSON API's errors under /api."""
    app.register_error_handler(400, _bad_request)
    app.register_error_handler(CSRFError, _bad_request)
    app.register_error_handler(403, _forbidden)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(Forbidden, _forbidden)
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(405, _method_not_allowed)
    app.register_error_handler(InternalServerError, _server_error)

"""What every browser page gets: one transaction per request, security headers, htmx helpers
and the navigation's values (docs/ui.md explains how a page or partial plugs in).

- Transaction: a page request (anything outside /api, which has its own boundary) commits once
  after an answer below 400 — reads may have recomputed a stale lecture — and rolls back
  otherwise. Services only flush.
- Headers: a Content-Security-Policy that allows only this site's own scripts and styles (no
  inline script or style anywhere: htmx is configured through `<meta name="htmx-config">`),
  `X-Content-Type-Options: nosniff`, no framing, and `Vary: HX-Request` because a URL answers a
  whole page or a partial depending on that header.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import Flask, Response, request, url_for
from flask_login import current_user
from sqlalchemy import false, func, select
from werkzeug.routing import BuildError

from .. import grid
from ..access import visible_lecture_ids
from ..clock import academy_timezone
from ..extensions import db
from ..models import ClinicLink, Enrollment
from .api import is_api_request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def is_htmx() -> bool:
    """Whether this request was sent by htmx (and so wants a partial, not a whole page)."""
    return request.headers.get("HX-Request") == "true"


def open_clinic_link_count(visible: set[int] | None) -> int:
    """Open clinic links (not resolved) of active enrollments in the lectures a user may see."""
    statement = (
        select(func.count(ClinicLink.id))
        .join(Enrollment, Enrollment.id == ClinicLink.enrollment_id)
        .where(ClinicLink.resolved_at.is_(None), Enrollment.withdrawn_at.is_(None))
    )
    if visible is not None:
        statement = statement.where(Enrollment.lecture_id.in_(sorted(visible)) if visible else false())
    return db.session.execute(statement).scalar_one()


def nav_clinic_count() -> int | None:
    """The navigation's open-link count for the signed-in user (None when nobody is signed in)."""
    if not current_user.is_authenticated:
        return None
    return open_clinic_link_count(visible_lecture_ids(current_user))


def nav_url(endpoint: str, **values) -> str | None:
    """url_for, or None while the page behind a navigation entry is not built yet."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def plain_number(value) -> str:
    """A score as people write it: 72.50 -> '72.5', 100.00 -> '100' (None -> '')."""
    if value is None:
        return ""
    return format(Decimal(str(value)).normalize(), "f")


def academy_time(value: datetime | None) -> str:
    """An aware timestamp in the academy's timezone, to the minute ('' for None)."""
    if value is None:
        return ""
    return value.astimezone(academy_timezone()).strftime("%Y-%m-%d %H:%M")


def _commit_or_roll_back(response: Response) -> Response:
    if is_api_request():
        return response
    if response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    return response


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not is_api_request():
        response.vary.add("HX-Request")
    return response


def init_app(app: Flask) -> None:
    """Register the page transaction, the headers and the template helpers."""
    app.after_request(_security_headers)
    app.after_request(_commit_or_roll_back)
    app.jinja_env.globals.update(nav_url=nav_url, nav_clinic_count=nav_clinic_count, is_htmx=is_htmx,
                                 status_icon=grid.status_icon, status_word=grid.status_word)
    app.jinja_env.filters.update(plain=plain_number, academy_time=academy_time)

"""What every browser page gets: one transaction per request, security headers, htmx helpers
and the navigation's values (docs/ui.md explains how a page or partial plugs in).

- Transaction: a page request (anything outside /api, which has its own boundary) commits once
  after an answer below 400 — reads may have recomputed a stale lecture — and rolls back
  otherwise. Services only flush. A serialization failure or deadlock runs the view again, a
  bounded number of times, then answers 503 (dashboard/transactions.py; the 503 page is
  dashboard/web/health.py's). `wrap_page_views(app)` applies this to every page view and runs
  last in create_app.
- Headers: a Content-Security-Policy that allows only this site's own scripts and styles (no
  inline script or style anywhere: htmx is configured through `<meta name="htmx-config">`),
  `X-Content-Type-Options: nosniff`, no framing, and `Vary: HX-Request` because a URL answers a
  whole page or a partial depending on that header; `Cache-Control: no-store` on everything
  served to a signed-in person or through the API; HSTS in production.
"""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Callable

from flask import Flask, Response, current_app, g, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import false, func, select

from dashboard.lectures import grid
from dashboard.accounts.access import visible_lecture_ids
from dashboard.clock import academy_timezone
from dashboard.extensions import db
from dashboard.models import ClinicLink, Enrollment
from dashboard.text.plain_numbers import plain_number
from dashboard.transactions import run_in_transaction
from dashboard.web.api import is_api_request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def is_htmx() -> bool:
    """Whether this request was sent by htmx (and so wants a partial, not a whole page)."""
    return request.headers.get("HX-Request") == "true"


def back_within(base: str, text: str | None) -> str:
    """Where a plain form goes back to: its `next` (`text`) when that is a page under `base` of
    this site, else `base` itself, so a posted address can never lead to another site."""
    if text and text.startswith(base) and "//" not in text and "\\" not in text:
        return text
    return base


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


def csrf_input() -> Markup:
    """The hidden CSRF field every plain form posts (htmx sends the same token as a header)."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())




def academy_time(value: datetime | None) -> str:
    """An aware timestamp in the academy's timezone, to the minute ('' for None)."""
    if value is None:
        return ""
    return value.astimezone(academy_timezone()).strftime("%Y-%m-%d %H:%M")


def _page_transaction(view: Callable) -> Callable:
    """The view, its commit (answer below 400) or rollback, retried on a serialization failure or deadlock."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        cookie = dict(session)

        def forget_the_failed_attempt() -> None:
            # What the failed attempt put in the session cookie (a flash message) goes with it.
            session.clear()
            session.update(cookie)

        return run_in_transaction(lambda: current_app.make_response(view(*args, **kwargs)),
                                  should_commit=lambda response: response.status_code < 400,
                                  before_retry=forget_the_failed_attempt)

    return wrapper


def wrap_page_views(app: Flask) -> None:
    """Give every page view registered so far its transaction (the API's views have their own)."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static" and not endpoint.startswith("api."):
            app.view_functions[endpoint] = _page_transaction(view)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("DASHBOARD_ENV") == "production":
        # Browsers reach the academy only over HTTPS from the first visit on (nginx terminates TLS).
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint != "static" and (is_api_request() or _signed_in()):
        # A student's scores must not stay in a shared computer's cache or a proxy after sign-out;
        # this covers every authenticated page, partial, CSV export and API answer.
        headers["Cache-Control"] = "no-store"
    if not is_api_request():
        response.vary.add("HX-Request")
    return response


HSTS = "max-age=31536000; includeSubDomains"


def _signed_in() -> bool:
    """Whether this request was served to a signed-in person (the user is already loaded by then)."""
    user = g.get("_login_user")
    return bool(user is not None and user.is_authenticated)


def init_app(app: Flask) -> None:
    """Register the headers and the template helpers (the page transaction: wrap_page_views)."""
    app.after_request(_security_headers)
    from dashboard.web.admin_forms import policy_word

    app.jinja_env.globals.update(policy_word=policy_word, csrf_input=csrf_input, nav_clinic_count=nav_clinic_count, is_htmx=is_htmx,
                                 status_icon=grid.status_icon, status_word=grid.status_word,
                                 presence_word=grid.presence_word)
    app.jinja_env.filters.update(plain=plain_number, academy_time=academy_time)

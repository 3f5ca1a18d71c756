"""The `api` blueprint: what every route under /api gets without doing anything.

- both spellings of a path (with and without the final slash) for every method, no redirect;
- the caller authenticated before any view runs (dashboard.web.api.auth), and the body limit set
  (dashboard.web.api.bodies);
- one transaction per request: a 2xx/3xx answer commits once, anything else rolls back; a
  serialization failure or deadlock reruns the view a bounded number of times, then answers 503
  (dashboard/transactions.py);
- a POST with `Idempotency-Key` answers its first answer again (dashboard/web/idempotency.py);
- JSON errors for everything that can go wrong (dashboard.web.api.errors).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from flask import Blueprint, current_app, g, request

from dashboard.errors import Refused, describe
from dashboard.transactions import run_in_transaction
from dashboard.web.api import auth, bodies
from dashboard.web.api.errors import HANDLED_STATUSES, ApiError, api_error_for


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


@bp.before_request
def _before_every_view():
    limit = bodies.body_limit()
    auth.authenticate()
    # After the token: an anonymous caller learns 401, not the size of what it may send.
    bodies.refuse_announced_oversize(limit)


bp.register_error_handler(Exception, api_error_for)
# Per status code too: an app-wide handler for one code would otherwise win inside API views.
for _status in HANDLED_STATUSES:
    bp.register_error_handler(_status, api_error_for)


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
                bodies.check_media_type()
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
        stored, replayed = idempotency.answer_once(auth.current_api_user().id, key, request.method, path, run)
    except Refused as exc:
        raise ApiError(exc.status, describe(exc), exc.field, code=exc.kind) from None
    if not replayed:
        return g.api_fresh_response
    response = current_app.response_class(stored.body, status=stored.status, content_type=stored.content_type)
    response.headers["Idempotent-Replayed"] = "true"
    return response

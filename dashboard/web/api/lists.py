"""Answers for lists and single objects (SPEC §8): `{"count", "next", "previous", "results"}` with
absolute page links that keep every other parameter, and 404 for an object outside the caller's
lectures. The lists themselves (filters, search, ordering, paging) run in dashboard.listing."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, jsonify, request

from dashboard import listing as queries
from dashboard.web.api import resources
from dashboard.web.api.errors import not_found


def list_response(resource: str, visible: set[int] | None):
    """The paginated answer for a list resource of dashboard.listing.

    Lists of derived rows first recompute the lectures they may show that are stale (SPEC §7).
    """
    plan = queries.plan_list(resource, request.args, visible)
    if plan.spec.derived:
        queries.refresh_stale(visible, plan.lecture_id)
    page = queries.fetch_page(plan)
    return jsonify(page_of(page, resources.LISTED[resource].dump))


def page_of(page, dump) -> dict:
    """A page of a list as the API answers it, each row turned into its object by `dump`."""
    return {
        "count": page.count,
        "next": page_url(page.page + 1) if page.has_next else None,
        "previous": page_url(page.page - 1) if page.has_previous else None,
        "results": [dump(row) for row in page.rows],
    }


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
    return jsonify(resources.LISTED[resource].dump(row))


def page_url(page: int) -> str:
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

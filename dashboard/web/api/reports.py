"""Parent links to monthly reports through the JSON API (SPEC §15).

`POST /api/reports/ENROLLMENT/links/` `{"days": 14, "month": "YYYY-MM"}` (both optional; the
month defaults to the academy's current one) answers 201 `{"id", "url", "expires_at"}`: the
absolute address (dashboard/web/urls.absolute_url) and the real clock's now + days in the
academy's offset. `POST /api/report-links/ID/revoke/` revokes one (again: 200, nothing changes).
Roles (checked before the body): admins and the lecture's teacher; other roles 403, an
enrollment or link outside the caller's lectures 404.
"""
from __future__ import annotations

from flask import request

from dashboard.clock import academy_today
from dashboard.reports import links
from dashboard.reports.access import writable_enrollment
from dashboard.reports.figures import Month
from dashboard.web.api import bp, current_api_user, json_object
from dashboard.web.api.resources import REPORT_LINK, REPORT_LINK_CREATE, REPORT_LINK_CREATED, NewLinkRow
from dashboard.web.urls import absolute_url


@bp.post("/reports/<int:enrollment_id>/links/")
def create_report_link(enrollment_id: int):
    """A new parent link to the enrollment's report for a month."""
    user = current_api_user()
    writable_enrollment(user, enrollment_id)
    data = REPORT_LINK_CREATE.check(json_object() if request.get_data() else {})
    month = Month.parse(data["month"]) if data.get("month") is not None else Month.of(academy_today())
    days = links.parse_days(data.get("days"))
    created = links.create_link(user, enrollment_id, month, days)
    url = absolute_url("reports.shared", token=created.token)
    return REPORT_LINK_CREATED.dump(NewLinkRow(created.link, url)), 201


@bp.post("/report-links/<int:report_link_id>/revoke/")
def revoke_report_link(report_link_id: int):
    """Revoke a parent link: it answers 404 from now on."""
    link = links.revoke_link(current_api_user(), report_link_id)
    return REPORT_LINK.dump((link,))

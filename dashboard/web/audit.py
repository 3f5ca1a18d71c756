"""The Audit page (admins): who changed what and when, filtered by person, lecture, kind and
dates; what it shows is read by `dashboard.accounts.audit_trail`. An htmx filter gets
`_trail.html` alone."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from dashboard.accounts import audit_trail
from dashboard.accounts.access import role_required
from dashboard.web.ui import is_htmx

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@role_required("admin")
def index():
    """The trail, newest first."""
    filters = audit_trail.AuditFilters.from_args(request.args)
    lectures = audit_trail.load_lectures()
    trail = audit_trail.load_trail(filters, lectures)
    if filters.page > 1 and not trail.rows:
        abort(404)
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("audit/_trail.html", trail=trail)
    return render_template("audit/index.html", trail=trail, lectures=lectures, kinds=audit_trail.KINDS,
                           usernames=audit_trail.usernames())

"""The Risk page: the risk log as a filterable history (lecture, level, rule, student search).

Everyone signed in reads it, scoped to the lectures they may see (a teacher: their own). What it
shows is read by `dashboard.progress.risk_history`: the API's list of risk logs (the same filters, the
same search over student name and reason, newest first, withdrawn enrollments hidden), with the
lectures' and sessions' names looked up once per page; a page past the end is 404. Each student
links to the grid's student page when that page exists. An htmx filter or search gets
`_history.html` alone.
"""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from dashboard.accounts.access import role_required, visible_lecture_ids
from dashboard.models import RISK_RULES
from dashboard.errors import NotFound
from dashboard.progress.risk_history import LEVELS, RiskFilters, load_history, load_lectures
from dashboard.web.ui import is_htmx

bp = Blueprint("risk", __name__, url_prefix="/risk")


@bp.get("/")
@role_required("admin", "staff", "teacher")
def index():
    """The risk history; an htmx filter, search or page change gets `_history.html`."""
    filters = RiskFilters.from_args(request.args)
    visible = visible_lecture_ids(current_user)
    lectures = load_lectures(visible)
    try:
        history = load_history(filters, lectures, visible)
    except NotFound:
        abort(404)
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("risk/_history.html", history=history)
    return render_template("risk/index.html", history=history, lectures=lectures, levels=LEVELS, rules=RISK_RULES)

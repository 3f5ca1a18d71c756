"""The clinic to-do list by student: the open queue grouped by enrollment (dashboard.clinic.todo),
filters in the URL, and bulk approve / resolve / reopen of the selected links in one request
and one transaction (dashboard.clinic.bulk). Booking the selected links posts to the clinic
calendar's booking endpoint (dashboard.web.clinic_sessions.book_selected).

A teacher sees their lectures' students and no action buttons (SPEC §6). After a write the page
reloads (PRG, or `HX-Redirect` for htmx) so every count on it and in the navigation agrees.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dashboard.accounts.access import role_required, visible_lecture_ids
from dashboard.clinic import bulk
from dashboard.clinic.todo import (
    TodoFilters,
    lecture_choices,
    load_student_links,
    load_todo,
    open_link_ids,
    teacher_choices,
)
from dashboard.errors import Forbidden, NotFound, Refused, describe
from dashboard.extensions import db
from dashboard.web.admin_forms import REASON_LABELS
from dashboard.web.ui import back_within, is_htmx
from dashboard.web.idempotency import one_time

bp = Blueprint("clinic_todo", __name__, url_prefix="/clinic/students")


@bp.get("/")
@role_required("admin", "staff", "teacher")
def index():
    """One row per student with open clinic links; `_todo.html` alone for an htmx filter."""
    filters = TodoFilters.from_args(request.args)
    visible = visible_lecture_ids(current_user)
    context = dict(todo=load_todo(filters, visible), can_act=current_user.role in bulk.ACTION_ROLES,
                   back=url_for(".index", **filters.args()))
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("clinic/_todo.html", **context)
    return render_template("clinic/todo.html", lectures=lecture_choices(visible), reasons=REASON_LABELS,
                           teachers=teacher_choices() if current_user.role != "teacher" else [], **context)


@bp.get("/<int:enrollment_id>/links")
@role_required("admin", "staff", "teacher")
def student_links(enrollment_id: int):
    """A student's open links, the rows shown when their row is opened (htmx); without JavaScript
    the list itself with that student opened."""
    if not is_htmx():
        return redirect(url_for(".index", open=enrollment_id, _anchor=f"student-{enrollment_id}"))
    found = load_student_links(enrollment_id, visible_lecture_ids(current_user))
    if found is None:
        abort(404)
    name, links = found
    back = _back(request.args.get("next"))
    return render_template("clinic/_todo_links.html", student_name=name, links=links, back=back,
                           can_act=current_user.role in bulk.ACTION_ROLES)


def _back(text: str | None) -> str:
    """Where an action returns to: a page of the list (with its filters), nothing else."""
    return back_within(url_for(".index"), text)


@bp.post("/bulk")
@role_required("admin", "staff", "teacher")
@one_time
def bulk_action():
    """Approve, resolve or reopen the selected links (or the one link a row's button names)."""
    single = request.form.get("single", "")
    if single:
        action, _sep, link_text = single.partition(":")
        link_ids = [int(link_text)] if link_text.isdigit() and len(link_text) < 10 else []
    else:
        action = request.form.get("action", "")
        link_ids = selected_link_ids()
    try:
        result = bulk.bulk_act(current_user, action, link_ids)
    except (Forbidden, NotFound) as error:
        abort(error.status)
    except Refused as error:
        db.session.rollback()
        flash(_("Select the clinic links first.") if error.field == "link_ids" else describe(error), "error")
    else:
        words = {"approve": _("Approved %(n)s of %(selected)s links."),
                 "resolve": _("Resolved %(n)s of %(selected)s links."),
                 "reopen": _("Reopened %(n)s of %(selected)s links.")}
        flash(words[action] % {"n": result.changed, "selected": result.selected}, "success")
    url = _back(request.form.get("next"))
    if is_htmx():
        return "", 200, {"HX-Redirect": url}
    return redirect(url, 303)


def _ids(name: str) -> list[int]:
    return [int(value) for value in request.form.getlist(name) if value.isdigit() and len(value) < 10]


def selected_link_ids(unbooked: bool = False) -> list[int]:
    """The links the list's form selects: each checked link, and every open link of each checked
    student (only those in no booking when booking them)."""
    students = open_link_ids(_ids("enrollment_ids"), visible_lecture_ids(current_user), unbooked)
    return sorted(set(_ids("link_ids")) | set(students))

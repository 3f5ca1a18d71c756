"""The lecture pages: the grid (with sort, filter and active search), a cell's detail and its
edit forms, the grid's CSV export and a student's page.

Roles: a teacher sees only the lectures assigned to them (404 for any other), staff see every
lecture read-only (no edit forms; a write answers 403), admins see and edit everything.

htmx: a request with `HX-Request` gets the partial the full page includes (`_grid.html`,
`_cell_detail.html`; the grid's later pages get `_grid_rows.html`); a save answers the
re-rendered detail plus out-of-band swaps of the student's grid row, the grid's footer and the
navigation's clinic count. A form with errors answers 422 (htmx is configured to swap it, see
base.html), and nothing is saved. Without JavaScript every link and
form still works: a save redirects back to the cell's page.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from dashboard.lectures import grid, cells as inputs, student as student_page
from dashboard.accounts.access import can_edit_inputs, can_read_lecture
from dashboard.clock import academy_timezone
from dashboard.extensions import db
from dashboard.models import MAX_ID
from dashboard.web import forms
from dashboard.web.ui import is_htmx
from dashboard.parents import read as parents_read
from dashboard.text.spreadsheet import csv_bytes

bp = Blueprint("lectures", __name__, url_prefix="/lectures")


# ---------------------------------------------------------------- helpers

# Ids are INTEGER columns: a larger number names nothing, and must not reach the database
# (PostgreSQL refuses it with an error, SQLite's driver overflows).


def _id_or_404(value: int) -> int:
    if not 0 < value <= MAX_ID:
        abort(404)
    return value


def _readable_lecture(lecture_id: int) -> str:
    """The lecture's title; 404 when it does not exist or the user may not see it."""
    title = grid.lecture_title(_id_or_404(lecture_id))
    if title is None or not can_read_lecture(current_user, lecture_id):
        abort(404)
    return title


def _arg_int(name: str) -> int:
    value = request.args.get(name, "")
    if not value.isascii() or not value.isdigit():
        abort(404)
    return _id_or_404(int(value))


def _grid_words(lecture_id: int) -> dict[str, Any]:
    """What every row of the grid prints, translated once per render: a gettext call costs ~40 µs
    and a 300-row grid would otherwise make thousands of them (docs/performance.md)."""
    status = {key: str(label) for key, label in grid.STATUS_LABELS.items()}
    return {
        "icons": grid.STATUS_ICONS,
        "words": {
            "status": status,
            "risk": {"NORMAL": _("Normal"), "WARNING": _("Warning"), "DANGER": _("Danger"),
                     "count": _("consecutive failed sessions")},
            "completed_held": _("completed / held"),
            "failed": _("failed (due and not completed)"),
            "withdrawn": _("withdrawn"),
            "entry": _("Roll call"),
            # The entry page's URL without its session part; each column header appends its session id.
            "entry_url": url_for("entry.column", lecture_id=lecture_id, session_id=0)[:-len("0/entry")],
            # A cell's link; each cell appends its enrollment and session.
            "cell_href": url_for(".cell", lecture_id=lecture_id),
            # The student page's URL without its last part; each row appends its enrollment id.
            "student_url": url_for(".student", lecture_id=lecture_id, enrollment_id=0)[:-1],
        },
    }


@bp.app_template_global()
def grid_cells(row: grid.GridRow, cell_href: str, words: dict[str, str]) -> Markup:
    """The cells of one grid row as HTML.

    Written in Python rather than as a Jinja loop: a 300 x 40 grid has 12 000 cells and the
    per-expression cost of a template loop alone took the render past its 150 ms budget
    (docs/performance.md). Lean on purpose, since the cells are nearly all of the page's bytes: the
    status is the cell's `data-status`, its icon and colours come from app.css, and the status word
    is there once, for screen readers (`<i>`, visually hidden by app.css). Every value is escaped: the ids are integers, the status comes from a fixed
    set, the words and marks are escaped once.
    """
    head = f'<td data-enrollment="{row.enrollment_id}" data-session="'
    link = f'<a href="{escape(cell_href)}?enrollment={row.enrollment_id}&amp;session='
    tails = {status: f'<i>{escape(words[status])}</i></a></td>' for status in grid.STATUSES}
    presence = {session_id: _presence_mark(word) for session_id, word in row.presence.items()}
    parts = []
    for session_id, status, missing in row.cells:
        marks = f"<small>{escape(missing)}</small>" if missing else ""
        roll = presence.get(session_id, "")
        parts.append(f'{head}{session_id}" data-status="{status}">{link}{session_id}">{marks}{roll}{tails[status]}')
    return Markup("".join(parts))


def _presence_mark(word: str) -> str:
    """The roll call in a grid cell: its first letter for the eye, the whole word for screen readers."""
    label = escape(grid.presence_word(word))
    return (f'<span class="presence presence-{word}" data-presence="{word}" aria-hidden="true">{label[:1]}</span>'
            f'<span class="vh">{label}</span>')


def _local_input(value) -> str:
    """An aware datetime as a datetime-local input's value in the academy's timezone."""
    return value.astimezone(academy_timezone()).strftime("%Y-%m-%dT%H:%M") if value else ""


# ---------------------------------------------------------------- grid

@bp.get("/<int:lecture_id>/")
def lecture_grid(lecture_id: int):
    """The grid: students by sessions, the first page of rows with the sessions' footer; the next
    pages come as the teacher scrolls (`from=N`: htmx gets those rows alone, `_grid_rows.html`).
    An htmx search, filter or sort gets `_grid.html` alone."""
    _readable_lecture(lecture_id)
    query = grid.GridQuery.from_args(request.args)
    data = grid.load_grid(lecture_id, query, limit=grid.page_size(query.start))
    context = dict(grid=data, query=query, **_grid_words(lecture_id))
    restoring = request.headers.get("HX-History-Restore-Request")
    if is_htmx() and query.start and not restoring:
        return render_template("lectures/_grid_rows.html", **context)
    data.footer = grid.load_footer(lecture_id)
    if is_htmx() and not restoring:
        return render_template("lectures/_grid.html", **context)
    return render_template("lectures/grid.html", **context)


@bp.get("/<int:lecture_id>/grid.csv")
def grid_csv(lecture_id: int):
    """The grid as CSV (UTF-8 with BOM so Excel reads Korean names), with the page's filters and
    sort: every matching student, whatever page the screen had reached."""
    _readable_lecture(lecture_id)
    query = replace(grid.GridQuery.from_args(request.args), start=0)
    data = grid.load_grid(lecture_id, query)
    header = ([_("Student"), _("Risk"), _("Consecutive"), _("Completed"), _("Failed"), _("Held")]
              + [f"{s.order} {s.title or ''}".strip() for s in data.sessions])
    rows = [[row.name, row.risk_level, row.risk_count, row.completed, row.failed, row.held]
            + [status for _sid, status, _missing in row.cells] for row in data.rows]
    filename = f"lecture-{lecture_id}-grid.csv"
    return Response(csv_bytes([header, *rows]), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---------------------------------------------------------------- cell detail

def _cell_or_404(lecture_id: int) -> grid.CellDetail:
    _readable_lecture(lecture_id)
    detail = grid.load_cell(lecture_id, _arg_int("enrollment"), _arg_int("session"))
    if detail is None:
        abort(404)
    return detail


def _default_forms(detail: grid.CellDetail) -> dict[Any, Any]:
    """Unbound forms holding the stored values (formdata=None: a POST must not fill the others)."""
    built: dict[Any, Any] = {
        "activity": forms.ActivityForm(formdata=None, prefix="activity",
                                       data={"attendance": detail.attendance, "video_rate": str(detail.video_rate),
                                             "presence": detail.presence or ""}),
    }
    for homework in detail.homeworks:
        built[("homework", homework.id)] = forms.HomeworkSubmissionForm(
            formdata=None, prefix=f"hw{homework.id}", max_score=homework.max_score,
            data={"submitted": homework.submitted, "approved": homework.approved,
                  "score": "" if homework.score is None else _plain(homework.score)})
    for exam in detail.exams:
        built[("new_attempt", exam.id)] = forms.AttemptForm(formdata=None, prefix=f"exam{exam.id}",
                                                            max_score=exam.max_score)
        for attempt in exam.attempts:
            built[("attempt", attempt.id)] = forms.AttemptForm(
                formdata=None, prefix=f"attempt{attempt.id}", max_score=exam.max_score,
                data={"score": _plain(attempt.score), "submitted_at": _local_input(attempt.submitted_at)})
            built[("delete", attempt.id)] = forms.ConfirmForm(formdata=None, prefix=f"delete{attempt.id}")
    return built


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _render_cell(detail: grid.CellDetail, bound: dict[Any, Any] | None = None, status: int = 200,
                 saved: bool = False, oob: bool = False):
    editable = can_edit_inputs(current_user, detail.lecture_id) and not detail.withdrawn
    cell_forms = _default_forms(detail) if editable else {}
    cell_forms.update(bound or {})
    context = dict(detail=detail, forms=cell_forms, editable=editable, saved=saved,
                   guardians=parents_read.guardians_of_enrollment(detail.enrollment_id))
    if is_htmx():
        if oob:
            row = grid.load_grid(detail.lecture_id, enrollment_id=detail.enrollment_id)
            row.footer = grid.load_footer(detail.lecture_id)
            context.update(row=row.rows[0], grid=row, **_grid_words(detail.lecture_id))
        return render_template("lectures/_cell_update.html" if oob else "lectures/_cell_detail.html",
                               **context), status
    return render_template("lectures/cell.html", **context), status


@bp.get("/<int:lecture_id>/cell")
def cell(lecture_id: int):
    """A cell's detail: the drawer's content for htmx, a page of its own otherwise."""
    return _render_cell(_cell_or_404(lecture_id))


@bp.get("/<int:lecture_id>/cell/closed")
def cell_closed(lecture_id: int):
    """The drawer's close button: an empty answer empties the drawer."""
    _readable_lecture(lecture_id)
    if not is_htmx():
        return redirect(url_for(".lecture_grid", lecture_id=lecture_id))
    return ""


def _editable_cell(lecture_id: int) -> grid.CellDetail:
    detail = _cell_or_404(lecture_id)
    if not can_edit_inputs(current_user, lecture_id):
        abort(403)
    return detail


def _saved(detail: grid.CellDetail):
    """After a save: the fresh detail with the row and clinic count out of band (htmx), or a redirect."""
    # The change is complete: commit it before rendering, so the lecture's lock (which every other
    # edit of this lecture waits for) is held for the write and the recompute only. The page
    # boundary's own commit then has nothing left to do; a conflict here is retried by it as usual.
    db.session.commit()
    if not is_htmx():
        flash(_("Saved."), "success")
        return redirect(url_for(".cell", lecture_id=detail.lecture_id, enrollment=detail.enrollment_id,
                                session=detail.session_id))
    fresh = grid.load_cell(detail.lecture_id, detail.enrollment_id, detail.session_id)
    return _render_cell(fresh, saved=True, oob=True)


def _refused(detail: grid.CellDetail, key: Any, form, refused: inputs.InputError):
    """Put the service's complaint on the field it names (or on the form) and answer 422."""
    target = getattr(form, refused.field, None) if refused.field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = list(target.errors) + [refused.message]
    else:
        form.form_errors.append(refused.message)
    return _render_cell(detail, {key: form}, status=422)


def _service_errors(call):
    """Run a service call, turning its not-found and forbidden refusals into 404 and 403."""
    try:
        return call()
    except inputs.InputNotFound:
        abort(404)
    except inputs.InputForbidden:
        abort(403)


@bp.post("/<int:lecture_id>/cell/activity")
def save_activity(lecture_id: int):
    detail = _editable_cell(lecture_id)
    form = forms.ActivityForm(prefix="activity")
    if not form.validate_on_submit():
        return _render_cell(detail, {"activity": form}, status=422)
    # Only what the person changed is handed on, so that picking "late" alone sets offline, and
    # switching attendance alone clears a roll call that contradicts it (SPEC §12).
    changed: dict[str, Any] = {}
    if form.presence.raw_data and form.presence.parsed != detail.presence:
        changed["presence"] = form.presence.parsed
    if form.attendance.parsed != detail.attendance:
        changed["attendance"] = form.attendance.parsed
    try:
        _service_errors(lambda: inputs.set_activity(
            current_user, detail.enrollment_id, detail.session_id, video_rate=form.video_rate.parsed, **changed))
    except inputs.InputError as refused:
        return _refused(detail, "activity", form, refused)
    return _saved(detail)


@bp.post("/<int:lecture_id>/cell/homework/<int:homework_id>")
def save_homework(lecture_id: int, homework_id: int):
    detail = _editable_cell(lecture_id)
    homework = next((h for h in detail.homeworks if h.id == homework_id), None)
    if homework is None:
        abort(404)
    key = ("homework", homework_id)
    form = forms.HomeworkSubmissionForm(prefix=f"hw{homework_id}", max_score=homework.max_score)
    if not form.validate_on_submit():
        return _render_cell(detail, {key: form}, status=422)
    try:
        _service_errors(lambda: inputs.set_homework_submission(
            current_user, detail.enrollment_id, homework_id, submitted=form.submitted.data,
            score=form.score.parsed, approved=form.approved.data))
    except inputs.InputError as refused:
        return _refused(detail, key, form, refused)
    return _saved(detail)


@bp.post("/<int:lecture_id>/cell/exams/<int:exam_id>/attempts")
def add_attempt(lecture_id: int, exam_id: int):
    detail = _editable_cell(lecture_id)
    exam = next((e for e in detail.exams if e.id == exam_id), None)
    if exam is None:
        abort(404)
    key = ("new_attempt", exam_id)
    form = forms.AttemptForm(prefix=f"exam{exam_id}", max_score=exam.max_score)
    if not form.validate_on_submit():
        return _render_cell(detail, {key: form}, status=422)
    try:
        _service_errors(lambda: inputs.add_attempt(
            current_user, detail.enrollment_id, exam_id, score=form.score.parsed,
            submitted_at=form.submitted_at.parsed))
    except inputs.InputError as refused:
        return _refused(detail, key, form, refused)
    return _saved(detail)


def _attempt_of(detail: grid.CellDetail, attempt_id: int):
    for exam in detail.exams:
        for attempt in exam.attempts:
            if attempt.id == attempt_id:
                return exam, attempt
    abort(404)


@bp.post("/<int:lecture_id>/cell/attempts/<int:attempt_id>")
def edit_attempt(lecture_id: int, attempt_id: int):
    detail = _editable_cell(lecture_id)
    exam, _attempt = _attempt_of(detail, attempt_id)
    key = ("attempt", attempt_id)
    form = forms.AttemptForm(prefix=f"attempt{attempt_id}", max_score=exam.max_score)
    if not form.validate_on_submit():
        return _render_cell(detail, {key: form}, status=422)
    try:
        _service_errors(lambda: inputs.edit_attempt(
            current_user, attempt_id, score=form.score.parsed, submitted_at=form.submitted_at.parsed))
    except inputs.InputError as refused:
        return _refused(detail, key, form, refused)
    return _saved(detail)


@bp.post("/<int:lecture_id>/cell/attempts/<int:attempt_id>/delete")
def delete_attempt(lecture_id: int, attempt_id: int):
    detail = _editable_cell(lecture_id)
    _attempt_of(detail, attempt_id)
    key = ("delete", attempt_id)
    form = forms.ConfirmForm(prefix=f"delete{attempt_id}")
    if not form.validate_on_submit():
        return _render_cell(detail, {key: form}, status=422)
    try:
        _service_errors(lambda: inputs.delete_attempt(current_user, attempt_id))
    except inputs.InputError as refused:
        return _refused(detail, key, form, refused)
    return _saved(detail)


# ---------------------------------------------------------------- student page

@bp.get("/<int:lecture_id>/students/<int:enrollment_id>")
def student(lecture_id: int, enrollment_id: int):
    """A student's timeline across the lecture's sessions, risk history and clinic links."""
    _readable_lecture(lecture_id)
    page = student_page.load_student(lecture_id, _id_or_404(enrollment_id))
    if page is None:
        abort(404)
    return render_template("lectures/student.html", page=page,
                           parents=parents_read.student_parents(current_user, lecture_id, page.enrollment_id))

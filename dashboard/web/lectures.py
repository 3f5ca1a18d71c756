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
from typing import Any, Callable, Iterable

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from dashboard.academy import exam_analysis
from dashboard.lectures import exports, grid, cells as inputs, student as student_page
from dashboard.accounts.access import can_edit_inputs, can_read_lecture
from dashboard.clock import academy_timezone
from dashboard.errors import Conflict, Forbidden, Invalid, NotFound, describe
from dashboard.extensions import db
from dashboard.models import MAX_ID
from dashboard.text.plain_numbers import plain_number
from dashboard.web import forms
from dashboard.web.ui import is_htmx
from dashboard.parents import read as parents_read
from dashboard.text import spreadsheet

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


def _download(rows: list[list[Any]], name: str, extension: str) -> Response:
    """Rows as a CSV (UTF-8 with BOM so Excel reads Korean names) or an Excel workbook, both guarded
    against formulas (dashboard/text/spreadsheet.py)."""
    body, mimetype, filename = spreadsheet.download(rows, name, extension)
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/<int:lecture_id>/grid.csv", defaults={"extension": "csv"})
@bp.get("/<int:lecture_id>/grid.xlsx", defaults={"extension": "xlsx"})
def grid_csv(lecture_id: int, extension: str):
    """The grid's statuses as CSV or .xlsx, with the page's filters and sort: every matching
    student, whatever page the screen had reached."""
    _readable_lecture(lecture_id)
    query = replace(grid.GridQuery.from_args(request.args), start=0, after=None)
    data = grid.load_grid(lecture_id, query)
    header = ([_("Student"), _("Risk"), _("Consecutive"), _("Completed"), _("Failed"), _("Held")]
              + [f"{s.order} {s.title or ''}".strip() for s in data.sessions])
    rows = [[row.name, row.risk_level, row.risk_count, row.completed, row.failed, row.held]
            + [status for _sid, status, _missing in row.cells] for row in data.rows]
    return _download([header, *rows], f"lecture-{lecture_id}-grid", extension)


@bp.get("/<int:lecture_id>/scores.csv", defaults={"extension": "csv"})
@bp.get("/<int:lecture_id>/scores.xlsx", defaults={"extension": "xlsx"})
def scores_export(lecture_id: int, extension: str):
    """What was entered for each student of the lecture, session by session: presence, video, exam
    scores, homework (one session's alone: the entry page's export)."""
    _readable_lecture(lecture_id)
    return _download(exports.scores_table(lecture_id), f"lecture-{lecture_id}-scores", extension)


# ---------------------------------------------------------------- cell detail

def _cell_or_404(lecture_id: int) -> grid.CellDetail:
    _readable_lecture(lecture_id)
    detail = grid.load_cell(lecture_id, _arg_int("enrollment"), _arg_int("session"))
    if detail is None:
        abort(404)
    return detail


def _default_forms(detail: grid.CellDetail) -> dict[Any, Any]:
    """Unbound forms holding the stored values and their version (formdata=None: a POST must not
    fill the others)."""
    version = inputs.input_version
    built: dict[Any, Any] = {
        "activity": forms.ActivityForm(formdata=None, prefix="activity",
                                       data={"attendance": detail.attendance, "video_rate": str(detail.video_rate),
                                             "presence": detail.presence or "",
                                             "version": version(inputs.activity_state(
                                                 detail.attendance, detail.video_rate, detail.presence))}),
    }
    for homework in detail.homeworks:
        built[("homework", homework.id)] = forms.HomeworkSubmissionForm(
            formdata=None, prefix=f"hw{homework.id}", max_score=homework.max_score,
            data={"submitted": homework.submitted, "approved": homework.approved,
                  "score": "" if homework.score is None else plain_number(homework.score),
                  "version": version(inputs.submission_state(homework.submitted, homework.score,
                                                             homework.approved))})
    for exam in detail.exams:
        built[("new_attempt", exam.id)] = forms.AttemptForm(
            formdata=None, prefix=f"exam{exam.id}", max_score=exam.max_score,
            data={"version": version(inputs.attempts_state([(a.attempt_no, a.score) for a in exam.attempts]))})
        for attempt in exam.attempts:
            attempt_version = version(inputs.attempt_state(attempt.score, attempt.submitted_at))
            built[("attempt", attempt.id)] = forms.AttemptForm(
                formdata=None, prefix=f"attempt{attempt.id}", max_score=exam.max_score,
                data={"score": plain_number(attempt.score), "submitted_at": _local_input(attempt.submitted_at),
                      "version": attempt_version})
            built[("delete", attempt.id)] = forms.DeleteAttemptForm(
                formdata=None, prefix=f"delete{attempt.id}", data={"version": attempt_version})
    return built



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


def _refused(detail: grid.CellDetail, key: Any, form, refused: Invalid):
    """Put the service's complaint on the field it names (or on the form) and answer 422."""
    target = getattr(form, refused.field, None) if refused.field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = list(target.errors) + [describe(refused)]
    else:
        form.form_errors.append(describe(refused))
    return _render_cell(detail, {key: form}, status=422)


def _save_cell(detail: grid.CellDetail, key: Any, form, save: Callable[[], Any]):
    """What every save in the cell panel does: validate the form (422 with its errors), call the
    service (its refusal lands on the field it names, 422; not found 404, forbidden 403), then
    answer the saved cell."""
    if not form.validate_on_submit():
        return _render_cell(detail, {key: form}, status=422)
    try:
        save()
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    except Invalid as refused:
        return _refused(detail, key, form, refused)
    except Conflict:  # someone saved this cell after the panel was filled
        return _stale(detail, key, form)
    return _saved(detail)


def _field_text(field, value: Any) -> str:
    """A form value as the panel shows it: a choice's label, yes/no, or the text."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    for choice in getattr(field, "choices", None) or ():
        if choice.value == value:
            return str(choice.label)
    return str(value or "") or "—"


def _stale(detail: grid.CellDetail, key: Any, form: forms.VersionedForm):
    """Someone saved this cell after the panel was filled: nothing of this form was saved. Answer
    409 with the stored values beside this form's, and base the form on the stored version so
    that pressing Save again overwrites on purpose (Reload shows the stored values)."""
    db.session.rollback()
    fresh = grid.load_cell(detail.lecture_id, detail.enrollment_id, detail.session_id)
    if fresh is None:
        abort(404)
    stored = _default_forms(fresh).get(key)
    if stored is None:  # the attempt is gone meanwhile
        abort(404)
    rows = []
    if key[0] == "delete":
        kept = _default_forms(fresh)[("attempt", key[1])]
        rows = [(str(kept[name].label.text), _field_text(kept[name], kept[name].data), "—")
                for name in ("score", "submitted_at")]
    if key[0] == "new_attempt":
        exam = next(e for e in fresh.exams if e.id == key[1])
        rows = [(_("Attempt %(no)s", no=a.attempt_no), plain_number(a.score), "—") for a in exam.attempts]
    for name, field in form._fields.items():
        if name == "version" or key[0] == "delete":
            continue
        theirs, yours = stored[name].data, field.data
        if key[0] == "new_attempt":
            theirs = None
        if theirs != yours:
            rows.append((str(field.label.text), _field_text(field, theirs), _field_text(field, yours)))
    form.meanwhile = rows
    form.version.data = stored.version.data
    return _render_cell(fresh, {key: form}, status=409)


@bp.post("/<int:lecture_id>/cell/activity")
def save_activity(lecture_id: int):
    detail = _editable_cell(lecture_id)
    form = forms.ActivityForm(prefix="activity")

    def save():
        # Only what the person changed is handed on, so that picking "late" alone sets offline, and
        # switching attendance alone clears a roll call that contradicts it (SPEC §12).
        changed: dict[str, Any] = {}
        if form.presence.raw_data and form.presence.parsed != detail.presence:
            changed["presence"] = form.presence.parsed
        if form.attendance.parsed != detail.attendance:
            changed["attendance"] = form.attendance.parsed
        return inputs.set_activity(current_user, detail.enrollment_id, detail.session_id,
                                   video_rate=form.video_rate.parsed, expected_version=form.base_version(),
                                   **changed)

    return _save_cell(detail, "activity", form, save)


def _one_of(items: Iterable[Any], item_id: int) -> Any:
    """The cell's homework or exam with this id; 404 when the cell has none (another lecture's)."""
    found = next((item for item in items if item.id == item_id), None)
    if found is None:
        abort(404)
    return found


@bp.post("/<int:lecture_id>/cell/homework/<int:homework_id>")
def save_homework(lecture_id: int, homework_id: int):
    detail = _editable_cell(lecture_id)
    homework = _one_of(detail.homeworks, homework_id)
    form = forms.HomeworkSubmissionForm(prefix=f"hw{homework_id}", max_score=homework.max_score)
    return _save_cell(detail, ("homework", homework_id), form, lambda: inputs.set_homework_submission(
        current_user, detail.enrollment_id, homework_id, submitted=form.submitted.data,
        score=form.score.parsed, approved=form.approved.data, expected_version=form.base_version()))


@bp.post("/<int:lecture_id>/cell/exams/<int:exam_id>/attempts")
def add_attempt(lecture_id: int, exam_id: int):
    detail = _editable_cell(lecture_id)
    exam = _one_of(detail.exams, exam_id)
    form = forms.AttemptForm(prefix=f"exam{exam_id}", max_score=exam.max_score)
    return _save_cell(detail, ("new_attempt", exam_id), form, lambda: inputs.add_attempt(
        current_user, detail.enrollment_id, exam_id, score=form.score.parsed, submitted_at=form.submitted_at.parsed,
        expected_version=form.base_version()))


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
    form = forms.AttemptForm(prefix=f"attempt{attempt_id}", max_score=exam.max_score)
    return _save_cell(detail, ("attempt", attempt_id), form, lambda: inputs.edit_attempt(
        current_user, attempt_id, score=form.score.parsed, submitted_at=form.submitted_at.parsed,
        expected_version=form.base_version()))


@bp.post("/<int:lecture_id>/cell/attempts/<int:attempt_id>/delete")
def delete_attempt(lecture_id: int, attempt_id: int):
    detail = _editable_cell(lecture_id)
    _attempt_of(detail, attempt_id)
    form = forms.DeleteAttemptForm(prefix=f"delete{attempt_id}")
    return _save_cell(detail, ("delete", attempt_id), form,
                      lambda: inputs.delete_attempt(current_user, attempt_id, form.base_version()))


# ---------------------------------------------------------------- student page

@bp.get("/<int:lecture_id>/students/<int:enrollment_id>")
def student(lecture_id: int, enrollment_id: int):
    """A student's timeline across the lecture's sessions, risk history and clinic links."""
    _readable_lecture(lecture_id)
    page = student_page.load_student(lecture_id, _id_or_404(enrollment_id))
    if page is None:
        abort(404)
    return render_template("lectures/student.html", page=page,
                           exam_lines=exam_analysis.student_exam_lines(lecture_id, page.enrollment_id),
                           parents=parents_read.student_parents(current_user, lecture_id, page.enrollment_id))

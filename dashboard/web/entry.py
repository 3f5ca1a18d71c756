"""The roll-call and column-entry page of one session (SPEC §12): every active student of the
lecture a row; presence, video rate, each linked exam's score and each homework a column.

GET shows the stored values (inputs for the lecture's editors: admins, its teachers and its
assistants; plain values for other readers). POST is the page's own form: the view keeps only the
cells that differ from what is stored, hands them to the same service as the JSON API
(`lectures.entry.save_column`) in one request, and renders the page again — with the students
whose grid word changed, or, when a value is refused, every refused cell marked in place (422,
nothing saved). Works without JavaScript; static/entry.js adds the spreadsheet keys, pasting a
column, "all present", "fill down", the unsaved-changes warning and the busy Save button.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from dashboard.accounts.access import can_edit_inputs, can_read_lecture
from dashboard.errors import Forbidden, Invalid, NotFound, describe
from dashboard.extensions import db
from dashboard.lectures import entry, grid
from dashboard.models import MAX_ID, PRESENCE_VALUES
from dashboard.text import spreadsheet
from dashboard.text.plain_numbers import plain_number
from dashboard.web.idempotency import one_time

bp = Blueprint("entry", __name__)

_FIELD = re.compile(r"rows\[(\d+)\]\.(.+)")


def _column_or_404(lecture_id: int, session_id: int) -> entry.Column:
    if not (0 < lecture_id <= MAX_ID and 0 < session_id <= MAX_ID):
        abort(404)
    if grid.lecture_title(lecture_id) is None or not can_read_lecture(current_user, lecture_id):
        abort(404)
    column = entry.load_column(lecture_id, session_id)
    if column is None:
        abort(404)
    return column



def _number(text: str) -> Any:
    """Form text as a number for the service (which refuses what is not one, naming the cell)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return number if number.is_finite() else text


def _changed_rows(column: entry.Column, form) -> tuple[list[dict[str, Any]], list[int]]:
    """The body rows for the cells that differ from the stored column, and each row's enrollment."""
    rows, owners = [], []
    for row in column.rows:
        e = row.enrollment_id
        item: dict[str, Any] = {}
        name = f"presence-{e}"
        if name in form:
            presence = form[name] or None
            if presence != row.presence:
                item["presence"] = presence
        video = form.get(f"video-{e}", "").strip()
        if video and video != str(row.video_rate):
            item["video_rate"] = int(video) if video.isascii() and video.isdigit() and len(video) < 6 else video
        for exam in column.exams:
            text = form.get(f"score-{exam.id}-{e}", "").strip()
            if not text:
                continue  # a score cannot be deleted here
            value = _number(text)
            stored = row.scores.get(exam.id)
            if not isinstance(value, Decimal) or stored is None or value != stored:
                item.setdefault("scores", {})[str(exam.id)] = value
        for homework in column.homeworks:
            old_submitted, old_score, old_approved = row.homework.get(homework.id, (False, None, False))
            given: dict[str, Any] = {}
            submitted = f"hw-submitted-{homework.id}-{e}" in form
            approved = f"hw-approved-{homework.id}-{e}" in form
            text = form.get(f"hw-score-{homework.id}-{e}", "").strip()
            score = _number(text) if text else None
            if submitted != old_submitted:
                given["submitted"] = submitted
            if approved != old_approved:
                given["approved"] = approved
            if score is None:
                score_changed = old_score is not None
            else:
                score_changed = not isinstance(score, Decimal) or old_score is None or score != old_score
            if score_changed:
                given["score"] = score
            if given:
                item.setdefault("homework", {})[str(homework.id)] = given
        if item:
            rows.append({"enrollment_id": e, **item})
            owners.append(e)
    return rows, owners


def _input_name(field: str | None, owners: list[int]) -> str | None:
    """The page's input for a refused field such as `rows[3].scores.500` (None: the form as a whole)."""
    match = _FIELD.fullmatch(field or "")
    if not match or int(match.group(1)) >= len(owners):
        return None
    e, rest = owners[int(match.group(1))], match.group(2).split(".")
    if rest[0] == "presence":
        return f"presence-{e}"
    if rest[0] == "video_rate":
        return f"video-{e}"
    if rest[0] == "scores" and len(rest) == 2:
        return f"score-{rest[1]}-{e}"
    if rest[0] == "homework" and len(rest) >= 2:
        part = rest[2] if len(rest) == 3 else "score"
        return f"hw-{part}-{rest[1]}-{e}"
    return None


def _render(column: entry.Column, *, status: int = 200, posted=None, errors=None, general=None, result=None):
    names = {row.enrollment_id: row.name for row in column.rows}
    changes = []
    if result is not None:
        orders = {column.session_id: column.session_order}
        for change in result.changed:
            changes.append({"name": names.get(change.enrollment_id, str(change.enrollment_id)),
                            "enrollment_id": change.enrollment_id,
                            "session": change.session_id, "same_session": change.session_id == column.session_id,
                            "before": change.before, "after": change.after,
                            "order": orders.get(change.session_id)})
    editable = can_edit_inputs(current_user, column.lecture_id)
    # Translated once per page, not once per row (a gettext call costs ~40 µs; 300 rows use thousands).
    words = {"not_taken": _("Not taken"), "video": _("Video"), "homework": _("Homework"),
             "submitted": _("submitted"), "score": _("score"), "approved": _("approved"), "yes": _("yes"),
             "no": _("no"), "roll_call": _("Roll call")}
    marks = {status: Markup(f'<span class="status status-{status}"><span class="icon" aria-hidden="true">'
                            f'{grid.status_icon(status)}</span> {escape(grid.status_word(status))}</span>')
             for status in grid.STATUSES}
    return render_template(
        "entry/column.html", column=column, editable=editable, posted=posted, errors=errors or {},
        general=general or [], result=result, changes=changes, presence_values=PRESENCE_VALUES,
        presence_words={value: grid.presence_word(value) for value in PRESENCE_VALUES},
        status_words={status: grid.status_word(status) for status in grid.STATUSES},
        plain=plain_number, words=words, marks=marks,
    ), status


@bp.get("/lectures/<int:lecture_id>/sessions/<int:session_id>/entry")
@login_required
def column(lecture_id: int, session_id: int):
    """The page: every student of the lecture, this session's inputs."""
    return _render(_column_or_404(lecture_id, session_id))


@bp.post("/lectures/<int:lecture_id>/sessions/<int:session_id>/entry")
@login_required
@one_time
def save(lecture_id: int, session_id: int):
    """Save the changed cells in one request; 422 with every refused cell marked, nothing saved."""
    try:
        session = entry.writable_session(current_user, lecture_id, session_id)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    column = _column_or_404(lecture_id, session_id)
    rows, owners = _changed_rows(column, request.form)
    body = {"retake": request.form.get("retake") == "1", "rows": rows}
    try:
        result = entry.save_column(current_user, session, body)
    except Invalid as refused:
        errors: dict[str, str] = {}
        general: list[str] = []
        for problem in (refused, *refused.also):
            name = _input_name(problem.field, owners)
            if name is None:
                general.append(describe(problem))
            else:
                errors.setdefault(name, describe(problem))
        return _render(_column_or_404(lecture_id, session_id), status=422, posted=request.form, errors=errors,
                       general=general)
    # Commit before rendering: the lecture's lock is held for the write and the recompute only.
    db.session.commit()
    return _render(_column_or_404(lecture_id, session_id), result=result)



@bp.get("/lectures/<int:lecture_id>/sessions/<int:session_id>/entry.csv", defaults={"extension": "csv"})
@bp.get("/lectures/<int:lecture_id>/sessions/<int:session_id>/entry.xlsx", defaults={"extension": "xlsx"})
@login_required
def export(lecture_id: int, session_id: int, extension: str):
    """The session's column as CSV (UTF-8 with BOM, so Excel reads Korean names) or an Excel
    workbook: the roll call, video, each exam's result score and each homework, one row per active
    student; every text cell guarded against formulas (dashboard/text/spreadsheet.py)."""
    column = _column_or_404(lecture_id, session_id)
    header = ["enrollment_id", _("Student"), _("Roll call"), _("Video") + " (%)"]
    header += [exam.title for exam in column.exams]
    for homework in column.homeworks:
        title = homework.title or _("Homework")
        header += [f"{title}: {_('submitted')}", f"{title}: {_('score')}", f"{title}: {_('approved')}"]
    header.append(_("Status"))
    rows: list[list[Any]] = [header]
    for row in column.rows:
        line = [row.enrollment_id, row.name, row.presence or "", row.video_rate]
        line += [_score_cell(row.scores.get(exam.id)) for exam in column.exams]
        for homework in column.homeworks:
            submitted, score, approved = row.homework.get(homework.id, (False, None, False))
            line += ["yes" if submitted else "no", _score_cell(score), "yes" if approved else "no"]
        line.append(row.status)
        rows.append(line)
    body, mimetype, filename = spreadsheet.download(
        rows, f"lecture-{lecture_id}-session-{column.session_order}-scores", extension)
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _score_cell(value: Decimal | None) -> Decimal | str:
    """A score as a number people write (72.50 -> 72.5; a spreadsheet cell keeps it a number); blank for none."""
    return "" if value is None else Decimal(plain_number(value))

"""An exam's pages: its analysis (the class's figures, the spread of scores, the most-missed
questions: dashboard/academy/exam_analysis.py) and its answer-key editor.

The answer-key editor of one exam: its questions (number, right marks, points) as a table with
rows to add, remove and edit, and one Save (the service is dashboard/omr/answer_keys.py).

Roles: admins and the teachers of a lecture the exam is linked to edit; staff read the key (no
form; a post answers 403); a teacher of none of the exam's lectures gets 404 like any unknown exam.

The form posts three ways, every one a real form post that also works without JavaScript:
"Add a question" answers the editor with one more row (nothing saved), each row's "Remove" box
drops the row when saving, and "Save" validates, writes, regrades the exam's scans and recomputes
its lectures. htmx swaps `#answer-key` with the answer; a save also refreshes the navigation's
clinic and OMR review counts out of band. Errors answer 422 at the field, and nothing is saved.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, FieldList, Form, FormField, StringField
from wtforms.widgets import NumberInput

from dashboard.academy import exam_analysis
from dashboard.omr import answer_keys
from dashboard.accounts.access import role_required, shown_exam_lecture_ids
from dashboard.errors import Conflict, Forbidden, Invalid, NotFound, describe
from dashboard.extensions import db
from dashboard.models import MAX_ID, Lecture
from dashboard.text.plain_numbers import plain_number
from dashboard.web.forms import PageForm
from dashboard.web.ui import is_htmx

bp = Blueprint("exams", __name__, url_prefix="/exams")


class QuestionRowForm(Form):
    """One question of the key (a row of the table); `remove` drops it when saving."""

    number = StringField(_l("Question"), widget=NumberInput(min=1, step=1))
    answer = StringField(_l("Right marks"), render_kw={"maxlength": answer_keys.ANSWER_MAX_MARKS,
                                                        "autocomplete": "off", "size": 6})
    points = StringField(_l("Points"), render_kw={"inputmode": "decimal", "size": 6})
    remove = BooleanField(_l("Remove"))


class AnswerKeyForm(PageForm):
    """The whole key: rows named questions-0-number, questions-0-answer, ... (CSRF: the plain input)."""

    questions = FieldList(FormField(QuestionRowForm))



def _stored_form(exam_id: int) -> AnswerKeyForm:
    rows = [{"number": str(q.number), "answer": q.answer, "points": plain_number(q.points)}
            for q in answer_keys.questions_of(exam_id)]
    return AnswerKeyForm(formdata=None, data={"questions": rows})


def _exam_or_404(exam_id: int):
    try:
        return answer_keys.readable_exam(current_user, exam_id)
    except NotFound:
        abort(404)


def _render(exam, form: AnswerKeyForm | None, status: int = 200, key_errors: list[str] | None = None,
            saved: answer_keys.KeySaved | None = None, added: bool = False):
    """The editor: the partial for htmx (with the nav counts out of band after a save), else the page."""
    editable = answer_keys.can_edit_key(current_user, exam.id)
    lecture_ids = shown_exam_lecture_ids(current_user, exam.id)
    lectures = list(db.session.execute(
        select(Lecture.id, Lecture.title).where(Lecture.id.in_(lecture_ids)).order_by(Lecture.title, Lecture.id)
    )) if lecture_ids else []
    questions = answer_keys.questions_of(exam.id)
    context = dict(
        exam=exam, form=form if editable else None, editable=editable, questions=questions,
        total=sum((q.points for q in questions), Decimal(0)), lectures=lectures,
        read_scans=answer_keys.read_scan_count(exam.id), key_errors=key_errors or [], added=added,
        message=_saved_message(saved) if saved is not None else None,
    )
    if is_htmx():
        template = "exams/_saved.html" if saved is not None else "exams/_editor.html"
        return render_template(template, **context), status
    return render_template("exams/answer_key.html", **context), status


@bp.get("/<int:exam_id>/answer-key")
@role_required("admin", "staff", "teacher")
def answer_key(exam_id: int):
    """The key of one exam: an editor for those who may change it, a table for staff."""
    exam = _exam_or_404(exam_id)
    return _render(exam, _stored_form(exam_id) if answer_keys.can_edit_key(current_user, exam_id) else None)


def _next_row(form: AnswerKeyForm) -> dict[str, str]:
    """A new row: the next question number, the points of the row above (keys mostly repeat them)."""
    numbers = [int(entry["number"].data) for entry in form.questions
               if (entry["number"].data or "").isascii() and (entry["number"].data or "").isdigit()]
    last_points = form.questions[-1]["points"].data if len(form.questions) else ""
    return {"number": str(max(numbers, default=0) + 1), "answer": "", "points": last_points or "1"}


@bp.post("/<int:exam_id>/answer-key")
@role_required("admin", "staff", "teacher")
def save_answer_key(exam_id: int):
    """Add a row (nothing saved), or save the key: regrade the exam's scans and recompute."""
    exam = _exam_or_404(exam_id)
    if not answer_keys.can_edit_key(current_user, exam_id):
        abort(403)
    form = AnswerKeyForm(request.form)
    if request.form.get("action") == "add":
        form.questions.append_entry(_next_row(form))
        return _render(exam, form, added=True)

    if not form.questions.entries:
        # A post without a single row is a broken or truncated form, not a decision to empty the
        # key (that is every row ticked "Remove"): saving it would delete the whole key.
        return _render(exam, _stored_form(exam_id), 422, key_errors=[describe(Invalid("empty_answer_key"))])
    kept = [entry for entry in form.questions if not entry["remove"].data]
    rows = [{name: entry[name].data for name in ("number", "answer", "points")} for entry in kept]
    try:
        saved = answer_keys.save_answer_key(current_user, exam_id, rows)
    except Forbidden:
        abort(403)
    except Invalid as invalid:
        key_errors = []
        for problem in (invalid, *invalid.also):
            if "row" not in problem.params:
                key_errors.append(describe(problem))
            else:
                target = kept[problem.params["row"]][problem.field]
                target.errors = [*target.errors, describe(problem)]
        # Rows marked for removal are gone from the form shown again (they were not validated).
        form.questions.entries = kept
        return _render(exam, form, 422, key_errors=key_errors)
    except Conflict as conflict:
        db.session.rollback()
        return _render(exam, form, 422, key_errors=[describe(conflict)])

    if not is_htmx():
        flash(_saved_message(saved), "success")
        return redirect(url_for(".answer_key", exam_id=exam_id))
    return _render(exam, _stored_form(exam_id), saved=saved)


def _saved_message(saved: answer_keys.KeySaved) -> Any:
    if not saved.changed:
        return _("Nothing to change.")
    if saved.regraded:
        return _("Answer key saved; %(n)s scanned attempts regraded and the lectures recomputed.", n=saved.regraded)
    return _("Answer key saved and the lectures recomputed.")



# ---------------------------------------------------------------- the analysis

@bp.get("/<int:exam_id>/analysis")
@role_required("admin", "staff", "teacher")
def analysis(exam_id: int):
    """The class's figures for one exam: all the reader's lectures it is linked to, or `?lecture=L`."""
    picked = request.args.get("lecture", "")
    lecture_id = None
    if picked:
        if not picked.isascii() or not picked.isdigit() or not 0 < int(picked) <= MAX_ID:
            abort(404)
        lecture_id = int(picked)
    found = exam_analysis.load_analysis(current_user, exam_id, lecture_id)
    if found is None:
        abort(404)
    return render_template("exams/analysis.html", analysis=found)

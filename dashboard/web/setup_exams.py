"""The exams-and-homework tab of a lecture's setup: list, create, edit and remove
exams (title, linked sessions, pass and maximum score; the answer key is the one key editor at
`exams.answer_key`) and homework (session, title, maximum score).

Roles as on the other setup pages: admins and the lecture's teachers change (a teacher changes an
exam only when they teach every lecture it is linked to), staff read without forms (403 on a
post), a lecture outside a teacher's assignment answers 404. Every change goes through
`dashboard.academy.exams` (importer, recompute, audit). A refused change (`dashboard.errors.Invalid`)
answers 422 with the form and its problems at the fields (`dashboard.web.forms.form_change`);
nothing is saved. Plain forms, redirect after a change (PRG);
removing asks first on its own page, saying what goes with it.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectField, StringField

from dashboard.academy import structure as setup, exams as setup_exams
from dashboard.accounts.access import can_edit_structure, role_required
from dashboard.errors import Invalid
from dashboard.models import Lecture
from dashboard.web.forms import PageForm, form_change, refusal_text
from dashboard.web.setup import checked as _checked, id_or_404 as _id, readable_lecture_or_404 as _lecture, saved
from dashboard.web.setup_forms import MultiCheckboxField
from dashboard.web.idempotency import one_time

bp = Blueprint("setup_exams", __name__, url_prefix="/setup")

EVERYONE = ("admin", "teacher", "staff")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class ExamForm(PageForm):
    """An exam: title, the lecture's sessions it is linked to, pass score (optional), maximum score."""

    title = StringField(_l("Title"), filters=[_strip])
    session_ids = MultiCheckboxField(_l("Linked sessions"), coerce=int, validate_choice=False)
    pass_score = StringField(_l("Pass score (optional)"), filters=[_strip], render_kw={"inputmode": "decimal"})
    max_score = StringField(_l("Maximum score"), filters=[_strip], render_kw={"inputmode": "decimal"})


class HomeworkForm(PageForm):
    """A homework: its session, title (optional) and maximum score."""

    session_id = SelectField(_l("Session"), coerce=int, validate_choice=False)
    title = StringField(_l("Title"), filters=[_strip])
    max_score = StringField(_l("Maximum score"), filters=[_strip], render_kw={"inputmode": "decimal"})


def _editable(lecture: Lecture) -> bool:
    return can_edit_structure(current_user, lecture.id) and lecture.archived_at is None


def _editable_lecture(lecture_id: int) -> Lecture:
    lecture = _lecture(lecture_id)
    if not can_edit_structure(current_user, lecture.id):
        abort(403)
    return lecture


def _session_label(session) -> str:
    return f"{session.order}. {session.title}" if session.title else str(session.order)


def _choices(lecture: Lecture) -> list[tuple[int, str]]:
    return [(s.id, _session_label(s)) for s in setup.sessions_of(lecture.id)]


def _exam_form(lecture: Lecture, **kwargs: Any) -> ExamForm:
    form = ExamForm(prefix="exam", **kwargs)
    form.session_ids.choices = _choices(lecture)
    return form


def _homework_form(lecture: Lecture, **kwargs: Any) -> HomeworkForm:
    form = HomeworkForm(prefix="homework", **kwargs)
    form.session_id.choices = _choices(lecture)
    return form


def _render_index(lecture: Lecture, exam_form: ExamForm | None = None, homework_form: HomeworkForm | None = None,
                  status: int = 200):
    editable = _editable(lecture)
    if editable:
        exam_form = exam_form or _exam_form(lecture, formdata=None, data={"max_score": "100"})
        homework_form = homework_form or _homework_form(lecture, formdata=None, data={"max_score": "100"})
    exams = setup_exams.exams_of(lecture.id)
    return render_template(
        "setup_exams/index.html", lecture=lecture, exams=exams, homeworks=setup_exams.homeworks_of(lecture.id),
        # A refused post (e.g. the lecture was archived meanwhile) shows its form with the reason.
        editable=editable, exam_form=exam_form, homework_form=homework_form,
        exam_editable={e.id: editable and setup_exams.may_edit_exam(current_user, e.id) for e in exams},
    ), status


@bp.get("/lectures/<int:lecture_id>/exams")
@role_required(*EVERYONE)
def index(lecture_id: int):
    """A lecture's exams and homework, with the forms to add them for its editors."""
    return _render_index(_lecture(lecture_id))


@bp.post("/lectures/<int:lecture_id>/exams")
@role_required(*EVERYONE)
@one_time
def create_exam(lecture_id: int):
    lecture = _editable_lecture(lecture_id)
    form = _exam_form(lecture)
    return form_change(
        form, lambda: setup_exams.create_exam(current_user, lecture.id, form.title.data, form.session_ids.data or [],
                                              form.pass_score.data, form.max_score.data),
        again=lambda: _render_index(lecture, exam_form=form, status=422),
        done=lambda exam: saved(_("Exam %(title)s created. Its answer key can be entered next.", title=exam.title),
                                url_for(".index", lecture_id=lecture.id)))


def _exam(lecture: Lecture, exam_id: int):
    return _checked(lambda: setup_exams.readable_exam(current_user, lecture.id, _id(exam_id)))


def _editable_exam(lecture_id: int, exam_id: int):
    lecture = _editable_lecture(lecture_id)
    exam = _exam(lecture, exam_id)
    if not setup_exams.may_edit_exam(current_user, exam.id):
        abort(403)
    return lecture, exam


def _render_exam_edit(lecture: Lecture, exam, form: ExamForm, status: int = 200):
    return render_template("setup_exams/exam_edit.html", lecture=lecture, exam=exam, form=form), status


@bp.get("/lectures/<int:lecture_id>/exams/<int:exam_id>/edit")
@role_required(*EVERYONE)
def edit_exam(lecture_id: int, exam_id: int):
    lecture, exam = _editable_exam(lecture_id, exam_id)
    own = {session_id for session_id, _label in _choices(lecture)}
    form = _exam_form(lecture, formdata=None, data={
        "title": exam.title, "session_ids": sorted(setup_exams.linked_session_ids(exam.id) & own),
        "pass_score": setup_exams.plain_score(exam.pass_score) or "",
        "max_score": setup_exams.plain_score(exam.max_score)})
    return _render_exam_edit(lecture, exam, form)


@bp.post("/lectures/<int:lecture_id>/exams/<int:exam_id>/edit")
@role_required(*EVERYONE)
def save_exam(lecture_id: int, exam_id: int):
    lecture, exam = _editable_exam(lecture_id, exam_id)
    form = _exam_form(lecture)
    return form_change(
        form, lambda: setup_exams.update_exam(current_user, lecture.id, exam.id, form.title.data,
                                              form.session_ids.data or [], form.pass_score.data, form.max_score.data),
        again=lambda: _render_exam_edit(lecture, exam, form, 422),
        done=lambda _exam: saved(_("Exam saved; the lecture was recomputed."),
                                 url_for(".index", lecture_id=lecture.id)))


@bp.get("/lectures/<int:lecture_id>/exams/<int:exam_id>/remove")
@role_required(*EVERYONE)
def confirm_remove_exam(lecture_id: int, exam_id: int):
    """What removing the exam deletes, and the button that does it."""
    lecture, exam = _editable_exam(lecture_id, exam_id)
    return render_template("setup_exams/exam_remove.html", lecture=lecture, exam=exam,
                           impact=setup_exams.exam_impact(exam.id), problem=None)


@bp.post("/lectures/<int:lecture_id>/exams/<int:exam_id>/remove")
@role_required(*EVERYONE)
def remove_exam(lecture_id: int, exam_id: int):
    lecture, exam = _editable_exam(lecture_id, exam_id)
    title = exam.title
    try:
        setup_exams.remove_exam(current_user, lecture.id, exam.id)
    except Invalid as refused:
        return render_template("setup_exams/exam_remove.html", lecture=lecture, exam=exam,
                               impact=setup_exams.exam_impact(exam.id), problem=refusal_text(refused)), 422
    return saved(_("Exam %(title)s removed.", title=title), url_for(".index", lecture_id=lecture.id))


# ---------------------------------------------------------------- homework

@bp.post("/lectures/<int:lecture_id>/homeworks")
@role_required(*EVERYONE)
@one_time
def create_homework(lecture_id: int):
    lecture = _editable_lecture(lecture_id)
    form = _homework_form(lecture)
    return form_change(
        form, lambda: setup_exams.create_homework(current_user, lecture.id, form.session_id.data, form.title.data,
                                                  form.max_score.data),
        again=lambda: _render_index(lecture, homework_form=form, status=422),
        done=lambda _homework: saved(_("Homework added; the lecture was recomputed."),
                                     url_for(".index", lecture_id=lecture.id)))


def _editable_homework(homework_id: int):
    homework, lecture_id = _checked(lambda: setup_exams.readable_homework(current_user, _id(homework_id)))
    return homework, _editable_lecture(lecture_id)


def _render_homework_edit(lecture: Lecture, homework, form: HomeworkForm, status: int = 200):
    return render_template("setup_exams/homework_edit.html", lecture=lecture, homework=homework, form=form), status


@bp.get("/homeworks/<int:homework_id>/edit")
@role_required(*EVERYONE)
def edit_homework(homework_id: int):
    homework, lecture = _editable_homework(homework_id)
    form = _homework_form(lecture, formdata=None, data={
        "session_id": homework.session_id, "title": homework.title or "",
        "max_score": setup_exams.plain_score(homework.max_score)})
    return _render_homework_edit(lecture, homework, form)


@bp.post("/homeworks/<int:homework_id>/edit")
@role_required(*EVERYONE)
def save_homework(homework_id: int):
    homework, lecture = _editable_homework(homework_id)
    form = _homework_form(lecture)
    return form_change(
        form, lambda: setup_exams.update_homework(current_user, homework.id, form.session_id.data, form.title.data,
                                                  form.max_score.data),
        again=lambda: _render_homework_edit(lecture, homework, form, 422),
        done=lambda _homework: saved(_("Homework saved; the lecture was recomputed."),
                                     url_for(".index", lecture_id=lecture.id)))


@bp.get("/homeworks/<int:homework_id>/remove")
@role_required(*EVERYONE)
def confirm_remove_homework(homework_id: int):
    homework, lecture = _editable_homework(homework_id)
    return render_template("setup_exams/homework_remove.html", lecture=lecture, homework=homework,
                           submissions=setup_exams.homework_impact(homework.id), problem=None)


@bp.post("/homeworks/<int:homework_id>/remove")
@role_required(*EVERYONE)
def remove_homework(homework_id: int):
    homework, lecture = _editable_homework(homework_id)
    try:
        setup_exams.remove_homework(current_user, homework.id)
    except Invalid as refused:
        return render_template("setup_exams/homework_remove.html", lecture=lecture, homework=homework,
                               submissions=setup_exams.homework_impact(homework.id),
                               problem=refusal_text(refused)), 422
    return saved(_("Homework removed; the lecture was recomputed."),
                 url_for(".index", lecture_id=lecture.id))

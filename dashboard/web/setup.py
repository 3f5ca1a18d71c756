"""The setup pages: lectures (create, title and teachers, archive), a lecture's sessions (add, edit,
remove, reorder, generate a term), its enrollments (enroll with search-as-you-type, withdraw,
re-enroll, a new student enrolled at once) and the students (create, edit).

Roles (docs/academy-setup.md): admins change everything; a teacher changes the sessions and
enrollments of the lectures assigned to them (and their students' details); staff read every
page without forms, and any write of theirs answers 403. A lecture outside a teacher's
assignment answers 404 (they must not learn it exists). Access is checked before the form.

Every change goes through `dashboard.academy.structure` (validate, lock, write through the snapshot importer,
recompute, audit). A refused change (`dashboard.errors.Invalid`) answers 422 with the form
re-rendered and its problems at the fields (`dashboard.web.forms.form_change`), in the reader's
language; nothing is saved. The service's `NotFound` and `Forbidden` answer 404 and 403. htmx:
the sessions and enrollments forms answer their partial (`#sessions`, `#enrollments`) in place;
without JavaScript every form redirects back (PRG).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dashboard.academy import structure as setup
from dashboard.accounts.access import can_edit_structure, role_required
from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.models import MAX_ID, Lecture, LectureSession
from dashboard.parents import guardians
from dashboard.web.forms import form_change, refusal_text
from dashboard.web.setup_forms import EnrollForm, LectureForm, SessionForm, StudentForm, TermForm
from dashboard.web.ui import is_htmx
from dashboard.web.idempotency import one_time

bp = Blueprint("setup", __name__, url_prefix="/setup")

EVERYONE = ("admin", "teacher", "staff")


# ---------------------------------------------------------------- access helpers

def checked(call: Callable[[], Any]) -> Any:
    """Run a read or an access check of the service: unknown or hidden -> 404, not allowed -> 403."""
    try:
        return call()
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)


def id_or_404(value: int) -> int:
    if not 0 < value <= MAX_ID:
        abort(404)
    return value


def readable_lecture_or_404(lecture_id: int) -> Lecture:
    return checked(lambda: setup.readable_lecture(current_user, id_or_404(lecture_id)))


def _editable_lecture(lecture_id: int) -> Lecture:
    """For a write to the lecture's sessions or enrollments: 404 when hidden, 403 when read-only."""
    lecture = readable_lecture_or_404(lecture_id)
    if not can_edit_structure(current_user, lecture.id):
        abort(403)
    return lecture


def _admin_lecture(lecture_id: int) -> Lecture:
    lecture = readable_lecture_or_404(lecture_id)
    if current_user.role != "admin":
        abort(403)
    return lecture


def _session(session_id: int) -> LectureSession:
    return checked(lambda: setup.readable_session(current_user, id_or_404(session_id)))


def saved(message: str, target: str):
    """After a change made from a full page: a flash and a redirect (PRG)."""
    flash(message, "success")
    return redirect(target)


def _done(message: str, target: str, render: Callable[..., Any]):
    """After a change: the refreshed partial (htmx) or a redirect with a flash (PRG)."""
    if is_htmx():
        return render(saved=message)
    return saved(message, target)


def _teacher_choices() -> list[tuple[int, str]]:
    return [(teacher.id, teacher.username) for teacher in setup.teachers()]


# ---------------------------------------------------------------- lectures

def _render_index(form: LectureForm | None = None, status: int = 200):
    archived = request.args.get("archived") in ("1", "true", "on")
    if form is None and current_user.role == "admin":
        form = LectureForm()
    if form is not None:
        form.teachers.choices = _teacher_choices()
    lectures = setup.lectures_for(current_user, archived=archived)
    return render_template("setup/index.html", lectures=lectures, form=form, archived=archived), status


@bp.get("/")
@role_required(*EVERYONE)
def index():
    """The lectures this user may see (archived ones on request) and, for admins, a new-lecture form."""
    return _render_index()


@bp.post("/lectures")
@role_required(*EVERYONE)
@one_time
def create_lecture():
    if current_user.role != "admin":
        abort(403)
    form = LectureForm()
    form.teachers.choices = _teacher_choices()
    return form_change(
        form, lambda: setup.create_lecture(current_user, form.title.data, form.teachers.data or []),
        again=lambda: _render_index(form, 422),
        done=lambda lecture: saved(_("Lecture %(title)s created. Add its sessions next.", title=lecture.title),
                                   url_for(".sessions", lecture_id=lecture.id)))


def _render_lecture(lecture: Lecture, form: LectureForm | None = None, status: int = 200):
    if form is None and current_user.role == "admin":
        form = LectureForm(formdata=None, data={"title": lecture.title, "teachers": setup.teacher_ids_of(lecture.id)})
    if form is not None:
        form.teachers.choices = _teacher_choices()
    teacher_names = dict(_teacher_choices())
    assigned = [teacher_names.get(i, str(i)) for i in setup.teacher_ids_of(lecture.id)]
    return render_template("setup/lecture.html", lecture=lecture, form=form, assigned=assigned,
                           session_count=len(setup.sessions_of(lecture.id)),
                           enrollment_count=len(setup.enrollments_of(lecture.id))), status


@bp.get("/lectures/<int:lecture_id>/")
@role_required(*EVERYONE)
def lecture(lecture_id: int):
    """One lecture's settings: title and teachers (admins edit), archiving, links to its sessions and enrollments."""
    return _render_lecture(readable_lecture_or_404(lecture_id))


@bp.post("/lectures/<int:lecture_id>/")
@role_required(*EVERYONE)
def update_lecture(lecture_id: int):
    lecture = _admin_lecture(lecture_id)
    form = LectureForm()
    form.teachers.choices = _teacher_choices()
    return form_change(
        form, lambda: setup.update_lecture(current_user, lecture.id, form.title.data, form.teachers.data or []),
        again=lambda: _render_lecture(lecture, form, 422),
        done=lambda _lecture: saved(_("Lecture saved."), url_for(".lecture", lecture_id=lecture.id)))


@bp.post("/lectures/<int:lecture_id>/archive")
@role_required(*EVERYONE)
def archive_lecture(lecture_id: int):
    lecture = _admin_lecture(lecture_id)
    setup.archive_lecture(current_user, lecture.id, archived=True)
    return saved(_("Lecture archived. It no longer shows in the lecture lists."),
                 url_for(".lecture", lecture_id=lecture.id))


@bp.post("/lectures/<int:lecture_id>/restore")
@role_required(*EVERYONE)
def restore_lecture(lecture_id: int):
    lecture = _admin_lecture(lecture_id)
    setup.archive_lecture(current_user, lecture.id, archived=False)
    return saved(_("Lecture restored."), url_for(".lecture", lecture_id=lecture.id))


# ---------------------------------------------------------------- sessions

def _render_sessions(lecture: Lecture, add_form: SessionForm | None = None, term_form: TermForm | None = None,
                     status: int = 200, saved: str | None = None, problem: str | None = None):
    editable = can_edit_structure(current_user, lecture.id) and lecture.archived_at is None
    if editable:
        add_form = add_form or SessionForm(formdata=None, prefix="session")
        term_form = term_form or TermForm(formdata=None, prefix="term", data={"count": "10"})
    context = dict(lecture=lecture, sessions=setup.sessions_of(lecture.id), editable=editable, add_form=add_form,
                   term_form=term_form, saved=saved, problem=problem)
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("setup/_sessions.html", **context), status
    return render_template("setup/sessions.html", **context), status


@bp.get("/lectures/<int:lecture_id>/sessions")
@role_required(*EVERYONE)
def sessions(lecture_id: int):
    """A lecture's sessions in order, with the add, reorder, edit, remove and term forms for its editors."""
    return _render_sessions(readable_lecture_or_404(lecture_id))


@bp.post("/lectures/<int:lecture_id>/sessions")
@role_required(*EVERYONE)
@one_time
def add_session(lecture_id: int):
    lecture = _editable_lecture(lecture_id)
    form = SessionForm(prefix="session")
    return form_change(
        form, lambda: setup.add_session(current_user, lecture.id, form.order.parsed, form.title.data, form.date.parsed),
        again=lambda: _render_sessions(lecture, add_form=form, status=422),
        done=lambda session: _done(_("Session %(order)s added.", order=session.order),
                                   url_for(".sessions", lecture_id=lecture.id),
                                   lambda **kw: _render_sessions(lecture, **kw)))


@bp.post("/lectures/<int:lecture_id>/sessions/generate")
@role_required(*EVERYONE)
@one_time
def generate_term(lecture_id: int):
    lecture = _editable_lecture(lecture_id)
    form = TermForm(prefix="term")
    return form_change(
        form, lambda: setup.generate_term(current_user, lecture.id, form.start.parsed, form.count.parsed,
                                          form.weekdays.data, form.holidays.parsed, form.title_prefix.data),
        again=lambda: _render_sessions(lecture, term_form=form, status=422),
        done=lambda created: _done(_("%(n)s sessions added.", n=len(created)),
                                   url_for(".sessions", lecture_id=lecture.id),
                                   lambda **kw: _render_sessions(lecture, **kw)))


def _move(session_id: int, step: int):
    session = _session(session_id)
    lecture = _editable_lecture(session.lecture_id)
    try:
        setup.move_session(current_user, session.id, step)
    except Invalid as refused:
        return _render_sessions(lecture, status=422, problem=refusal_text(refused))
    return _done(_("Order saved."), url_for(".sessions", lecture_id=lecture.id),
                 lambda **kw: _render_sessions(lecture, **kw))


@bp.post("/sessions/<int:session_id>/up")
@role_required(*EVERYONE)
def move_up(session_id: int):
    """Swap the session with the one before it."""
    return _move(session_id, -1)


@bp.post("/sessions/<int:session_id>/down")
@role_required(*EVERYONE)
def move_down(session_id: int):
    """Swap the session with the one after it."""
    return _move(session_id, +1)


def _render_session_edit(session: LectureSession, lecture: Lecture, form: SessionForm, status: int = 200):
    return render_template("setup/session_edit.html", session=session, lecture=lecture, form=form), status


@bp.get("/sessions/<int:session_id>/edit")
@role_required(*EVERYONE)
def edit_session(session_id: int):
    session = _session(session_id)
    lecture = _editable_lecture(session.lecture_id)
    form = SessionForm(formdata=None, prefix="session", data={
        "order": str(session.order), "title": session.title or "",
        "date": session.date.isoformat() if session.date else ""})
    return _render_session_edit(session, lecture, form)


@bp.post("/sessions/<int:session_id>/edit")
@role_required(*EVERYONE)
def save_session(session_id: int):
    session = _session(session_id)
    lecture = _editable_lecture(session.lecture_id)
    form = SessionForm(prefix="session")
    return form_change(
        form, lambda: setup.update_session(current_user, session.id, form.order.parsed, form.title.data,
                                           form.date.parsed),
        again=lambda: _render_session_edit(session, lecture, form, 422),
        done=lambda _session: saved(_("Session saved."), url_for(".sessions", lecture_id=lecture.id)))


@bp.get("/sessions/<int:session_id>/remove")
@role_required(*EVERYONE)
def confirm_remove_session(session_id: int):
    """What removing the session deletes, and the button that does it."""
    session = _session(session_id)
    lecture = _editable_lecture(session.lecture_id)
    return render_template("setup/session_remove.html", session=session, lecture=lecture,
                           impact=setup.session_impact(session.id), problem=None)


@bp.post("/sessions/<int:session_id>/remove")
@role_required(*EVERYONE)
def remove_session(session_id: int):
    session = _session(session_id)
    lecture = _editable_lecture(session.lecture_id)
    order = session.order
    try:
        setup.remove_session(current_user, session.id)
    except Invalid as refused:
        return render_template("setup/session_remove.html", session=session, lecture=lecture,
                               impact=setup.session_impact(session.id), problem=refusal_text(refused)), 422
    return saved(_("Session %(order)s removed.", order=order), url_for(".sessions", lecture_id=lecture.id))


# ---------------------------------------------------------------- enrollments

def _render_enrollments(lecture: Lecture, student_form: StudentForm | None = None, enroll_form: EnrollForm | None = None,
                        status: int = 200, saved: str | None = None, problem: str | None = None):
    include_withdrawn = request.values.get("withdrawn") in ("1", "true", "on")
    term = request.args.get("q", "")
    editable = can_edit_structure(current_user, lecture.id) and lecture.archived_at is None
    default_start = setup.default_start_date(lecture.id) if editable else None
    if editable:
        student_form = student_form or StudentForm(formdata=None, prefix="student", data={
            "start_date": default_start.isoformat() if default_start else ""})
    context = dict(lecture=lecture, enrollments=setup.enrollments_of(lecture.id, include_withdrawn),
                   default_start=default_start,
                   include_withdrawn=include_withdrawn, editable=editable, student_form=student_form,
                   enroll_form=enroll_form, term=term,
                   candidates=setup.enrollment_candidates(lecture.id, term) if editable else [],
                   saved=saved, problem=problem)
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("setup/_enrollments.html", **context), status
    return render_template("setup/enrollments.html", **context), status


@bp.get("/lectures/<int:lecture_id>/enrollments")
@role_required(*EVERYONE)
def enrollments(lecture_id: int):
    """A lecture's enrollments (withdrawn ones on request) with search-as-you-type enrolling for its editors."""
    return _render_enrollments(readable_lecture_or_404(lecture_id))


@bp.get("/lectures/<int:lecture_id>/enrollments/candidates")
@role_required(*EVERYONE)
def candidates(lecture_id: int):
    """The search-as-you-type answer: students matching `q` who are not active in the lecture."""
    lecture = _editable_lecture(lecture_id)
    if not is_htmx():
        return redirect(url_for(".enrollments", lecture_id=lecture.id, q=request.args.get("q", "")))
    term = request.args.get("q", "")
    return render_template("setup/_candidates.html", lecture=lecture, term=term,
                           candidates=setup.enrollment_candidates(lecture.id, term),
                           default_start=setup.default_start_date(lecture.id))


@bp.post("/lectures/<int:lecture_id>/enrollments")
@role_required(*EVERYONE)
def enroll(lecture_id: int):
    """Enroll an existing student (a withdrawn enrollment of theirs here is reactivated)."""
    lecture = _editable_lecture(lecture_id)
    form = EnrollForm()
    if not form.validate():
        return _render_enrollments(lecture, enroll_form=form, status=422, problem=" ".join(
            message for errors in form.errors.values() for message in errors))
    try:
        enrollment = setup.enroll(current_user, lecture.id, form.student.parsed, form.start())
    except Invalid as refused:
        return _render_enrollments(lecture, enroll_form=form, status=422, problem=refusal_text(refused))
    name = setup.student_name(enrollment.student_id)
    return _done(_("%(name)s is enrolled.", name=name), url_for(".enrollments", lecture_id=lecture.id),
                 lambda **kw: _render_enrollments(lecture, **kw))


@bp.post("/lectures/<int:lecture_id>/enrollments/new")
@role_required(*EVERYONE)
@one_time
def enroll_new_student(lecture_id: int):
    """A new student, enrolled in this lecture at once."""
    lecture = _editable_lecture(lecture_id)
    form = StudentForm(prefix="student")
    return form_change(
        form, lambda: setup.create_student(current_user, form.name.data, form.contact.data, None,
                                           lecture_id=lecture.id, start_date=form.start()),
        again=lambda: _render_enrollments(lecture, student_form=form, status=422),
        done=lambda student: _done(_("%(name)s is enrolled.", name=student.name),
                                   url_for(".enrollments", lecture_id=lecture.id),
                                   lambda **kw: _render_enrollments(lecture, **kw)))


def _enrollment_action(enrollment_id: int, action: Callable[[Any, int], Any], message: str):
    lecture_id = checked(lambda: setup.lecture_of_enrollment(current_user, id_or_404(enrollment_id)))
    lecture = _editable_lecture(lecture_id)
    try:
        action(current_user, enrollment_id)
    except Invalid as refused:
        return _render_enrollments(lecture, status=422, problem=refusal_text(refused))
    return _done(message, url_for(".enrollments", lecture_id=lecture.id),
                 lambda **kw: _render_enrollments(lecture, **kw))


@bp.post("/enrollments/<int:enrollment_id>/withdraw")
@role_required(*EVERYONE)
def withdraw(enrollment_id: int):
    """Withdraw: the student leaves the grid, risk and clinic queue; their history is kept."""
    return _enrollment_action(enrollment_id, setup.withdraw, _("Withdrawn. Their history is kept."))


@bp.post("/enrollments/<int:enrollment_id>/reenroll")
@role_required(*EVERYONE)
def reenroll(enrollment_id: int):
    """Reactivate a withdrawn enrollment (the same one, with its history)."""
    return _enrollment_action(enrollment_id, setup.reenroll, _("Enrolled again."))


# ---------------------------------------------------------------- students

def _render_students(form: StudentForm | None = None, status: int = 200):
    term = request.args.get("q", "")
    if form is None and current_user.role == "admin":
        form = StudentForm(formdata=None, prefix="student")
    listed = setup.students_for(current_user, term)
    return render_template("setup/students.html", students=listed, term=term, form=form,
                           guardians_of=guardians.guardians_by_student([s.id for s in listed])), status


@bp.get("/students/")
@role_required(*EVERYONE)
def students():
    """The students this user may see (a teacher: those of their lectures), with a name search."""
    return _render_students()


@bp.post("/students/")
@role_required(*EVERYONE)
@one_time
def create_student():
    if current_user.role != "admin":
        abort(403)
    form = StudentForm(prefix="student")
    return form_change(
        form, lambda: setup.create_student(current_user, form.name.data, form.contact.data, None),
        again=lambda: _render_students(form, 422),
        done=lambda student: saved(_("Student %(name)s created.", name=student.name),
                                   url_for(".student", student_id=student.id)))


def _render_student(student, form: StudentForm | None = None, status: int = 200):
    editable = setup.may_edit_student(current_user, student)
    if form is None and editable:
        form = StudentForm(formdata=None, prefix="student", data={
            "name": student.name, "contact": student.contact or ""})
    return render_template("setup/student.html", student=student, form=form if editable else None,
                           enrollments=setup.student_enrollments(student.id, current_user),
                           guardians=guardians.guardians_of(student.id), guardians_editable=editable,
                           imported_contact=guardians.unadopted_contact(student.id, student.guardian_contact)), status


@bp.get("/students/<int:student_id>/")
@role_required(*EVERYONE)
def student(student_id: int):
    """One student: name and contacts (editable by admins and their teachers) and their enrollments."""
    return _render_student(checked(lambda: setup.readable_student(current_user, id_or_404(student_id))))


@bp.post("/students/<int:student_id>/")
@role_required(*EVERYONE)
def update_student(student_id: int):
    student = checked(lambda: setup.readable_student(current_user, id_or_404(student_id)))
    if not setup.may_edit_student(current_user, student):
        abort(403)
    form = StudentForm(prefix="student")
    # The old single guardian contact is no longer edited here (guardians are): it stays as stored.
    return form_change(
        form, lambda: setup.update_student(current_user, student.id, form.name.data, form.contact.data,
                                           student.guardian_contact),
        again=lambda: _render_student(student, form, 422),
        done=lambda _student: saved(_("Student saved."), url_for(".student", student_id=student.id)))


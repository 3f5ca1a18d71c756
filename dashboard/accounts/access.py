"""Who may see and change what (SPEC §8 roles), used by every page and API endpoint.

admin: everything. teacher: reads the lectures assigned to them, and edits their inputs and
structure (sessions, enrollments, exams, homework). staff: reads every lecture and acts on clinic
links and OMR scans; a staff member assigned to lectures is their assistant (조교, SPEC §12) and
edits those lectures' inputs (attendance, video, attempts, homework, column entry, uploads of
those) like the teacher — never their policy, structure or users.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import ExamSession, LectureSession, TeacherLecture, User

ALL_LECTURES_ROLES = ("admin", "staff")
# Roles that edit the inputs of the lectures assigned to them (staff: as assistants).
INPUT_ROLES = ("teacher", "staff")


def has_role(user: User | None, *roles: str) -> bool:
    """Whether an active, signed-in user holds one of these roles."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.role in roles)


def visible_lecture_ids(user: User) -> set[int] | None:
    """The lectures a user may read: None means every lecture (admin, staff); a teacher's assigned ones."""
    if user.role in ALL_LECTURES_ROLES:
        return None
    if user.role != "teacher":
        return set()
    return set(db.session.execute(
        select(TeacherLecture.lecture_id).where(TeacherLecture.user_id == user.id)
    ).scalars())


def can_read_lecture(user: User, lecture_id: int) -> bool:
    """Whether a user may read a lecture and everything in it."""
    visible = visible_lecture_ids(user)
    return visible is None or lecture_id in visible


def is_assigned(user: User, lecture_id: int) -> bool:
    """Whether the lecture is assigned to the user (as its teacher, or as its assistant for staff)."""
    return db.session.execute(
        select(TeacherLecture.lecture_id).where(
            TeacherLecture.user_id == user.id, TeacherLecture.lecture_id == lecture_id
        )
    ).first() is not None


def exam_lecture_ids(exam_id: int) -> list[int]:
    """The lectures with a session linked to the exam, ascending."""
    return list(db.session.execute(
        select(LectureSession.lecture_id).distinct()
        .join(ExamSession, ExamSession.session_id == LectureSession.id)
        .where(ExamSession.exam_id == exam_id)
        .order_by(LectureSession.lecture_id)
    ).scalars())


# An exam may be linked to sessions of several lectures (SPEC §1). The one rule for anything
# that touches such an exam as a whole — its answer key, scores, links, removal: reading needs
# one of its lectures, changing needs all of them, because a change regrades and recomputes
# every lecture it is linked to. What the caller is shown of it is limited to their lectures.

def can_read_exam(user: User, exam_id: int) -> bool:
    """Admin and staff: any exam; a teacher: an exam linked to one of their lectures."""
    visible = visible_lecture_ids(user)
    return visible is None or bool(set(exam_lecture_ids(exam_id)) & visible)


def can_edit_exam(user: User, exam_id: int) -> bool:
    """Admins; a teacher who teaches every lecture the exam is linked to (and it is linked to one)."""
    if user.role == "admin":
        return True
    if user.role != "teacher":
        return False
    lectures = set(exam_lecture_ids(exam_id))
    return bool(lectures) and lectures <= (visible_lecture_ids(user) or set())


def shown_exam_lecture_ids(user: User, exam_id: int) -> list[int]:
    """The exam's lectures the caller may see (another teacher's lecture stays unnamed)."""
    visible = visible_lecture_ids(user)
    return [lecture_id for lecture_id in exam_lecture_ids(exam_id) if visible is None or lecture_id in visible]


def can_edit_inputs(user: User, lecture_id: int) -> bool:
    """Whether a user may change a lecture's inputs (roll call, video, attempts, homework results):
    admins, the lecture's teachers and its assistants."""
    if user.role == "admin":
        return True
    if user.role not in INPUT_ROLES:
        return False
    return is_assigned(user, lecture_id)


def can_edit_structure(user: User, lecture_id: int) -> bool:
    """Whether a user may change a lecture's structure (sessions, enrollments, exams, homework, answer
    keys): admins and the lecture's teachers, not its assistants."""
    if user.role == "admin":
        return True
    return user.role == "teacher" and is_assigned(user, lecture_id)


def require_role(user: User | None, *roles: str) -> None:
    """Abort with 403 unless the user holds one of these roles."""
    if not has_role(user, *roles):
        abort(403)


def role_required(*roles: str) -> Callable:
    """Decorate a browser view: anonymous visitors go to the login form, other roles get 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            require_role(current_user, *roles)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def public(view: Callable) -> Callable:
    """Mark a browser view that anonymous visitors may open (every other page sends them to the login form)."""
    view.is_public = True
    return view

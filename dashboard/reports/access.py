"""Who may read and act on monthly reports (SPEC §15 with §8's roles).

Reading a report: anyone who may read the lecture (admins, staff, the lecture's teacher).
Writing the teacher's comment and creating or revoking parent links: admins and the lecture's
teacher only. Staff, who read everything, are refused (403); a teacher asking about another
lecture's student learns nothing about it (404).
"""
from __future__ import annotations

from sqlalchemy import select

from dashboard.accounts.access import can_read_lecture, visible_lecture_ids
from dashboard.errors import Forbidden, NotFound
from dashboard.extensions import db
from dashboard.models import Enrollment, Lecture, User

WRITER_ROLES = ("admin", "teacher")


def lecture_exists(lecture_id: int) -> bool:
    return db.session.get(Lecture, lecture_id) is not None


def lecture_of_enrollment(enrollment_id: int) -> int | None:
    return db.session.execute(
        select(Enrollment.lecture_id).where(Enrollment.id == enrollment_id)).scalar_one_or_none()


def readable_enrollment(user: User, enrollment_id: int) -> int:
    """The enrollment's lecture id; NotFound when it is missing or outside the user's lectures."""
    lecture_id = lecture_of_enrollment(enrollment_id)
    if lecture_id is None or not can_read_lecture(user, lecture_id):
        raise NotFound()
    return lecture_id


def can_write_reports(user: User, lecture_id: int) -> bool:
    """Whether the user may write the comment and manage parent links of this lecture's reports."""
    if user.role == "admin":
        return True
    if user.role != "teacher":
        return False
    return lecture_id in (visible_lecture_ids(user) or set())


def writable_enrollment(user: User, enrollment_id: int) -> int:
    """The enrollment's lecture id for a write: Forbidden for a role that never writes reports
    (checked first), NotFound for an enrollment outside the user's lectures."""
    if user.role not in WRITER_ROLES:
        raise Forbidden()
    lecture_id = readable_enrollment(user, enrollment_id)
    if not can_write_reports(user, lecture_id):
        raise NotFound()
    return lecture_id

"""The read side of the parents' area for pages: what the student page, the cell panel and the
messages page show."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, select

from dashboard.accounts.access import visible_lecture_ids
from dashboard.extensions import db
from dashboard.models import Enrollment, Guardian, Lecture, Notification, Student, User
from dashboard.parents import notes, outbox


@dataclass(frozen=True)
class StudentParents:
    guardians: list[Guardian]
    messages: list[Notification]
    notes: list[notes.NoteView] | None  # None: the user may not read notes
    may_review: bool


def guardians_of_enrollment(enrollment_id: int) -> list[Guardian]:
    return list(db.session.execute(
        select(Guardian).join(Enrollment, Enrollment.student_id == Guardian.student_id)
        .where(Enrollment.id == enrollment_id).order_by(Guardian.id)).scalars())


def guardians_by_enrollment(enrollment_ids: list[int]) -> dict[int, list[Guardian]]:
    """The guardians of many enrollments' students in one query (a page of the clinic to-do list)."""
    found: dict[int, list[Guardian]] = {enrollment_id: [] for enrollment_id in enrollment_ids}
    if not enrollment_ids:
        return found
    for enrollment_id, guardian in db.session.execute(
        select(Enrollment.id, Guardian).join(Guardian, Guardian.student_id == Enrollment.student_id)
        .where(Enrollment.id.in_(enrollment_ids)).order_by(Enrollment.id, Guardian.id)
    ):
        found[enrollment_id].append(guardian)
    return found


def student_parents(user: User, lecture_id: int, enrollment_id: int) -> StudentParents:
    """Guardians, the latest messages and (for those who may read them) the counselling notes."""
    recent = list(db.session.execute(
        select(Notification).where(Notification.enrollment_id == enrollment_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(20)).scalars())
    return StudentParents(
        guardians_of_enrollment(enrollment_id), recent,
        notes.notes_of(enrollment_id) if notes.may_read_notes(user, lecture_id) else None,
        outbox.may_review(user, lecture_id),
    )


@dataclass(frozen=True)
class MessageRow:
    message: Notification
    lecture_id: int
    lecture_title: str
    student_name: str
    guardian_name: str | None
    may_review: bool


MESSAGE_PAGE_SIZE = 100


def message_rows(user: User, args: Mapping[str, Any]) -> tuple[list[MessageRow], int]:
    """Messages of the user's lectures, newest first, filtered by `state`, `event` and `lecture`."""
    query = (
        select(Notification, Enrollment.lecture_id, Lecture.title, Student.name, Guardian.name)
        .join(Enrollment, Enrollment.id == Notification.enrollment_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        .join(Student, Student.id == Enrollment.student_id)
        .outerjoin(Guardian, Guardian.id == Notification.guardian_id)
    )
    visible = visible_lecture_ids(user)
    if visible is not None:
        query = query.where(Enrollment.lecture_id.in_(sorted(visible)) if visible else false())
    if args.get("state"):
        query = query.where(Notification.state == args["state"])
    if args.get("event"):
        query = query.where(Notification.event == args["event"])
    if args.get("lecture"):
        query = query.where(Enrollment.lecture_id == args["lecture"])
    count = db.session.execute(select(db.func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(MESSAGE_PAGE_SIZE)).all()
    reviewable: dict[int, bool] = {}
    result = []
    for message, lecture_id, lecture_title, student_name, guardian_name in rows:
        if lecture_id not in reviewable:
            reviewable[lecture_id] = outbox.may_review(user, lecture_id)
        result.append(MessageRow(message, lecture_id, lecture_title, student_name, guardian_name,
                                 reviewable[lecture_id]))
    return result, count

"""Counselling notes (상담 기록): per enrollment, written by the lecture's teachers, its assigned staff
and admins, and read by them only — the one thing staff do not read everywhere (SPEC §14).

An assignment is a row of `teacher_lecture` (teachers and assistants alike). Only a note's author
edits it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from dashboard.clock import academy_today
from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import (
    CounsellingNote,
    Enrollment,
    Lecture,
    Student,
    TeacherLecture,
    User,
)

MAX_LENGTH = 5000
FOLLOW_UP_AHEAD = timedelta(days=7)


def note_lecture_ids(user: User) -> set[int] | None:
    """The lectures whose notes the user reads and writes: None for every lecture (admin)."""
    if user.role == "admin":
        return None
    return set(db.session.execute(
        select(TeacherLecture.lecture_id).where(TeacherLecture.user_id == user.id)).scalars())


def may_read_notes(user: User, lecture_id: int) -> bool:
    lectures = note_lecture_ids(user)
    return lectures is None or lecture_id in lectures


def _clean(text: Any, follow_up_on: Any) -> tuple[str, date | None]:
    if not isinstance(text, str) or not text.strip():
        raise Invalid("required", "text")
    if len(text.strip()) > MAX_LENGTH:
        raise Invalid("too_long", "text", max=MAX_LENGTH)
    if follow_up_on is not None and not isinstance(follow_up_on, date):
        raise Invalid("bad_date", "follow_up_on")
    return text.strip(), follow_up_on


def add_note(user: User, enrollment_id: int, text: Any, follow_up_on: Any = None) -> CounsellingNote:
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or not may_read_notes(user, enrollment.lecture_id):
        raise NotFound()
    text, follow_up_on = _clean(text, follow_up_on)
    note = CounsellingNote(enrollment_id=enrollment_id, author_id=user.id, text=text, follow_up_on=follow_up_on)
    db.session.add(note)
    db.session.flush()
    return note


def edit_note(user: User, note_id: int, text: Any, follow_up_on: Any = None) -> CounsellingNote:
    note = db.session.get(CounsellingNote, note_id)
    if note is None:
        raise NotFound()
    lecture_id = db.session.execute(
        select(Enrollment.lecture_id).where(Enrollment.id == note.enrollment_id)).scalar_one()
    if not may_read_notes(user, lecture_id):
        raise NotFound()
    if note.author_id != user.id:
        raise Forbidden("not_note_author")
    note.text, note.follow_up_on = _clean(text, follow_up_on)
    db.session.flush()
    return note


@dataclass(frozen=True)
class NoteView:
    id: int
    enrollment_id: int
    text: str
    author: str | None
    author_id: int | None
    created_at: datetime
    updated_at: datetime
    follow_up_on: date | None


def notes_of(enrollment_id: int) -> list[NoteView]:
    """An enrollment's notes, newest first (the caller checked may_read_notes)."""
    rows = db.session.execute(
        select(CounsellingNote, User.username)
        .outerjoin(User, User.id == CounsellingNote.author_id)
        .where(CounsellingNote.enrollment_id == enrollment_id)
        .order_by(CounsellingNote.created_at.desc(), CounsellingNote.id.desc())).all()
    return [NoteView(n.id, n.enrollment_id, n.text, username, n.author_id, n.created_at, n.updated_at, n.follow_up_on)
            for n, username in rows]


@dataclass(frozen=True)
class FollowUp:
    note_id: int
    enrollment_id: int
    lecture_id: int
    lecture_title: str
    student_name: str
    follow_up_on: date
    text: str
    overdue: bool


def follow_ups_due(user: User, limit: int = 50) -> list[FollowUp]:
    """Notes whose follow-up date is past or within the coming week, soonest first, in the user's
    lectures (withdrawn students left out)."""
    today = academy_today()
    query = (
        select(CounsellingNote.id, CounsellingNote.enrollment_id, Enrollment.lecture_id, Lecture.title, Student.name,
               CounsellingNote.follow_up_on, CounsellingNote.text)
        .join(Enrollment, Enrollment.id == CounsellingNote.enrollment_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        .join(Student, Student.id == Enrollment.student_id)
        .where(CounsellingNote.follow_up_on.is_not(None), CounsellingNote.follow_up_on <= today + FOLLOW_UP_AHEAD,
               Enrollment.withdrawn_at.is_(None))
        .order_by(CounsellingNote.follow_up_on, CounsellingNote.id)
        .limit(limit)
    )
    lectures = note_lecture_ids(user)
    if lectures is not None:
        if not lectures:
            return []
        query = query.where(Enrollment.lecture_id.in_(sorted(lectures)))
    return [FollowUp(*row, overdue=row.follow_up_on < today) for row in db.session.execute(query)]

"""The read side of a student's page in one lecture: the timeline of their sessions (the grid's
statuses and exam scores), risk history, clinic links and roll-call counts."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.lectures.grid import GridQuery, load_grid
from dashboard.models import (
    Activity,
    Enrollment,
    Lecture,
    LectureProgress,
    LectureSession,
    RiskLog,
    SessionProgress,
    Student,
)
from dashboard.progress.recompute import ensure_fresh


@dataclass(frozen=True)
class TimelinePoint:
    session_id: int
    order: int
    title: str | None
    date: date | None
    status: str
    score: Decimal | None
    pass_line: Decimal | None
    max_score: Decimal | None


@dataclass
class StudentPage:
    lecture_id: int
    lecture_title: str
    enrollment_id: int
    name: str
    start_date: date | None
    withdrawn: bool
    progress: LectureProgress | None
    timeline: list[TimelinePoint]
    risk_logs: list[Any]
    # How often the roll call said present, late, absent or excused (words never taken are absent).
    presence_counts: dict[str, int] = field(default_factory=dict)


def load_student(lecture_id: int, enrollment_id: int) -> StudentPage | None:
    """A student's timeline in one lecture, with risk history (the clinic part is the clinic area's
    panel); None when not enrolled."""
    ensure_fresh(lecture_id)
    head = db.session.execute(
        select(Enrollment, Student.name, Lecture.title)
        .join(Student, Student.id == Enrollment.student_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        .where(Enrollment.id == enrollment_id, Enrollment.lecture_id == lecture_id)
    ).one_or_none()
    if head is None:
        return None
    enrollment, name, title = head
    grid = load_grid(lecture_id, GridQuery(withdrawn=True), enrollment_id=enrollment_id)
    statuses = {session_id: status for session_id, status, _ in grid.rows[0].cells}
    progress_rows = {
        row.session_id: row
        for row in db.session.execute(
            select(SessionProgress).where(SessionProgress.enrollment_id == enrollment_id)
            .execution_options(populate_existing=True)
        ).scalars()
    }
    timeline = []
    for session in grid.sessions:
        row = progress_rows.get(session.id)
        meta = (row.exam_meta or {}) if row is not None else {}
        exams = meta.get("exams") or []
        pass_line = meta.get("aggregate_pass_score")
        max_score = max((Decimal(str(e["max_score"])) for e in exams), default=None)
        timeline.append(TimelinePoint(
            session.id, session.order, session.title, session.date, statuses[session.id],
            row.exam_aggregate_score if row is not None else None,
            Decimal(str(pass_line)) if pass_line is not None else None,
            max_score,
        ))
    risk_logs = db.session.execute(
        select(RiskLog, LectureSession.order, LectureSession.title)
        .outerjoin(LectureSession, LectureSession.id == RiskLog.session_id)
        .where(RiskLog.enrollment_id == enrollment_id)
        .order_by(RiskLog.created_at.desc(), RiskLog.id.desc())
        .execution_options(populate_existing=True)
    ).all()
    progress = db.session.execute(
        select(LectureProgress).where(LectureProgress.enrollment_id == enrollment_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    presence_counts = dict(db.session.execute(
        select(Activity.presence, func.count(Activity.id))
        .join(LectureSession, LectureSession.id == Activity.session_id)
        .where(Activity.enrollment_id == enrollment_id, LectureSession.lecture_id == lecture_id,
               Activity.presence.is_not(None))
        .group_by(Activity.presence)
    ).all())
    return StudentPage(lecture_id, title, enrollment_id, name, enrollment.start_date,
                       enrollment.withdrawn_at is not None, progress, timeline, risk_logs,
                       presence_counts)

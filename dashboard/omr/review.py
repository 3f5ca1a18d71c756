"""The read side of the OMR review pages: the review queue (filtered and paged, oldest scan
first) with the navigation's count, one scan's row, what the queue's filters offer, the students
a scan may be assigned to and who corrected it.

Kept apart from `omr.scans` (the scans' lookups and the API's list), which
this module leans on for the one rule of which scans a user sees (`scans.visible_condition`) and
of which need a person (`scans.needs_review_condition`).

`visible` is what `access.visible_lecture_ids` answers for the signed-in user: None for every
lecture, else the ids of the lectures they may read. A scan belongs to its student's lecture, or
to every lecture of its exam while the student is unknown. Nothing here knows about requests,
forms or responses.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy import Select, false, func, select

from dashboard.omr import scans
from dashboard.extensions import db
from dashboard.models import (
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    Lecture,
    LectureSession,
    OmrScan,
    Student,
    User,
)
from dashboard.listing import LIKE_ESCAPE, FilteredPage, id_or_none, like_pattern

PAGE_SIZE = 50
REVIEW_CHOICES = ("true", "false", "all")


# ---------------------------------------------------------------- filters

@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters; values it cannot read are ignored. Scans needing review by default."""

    needs_review: str = "true"
    exam: int | None = None
    lecture: int | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        review = args.get("needs_review", "true")
        return cls(needs_review=review if review in REVIEW_CHOICES else "true", exam=id_or_none(args.get("exam")),
                   lecture=id_or_none(args.get("lecture")), page=id_or_none(args.get("page")) or 1)

    def args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query arguments for url_for (defaults left out)."""
        values = replace(self, **changes)
        out = {"needs_review": None if values.needs_review == "true" else values.needs_review,
               "exam": values.exam, "lecture": values.lecture, "page": None if values.page == 1 else values.page}
        return {key: value for key, value in out.items() if value is not None}


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class ScanRow:
    """A scan with what its row and page show."""

    scan: OmrScan
    attempt_no: int | None
    score: Decimal | None
    exam_title: str
    max_score: Decimal
    student_name: str | None
    lecture_id: int | None
    lecture_title: str | None
    # "manual" when a person typed the attempt's score: it stands over the sheet's (docs/decisions.md).
    attempt_source: str | None = None

    @property
    def typed_score(self) -> bool:
        return self.attempt_source == "manual"


def _scoped(statement: Select, visible: set[int] | None) -> Select:
    # The service's own rule of which scans a user sees (shared with the API), not a copy of it.
    condition = scans.visible_condition(visible)
    return statement if condition is None else statement.where(condition)


def _scan_select(visible: set[int] | None) -> Select:
    statement = (
        select(OmrScan, Attempt.attempt_no, Attempt.score, Exam.title, Exam.max_score, Student.name,
               Lecture.id, Lecture.title, Attempt.source)
        .join(Exam, Exam.id == OmrScan.exam_id)
        .outerjoin(Attempt, Attempt.id == OmrScan.attempt_id)
        .outerjoin(Enrollment, Enrollment.id == OmrScan.enrollment_id)
        .outerjoin(Student, Student.id == Enrollment.student_id)
        .outerjoin(Lecture, Lecture.id == Enrollment.lecture_id)
    )
    return _scoped(statement, visible)


def review_count(visible: set[int] | None) -> int:
    """Scans needing a person (waiting for their student, or graded with answers flagged)."""
    statement = (select(func.count(OmrScan.id)).select_from(OmrScan)
                 .outerjoin(Enrollment, Enrollment.id == OmrScan.enrollment_id).where(scans.needs_review_condition()))
    return db.session.execute(_scoped(statement, visible)).scalar_one()


def load_queue(filters: QueueFilters, visible: set[int] | None) -> FilteredPage:
    """One page of the scans among the `visible` lectures, oldest first (two queries)."""
    statement = _scan_select(visible)
    if filters.needs_review != "all":
        needs = scans.needs_review_condition()
        statement = statement.where(needs if filters.needs_review == "true" else ~needs)
    if filters.exam is not None:
        statement = statement.where(OmrScan.exam_id == filters.exam)
    if filters.lecture is not None:
        statement = statement.where(scans.visible_condition({filters.lecture}))
    count = db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    results = db.session.execute(
        statement.order_by(OmrScan.id).limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE))
    return FilteredPage([ScanRow(*result) for result in results], count, filters, PAGE_SIZE)


def load_row(scan_id: int, visible: set[int] | None) -> ScanRow | None:
    """One scan's row, or None when it is missing or not among the `visible` lectures."""
    result = db.session.execute(_scan_select(visible).where(OmrScan.id == scan_id)).first()
    if result is None:
        return None
    return ScanRow(*result)


@dataclass(frozen=True)
class Choices:
    """The filters' options: the user's lectures and the exams with scans they may see."""

    lectures: list[tuple[int, str]]
    exams: list[tuple[int, str]]


def load_choices(visible: set[int] | None) -> Choices:
    """The `visible` lectures by title, and the exams with scans linked to one of them, by title."""
    lectures = select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id)
    exams = (select(Exam.id, Exam.title).where(Exam.id.in_(select(OmrScan.exam_id)))
             .order_by(Exam.title, Exam.id))
    if visible is not None:
        lectures = lectures.where(Lecture.id.in_(sorted(visible)) if visible else false())
        exams = exams.where(Exam.id.in_(
            select(ExamSession.exam_id).join(LectureSession, LectureSession.id == ExamSession.session_id)
            .where(LectureSession.lecture_id.in_(sorted(visible)) if visible else false())))
    return Choices(list(db.session.execute(lectures)), list(db.session.execute(exams)))


def assignable(scan: OmrScan, visible: set[int] | None, q: str = "") -> list[tuple[int, str, str]]:
    """(enrollment id, student name, lecture title) of the active enrollments this scan may be
    assigned to: the exam's lectures, within the `visible` ones; `q` searches the name."""
    lectures = set(scans.exam_lecture_ids(scan.exam_id))
    if visible is not None:
        lectures &= visible
    if not lectures:
        return []
    statement = (
        select(Enrollment.id, Student.name, Lecture.title)
        .join(Student, Student.id == Enrollment.student_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        .where(Enrollment.lecture_id.in_(sorted(lectures)), Enrollment.withdrawn_at.is_(None))
        .order_by(Lecture.title, Student.name, Enrollment.id)
    )
    if q:
        statement = statement.where(Student.name.ilike(like_pattern(q), escape=LIKE_ESCAPE))
    return [tuple(row) for row in db.session.execute(statement)]


def corrected_by(scan: OmrScan) -> str | None:
    """The username of whoever last corrected the scan's answers (None if nobody has)."""
    user = db.session.get(User, scan.corrected_by_id) if scan.corrected_by_id is not None else None
    return user.username if user is not None else None


def sheet_score(answers: list[scans.ReviewAnswer]) -> Decimal:
    """What the sheet gives as read and corrected: the points of its right answers. It differs from
    the attempt's score only when a person typed that score (the typed score stands)."""
    return sum((answer.points for answer in answers if answer.is_correct), Decimal(0))

"""A scanned answer sheet and who may see it (SPEC §10): the roles, the refusals, the lookups
every OMR service shares, and the read side — a scan as the API answers it, the API's list of
scans with its filters, and a scan's answers next to its key for the review page.

Who may do what: admin and staff register scans and post results (the worker uses a staff
token); admin, staff and the lecture's teacher assign and correct. A scan belongs to its
student's lecture, or — while the student is unknown — to every lecture the exam is linked to.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, and_, cast, exists, false, func, or_, select

from dashboard.accounts import access
from dashboard.accounts.access import visible_lecture_ids
from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.listing import Page, page_numbers, parse_bool, parse_int
from dashboard.models import (
    MAX_ID,
    Attempt,
    Enrollment,
    ExamQuestion,
    ExamSession,
    LectureSession,
    OmrScan,
    User,
)
from dashboard.omr import grading as rules
from dashboard.serializers import number

INTAKE_ROLES = ("admin", "staff")
REVIEW_ROLES = ("admin", "staff", "teacher")


def require_role(user: User | None, roles: tuple[str, ...], reason: str) -> None:
    """Forbidden for `reason` unless the user has one of `roles`; `user` None is the system
    itself (the omr-simulate command)."""
    if user is not None and user.role not in roles:
        raise Forbidden(reason)


def visible_lectures(user: User | None) -> set[int] | None:
    return None if user is None else visible_lecture_ids(user)


def exam_lecture_ids(exam_id: int) -> list[int]:
    """The lectures with a session linked to the exam, ascending."""
    return access.exam_lecture_ids(exam_id)


def scan_lecture_ids(scan: OmrScan) -> set[int]:
    """The lecture of the scan's student, or every lecture of the exam while the student is unknown."""
    if scan.enrollment_id is not None:
        lecture_id = db.session.execute(
            select(Enrollment.lecture_id).where(Enrollment.id == scan.enrollment_id)
        ).scalar_one_or_none()
        if lecture_id is not None:
            return {lecture_id}
    return set(exam_lecture_ids(scan.exam_id))


def scan_for(user: User | None, scan_id: int) -> OmrScan:
    """The scan, if the caller may see it (NotFound otherwise)."""
    scan = db.session.get(OmrScan, scan_id)
    if scan is None:
        raise NotFound("no_omr_scan")
    visible = visible_lectures(user)
    if visible is not None and not (scan_lecture_ids(scan) & visible):
        raise NotFound("no_omr_scan")
    return scan


def answer_key(exam_id: int) -> list[rules.KeyQuestion]:
    """The exam's answer key, by question number."""
    return [
        rules.KeyQuestion(row.number, row.answer, row.points)
        for row in db.session.execute(
            select(ExamQuestion.number, ExamQuestion.answer, ExamQuestion.points)
            .where(ExamQuestion.exam_id == exam_id).order_by(ExamQuestion.number)
        )
    ]


def candidate_enrollment(exam_id: int, enrollment_id: int | None) -> Enrollment | None:
    """The enrollment, when it is active and in a lecture the exam is linked to."""
    if enrollment_id is None:
        return None
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.withdrawn_at is not None:
        return None
    if enrollment.lecture_id not in exam_lecture_ids(exam_id):
        return None
    return enrollment


def check_enrollment(exam_id: int, enrollment: Enrollment | None, enrollment_id: int, field: str) -> Enrollment:
    """The enrollment a person named, or Invalid saying why it cannot sit this exam."""
    if enrollment is None:
        raise Invalid("no_enrollment", field, id=enrollment_id)
    if enrollment.withdrawn_at is not None:
        raise Invalid("enrollment_id_withdrawn", field, id=enrollment_id)
    if enrollment.lecture_id not in exam_lecture_ids(exam_id):
        raise Invalid("enrollment_not_sitting", field, id=enrollment_id)
    return enrollment


def id_field(data: Mapping[str, Any], name: str, required: bool) -> int | None:
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid("name_required", name, name=name)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid("not_an_id", name, name=name)
    return value



def stored_readings(scan: OmrScan) -> dict[int, rules.Reading]:
    """The worker's readings kept on the scan (they were checked when they arrived)."""
    result = rules.parse_payload(scan.payload)
    return {reading.question: reading for reading in result.answers}


def corrections_of(scan: OmrScan) -> dict[int, frozenset[str]]:
    """A scan's corrections so far (question -> marks), as stored on the scan."""
    return {int(question): frozenset(marks) for question, marks in (scan.corrections or {}).items()}


def current_grading(scan: OmrScan, key: list[rules.KeyQuestion],
                     corrections: Mapping[int, frozenset[str]]) -> rules.Grading:
    readings = rules.with_corrections(stored_readings(scan), corrections)
    return rules.grade(key, readings)



def _scan_select():
    return (
        select(OmrScan, Attempt.attempt_no, Attempt.score)
        .outerjoin(Attempt, Attempt.id == OmrScan.attempt_id)
        .outerjoin(Enrollment, Enrollment.id == OmrScan.enrollment_id)
    )


def visible_condition(visible: set[int] | None):
    if visible is None:
        return None
    if not visible:
        return false()
    lectures = sorted(visible)
    exam_in_visible_lecture = exists(
        select(ExamSession.exam_id)
        .join(LectureSession, LectureSession.id == ExamSession.session_id)
        .where(ExamSession.exam_id == OmrScan.exam_id, LectureSession.lecture_id.in_(lectures))
    )
    return or_(
        and_(OmrScan.enrollment_id.is_not(None), Enrollment.lecture_id.in_(lectures)),
        and_(OmrScan.enrollment_id.is_(None), exam_in_visible_lecture),
    )


def describe(row: Any) -> dict[str, Any]:
    """A scan as the API answers it (SPEC §10): `row` is (OmrScan, attempt_no, score)."""
    scan, attempt_no, score = row
    return {
        "id": scan.id,
        "exam_id": scan.exam_id,
        "enrollment_id": scan.enrollment_id,
        "status": scan.status,
        "review_reasons": list(scan.review_reasons or []),
        "attempt_no": attempt_no,
        "score": number(score),
        "error": scan.error,
    }


def scan_row(scan_id: int) -> Any:
    """The row `describe` takes, for one scan."""
    return db.session.execute(_scan_select().where(OmrScan.id == scan_id)).one()


# `needs_review=true`: a scan waiting for its student, or graded with answers still flagged.
def needs_review_condition():
    has_reasons = cast(OmrScan.review_reasons, Text) != "[]"
    return and_(OmrScan.status.in_(("needs_review", "graded")), has_reasons)


def list_scans(user: User, args: Mapping[str, str]) -> Page:
    """The scans the caller may see, oldest first: filters `needs_review` (true/false), `exam_id`,
    `enrollment_id`, `status`; paginated like every list (`Invalid`, `NotFound`)."""
    page, page_size = page_numbers(args)
    statement = _scan_select()
    condition = visible_condition(visible_lecture_ids(user))
    if condition is not None:
        statement = statement.where(condition)
    raw = args.get("needs_review")
    if raw not in (None, ""):
        needs = needs_review_condition()
        statement = statement.where(needs if parse_bool(raw, "needs_review") else ~needs)
    for name, column in (("exam_id", OmrScan.exam_id), ("enrollment_id", OmrScan.enrollment_id)):
        raw = args.get(name)
        if raw not in (None, ""):
            statement = statement.where(column == parse_int(raw, name))
    raw = args.get("status")
    if raw not in (None, ""):
        if raw not in ("pending", "failed", "needs_review", "graded"):
            raise Invalid("query_scan_status", "status")
        statement = statement.where(OmrScan.status == raw)
    if page < 1:
        raise NotFound("page_out_of_range")
    count = db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    if page > max(1, -(-count // page_size)):
        raise NotFound("page_out_of_range")
    rows = list(db.session.execute(statement.order_by(OmrScan.id).limit(page_size).offset((page - 1) * page_size)))
    return Page(count=count, page=page, page_size=page_size, rows=rows)


@dataclass(frozen=True)
class ReviewAnswer:
    """One key question of a scan as the review queue shows it."""

    question: int
    key: str
    points: Decimal
    detected: list[str] | None
    marking: str | None
    confidence: Decimal | None
    status: str | None
    flags: list[str]
    corrected: bool
    is_correct: bool | None


def review_answers(scan: OmrScan) -> list[ReviewAnswer]:
    """The answers of a scan next to its key, with flags and corrections (for the review page)."""
    if scan.payload is None or scan.status == "failed":
        return []
    key = answer_key(scan.exam_id)
    corrections = corrections_of(scan)
    readings = rules.with_corrections(stored_readings(scan), corrections)
    graded = {answer.question: answer for answer in rules.grade(key, readings).answers}
    rows = []
    for question in key:
        reading = readings.get(question.number)
        rows.append(ReviewAnswer(
            question=question.number,
            key=question.answer,
            points=question.points,
            detected=None if reading is None else sorted(reading.detected),
            marking=None if reading is None else reading.marking,
            confidence=None if reading is None else reading.confidence,
            status=None if reading is None else reading.status,
            flags=sorted(rules.answer_flags(reading, question)) if reading is not None else [],
            corrected=reading is not None and reading.corrected,
            is_correct=graded[question.number].is_correct,
        ))
    return rows

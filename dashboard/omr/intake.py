"""OMR scan intake (SPEC §10): register a scan, take the worker's result, assign the student and
correct answers — in the caller's transaction (services only flush; the request or command
boundary commits once).

The rules (payload reading, flags, grading) are pure functions in `omr/grading.py`; the scans'
lookups and read side are in `omr/scans.py`, the attempt they are graded into in `omr/attempts.py`.

A person's corrections are kept on the scan (`OmrScan.corrections`, question -> marks) and
outlive regrading after an answer-key edit; the audit trail (action `omr_scan.correct`) records
who corrected what, and what the worker had read before.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from dashboard.accounts import access, audit
from dashboard.clock import now
from dashboard.errors import Conflict, Forbidden, Invalid
from dashboard.extensions import db
from dashboard.models import (
    Enrollment,
    Exam,
    OmrScan,
    User,
)
from dashboard.omr import grading as rules
from dashboard.omr.attempts import audit_scan, grade_into_attempt, lock_scan, scan_state
from dashboard.omr.scans import (
    INTAKE_ROLES,
    REVIEW_ROLES,
    answer_key,
    candidate_enrollment,
    check_enrollment,
    corrections_of,
    current_grading,
    exam_lecture_ids,
    id_field,
    require_role,
    scan_for,
    stored_readings,
    visible_lectures,
)

REGISTER_FIELDS = ("exam_id", "enrollment_id")
CORRECT_ACTION = "omr_scan.correct"

# The JSON API reads scans through this module too.
from dashboard.omr.scans import describe, list_scans, scan_row  # noqa: E402,F401,I001


def _may_change_unassigned(user: User, scan: OmrScan) -> bool:
    """Admin and staff act on any scan; a teacher on a scan without its student only when they
    teach every lecture of its exam."""
    return user.role in INTAKE_ROLES or access.can_edit_exam(user, scan.exam_id)


# ---------------------------------------------------------------- registration

def register_scan(user: User | None, data: Any) -> OmrScan:
    """A scanned sheet arrives: `{"exam_id": E, "enrollment_id": N or null}` (admin, staff)."""
    require_role(user, INTAKE_ROLES, "omr_register_forbidden")
    if not isinstance(data, dict):
        raise Invalid("body_not_object")
    for name in data:
        if name not in REGISTER_FIELDS:
            raise Invalid("omr_register_field", name, name=name)
    exam_id = id_field(data, "exam_id", required=True)
    enrollment_id = id_field(data, "enrollment_id", required=False)
    exam = db.session.get(Exam, exam_id)
    if exam is None:
        raise Invalid("no_exam", "exam_id", id=exam_id)
    key = answer_key(exam_id)
    if not key:
        raise Invalid("exam_without_key", "exam_id")
    if sum((q.points for q in key), Decimal(0)) > exam.max_score:
        raise Invalid("key_above_max", "exam_id")
    if not exam_lecture_ids(exam_id):
        raise Invalid("exam_without_session", "exam_id")
    if enrollment_id is not None:
        check_enrollment(exam_id, db.session.get(Enrollment, enrollment_id), enrollment_id, "enrollment_id")
    scan = OmrScan(
        exam_id=exam_id,
        enrollment_id=enrollment_id,
        registered_enrollment_id=enrollment_id,
        status="pending",
        review_reasons=[],
        request={"exam_id": exam_id, "enrollment_id": enrollment_id},
    )
    db.session.add(scan)
    db.session.flush()
    audit_scan("omr_scan.register", scan, None, scan_state(scan), user)
    return scan


# ---------------------------------------------------------------- the worker's result

def record_result(user: User | None, scan_id: int, data: Any) -> tuple[OmrScan, bool]:
    """Take the worker's payload for a scan (SPEC §10). Returns the scan and whether anything changed.

    The same payload again changes nothing (no write at all); a different one regrades the
    attempt, unless a person corrected the scan (409). FAILED fails a pending or needs-review
    scan; a graded scan cannot fail nor change student (409).
    """
    scan = scan_for(user, scan_id)
    require_role(user, INTAKE_ROLES, "omr_result_forbidden")
    result = rules.parse_payload(data)
    raw = audit.json_safe(data)
    lock_scan(scan)
    if scan.payload == raw:
        return scan, False
    if scan.corrected_by_id is not None:
        raise Conflict("scan_corrected")
    if result.failed:
        return _fail(user, scan, result, raw), True

    key = answer_key(scan.exam_id)
    rules.check_questions(result.answers, (q.number for q in key))
    identifier = result.identifier
    # (A graded scan whose enrollment was deleted since has no student to keep: it is identified again.)
    if scan.status == "graded" and scan.enrollment_id is not None:
        named = identifier.enrollment_id if identifier is not None and identifier.status == "ok" else None
        if named is not None and named != scan.enrollment_id:
            raise Conflict("graded_scan_student", "result.identifier.enrollment_id",
                           id=scan.enrollment_id, named=named)
        # The student of a graded scan is settled: its identifier needs no more review.
        identification = rules.Identification(scan.enrollment_id, frozenset())
    else:
        named = identifier.enrollment_id if identifier is not None else None
        is_candidate = scan.registered_enrollment_id is None and candidate_enrollment(scan.exam_id, named) is not None
        identification = rules.identify(identifier, scan.registered_enrollment_id, is_candidate)

    before = scan_state(scan)
    scan.payload = raw
    scan.result_version = result.version
    scan.mode = result.mode
    scan.meta_used = result.meta_used
    scan.error = None
    readings = {reading.question: reading for reading in result.answers}
    grading = rules.grade(key, readings)
    if identification.enrollment_id is None or identification.reasons:
        scan.status = "needs_review"
        scan.enrollment_id = identification.enrollment_id
        scan.review_reasons = rules.review_reasons(grading.reasons, identification.reasons)
        db.session.flush()
    else:
        grade_into_attempt(scan, identification.enrollment_id, grading)
    audit_scan("omr_scan.result", scan, before, scan_state(scan), user)
    return scan, True


def _fail(user: User | None, scan: OmrScan, result: rules.WorkerResult, raw: Any) -> OmrScan:
    if scan.status == "graded":
        raise Conflict("graded_scan_cannot_fail", "status")
    before = scan_state(scan)
    scan.status = "failed"
    scan.error = result.error or "The OMR worker failed without a message."
    scan.payload = raw
    # Reasons describe a reading to check; a failed scan has none.
    scan.review_reasons = []
    db.session.flush()
    audit_scan("omr_scan.fail", scan, before, scan_state(scan), user)
    return scan



def assign_student(user: User | None, scan_id: int, data: Any) -> tuple[OmrScan, bool]:
    """A person says whose sheet it is: `{"enrollment_id": N}`; the scan becomes N's next attempt.

    Only a scan waiting for review can be assigned; assigning a graded scan to its own student
    changes nothing, to another one is a conflict.
    """
    scan = scan_for(user, scan_id)
    require_role(user, REVIEW_ROLES, "omr_assign_forbidden")
    if not isinstance(data, dict):
        raise Invalid("body_not_object")
    for name in data:
        if name != "enrollment_id":
            raise Invalid("omr_assign_field", name, name=name)
    enrollment_id = id_field(data, "enrollment_id", required=True)
    enrollment = db.session.get(Enrollment, enrollment_id)
    visible = visible_lectures(user)
    if enrollment is not None and visible is not None and enrollment.lecture_id not in visible:
        raise Forbidden("enrollment_not_taught")
    check_enrollment(scan.exam_id, enrollment, enrollment_id, "enrollment_id")

    lock_scan(scan)
    if scan.status == "graded":
        if scan.enrollment_id == enrollment_id:
            return scan, False
        raise Conflict("scan_already_graded", "enrollment_id", id=scan.enrollment_id)
    if scan.status != "needs_review":
        raise Conflict("scan_no_result", status=scan.status)
    before = scan_state(scan)
    key = answer_key(scan.exam_id)
    grading = current_grading(scan, key, corrections_of(scan))
    grade_into_attempt(scan, enrollment_id, grading)
    audit_scan("omr_scan.assign", scan, before, scan_state(scan), user)
    return scan, True


def correct_answers(user: User, scan_id: int, data: Any) -> tuple[OmrScan, bool]:
    """A person reads some answers themselves: `{"answers": [{"question": 3, "detected": ["2"]}]}`.

    Those answers count as read (never flagged again); a graded scan is regraded and its
    enrollment recomputed; a scan still waiting for its student keeps the corrections for the
    assignment. Correcting to what is already corrected changes nothing.
    """
    scan = scan_for(user, scan_id)
    require_role(user, REVIEW_ROLES, "omr_correct_forbidden")
    if scan.enrollment_id is None and not _may_change_unassigned(user, scan):
        # The sheet may still go to a student of any of the exam's lectures, whose grade these
        # readings would decide: the rule for shared exams (accounts.access.can_edit_exam).
        raise Forbidden("scan_other_lectures")
    key = answer_key(scan.exam_id)
    wanted = rules.parse_corrections(data, (q.number for q in key))

    lock_scan(scan)
    if scan.status not in ("graded", "needs_review"):
        raise Conflict("scan_no_answers", status=scan.status)
    previous = corrections_of(scan)
    if all(previous.get(question) == marks for question, marks in wanted.items()):
        return scan, False
    before = scan_state(scan)
    corrections = {**previous, **wanted}
    grading = current_grading(scan, key, corrections)
    # corrected_by marks the scan as a person's reading from now on (a new result is then refused).
    scan.corrections = {str(question): sorted(marks) for question, marks in sorted(corrections.items())}
    scan.corrected_by_id = user.id
    scan.corrected_at = now()
    if scan.status == "graded" and scan.enrollment_id is not None:
        grade_into_attempt(scan, scan.enrollment_id, grading)
    else:
        identifier_reasons = [code for code in scan.review_reasons or [] if code in rules.IDENTIFIER_REASONS]
        scan.review_reasons = rules.review_reasons(grading.reasons, identifier_reasons)
        db.session.flush()
    after = scan_state(scan)
    after["corrections"] = [{"question": question, "detected": sorted(marks)}
                            for question, marks in sorted(wanted.items())]
    after["was"] = {str(question): sorted(previous[question]) if question in previous else _read_marks(scan, question)
                    for question in sorted(wanted)}
    audit_scan(CORRECT_ACTION, scan, before, after, user)
    return scan, True


def _read_marks(scan: OmrScan, question: int) -> list[str] | None:
    """What the worker read for a question (None: not answered in the payload)."""
    reading = stored_readings(scan).get(question)
    return None if reading is None else sorted(reading.detected)

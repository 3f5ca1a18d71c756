"""OMR scan intake (SPEC §10): register a scan, take the worker's result, assign the student,
correct answers, regrade after an answer-key edit — and list scans for the API (the review
page's queue is read by omr_review, with `visible_condition` from here).

The rules (payload reading, flags, grading) are pure functions in progress/omr_rules.py; this
module loads what they need, writes the attempt (source "omr") and its answer facts, audits,
and recomputes the enrollment's sessions linked to the exam — in the caller's transaction
(services only flush; the request or command boundary commits once).

Who may do what: admin and staff register scans and post results (the worker uses a staff
token); admin, staff and the lecture's teacher assign and correct. A scan belongs to its
student's lecture, or — while the student is unknown — to every lecture the exam is linked to.

Locking: every write locks the exam's lectures (sorted, like recompute_exam) and then the scan
row, so two posts for one scan, or a post and an answer-key regrade, run one after the other.

A person's corrections are kept on the scan (`OmrScan.corrections`, question -> marks) and
outlive regrading after an answer-key edit; the audit trail (action `omr_scan.correct`) records
who corrected what, and what the worker had read before.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, and_, cast, exists, false, func, or_, select

from dashboard.accounts import access, audit
from dashboard.accounts.access import visible_lecture_ids
from dashboard.clock import now
from dashboard.extensions import db
from dashboard.models import (
    MAX_ID,
    AnswerFact,
    Attempt,
    Enrollment,
    Exam,
    ExamQuestion,
    ExamSession,
    LectureSession,
    OmrScan,
    Student,
    User,
)
from dashboard.omr import grading as rules
from dashboard.progress.recompute import Scope, lock_lecture, recompute
from dashboard.listing import InvalidQuery, Page, PageOutOfRange, page_numbers, parse_bool, parse_int
from dashboard.serializers import number

INTAKE_ROLES = ("admin", "staff")
REVIEW_ROLES = ("admin", "staff", "teacher")
REGISTER_FIELDS = ("exam_id", "enrollment_id")
CORRECT_ACTION = "omr_scan.correct"


class OmrError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class OmrInvalid(OmrError):
    """A value is missing or wrong (400); `field` names it."""


class OmrForbidden(OmrError):
    """The role may not do this, or the enrollment named is in another teacher's lecture (403)."""


class OmrNotFound(OmrError):
    """No such scan among those the caller may see (404)."""


class OmrConflict(OmrError):
    """The scan's state does not allow it (409): a graded scan failing or changing student, a
    new result after a person's correction."""


# ---------------------------------------------------------------- lookups

def _require(user: User | None, roles: tuple[str, ...], message: str) -> None:
    """`user` None is the system itself (the omr-simulate command)."""
    if user is not None and user.role not in roles:
        raise OmrForbidden(message)


def _visible(user: User | None) -> set[int] | None:
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
    """The scan, if the caller may see it (OmrNotFound otherwise)."""
    scan = db.session.get(OmrScan, scan_id)
    if scan is None:
        raise OmrNotFound("No such OMR scan.")
    visible = _visible(user)
    if visible is not None and not (scan_lecture_ids(scan) & visible):
        raise OmrNotFound("No such OMR scan.")
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


def _candidate(exam_id: int, enrollment_id: int | None) -> Enrollment | None:
    """The enrollment, when it is active and in a lecture the exam is linked to."""
    if enrollment_id is None:
        return None
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.withdrawn_at is not None:
        return None
    if enrollment.lecture_id not in exam_lecture_ids(exam_id):
        return None
    return enrollment


def _check_enrollment(exam_id: int, enrollment: Enrollment | None, enrollment_id: int, field: str) -> Enrollment:
    """The enrollment a person named, or OmrInvalid saying why it cannot sit this exam."""
    if enrollment is None:
        raise OmrInvalid(f"There is no enrollment {enrollment_id}.", field)
    if enrollment.withdrawn_at is not None:
        raise OmrInvalid(f"Enrollment {enrollment_id} is withdrawn.", field)
    if enrollment.lecture_id not in exam_lecture_ids(exam_id):
        raise OmrInvalid(f"Enrollment {enrollment_id} is not in a lecture this exam is linked to.", field)
    return enrollment


def _int_field(data: Mapping[str, Any], name: str, required: bool) -> int | None:
    value = data.get(name)
    if value is None:
        if required:
            raise OmrInvalid(f"{name} is required.", name)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise OmrInvalid(f"{name} must be an integer id.", name)
    return value


def _may_change_unassigned(user: User, scan: OmrScan) -> bool:
    """Admin and staff act on any scan; a teacher on a scan without its student only when they
    teach every lecture of its exam."""
    return user.role in INTAKE_ROLES or access.can_edit_exam(user, scan.exam_id)


def _lock(scan: OmrScan) -> None:
    """Lock the exam's lectures, then the scan row, and reload the scan (another request may have
    changed it while we waited)."""
    for lecture_id in exam_lecture_ids(scan.exam_id):
        lock_lecture(lecture_id)
    db.session.execute(select(OmrScan.id).where(OmrScan.id == scan.id).with_for_update())
    db.session.refresh(scan)


def _state(scan: OmrScan) -> dict[str, Any]:
    """What the audit trail keeps of a scan before and after a change."""
    score = None
    if scan.attempt_id is not None:
        score = db.session.execute(select(Attempt.score).where(Attempt.id == scan.attempt_id)).scalar_one_or_none()
    return {
        "status": scan.status,
        "enrollment_id": scan.enrollment_id,
        "review_reasons": list(scan.review_reasons or []),
        "attempt_id": scan.attempt_id,
        "score": score,
        "error": scan.error,
    }


def _audit(action: str, scan: OmrScan, before: Any, after: Any, user: User | None) -> None:
    lectures = sorted(scan_lecture_ids(scan))
    audit.record(action, "omr_scan", scan.id, before, after, user=user,
                 lecture_id=lectures[0] if len(lectures) == 1 else None)


# ---------------------------------------------------------------- registration

def register_scan(user: User | None, data: Any) -> OmrScan:
    """A scanned sheet arrives: `{"exam_id": E, "enrollment_id": N or null}` (admin, staff)."""
    _require(user, INTAKE_ROLES, "Only admins and staff register OMR scans.")
    if not isinstance(data, dict):
        raise OmrInvalid("The body must be a JSON object.")
    for name in data:
        if name not in REGISTER_FIELDS:
            raise OmrInvalid(f"{name} cannot be set when registering a scan.", name)
    exam_id = _int_field(data, "exam_id", required=True)
    enrollment_id = _int_field(data, "enrollment_id", required=False)
    exam = db.session.get(Exam, exam_id)
    if exam is None:
        raise OmrInvalid(f"There is no exam {exam_id}.", "exam_id")
    key = answer_key(exam_id)
    if not key:
        raise OmrInvalid("The exam has no answer key, so a scan of it cannot be graded.", "exam_id")
    if sum((q.points for q in key), Decimal(0)) > exam.max_score:
        raise OmrInvalid("The answer key's points add up to more than the exam's max score.", "exam_id")
    if not exam_lecture_ids(exam_id):
        raise OmrInvalid("The exam is linked to no session, so no enrollment can sit it.", "exam_id")
    if enrollment_id is not None:
        _check_enrollment(exam_id, db.session.get(Enrollment, enrollment_id), enrollment_id, "enrollment_id")
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
    _audit("omr_scan.register", scan, None, _state(scan), user)
    return scan


# ---------------------------------------------------------------- the worker's result

def record_result(user: User | None, scan_id: int, data: Any) -> tuple[OmrScan, bool]:
    """Take the worker's payload for a scan (SPEC §10). Returns the scan and whether anything changed.

    The same payload again changes nothing (no write at all); a different one regrades the
    attempt, unless a person corrected the scan (409). FAILED fails a pending or needs-review
    scan; a graded scan cannot fail nor change student (409).
    """
    scan = scan_for(user, scan_id)
    _require(user, INTAKE_ROLES, "Only admins and staff (the OMR worker) post OMR results.")
    try:
        result = rules.parse_payload(data)
    except rules.PayloadInvalid as exc:
        raise OmrInvalid(exc.message, exc.field) from None
    raw = audit.json_safe(data)
    _lock(scan)
    if scan.payload == raw:
        return scan, False
    if scan.corrected_by_id is not None:
        raise OmrConflict("A person corrected this scan; a new result would overwrite their corrections.")
    if result.failed:
        return _fail(user, scan, result, raw), True

    key = answer_key(scan.exam_id)
    try:
        rules.check_questions(result.answers, (q.number for q in key))
    except rules.PayloadInvalid as exc:
        raise OmrInvalid(exc.message, exc.field) from None
    identifier = result.identifier
    # (A graded scan whose enrollment was deleted since has no student to keep: it is identified again.)
    if scan.status == "graded" and scan.enrollment_id is not None:
        named = identifier.enrollment_id if identifier is not None and identifier.status == "ok" else None
        if named is not None and named != scan.enrollment_id:
            raise OmrConflict(f"The scan is graded for enrollment {scan.enrollment_id}; "
                              f"a new result cannot change its student to {named}.",
                              "result.identifier.enrollment_id")
        # The student of a graded scan is settled: its identifier needs no more review.
        identification = rules.Identification(scan.enrollment_id, frozenset())
    else:
        named = identifier.enrollment_id if identifier is not None else None
        is_candidate = scan.registered_enrollment_id is None and _candidate(scan.exam_id, named) is not None
        identification = rules.identify(identifier, scan.registered_enrollment_id, is_candidate)

    before = _state(scan)
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
        _grade_into_attempt(scan, identification.enrollment_id, grading)
    _audit("omr_scan.result", scan, before, _state(scan), user)
    return scan, True


def _fail(user: User | None, scan: OmrScan, result: rules.WorkerResult, raw: Any) -> OmrScan:
    if scan.status == "graded":
        raise OmrConflict("The scan is graded: it cannot fail. Correct its answers instead.", "status")
    before = _state(scan)
    scan.status = "failed"
    scan.error = result.error or "The OMR worker failed without a message."
    scan.payload = raw
    # Reasons describe a reading to check; a failed scan has none.
    scan.review_reasons = []
    db.session.flush()
    _audit("omr_scan.fail", scan, before, _state(scan), user)
    return scan


def _grade_into_attempt(scan: OmrScan, enrollment_id: int, grading: rules.Grading) -> None:
    """Write the grading as the scan's attempt (the enrollment's next one when it has none yet),
    mark the scan graded and recompute that enrollment's sessions linked to the exam."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    exam = db.session.get(Exam, scan.exam_id)
    if enrollment is None or enrollment.withdrawn_at is not None:
        raise OmrConflict(f"Enrollment {enrollment_id} is withdrawn or gone; assign another student.")
    if grading.score > exam.max_score:
        raise OmrConflict(f"The answer key's points give {grading.score}, more than the exam's max score "
                          f"{exam.max_score}; fix the key first.")
    lock_lecture(enrollment.lecture_id)
    attempt = db.session.get(Attempt, scan.attempt_id) if scan.attempt_id is not None else None
    if attempt is None:
        last = db.session.execute(
            select(func.max(Attempt.attempt_no))
            .where(Attempt.enrollment_id == enrollment_id, Attempt.exam_id == scan.exam_id)
        ).scalar()
        attempt = Attempt(enrollment_id=enrollment_id, exam_id=scan.exam_id, attempt_no=(last or 0) + 1,
                          score=grading.score, submitted_at=scan.created_at, source="omr")
        db.session.add(attempt)
        db.session.flush()
        scan.attempt_id = attempt.id
    elif attempt.source == "omr":
        attempt.score = grading.score
    # else a person typed this attempt's score: it stands, the sheet's answers are still kept (docs/decisions.md)
    _write_facts(attempt.id, grading, _facts_of([attempt.id]).get(attempt.id, {}))
    scan.enrollment_id = enrollment_id
    scan.status = "graded"
    scan.review_reasons = rules.review_reasons(grading.reasons)
    db.session.flush()
    _recompute_enrollment(scan.exam_id, enrollment)


def _facts_of(attempt_ids: list[int]) -> dict[int, dict[int, AnswerFact]]:
    """The stored answer facts of these attempts: attempt id -> question -> fact."""
    facts: dict[int, dict[int, AnswerFact]] = defaultdict(dict)
    if attempt_ids:
        for fact in db.session.execute(
            select(AnswerFact).where(AnswerFact.attempt_id.in_(attempt_ids))
        ).scalars():
            facts[fact.attempt_id][fact.question] = fact
    return facts


def _write_facts(attempt_id: int, grading: rules.Grading, stored: dict[int, AnswerFact]) -> bool:
    """Make the attempt's answer facts match the grading; only what differs is written."""
    changed = False
    wanted = {answer.question: answer for answer in grading.answers}
    for question, fact in stored.items():
        if question not in wanted:
            db.session.delete(fact)
            changed = True
    for question, answer in wanted.items():
        fact = stored.get(question)
        values = (answer.is_correct, answer.invalid_reason, answer.detected)
        if fact is None:
            db.session.add(AnswerFact(attempt_id=attempt_id, question=question, is_correct=answer.is_correct,
                                      invalid_reason=answer.invalid_reason, detected=answer.detected))
            changed = True
        elif (fact.is_correct, fact.invalid_reason, fact.detected) != values:
            fact.is_correct, fact.invalid_reason, fact.detected = values
            changed = True
    return changed


def _recompute_enrollment(exam_id: int, enrollment: Enrollment) -> None:
    """That enrollment, the sessions of its lecture linked to the exam (SPEC §7)."""
    sessions = frozenset(db.session.execute(
        select(LectureSession.id)
        .join(ExamSession, ExamSession.session_id == LectureSession.id)
        .where(ExamSession.exam_id == exam_id, LectureSession.lecture_id == enrollment.lecture_id)
    ).scalars())
    if sessions:
        recompute(Scope(enrollment.lecture_id, frozenset({enrollment.id}), sessions))


# ---------------------------------------------------------------- people: assign and correct

def _stored_readings(scan: OmrScan) -> dict[int, rules.Reading]:
    """The worker's readings kept on the scan (they were checked when they arrived)."""
    result = rules.parse_payload(scan.payload)
    return {reading.question: reading for reading in result.answers}


def corrections_of(scan: OmrScan) -> dict[int, frozenset[str]]:
    """A scan's corrections so far (question -> marks), as stored on the scan."""
    return {int(question): frozenset(marks) for question, marks in (scan.corrections or {}).items()}


def _current_grading(scan: OmrScan, key: list[rules.KeyQuestion],
                     corrections: Mapping[int, frozenset[str]]) -> rules.Grading:
    readings = rules.with_corrections(_stored_readings(scan), corrections)
    return rules.grade(key, readings)


def assign_student(user: User | None, scan_id: int, data: Any) -> tuple[OmrScan, bool]:
    """A person says whose sheet it is: `{"enrollment_id": N}`; the scan becomes N's next attempt.

    Only a scan waiting for review can be assigned; assigning a graded scan to its own student
    changes nothing, to another one is a conflict.
    """
    scan = scan_for(user, scan_id)
    _require(user, REVIEW_ROLES, "Your role may not assign OMR scans.")
    if not isinstance(data, dict):
        raise OmrInvalid("The body must be a JSON object.")
    for name in data:
        if name != "enrollment_id":
            raise OmrInvalid(f"{name} cannot be set when assigning a scan; send enrollment_id.", name)
    enrollment_id = _int_field(data, "enrollment_id", required=True)
    enrollment = db.session.get(Enrollment, enrollment_id)
    visible = _visible(user)
    if enrollment is not None and visible is not None and enrollment.lecture_id not in visible:
        raise OmrForbidden("That enrollment belongs to a lecture you do not teach.")
    _check_enrollment(scan.exam_id, enrollment, enrollment_id, "enrollment_id")

    _lock(scan)
    if scan.status == "graded":
        if scan.enrollment_id == enrollment_id:
            return scan, False
        raise OmrConflict(f"The scan is already graded for enrollment {scan.enrollment_id}.", "enrollment_id")
    if scan.status != "needs_review":
        raise OmrConflict(f"A {scan.status} scan has no result to assign; wait for the worker's result.")
    before = _state(scan)
    key = answer_key(scan.exam_id)
    grading = _current_grading(scan, key, corrections_of(scan))
    _grade_into_attempt(scan, enrollment_id, grading)
    _audit("omr_scan.assign", scan, before, _state(scan), user)
    return scan, True


def correct_answers(user: User, scan_id: int, data: Any) -> tuple[OmrScan, bool]:
    """A person reads some answers themselves: `{"answers": [{"question": 3, "detected": ["2"]}]}`.

    Those answers count as read (never flagged again); a graded scan is regraded and its
    enrollment recomputed; a scan still waiting for its student keeps the corrections for the
    assignment. Correcting to what is already corrected changes nothing.
    """
    scan = scan_for(user, scan_id)
    _require(user, REVIEW_ROLES, "Your role may not correct OMR scans.")
    if scan.enrollment_id is None and not _may_change_unassigned(user, scan):
        # The sheet may still go to a student of any of the exam's lectures, whose grade these
        # readings would decide: the rule for shared exams (accounts.access.can_edit_exam).
        raise OmrForbidden("This scan may belong to a lecture you do not teach; its student must be "
                           "assigned first, or someone who teaches every lecture of the exam must correct it.")
    key = answer_key(scan.exam_id)
    try:
        wanted = rules.parse_corrections(data, (q.number for q in key))
    except rules.PayloadInvalid as exc:
        raise OmrInvalid(exc.message, exc.field) from None

    _lock(scan)
    if scan.status not in ("graded", "needs_review"):
        raise OmrConflict(f"A {scan.status} scan has no answers to correct.")
    previous = corrections_of(scan)
    if all(previous.get(question) == marks for question, marks in wanted.items()):
        return scan, False
    before = _state(scan)
    corrections = {**previous, **wanted}
    grading = _current_grading(scan, key, corrections)
    # corrected_by marks the scan as a person's reading from now on (a new result is then refused).
    scan.corrections = {str(question): sorted(marks) for question, marks in sorted(corrections.items())}
    scan.corrected_by_id = user.id
    scan.corrected_at = now()
    if scan.status == "graded" and scan.enrollment_id is not None:
        _grade_into_attempt(scan, scan.enrollment_id, grading)
    else:
        identifier_reasons = [code for code in scan.review_reasons or [] if code in rules.IDENTIFIER_REASONS]
        scan.review_reasons = rules.review_reasons(grading.reasons, identifier_reasons)
        db.session.flush()
    after = _state(scan)
    after["corrections"] = [{"question": question, "detected": sorted(marks)}
                            for question, marks in sorted(wanted.items())]
    after["was"] = {str(question): sorted(previous[question]) if question in previous else _read_marks(scan, question)
                    for question in sorted(wanted)}
    _audit(CORRECT_ACTION, scan, before, after, user)
    return scan, True


def _read_marks(scan: OmrScan, question: int) -> list[str] | None:
    """What the worker read for a question (None: not answered in the payload)."""
    reading = _stored_readings(scan).get(question)
    return None if reading is None else sorted(reading.detected)


# ---------------------------------------------------------------- answer-key edits

def regrade_exam(exam_id: int, user: User | None = None, recompute_changes: bool = True) -> int:
    """Regrade every scan of the exam against its current answer key (SPEC §7: after the key or
    its points change). Returns how many attempts changed.

    Graded scans get their attempt's score and answer facts rewritten where they differ (a
    person's corrections still apply; answers to questions no longer in the key are dropped),
    unless a person typed the attempt's score since (its source is no longer "omr");
    scans waiting for review get their answer reasons refreshed. With `recompute_changes` (the
    default) the enrollments whose attempts changed are recomputed; a caller that recomputes the
    exam's lectures anyway (the importer) may pass False.
    """
    lectures = exam_lecture_ids(exam_id)
    for lecture_id in lectures:
        lock_lecture(lecture_id)
    scans = list(db.session.execute(
        select(OmrScan).where(OmrScan.exam_id == exam_id, OmrScan.status.in_(("graded", "needs_review")))
        .order_by(OmrScan.id).with_for_update()
    ).scalars())
    if not scans:
        return 0
    exam = db.session.get(Exam, exam_id)
    key = answer_key(exam_id)
    attempts = {
        attempt.id: attempt for attempt in db.session.execute(
            select(Attempt).where(Attempt.id.in_([s.attempt_id for s in scans if s.attempt_id is not None]))
        ).scalars()
    }
    facts = _facts_of(list(attempts))
    changed_enrollments: dict[int, set[int]] = defaultdict(set)
    regraded = 0
    for scan in scans:
        grading = _current_grading(scan, key, corrections_of(scan))
        identifier_reasons = [code for code in scan.review_reasons or [] if code in rules.IDENTIFIER_REASONS]
        reasons = rules.review_reasons(grading.reasons, [] if scan.status == "graded" else identifier_reasons)
        attempt = attempts.get(scan.attempt_id) if scan.attempt_id is not None else None
        if attempt is not None and attempt.source != "omr":
            # A person typed this attempt's score (column entry): the key no longer decides it.
            attempt = None
        if reasons == list(scan.review_reasons or []) and (
            attempt is None or (attempt.score == grading.score and not _facts_differ(grading, facts[attempt.id]))
        ):
            continue
        before = _state(scan)
        scan.review_reasons = reasons
        if attempt is not None and scan.status == "graded":
            if grading.score > exam.max_score:
                raise OmrConflict(f"The answer key's points give {grading.score} on scan {scan.id}, more than "
                                  f"the exam's max score {exam.max_score}.", "questions")
            attempt.score = grading.score
            _write_facts(attempt.id, grading, facts[attempt.id])
            regraded += 1
            changed_enrollments[attempt.enrollment_id].add(scan.id)
        db.session.flush()
        _audit("omr_scan.regrade", scan, before, _state(scan), user)
    if recompute_changes and changed_enrollments:
        _recompute_exam_enrollments(exam_id, set(changed_enrollments))
    return regraded


def _facts_differ(grading: rules.Grading, stored: Mapping[int, AnswerFact]) -> bool:
    wanted = {a.question: (a.is_correct, a.invalid_reason, a.detected) for a in grading.answers}
    have = {q: (f.is_correct, f.invalid_reason, f.detected) for q, f in stored.items()}
    return wanted != have


def _recompute_exam_enrollments(exam_id: int, enrollment_ids: set[int]) -> None:
    rows = db.session.execute(
        select(Enrollment.lecture_id, Enrollment.id).where(Enrollment.id.in_(sorted(enrollment_ids)))
    ).all()
    by_lecture: dict[int, set[int]] = defaultdict(set)
    for lecture_id, enrollment_id in rows:
        by_lecture[lecture_id].add(enrollment_id)
    sessions = db.session.execute(
        select(LectureSession.lecture_id, LectureSession.id)
        .join(ExamSession, ExamSession.session_id == LectureSession.id)
        .where(ExamSession.exam_id == exam_id)
    ).all()
    sessions_by_lecture: dict[int, set[int]] = defaultdict(set)
    for lecture_id, session_id in sessions:
        sessions_by_lecture[lecture_id].add(session_id)
    for lecture_id in sorted(by_lecture):
        if sessions_by_lecture.get(lecture_id):
            lock_lecture(lecture_id)
            recompute(Scope(lecture_id, frozenset(by_lecture[lecture_id]), frozenset(sessions_by_lecture[lecture_id])))


# ---------------------------------------------------------------- reading: the API shape and the queue

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
    `enrollment_id`, `status`; paginated like every list (InvalidQuery, PageOutOfRange)."""
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
            raise InvalidQuery("'status' must be pending, failed, needs_review or graded.", "status")
        statement = statement.where(OmrScan.status == raw)
    if page < 1:
        raise PageOutOfRange(page)
    count = db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    if page > max(1, -(-count // page_size)):
        raise PageOutOfRange(page)
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
    readings = rules.with_corrections(_stored_readings(scan), corrections)
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


# ---------------------------------------------------------------- a demo OMR worker

SIMULATED_KINDS = ("confident", "low-confidence", "blank", "multi-marked", "bad identifier")


@dataclass(frozen=True)
class SimulatedScan:
    """One sheet the demo worker read, and what became of it."""

    scan: OmrScan
    kind: str
    student: str


def simulation_exam(exam_id: int | None) -> int:
    """The exam to simulate: the one given, else the first with an answer key and active students."""
    candidates = select(ExamQuestion.exam_id).distinct()
    if exam_id is not None:
        candidates = candidates.where(ExamQuestion.exam_id == exam_id)
    for candidate in db.session.execute(candidates.order_by(ExamQuestion.exam_id)).scalars():
        if _active_enrollments(candidate):
            return candidate
    if exam_id is not None:
        raise OmrInvalid(f"Exam {exam_id} has no answer key, or no active enrollment may sit it.", "exam")
    raise OmrInvalid("No exam has an answer key and active enrollments; import one (or run `demo`) first.", "exam")


def _active_enrollments(exam_id: int) -> list[tuple[int, str]]:
    lectures = exam_lecture_ids(exam_id)
    if not lectures:
        return []
    return [tuple(row) for row in db.session.execute(
        select(Enrollment.id, Student.name).join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.lecture_id.in_(lectures), Enrollment.withdrawn_at.is_(None))
        .order_by(Enrollment.id)
    )]


def simulate(exam_id: int, count: int, rng: Any) -> list[SimulatedScan]:
    """Register `count` scans of the exam and post worker payloads for them, through the same
    services as the API, cycling through SIMULATED_KINDS over the exam's active enrollments."""
    key = answer_key(exam_id)
    students = _active_enrollments(exam_id)
    made = []
    for i in range(count):
        kind = SIMULATED_KINDS[i % len(SIMULATED_KINDS)]
        enrollment_id, name = students[i % len(students)]
        # A confident sheet is identified by its student-number box; the others were registered.
        registered = None if kind in ("confident", "bad identifier") else enrollment_id
        scan = register_scan(None, {"exam_id": exam_id, "enrollment_id": registered})
        payload = _simulated_payload(kind, key, enrollment_id, rng)
        record_result(None, scan.id, payload)
        made.append(SimulatedScan(scan, kind, name if kind != "bad identifier" else "(unreadable)"))
    return made


def _simulated_payload(kind: str, key: list[rules.KeyQuestion], enrollment_id: int, rng: Any) -> dict[str, Any]:
    answers = []
    for question in key:
        if rng.random() < 0.8:
            marks = sorted(question.marks)
        else:
            wrong = [mark for mark in "12345" if mark not in question.marks] or ["9"]
            marks = [rng.choice(wrong)]
        answers.append({"question": question.number, "detected": marks,
                        "marking": "multi" if len(marks) > 1 else "single",
                        "confidence": round(rng.uniform(0.86, 0.99), 2), "status": "ok"})
    picks = rng.sample(range(len(answers)), k=min(2, len(answers)))
    if kind == "low-confidence":
        for index in picks:
            answers[index]["confidence"] = round(rng.uniform(0.45, 0.65), 2)
    elif kind == "blank":
        answers[picks[0]].update(detected=[], marking="blank", confidence=0.9)
    elif kind == "multi-marked":
        singles = [a for a, q in zip(answers, key) if len(q.marks) == 1] or answers
        target = rng.choice(singles)
        target.update(detected=sorted(rng.sample("12345", 2)), marking="multi", confidence=0.82)
    identifier = ({"status": "blank", "enrollment_id": None} if kind == "bad identifier"
                  else {"status": "ok", "enrollment_id": enrollment_id})
    return {"status": "DONE", "error": None,
            "result": {"version": "demo-worker-1", "mode": "simulated", "meta_used": False,
                       "identifier": identifier, "answers": answers}}

"""A grading written as the scan's attempt (source "omr") and its answer facts, the enrollment's
sessions linked to the exam recomputed, and every change of a scan audited.

Locking: every write locks the exam's lectures (sorted, like recompute_exam) and then the scan
row, so two posts for one scan, or a post and an answer-key regrade, run one after the other.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from dashboard.accounts import audit
from dashboard.extensions import db
from dashboard.models import (
    AnswerFact,
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    LectureSession,
    OmrScan,
    User,
)
from dashboard.omr import grading as rules
from dashboard.errors import Conflict
from dashboard.omr.scans import exam_lecture_ids, scan_lecture_ids
from dashboard.progress.recompute import Scope, lock_lecture, recompute


def lock_scan(scan: OmrScan) -> None:
    """Lock the exam's lectures, then the scan row, and reload the scan (another request may have
    changed it while we waited)."""
    for lecture_id in exam_lecture_ids(scan.exam_id):
        lock_lecture(lecture_id)
    db.session.execute(select(OmrScan.id).where(OmrScan.id == scan.id).with_for_update())
    db.session.refresh(scan)


def scan_state(scan: OmrScan) -> dict[str, Any]:
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


def audit_scan(action: str, scan: OmrScan, before: Any, after: Any, user: User | None) -> None:
    lectures = sorted(scan_lecture_ids(scan))
    audit.record(action, "omr_scan", scan.id, before, after, user=user,
                 lecture_id=lectures[0] if len(lectures) == 1 else None)


def grade_into_attempt(scan: OmrScan, enrollment_id: int, grading: rules.Grading) -> None:
    """Write the grading as the scan's attempt (the enrollment's next one when it has none yet),
    mark the scan graded and recompute that enrollment's sessions linked to the exam."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    exam = db.session.get(Exam, scan.exam_id)
    if enrollment is None or enrollment.withdrawn_at is not None:
        raise Conflict("enrollment_gone", id=enrollment_id)
    if grading.score > exam.max_score:
        raise Conflict("key_score_above_max", score=grading.score, max=exam.max_score)
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
    write_facts(attempt.id, grading, facts_of([attempt.id]).get(attempt.id, {}))
    scan.enrollment_id = enrollment_id
    scan.status = "graded"
    scan.review_reasons = rules.review_reasons(grading.reasons)
    db.session.flush()
    _recompute_enrollment(scan.exam_id, enrollment)


def facts_of(attempt_ids: list[int]) -> dict[int, dict[int, AnswerFact]]:
    """The stored answer facts of these attempts: attempt id -> question -> fact."""
    facts: dict[int, dict[int, AnswerFact]] = defaultdict(dict)
    if attempt_ids:
        for fact in db.session.execute(
            select(AnswerFact).where(AnswerFact.attempt_id.in_(attempt_ids))
        ).scalars():
            facts[fact.attempt_id][fact.question] = fact
    return facts


def write_facts(attempt_id: int, grading: rules.Grading, stored: dict[int, AnswerFact]) -> bool:
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

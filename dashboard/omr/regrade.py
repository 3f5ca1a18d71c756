"""Regrading an exam's scans after its answer key or its points change (SPEC §7).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AnswerFact, Attempt, Exam, OmrScan, User
from dashboard.omr import grading as rules
from dashboard.omr.attempts import audit_scan, facts_of, scan_state, write_facts
from dashboard.errors import Conflict
from dashboard.omr.scans import answer_key, corrections_of, current_grading, exam_lecture_ids
from dashboard.progress.recompute import lock_lecture, recompute_exam


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
    facts = facts_of(list(attempts))
    changed_enrollments: dict[int, set[int]] = defaultdict(set)
    regraded = 0
    for scan in scans:
        grading = current_grading(scan, key, corrections_of(scan))
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
        before = scan_state(scan)
        scan.review_reasons = reasons
        if attempt is not None and scan.status == "graded":
            if grading.score > exam.max_score:
                raise Conflict("scan_score_above_max", "questions", score=grading.score, scan=scan.id,
                               max=exam.max_score)
            attempt.score = grading.score
            write_facts(attempt.id, grading, facts[attempt.id])
            regraded += 1
            changed_enrollments[attempt.enrollment_id].add(scan.id)
        db.session.flush()
        audit_scan("omr_scan.regrade", scan, before, scan_state(scan), user)
    if recompute_changes and changed_enrollments:
        recompute_exam(exam_id, frozenset(changed_enrollments))
    return regraded


def _facts_differ(grading: rules.Grading, stored: Mapping[int, AnswerFact]) -> bool:
    wanted = {a.question: (a.is_correct, a.invalid_reason, a.detected) for a in grading.answers}
    have = {q: (f.is_correct, f.invalid_reason, f.detected) for q, f in stored.items()}
    return wanted != have

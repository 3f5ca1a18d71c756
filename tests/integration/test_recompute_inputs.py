"""A whole-lecture recompute skips the cells whose inputs did not change (their inputs' digest
is the first half of the stored fingerprint). Whatever input changed between two recomputes —
the policy, an exam's pass score, a homework's maximum, a submission, an answer, an attempt, an
activity — the rows equal the per-row reference; and changing the inputs back, to a state whose
digests the stored rows and links still carry, does too.
"""
from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import (
    Activity,
    AnswerFact,
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    LectureSession,
    ProgressPolicy,
    SessionProgress,
)
from dashboard.progress.recompute import recompute_lecture
from tests.academies import academies, load_academy, policies
from tests.integration.test_recompute_equivalence import FIXTURE_OK, check_with_history
from tests.reference import stored_rows


_POLICY_GROUPS = (
    ("video_required_rate",), ("exam_start_session_order", "exam_end_session_order"), ("exam_pass_score",),
    ("exam_aggregate_strategy",), ("exam_pass_source",), ("homework_start_session_order", "homework_end_session_order"),
    ("homework_pass_type",), ("homework_cutline_percent",), ("homework_round_unit",), ("completion_grace_days",),
    ("risk_warning_consecutive", "risk_danger_consecutive"),
)


def _of_lectures(model, lecture_ids, *joins):
    """Every row of `model` that belongs to the lectures, in id order."""
    query = select(model)
    for join in joins:
        query = query.join(*join)
    return db.session.execute(query.where(LectureSession.lecture_id.in_(lecture_ids)).order_by(model.id)
                              ).scalars().unique().all()


def _change_inputs(lecture_ids: list[int], chooser: random.Random, new_policy: dict) -> list:
    """Change some inputs of every kind; answer a function that puts them back."""
    undo = []

    def change(row, **values):
        undo.append((row, {name: getattr(row, name) for name in values}))
        for name, value in values.items():
            setattr(row, name, value)

    for lecture_id in lecture_ids:
        policy = db.session.execute(select(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture_id)).scalar_one()
        if chooser.random() < 0.7:
            # One field (or one pair that is validated together) at a time: a change of one
            # field must be seen on its own.
            fields = chooser.choice(_POLICY_GROUPS)
            change(policy, **{name: new_policy[name] for name in fields})
    for exam in _of_lectures(Exam, lecture_ids, (ExamSession, ExamSession.exam_id == Exam.id),
                             (LectureSession, LectureSession.id == ExamSession.session_id)):
        if chooser.random() < 0.3:
            change(exam, pass_score=chooser.choice((None, Decimal(0), (exam.max_score / 2).quantize(Decimal("0.01")))))
    for homework in _of_lectures(Homework, lecture_ids, (LectureSession, LectureSession.id == Homework.session_id)):
        if chooser.random() < 0.3:
            change(homework, max_score=homework.max_score * 2)
    for submission in _of_lectures(HomeworkSubmission, lecture_ids,
                                   (Homework, Homework.id == HomeworkSubmission.homework_id),
                                   (LectureSession, LectureSession.id == Homework.session_id)):
        if chooser.random() < 0.3:
            change(submission, submitted=not submission.submitted, approved=not submission.approved)
    attempts = _of_lectures(Attempt, lecture_ids, (Enrollment, Enrollment.id == Attempt.enrollment_id),
                            (LectureSession, LectureSession.lecture_id == Enrollment.lecture_id))
    for attempt in attempts:
        if chooser.random() < 0.3:
            change(attempt, score=(attempt.score / 2).quantize(Decimal("0.01")))
    answers = db.session.execute(
        select(AnswerFact).where(AnswerFact.attempt_id.in_([attempt.id for attempt in attempts])).order_by(AnswerFact.id)
    ).scalars().all()
    for answer in answers:
        if chooser.random() < 0.4:
            flagged = chooser.choice((None, "LOW_CONFIDENCE"))
            change(answer, invalid_reason=flagged, is_correct=False if flagged else not answer.is_correct)
    for activity in _of_lectures(Activity, lecture_ids, (LectureSession, LectureSession.id == Activity.session_id)):
        if chooser.random() < 0.3:
            change(activity, video_rate=chooser.choice((0, 89, 90, 91, 100)),
                   attendance=chooser.choice(("online", "offline")))
    db.session.flush()

    def put_back():
        for row, values in reversed(undo):
            for name, value in values.items():
                setattr(row, name, value)
        db.session.flush()
    return put_back


@FIXTURE_OK
@given(academy=academies(), new_policy=policies(), seed=st.integers(0, 2**16))
def test_changed_inputs_then_the_same_inputs_again_match_the_reference(app, academy, new_policy, seed):
    try:
        lecture_ids = load_academy(academy)
        for lecture_id in lecture_ids:
            recompute_lecture(lecture_id)
        logged = {lecture_id: stored_rows(lecture_id).risk_findings for lecture_id in lecture_ids}
        put_back = _change_inputs(lecture_ids, random.Random(seed), new_policy)
        for lecture_id in lecture_ids:
            recompute_lecture(lecture_id)
        check_with_history(lecture_ids, logged)
        for lecture_id in lecture_ids:
            logged[lecture_id] |= stored_rows(lecture_id).risk_findings
        put_back()
        for lecture_id in lecture_ids:
            recompute_lecture(lecture_id)
        check_with_history(lecture_ids, logged)
    finally:
        db.session.rollback()


def test_a_cell_whose_inputs_did_not_change_is_not_computed_again(app, monkeypatch):
    """The second of two recomputes computes no cell (and writes none); after an input of one cell
    changed, it computes that one cell."""
    from dashboard.progress import rules
    from tests.academies import build_lecture

    lecture_id = build_lecture(6, 5, 1, 1, seed=3)
    recompute_lecture(lecture_id)
    computed = []
    original = rules.session_outcome
    monkeypatch.setattr(rules, "session_outcome", lambda *args: computed.append(args[1].id) or original(*args))
    recompute_lecture(lecture_id)
    assert computed == []
    activity = db.session.execute(select(Activity).join(Enrollment).where(Enrollment.lecture_id == lecture_id)
                                  .order_by(Activity.id)).scalars().first()
    activity.video_rate = (activity.video_rate + 37) % 101
    db.session.flush()
    recompute_lecture(lecture_id)
    assert computed == [activity.session_id]
    stored = db.session.execute(select(SessionProgress.video_progress_rate).where(
        SessionProgress.enrollment_id == activity.enrollment_id, SessionProgress.session_id == activity.session_id
    )).scalar_one()
    assert stored == activity.video_rate


def test_a_row_rewritten_only_for_its_inputs_keeps_its_updated_at(app):
    """A row whose inputs' half differs (as rows written before the halves did) but whose values
    did not change gets its fingerprint rewritten and keeps its updated_at."""
    from datetime import datetime, timezone

    from tests.academies import build_lecture

    lecture_id = build_lecture(3, 4, 1, 1, seed=5)
    recompute_lecture(lecture_id)
    row = db.session.execute(select(SessionProgress).join(Enrollment).where(Enrollment.lecture_id == lecture_id)
                             .order_by(SessionProgress.id)).scalars().first()
    fingerprint, earlier = row.fingerprint, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    row.fingerprint, row.updated_at = "0" * 20 + fingerprint[20:], earlier
    db.session.flush()
    recompute_lecture(lecture_id)
    db.session.expire(row)
    assert row.fingerprint == fingerprint
    assert row.updated_at == earlier

"""The service layer for a cell's inputs (dashboard/lectures/cells.py), on both databases: permissions,
validation that names the field and writes nothing, the recompute scope, attempt numbering,
and the audit trail. Academy: tests/web/factories.build_academy (today 2026-04-01)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.lectures import cells as inputs
from dashboard.extensions import db
from dashboard.models import Activity, Attempt, AuditLog, HomeworkSubmission, SessionProgress
from dashboard.progress.recompute import recompute_lecture

from tests.factories import KST, build_academy, make_exam, make_homework


@pytest.fixture
def academy(app):
    return build_academy()


def progress(enrollment, session) -> SessionProgress:
    return db.session.execute(
        select(SessionProgress).where(SessionProgress.enrollment_id == enrollment.id,
                                      SessionProgress.session_id == session.id)
        .execution_options(populate_existing=True)
    ).scalar_one()


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


# ---------------------------------------------------------------- activity

def test_set_activity_recomputes_only_that_cell(academy):
    """Park's Week 1 with video 90 (= the required 90) -> completed; Week 2's row is not rewritten."""
    admin = academy.users["admin"]
    week1, week2 = academy.weeks[0], academy.weeks[1]
    untouched_at = progress(academy.park, week2).calculated_at
    change = inputs.set_activity(admin, academy.park.id, week1.id, attendance="online", video_rate=90)
    assert change == inputs.CellChange(academy.algebra.id, academy.park.id, frozenset({week1.id}), 1)
    assert progress(academy.park, week1).completed is True
    assert progress(academy.park, week2).calculated_at == untouched_at


def test_set_activity_updates_the_existing_record_and_audits_before_and_after(academy):
    teacher = academy.users["teacher_a"]
    week1 = academy.weeks[0]
    inputs.set_activity(teacher, academy.minji.id, week1.id, attendance="offline", video_rate=10)
    assert count(Activity) == 3  # Minji's three rows, one of them changed
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "activity.set")).scalar_one()
    assert entry.before == {"attendance": "online", "video_rate": 95, "presence": None}
    assert entry.after["attendance"] == "offline" and entry.after["video_rate"] == 10
    assert (entry.username, entry.lecture_id) == ("teacher_a", academy.algebra.id)
    assert progress(academy.minji, week1).completed is True  # offline counts as watched


def test_saving_the_same_values_again_records_no_audit_row(academy):
    teacher = academy.users["teacher_a"]
    week1 = academy.weeks[0]
    # Minji's Week 1 is online at 95 already: a save of the same values is not a change.
    inputs.set_activity(teacher, academy.minji.id, week1.id, attendance="online", video_rate=95)
    assert count(AuditLog) == 0
    inputs.set_activity(teacher, academy.minji.id, week1.id, attendance="online", video_rate=96)
    inputs.set_activity(teacher, academy.minji.id, week1.id, attendance="online", video_rate=96)
    assert count(AuditLog) == 1


def test_an_attempt_edit_that_changes_nothing_records_nothing(academy):
    attempt = db.session.execute(select(Attempt).where(Attempt.enrollment_id == academy.jisoo.id)).scalar_one()
    inputs.edit_attempt(academy.users["admin"], attempt.id, score=attempt.score, submitted_at=attempt.submitted_at)
    assert count(AuditLog) == 0
    inputs.edit_attempt(academy.users["admin"], attempt.id, score=45, submitted_at=attempt.submitted_at)
    assert count(AuditLog) == 1


@pytest.mark.parametrize("value", [101, -1, True, 1.5, "3", None])
def test_invalid_video_rate_names_the_field_and_writes_nothing(academy, value):
    with pytest.raises(Invalid) as refused:
        inputs.set_activity(academy.users["admin"], academy.park.id, academy.weeks[0].id,
                            attendance="online", video_rate=value if value != "3" else 3.0)
    assert refused.value.field == "video_rate"
    assert count(Activity) == 3


def test_invalid_attendance(academy):
    with pytest.raises(Invalid) as refused:
        inputs.set_activity(academy.users["admin"], academy.park.id, academy.weeks[0].id,
                            attendance="hybrid", video_rate=50)
    assert refused.value.field == "attendance"


def test_parse_video_rate_from_form_text():
    assert inputs.parse_video_rate("0") == 0 and inputs.parse_video_rate(" 100 ") == 100
    for text in ("1_0", "١٠", "+5", "5.0", "", "1e2"):
        with pytest.raises(Invalid):
            inputs.parse_video_rate(text)


# ---------------------------------------------------------------- who may edit

def test_staff_may_not_edit_and_another_teacher_does_not_see(academy):
    week1 = academy.weeks[0]
    with pytest.raises(Forbidden):
        inputs.set_activity(academy.users["staff"], academy.park.id, week1.id, attendance="online", video_rate=95)
    with pytest.raises(NotFound):
        inputs.set_activity(academy.users["teacher_b"], academy.park.id, week1.id, attendance="online",
                            video_rate=95)
    with pytest.raises(NotFound):  # a session of another lecture
        inputs.set_activity(academy.users["admin"], academy.park.id, academy.geometry_week.id, attendance="online",
                            video_rate=95)
    assert count(Activity) == 3


def test_a_withdrawn_enrollment_is_frozen(academy):
    with pytest.raises(Invalid):
        inputs.set_activity(academy.users["admin"], academy.choi.id, academy.weeks[0].id, attendance="online",
                            video_rate=95)
    assert count(Activity) == 3


# ---------------------------------------------------------------- homework

def test_homework_submission_score_rules(academy):
    """SCORE is not the pass type here (TEACHER_APPROVAL), but a score must still be exact and within max 50."""
    homework = make_homework(academy.weeks[2], max_score=50)
    recompute_lecture(academy.algebra.id)
    admin = academy.users["admin"]
    for score in (Decimal("50.01"), Decimal("-0.5"), Decimal("12.345"), "12", True):
        with pytest.raises(Invalid) as refused:
            inputs.set_homework_submission(admin, academy.minji.id, homework.id, submitted=True, score=score,
                                           approved=False)
        assert refused.value.field == "score"
    assert count(HomeworkSubmission) == 0
    inputs.set_homework_submission(admin, academy.minji.id, homework.id, submitted=True, score=Decimal("49.99"),
                                   approved=True)
    row = progress(academy.minji, academy.weeks[2])
    assert (row.homework_submitted, row.homework_passed, row.completed) == (True, True, True)
    inputs.set_homework_submission(admin, academy.minji.id, homework.id, submitted=True, score=None, approved=False)
    assert progress(academy.minji, academy.weeks[2]).completed is False


# ---------------------------------------------------------------- attempts

def test_an_attempt_recomputes_every_session_linked_to_its_exam(academy):
    """A midterm linked to Weeks 2 and 3. Park (video 0) scores 80 >= 60. Week 3: the midterm
    alone -> passes. Week 2: the quiz has no result for Park and takes no part; MAX over the
    exams with a result is the midterm's 80 against its 60 -> passes. Both in one call."""
    admin = academy.users["admin"]
    week2, week3 = academy.weeks[1], academy.weeks[2]
    midterm = make_exam([week2, week3], pass_score=60)
    recompute_lecture(academy.algebra.id)
    assert progress(academy.park, week2).exam_passed is False
    assert progress(academy.park, week3).exam_passed is False
    attempt, change = inputs.add_attempt(admin, academy.park.id, midterm.id, score=Decimal("80"),
                                         submitted_at=datetime(2026, 3, 16, 10, 0, tzinfo=KST))
    assert change.session_ids == frozenset({week2.id, week3.id})
    assert attempt.attempt_no == 1 and attempt.source == "manual"
    for week in (week2, week3):
        row = progress(academy.park, week)
        assert (row.exam_attempted, row.exam_aggregate_score, row.exam_passed) == (True, Decimal("80"), True)
        assert row.completed is False  # video 0

def test_attempt_numbers_follow_on_and_delete_falls_back(academy):
    """Jisoo has attempt 1 (40, at 03-09 10:05). Attempt 2: 70 at 03-10 -> the result, passes.
    Deleting attempt 2 brings back 40: fails again."""
    admin = academy.users["admin"]
    week2 = academy.weeks[1]
    second, _change = inputs.add_attempt(admin, academy.jisoo.id, academy.quiz.id, score=70,
                                         submitted_at=datetime(2026, 3, 10, 9, 0, tzinfo=KST))
    assert second.attempt_no == 2
    row = progress(academy.jisoo, week2)
    assert (row.exam_aggregate_score, row.exam_passed) == (Decimal("70"), True)
    inputs.edit_attempt(admin, second.id, score=Decimal("59.99"), submitted_at=second.submitted_at)
    assert progress(academy.jisoo, week2).exam_passed is False
    inputs.delete_attempt(admin, second.id)
    row = progress(academy.jisoo, week2)
    assert (row.exam_aggregate_score, row.exam_passed) == (Decimal("40"), False)
    actions = db.session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars().all()
    assert actions == ["attempt.create", "attempt.update", "attempt.delete"]


def test_attempt_validation(academy):
    admin = academy.users["admin"]
    for score in (Decimal("100.01"), Decimal("-1"), 72.505, "70"):
        with pytest.raises(Invalid) as refused:
            inputs.add_attempt(admin, academy.jisoo.id, academy.quiz.id, score=score, submitted_at=None)
        assert refused.value.field == "score"
    with pytest.raises(Invalid) as refused:
        inputs.add_attempt(admin, academy.jisoo.id, academy.quiz.id, score=50,
                           submitted_at=datetime(2026, 3, 10, 9, 0))  # naive
    assert refused.value.field == "submitted_at"
    geometry_exam = make_exam([academy.geometry_week])
    with pytest.raises(NotFound):  # not linked to a session of Algebra
        inputs.add_attempt(admin, academy.jisoo.id, geometry_exam.id, score=50, submitted_at=None)
    assert count(Attempt) == 2


def test_parse_score_text():
    assert inputs.parse_score_text("72.50") == Decimal("72.5")
    assert inputs.parse_score_text(" ", required=False) is None
    for text in ("72.505", "abc", "NaN", "Infinity", ""):
        with pytest.raises(Invalid):
            inputs.parse_score_text(text)

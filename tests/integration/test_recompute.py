"""The set-based recompute against hand-worked cases, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import (
    Activity,
    AnswerFact,
    Attempt,
    ClinicLink,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    RiskLog,
    SessionProgress,
    Student,
)
from dashboard.progress.recompute import Scope, ensure_fresh, recompute, recompute_exam, recompute_lecture

TODAY = date(2026, 4, 1)  # tests/conftest.py fixes DASHBOARD_TODAY to this


def add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def make_lecture(n_sessions=4, dates=None, **policy):
    lecture = add(Lecture(title="Algebra II"))
    add(ProgressPolicy(lecture_id=lecture.id, **policy))
    sessions = []
    for i in range(n_sessions):
        day = dates[i] if dates else None
        sessions.append(add(LectureSession(lecture_id=lecture.id, order=i + 1, title=f"Week {i + 1}", date=day)))
    return lecture, sessions


def enroll(lecture, name="Kim Minji", start_date=None):
    student = add(Student(name=name))
    return add(Enrollment(student_id=student.id, lecture_id=lecture.id, start_date=start_date))


def exam_for(session, pass_score=None, max_score=100):
    exam = add(Exam(title="Quiz", pass_score=pass_score, max_score=Decimal(max_score)))
    add(ExamSession(exam_id=exam.id, session_id=session.id))
    return exam


def cell(enrollment, session):
    return db.session.execute(
        select(SessionProgress).where(SessionProgress.enrollment_id == enrollment.id,
                                      SessionProgress.session_id == session.id)
    ).scalar_one_or_none()


def lecture_row(enrollment):
    return db.session.execute(
        select(LectureProgress).where(LectureProgress.enrollment_id == enrollment.id)
    ).scalar_one()


def test_student_who_does_nothing_fails_every_due_session(app):
    # 4 undated sessions (held and due); session 1 is outside the default exam/homework range (start 2),
    # so only video fails there. Nothing done at all -> 4 due, 0 completed, DANGER (>= 3).
    lecture, sessions = make_lecture(4)
    student = enroll(lecture)
    assert recompute_lecture(lecture.id) == 4
    row = lecture_row(student)
    assert (row.total_sessions, row.completed_sessions, row.failed_sessions) == (4, 0, 4)
    assert row.consecutive_failed_sessions == 4
    assert row.risk_level == "DANGER"
    assert row.last_session_id == sessions[3].id
    first = cell(student, sessions[0])
    assert first.video_completed is False and first.exam_passed is True and first.homework_passed is True
    assert first.exam_meta["note"] == "out_of_exam_range"
    assert cell(student, sessions[1]).exam_meta["note"] == "no_exams_in_session"
    links = db.session.execute(select(ClinicLink.session_id, ClinicLink.reason)).all()
    assert sorted(links) == sorted((s.id, "AUTO_FAILED") for s in sessions)
    logs = db.session.execute(select(RiskLog.risk_level, RiskLog.rule, RiskLog.session_id)).all()
    assert logs == [("DANGER", "CONSECUTIVE_INCOMPLETE", sessions[3].id)]


def test_completion_and_completed_at_set_and_cleared(app):
    lecture, sessions = make_lecture(2)
    student = enroll(lecture)
    exam = exam_for(sessions[1], pass_score=Decimal("60"))
    add(Activity(enrollment_id=student.id, session_id=sessions[1].id, attendance="offline", video_rate=0))
    attempt = add(Attempt(enrollment_id=student.id, exam_id=exam.id, attempt_no=1, score=Decimal("60.00")))
    recompute_lecture(lecture.id)
    second = cell(student, sessions[1])
    # offline -> video done; 60.00 >= 60 passes; no homework -> passes.
    assert second.completed is True and second.completed_at is not None
    assert second.exam_aggregate_score == Decimal("60")
    assert second.exam_meta["exams"][0]["passed"] is True
    attempt.score = Decimal("59.99")
    db.session.flush()
    recompute(Scope(lecture.id, frozenset({student.id}), frozenset({sessions[1].id})))
    db.session.expire_all()
    second = cell(student, sessions[1])
    assert second.completed is False and second.completed_at is None
    assert second.exam_passed is False


def test_upcoming_and_not_counted_sessions_have_no_row(app):
    dates = [date(2026, 3, 1), date(2026, 3, 28), date(2026, 4, 2), date(2026, 2, 1)]
    lecture, sessions = make_lecture(4, dates=dates)
    student = enroll(lecture, start_date=date(2026, 2, 15))
    recompute_lecture(lecture.id)
    # session 3 is upcoming; session 4 is dated before the student's start -> not counted.
    assert cell(student, sessions[2]) is None
    assert cell(student, sessions[3]) is None
    row = lecture_row(student)
    # held: s1 (due: 3/1 + 7 <= 4/1), s2 (3/28 + 7 > 4/1: held, not due)
    assert (row.completed_sessions, row.failed_sessions, row.consecutive_failed_sessions) == (0, 1, 1)
    assert row.last_session_id == sessions[0].id
    assert row.risk_level == "NORMAL"


def test_session_that_stops_being_held_loses_its_row_and_resolves_link(app):
    lecture, sessions = make_lecture(2, dates=[date(2026, 3, 1), date(2026, 3, 2)])
    student = enroll(lecture)
    recompute_lecture(lecture.id)
    assert cell(student, sessions[1]) is not None
    sessions[1].date = date(2026, 5, 1)
    db.session.flush()
    recompute_lecture(lecture.id)
    assert cell(student, sessions[1]) is None
    link = db.session.execute(select(ClinicLink).where(ClinicLink.session_id == sessions[1].id)).scalar_one()
    assert link.resolved_at is not None and link.meta["auto_resolved"] is True


def test_recompute_twice_changes_nothing(app):
    lecture, sessions = make_lecture(3)
    student = enroll(lecture)
    exam = exam_for(sessions[1], pass_score=Decimal("70"))
    add(Attempt(enrollment_id=student.id, exam_id=exam.id, attempt_no=1, score=Decimal("65")))
    recompute_lecture(lecture.id)
    before = _derived_state()
    assert recompute_lecture(lecture.id) == 3
    assert _derived_state() == before


def test_exam_risk_link_on_every_held_session_linked_to_the_exam(app):
    lecture, sessions = make_lecture(3, exam_start_session_order=3)
    student = enroll(lecture)
    exam = exam_for(sessions[0], pass_score=Decimal("50"))
    add(ExamSession(exam_id=exam.id, session_id=sessions[1].id))
    first = add(Attempt(enrollment_id=student.id, exam_id=exam.id, attempt_no=1, score=Decimal("80")))
    second = add(Attempt(enrollment_id=student.id, exam_id=exam.id, attempt_no=2, score=Decimal("90")))
    for attempt in (first, second):
        add(AnswerFact(attempt_id=attempt.id, question=3, is_correct=False, invalid_reason=None))
    add(AnswerFact(attempt_id=second.id, question=4, is_correct=False, invalid_reason="LOW_CONFIDENCE"))
    recompute_exam(exam.id)
    links = db.session.execute(
        select(ClinicLink.session_id, ClinicLink.meta).where(ClinicLink.reason == "AUTO_RISK")
    ).all()
    # sessions 1 and 2 are out of exam range (start 3) but still get the link; only 1 low-confidence fact.
    assert sorted(s for s, _ in links) == [sessions[0].id, sessions[1].id]
    assert links[0][1] == {"exam_reasons": {str(exam.id): {"REPEATED_WRONG": {"questions": [3]}}}}


def test_person_acted_link_is_left_alone(app):
    lecture, sessions = make_lecture(1)
    student = enroll(lecture)
    recompute_lecture(lecture.id)
    link = db.session.execute(select(ClinicLink)).scalar_one()
    link.approved = True
    link.auto_managed = False
    add(Activity(enrollment_id=student.id, session_id=sessions[0].id, attendance="offline"))
    recompute_lecture(lecture.id)
    db.session.expire_all()
    link = db.session.execute(select(ClinicLink)).scalar_one()
    assert link.resolved_at is None  # cause gone, but a person acted: untouched


def test_homework_score_rounding_in_a_recompute(app):
    lecture, sessions = make_lecture(2, homework_pass_type="SCORE", video_required_rate=0)
    student = enroll(lecture)
    homework = add(Homework(session_id=sessions[1].id, title="Worksheet", max_score=Decimal(200)))
    add(HomeworkSubmission(enrollment_id=student.id, homework_id=homework.id, submitted=True,
                           score=Decimal("155.00"), approved=False))
    recompute_lecture(lecture.id)
    # 155/200 = 77.5% -> rounds half-up to 80 with unit 5 -> passes cutline 80.
    assert cell(student, sessions[1]).homework_passed is True
    sub = db.session.execute(select(HomeworkSubmission)).scalar_one()
    sub.score = Decimal("154.99")  # 77.495% -> 75
    db.session.flush()
    recompute(Scope(lecture.id, frozenset({student.id}), frozenset({sessions[1].id})))
    db.session.expire_all()
    assert cell(student, sessions[1]).homework_passed is False


def test_read_path_recomputes_when_the_day_changed(app):
    lecture, sessions = make_lecture(2, dates=[date(2026, 3, 1), date(2026, 4, 3)])
    student = enroll(lecture)
    recompute_lecture(lecture.id)
    assert cell(student, sessions[1]) is None
    assert ensure_fresh(lecture.id) is False
    app.config["DASHBOARD_TODAY"] = "2026-04-05"
    assert ensure_fresh(lecture.id) is True
    assert cell(student, sessions[1]) is not None
    assert db.session.get(Lecture, lecture.id).recomputed_for == date(2026, 4, 5)


def test_withdrawn_enrollment_is_frozen(app):
    lecture, sessions = make_lecture(2)
    student = enroll(lecture)
    recompute_lecture(lecture.id)
    before = _derived_state()
    student.withdrawn_at = datetime(2026, 3, 30, tzinfo=timezone.utc)
    add(Activity(enrollment_id=student.id, session_id=sessions[0].id, attendance="offline"))
    recompute_lecture(lecture.id)
    assert _derived_state() == before


def _derived_state():
    db.session.expire_all()
    cells = db.session.execute(
        select(SessionProgress.enrollment_id, SessionProgress.session_id, SessionProgress.completed,
               SessionProgress.exam_meta, SessionProgress.completed_at, SessionProgress.updated_at)
        .order_by(SessionProgress.id)
    ).all()
    lectures = db.session.execute(
        select(LectureProgress.enrollment_id, LectureProgress.risk_level, LectureProgress.failed_sessions,
               LectureProgress.updated_at).order_by(LectureProgress.id)
    ).all()
    links = db.session.execute(
        select(ClinicLink.id, ClinicLink.reason, ClinicLink.resolved_at, ClinicLink.meta).order_by(ClinicLink.id)
    ).all()
    logs = db.session.execute(select(func.count(RiskLog.id))).scalar_one()
    return cells, lectures, links, logs

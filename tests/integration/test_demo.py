"""`flask --app wsgi demo`: an empty database gets a demo academy where every status shows; a full one is refused."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import func, select

from dashboard.accounts import users as accounts
from dashboard.demo import build_demo_snapshot
from dashboard.extensions import db
from dashboard.models import (
    AnswerFact,
    ClinicLink,
    Exam,
    ExamQuestion,
    ExamSession,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    SessionProgress,
    Student,
    TeacherLecture,
)

TODAY = date(2026, 4, 1)  # DASHBOARD_TODAY of the test app


def count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_demo_fills_an_empty_database(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    for login in ("admin", "teacher", "staff", "demo1234"):
        assert login in result.output
    db.session.rollback()  # read what the command committed

    assert count(Lecture) == 3
    assert 25 <= count(Student) <= 40
    sessions_per_lecture = Counter(db.session.execute(select(LectureSession.lecture_id)).scalars())
    assert all(12 <= n <= 16 for n in sessions_per_lecture.values()), sessions_per_lecture
    assert any("고등 수학" in title for title in db.session.execute(select(Lecture.title)).scalars())

    # Dates around today: upcoming sessions, and held ones still inside the grace window.
    grace = dict(db.session.execute(select(ProgressPolicy.lecture_id, ProgressPolicy.completion_grace_days)).all())
    for lecture_id, days in grace.items():
        dates = db.session.execute(select(LectureSession.date).where(LectureSession.lecture_id == lecture_id)).scalars()
        dates = list(dates)
        assert any(d > TODAY for d in dates)
        assert any(TODAY - timedelta(days=days) < d <= TODAY for d in dates)

    policies = db.session.execute(select(ProgressPolicy.exam_aggregate_strategy, ProgressPolicy.homework_pass_type)).all()
    assert {p.exam_aggregate_strategy for p in policies} == {"MAX", "AVG", "LATEST"}
    assert "SCORE" in {p.homework_pass_type for p in policies}

    # Answer keys, and sessions with two exams.
    assert count(ExamQuestion) == 10 * count(Exam)
    exams_per_session = Counter(db.session.execute(select(ExamSession.session_id)).scalars())
    assert max(exams_per_session.values()) == 2

    # Every status and risk level appears.
    assert set(db.session.execute(select(LectureProgress.risk_level)).scalars()) == {"NORMAL", "WARNING", "DANGER"}
    assert set(db.session.execute(select(SessionProgress.completed)).scalars()) == {True, False}
    notes = {meta["note"] for meta in db.session.execute(select(SessionProgress.exam_meta)).scalars()}
    assert notes == {None, "no_results", "no_exams_in_session", "out_of_exam_range"}
    assert set(db.session.execute(select(ClinicLink.reason)).scalars()) == {"AUTO_FAILED", "AUTO_RISK"}
    risk_reasons = set()
    for meta in db.session.execute(select(ClinicLink.meta).where(ClinicLink.reason == "AUTO_RISK")).scalars():
        for reasons in meta["exam_reasons"].values():
            risk_reasons |= set(reasons)
    assert risk_reasons == {"LOW_SCORE", "LOW_CONFIDENCE_OMR", "REPEATED_WRONG"}
    assert count(AnswerFact, AnswerFact.invalid_reason == "LOW_CONFIDENCE") > 0

    # Demo logins; the teacher teaches the first lecture.
    for username, role in (("admin", "admin"), ("teacher", "teacher"), ("staff", "staff")):
        user = accounts.user_by_username(username)
        assert user.role == role and accounts.check_password(user, "demo1234")
    teacher = accounts.user_by_username("teacher")
    assert db.session.execute(select(TeacherLecture.lecture_id).where(TeacherLecture.user_id == teacher.id)
                              ).scalars().all() == [1]


def test_demo_refuses_a_database_that_holds_anything(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    students = count(Student)

    again = runner.invoke(args=["demo"])
    assert again.exit_code != 0
    assert "not empty" in again.output
    db.session.rollback()
    assert count(Student) == students and count(Lecture) == 3


def test_demo_refuses_when_only_a_user_exists(app, runner):
    accounts.create_user("owner", "a-long-password", "admin")
    db.session.commit()
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0 and "not empty" in result.output
    db.session.rollback()
    assert count(Lecture) == 0


def test_demo_snapshot_is_deterministic():
    first, second = build_demo_snapshot(TODAY), build_demo_snapshot(TODAY)
    assert first == second
    assert len({s["name"] for s in first["students"]}) == len(first["students"])


def test_demo_has_guardians_notes_and_messages(app, runner):
    from dashboard.models import CounsellingNote, Guardian, Notification

    assert runner.invoke(args=["demo"]).exit_code == 0
    db.session.rollback()

    phones = db.session.execute(select(Guardian.phone)).scalars().all()
    assert len(phones) == 32 + 11  # a mother each, a father for every third student (0, 3, ..., 30)
    assert all(phone.startswith("0100000") for phone in phones)
    assert all(email.endswith("@example.com") for email in db.session.execute(
        select(Guardian.email).where(Guardian.email.is_not(None))).scalars())
    assert count(CounsellingNote) == 3
    events = Counter(db.session.execute(select(Notification.event)).scalars())
    assert events["absence"] >= 1 and sum(events.values()) >= 3

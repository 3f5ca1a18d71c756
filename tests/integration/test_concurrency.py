"""Concurrent writers on one lecture (PostgreSQL): the lecture lock serialises them, and the
final derived state equals a fresh full recompute from the stored facts."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from dashboard.extensions import db
from dashboard.models import (
    Activity,
    Attempt,
    ClinicLink,
    Enrollment,
    Exam,
    ExamSession,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    RiskLog,
    SessionProgress,
    Student,
)
from dashboard.progress.recompute import Scope, lock_lecture, recompute, recompute_lecture


def _derived_values():
    db.session.expire_all()
    cells = db.session.execute(
        select(SessionProgress.enrollment_id, SessionProgress.session_id, SessionProgress.fingerprint,
               SessionProgress.completed).order_by(SessionProgress.enrollment_id, SessionProgress.session_id)
    ).all()
    lectures = db.session.execute(
        select(LectureProgress.enrollment_id, LectureProgress.fingerprint).order_by(LectureProgress.enrollment_id)
    ).all()
    links = db.session.execute(
        select(ClinicLink.enrollment_id, ClinicLink.session_id, ClinicLink.reason, ClinicLink.resolved_at.is_(None))
        .order_by(ClinicLink.enrollment_id, ClinicLink.session_id, ClinicLink.reason)
    ).all()
    return cells, lectures, links


def _build(students: int = 8, sessions: int = 5) -> tuple[int, list[int], list[int]]:
    lecture = Lecture(title="Concurrency")
    db.session.add(lecture)
    db.session.flush()
    db.session.add(ProgressPolicy(lecture_id=lecture.id))
    session_rows = [LectureSession(lecture_id=lecture.id, order=i + 1) for i in range(sessions)]
    db.session.add_all(session_rows)
    db.session.flush()
    exam = Exam(title="Quiz", pass_score=Decimal(60))
    db.session.add(exam)
    db.session.flush()
    db.session.add_all(ExamSession(exam_id=exam.id, session_id=s.id) for s in session_rows[1:])
    enrollments = []
    for i in range(students):
        student = Student(name=f"S{i}")
        db.session.add(student)
        db.session.flush()
        enrollment = Enrollment(student_id=student.id, lecture_id=lecture.id)
        db.session.add(enrollment)
        db.session.flush()
        enrollments.append(enrollment.id)
        db.session.add(Attempt(enrollment_id=enrollment.id, exam_id=exam.id, attempt_no=1,
                               score=Decimal(50 + i * 3)))
        db.session.add_all(Activity(enrollment_id=enrollment.id, session_id=s.id, video_rate=50)
                           for s in session_rows)
    db.session.flush()
    recompute_lecture(lecture.id)
    db.session.commit()
    return lecture.id, enrollments, [s.id for s in session_rows]


def _in_thread(app, barrier: threading.Barrier, errors: list, work) -> threading.Thread:
    def run():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                work()
            except Exception as exc:  # collected and re-raised in the test thread
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    return threading.Thread(target=run)


@pytest.mark.parametrize("rounds", [3])
def test_cell_edits_and_policy_saves_at_once_end_as_a_fresh_recompute(app, backend, rounds):
    if backend != "postgresql":
        pytest.skip("row locks and parallel writers are what this tests; SQLite serialises the whole file")
    lecture_id, enrollments, sessions = _build()
    barrier = threading.Barrier(3)
    errors: list = []

    def cell_editor(offset: int):
        def work():
            for r in range(rounds):
                for i, enrollment_id in enumerate(enrollments):
                    if (i + offset) % 2:
                        continue
                    session_id = sessions[(i + r) % len(sessions)]
                    lock_lecture(lecture_id)
                    db.session.execute(
                        update(Activity)
                        .where(Activity.enrollment_id == enrollment_id, Activity.session_id == session_id)
                        .values(video_rate=90 + offset + r)
                    )
                    recompute(Scope(lecture_id, frozenset({enrollment_id}), frozenset({session_id})))
                    db.session.commit()
        return work

    def policy_editor():
        for r in range(rounds):
            lock_lecture(lecture_id)
            db.session.execute(
                update(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture_id)
                .values(video_required_rate=91 + r % 2, exam_pass_score=Decimal(55 + 5 * r))
            )
            recompute_lecture(lecture_id)
            db.session.commit()

    threads = [
        _in_thread(app, barrier, errors, cell_editor(0)),
        _in_thread(app, barrier, errors, cell_editor(1)),
        _in_thread(app, barrier, errors, policy_editor),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    db.session.remove()

    after_race = _derived_values()
    recompute_lecture(lecture_id)
    db.session.commit()
    assert _derived_values() == after_race
    # No duplicates: one automatic link per (enrollment, session, reason), one log per finding.
    duplicates = db.session.execute(
        select(func.count()).select_from(
            select(ClinicLink.enrollment_id, ClinicLink.session_id, ClinicLink.reason)
            .group_by(ClinicLink.enrollment_id, ClinicLink.session_id, ClinicLink.reason)
            .having(func.count() > 1).subquery()
        )
    ).scalar_one()
    assert duplicates == 0
    logs = db.session.execute(select(func.count(RiskLog.id))).scalar_one()
    distinct_logs = db.session.execute(
        select(func.count()).select_from(
            select(RiskLog.enrollment_id, RiskLog.session_id, RiskLog.risk_level, RiskLog.rule).distinct().subquery()
        )
    ).scalar_one()
    assert logs == distinct_logs

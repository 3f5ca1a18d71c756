"""Bulk writes of derived rows (dashboard/progress/bulk.py), on SQLite and PostgreSQL.

On PostgreSQL the statements are pipelined: these tests check that what is sent is written
exactly, that an error inside the pipeline surfaces as SQLAlchemy's wrapped error when the
block ends, and that the failed transaction leaves nothing behind.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from dashboard.extensions import db
from dashboard.models import (
    Attempt,
    Enrollment,
    Exam,
    Lecture,
    LectureSession,
    RiskLog,
    SessionProgress,
    Student,
)
from dashboard.progress import bulk
from dashboard.progress.writer import _CELL_UPSERT, _chunks

CELL = _CELL_UPSERT


def cell(enrollment_id, session_id, cents, meta, completed, completed_at, at):
    """A session-progress row in the recompute's column order: the values under test, the rest fixed."""
    values = dict(
        attendance_type="online", video_progress_rate=95, video_completed=True, exam_attempted=cents is not None,
        exam_aggregate_score=cents, exam_passed=True, exam_meta=meta, homework_submitted=True,
        homework_passed=True, completed=completed, fingerprint="f", completed_at=completed_at, calculated_at=at,
        updated_at=at, enrollment_id=enrollment_id, session_id=session_id, created_at=at,
    )
    return tuple(values[name] for name in CELL.columns)
FINDING = bulk.Upsert(
    RiskLog.__table__,
    ("enrollment_id", "session_id", "risk_level", "rule", "reason", "meta", "created_at", "updated_at"),
    "(enrollment_id, session_id, risk_level, rule)",
)


def lecture_with(students: int, sessions: int):
    lecture = Lecture(title="Bulk")
    db.session.add(lecture)
    db.session.flush()
    session_rows = [LectureSession(lecture_id=lecture.id, order=i + 1, title=f"S{i + 1}") for i in range(sessions)]
    people = [Student(name=f"Student {i}") for i in range(students)]
    db.session.add_all(session_rows + people)
    db.session.flush()
    enrollments = [Enrollment(student_id=p.id, lecture_id=lecture.id) for p in people]
    db.session.add_all(enrollments)
    db.session.flush()
    return [e.id for e in enrollments], [s.id for s in session_rows]


def stored(enrollment_id, session_id):
    db.session.expire_all()
    return db.session.execute(
        select(SessionProgress).where(SessionProgress.enrollment_id == enrollment_id,
                                      SessionProgress.session_id == session_id)
    ).scalar_one()


def test_rows_in_stored_form_are_written_exactly_then_upserted(app):
    (e1, e2), (s1,) = lecture_with(2, 1)
    first = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)
    later = datetime(2026, 3, 3, 10, 0, tzinfo=timezone.utc)
    t1, t2 = bulk.stored_time(first), bulk.stored_time(later)
    with bulk.Statements() as statements:
        statements.send(CELL, [
            cell(e1, s1, 7250, '{"note":"한국어","exams":[]}', True, t1, t1),
            cell(e2, s1, None, None, False, None, t1),
        ])
    row = stored(e1, s1)
    assert (row.exam_aggregate_score, row.exam_meta, row.completed) == (Decimal("72.50"), {"note": "한국어", "exams": []}, True)
    assert row.completed_at == first and row.calculated_at == first
    assert stored(e2, s1).exam_aggregate_score is None and stored(e2, s1).exam_meta is None

    with bulk.Statements() as statements:
        statements.send(CELL, [
            cell(e1, s1, 7249, '{"note":null}', True, t2, t2),  # stays completed: keeps its completed_at
            cell(e2, s1, 10000, '{"note":null}', True, t2, t2),  # becomes completed: takes the new one
        ])
    row = stored(e1, s1)
    assert (row.exam_aggregate_score, row.exam_meta, row.completed_at, row.calculated_at) == (
        Decimal("72.49"), {"note": None}, first, later)
    assert stored(e2, s1).completed_at == later
    assert db.session.execute(select(func.count()).select_from(SessionProgress)).scalar_one() == 2


def test_inserted_rows_keep_nulls_exact_scores_and_times(app, count_queries):
    enrollment_ids, _ = lecture_with(1, 1)
    exam = Exam(title="Quiz", max_score=Decimal(100))
    db.session.add(exam)
    db.session.flush()
    at = datetime(2026, 3, 9, 1, 0, tzinfo=timezone.utc)
    rows = [dict(enrollment_id=enrollment_ids[0], exam_id=exam.id, attempt_no=n, score=score, submitted_at=when,
                 source="import")
            for n, (score, when) in enumerate([(Decimal("72.50"), at), (Decimal("0.01"), None), (Decimal(100), at)],
                                              start=1)]
    with count_queries() as counter:
        bulk.insert_rows(Attempt.__table__, rows)
    assert counter.count == 1
    stored = db.session.execute(select(Attempt.attempt_no, Attempt.score, Attempt.submitted_at)
                                .order_by(Attempt.attempt_no)).all()
    assert stored == [(1, Decimal("72.50"), at), (2, Decimal("0.01"), None), (3, Decimal(100), at)]


def test_do_nothing_on_conflict_keeps_the_first_row(app):
    (e1,), (s1,) = lecture_with(1, 1)
    t = bulk.stored_time(datetime(2026, 3, 2, tzinfo=timezone.utc))
    finding = (e1, s1, "WARNING", "CONSECUTIVE_INCOMPLETE", "2 consecutive incomplete sessions", '{"count":2}', t, t)
    with bulk.Statements() as statements:
        statements.send(FINDING, [finding])
        statements.send(FINDING, [finding[:5] + ('{"count":9}', t, t)])
    rows = db.session.execute(select(RiskLog.meta)).scalars().all()
    assert rows == [{"count": 2}]


def test_an_error_inside_the_block_is_raised_wrapped_and_nothing_stays(app):
    (e1,), (s1,) = lecture_with(1, 1)
    db.session.commit()
    t = bulk.stored_time(datetime(2026, 3, 2, tzinfo=timezone.utc))
    with pytest.raises(IntegrityError):
        with bulk.Statements() as statements:
            statements.send(CELL, [cell(e1, s1, 100, None, False, None, t)])  # fine on its own
            statements.send(CELL, [cell(e1 + 10_000, s1, 100, None, False, None, t)])  # no such enrollment
            statements.send(CELL, [cell(e1, s1, 200, None, False, None, t)])
        db.session.flush()
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SessionProgress)).scalar_one() == 0
    # The connection is usable again after the rollback.
    with bulk.Statements() as statements:
        statements.send(CELL, [cell(e1, s1, 300, None, False, None, t)])
    assert stored(e1, s1).exam_aggregate_score == Decimal(3)


def test_statements_are_counted_like_any_other(app, count_queries):
    (e1, e2), (s1,) = lecture_with(2, 1)
    t = bulk.stored_time(datetime(2026, 3, 2, tzinfo=timezone.utc))
    with count_queries() as counter:
        with bulk.Statements() as statements:
            statements.send(CELL, [cell(e1, s1, 1, None, False, None, t), cell(e2, s1, 2, None, False, None, t)])
            statements.send(CELL, [])  # nothing to write: no statement
    assert counter.count == 1


def test_reads_hand_each_reader_its_rows_in_order(app, count_queries):
    (e1, e2), (s1, s2) = lecture_with(2, 2)
    got: dict[str, list] = {}
    queries = {
        "enrollments": select(Enrollment.id).where(Enrollment.id.in_([e1, e2])).order_by(Enrollment.id),
        "sessions": select(LectureSession.id, LectureSession.order).order_by(LectureSession.order),
        "none": select(Student.id).where(Student.id.in_([])),
    }
    with count_queries() as counter:
        bulk.read_all([(query, lambda rows, name=name: got.setdefault(name, [tuple(r) for r in rows]))
                       for name, query in queries.items()])
    assert got == {"enrollments": [(e1,), (e2,)], "sessions": [(s1, 1), (s2, 2)], "none": []}
    assert counter.count == 3


def test_a_failing_read_is_raised_wrapped_and_the_session_recovers(app):
    lecture_with(1, 1)
    db.session.commit()
    with pytest.raises(DBAPIError):
        bulk.read_all([
            (select(Student.id), lambda rows: None),
            (select(func.no_such_function(Student.id)), lambda rows: None),
            (select(Enrollment.id), lambda rows: None),
        ])
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Student)).scalar_one() == 1


@pytest.mark.parametrize("count, sizes", [
    (0, []), (1, [1]), (3, [1, 1, 1]), (4, [1, 1, 1, 1]), (5, [2, 1, 1, 1]), (10, [4, 3, 2, 1]),
    (300, [120, 90, 60, 30]),
])
def test_chunks_shrink_toward_the_end_and_keep_every_item_in_order(count, sizes):
    chunks = _chunks(list(range(count)), (4, 3, 2, 1))
    assert [len(chunk) for chunk in chunks] == sizes
    assert [item for chunk in chunks for item in chunk] == list(range(count))

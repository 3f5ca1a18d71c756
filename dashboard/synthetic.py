"""Synthetic lectures of any size, bulk-inserted, for benchmarks and query-count tests.

`build_lecture(...)` inserts one realistic lecture quickly (one Core statement per table,
ids reserved up front where later rows need them): weekly sessions around `TODAY`, students
of steady but different diligence, so the lecture shows every status and risk level.
It flushes and never commits: the caller owns the transaction.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text

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
    Lecture,
    LectureSession,
    ProgressPolicy,
    Student,
)
from dashboard.progress.bulk import insert_rows

TODAY = date(2026, 4, 1)
KST = timezone(timedelta(hours=9))


def _reserve_ids(table, count: int) -> list[int]:
    """Ids for `count` new rows of `table`, taken from its sequence on PostgreSQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        statement = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")
        return list(db.session.execute(statement, {"table": table.name, "count": count}).scalars())
    first = db.session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one() + 1
    return list(range(first, first + count))


def _insert(model, rows: list[dict[str, Any]], with_ids: bool = False) -> list[int]:
    """Insert many rows (all with the same keys) in one statement (`bulk.insert_rows`); answer
    their ids if asked."""
    if not rows:
        return []
    table = model.__table__
    ids = _reserve_ids(table, len(rows)) if with_ids else []
    if with_ids:
        rows = [dict(row, id=row_id) for row, row_id in zip(rows, ids)]
    insert_rows(table, rows)
    return ids


def build_lecture(
    students: int, sessions: int, exams_per_session: int, homeworks_per_session: int, seed: int = 0
) -> int:
    """Bulk-insert one realistic lecture (default policy) and answer its id; flushes, never commits.

    Sessions are weekly with the last two upcoming, one held today (inside the grace
    window) and the rest due. Each student has a steady diligence, so some complete
    nearly everything and some fall behind into WARNING and DANGER; exams alternate
    between an own pass score of 60 and none; a few attempts carry answer facts.
    """
    rng = random.Random(seed)
    lecture_id = _insert(Lecture, [{"title": f"Bulk lecture {students}x{sessions} #{seed}"}], with_ids=True)[0]
    _insert(ProgressPolicy, [{"lecture_id": lecture_id}])

    dates = [TODAY + timedelta(days=7 * (index - (sessions - 3))) for index in range(sessions)]
    session_ids = _insert(LectureSession, [
        {"lecture_id": lecture_id, "order": index + 1, "title": f"Week {index + 1}", "date": dates[index]}
        for index in range(sessions)
    ], with_ids=True)
    held = [index for index in range(sessions) if dates[index] <= TODAY]

    def submitted_on(index: int) -> datetime:
        return datetime.combine(dates[index], time(17, 0), tzinfo=KST)

    exam_rows, exam_session_index = [], []
    for index in range(sessions):
        for number in range(exams_per_session):
            exam_rows.append({
                "title": f"Week {index + 1} quiz {number + 1}",
                "pass_score": Decimal(60) if len(exam_rows) % 2 == 0 else None,
                "max_score": Decimal(100),
            })
            exam_session_index.append(index)
    exam_ids = _insert(Exam, exam_rows, with_ids=True)
    _insert(ExamSession, [{"exam_id": e, "session_id": session_ids[i]} for e, i in zip(exam_ids, exam_session_index)])
    homework_rows, homework_session_index = [], []
    for index in range(sessions):
        for number in range(homeworks_per_session):
            homework_rows.append({"session_id": session_ids[index], "title": f"Worksheet {index + 1}.{number + 1}",
                                  "max_score": Decimal(100)})
            homework_session_index.append(index)
    homework_ids = _insert(Homework, homework_rows, with_ids=True)

    student_ids = _insert(Student, [{"name": f"Student {n + 1:04d}"} for n in range(students)], with_ids=True)
    enrollment_ids = _insert(Enrollment, [
        {"student_id": s, "lecture_id": lecture_id, "start_date": None} for s in student_ids
    ], with_ids=True)

    activities, submissions, attempts, attempt_answers = [], [], [], []
    for enrollment_id in enrollment_ids:
        diligence = rng.uniform(0.4, 1.0)
        for index in held:
            if rng.random() < 0.25:
                activities.append({"enrollment_id": enrollment_id, "session_id": session_ids[index],
                                   "attendance": "offline", "video_rate": 0})
            elif rng.random() < 0.9:
                rate = 100 if rng.random() < diligence else rng.randint(0, 95)
                activities.append({"enrollment_id": enrollment_id, "session_id": session_ids[index],
                                   "attendance": "online", "video_rate": rate})
        for homework_id, index in zip(homework_ids, homework_session_index):
            if index in held and rng.random() < diligence + 0.1:
                submissions.append({"enrollment_id": enrollment_id, "homework_id": homework_id, "submitted": True,
                                    "score": Decimal(rng.randint(4000, 10000)) / 100,
                                    "approved": rng.random() < diligence})
        for exam_id, index in zip(exam_ids, exam_session_index):
            if index not in held or rng.random() > diligence + 0.15:
                continue
            for attempt_no in range(1, (3 if rng.random() < 0.15 else 2)):
                cents = max(0, min(10000, int(rng.gauss(diligence * 9000, 1500))))
                attempts.append({"enrollment_id": enrollment_id, "exam_id": exam_id, "attempt_no": attempt_no,
                                 "score": Decimal(cents) / 100, "source": "import",
                                 "submitted_at": submitted_on(index) + timedelta(hours=attempt_no - 1)})
                with_facts = rng.random() < 0.2
                attempt_answers.append([
                    {"question": q, "is_correct": rng.random() < diligence,
                     "invalid_reason": "LOW_CONFIDENCE" if rng.random() < 0.05 else None}
                    for q in range(1, 6)
                ] if with_facts else [])
    _insert(Activity, activities)
    _insert(HomeworkSubmission, submissions)
    attempt_ids = _insert(Attempt, attempts, with_ids=True)
    facts = []
    for attempt_id, answers in zip(attempt_ids, attempt_answers):
        for answer in answers:
            is_correct = answer["is_correct"] and answer["invalid_reason"] is None
            facts.append({"attempt_id": attempt_id, "question": answer["question"], "is_correct": is_correct,
                          "invalid_reason": answer["invalid_reason"]})
    _insert(AnswerFact, facts)
    db.session.flush()
    return lecture_id

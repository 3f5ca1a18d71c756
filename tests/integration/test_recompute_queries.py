"""The recompute is set-based: its query count does not grow with students or sessions."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update

from dashboard.extensions import db
from dashboard.models import (
    Activity,
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    Lecture,
    LectureSession,
    ProgressPolicy,
    SessionProgress,
    Student,
)
from dashboard.progress.recompute import Scope, lock_lecture, recompute, recompute_lecture


def build(students: int, sessions: int) -> tuple[int, list[int], list[int]]:
    """A lecture with one exam and one homework per session and a mix of inputs, bulk-inserted."""
    lecture = Lecture(title=f"{students}x{sessions}")
    db.session.add(lecture)
    db.session.flush()
    db.session.add(ProgressPolicy(lecture_id=lecture.id))
    session_ids = list(db.session.execute(
        insert(LectureSession).returning(LectureSession.id),
        [{"lecture_id": lecture.id, "order": i + 1, "title": f"S{i + 1}"} for i in range(sessions)],
    ).scalars())
    exam_ids = list(db.session.execute(
        insert(Exam).returning(Exam.id),
        [{"title": f"Quiz {i}", "pass_score": Decimal(60), "max_score": Decimal(100)} for i in range(sessions)],
    ).scalars())
    db.session.execute(insert(ExamSession), [{"exam_id": e, "session_id": s} for e, s in zip(exam_ids, session_ids)])
    homework_ids = list(db.session.execute(
        insert(Homework).returning(Homework.id),
        [{"session_id": s, "title": "HW", "max_score": Decimal(100)} for s in session_ids],
    ).scalars())
    student_ids = list(db.session.execute(
        insert(Student).returning(Student.id), [{"name": f"Student {i}"} for i in range(students)]
    ).scalars())
    enrollment_ids = list(db.session.execute(
        insert(Enrollment).returning(Enrollment.id),
        [{"student_id": s, "lecture_id": lecture.id} for s in student_ids],
    ).scalars())
    pairs = [(e, i) for e in enrollment_ids for i in range(sessions)]
    db.session.execute(insert(Attempt), [
        {"enrollment_id": e, "exam_id": exam_ids[i], "attempt_no": 1, "score": Decimal(40 + (e * 7 + i * 13) % 60),
         "source": "import"} for e, i in pairs
    ])
    db.session.execute(insert(HomeworkSubmission), [
        {"enrollment_id": e, "homework_id": homework_ids[i], "submitted": True, "approved": (e + i) % 3 != 0}
        for e, i in pairs
    ])
    db.session.execute(insert(Activity), [
        {"enrollment_id": e, "session_id": session_ids[i], "attendance": "online", "video_rate": (e * 31 + i) % 101}
        for e, i in pairs
    ])
    db.session.flush()
    return lecture.id, enrollment_ids, session_ids


def measure(count_queries, students: int, sessions: int) -> dict[str, int]:
    lecture_id, enrollment_ids, session_ids = build(students, sessions)
    counts = {}
    with count_queries() as counter:
        recompute_lecture(lecture_id)
    counts["first whole lecture"] = counter.count
    with count_queries() as counter:
        recompute_lecture(lecture_id)
    counts["unchanged whole lecture"] = counter.count
    enrollment_id, session_id = enrollment_ids[-1], session_ids[-1]
    db.session.execute(
        update(Activity)
        .where(Activity.enrollment_id == enrollment_id, Activity.session_id == session_id)
        .values(attendance="offline")
    )
    with count_queries() as counter:
        lock_lecture(lecture_id)
        rows = recompute(Scope(lecture_id, frozenset({enrollment_id}), frozenset({session_id})))
    counts["single cell"] = counter.count
    assert rows == 1
    assert db.session.execute(
        select(SessionProgress.video_completed)
        .where(SessionProgress.enrollment_id == enrollment_id, SessionProgress.session_id == session_id)
    ).scalar_one() is True
    # Three scattered cells, each changed: as many statements however large the lecture.
    scattered = {(enrollment_ids[0], session_ids[0]), (enrollment_ids[2], session_ids[-1]),
                 (enrollment_ids[-1], session_ids[1])}
    for enrollment_id, session_id in scattered:
        db.session.execute(
            update(Activity)
            .where(Activity.enrollment_id == enrollment_id, Activity.session_id == session_id)
            .values(attendance="offline")
        )
    with count_queries() as counter:
        rows = recompute(Scope.of_cells(lecture_id, scattered))
    counts["scattered cells"] = counter.count
    assert rows == 3
    return counts


@pytest.mark.slow
def test_query_counts_are_flat_from_5x5_to_50x20(app, count_queries):
    small = measure(count_queries, 5, 5)
    large = measure(count_queries, 50, 20)
    # The budget for one edit, lock included: 10, and 2 more for the guardians' risk messages
    # (parents.outbox.after_recompute: find the risk levels that moved, move the notices) when
    # the edit wrote the student's lecture progress anew — here it depends on the random marks.
    for counts in (small, large):
        assert counts.pop("single cell") in (10, 12), counts
    assert small == large, (small, large)


def test_an_edit_that_leaves_the_lecture_progress_as_it_was_skips_the_guardians_check(app, count_queries):
    """A video rate moved from 100 % to 95 % (the policy asks 90 %): the cell is computed and
    rewritten, its completion and the student's lecture progress stay as they were, so no risk level
    can have moved and the guardians' notices are not read: at most the edit's 10 statements, none
    of them on risk_notice. The same edit to 0 % stops the cell being completed: the lecture
    progress is written anew and the notices are checked (the 2 statements on risk_notice)."""
    lecture_id, enrollment_ids, session_ids = build(5, 5)
    recompute_lecture(lecture_id)
    enrollment_id, session_id = enrollment_ids[0], session_ids[0]
    counts = {}
    for rate in (100, 95, 0):
        db.session.execute(update(Activity).where(Activity.enrollment_id == enrollment_id,
                                                  Activity.session_id == session_id)
                           .values(attendance="online", video_rate=rate))
        with count_queries() as counter:
            lock_lecture(lecture_id)
            recompute(Scope(lecture_id, frozenset({enrollment_id}), frozenset({session_id})))
        counts[rate] = [statement for statement in counter.statements]
    assert len(counts[95]) <= 10 and not any("risk_notice" in statement for statement in counts[95])
    assert sum("risk_notice" in statement for statement in counts[0]) == 2

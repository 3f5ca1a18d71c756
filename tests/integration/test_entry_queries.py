"""Column entry is set-based: saving a session's column costs the same statements for 5 students
as for 50, on both databases; and a whole column of dashboard.synthetic.build_lecture stays within
a handful of statements."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import insert, select

from dashboard.extensions import db
from dashboard.lectures import entry
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
    Student,
)
from dashboard.progress.recompute import recompute_lecture
from dashboard.synthetic import TODAY, build_lecture

from tests.factories import make_user


def uniform_lecture(students: int) -> tuple[int, int, list[int], int, int]:
    """Three due sessions (03-02, 03-09, 03-16; today 04-01); a quiz on Week 2 and Week 3, a homework
    on Week 2. Students of even rank have an activity (online 50), a quiz attempt (40) and an
    unsubmitted homework; the others nothing. So both halves need inserts and updates alike."""
    lecture = Lecture(title=f"Uniform {students}")
    db.session.add(lecture)
    db.session.flush()
    db.session.add(ProgressPolicy(lecture_id=lecture.id))
    sessions = list(db.session.execute(insert(LectureSession).returning(LectureSession.id), [
        {"lecture_id": lecture.id, "order": n, "title": f"Week {n}", "date": date(2026, 3, 7 * n - 5)}
        for n in (1, 2, 3)]).scalars())
    exam = db.session.execute(insert(Exam).returning(Exam.id), [{"title": "Quiz", "pass_score": Decimal(60),
                                                                 "max_score": Decimal(100)}]).scalar_one()
    db.session.execute(insert(ExamSession), [{"exam_id": exam, "session_id": s} for s in sessions[1:]])
    homework = db.session.execute(insert(Homework).returning(Homework.id),
                                  [{"session_id": sessions[1], "max_score": Decimal(100)}]).scalar_one()
    people = list(db.session.execute(insert(Student).returning(Student.id),
                                     [{"name": f"S{n}"} for n in range(students)]).scalars())
    enrollments = list(db.session.execute(insert(Enrollment).returning(Enrollment.id),
                                          [{"student_id": p, "lecture_id": lecture.id} for p in people]).scalars())
    some = enrollments[::2]
    db.session.execute(insert(Activity), [{"enrollment_id": e, "session_id": sessions[1], "attendance": "online",
                                           "video_rate": 50} for e in some])
    db.session.execute(insert(Attempt), [{"enrollment_id": e, "exam_id": exam, "attempt_no": 1,
                                          "score": Decimal(40), "source": "import"} for e in some])
    db.session.execute(insert(HomeworkSubmission), [{"enrollment_id": e, "homework_id": homework,
                                                     "submitted": False, "approved": False} for e in some])
    db.session.flush()
    recompute_lecture(lecture.id)
    return lecture.id, sessions[1], enrollments, exam, homework


def save(count_queries, admin, lecture_id, session_id, body) -> tuple[int, entry.EntryResult]:
    with count_queries() as counter:
        result = entry.save_column(admin, entry.writable_session(admin, lecture_id, session_id), body)
    return counter.count, result


def test_a_column_costs_the_same_statements_for_5_and_50_students(app, count_queries):
    admin = make_user("admin", "admin")
    counts = {}
    for students in (5, 50):
        lecture_id, session_id, enrollments, exam, homework = uniform_lecture(students)
        body = {"rows": [{"enrollment_id": e, "presence": "late", "scores": {str(exam): 90},
                          "homework": {str(homework): {"submitted": True, "score": 85, "approved": True}}}
                         for e in enrollments]}
        count, result = save(count_queries, admin, lecture_id, session_id, body)
        # Week 2 of every student turns completed; the quiz also feeds Week 3 (recomputed, still failed).
        assert [(c.before, c.after) for c in result.changed] == [("incomplete", "completed")] * students
        assert result.recomputed == 2 * students
        retake, _ = save(count_queries, admin, lecture_id, session_id,
                         {"retake": True, "rows": [{"enrollment_id": e, "scores": {str(exam): 95}}
                                                   for e in enrollments]})
        counts[students] = (count, retake)
    assert counts[5] == counts[50], counts
    assert counts[50][0] <= 40


def test_a_whole_synthetic_column_stays_within_a_handful_of_statements(app, count_queries):
    """build_lecture's mixed data (some statuses change, some links open or close): bounded, flat."""
    admin = make_user("admin", "admin")
    totals = []
    for students in (5, 50):
        lecture_id = build_lecture(students, 6, 2, 1, seed=students)
        recompute_lecture(lecture_id)
        session = db.session.execute(select(LectureSession.id).where(
            LectureSession.lecture_id == lecture_id, LectureSession.date <= TODAY)
            .order_by(LectureSession.order.desc())).scalars().first()
        enrollments = db.session.execute(select(Enrollment.id).where(Enrollment.lecture_id == lecture_id)).scalars()
        exams = db.session.execute(select(ExamSession.exam_id).where(ExamSession.session_id == session)).scalars().all()
        body = {"rows": [{"enrollment_id": e, "presence": "present", "video_rate": 100,
                          "scores": {str(x): 77 for x in exams}} for e in enrollments]}
        totals.append(save(count_queries, admin, lecture_id, session, body)[0])
    # Every statement kind the save and its recompute may send, each once (recompute's own flat
    # count is proved in test_recompute_queries).
    assert max(totals) <= 45, totals

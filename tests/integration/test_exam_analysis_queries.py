"""The exam analysis, a student's exam lines and the scores export read a fixed number of
statements, whatever the size of the class (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from dashboard.academy import exam_analysis
from dashboard.extensions import db
from dashboard.lectures import exports
from dashboard.models import AnswerFact

from tests.factories import enroll, make_attempt, make_exam, make_homework, make_lecture, make_session, \
    make_submission, make_user


def build(students: int):
    lecture = make_lecture("Algebra")
    week = make_session(lecture, 2, date(2026, 3, 9))
    exam = make_exam([week], pass_score=60)
    homework = make_homework(week)
    people = [enroll(f"Student {n:03d}", lecture) for n in range(students)]
    for n, person in enumerate(people):
        attempt = make_attempt(person, exam, 40 + n % 60)
        db.session.add_all([AnswerFact(attempt_id=attempt.id, question=q, is_correct=(n + q) % 3 != 0)
                            for q in (1, 2, 3)])
        make_submission(person, homework, score=n % 100)
    db.session.flush()
    return lecture, exam, people, make_user(f"admin{students}", "admin")


def statements(count_queries, call) -> int:
    db.session.expire_all()
    with count_queries() as counter:
        call()
    return counter.count


def test_the_number_of_statements_does_not_grow_with_the_class(app, count_queries):
    small = build(3)
    large = build(40)
    for lecture, exam, people, admin in (small, large):
        found = exam_analysis.load_analysis(admin, exam.id)
        assert found.summary.count == len(people) and found.with_answers == len(people)
    counts = [
        [statements(count_queries, lambda: exam_analysis.load_analysis(admin, exam.id)),
         statements(count_queries, lambda: exam_analysis.student_exam_lines(lecture.id, people[0].id)),
         statements(count_queries, lambda: exports.scores_table(lecture.id))]
        for lecture, exam, people, admin in (small, large)
    ]
    assert counts[0] == counts[1]


def test_figures_of_the_large_class(app):
    lecture, exam, people, admin = build(40)
    found = exam_analysis.load_analysis(admin, exam.id)
    # Scores 40..79, one each: mean 59.5, median (59 + 60) / 2 = 59.5; 20 of 40 reach 60.
    assert (found.summary.mean, found.summary.median, found.summary.passed) == (Decimal("59.50"),
                                                                                 Decimal("59.50"), 20)
    # Population deviation of 40 consecutive integers: sqrt((40^2 - 1) / 12) = sqrt(133.25) = 11.54.
    assert found.summary.deviation == Decimal("11.54")

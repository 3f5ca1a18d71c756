"""The read side of the exam analysis page and of the class averages on a student's page.

An exam may be shared by several lectures (SPEC §1). The analysis shows only the lectures the
reader may see (`accounts.access.shown_exam_lecture_ids`): a teacher of one of them never sees
another teacher's class, not even as a count. The figures cover the results (latest attempts) of
the active enrollments of the lectures shown — all of them, or the one picked — and each result
is judged against the effective pass score of its own lecture (the figures: `exam_stats`).

A fixed number of queries, whatever the size of the class.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select

from dashboard.academy import exam_stats as stats
from dashboard.accounts.access import can_read_exam, shown_exam_lecture_ids
from dashboard.extensions import db
from dashboard.models import (
    MAX_ID,
    AnswerFact,
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    Lecture,
    LectureSession,
    ProgressPolicy,
    Student,
    User,
)
from dashboard.progress import rules

READER_ROLES = ("admin", "staff", "teacher")


@dataclass(frozen=True)
class LectureFigures:
    """One lecture the exam is linked to: its effective pass score and its class's figures."""

    lecture_id: int
    title: str
    pass_score: Decimal
    summary: stats.Summary


@dataclass
class Analysis:
    exam_id: int
    title: str
    max_score: Decimal
    lectures: list[LectureFigures]
    lecture_id: int | None  # the lecture picked, or None for every lecture shown
    summary: stats.Summary
    ranking: list[stats.RankedScore]
    bins: list[stats.Bin]
    questions: list[stats.QuestionShare]
    with_answers: int  # results that carry per-question answers (OMR or imported)

    @property
    def tallest_bin(self) -> int:
        return max((b.count for b in self.bins), default=0)


def readable(user: User, exam_id: int) -> bool:
    return (0 < exam_id <= MAX_ID and user.role in READER_ROLES and db.session.get(Exam, exam_id) is not None
            and can_read_exam(user, exam_id))


def load_analysis(user: User, exam_id: int, lecture_id: int | None = None) -> Analysis | None:
    """The analysis of one exam as the user may see it; None when the exam is not theirs to read
    or the lecture picked is not one of the exam's lectures they may see."""
    if not readable(user, exam_id):
        return None
    exam = db.session.get(Exam, exam_id)
    shown = shown_exam_lecture_ids(user, exam_id)
    if lecture_id is not None and lecture_id not in shown:
        return None
    pass_scores, titles = _pass_scores(exam, shown)
    results = _results(exam_id, shown, pass_scores)
    by_lecture: dict[int, list[stats.StudentScore]] = defaultdict(list)
    for student, _attempt_id in results:
        by_lecture[student.lecture_id].append(student)
    lectures = sorted(
        (LectureFigures(lid, titles[lid], pass_scores[lid], stats.summary(by_lecture[lid])) for lid in shown),
        key=lambda figures: (figures.title, figures.lecture_id))
    chosen = [(student, attempt_id) for student, attempt_id in results
              if lecture_id is None or student.lecture_id == lecture_id]
    students = [student for student, _attempt_id in chosen]
    facts = _facts([attempt_id for _student, attempt_id in chosen])
    return Analysis(
        exam_id=exam.id, title=exam.title, max_score=exam.max_score, lectures=lectures, lecture_id=lecture_id,
        summary=stats.summary(students), ranking=stats.ranked(students),
        bins=stats.histogram((s.score for s in students), exam.max_score),
        questions=stats.question_shares(facts.values()), with_answers=len(facts),
    )


def _policy_of(row: Any) -> rules.Policy:
    if row.exam_pass_score is None:
        return rules.Policy()
    return rules.Policy(exam_pass_score=row.exam_pass_score, exam_pass_source=row.exam_pass_source)


def _pass_scores(exam: Exam, lecture_ids: list[int]) -> tuple[dict[int, Decimal], dict[int, str]]:
    """Each lecture's effective pass score for the exam (SPEC §3), and its title."""
    if not lecture_ids:
        return {}, {}
    info = rules.ExamInfo(exam.id, exam.max_score, exam.pass_score)
    rows = db.session.execute(
        select(Lecture.id, Lecture.title, ProgressPolicy.exam_pass_score, ProgressPolicy.exam_pass_source)
        .outerjoin(ProgressPolicy, ProgressPolicy.lecture_id == Lecture.id)
        .where(Lecture.id.in_(lecture_ids))
    ).all()
    return ({row.id: rules.effective_pass_score(_policy_of(row), info) for row in rows},
            {row.id: row.title for row in rows})


def _latest_per_enrollment(rows: Iterable[Any]) -> dict[int, Any]:
    return rules.latest_per(rows, lambda row: row.enrollment_id)


def _results(exam_id: int, lecture_ids: list[int],
             pass_scores: dict[int, Decimal]) -> list[tuple[stats.StudentScore, int]]:
    """The result of each active enrollment of these lectures that has one, with its attempt id."""
    if not lecture_ids:
        return []
    rows = db.session.execute(
        select(Attempt.id, Attempt.enrollment_id, Attempt.attempt_no, Attempt.submitted_at, Attempt.score,
               Enrollment.lecture_id, Student.name)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
        .where(Attempt.exam_id == exam_id, Enrollment.lecture_id.in_(lecture_ids),
               Enrollment.withdrawn_at.is_(None))
    ).all()
    return [(stats.StudentScore(row.enrollment_id, row.lecture_id, row.name, row.score,
                                pass_scores[row.lecture_id]), row.id)
            for row in _latest_per_enrollment(rows).values()]


def _facts(attempt_ids: list[int]) -> dict[int, list[stats.QuestionFact]]:
    """The answers stored with these attempts (attempt id -> answers); attempts without any are left out."""
    facts: dict[int, list[stats.QuestionFact]] = defaultdict(list)
    for start in range(0, len(attempt_ids), 900):
        for row in db.session.execute(
            select(AnswerFact.attempt_id, AnswerFact.question, AnswerFact.is_correct)
            .where(AnswerFact.attempt_id.in_(attempt_ids[start:start + 900]))
        ):
            facts[row.attempt_id].append(stats.QuestionFact(row.question, row.is_correct))
    return facts


# ---------------------------------------------------------------- a student's exams beside the class

@dataclass(frozen=True)
class ExamLine:
    """One exam of the lecture on a student's page: their result beside the class average."""

    exam_id: int
    title: str
    max_score: Decimal
    score: Decimal | None
    class_average: Decimal | None
    results: int  # how many of the class have a result


def student_exam_lines(lecture_id: int, enrollment_id: int) -> list[ExamLine]:
    """Every exam linked to the lecture (by its first session, then id), with the student's result
    and the class average: the mean of the results of the lecture's active enrollments (the
    monthly report's rule). Two queries."""
    exams = db.session.execute(
        select(Exam.id, Exam.title, Exam.max_score, LectureSession.order)
        .join(ExamSession, ExamSession.exam_id == Exam.id)
        .join(LectureSession, LectureSession.id == ExamSession.session_id)
        .where(LectureSession.lecture_id == lecture_id)
        .order_by(LectureSession.order, Exam.id)
    ).all()
    first: dict[int, Any] = {}
    for row in exams:
        first.setdefault(row.id, row)
    if not first:
        return []
    rows = db.session.execute(
        select(Attempt.exam_id, Attempt.enrollment_id, Attempt.attempt_no, Attempt.submitted_at, Attempt.score,
               Enrollment.withdrawn_at)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(Attempt.exam_id.in_(list(first)), Enrollment.lecture_id == lecture_id,
               or_(Enrollment.withdrawn_at.is_(None), Enrollment.id == enrollment_id))
    ).all()
    per_exam: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        per_exam[row.exam_id].append(row)
    lines = []
    for exam_id, exam in first.items():
        latest = _latest_per_enrollment(per_exam[exam_id])
        active = [row.score for row in latest.values() if row.withdrawn_at is None]
        own = latest.get(enrollment_id)
        lines.append(ExamLine(exam_id, exam.title, exam.max_score, own.score if own is not None else None,
                              stats.mean(active),
                              len(active)))
    return lines

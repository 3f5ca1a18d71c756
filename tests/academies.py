"""Random and bulk academies for the recompute tests and the benchmark.

`academies()` is a hypothesis strategy for a small random academy, given as a plain
description (dicts and lists, references by position); `load_academy(description)` adds
it to the database with the ORM (add + flush, never commit) and answers the lecture ids.
The values lean on the spec's edges: pass lines hit exactly and missed by 0.01, homework
at 77.5% / 77.4% / 154.99 of 200, video rates around the required rate, session dates on
the held and due boundaries, equal submitted_at across exams and attempts.

`build_lecture(...)` (from `dashboard.synthetic`, shared with bench/) bulk-inserts one
realistic lecture for query counts.

Description shape (all dates relative to `TODAY`, the tests' fixed DASHBOARD_TODAY):

    {"students": [name, ...],
     "lectures": [{"title": str,
                   "policy": {ProgressPolicy field: value, ...},   # every field of SPEC §2
                   "sessions": [{"order": int, "date": date | None}, ...],
                   "enrollments": [{"student": i, "start_date": date | None, "withdrawn": bool}, ...],
                   "homeworks": [{"session": i, "max_score": Decimal}, ...],
                   "submissions": [{"enrollment": i, "homework": i, "submitted": bool,
                                    "score": Decimal | None, "approved": bool}, ...],
                   "activities": [{"enrollment": i, "session": i, "attendance": str, "video_rate": int}, ...]}],
     "exams": [{"title": str, "pass_score": Decimal | None, "max_score": Decimal,
                "sessions": [(lecture i, session i), ...],
                "attempts": [{"lecture": i, "enrollment": i, "attempt_no": int, "score": Decimal,
                              "submitted_at": aware datetime | None,
                              "answers": [{"question": int, "is_correct": bool,
                                           "invalid_reason": str | None}, ...]}, ...]}]}
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

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
from dashboard.synthetic import KST, TODAY, build_lecture  # noqa: F401  (re-exported to the tests)

CENT = Decimal("0.01")
# A small pool of submission times, so equal times across exams and attempts are common.
SUBMITTED_AT_POOL = (
    None,
    datetime(2026, 3, 9, 10, 0, tzinfo=KST),
    datetime(2026, 3, 9, 10, 0, tzinfo=KST),
    datetime(2026, 3, 16, 9, 30, tzinfo=KST),
    datetime(2026, 3, 30, 18, 45, 12, tzinfo=timezone.utc),
)
MAX_SCORES = (Decimal(100), Decimal(50), Decimal(200))


def _hundredths(low: Decimal, high: Decimal) -> st.SearchStrategy[Decimal]:
    """Any exact 2-decimal value in [low, high]."""
    return st.integers(int(low * 100), int(high * 100)).map(lambda cents: (Decimal(cents) / 100).quantize(CENT))


def _on_or_around(values: list[Decimal], low: Decimal, high: Decimal) -> st.SearchStrategy[Decimal]:
    """A value exactly on one of `values`, 0.01 under it, or anywhere in [low, high]."""
    edges = sorted({v + d for v in values for d in (Decimal(0), -CENT) if low <= v + d <= high} | {low, high})
    return st.one_of(st.sampled_from(edges), _hundredths(low, high))


@st.composite
def policies(draw) -> dict[str, Any]:
    """A valid policy (SPEC §2) with its edge values likely."""
    # Mostly low starts so that most sessions are in range; up to 8 reaches past the last session.
    exam_start = draw(st.one_of(st.sampled_from([1, 2]), st.integers(1, 8)))
    homework_start = draw(st.one_of(st.sampled_from([1, 2]), st.integers(1, 8)))
    warning = draw(st.integers(1, 3))
    return {
        "video_required_rate": draw(st.one_of(st.sampled_from([0, 50, 90, 100]), st.integers(0, 100))),
        "exam_start_session_order": exam_start,
        "exam_end_session_order": draw(st.one_of(st.just(9999), st.integers(exam_start, 9))),
        "exam_pass_score": draw(st.one_of(st.sampled_from([Decimal(0), Decimal(60), Decimal("60.5")]),
                                          _hundredths(Decimal(0), Decimal(210)))),
        "exam_aggregate_strategy": draw(st.sampled_from(["MAX", "AVG", "LATEST"])),
        "exam_pass_source": draw(st.sampled_from(["EXAM", "POLICY"])),
        "homework_start_session_order": homework_start,
        "homework_end_session_order": draw(st.one_of(st.just(9999), st.integers(homework_start, 9))),
        "homework_pass_type": draw(st.sampled_from(["SUBMIT", "SCORE", "TEACHER_APPROVAL"])),
        "homework_cutline_percent": draw(st.one_of(st.sampled_from([0, 75, 78, 80, 100]), st.integers(0, 100))),
        "homework_round_unit": draw(st.one_of(st.sampled_from([1, 5, 10, 100]), st.integers(1, 100))),
        "completion_grace_days": draw(st.sampled_from([0, 1, 7, 30, 365])),
        "risk_warning_consecutive": warning,
        "risk_danger_consecutive": warning + draw(st.integers(0, 2)),
    }


def _session_date(grace: int) -> st.SearchStrategy[date | None]:
    # Offsets around the held boundary (0, +1) and the due boundary (-grace, -grace +/- 1).
    boundary = [0, 1, -grace, -grace - 1, -grace + 1]
    offsets = st.one_of(st.sampled_from(boundary), st.integers(-40, 14))
    return st.one_of(st.none(), offsets.map(lambda days: TODAY + timedelta(days=days)))


def _homework_score(max_score: Decimal, cutline: int) -> st.SearchStrategy[Decimal | None]:
    percent_edges = [Decimal("77.5"), Decimal("77.4"), Decimal("77.495"), Decimal(cutline)]
    edges = [(max_score * p / 100) for p in percent_edges]
    exact = [e for e in edges if e == e.quantize(CENT)]  # 77.495% only lands on cents for 200
    return st.one_of(st.none(), _on_or_around(exact, Decimal(0), max_score))


@st.composite
def _lecture(draw, index: int, student_count: int) -> dict[str, Any]:
    policy = draw(policies())
    orders = draw(st.lists(st.one_of(st.integers(1, 8), st.just(9999)), unique=True, max_size=6))
    sessions = [{"order": order, "date": draw(_session_date(policy["completion_grace_days"]))} for order in orders]
    session_dates = sorted({s["date"] for s in sessions if s["date"] is not None})

    students = draw(st.lists(st.integers(0, student_count - 1), unique=True, max_size=5))
    start_dates = st.one_of(
        st.none(),
        st.sampled_from(session_dates) if session_dates else st.none(),
        st.integers(-30, 10).map(lambda days: TODAY + timedelta(days=days)),
    )
    enrollments = [
        {"student": student, "start_date": draw(start_dates), "withdrawn": draw(st.integers(0, 7)) == 0}
        for student in students
    ]

    homeworks = []
    for session_index in range(len(sessions)):
        for _ in range(draw(st.integers(0, 2))):
            homeworks.append({"session": session_index, "max_score": draw(st.sampled_from(MAX_SCORES))})
    submissions = []
    for enrollment_index in range(len(enrollments)):
        for homework_index, homework in enumerate(homeworks):
            if draw(st.booleans()):
                submissions.append({
                    "enrollment": enrollment_index,
                    "homework": homework_index,
                    "submitted": draw(st.booleans()),
                    "score": draw(_homework_score(homework["max_score"], policy["homework_cutline_percent"])),
                    "approved": draw(st.booleans()),
                })

    required = policy["video_required_rate"]
    rates = st.one_of(
        st.sampled_from([r for r in (0, required - 1, required, required + 1, 100) if 0 <= r <= 100]),
        st.integers(0, 100),
    )
    activities = []
    for enrollment_index in range(len(enrollments)):
        for session_index in range(len(sessions)):
            if draw(st.booleans()):
                activities.append({
                    "enrollment": enrollment_index,
                    "session": session_index,
                    "attendance": draw(st.sampled_from(["online", "offline"])),
                    "video_rate": draw(rates),
                })
    return {
        "title": f"Lecture {index + 1}",
        "policy": policy,
        "sessions": sessions,
        "enrollments": enrollments,
        "homeworks": homeworks,
        "submissions": submissions,
        "activities": activities,
    }


@st.composite
def _answers(draw) -> list[dict[str, Any]]:
    questions = draw(st.lists(st.integers(1, 3), unique=True, max_size=3))
    answers = []
    for question in questions:
        invalid_reason = draw(st.sampled_from([None, None, "LOW_CONFIDENCE", "LOW_CONFIDENCE", "BLANK", "MULTI"]))
        # A flagged answer is graded wrong (SPEC §10).
        is_correct = False if invalid_reason else draw(st.booleans())
        answers.append({"question": question, "is_correct": is_correct, "invalid_reason": invalid_reason})
    return answers


@st.composite
def _exam(draw, index: int, lectures: list[dict[str, Any]]) -> dict[str, Any]:
    max_score = draw(st.sampled_from(MAX_SCORES))
    pass_score = draw(st.one_of(st.none(), _on_or_around([Decimal(60), max_score / 2], Decimal(0), max_score)))
    all_sessions = [(li, si) for li, lecture in enumerate(lectures) for si in range(len(lecture["sessions"]))]
    home = draw(st.integers(0, len(lectures) - 1))
    own = [key for key in all_sessions if key[0] == home]
    linked = draw(st.lists(st.sampled_from(own), unique=True, max_size=3)) if own else []
    # Now and then an exam shared with a session of another lecture (SPEC §7 "affected lectures").
    others = [key for key in all_sessions if key[0] != home]
    if others and draw(st.integers(0, 5)) == 0:
        linked.append(draw(st.sampled_from(others)))

    # The pass lines a score may sit on: the exam's own and every linked lecture's policy score.
    lines = [pass_score] if pass_score is not None else []
    lines += [lectures[li]["policy"]["exam_pass_score"] for li in {li for li, _ in linked}]
    scores = _on_or_around([line for line in lines if line <= max_score], Decimal(0), max_score)
    attempts = []
    for lecture_index in sorted({li for li, _ in linked}):
        for enrollment_index in range(len(lectures[lecture_index]["enrollments"])):
            numbers = draw(st.lists(st.integers(1, 4), unique=True, max_size=3))
            for attempt_no in numbers:
                attempts.append({
                    "lecture": lecture_index,
                    "enrollment": enrollment_index,
                    "attempt_no": attempt_no,
                    "score": draw(scores),
                    "submitted_at": draw(st.sampled_from(SUBMITTED_AT_POOL)),
                    "answers": draw(_answers()),
                })
    return {
        "title": f"Exam {index + 1}",
        "pass_score": pass_score,
        "max_score": max_score,
        "sessions": linked,
        "attempts": attempts,
    }


@st.composite
def academies(draw) -> dict[str, Any]:
    """A small random academy (1–2 lectures, <= 6 sessions and <= 5 enrollments each) as a description."""
    student_count = 5
    lecture_count = draw(st.integers(1, 2))
    lectures = [draw(_lecture(index, student_count)) for index in range(lecture_count)]
    exams = [draw(_exam(index, lectures)) for index in range(draw(st.integers(0, 5)))]
    return {"students": [f"Student {i + 1}" for i in range(student_count)], "lectures": lectures, "exams": exams}


def load_academy(description: dict[str, Any]) -> list[int]:
    """Add a described academy with the ORM (add + flush, no commit); answer its lecture ids."""
    withdrawn_at = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)
    students = [Student(name=name) for name in description["students"]]
    db.session.add_all(students)
    db.session.flush()

    lectures, sessions, enrollments = [], [], []
    for spec in description["lectures"]:
        lecture = Lecture(title=spec["title"])
        db.session.add(lecture)
        db.session.flush()
        db.session.add(ProgressPolicy(lecture_id=lecture.id, **spec["policy"]))
        lecture_sessions = [
            LectureSession(lecture_id=lecture.id, order=s["order"], date=s["date"], title=f"Session {s['order']}")
            for s in spec["sessions"]
        ]
        lecture_enrollments = [
            Enrollment(
                student_id=students[e["student"]].id,
                lecture_id=lecture.id,
                start_date=e["start_date"],
                withdrawn_at=withdrawn_at if e["withdrawn"] else None,
            )
            for e in spec["enrollments"]
        ]
        db.session.add_all(lecture_sessions + lecture_enrollments)
        db.session.flush()
        homeworks = [
            Homework(session_id=lecture_sessions[h["session"]].id, title="Homework", max_score=h["max_score"])
            for h in spec["homeworks"]
        ]
        db.session.add_all(homeworks)
        db.session.flush()
        db.session.add_all(
            HomeworkSubmission(
                enrollment_id=lecture_enrollments[s["enrollment"]].id,
                homework_id=homeworks[s["homework"]].id,
                submitted=s["submitted"],
                score=s["score"],
                approved=s["approved"],
            )
            for s in spec["submissions"]
        )
        db.session.add_all(
            Activity(
                enrollment_id=lecture_enrollments[a["enrollment"]].id,
                session_id=lecture_sessions[a["session"]].id,
                attendance=a["attendance"],
                video_rate=a["video_rate"],
            )
            for a in spec["activities"]
        )
        lectures.append(lecture)
        sessions.append(lecture_sessions)
        enrollments.append(lecture_enrollments)

    for spec in description["exams"]:
        exam = Exam(title=spec["title"], pass_score=spec["pass_score"], max_score=spec["max_score"])
        db.session.add(exam)
        db.session.flush()
        db.session.add_all(
            ExamSession(exam_id=exam.id, session_id=sessions[li][si].id) for li, si in spec["sessions"]
        )
        for a in spec["attempts"]:
            attempt = Attempt(
                enrollment_id=enrollments[a["lecture"]][a["enrollment"]].id,
                exam_id=exam.id,
                attempt_no=a["attempt_no"],
                score=a["score"],
                submitted_at=a["submitted_at"],
            )
            db.session.add(attempt)
            db.session.flush()
            db.session.add_all(AnswerFact(attempt_id=attempt.id, **answer) for answer in a["answers"])
    db.session.flush()
    return [lecture.id for lecture in lectures]

"""Hand-worked checks of the reference implementation itself (tests/reference.py).

The reference is what the set-based recompute is proven against, so it must be right:
each case below is worked out by hand from SPEC §1, §3–6 in its comments.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

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
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    SessionProgress,
    Student,
)
from tests.academies import KST, TODAY, academies, build_lecture, load_academy
from tests.reference import diff, expected_rows, stored_rows

D = Decimal
T1 = datetime(2026, 3, 9, 10, 0, tzinfo=KST)
T2 = datetime(2026, 3, 16, 10, 0, tzinfo=KST)


def add(*objects):
    db.session.add_all(objects)
    db.session.flush()
    return objects if len(objects) > 1 else objects[0]


def lecture_with(**policy) -> tuple[Lecture, ProgressPolicy]:
    lecture = add(Lecture(title="Algebra II"))
    return lecture, add(ProgressPolicy(lecture_id=lecture.id, **policy))


def enroll(lecture: Lecture, name: str, **fields) -> Enrollment:
    student = add(Student(name=name))
    return add(Enrollment(student_id=student.id, lecture_id=lecture.id, **fields))


def sessions(lecture: Lecture, *dates) -> list[LectureSession]:
    return [add(LectureSession(lecture_id=lecture.id, order=n, date=d)) for n, d in enumerate(dates, start=1)]


def exam(*linked: LectureSession, pass_score=None, max_score=D(100)) -> Exam:
    created = add(Exam(title="Quiz", pass_score=pass_score, max_score=max_score))
    for session in linked:
        add(ExamSession(exam_id=created.id, session_id=session.id))
    return created


def attempt(enrollment, of_exam, attempt_no, score, submitted_at, answers=()) -> Attempt:
    made = add(Attempt(enrollment_id=enrollment.id, exam_id=of_exam.id, attempt_no=attempt_no,
                       score=D(score), submitted_at=submitted_at))
    for question, is_correct, invalid_reason in answers:
        add(AnswerFact(attempt_id=made.id, question=question, is_correct=is_correct, invalid_reason=invalid_reason))
    return made


def meta_row(of_exam, score, pass_score, passed, submitted_at, attempt_count, max_score=D(100)) -> dict:
    return {"exam_id": of_exam.id, "score": score, "max_score": max_score, "pass_score": pass_score,
            "passed": passed, "submitted_at": submitted_at, "attempt_count": attempt_count}


def test_held_due_upcoming_and_latest_attempt(app):
    # Default policy: video 90, exam and homework from order 2, MAX, EXAM, approval, grace 7.
    lecture, _ = lecture_with()
    s1, s2, s3 = sessions(lecture, date(2026, 3, 18), date(2026, 3, 28), date(2026, 4, 5))
    e = enroll(lecture, "Kim Minji")
    add(Activity(enrollment_id=e.id, session_id=s1.id, attendance="offline", video_rate=0),
        Activity(enrollment_id=e.id, session_id=s2.id, attendance="online", video_rate=89))
    quiz = exam(s2, pass_score=D(60))
    # The attempt without submitted_at is older than the one with it, whatever its number.
    attempt(e, quiz, 1, "70.00", T2)
    attempt(e, quiz, 2, "59.99", None)
    homework = add(Homework(session_id=s2.id, max_score=D(100)))
    add(HomeworkSubmission(enrollment_id=e.id, homework_id=homework.id, submitted=False, approved=True))

    got = expected_rows(lecture.id, TODAY)

    # s1: 03-18 + 7 = 03-25 <= 04-01 due; s2: 03-28 held, 04-04 > 04-01 not due; s3 upcoming.
    assert got.session_status == {
        (e.id, s1.id): {"counted": True, "held": True, "due": True},
        (e.id, s2.id): {"counted": True, "held": True, "due": False},
        (e.id, s3.id): {"counted": True, "held": False, "due": False},
    }
    assert set(got.session_progress) == {(e.id, s1.id), (e.id, s2.id)}
    assert got.session_progress[(e.id, s1.id)] == {
        "attendance_type": "offline", "video_progress_rate": 0, "video_completed": True,
        "exam_attempted": False, "exam_aggregate_score": None, "exam_passed": True,
        "exam_meta": {"strategy": "MAX", "pass_source": "EXAM", "note": "out_of_exam_range",
                      "aggregate_pass_score": None, "exams": []},
        "homework_submitted": False, "homework_passed": True, "completed": True,
    }
    assert got.session_progress[(e.id, s2.id)] == {
        "attendance_type": "online", "video_progress_rate": 89, "video_completed": False,
        "exam_attempted": True, "exam_aggregate_score": D("70.00"), "exam_passed": True,
        "exam_meta": {"strategy": "MAX", "pass_source": "EXAM", "note": None, "aggregate_pass_score": D(60),
                      "exams": [meta_row(quiz, D(70), D(60), True, T2, 2)]},
        # Approval alone passes; nothing was submitted.
        "homework_submitted": False, "homework_passed": True, "completed": False,
    }
    assert got.lecture_progress == {e.id: {
        "total_sessions": 3, "completed_sessions": 1, "failed_sessions": 0, "consecutive_failed_sessions": 0,
        "risk_level": "NORMAL", "last_session_id": s1.id, "low_score_consecutive": 0,
    }}
    assert got.clinic_links == {}
    assert got.risk_findings == set()

    # Three days later s2 is due and not completed: one failure, an AUTO_FAILED link.
    later = expected_rows(lecture.id, date(2026, 4, 4))
    assert later.lecture_progress[e.id] == {
        "total_sessions": 3, "completed_sessions": 1, "failed_sessions": 1, "consecutive_failed_sessions": 1,
        "risk_level": "NORMAL", "last_session_id": s2.id, "low_score_consecutive": 0,
    }
    assert later.clinic_links == {(e.id, s2.id, "AUTO_FAILED"): None}

    # On 04-05 s3 is held: in exam range without exams, no activity.
    s3_row = expected_rows(lecture.id, date(2026, 4, 5)).session_progress[(e.id, s3.id)]
    assert (s3_row["video_completed"], s3_row["exam_passed"], s3_row["exam_meta"]["note"], s3_row["completed"]) == (
        False, True, "no_exams_in_session", False)


def test_aggregates_risks_and_low_score_rule(app):
    lecture, policy = lecture_with(exam_start_session_order=1, exam_pass_score=D(50),
                                   exam_aggregate_strategy="AVG", completion_grace_days=0)
    s1, s2, s3 = sessions(lecture, None, None, None)  # undated: held and due
    e = enroll(lecture, "Lee Jiho")
    add(Activity(enrollment_id=e.id, session_id=s3.id, attendance="offline", video_rate=0))
    e1 = exam(s1, s2, pass_score=D(60))
    e2 = exam(s2, max_score=D(50))  # no pass score: the policy's 50 applies
    # E1's result is attempt 1 (attempt 2 has no submitted_at); question 3 wrong in both.
    attempt(e, e1, 1, "55.55", T1, [(1, False, None), (3, False, None)])
    attempt(e, e1, 2, "90.00", None, [(3, False, "BLANK"), (2, True, None)])
    attempt(e, e2, 1, "45.00", T1, [(1, False, "LOW_CONFIDENCE"), (2, False, "LOW_CONFIDENCE")])

    got = expected_rows(lecture.id, TODAY)
    e1_row = meta_row(e1, D("55.55"), D(60), False, T1, 2)
    e2_row = meta_row(e2, D(45), D(50), False, T1, 1, max_score=D(50))
    cell1, cell2, cell3 = (got.session_progress[(e.id, s.id)] for s in (s1, s2, s3))
    assert (cell1["exam_aggregate_score"], cell1["exam_meta"]["aggregate_pass_score"], cell1["exam_passed"]) == (
        D("55.55"), D(60), False)
    assert cell1["exam_meta"]["exams"] == [e1_row]
    # AVG: (55.55 + 45) / 2 = 50.275 -> 50.28 half-up; line (60 + 50) / 2 = 55.00.
    assert (cell2["exam_aggregate_score"], cell2["exam_meta"]["aggregate_pass_score"], cell2["exam_passed"]) == (
        D("50.28"), D("55.00"), False)
    assert cell2["exam_meta"]["exams"] == [e1_row, e2_row]
    assert (cell3["exam_passed"], cell3["exam_meta"]["note"], cell3["completed"]) == (True, "no_exams_in_session", True)

    # Due from the top: s3 completed -> 0 incomplete; low score skips s3 (no exams), counts s2, s1.
    assert got.lecture_progress[e.id] == {
        "total_sessions": 3, "completed_sessions": 1, "failed_sessions": 2, "consecutive_failed_sessions": 0,
        "risk_level": "WARNING", "last_session_id": s3.id, "low_score_consecutive": 2,
    }
    assert got.risk_findings == {(e.id, s3.id, "WARNING", "CONSECUTIVE_LOW_SCORE")}
    e1_reasons = {"LOW_SCORE": {"score": D("55.55"), "pass_score": D(60)}, "REPEATED_WRONG": {"questions": [3]}}
    assert got.clinic_links == {
        (e.id, s1.id, "AUTO_FAILED"): None,
        (e.id, s2.id, "AUTO_FAILED"): None,
        (e.id, s1.id, "AUTO_RISK"): {e1.id: e1_reasons},
        (e.id, s2.id, "AUTO_RISK"): {
            e1.id: e1_reasons,
            e2.id: {"LOW_SCORE": {"score": D(45), "pass_score": D(50)},
                    "LOW_CONFIDENCE_OMR": {"count": 2, "threshold": 2}},
        },
    }

    # MAX on s2: 55.55 beats 45 -> E1's line 60.
    policy.exam_aggregate_strategy = "MAX"
    db.session.flush()
    cell2 = expected_rows(lecture.id, TODAY).session_progress[(e.id, s2.id)]
    assert (cell2["exam_aggregate_score"], cell2["exam_meta"]["aggregate_pass_score"]) == (D("55.55"), D(60))

    # LATEST on s2: both results at T1 -> the higher exam id, E2: 45 against 50.
    policy.exam_aggregate_strategy = "LATEST"
    db.session.flush()
    cell2 = expected_rows(lecture.id, TODAY).session_progress[(e.id, s2.id)]
    assert (cell2["exam_aggregate_score"], cell2["exam_meta"]["aggregate_pass_score"]) == (D(45), D(50))

    # Warning == danger: a count of 2 is DANGER at once.
    policy.risk_danger_consecutive = 2
    db.session.flush()
    got = expected_rows(lecture.id, TODAY)
    assert got.lecture_progress[e.id]["risk_level"] == "DANGER"
    assert got.risk_findings == {(e.id, s3.id, "DANGER", "CONSECUTIVE_LOW_SCORE")}


def test_max_tie_latest_null_and_policy_source(app):
    lecture, policy = lecture_with(exam_start_session_order=1, exam_pass_score=D(50))
    (s1,) = sessions(lecture, date(2026, 3, 2))
    e = enroll(lecture, "Park Seoyeon")
    e1 = exam(s1, pass_score=D(70))
    e2 = exam(s1, pass_score=D(60))
    attempt(e, e1, 1, "65", T2)
    attempt(e, e2, 1, "65", None)

    def aggregate():
        cell = expected_rows(lecture.id, TODAY).session_progress[(e.id, s1.id)]
        return cell["exam_aggregate_score"], cell["exam_meta"]["aggregate_pass_score"], cell["exam_passed"]

    # MAX tie at 65: the lower effective pass score wins (E2, 60) -> passed.
    assert aggregate() == (D(65), D(60), True)
    # LATEST: E2's result has no submitted_at, so E1 (T2) is the latest: 65 < 70.
    policy.exam_aggregate_strategy = "LATEST"
    db.session.flush()
    assert aggregate() == (D(65), D(70), False)
    # POLICY source: every line is 50; a MAX tie then goes to the lower exam id, E1.
    policy.exam_pass_source = "POLICY"
    policy.exam_aggregate_strategy = "MAX"
    db.session.flush()
    assert aggregate() == (D(65), D(50), True)
    assert [row["pass_score"] for row in expected_rows(lecture.id, TODAY).session_progress[
        (e.id, s1.id)]["exam_meta"]["exams"]] == [D(50), D(50)]
    # AVG with POLICY: the line is the policy's score itself.
    policy.exam_aggregate_strategy = "AVG"
    db.session.flush()
    assert aggregate() == (D(65), D(50), True)
    # On the line exactly passes; 0.01 under fails.
    policy.exam_pass_score = D("65.01")
    db.session.flush()
    assert aggregate() == (D(65), D("65.01"), False)
    policy.exam_pass_score = D(65)
    db.session.flush()
    assert aggregate() == (D(65), D(65), True)


def test_homework_score_start_date_withdrawal_and_risk_out_of_range(app):
    lecture, policy = lecture_with(
        video_required_rate=0, exam_start_session_order=3, homework_start_session_order=1,
        homework_pass_type="SCORE", homework_cutline_percent=80, homework_round_unit=5,
        completion_grace_days=0, risk_warning_consecutive=1, risk_danger_consecutive=3,
    )
    s1, s2, s3, s4 = sessions(lecture, date(2026, 3, 1), date(2026, 3, 10), date(2026, 4, 1), date(2026, 3, 20))
    e1 = enroll(lecture, "Choi Yuna", start_date=date(2026, 3, 10))
    e2 = enroll(lecture, "Jung Hana", withdrawn_at=datetime(2026, 3, 15, tzinfo=timezone.utc))
    e3 = enroll(lecture, "Kang Minho")
    h1 = add(Homework(session_id=s2.id, max_score=D(200)))
    h2 = add(Homework(session_id=s2.id, max_score=D(100)))
    h3 = add(Homework(session_id=s3.id, max_score=D(200)))
    h4 = add(Homework(session_id=s4.id, max_score=D(50)))
    for homework, score, approved in ((h1, "155", False), (h2, "77.40", True), (h3, "154.99", False),
                                      (h4, "38.75", False)):
        add(HomeworkSubmission(enrollment_id=e1.id, homework_id=homework.id, submitted=True,
                               score=D(score), approved=approved))
    quiz = exam(s2, s3, pass_score=D(60))  # s2 is out of exam range (from order 3), s3 in it
    attempt(e1, quiz, 1, "40", T1)

    got = expected_rows(lecture.id, TODAY)
    assert got.enrollment_ids == {e1.id, e3.id} and got.withdrawn_ids == {e2.id}
    assert not any(key[0] == e2.id for key in got.session_status)
    # e1 joined on 03-10: s1 (03-01) does not count, s2 (on the start date) does; grace 0 makes
    # s3, dated today, due.
    assert got.session_status[(e1.id, s1.id)] == {"counted": False, "held": False, "due": False}
    assert got.session_status[(e1.id, s2.id)] == {"counted": True, "held": True, "due": True}
    assert got.session_status[(e1.id, s3.id)] == {"counted": True, "held": True, "due": True}

    def cells(enrollment):
        return {s.id: got.session_progress.get((enrollment.id, s.id)) for s in (s1, s2, s3, s4)}

    c = cells(e1)
    assert c[s1.id] is None
    # s2: 155/200 = 77.5% -> 80 passes, 77.40/100 -> 75 fails (approval plays no part); s3:
    # 154.99/200 = 77.495% -> 75 fails; s4: 38.75/50 = 77.5% -> 80 passes.
    assert [(c[s]["homework_submitted"], c[s]["homework_passed"]) for s in (s2.id, s3.id, s4.id)] == [
        (True, False), (True, False), (True, True)]
    assert (c[s2.id]["exam_meta"]["note"], c[s2.id]["exam_passed"]) == ("out_of_exam_range", True)
    assert (c[s3.id]["exam_aggregate_score"], c[s3.id]["exam_passed"]) == (D(40), False)
    assert (c[s4.id]["exam_meta"]["note"], c[s4.id]["completed"]) == ("no_exams_in_session", True)
    assert got.lecture_progress[e1.id] == {
        "total_sessions": 4, "completed_sessions": 1, "failed_sessions": 2, "consecutive_failed_sessions": 0,
        "risk_level": "WARNING", "last_session_id": s4.id, "low_score_consecutive": 1,
    }

    c = cells(e3)
    assert c[s1.id]["completed"] is True  # no homework, out of exam range, video rate 0 >= 0
    assert (c[s2.id]["homework_submitted"], c[s2.id]["homework_passed"]) == (False, False)
    assert c[s3.id]["exam_meta"]["note"] == "no_results" and c[s3.id]["exam_passed"] is False
    assert c[s3.id]["exam_meta"]["exams"] == [meta_row(quiz, None, D(60), None, None, 0)]
    # s4, s3, s2 incomplete from the top, then s1 completed: 3 = danger. Low score stops at s3
    # (no result) at once.
    assert got.lecture_progress[e3.id] == {
        "total_sessions": 4, "completed_sessions": 1, "failed_sessions": 3, "consecutive_failed_sessions": 3,
        "risk_level": "DANGER", "last_session_id": s4.id, "low_score_consecutive": 0,
    }
    assert got.risk_findings == {
        (e1.id, s4.id, "WARNING", "CONSECUTIVE_LOW_SCORE"),
        (e3.id, s4.id, "DANGER", "CONSECUTIVE_INCOMPLETE"),
    }
    low = {quiz.id: {"LOW_SCORE": {"score": D(40), "pass_score": D(60)}}}
    # The AUTO_RISK link sits on every held session linked to the exam, s2 out of range too.
    assert got.clinic_links == {
        (e1.id, s2.id, "AUTO_FAILED"): None, (e1.id, s3.id, "AUTO_FAILED"): None,
        (e1.id, s2.id, "AUTO_RISK"): low, (e1.id, s3.id, "AUTO_RISK"): low,
        (e3.id, s2.id, "AUTO_FAILED"): None, (e3.id, s3.id, "AUTO_FAILED"): None,
        (e3.id, s4.id, "AUTO_FAILED"): None,
    }

    # SUBMIT: everything e1 handed in passes. TEACHER_APPROVAL: only h2 was approved.
    policy.homework_pass_type = "SUBMIT"
    db.session.flush()
    c = expected_rows(lecture.id, TODAY).session_progress
    assert [c[(e1.id, s.id)]["homework_passed"] for s in (s2, s3, s4)] == [True, True, True]
    policy.homework_pass_type = "TEACHER_APPROVAL"
    db.session.flush()
    c = expected_rows(lecture.id, TODAY).session_progress
    assert [c[(e1.id, s.id)]["homework_passed"] for s in (s2, s3, s4)] == [False, False, False]
    # SCORE with unit 1: 77.5 -> 78 < 80 now fails where unit 5 passed.
    policy.homework_pass_type, policy.homework_round_unit = "SCORE", 1
    db.session.flush()
    assert expected_rows(lecture.id, TODAY).session_progress[(e1.id, s4.id)]["homework_passed"] is False


def test_stored_rows_reads_json_meta_like_the_reference(app):
    lecture, _ = lecture_with()
    (s1, s2) = sessions(lecture, date(2026, 3, 2), date(2026, 3, 9))
    e = enroll(lecture, "Yoon Seo")
    add(Activity(enrollment_id=e.id, session_id=s1.id, attendance="offline", video_rate=0))
    quiz = exam(s2, pass_score=D("60.5"))
    attempt(e, quiz, 1, "72.5", T1)
    want = expected_rows(lecture.id, TODAY)

    # Rows as a recompute might store them: JSON floats and ISO strings with the academy offset.
    add(SessionProgress(enrollment_id=e.id, session_id=s1.id, attendance_type="offline", video_progress_rate=0,
                        video_completed=True, exam_attempted=False, exam_aggregate_score=None, exam_passed=True,
                        exam_meta={"strategy": "MAX", "pass_source": "EXAM", "note": "out_of_exam_range",
                                   "aggregate_pass_score": None, "exams": [], "extra": 1},
                        homework_submitted=False, homework_passed=True, completed=True))
    add(SessionProgress(enrollment_id=e.id, session_id=s2.id, attendance_type="online", video_progress_rate=0,
                        video_completed=False, exam_attempted=True, exam_aggregate_score=D("72.5"), exam_passed=True,
                        exam_meta={"strategy": "MAX", "pass_source": "EXAM", "note": None,
                                   "aggregate_pass_score": 60.5,
                                   "exams": [{"exam_id": quiz.id, "score": 72.5, "max_score": 100, "pass_score": 60.5,
                                              "passed": True, "submitted_at": "2026-03-09T10:00:00+09:00",
                                              "attempt_count": 1}]},
                        homework_submitted=False, homework_passed=True, completed=False))
    add(LectureProgress(enrollment_id=e.id, lecture_id=lecture.id, total_sessions=2, completed_sessions=1,
                        failed_sessions=1, consecutive_failed_sessions=1, risk_level="NORMAL",
                        last_session_id=s2.id, meta={"low_score_consecutive": 0}))
    stored = stored_rows(lecture.id)
    # Only the AUTO_FAILED link on s2 is missing (it was not written above).
    assert diff(want, stored) == [f"clinic_link({e.id}, {s2.id}, 'AUTO_FAILED'): missing, expected None"]
    row = db.session.execute(select(SessionProgress).where(SessionProgress.session_id == s2.id)).scalar_one()
    row.exam_passed = False
    db.session.flush()
    assert f"session_progress({e.id}, {s2.id}).exam_passed: expected True, stored False" in diff(
        want, stored_rows(lecture.id))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(description=academies())
def test_random_academies_load_and_agree_with_themselves(app, description):
    try:
        lecture_ids = load_academy(description)
        assert len(lecture_ids) == len(description["lectures"])
        for lecture_id in lecture_ids:
            got = expected_rows(lecture_id, TODAY)
            held = {key for key, status in got.session_status.items() if status["held"]}
            due = {key for key, status in got.session_status.items() if status["due"]}
            assert set(got.session_progress) == held
            assert set(got.lecture_progress) == set(got.enrollment_ids)
            assert {(e, s) for e, s, r in got.clinic_links if r == "AUTO_FAILED"} == {
                key for key in due if not got.session_progress[key]["completed"]}
            assert {(e, s) for e, s, r in got.clinic_links if r == "AUTO_RISK"} <= held
            for e, s, level, rule in got.risk_findings:
                assert got.lecture_progress[e]["last_session_id"] == s
    finally:
        db.session.rollback()


def test_build_lecture_shape(app):
    lecture_id = build_lecture(students=6, sessions=5, exams_per_session=2, homeworks_per_session=1, seed=3)

    def count(model, *where):
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()

    assert count(LectureSession, LectureSession.lecture_id == lecture_id) == 5
    assert count(Enrollment, Enrollment.lecture_id == lecture_id) == 6
    assert count(Exam) == 10 and count(ExamSession) == 10 and count(Homework) == 5
    # Weekly: 03-18 and 03-25 due (03-25 + 7 = 04-01), 04-01 held inside the grace window,
    # 04-08 and 04-15 upcoming and without facts.
    rows = db.session.execute(select(LectureSession.id, LectureSession.date).order_by(LectureSession.order)).all()
    assert [d for _, d in rows] == [date(2026, 3, 18), date(2026, 3, 25), date(2026, 4, 1), date(2026, 4, 8),
                                    date(2026, 4, 15)]
    upcoming = [session_id for session_id, _ in rows[3:]]
    assert count(Activity, Activity.session_id.in_(upcoming)) == 0
    assert count(Attempt, Attempt.exam_id.in_(select(ExamSession.exam_id).where(
        ExamSession.session_id.in_(upcoming)))) == 0
    # Values went in through the column types: exact scores, aware times, the policy's defaults.
    first = db.session.execute(select(Attempt).order_by(Attempt.id).limit(1)).scalar_one()
    assert first.score == first.score.quantize(D("0.01")) and D(0) <= first.score <= D(100)
    assert first.submitted_at.astimezone(KST).time().hour in (17, 18)
    policy = db.session.execute(select(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture_id)).scalar_one()
    assert (policy.exam_pass_score, policy.completion_grace_days) == (D(60), 7)
    # Ids came from the sequences, so rows added afterwards do not collide.
    assert add(Student(name="Late joiner")).id > 6
    got = expected_rows(lecture_id, TODAY)
    assert len(got.lecture_progress) == 6
    assert sum(status["due"] for status in got.session_status.values()) == 6 * 2
    assert len(got.session_progress) == 6 * 3

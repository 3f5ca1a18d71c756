"""OMR intake on SQLite and PostgreSQL (SPEC §10): grading into attempts, review, corrections,
idempotency, failures, conflicts and the recompute they trigger (SPEC §6, §7).

The academy: Algebra II, weeks 1..3 dated 03-02/03-09/03-16 (held and due; today is
2026-04-01), default policy (exams count from order 2, pass 60 from the exam). The quiz is on
week 2, pass 60, max 100; its key: 1:"1" 25 pts, 2:"2" 25 pts, 3:"3" 25 pts, 4:"24" 25 pts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.omr import intake as omr, regrade, scans
from dashboard.errors import Conflict, Forbidden, Invalid, describe
from dashboard.extensions import db
from dashboard.models import (
    AnswerFact,
    Attempt,
    AuditLog,
    ClinicLink,
    Enrollment,
    Exam,
    ExamQuestion,
    LectureSession,
    OmrScan,
    SessionProgress,
    User,
)
from dashboard.progress.recompute import recompute_lecture
from tests.factories import KST, enroll, make_activity, make_attempt, make_exam, make_lecture, make_session, make_user

KEY = [(1, "1", 25), (2, "2", 25), (3, "3", 25), (4, "24", 25)]


@dataclass
class Setup:
    weeks: list[LectureSession]
    quiz: Exam
    minji: Enrollment
    jisoo: Enrollment
    other: Enrollment
    staff: User
    teacher: User


def add_key(exam: Exam, key=KEY) -> None:
    for number, answer, points in key:
        db.session.add(ExamQuestion(exam_id=exam.id, number=number, answer=answer, points=Decimal(points)))
    db.session.flush()


@pytest.fixture
def setup(app) -> Setup:
    algebra = make_lecture("Algebra II")
    weeks = [make_session(algebra, order, date(2026, 3, 2) + timedelta(days=7 * (order - 1))) for order in (1, 2, 3)]
    minji = enroll("Kim Minji", algebra)
    jisoo = enroll("Lee Jisoo", algebra)
    for week in weeks:
        make_activity(minji, week, video_rate=95)
    quiz = make_exam([weeks[1]], pass_score=60)
    add_key(quiz)
    geometry = make_lecture("Geometry")
    make_session(geometry, 1, date(2026, 3, 2))
    other = enroll("Kim Minho", geometry)
    staff = make_user("staff", "staff")
    teacher = make_user("teacher_a", "teacher", (algebra,))
    recompute_lecture(algebra.id)
    recompute_lecture(geometry.id)
    return Setup(weeks, quiz, minji, jisoo, other, staff, teacher)


def answer(question, detected, marking=None, confidence=0.95, status="ok"):
    marking = marking or ("blank" if not detected else "multi" if len(detected) > 1 else "single")
    return {"question": question, "detected": list(detected), "marking": marking, "confidence": confidence,
            "status": status}


def done(answers, identifier=None, version="omr-2.1"):
    result = {"version": version, "mode": "template", "meta_used": False, "answers": answers}
    if identifier is not None:
        result["identifier"] = identifier
    return {"status": "DONE", "error": None, "result": result}


ALL_RIGHT = [answer(1, "1"), answer(2, "2"), answer(3, "3"), answer(4, "24")]


def register(setup: Setup, enrollment: Enrollment | None) -> OmrScan:
    return omr.register_scan(setup.staff, {"exam_id": setup.quiz.id,
                                           "enrollment_id": enrollment.id if enrollment else None})


def attempts_of(enrollment: Enrollment, exam: Exam) -> list[Attempt]:
    return list(db.session.execute(
        select(Attempt).where(Attempt.enrollment_id == enrollment.id, Attempt.exam_id == exam.id)
        .order_by(Attempt.attempt_no)
    ).scalars())


def facts_of(attempt_id: int) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(
        select(AnswerFact.question, AnswerFact.is_correct, AnswerFact.invalid_reason, AnswerFact.detected)
        .where(AnswerFact.attempt_id == attempt_id).order_by(AnswerFact.question)
    )]


def progress(enrollment: Enrollment, session: LectureSession) -> SessionProgress:
    return db.session.execute(
        select(SessionProgress).where(SessionProgress.enrollment_id == enrollment.id,
                                      SessionProgress.session_id == session.id)
    ).scalar_one()


def described(scan: OmrScan) -> dict:
    return omr.describe(omr.scan_row(scan.id))


# ---------------------------------------------------------------- registration

def test_registration_answers_a_pending_scan_and_keeps_the_request(setup):
    scan = register(setup, setup.minji)
    assert described(scan) == {"id": scan.id, "exam_id": setup.quiz.id, "enrollment_id": setup.minji.id,
                               "status": "pending", "review_reasons": [], "attempt_no": None, "score": None,
                               "error": None}
    assert scan.request == {"exam_id": setup.quiz.id, "enrollment_id": setup.minji.id}
    assert scan.registered_enrollment_id == setup.minji.id


def test_registration_refuses_what_cannot_be_graded(setup):
    keyless = make_exam([setup.weeks[2]])
    cases = [
        ({"exam_id": keyless.id}, "exam_id", "no answer key"),
        ({"exam_id": 9999}, "exam_id", "no exam"),
        ({"exam_id": "1"}, "exam_id", "integer"),
        ({}, "exam_id", "required"),
        ({"exam_id": setup.quiz.id, "enrollment_id": 9999}, "enrollment_id", "no enrollment"),
        # Geometry's enrollment is in no lecture the quiz is linked to.
        ({"exam_id": setup.quiz.id, "enrollment_id": setup.other.id}, "enrollment_id", "not in a lecture"),
        ({"exam_id": setup.quiz.id, "sheet": 3}, "sheet", "cannot be set"),
    ]
    for body, field, words in cases:
        with pytest.raises(Invalid) as caught:
            omr.register_scan(setup.staff, body)
        assert caught.value.field == field
        assert words in describe(caught.value)
    assert db.session.execute(select(func.count()).select_from(OmrScan)).scalar_one() == 0


def test_a_withdrawn_enrollment_cannot_be_registered(setup):
    setup.jisoo.withdrawn_at = datetime(2026, 3, 20, tzinfo=KST)
    db.session.flush()
    with pytest.raises(Invalid) as caught:
        register(setup, setup.jisoo)
    assert caught.value.reason == "enrollment_id_withdrawn"


# ---------------------------------------------------------------- grading into an attempt

def test_a_confident_scan_becomes_the_next_attempt_and_moves_progress(setup):
    # Jisoo already sat the quiz once on paper: the scan is attempt 2.
    make_attempt(setup.jisoo, setup.quiz, 30, submitted_at=datetime(2026, 3, 9, 10, 0, tzinfo=KST))
    recompute_lecture(setup.weeks[0].lecture_id)
    assert progress(setup.jisoo, setup.weeks[1]).exam_passed is False
    scan = register(setup, setup.jisoo)
    # Question 4 read as 2 only: wrong. 25 + 25 + 25 = 75.
    _, changed = omr.record_result(setup.staff, scan.id, done(
        [answer(1, "1"), answer(2, "2"), answer(3, "3"), answer(4, "2")],
        identifier={"status": "ok", "enrollment_id": setup.jisoo.id}))
    assert changed is True
    assert described(scan) == {"id": scan.id, "exam_id": setup.quiz.id, "enrollment_id": setup.jisoo.id,
                               "status": "graded", "review_reasons": [], "attempt_no": 2, "score": 75,
                               "error": None}
    first, second = attempts_of(setup.jisoo, setup.quiz)
    assert (second.attempt_no, second.score, second.source) == (2, Decimal(75), "omr")
    assert second.submitted_at == scan.created_at
    assert facts_of(second.id) == [(1, True, None, "1"), (2, True, None, "2"), (3, True, None, "3"),
                                   (4, False, None, "2")]
    assert (scan.result_version, scan.mode, scan.meta_used) == ("omr-2.1", "template", False)
    # The latest attempt (75 >= 60) is the result now.
    row = progress(setup.jisoo, setup.weeks[1])
    assert (row.exam_attempted, row.exam_aggregate_score, row.exam_passed) == (True, Decimal(75), True)


def test_choose_all_key_graded_as_a_set_with_fractional_points(setup):
    exam = make_exam([setup.weeks[2]], pass_score=5, max_score=10)
    add_key(exam, [(1, "24", "2.5"), (2, "3", "1.25"), (3, "1", "0.75")])
    scan = omr.register_scan(setup.staff, {"exam_id": exam.id, "enrollment_id": setup.minji.id})
    omr.record_result(setup.staff, scan.id, done([answer(1, "42"), answer(2, "3"), answer(3, "2")]))
    # 2.5 (["4","2"] equals "24") + 1.25 = 3.75; question 3 wrong.
    assert described(scan)["score"] == 3.75
    assert facts_of(scan.attempt_id) == [(1, True, None, "24"), (2, True, None, "3"), (3, False, None, "2")]

    second = omr.register_scan(setup.staff, {"exam_id": exam.id, "enrollment_id": setup.minji.id})
    omr.record_result(setup.staff, second.id, done([answer(1, "2"), answer(2, "3"), answer(3, "1")]))
    # ["2"] alone is wrong on a "24" key: 1.25 + 0.75 = 2.
    assert described(second)["score"] == 2
    assert described(second)["attempt_no"] == 2


def test_flagged_answers_are_wrong_and_listed_but_the_scan_is_graded(setup):
    scan = register(setup, setup.minji)
    omr.record_result(setup.staff, scan.id, done([
        answer(1, "1", confidence=0.55),           # right but unsure: LOW_CONFIDENCE
        answer(2, "23", marking="MULTI"),          # multi on a one-mark question: MULTI
        answer(4, "24", marking="multi", confidence=None),  # expected multi, no confidence: fine
    ]))
    body = described(scan)
    assert body["status"] == "graded"
    assert body["review_reasons"] == ["ANSWER_BLANK_OR_MULTI", "ANSWER_LOW_CONFIDENCE"]
    assert body["score"] == 25
    # Question 3 is missing from the answers: wrong, BLANK.
    assert facts_of(scan.attempt_id) == [(1, False, "LOW_CONFIDENCE", "1"), (2, False, "MULTI", "23"),
                                         (3, False, "BLANK", None), (4, True, None, "24")]


def test_an_ok_identifier_names_the_student_of_an_unregistered_scan(setup):
    scan = register(setup, None)
    omr.record_result(setup.staff, scan.id, done(ALL_RIGHT, identifier={"status": "OK",
                                                                        "enrollment_id": setup.minji.id}))
    assert (scan.status, scan.enrollment_id, scan.registered_enrollment_id) == ("graded", setup.minji.id, None)
    assert described(scan)["score"] == 100


def test_an_identifier_outside_the_exams_lectures_waits_for_review(setup):
    scan = register(setup, None)
    omr.record_result(setup.staff, scan.id, done(ALL_RIGHT, identifier={"status": "ok",
                                                                        "enrollment_id": setup.other.id}))
    assert described(scan) == {"id": scan.id, "exam_id": setup.quiz.id, "enrollment_id": None,
                               "status": "needs_review", "review_reasons": ["IDENTIFIER_NOT_OK"],
                               "attempt_no": None, "score": None, "error": None}


def test_a_mismatched_identifier_waits_for_review_with_the_registered_student(setup):
    scan = register(setup, setup.minji)
    omr.record_result(setup.staff, scan.id, done(ALL_RIGHT, identifier={"status": "ok",
                                                                        "enrollment_id": setup.jisoo.id}))
    body = described(scan)
    assert (body["status"], body["enrollment_id"], body["review_reasons"]) == (
        "needs_review", setup.minji.id, ["IDENTIFIER_MISMATCH"])
    assert attempts_of(setup.minji, setup.quiz) == []


def test_a_bad_identifier_waits_for_review_then_assignment_grades_it(setup):
    scan = register(setup, None)
    omr.record_result(setup.staff, scan.id, done(
        [answer(1, "1"), answer(2, "2"), answer(3, "", marking="blank"), answer(4, "24")],
        identifier={"status": "blank", "enrollment_id": None}))
    assert described(scan)["review_reasons"] == ["ANSWER_BLANK_OR_MULTI", "IDENTIFIER_NOT_OK"]
    assert scan.status == "needs_review" and scan.attempt_id is None
    assert progress(setup.jisoo, setup.weeks[1]).exam_attempted is False

    _, changed = omr.assign_student(setup.teacher, scan.id, {"enrollment_id": setup.jisoo.id})
    assert changed is True
    # 25 + 25 + 25 (question 3 blank) = 75; only the answer flag remains.
    assert described(scan) == {"id": scan.id, "exam_id": setup.quiz.id, "enrollment_id": setup.jisoo.id,
                               "status": "graded", "review_reasons": ["ANSWER_BLANK_OR_MULTI"],
                               "attempt_no": 1, "score": 75, "error": None}
    row = progress(setup.jisoo, setup.weeks[1])
    assert (row.exam_attempted, row.exam_aggregate_score, row.exam_passed) == (True, Decimal(75), True)
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "omr_scan.assign")).scalar_one()
    assert entry.username == "teacher_a"
    assert entry.after["enrollment_id"] == setup.jisoo.id

    # Assigning it again to the same student changes nothing; to another is a conflict.
    assert omr.assign_student(setup.staff, scan.id, {"enrollment_id": setup.jisoo.id})[1] is False
    with pytest.raises(Conflict):
        omr.assign_student(setup.staff, scan.id, {"enrollment_id": setup.minji.id})


def test_assignment_is_checked(setup):
    scan = register(setup, None)
    with pytest.raises(Conflict) as caught:
        omr.assign_student(setup.staff, scan.id, {"enrollment_id": setup.minji.id})
    assert caught.value.reason == "scan_no_result"
    omr.record_result(setup.staff, scan.id, done(ALL_RIGHT, identifier={"status": "error"}))
    with pytest.raises(Invalid) as caught:
        omr.assign_student(setup.staff, scan.id, {"enrollment_id": setup.other.id})
    assert caught.value.field == "enrollment_id"
    with pytest.raises(Forbidden):
        omr.assign_student(setup.teacher, scan.id, {"enrollment_id": setup.other.id})
    assert scan.status == "needs_review"


# ---------------------------------------------------------------- idempotency and regrading

def test_the_same_result_twice_writes_nothing_the_second_time(setup, count_queries):
    scan = register(setup, setup.minji)
    payload = done([answer(1, "1", confidence=0.93), answer(2, "2"), answer(3, "3", confidence=0.5),
                    answer(4, "24")])
    omr.record_result(setup.staff, scan.id, payload)
    db.session.commit()
    audits = db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    with count_queries() as counter:
        _, changed = omr.record_result(setup.staff, scan.id, payload)
        db.session.flush()
    assert changed is False
    writes = [s for s in counter.statements if re.match(r"\s*(INSERT|UPDATE|DELETE)", s, re.I)]
    assert writes == []
    assert db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one() == audits
    assert len(attempts_of(setup.minji, setup.quiz)) == 1


def test_a_different_result_regrades_the_same_attempt(setup):
    scan = register(setup, setup.minji)
    omr.record_result(setup.staff, scan.id, done([answer(1, "1"), answer(2, "3")]))
    assert described(scan)["score"] == 25
    assert progress(setup.minji, setup.weeks[1]).exam_passed is False
    omr.record_result(setup.staff, scan.id, done(ALL_RIGHT, version="omr-2.2"))
    assert (described(scan)["attempt_no"], described(scan)["score"]) == (1, 100)
    assert len(attempts_of(setup.minji, setup.quiz)) == 1
    assert facts_of(scan.attempt_id) == [(1, True, None, "1"), (2, True, None, "2"), (3, True, None, "3"),
                                         (4, True, None, "24")]
    assert scan.result_version == "omr-2.2"
    row = progress(setup.minji, setup.weeks[1])
    assert (row.exam_passed, row.completed) == (True, True)


def test_a_graded_scan_cannot_change_student_or_fail(setup):
    scan = register(setup, None)
    omr.record_result(setup.staff, scan.id, done(ALL_RIGHT, identifier={"status": "ok",
                                                                        "enrollment_id": setup.minji.id}))
    with pytest.raises(Conflict) as caught:
        omr.record_result(setup.staff, scan.id, done(ALL_RIGHT, identifier={"status": "ok",
                                                                            "enrollment_id": setup.jisoo.id}))
    assert caught.value.field == "result.identifier.enrollment_id"
    with pytest.raises(Conflict):
        omr.record_result(setup.staff, scan.id, {"status": "FAILED", "error": "jam"})
    assert (scan.status, scan.enrollment_id, described(scan)["score"]) == ("graded", setup.minji.id, 100)


# ---------------------------------------------------------------- failures and refusals

def test_failed_marks_a_pending_scan_failed_and_a_later_result_grades_it(setup):
    scan = register(setup, setup.minji)
    omr.record_result(setup.staff, scan.id, {"status": "FAILED", "error": "sheet torn"})
    assert described(scan) == {"id": scan.id, "exam_id": setup.quiz.id, "enrollment_id": setup.minji.id,
                               "status": "failed", "review_reasons": [], "attempt_no": None, "score": None,
                               "error": "sheet torn"}
    assert scan.payload == {"status": "FAILED", "error": "sheet torn"}
    assert attempts_of(setup.minji, setup.quiz) == []
    omr.record_result(setup.staff, scan.id, done(ALL_RIGHT))
    assert (described(scan)["status"], described(scan)["error"], described(scan)["score"]) == ("graded", None, 100)


def test_failed_on_a_scan_waiting_for_review(setup):
    scan = register(setup, None)
    omr.record_result(setup.staff, scan.id, done(ALL_RIGHT, identifier={"status": "ambiguous"}))
    omr.record_result(setup.staff, scan.id, {"status": "failed"})
    assert (scan.status, scan.error, scan.attempt_id) == ("failed", "The OMR worker failed without a message.", None)


def test_a_payload_with_an_unknown_question_or_a_bad_field_changes_nothing(setup):
    scan = register(setup, setup.minji)
    db.session.commit()
    for payload, field in [
        (done([answer(1, "1"), answer(2, "2"), answer(7, "3")]), "result.answers[2].question"),
        (done([answer(1, "1", confidence="high")]), "result.answers[0].confidence"),
        ({"status": "DONE", "result": None}, "result"),
    ]:
        with pytest.raises(Invalid) as caught:
            omr.record_result(setup.staff, scan.id, payload)
        assert caught.value.field == field
        db.session.rollback()
    db.session.refresh(scan)
    assert (scan.status, scan.payload, scan.attempt_id) == ("pending", None, None)
    assert attempts_of(setup.minji, setup.quiz) == []


# ---------------------------------------------------------------- corrections

def test_a_correction_changes_the_score_and_the_session_progress(setup):
    scan = register(setup, setup.minji)
    # Questions 3 and 4 read unsure: 50 < 60, week 2 not passed (Minji's video is complete).
    omr.record_result(setup.staff, scan.id, done([answer(1, "1"), answer(2, "2"), answer(3, "3", confidence=0.4),
                                                  answer(4, "24", confidence=0.6)]))
    assert described(scan)["score"] == 50
    assert described(scan)["review_reasons"] == ["ANSWER_LOW_CONFIDENCE"]
    assert (progress(setup.minji, setup.weeks[1]).exam_passed, progress(setup.minji, setup.weeks[1]).completed) == (
        False, False)

    _, changed = omr.correct_answers(setup.teacher, scan.id, {"answers": [{"question": 3, "detected": ["3"]}]})
    assert changed is True
    # 50 + 25 = 75: passes; question 4 is still flagged.
    assert described(scan)["score"] == 75
    assert described(scan)["review_reasons"] == ["ANSWER_LOW_CONFIDENCE"]
    assert facts_of(scan.attempt_id)[2] == (3, True, None, "3")
    row = progress(setup.minji, setup.weeks[1])
    assert (row.exam_aggregate_score, row.exam_passed, row.completed) == (Decimal(75), True, True)
    assert scan.corrected_by_id == setup.teacher.id and scan.corrected_at is not None
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "omr_scan.correct")).scalar_one()
    assert entry.username == "teacher_a"
    assert entry.after["corrections"] == [{"question": 3, "detected": ["3"]}]
    assert entry.after["was"] == {"3": ["3"]}
    assert (entry.before["score"], entry.after["score"]) == (50, 75)

    # The same correction again changes nothing; correcting question 4 too clears the reasons.
    assert omr.correct_answers(setup.staff, scan.id, {"answers": [{"question": 3, "detected": ["3"]}]})[1] is False
    omr.correct_answers(setup.staff, scan.id, {"answers": [{"question": 4, "detected": ["4"]}]})
    assert (described(scan)["score"], described(scan)["review_reasons"]) == (75, [])
    assert facts_of(scan.attempt_id)[3] == (4, False, None, "4")


def test_after_a_correction_a_different_result_is_a_conflict_and_the_same_one_is_fine(setup):
    scan = register(setup, setup.minji)
    payload = done([answer(1, "1", confidence=0.3)])
    omr.record_result(setup.staff, scan.id, payload)
    omr.correct_answers(setup.staff, scan.id, {"answers": [{"question": 1, "detected": ["1"]}]})
    assert omr.record_result(setup.staff, scan.id, payload)[1] is False
    with pytest.raises(Conflict):
        omr.record_result(setup.staff, scan.id, done(ALL_RIGHT))
    with pytest.raises(Conflict):
        omr.record_result(setup.staff, scan.id, {"status": "FAILED", "error": "again"})
    assert described(scan)["score"] == 25


def test_corrections_before_assignment_are_kept_for_it(setup):
    scan = register(setup, None)
    omr.record_result(setup.staff, scan.id, done([answer(1, "1"), answer(2, "2", confidence=0.2), answer(3, "3"),
                                                  answer(4, "24")], identifier={"status": "blank"}))
    assert described(scan)["review_reasons"] == ["ANSWER_LOW_CONFIDENCE", "IDENTIFIER_NOT_OK"]
    omr.correct_answers(setup.staff, scan.id, {"answers": [{"question": 2, "detected": ["2"]}]})
    assert described(scan)["review_reasons"] == ["IDENTIFIER_NOT_OK"]
    omr.assign_student(setup.staff, scan.id, {"enrollment_id": setup.minji.id})
    assert (described(scan)["score"], described(scan)["review_reasons"]) == (100, [])


def test_correcting_a_scan_without_a_result_is_a_conflict(setup):
    scan = register(setup, setup.minji)
    with pytest.raises(Conflict):
        omr.correct_answers(setup.staff, scan.id, {"answers": [{"question": 1, "detected": ["1"]}]})


# ---------------------------------------------------------------- clinic links from OMR facts

def auto_risk(enrollment: Enrollment, session: LectureSession) -> ClinicLink | None:
    return db.session.execute(
        select(ClinicLink).where(ClinicLink.enrollment_id == enrollment.id, ClinicLink.session_id == session.id,
                                 ClinicLink.reason == "AUTO_RISK")
    ).scalar_one_or_none()


def test_two_low_confidence_facts_across_attempts_open_an_auto_risk_link(setup):
    quiz, week2 = setup.quiz, setup.weeks[1]
    first = register(setup, setup.minji)
    # 75 each time (question 1 unsure): passing, so LOW_SCORE plays no part.
    omr.record_result(setup.staff, first.id, done([answer(1, "1", confidence=0.5), answer(2, "2"), answer(3, "3"),
                                                   answer(4, "24")]))
    assert auto_risk(setup.minji, week2) is None  # one LOW_CONFIDENCE fact
    second = register(setup, setup.minji)
    omr.record_result(setup.staff, second.id, done([answer(1, "1"), answer(2, "2", confidence=0.6), answer(3, "3"),
                                                    answer(4, "24")]))
    link = auto_risk(setup.minji, week2)
    assert link is not None and link.resolved_at is None
    assert link.meta["exam_reasons"][str(quiz.id)]["LOW_CONFIDENCE_OMR"]["count"] == 2
    # REPEATED_WRONG does not apply: questions 1 and 2 were each wrong in one attempt only.
    assert "REPEATED_WRONG" not in link.meta["exam_reasons"][str(quiz.id)]

    # A person reads question 2 of the second sheet: one LOW_CONFIDENCE fact left, the link resolves.
    omr.correct_answers(setup.staff, second.id, {"answers": [{"question": 2, "detected": ["2"]}]})
    db.session.refresh(link)
    assert link.resolved_at is not None and link.meta["auto_resolved"] is True


# ---------------------------------------------------------------- answer-key edits

def test_regrade_exam_after_a_key_edit_keeps_corrections_and_recomputes(setup):
    graded = register(setup, setup.minji)
    omr.record_result(setup.staff, graded.id, done([answer(1, "1"), answer(2, "2"), answer(3, "4", confidence=0.3),
                                                    answer(4, "2")]))
    omr.correct_answers(setup.staff, graded.id, {"answers": [{"question": 3, "detected": ["3"]}]})
    # 25 + 25 + 25 (corrected) = 75
    assert described(graded)["score"] == 75
    waiting = register(setup, None)
    omr.record_result(setup.staff, waiting.id, done([answer(1, "1"), answer(2, "2"), answer(3, "3"),
                                                     answer(4, "24", marking="multi")],
                                                    identifier={"status": "blank"}))
    assert described(waiting)["review_reasons"] == ["IDENTIFIER_NOT_OK"]

    # The key changes: question 4 becomes "2" (one mark, 30 points), question 1 is worth 10.
    rows = {q.number: q for q in db.session.execute(
        select(ExamQuestion).where(ExamQuestion.exam_id == setup.quiz.id)).scalars()}
    rows[4].answer, rows[4].points = "2", Decimal(30)
    rows[1].points = Decimal(10)
    db.session.flush()
    assert regrade.regrade_exam(setup.quiz.id, setup.staff) == 1
    # 10 + 25 + 25 (still corrected) + 30 (question 4 read "2" is right now) = 90
    assert described(graded)["score"] == 90
    assert facts_of(graded.attempt_id)[3] == (4, True, None, "2")
    assert facts_of(graded.attempt_id)[2] == (3, True, None, "3")
    assert progress(setup.minji, setup.weeks[1]).exam_aggregate_score == Decimal(90)
    # The waiting scan's multi marking is now unexpected on a one-mark question.
    assert described(waiting)["review_reasons"] == ["ANSWER_BLANK_OR_MULTI", "IDENTIFIER_NOT_OK"]
    # Nothing left to change: a second regrade writes nothing.
    assert regrade.regrade_exam(setup.quiz.id) == 0


def test_regrade_exam_drops_answers_to_a_question_removed_from_the_key(setup):
    scan = register(setup, setup.jisoo)
    omr.record_result(setup.staff, scan.id, done([answer(1, "1"), answer(2, "2"), answer(3, "1"), answer(4, "24")]))
    assert described(scan)["score"] == 75
    assert progress(setup.jisoo, setup.weeks[1]).exam_passed is True
    question = db.session.execute(select(ExamQuestion).where(ExamQuestion.exam_id == setup.quiz.id,
                                                             ExamQuestion.number == 1)).scalar_one()
    db.session.delete(question)
    db.session.flush()
    assert regrade.regrade_exam(setup.quiz.id) == 1
    # 25 (q2) + 25 (q4) = 50 < 60: week 2 no longer passed.
    assert described(scan)["score"] == 50
    assert [fact[0] for fact in facts_of(scan.attempt_id)] == [2, 3, 4]
    assert progress(setup.jisoo, setup.weeks[1]).exam_passed is False
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "omr_scan.regrade")).scalar_one()
    assert (entry.before["score"], entry.after["score"], entry.username) == (75, 50, None)


def test_the_queue_lists_scans_needing_review_within_the_callers_lectures(setup):
    clean = register(setup, setup.minji)
    omr.record_result(setup.staff, clean.id, done(ALL_RIGHT))
    flagged = register(setup, setup.jisoo)
    omr.record_result(setup.staff, flagged.id, done([answer(1, "1", confidence=0.1)]))
    unknown = register(setup, None)
    omr.record_result(setup.staff, unknown.id, done(ALL_RIGHT, identifier={"status": "blank"}))
    pending = register(setup, None)
    outsider = make_user("teacher_b", "teacher")

    def ids(user, **args):
        return [row[0].id for row in omr.list_scans(user, {k: str(v) for k, v in args.items()}).rows]

    assert ids(setup.staff) == [clean.id, flagged.id, unknown.id, pending.id]
    assert ids(setup.staff, needs_review="true") == [flagged.id, unknown.id]
    assert ids(setup.staff, needs_review="false") == [clean.id, pending.id]
    assert ids(setup.teacher, needs_review="TRUE", exam_id=setup.quiz.id) == [flagged.id, unknown.id]
    assert ids(setup.staff, exam_id=setup.quiz.id + 1) == []
    assert ids(outsider) == []
    review = scans.review_answers(flagged)
    assert [(r.question, r.detected, r.flags, r.is_correct) for r in review] == [
        (1, ["1"], ["ANSWER_LOW_CONFIDENCE"], False), (2, None, [], False), (3, None, [], False),
        (4, None, [], False)]


# ---------------------------------------------------------------- the demo worker

def test_omr_simulate_posts_each_kind_of_sheet(setup, runner):
    db.session.commit()
    result = runner.invoke(args=["omr-simulate", "--count", "5", "--seed", "7"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    kinds = ["confident", "low-confidence", "blank", "multi-marked", "bad identifier"]
    assert [line.split("(")[1].split(")")[0] for line in lines[:5]] == kinds
    scans = list(db.session.execute(select(OmrScan).order_by(OmrScan.id)).scalars())
    assert [scan.status for scan in scans] == ["graded"] * 4 + ["needs_review"]
    assert scans[1].review_reasons == ["ANSWER_LOW_CONFIDENCE"]
    assert scans[2].review_reasons == ["ANSWER_BLANK_OR_MULTI"]
    assert "ANSWER_BLANK_OR_MULTI" in scans[3].review_reasons
    assert scans[4].review_reasons == ["IDENTIFIER_NOT_OK"]
    # The confident sheet was identified by its box, not registered.
    assert scans[0].registered_enrollment_id is None and scans[0].enrollment_id == setup.minji.id
    assert "1 wait for a student" in lines[-1]


def test_omr_simulate_refuses_an_exam_without_a_key(setup, runner):
    keyless = make_exam([setup.weeks[2]])
    db.session.commit()
    result = runner.invoke(args=["omr-simulate", "--exam", str(keyless.id)])
    assert result.exit_code == 1
    assert "no answer key" in result.output
    assert db.session.execute(select(func.count()).select_from(OmrScan)).scalar_one() == 0


def test_a_snapshot_changing_the_key_regrades_scanned_attempts_and_recomputes(setup):
    """SPEC §7: an answer key changed by an import regrades OMR-graded attempts first."""
    from dashboard.importer import import_snapshot

    scan = register(setup, setup.minji)
    # Question 4 read as "2" only: wrong against "24" -> 25 + 25 + 25 = 75.
    omr.record_result(setup.staff, scan.id, done([answer(1, "1"), answer(2, "2"), answer(3, "3"), answer(4, "2")]))
    assert attempts_of(setup.minji, setup.quiz)[0].score == Decimal(75)
    # The new key: question 4 is "2" and worth 40, question 1 worth 10 -> 10 + 25 + 25 + 40 = 100.
    result = import_snapshot({"exams": [{"id": setup.quiz.id, "questions": [
        {"number": 1, "answer": "1", "points": 10}, {"number": 2, "answer": "2", "points": 25},
        {"number": 3, "answer": "3", "points": 25}, {"number": 4, "answer": "2", "points": 40}]}]})
    assert result.updated["exams"] == 1
    db.session.expire_all()
    assert attempts_of(setup.minji, setup.quiz)[0].score == Decimal(100)
    assert progress(setup.minji, setup.weeks[1]).exam_aggregate_score == Decimal(100)

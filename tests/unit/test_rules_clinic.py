"""SPEC §6: the exam-risk reasons of an (enrollment, exam) and the automatic clinic-link lifecycle (steps 1-5).

Pure rules only: no app, no database.
"""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from dashboard.progress.rules import (
    AnswerFactInfo,
    ExamInfo,
    ExamResult,
    LinkState,
    Policy,
    SessionOutcome,
    exam_risk_reasons,
    failed_link_cause,
    link_transition,
)

DEFAULT = Policy()  # pass score 60, source EXAM


def result(score: str, attempts: int = 1) -> ExamResult:
    return ExamResult(exam_id=1, score=D(score), submitted_at=None, attempt_count=attempts)


def fact(attempt_no: int, question: int, correct: bool = True, invalid: str | None = None) -> AnswerFactInfo:
    return AnswerFactInfo(attempt_no=attempt_no, question=question, is_correct=correct, invalid_reason=invalid)


# ---------------------------------------------------------------- LOW_SCORE

@pytest.mark.parametrize(
    ("score", "reasons"),
    [
        ("69.99", {"LOW_SCORE": {"score": D("69.99"), "pass_score": D(70)}}),  # 0.01 under the line
        ("70", {}),                                                           # on the line: no risk
        ("0", {"LOW_SCORE": {"score": D(0), "pass_score": D(70)}}),
    ],
)
def test_low_score_against_the_exams_pass_score(score, reasons):
    assert exam_risk_reasons(DEFAULT, ExamInfo(1, pass_score=D(70)), result(score), []) == reasons


def test_low_score_exam_without_pass_score_uses_the_policy_score():
    # No pass score on the exam -> policy 60: 59.99 is low, 60 is not.
    exam = ExamInfo(1, pass_score=None)
    assert exam_risk_reasons(DEFAULT, exam, result("59.99"), []) == {
        "LOW_SCORE": {"score": D("59.99"), "pass_score": D(60)},
    }
    assert exam_risk_reasons(DEFAULT, exam, result("60"), []) == {}


def test_low_score_under_policy_source_uses_the_policy_score():
    # The exam asks 80; under POLICY the line is 50: 70 is fine. Under EXAM 70 < 80 is low.
    exam = ExamInfo(1, pass_score=D(80))
    assert exam_risk_reasons(Policy(exam_pass_source="POLICY", exam_pass_score=D(50)), exam, result("70"), []) == {}
    assert exam_risk_reasons(DEFAULT, exam, result("70"), [])["LOW_SCORE"] == {"score": D(70), "pass_score": D(80)}


# ---------------------------------------------------------------- LOW_CONFIDENCE_OMR

def test_one_low_confidence_answer_is_not_a_risk():
    facts = [fact(1, 1, False, "LOW_CONFIDENCE"), fact(1, 2)]
    assert exam_risk_reasons(DEFAULT, ExamInfo(1), result("90"), facts) == {}


def test_two_low_confidence_answers_over_different_attempts_are_a_risk():
    # Attempt 1 question 3 and attempt 2 question 5: 2 >= threshold 2.
    facts = [fact(1, 3, False, "LOW_CONFIDENCE"), fact(1, 4), fact(2, 5, False, "LOW_CONFIDENCE"), fact(2, 3)]
    assert exam_risk_reasons(DEFAULT, ExamInfo(1), result("90"), facts) == {
        "LOW_CONFIDENCE_OMR": {"count": 2, "threshold": 2},
    }


def test_low_confidence_counts_every_fact_of_one_attempt():
    facts = [fact(1, q, False, "LOW_CONFIDENCE") for q in (1, 2, 3)]
    assert exam_risk_reasons(DEFAULT, ExamInfo(1), result("90"), facts)["LOW_CONFIDENCE_OMR"] == {
        "count": 3, "threshold": 2,
    }


def test_blank_and_multi_are_not_low_confidence():
    facts = [fact(1, 1, False, "BLANK"), fact(1, 2, False, "MULTI"), fact(2, 3, False, "BLANK")]
    assert "LOW_CONFIDENCE_OMR" not in exam_risk_reasons(DEFAULT, ExamInfo(1), result("90"), facts)


# ---------------------------------------------------------------- REPEATED_WRONG

def test_questions_wrong_in_two_distinct_attempts():
    facts = [
        fact(1, 3, False), fact(2, 3, False),              # question 3: wrong in 1 and 2 -> repeated
        fact(1, 7, False), fact(2, 7, True), fact(3, 7, False),  # question 7: wrong in 1 and 3 -> repeated
        fact(1, 5, False), fact(2, 5, True),               # question 5: wrong once
        fact(1, 1, True), fact(2, 1, True),
    ]
    assert exam_risk_reasons(DEFAULT, ExamInfo(1), result("90", attempts=3), facts) == {
        "REPEATED_WRONG": {"questions": [3, 7]},
    }


def test_a_question_wrong_in_a_single_attempt_is_not_repeated():
    facts = [fact(1, 4, False), fact(1, 5, False), fact(1, 6, False)]
    assert exam_risk_reasons(DEFAULT, ExamInfo(1), result("90"), facts) == {}


def test_a_blank_answer_counts_as_wrong():
    # BLANK facts are is_correct=false: question 2 blank in attempts 1 and 2 -> repeated.
    facts = [fact(1, 2, False, "BLANK"), fact(2, 2, False, "BLANK")]
    assert exam_risk_reasons(DEFAULT, ExamInfo(1), result("90", attempts=2), facts) == {
        "REPEATED_WRONG": {"questions": [2]},
    }


# ---------------------------------------------------------------- together, and no result

def test_all_three_reasons_at_once():
    facts = [fact(1, 1, False, "LOW_CONFIDENCE"), fact(2, 1, False, "LOW_CONFIDENCE"), fact(2, 2, True)]
    assert exam_risk_reasons(DEFAULT, ExamInfo(1, pass_score=D(60)), result("40", attempts=2), facts) == {
        "LOW_SCORE": {"score": D(40), "pass_score": D(60)},
        "LOW_CONFIDENCE_OMR": {"count": 2, "threshold": 2},
        "REPEATED_WRONG": {"questions": [1]},
    }


def test_no_result_means_no_risk_whatever_the_facts():
    facts = [fact(1, 1, False, "LOW_CONFIDENCE"), fact(2, 1, False, "LOW_CONFIDENCE")]
    assert exam_risk_reasons(DEFAULT, ExamInfo(1, pass_score=D(100)), None, facts) == {}


# ---------------------------------------------------------------- link lifecycle

CAUSE = {"exam_reasons": {"5": {"LOW_SCORE": {"score": "40", "pass_score": "60"}}}}
OTHER_CAUSE = {"exam_reasons": {"5": {"LOW_SCORE": {"score": "45", "pass_score": "60"}}}}


def test_step_1_cause_and_no_link_creates_one():
    assert link_transition(True, None, CAUSE) == "create"


def test_no_cause_and_no_link_does_nothing():
    assert link_transition(False, None) == "none"


def test_step_2_open_automatic_link_is_refreshed_when_its_meta_differs():
    link = LinkState(resolved=False, auto_managed=True, meta=CAUSE)
    assert link_transition(True, link, OTHER_CAUSE) == "refresh"
    assert link_transition(True, link, CAUSE) == "none"  # same meta: nothing to write


def test_step_2_the_auto_resolved_flag_is_not_a_difference():
    # After a reopen the stored meta carries auto_resolved=false next to the same cause.
    link = LinkState(resolved=False, auto_managed=True, meta={**CAUSE, "auto_resolved": False})
    assert link_transition(True, link, CAUSE) == "none"


def test_step_3_cause_gone_resolves_an_open_automatic_link():
    assert link_transition(False, LinkState(resolved=False, auto_managed=True, meta=CAUSE)) == "resolve"


def test_step_3_an_auto_resolved_link_with_no_cause_stays_as_it_is():
    link = LinkState(resolved=True, auto_managed=True, meta={**CAUSE, "auto_resolved": True})
    assert link_transition(False, link) == "none"


def test_step_4_cause_back_reopens_an_auto_resolved_link():
    link = LinkState(resolved=True, auto_managed=True, meta={**CAUSE, "auto_resolved": True})
    assert link_transition(True, link, CAUSE) == "reopen"
    assert link_transition(True, link, OTHER_CAUSE) == "reopen"


@pytest.mark.parametrize("resolved", [False, True])
@pytest.mark.parametrize("cause_present", [False, True])
def test_step_5_a_link_a_person_acted_on_is_never_touched(resolved, cause_present):
    # Approved, resolved or reopened by a person: auto_managed is false from then on.
    link = LinkState(resolved=resolved, auto_managed=False, meta=CAUSE)
    assert link_transition(cause_present, link, OTHER_CAUSE) == "none"


def test_a_full_lifecycle():
    """create -> refresh -> resolve -> reopen, then a person acts and the recompute lets go."""
    steps = []
    link = None
    for cause, meta in [(True, CAUSE), (True, OTHER_CAUSE), (False, None), (True, CAUSE)]:
        step = link_transition(cause, link, meta)
        steps.append(step)
        if step in ("create", "refresh"):
            link = LinkState(resolved=False, auto_managed=True, meta=meta)
        elif step == "resolve":
            link = LinkState(resolved=True, auto_managed=True, meta={**link.meta, "auto_resolved": True})
        elif step == "reopen":
            link = LinkState(resolved=False, auto_managed=True, meta={**meta, "auto_resolved": False})
    assert steps == ["create", "refresh", "resolve", "reopen"]
    # A person resolves it; the cause is still there but the recompute leaves it resolved.
    link = LinkState(resolved=True, auto_managed=False, meta=link.meta)
    assert link_transition(True, link, CAUSE) == "none"


# ---------------------------------------------------------------- the AUTO_FAILED cause

def outcome(video: bool, exam: bool, homework: bool) -> SessionOutcome:
    return SessionOutcome(attendance_type="online", video_progress_rate=95 if video else 40, video_completed=video,
                          exam_attempted=True, exam_aggregate_score=D("70") if exam else D("40"), exam_passed=exam,
                          exam_meta={}, homework_submitted=True, homework_passed=homework,
                          completed=video and exam and homework)


def test_a_due_session_not_completed_names_the_parts_it_missed():
    # Video watched, exam failed (40 < 60), homework passed: the link says the exam is what failed.
    assert failed_link_cause(outcome(True, False, True), due=True) == {
        "video_completed": True, "exam_passed": False, "homework_passed": True}


@pytest.mark.parametrize("session,due", [
    (outcome(True, True, True), True),     # completed: no link
    (outcome(False, False, False), False),  # held but inside its grace days: not yet due
    (None, True),                           # not held for this enrollment
])
def test_no_auto_failed_link_is_wanted(session, due):
    assert failed_link_cause(session, due) is None

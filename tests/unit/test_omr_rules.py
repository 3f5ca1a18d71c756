"""SPEC §10 rules without a database: payload reading, flags, identification, grading."""
from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.omr import grading as rules
from dashboard.omr.grading import (
    ANSWER_BLANK_OR_MULTI,
    ANSWER_LOW_CONFIDENCE,
    ANSWER_STATUS_NOT_OK,
    IDENTIFIER_MISMATCH,
    IDENTIFIER_NOT_OK,
    Identifier,
    KeyQuestion,
    Reading,
)

SINGLE = KeyQuestion(1, "3", Decimal(5))
CHOOSE_ALL = KeyQuestion(2, "24", Decimal("2.5"))


def reading(question=1, detected=("3",), marking="single", confidence=Decimal("0.95"), status="ok"):
    return Reading(question, frozenset(detected), marking, confidence, status)


def payload(answers, identifier=None, **result):
    body = {"status": "DONE", "result": {"version": "v2", "mode": "fast", "meta_used": True, "answers": answers,
                                         **result}}
    if identifier is not None:
        body["result"]["identifier"] = identifier
    return body


# ---------------------------------------------------------------- flags

def test_a_confident_single_ok_answer_has_no_flag():
    assert rules.answer_flags(reading(), SINGLE) == frozenset()


@pytest.mark.parametrize("status", ["error", "ambiguous", None, ""])
def test_an_answer_status_other_than_ok_is_flagged(status):
    assert rules.answer_flags(reading(status=status), SINGLE) == {ANSWER_STATUS_NOT_OK}


def test_blank_marking_is_flagged_even_on_a_choose_all_question():
    assert rules.answer_flags(reading(2, (), marking="blank"), CHOOSE_ALL) == {ANSWER_BLANK_OR_MULTI}


def test_multi_marking_is_flagged_on_a_single_mark_question_only():
    multi = reading(detected=("2", "4"), marking="multi")
    assert rules.answer_flags(multi, SINGLE) == {ANSWER_BLANK_OR_MULTI}
    assert rules.answer_flags(multi, CHOOSE_ALL) == frozenset()


def test_confidence_below_070_is_flagged_and_070_itself_is_not():
    assert rules.answer_flags(reading(confidence=Decimal("0.69")), SINGLE) == {ANSWER_LOW_CONFIDENCE}
    assert rules.answer_flags(reading(confidence=Decimal("0.70")), SINGLE) == frozenset()


def test_a_missing_confidence_is_no_flag():
    assert rules.answer_flags(reading(confidence=None), SINGLE) == frozenset()


def test_every_flag_at_once_and_corrected_answers_have_none():
    bad = reading(detected=(), marking="blank", confidence=Decimal("0.2"), status="error")
    assert rules.answer_flags(bad, SINGLE) == {ANSWER_STATUS_NOT_OK, ANSWER_BLANK_OR_MULTI, ANSWER_LOW_CONFIDENCE}
    corrected = Reading(1, frozenset("3"), "blank", Decimal("0.2"), "error", corrected=True)
    assert rules.answer_flags(corrected, SINGLE) == frozenset()


def test_status_and_marking_are_compared_case_insensitively():
    parsed = rules.parse_payload(payload([
        {"question": 1, "detected": ["3"], "marking": "SINGLE", "confidence": Decimal("0.9"), "status": "OK"},
        {"question": 2, "detected": [], "marking": "Blank", "confidence": Decimal("0.9"), "status": "Ok"},
    ]))
    first, second = parsed.answers
    assert rules.answer_flags(first, SINGLE) == frozenset()
    assert rules.answer_flags(second, CHOOSE_ALL) == {ANSWER_BLANK_OR_MULTI}


# ---------------------------------------------------------------- identification

def test_the_registered_enrollment_is_the_student_without_an_identifier():
    assert rules.identify(None, 7, False) == rules.Identification(7, frozenset())


def test_no_registration_and_no_identifier_needs_review():
    assert rules.identify(None, None, False) == rules.Identification(None, {IDENTIFIER_NOT_OK})


@pytest.mark.parametrize("status", ["blank", "ambiguous", "error", None])
def test_an_identifier_not_ok_needs_review_even_with_a_registration(status):
    assert rules.identify(Identifier(status, None), 7, False) == rules.Identification(7, {IDENTIFIER_NOT_OK})
    assert rules.identify(Identifier(status, 9), None, True) == rules.Identification(None, {IDENTIFIER_NOT_OK})


def test_an_ok_identifier_names_the_student_when_none_is_registered():
    assert rules.identify(Identifier("ok", 9), None, True) == rules.Identification(9, frozenset())


def test_an_ok_identifier_naming_no_enrollment_of_the_exam_needs_review():
    assert rules.identify(Identifier("ok", 9), None, False) == rules.Identification(None, {IDENTIFIER_NOT_OK})
    assert rules.identify(Identifier("ok", None), None, False) == rules.Identification(None, {IDENTIFIER_NOT_OK})


def test_an_identifier_naming_another_enrollment_than_the_registered_one_is_a_mismatch():
    assert rules.identify(Identifier("ok", 9), 7, True) == rules.Identification(7, {IDENTIFIER_MISMATCH})
    assert rules.identify(Identifier("ok", 7), 7, True) == rules.Identification(7, frozenset())
    assert rules.identify(Identifier("ok", None), 7, False) == rules.Identification(7, frozenset())


# ---------------------------------------------------------------- grading

def test_a_choose_all_answer_is_correct_when_the_sets_are_equal_in_any_order():
    key = [CHOOSE_ALL]
    right = rules.grade(key, {2: reading(2, ("4", "2"), marking="multi")})
    assert right.answers == (rules.GradedAnswer(2, True, None, "24"),)
    assert right.score == Decimal("2.5")
    half = rules.grade(key, {2: reading(2, ("2",))})
    assert half.answers == (rules.GradedAnswer(2, False, None, "2"),)
    assert half.score == 0


def test_score_sums_the_points_of_correct_answers_exactly():
    key = [KeyQuestion(1, "1", Decimal("1.25")), KeyQuestion(2, "2", Decimal("2.5")),
           KeyQuestion(3, "3", Decimal("0.75")), KeyQuestion(4, "4", Decimal("3.33"))]
    readings = {1: reading(1, ("1",)), 2: reading(2, ("2",)), 3: reading(3, ("1",)), 4: reading(4, ("4",))}
    # 1.25 + 2.5 + 3.33 = 7.08 (question 3 is wrong)
    assert rules.grade(key, readings).score == Decimal("7.08")


def test_flagged_answers_are_wrong_with_blank_then_multi_then_low_confidence():
    key = [KeyQuestion(1, "1", Decimal(1)), KeyQuestion(2, "2", Decimal(1)), KeyQuestion(3, "3", Decimal(1)),
           KeyQuestion(4, "4", Decimal(1)), KeyQuestion(5, "15", Decimal(1))]
    readings = {
        1: reading(1, (), marking="blank"),
        2: reading(2, ("2", "3"), marking="multi", confidence=Decimal("0.4")),
        # read right, but not sure: still wrong, LOW_CONFIDENCE
        3: reading(3, ("3",), confidence=Decimal("0.5")),
        4: reading(4, ("4",), status="error"),
        # an expected multi read unsure is LOW_CONFIDENCE, not MULTI
        5: reading(5, ("1", "5"), marking="multi", confidence=Decimal("0.6")),
    }
    grading = rules.grade(key, readings)
    assert [(a.question, a.is_correct, a.invalid_reason) for a in grading.answers] == [
        (1, False, "BLANK"), (2, False, "MULTI"), (3, False, "LOW_CONFIDENCE"), (4, False, "LOW_CONFIDENCE"),
        (5, False, "LOW_CONFIDENCE"),
    ]
    assert grading.score == 0
    assert grading.reasons == {ANSWER_BLANK_OR_MULTI, ANSWER_LOW_CONFIDENCE, ANSWER_STATUS_NOT_OK}


def test_a_key_question_missing_from_the_answers_is_wrong_blank_with_no_reason():
    grading = rules.grade([SINGLE, CHOOSE_ALL], {1: reading()})
    assert grading.answers == (rules.GradedAnswer(1, True, None, "3"), rules.GradedAnswer(2, False, "BLANK", None))
    assert grading.score == Decimal(5)
    assert grading.reasons == frozenset()


def test_corrections_replace_the_worker_marks_and_clear_flags():
    readings = {1: reading(1, ("2",), confidence=Decimal("0.3"))}
    merged = rules.with_corrections(readings, {1: frozenset("3"), 2: frozenset("42")})
    grading = rules.grade([SINGLE, CHOOSE_ALL], merged)
    assert grading.answers == (rules.GradedAnswer(1, True, None, "3"), rules.GradedAnswer(2, True, None, "24"))
    assert grading.score == Decimal("7.5")
    assert grading.reasons == frozenset()


def test_review_reasons_are_sorted_and_unique():
    assert rules.review_reasons({ANSWER_LOW_CONFIDENCE, ANSWER_BLANK_OR_MULTI}, [IDENTIFIER_NOT_OK],
                                [ANSWER_LOW_CONFIDENCE]) == [ANSWER_BLANK_OR_MULTI, ANSWER_LOW_CONFIDENCE,
                                                             IDENTIFIER_NOT_OK]


# ---------------------------------------------------------------- reading the payload

def test_a_full_payload_is_read():
    parsed = rules.parse_payload(payload(
        [{"question": 3, "detected": ["2", "2"], "marking": "single", "confidence": 0.93, "status": "ok"}],
        identifier={"status": "OK", "enrollment_id": 12},
    ))
    assert parsed.failed is False
    assert (parsed.version, parsed.mode, parsed.meta_used) == ("v2", "fast", True)
    assert parsed.identifier == Identifier("ok", 12)
    assert parsed.answers == (Reading(3, frozenset("2"), "single", Decimal("0.93"), "ok"),)


def test_a_failed_payload_needs_only_its_status():
    assert rules.parse_payload({"status": "failed", "error": "sheet torn"}) == rules.WorkerResult(True, "sheet torn")


@pytest.mark.parametrize("body, field", [
    ([], None),
    ({}, "status"),
    ({"status": "MAYBE"}, "status"),
    ({"status": "FAILED", "error": 3}, "error"),
    ({"status": "DONE"}, "result"),
    ({"status": "DONE", "result": []}, "result"),
    ({"status": "DONE", "result": {"version": 2}}, "result.version"),
    ({"status": "DONE", "result": {"mode": "x" * 65}}, "result.mode"),
    ({"status": "DONE", "result": {"meta_used": "yes"}}, "result.meta_used"),
    ({"status": "DONE", "result": {"identifier": "ok"}}, "result.identifier"),
    ({"status": "DONE", "result": {"identifier": {"status": "ok", "enrollment_id": "3"}}},
     "result.identifier.enrollment_id"),
    ({"status": "DONE", "result": {"identifier": {"status": 1}}}, "result.identifier.status"),
    ({"status": "DONE", "result": {"answers": {}}}, "result.answers"),
    ({"status": "DONE", "result": {"answers": [5]}}, "result.answers[0]"),
    ({"status": "DONE", "result": {"answers": [{"question": True}]}}, "result.answers[0].question"),
    ({"status": "DONE", "result": {"answers": [{"question": 0}]}}, "result.answers[0].question"),
    ({"status": "DONE", "result": {"answers": [{"question": 1}, {"question": 1}]}}, "result.answers[1].question"),
    ({"status": "DONE", "result": {"answers": [{"question": 1, "detected": "2"}]}}, "result.answers[0].detected"),
    ({"status": "DONE", "result": {"answers": [{"question": 1, "detected": ["2", "34"]}]}},
     "result.answers[0].detected[1]"),
    ({"status": "DONE", "result": {"answers": [{"question": 1, "detected": [2]}]}}, "result.answers[0].detected[0]"),
    ({"status": "DONE", "result": {"answers": [{"question": 1, "confidence": "high"}]}},
     "result.answers[0].confidence"),
    ({"status": "DONE", "result": {"answers": [{"question": 1, "confidence": 93}]}}, "result.answers[0].confidence"),
    ({"status": "DONE", "result": {"answers": [{"question": 1, "confidence": True}]}},
     "result.answers[0].confidence"),
    ({"status": "DONE", "result": {"answers": [{"question": 1, "marking": 1}]}}, "result.answers[0].marking"),
    ({"status": "DONE", "result": {"answers": [{"question": 1, "status": ["ok"]}]}}, "result.answers[0].status"),
])
def test_malformed_payloads_are_refused_naming_the_field(body, field):
    with pytest.raises(rules.PayloadInvalid) as caught:
        rules.parse_payload(body)
    assert caught.value.field == field


def test_an_answer_to_a_question_outside_the_key_is_refused_with_its_position():
    parsed = rules.parse_payload(payload([{"question": 1}, {"question": 2}, {"question": 9}]))
    with pytest.raises(rules.PayloadInvalid) as caught:
        rules.check_questions(parsed.answers, [1, 2, 3])
    assert caught.value.field == "result.answers[2].question"


def test_corrections_are_read_and_checked():
    assert rules.parse_corrections({"answers": [{"question": 2, "detected": ["4", "2"]}, {"question": 1,
                                                                                           "detected": []}]},
                                   [1, 2]) == {2: frozenset("24"), 1: frozenset()}
    for body, field in [
        ({"answers": []}, "answers"),
        ({"answers": [{"question": 5, "detected": []}]}, "answers[0].question"),
        ({"answers": [{"question": 1}]}, "answers[0].detected"),
        ({"answers": [{"question": 1, "detected": [], "confidence": 1}]}, "answers[0].confidence"),
        ({"answers": [{"question": 1, "detected": []}, {"question": 1, "detected": ["2"]}]}, "answers[1].question"),
        ({"answers": [{"question": 1, "detected": []}], "score": 3}, "score"),
    ]:
        with pytest.raises(rules.PayloadInvalid) as caught:
            rules.parse_corrections(body, [1, 2])
        assert caught.value.field == field

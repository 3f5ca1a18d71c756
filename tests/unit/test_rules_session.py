"""SPEC §3: one session-progress row — video, exam (notes, pass line, MAX/AVG/LATEST, meta), homework, completion.

Pure rules only: no app, no database. Every number is worked by hand in the comments.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from dashboard.progress.rules import (
    ActivityInfo,
    ExamInfo,
    ExamResult,
    HomeworkInfo,
    Policy,
    SessionInfo,
    SubmissionInfo,
    effective_pass_score,
    exam_part,
    homework_passes,
    homework_percent_rounded,
    session_outcome,
    video_completed,
)

KST = timezone(timedelta(hours=9))
DEFAULT = Policy()  # exam and homework range 2..9999, pass score 60, MAX, EXAM, TEACHER_APPROVAL
IN_RANGE = 2


def exam(exam_id: int, pass_score: str | None = None, max_score: str = "100") -> ExamInfo:
    return ExamInfo(id=exam_id, max_score=D(max_score), pass_score=None if pass_score is None else D(pass_score))


def result(exam_id: int, score: str, submitted_at: datetime | None = None, attempts: int = 1) -> ExamResult:
    return ExamResult(exam_id=exam_id, score=D(score), submitted_at=submitted_at, attempt_count=attempts)


def grade(policy: Policy, exams: list[ExamInfo], results: list[ExamResult], order: int = IN_RANGE):
    """exam_part for a session of `order`, with the results keyed by exam id."""
    return exam_part(policy, order, exams, {r.exam_id: r for r in results})


def march(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=KST)


# ---------------------------------------------------------------- video

@pytest.mark.parametrize(
    ("activity", "required", "completed"),
    [
        (ActivityInfo("online", 90), 90, True),    # exactly at the required rate
        (ActivityInfo("online", 89), 90, False),   # one under
        (ActivityInfo("online", 100), 100, True),
        (ActivityInfo("online", 0), 0, True),      # nothing required
        (ActivityInfo("offline", 0), 90, True),    # attended in class: the video does not matter
        (ActivityInfo("offline", 0), 100, True),
    ],
)
def test_video_completed(activity, required, completed):
    assert video_completed(Policy(video_required_rate=required), activity) is completed


def test_no_activity_record_means_online_at_zero_percent():
    outcome = session_outcome(DEFAULT, SessionInfo(1, 1), [], {}, [], {}, None)
    assert (outcome.attendance_type, outcome.video_progress_rate, outcome.video_completed) == ("online", 0, False)


def test_activity_values_are_copied_to_the_row():
    outcome = session_outcome(DEFAULT, SessionInfo(1, 1), [], {}, [], {}, ActivityInfo("offline", 40))
    assert (outcome.attendance_type, outcome.video_progress_rate, outcome.video_completed) == ("offline", 40, True)


# ---------------------------------------------------------------- exam notes

def test_out_of_exam_range_passes_with_empty_meta_even_with_a_failed_result():
    # Order 1 < exam_start_session_order 2; the exam was sat and failed (10 < 60) but does not count.
    attempted, aggregate, passed, meta = grade(DEFAULT, [exam(5, "60")], [result(5, "10")], order=1)
    assert (attempted, aggregate, passed) == (False, None, True)
    assert meta == {
        "strategy": "MAX", "pass_source": "EXAM", "note": "out_of_exam_range",
        "aggregate_pass_score": None, "exams": [],
    }


@pytest.mark.parametrize(("order", "in_range"), [(2, False), (3, True), (5, True), (6, False)])
def test_exam_range_bounds_are_inclusive(order, in_range):
    policy = Policy(exam_start_session_order=3, exam_end_session_order=5)
    _, _, _, meta = grade(policy, [exam(1)], [], order=order)
    assert (meta["note"] != "out_of_exam_range") is in_range


def test_in_range_session_without_exams_passes():
    attempted, aggregate, passed, meta = grade(DEFAULT, [], [])
    assert (attempted, aggregate, passed) == (False, None, True)
    assert meta == {
        "strategy": "MAX", "pass_source": "EXAM", "note": "no_exams_in_session",
        "aggregate_pass_score": None, "exams": [],
    }


def test_exams_but_no_result_fails_and_lists_the_exams():
    attempted, aggregate, passed, meta = grade(DEFAULT, [exam(8, "70"), exam(3)], [])
    assert (attempted, aggregate, passed) == (False, None, False)
    assert meta == {
        "strategy": "MAX", "pass_source": "EXAM", "note": "no_results", "aggregate_pass_score": None,
        "exams": [
            # exam 3 has no pass score: its effective pass score is the policy's 60
            {"exam_id": 3, "score": None, "max_score": D(100), "pass_score": D(60), "passed": None,
             "submitted_at": None, "attempt_count": 0},
            {"exam_id": 8, "score": None, "max_score": D(100), "pass_score": D(70), "passed": None,
             "submitted_at": None, "attempt_count": 0},
        ],
    }


def test_a_result_gives_attempted_and_no_note():
    attempted, aggregate, passed, meta = grade(DEFAULT, [exam(1, "60")], [result(1, "75")])
    assert (attempted, aggregate, passed, meta["note"]) == (True, D("75"), True, None)


# ---------------------------------------------------------------- effective pass score

@pytest.mark.parametrize(
    ("source", "exam_pass", "policy_pass", "effective"),
    [
        ("EXAM", "70", "60", "70"),     # the exam's own pass score
        ("EXAM", None, "60", "60"),     # the exam has none: the policy's
        ("EXAM", "0", "60", "0"),       # zero is a pass score, not a missing one
        ("POLICY", "70", "55", "55"),   # POLICY ignores the exam's
        ("POLICY", None, "55", "55"),
    ],
)
def test_effective_pass_score(source, exam_pass, policy_pass, effective):
    policy = Policy(exam_pass_source=source, exam_pass_score=D(policy_pass))
    assert effective_pass_score(policy, exam(1, exam_pass)) == D(effective)


def test_exam_without_pass_score_uses_the_policy_score_not_zero():
    # The seed counted a missing pass score as 0, so everyone passed; here 59.99 < 60 fails.
    _, aggregate, passed, meta = grade(DEFAULT, [exam(1, None)], [result(1, "59.99")])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D("59.99"), False, D(60))
    assert meta["exams"][0]["pass_score"] == D(60)


def test_policy_source_uses_the_policy_score_for_every_exam():
    policy = Policy(exam_pass_source="POLICY", exam_pass_score=D("50"))
    # The exam asks 80, but under POLICY the line is 50: 65 >= 50 passes.
    _, aggregate, passed, meta = grade(policy, [exam(1, "80")], [result(1, "65")])
    assert (aggregate, passed, meta["aggregate_pass_score"], meta["pass_source"]) == (D(65), True, D(50), "POLICY")
    assert meta["exams"][0]["pass_score"] == D(50)
    assert meta["exams"][0]["passed"] is True


# ---------------------------------------------------------------- pass line boundary

@pytest.mark.parametrize("strategy", ["MAX", "AVG", "LATEST"])
@pytest.mark.parametrize(("score", "passed"), [("72.50", True), ("72.49", False), ("100", True)])
def test_score_on_the_pass_line_passes_and_one_cent_under_fails(strategy, score, passed):
    policy = Policy(exam_aggregate_strategy=strategy)
    _, aggregate, exam_passed, meta = grade(policy, [exam(1, "72.5")], [result(1, score)])
    assert aggregate == D(score)
    assert exam_passed is passed
    assert meta["exams"][0]["passed"] is passed


# ---------------------------------------------------------------- MAX

def test_max_takes_the_pass_line_of_the_best_exam():
    # Exam 1: 55 (line 50). Exam 2: 80 (line 90). MAX picks exam 2: 80 < 90 fails,
    # although exam 1 on its own passed.
    _, aggregate, passed, meta = grade(DEFAULT, [exam(1, "50"), exam(2, "90")], [result(1, "55"), result(2, "80")])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D(80), False, D(90))
    assert [row["passed"] for row in meta["exams"]] == [True, False]


def test_max_tie_goes_to_the_lower_effective_pass_score():
    # All three scored 75; lines 80, 70 and (no pass score ->) policy 72. The lowest, 70, is the line: pass.
    exams = [exam(1, "80"), exam(2, "70"), exam(3, None)]
    policy = Policy(exam_pass_score=D(72))
    results = [result(1, "75"), result(2, "75"), result(3, "75")]
    for ordering in (exams, exams[::-1]):
        _, aggregate, passed, meta = grade(policy, ordering, results)
        assert (aggregate, passed, meta["aggregate_pass_score"]) == (D(75), True, D(70))


def test_max_tie_on_score_and_pass_line_is_decided_by_the_lower_exam_id():
    # Exams 3 and 7 both scored 75 with line 70 -> exam 3 is chosen; the two are indistinguishable
    # in every output, so what must hold is that the answer does not depend on the order given.
    exams = [exam(7, "70"), exam(3, "70"), exam(5, "90")]
    results = [result(7, "75"), result(3, "75"), result(5, "60")]
    first = grade(DEFAULT, exams, results)
    second = grade(DEFAULT, exams[::-1], results[::-1])
    assert first == second
    assert first[1:3] == (D(75), True)
    assert first[3]["aggregate_pass_score"] == D(70)


def test_max_ignores_exams_without_a_result():
    # Exam 1 (line 0) has no result; only exam 2 takes part: 50 < 60 fails.
    _, aggregate, passed, meta = grade(DEFAULT, [exam(1, "0"), exam(2, "60")], [result(2, "50")])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D(50), False, D(60))


# ---------------------------------------------------------------- AVG

AVG = Policy(exam_aggregate_strategy="AVG")


def test_avg_rounds_the_aggregate_half_up():
    # (70.01 + 70.02) / 2 = 70.015 -> 70.02; lines (70.02 + 70.02) / 2 = 70.02: 70.02 >= 70.02 passes.
    # Truncating to 70.01 would fail.
    _, aggregate, passed, meta = grade(AVG, [exam(1, "70.02"), exam(2, "70.02")],
                                       [result(1, "70.01"), result(2, "70.02")])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D("70.02"), True, D("70.02"))


def test_avg_rounds_half_up_not_half_even():
    # (70.02 + 70.03) / 2 = 70.025 -> 70.03 (half-even would give 70.02); line 70.03: passes.
    _, aggregate, passed, _ = grade(AVG, [exam(1, "70.03"), exam(2, "70.03")],
                                    [result(1, "70.02"), result(2, "70.03")])
    assert (aggregate, passed) == (D("70.03"), True)


def test_avg_of_a_repeating_decimal_is_rounded_before_the_comparison():
    # Scores (60 + 61 + 61) / 3 = 182 / 3 = 60.666... -> 60.67; lines all 60.67 -> 60.67.
    # Unrounded, 60.666... < 60.67 would fail; rounded once, 60.67 >= 60.67 passes.
    exams = [exam(1, "60.67"), exam(2, "60.67"), exam(3, "60.67")]
    _, aggregate, passed, meta = grade(AVG, exams, [result(1, "60"), result(2, "61"), result(3, "61")])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D("60.67"), True, D("60.67"))


def test_avg_rounds_the_pass_line_half_up_too():
    # Lines (60.00 + 60.02 + 60.02) / 3 = 180.04 / 3 = 60.01333... -> 60.01.
    # Scores all 60.01 -> 60.01 >= 60.01 passes (against the unrounded line it would fail).
    exams = [exam(1, "60.00"), exam(2, "60.02"), exam(3, "60.02")]
    _, aggregate, passed, meta = grade(AVG, exams, [result(1, "60.01"), result(2, "60.01"), result(3, "60.01")])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D("60.01"), True, D("60.01"))


def test_avg_pass_line_rounding_up_can_fail_a_score():
    # Lines (60.01 + 60.02) / 2 = 60.015 -> 60.02; scores (60.01 + 60.02) / 2 = 60.015 -> 60.02: passes.
    # Lines (60.02 + 60.03) / 2 = 60.025 -> 60.03 with the same scores: 60.02 < 60.03 fails.
    results = [result(1, "60.01"), result(2, "60.02")]
    assert grade(AVG, [exam(1, "60.01"), exam(2, "60.02")], results)[2] is True
    _, aggregate, passed, meta = grade(AVG, [exam(1, "60.02"), exam(2, "60.03")], results)
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D("60.02"), False, D("60.03"))


def test_avg_with_exam_source_mixes_own_and_policy_pass_scores():
    # Exam 1 has no pass score (policy 60), exam 2 asks 80: line (60 + 80) / 2 = 70.
    # Scores (65 + 74) / 2 = 69.5 < 70 fails.
    _, aggregate, passed, meta = grade(AVG, [exam(1), exam(2, "80")], [result(1, "65"), result(2, "74")])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D("69.50"), False, D(70))


def test_avg_with_policy_source_uses_the_policy_score_as_the_line():
    # Exams ask 90 and 50 (mean 70); under POLICY the line is the policy's 65.
    # Scores (66 + 66) / 2 = 66 >= 65 passes; under EXAM, 66 < 70 would fail.
    policy = Policy(exam_aggregate_strategy="AVG", exam_pass_source="POLICY", exam_pass_score=D(65))
    exams = [exam(1, "90"), exam(2, "50")]
    results = [result(1, "66"), result(2, "66")]
    _, aggregate, passed, meta = grade(policy, exams, results)
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D(66), True, D(65))
    assert grade(replace(policy, exam_pass_source="EXAM"), exams, results)[2] is False


def test_avg_leaves_out_exams_without_a_result():
    # Exam 2 (line 90) was not sat: aggregate 80 / 1 = 80 (not 40), line 60 (not 75): passes.
    _, aggregate, passed, meta = grade(AVG, [exam(1, "60"), exam(2, "90")], [result(1, "80")])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D(80), True, D(60))


# ---------------------------------------------------------------- LATEST

LATEST = Policy(exam_aggregate_strategy="LATEST")


def test_latest_takes_the_most_recently_submitted_exam():
    # Exam 1 at 10:00 scored 90 (line 60); exam 2 at 09:00 scored 40 (line 60): exam 1 -> 90 passes.
    _, aggregate, passed, meta = grade(LATEST, [exam(1, "60"), exam(2, "60")],
                                       [result(1, "90", march(9, 10)), result(2, "40", march(9, 9))])
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D(90), True, D(60))


def test_latest_treats_a_result_without_submitted_at_as_oldest():
    # Exam 9 has the higher id and more attempts but no submitted_at; exam 2 was submitted
    # 2026-03-01: exam 2 -> 80 against its line 70 passes.
    exams = [exam(2, "70"), exam(9, "30")]
    results = [result(2, "80", march(1)), result(9, "20", None, attempts=5)]
    _, aggregate, passed, meta = grade(LATEST, exams, results)
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D(80), True, D(70))


def test_latest_all_undated_goes_to_the_higher_exam_id():
    # Neither has submitted_at; attempt counts are not compared across exams (exam 3 has 4):
    # exam 8 -> 55 < 60 fails.
    exams = [exam(3, "60"), exam(8, "60")]
    results = [result(3, "90", None, attempts=4), result(8, "55", None, attempts=1)]
    _, aggregate, passed, _ = grade(LATEST, exams, results)
    assert (aggregate, passed) == (D(55), False)


def test_latest_same_submitted_at_goes_to_the_higher_exam_id():
    # Both at 10:00; exam 4 -> 61 against its line 62 fails (exam 2 would have passed).
    exams = [exam(4, "62"), exam(2, "50")]
    results = [result(4, "61", march(9)), result(2, "95", march(9))]
    _, aggregate, passed, meta = grade(LATEST, exams, results)
    assert (aggregate, passed, meta["aggregate_pass_score"]) == (D(61), False, D(62))


def test_latest_compares_instants_not_wall_clocks():
    # Exam 1 at 10:00+09:00 = 01:00Z; exam 2 at 02:00Z is later: exam 2 -> 30 fails.
    exams = [exam(1, "60"), exam(2, "60")]
    results = [result(1, "90", march(9, 10)), result(2, "30", datetime(2026, 3, 9, 2, tzinfo=timezone.utc))]
    assert grade(LATEST, exams, results)[1:3] == (D(30), False)


# ---------------------------------------------------------------- exam_meta shape

def test_exam_meta_rows_in_ascending_exam_id_with_every_field():
    submitted = march(9)
    policy = Policy(exam_aggregate_strategy="AVG", exam_pass_score=D("55"))
    exams = [exam(30, "70", max_score="50"), exam(10), exam(20, "40")]
    results = [result(30, "45.5", submitted, attempts=3), result(10, "50", None, attempts=1)]
    # Aggregate (45.5 + 50) / 2 = 47.75; line (70 + 55) / 2 = 62.5: 47.75 < 62.5 fails.
    attempted, aggregate, passed, meta = grade(policy, exams, results)
    assert (attempted, aggregate, passed) == (True, D("47.75"), False)
    assert meta == {
        "strategy": "AVG",
        "pass_source": "EXAM",
        "note": None,
        "aggregate_pass_score": D("62.50"),
        "exams": [
            # exam 10: no pass score -> policy 55; 50 < 55
            {"exam_id": 10, "score": D(50), "max_score": D(100), "pass_score": D(55), "passed": False,
             "submitted_at": None, "attempt_count": 1},
            # exam 20: not sat
            {"exam_id": 20, "score": None, "max_score": D(100), "pass_score": D(40), "passed": None,
             "submitted_at": None, "attempt_count": 0},
            # exam 30: out of 50; 45.5 < 70 (compared raw, never as a percentage)
            {"exam_id": 30, "score": D("45.5"), "max_score": D(50), "pass_score": D(70), "passed": False,
             "submitted_at": submitted, "attempt_count": 3},
        ],
    }


# ---------------------------------------------------------------- homework

SUBMIT = Policy(homework_pass_type="SUBMIT")
SCORE = Policy(homework_pass_type="SCORE")  # cutline 80, unit 5
APPROVAL = Policy(homework_pass_type="TEACHER_APPROVAL")


def homework_row(policy: Policy, homeworks: list[HomeworkInfo], submissions: dict[int, SubmissionInfo],
                 order: int = IN_RANGE) -> tuple[bool, bool]:
    """(homework_submitted, homework_passed) of a session of `order`."""
    outcome = session_outcome(policy, SessionInfo(1, order), [], {}, homeworks, submissions, None)
    return outcome.homework_submitted, outcome.homework_passed


@pytest.mark.parametrize(
    ("score", "max_score", "unit", "rounded"),
    [
        ("77.5", "100", 5, 80),     # 77.5 / 5 = 15.5 -> 16 -> 80
        ("77.4", "100", 5, 75),     # 15.48 -> 15 -> 75
        ("154.99", "200", 5, 75),   # 77.495% -> 15.499 -> 15 -> 75
        ("155", "200", 5, 80),      # 77.5% -> 80
        ("79.5", "100", 1, 80),     # unit 1: 79.5 -> 80
        ("79.49", "100", 1, 79),
        ("50", "100", 100, 100),    # unit 100: 0.5 -> 1 -> 100
        ("49.99", "100", 100, 0),
        ("1", "3", 5, 35),          # 33.33...% -> 6.67 -> 7 -> 35
        ("0", "100", 5, 0),
    ],
)
def test_homework_percent_rounded_half_up_to_the_unit(score, max_score, unit, rounded):
    assert homework_percent_rounded(D(score), D(max_score), unit) == rounded


def test_out_of_homework_range_passes_but_submitted_still_reported():
    policy = Policy(homework_start_session_order=3, homework_end_session_order=4)
    hw = [HomeworkInfo(1)]
    # Order 2 and 5 are outside 3..4: passes whatever the submission; homework_submitted follows the facts.
    assert homework_row(policy, hw, {}, order=2) == (False, True)
    assert homework_row(policy, hw, {1: SubmissionInfo(submitted=True)}, order=5) == (True, True)
    # Inside the range (bounds inclusive), no approval fails.
    assert homework_row(policy, hw, {1: SubmissionInfo(submitted=True)}, order=3) == (True, False)
    assert homework_row(policy, hw, {1: SubmissionInfo(submitted=True)}, order=4) == (True, False)


def test_session_without_homework_passes_and_is_not_submitted():
    for policy in (SUBMIT, SCORE, APPROVAL):
        assert homework_row(policy, [], {}) == (False, True)


@pytest.mark.parametrize(
    ("submission", "passed"),
    [
        (None, False),
        (SubmissionInfo(submitted=False, approved=True), False),
        (SubmissionInfo(submitted=True), True),
        (SubmissionInfo(submitted=True, score=D(0)), True),  # a zero score does not matter under SUBMIT
    ],
)
def test_submit_passes_on_submission(submission, passed):
    assert homework_passes(SUBMIT, HomeworkInfo(1), submission) is passed


@pytest.mark.parametrize(
    ("submission", "max_score", "passed"),
    [
        (SubmissionInfo(submitted=True, score=D("77.5")), "100", True),     # 80 >= 80
        (SubmissionInfo(submitted=True, score=D("77.4")), "100", False),    # 75 < 80
        (SubmissionInfo(submitted=True, score=D("154.99")), "200", False),  # 77.495% -> 75
        (SubmissionInfo(submitted=True, score=D("40")), "50", True),        # 80% -> 80
        (SubmissionInfo(submitted=True, score=None), "100", False),         # submitted, not yet scored
        (SubmissionInfo(submitted=False, score=D("100")), "100", False),    # scored but not submitted
        (SubmissionInfo(submitted=True, score=D("70"), approved=True), "100", False),  # approval plays no part
        (SubmissionInfo(submitted=True, score=D("90"), approved=False), "100", True),
        (SubmissionInfo(submitted=False, score=D("90"), approved=True), "100", False),  # approval is no submission
        (None, "100", False),
    ],
)
def test_score_passes_on_the_rounded_percentage(submission, max_score, passed):
    assert homework_passes(SCORE, HomeworkInfo(1, D(max_score)), submission) is passed


def test_score_uses_the_policy_cutline_and_unit():
    # Cutline 70, unit 10: 64.99% -> 6.499 -> 6 -> 60 fails; 65% -> 6.5 -> 7 -> 70 passes.
    policy = Policy(homework_pass_type="SCORE", homework_cutline_percent=70, homework_round_unit=10)
    assert not homework_passes(policy, HomeworkInfo(1), SubmissionInfo(submitted=True, score=D("64.99")))
    assert homework_passes(policy, HomeworkInfo(1), SubmissionInfo(submitted=True, score=D("65")))


@pytest.mark.parametrize(
    ("submission", "passed"),
    [
        (SubmissionInfo(approved=True), True),  # a paper hand-in: approved without a submission
        (SubmissionInfo(submitted=True, score=D(100)), False),
        (SubmissionInfo(submitted=True, approved=True), True),
        (None, False),
    ],
)
def test_teacher_approval_passes_on_approval_alone(submission, passed):
    assert homework_passes(APPROVAL, HomeworkInfo(1), submission) is passed


def test_every_homework_of_the_session_must_pass():
    homeworks = [HomeworkInfo(1), HomeworkInfo(2, D(50))]
    # Homework 1: 90% -> 90 passes; homework 2: 38/50 = 76% -> 75 fails -> the session fails.
    one_fails = {1: SubmissionInfo(submitted=True, score=D(90)), 2: SubmissionInfo(submitted=True, score=D(38))}
    assert homework_row(SCORE, homeworks, one_fails) == (True, False)
    # Homework 2: 39/50 = 78% -> 80 passes too.
    both_pass = {**one_fails, 2: SubmissionInfo(submitted=True, score=D(39))}
    assert homework_row(SCORE, homeworks, both_pass) == (True, True)


def test_homework_submitted_needs_every_homework_submitted():
    homeworks = [HomeworkInfo(1), HomeworkInfo(2)]
    # Approved on paper but homework 2 never submitted: passes under TEACHER_APPROVAL, not "submitted".
    subs = {1: SubmissionInfo(submitted=True, approved=True), 2: SubmissionInfo(approved=True)}
    assert homework_row(APPROVAL, homeworks, subs) == (False, True)
    subs[2] = SubmissionInfo(submitted=True)
    assert homework_row(APPROVAL, homeworks, subs) == (True, False)


# ---------------------------------------------------------------- completion

@pytest.mark.parametrize("video_ok", [True, False])
@pytest.mark.parametrize("exam_ok", [True, False])
@pytest.mark.parametrize("homework_ok", [True, False])
def test_completed_needs_video_exam_and_homework(video_ok, exam_ok, homework_ok):
    activity = ActivityInfo("online", 90 if video_ok else 89)
    exams = [exam(1, "60")]
    results = {1: result(1, "60" if exam_ok else "59.99")}
    homeworks = [HomeworkInfo(1)]
    submissions = {1: SubmissionInfo(approved=homework_ok)}
    outcome = session_outcome(DEFAULT, SessionInfo(10, 2), exams, results, homeworks, submissions, activity)
    assert (outcome.video_completed, outcome.exam_passed, outcome.homework_passed) == (video_ok, exam_ok, homework_ok)
    assert outcome.completed is (video_ok and exam_ok and homework_ok)


def test_session_out_of_both_ranges_completes_on_video_alone():
    # Order 1 is before both ranges (start 2): exams and homework pass by default.
    outcome = session_outcome(DEFAULT, SessionInfo(10, 1), [exam(1)], {}, [HomeworkInfo(1)], {},
                              ActivityInfo("offline", 0))
    assert outcome.completed is True
    assert outcome.exam_meta["note"] == "out_of_exam_range"

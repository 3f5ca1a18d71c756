"""The figures of one exam (dashboard/academy/exam_stats.py), every number worked by hand."""
from __future__ import annotations

from decimal import Decimal as D

from dashboard.academy import exam_stats as stats


def student(enrollment_id: int, score: str, pass_score: str = "60", name: str | None = None) -> stats.StudentScore:
    return stats.StudentScore(enrollment_id, 1, name or f"S{enrollment_id}", D(score), D(pass_score))


CLASS = [student(1, "40"), student(2, "55"), student(3, "60"), student(4, "72.5"), student(5, "90")]


def test_summary_of_five_scores():
    # 40 + 55 + 60 + 72.5 + 90 = 317.5, / 5 = 63.5. Deviations -23.5 -8.5 -3.5 9 26.5; squares
    # 552.25 + 72.25 + 12.25 + 81 + 702.25 = 1420, / 5 = 284, sqrt(284) = 16.8523 -> 16.85.
    # Pass line 60: 60, 72.5 and 90 pass: 3 of 5 = 60.0 %.
    figures = stats.summary(CLASS)
    assert (figures.count, figures.mean, figures.median, figures.low, figures.high) == (
        5, D("63.50"), D("60.00"), D("40"), D("90"))
    assert figures.deviation == D("16.85")
    assert (figures.passed, figures.pass_percent) == (3, D("60.0"))


def test_summary_of_nobody():
    figures = stats.summary([])
    assert (figures.count, figures.mean, figures.median, figures.deviation, figures.pass_percent) == (
        0, None, None, None, None)


def test_even_median_is_the_mean_of_the_two_middle_scores_rounded_half_up():
    assert stats.median([D("40"), D("55"), D("60"), D("72.5")]) == D("57.50")
    # (70.25 + 70.5) / 2 = 70.375 -> 70.38
    assert stats.median([D("70.5"), D("70.25")]) == D("70.38")


def test_the_same_scores_have_no_spread():
    assert stats.deviation([D("70"), D("70"), D("70")]) == D("0.00")
    # 0 and 100: mean 50, each 50 away: 50.
    assert stats.deviation([D("0"), D("100")]) == D("50.00")


def test_each_student_is_judged_against_their_own_lectures_pass_score():
    # 65 passes a line of 60 but not one of 70.
    figures = stats.summary([student(1, "65", "60"), student(2, "65", "70")])
    assert (figures.passed, figures.pass_percent) == (1, D("50.0"))


def test_percent_rounds_half_up_to_one_decimal():
    assert stats.percent(1, 3) == D("33.3")
    assert stats.percent(2, 3) == D("66.7")
    assert stats.percent(1, 8) == D("12.5")  # exact
    assert stats.percent(1, 16) == D("6.3")  # 6.25 -> 6.3
    assert stats.percent(0, 0) == D("0")


def test_ranks_are_competition_ranks_ties_by_name():
    ranking = stats.ranked([student(1, "60", name="Cho"), student(2, "72.5", name="Ahn"),
                            student(3, "90", name="Baek"), student(4, "72.5", name="Yoon")])
    assert [(r.rank, r.student.name) for r in ranking] == [(1, "Baek"), (2, "Ahn"), (2, "Yoon"), (4, "Cho")]
    assert [r.passed for r in ranking] == [True, True, True, True]


def test_histogram_ten_ranges_of_the_maximum_last_one_holds_the_maximum():
    scores = [D(s) for s in ("40", "55", "60", "72.5", "90", "100", "9.99", "0")]
    bins = stats.histogram(scores, D("100"))
    assert [b.count for b in bins] == [2, 0, 0, 0, 1, 1, 1, 1, 0, 2]
    assert [(b.low, b.high) for b in bins[:2]] == [(D("0"), D("10")), (D("10"), D("20"))]
    assert bins[-1].last and not bins[0].last and bins[-1].high == D("100")


def test_histogram_of_an_odd_maximum():
    # Max 15: ranges of 1.5. 1.5 -> range 1 (1.5..3), 14.99 -> range 9, 15 -> range 9, 1.49 -> range 0.
    bins = stats.histogram([D("1.5"), D("14.99"), D("15"), D("1.49")], D("15"))
    assert [b.count for b in bins] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert (bins[1].low, bins[1].high) == (D("1.50"), D("3"))


def test_most_missed_questions_first():
    # A: q1 wrong, q2 right, q3 wrong. B: q1 wrong, q2 wrong. C: q1 right, q3 wrong.
    # q3: 2 of 2 = 100 %; q1: 2 of 3 = 66.7 %; q2: 1 of 2 = 50 %.
    wrong, right = False, True
    facts = [
        [stats.QuestionFact(1, wrong), stats.QuestionFact(2, right), stats.QuestionFact(3, wrong)],
        [stats.QuestionFact(1, wrong), stats.QuestionFact(2, wrong)],
        [stats.QuestionFact(1, right), stats.QuestionFact(3, wrong)],
    ]
    shares = stats.question_shares(facts)
    assert [(s.question, s.wrong, s.answered, s.wrong_percent) for s in shares] == [
        (3, 2, 2, D("100.0")), (1, 2, 3, D("66.7")), (2, 1, 2, D("50.0"))]


def test_equal_shares_go_to_the_larger_count_then_the_lower_number():
    wrong, right = False, True
    facts = [[stats.QuestionFact(5, wrong), stats.QuestionFact(4, wrong), stats.QuestionFact(2, wrong)],
             [stats.QuestionFact(5, right), stats.QuestionFact(4, right)]]
    # q2: 1 of 1 = 100 %; q4 and q5: 1 of 2 = 50 %, same count: q4 first.
    assert [s.question for s in stats.question_shares(facts)] == [2, 4, 5]

"""The figures of one exam for a class (pure: plain values in, dataclasses out; no database).

A teacher asks, after a test: how many sat it, how did the class do on average, how far apart
are the scores, how many passed, what does the spread look like, and which questions did most
students get wrong. Every figure here is taken over the students' *results* (SPEC §1: each
student's latest attempt) and is exact decimal arithmetic:

- mean and median are rounded half-up to 2 decimals once (the median of an even count is the
  mean of its two middle scores);
- the standard deviation is the population one (the class is the whole group, not a sample),
  the square root taken at 28 digits and rounded half-up to 2 decimals;
- a student passes when their score reaches the effective pass score of their lecture (SPEC §3:
  the policy's, or the exam's own when the policy takes the exam's); the pass share is a
  percentage rounded half-up to 1 decimal;
- the histogram has ten equal ranges of the maximum score; a range holds its lower bound and not
  its upper one, except the last, which also holds the maximum;
- ranks are competition ranks (two students tied for first are both 1st, the next is 3rd);
- a question's wrong share is taken over the results that carry an answer for it (typed scores
  have none); the most-missed questions come first, ties by question number.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

from dashboard.progress.rules import round_half_up

BINS = 10
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class StudentScore:
    """One student's result: `pass_score` is the effective pass score of their lecture."""

    enrollment_id: int
    lecture_id: int
    name: str
    score: Decimal
    pass_score: Decimal


@dataclass(frozen=True)
class QuestionFact:
    """One answer of one result: the question's number and whether it was right."""

    question: int
    is_correct: bool


@dataclass(frozen=True)
class RankedScore:
    rank: int
    student: StudentScore

    @property
    def passed(self) -> bool:
        return self.student.score >= self.student.pass_score


@dataclass(frozen=True)
class Bin:
    low: Decimal
    high: Decimal
    count: int
    last: bool  # the last range holds its upper bound (the maximum score) too


@dataclass(frozen=True)
class QuestionShare:
    question: int
    answered: int
    wrong: int

    @property
    def wrong_percent(self) -> Decimal:
        return percent(self.wrong, self.answered)


@dataclass(frozen=True)
class Summary:
    count: int
    mean: Decimal | None
    median: Decimal | None
    low: Decimal | None
    high: Decimal | None
    deviation: Decimal | None
    passed: int

    @property
    def pass_percent(self) -> Decimal | None:
        return percent(self.passed, self.count) if self.count else None


def percent(part: int, whole: int) -> Decimal:
    """part / whole as a percentage rounded half-up to 1 decimal (0 when whole is 0)."""
    if not whole:
        return Decimal(0)
    return round_half_up(Decimal(part) * 100 / Decimal(whole), TENTH)


def mean(scores: Sequence[Decimal]) -> Decimal | None:
    """The class average, rounded half-up to 2 decimals once (None when nobody has a result)."""
    return round_half_up(sum(scores, Decimal(0)) / len(scores)) if scores else None


def median(scores: Sequence[Decimal]) -> Decimal | None:
    ordered = sorted(scores)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return round_half_up(ordered[middle])
    return round_half_up((ordered[middle - 1] + ordered[middle]) / 2)


def deviation(scores: Sequence[Decimal]) -> Decimal | None:
    """The population standard deviation, rounded half-up to 2 decimals."""
    if not scores:
        return None
    exact = Context(prec=28, rounding=ROUND_HALF_UP)
    average = exact.divide(sum(scores, Decimal(0)), len(scores))
    variance = exact.divide(sum(((score - average) ** 2 for score in scores), Decimal(0)), len(scores))
    return round_half_up(exact.sqrt(variance))


def summary(students: Sequence[StudentScore]) -> Summary:
    scores = [student.score for student in students]
    if not scores:
        return Summary(0, None, None, None, None, None, 0)
    return Summary(
        count=len(scores),
        mean=mean(scores),
        median=median(scores),
        low=min(scores),
        high=max(scores),
        deviation=deviation(scores),
        passed=sum(1 for student in students if student.score >= student.pass_score),
    )


def ranked(students: Iterable[StudentScore]) -> list[RankedScore]:
    """Highest score first (ties by name, then enrollment), with competition ranks."""
    ordered = sorted(students, key=lambda s: (-s.score, s.name, s.enrollment_id))
    ranks: list[RankedScore] = []
    for position, student in enumerate(ordered, start=1):
        same = ranks and ranks[-1].student.score == student.score
        ranks.append(RankedScore(ranks[-1].rank if same else position, student))
    return ranks


def histogram(scores: Iterable[Decimal], max_score: Decimal) -> list[Bin]:
    """Ten equal ranges of 0..max_score with the number of scores in each."""
    counts = [0] * BINS
    for score in scores:
        index = int(score * BINS / max_score)  # scores are >= 0: int() floors
        counts[min(max(index, 0), BINS - 1)] += 1
    width = max_score / BINS
    return [Bin(_tidy(width * i), _tidy(width * (i + 1)), counts[i], i == BINS - 1) for i in range(BINS)]


def _tidy(number: Decimal) -> Decimal:
    return round_half_up(number) if number != number.to_integral_value() else number.to_integral_value()


def question_shares(facts_per_result: Iterable[Iterable[QuestionFact]]) -> list[QuestionShare]:
    """Per question: how many results answered it and how many got it wrong; most-missed first."""
    answered: dict[int, int] = {}
    wrong: dict[int, int] = {}
    for facts in facts_per_result:
        for fact in facts:
            answered[fact.question] = answered.get(fact.question, 0) + 1
            if not fact.is_correct:
                wrong[fact.question] = wrong.get(fact.question, 0) + 1
    shares = [QuestionShare(q, answered[q], wrong.get(q, 0)) for q in answered]
    # The larger share first, then the larger count of wrong answers, then the lower question number.
    return sorted(shares, key=lambda s: (-Decimal(s.wrong) / Decimal(s.answered), -s.wrong, s.question))

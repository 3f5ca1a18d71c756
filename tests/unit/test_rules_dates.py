"""SPEC §1: counted, held and due sessions; which attempt is an exam's result; half-up rounding.

Pure rules only: no app, no database. Today is 2026-04-01 throughout.
"""
from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from dashboard.progress.rules import (
    AttemptInfo,
    EnrollmentInfo,
    SessionInfo,
    is_counted,
    is_due,
    is_held,
    latest_attempt,
    round_half_up,
)

TODAY = date(2026, 4, 1)
KST = timezone(timedelta(hours=9))
NO_START = EnrollmentInfo(id=1)


def session(day: date | None, order: int = 1) -> SessionInfo:
    return SessionInfo(id=order, order=order, date=day)


# ---------------------------------------------------------------- counted

def test_undated_session_always_counts_even_with_a_start_date():
    assert is_counted(session(None), EnrollmentInfo(id=1, start_date=date(2026, 3, 15)))
    assert is_counted(session(None), NO_START)


def test_enrollment_without_start_date_counts_every_session():
    assert is_counted(session(date(2020, 1, 1)), NO_START)


@pytest.mark.parametrize(
    ("session_day", "counted"),
    [
        (date(2026, 3, 14), False),  # one day before the start date: the student had not joined
        (date(2026, 3, 15), True),   # on the start date: counts
        (date(2026, 3, 16), True),
    ],
)
def test_session_dated_before_start_date_is_not_counted(session_day, counted):
    joined_mid_term = EnrollmentInfo(id=1, start_date=date(2026, 3, 15))
    assert is_counted(session(session_day), joined_mid_term) is counted


def test_session_before_start_date_is_neither_held_nor_due_however_old():
    joined_mid_term = EnrollmentInfo(id=1, start_date=date(2026, 3, 15))
    old = session(date(2026, 3, 1))  # 31 days ago, far past any grace
    assert not is_held(old, joined_mid_term, TODAY)
    assert not is_due(old, joined_mid_term, TODAY, grace_days=0)


# ---------------------------------------------------------------- held

@pytest.mark.parametrize(
    ("session_day", "held"),
    [
        (date(2026, 3, 31), True),   # yesterday
        (date(2026, 4, 1), True),    # today: date <= today
        (date(2026, 4, 2), False),   # tomorrow: upcoming
        (None, True),                # undated: held
    ],
)
def test_held_means_counted_and_dated_today_or_earlier(session_day, held):
    assert is_held(session(session_day), NO_START, TODAY) is held


# ---------------------------------------------------------------- due and grace days

@pytest.mark.parametrize(
    ("session_day", "grace_days", "due"),
    [
        # 2026-03-25 + 7 days = 2026-04-01 = today -> due (the boundary is inclusive)
        (date(2026, 3, 25), 7, True),
        # 2026-03-26 + 7 days = 2026-04-02 > today -> held but still inside the grace window
        (date(2026, 3, 26), 7, False),
        # grace 0: a session held today is due today
        (date(2026, 4, 1), 0, True),
        # grace 1: 2026-03-31 + 1 = today -> due; 2026-04-01 + 1 = tomorrow -> not yet
        (date(2026, 3, 31), 1, True),
        (date(2026, 4, 1), 1, False),
        # grace 365: 2025-04-01 + 365 days = 2026-04-01 (no 29 February between) -> due
        (date(2025, 4, 1), 365, True),
        (date(2025, 4, 2), 365, False),
        # undated: held and due whatever the grace
        (None, 365, True),
        (None, 0, True),
    ],
)
def test_due_after_grace_days(session_day, grace_days, due):
    assert is_due(session(session_day), NO_START, TODAY, grace_days) is due


def test_upcoming_session_is_never_due_even_with_zero_grace():
    tomorrow = session(date(2026, 4, 2))
    assert not is_held(tomorrow, NO_START, TODAY)
    assert not is_due(tomorrow, NO_START, TODAY, grace_days=0)


def test_due_also_needs_the_session_to_be_counted():
    # Dated on the start date, 10 days ago: counted, held, and 2026-03-22 + 7 = 2026-03-29 <= today -> due.
    joined = EnrollmentInfo(id=1, start_date=date(2026, 3, 22))
    assert is_due(session(date(2026, 3, 22)), joined, TODAY, grace_days=7)
    # One day earlier it is before the start date: not counted, so not due.
    assert not is_due(session(date(2026, 3, 21)), joined, TODAY, grace_days=7)


# ---------------------------------------------------------------- latest attempt = result

def at(hour: int, minute: int = 0, tz=KST) -> datetime:
    return datetime(2026, 3, 9, hour, minute, tzinfo=tz)


def test_latest_attempt_of_nothing_is_none():
    assert latest_attempt([]) is None


def test_greatest_submitted_at_wins_over_a_higher_attempt_no():
    first = AttemptInfo(attempt_no=1, score=D("80"), submitted_at=at(10))
    second = AttemptInfo(attempt_no=2, score=D("50"), submitted_at=at(9))  # numbered later, sat earlier
    assert latest_attempt([first, second]) is first
    assert latest_attempt([second, first]) is first


def test_attempt_without_submitted_at_is_older_than_any_with_one():
    undated = AttemptInfo(attempt_no=5, score=D("90"), submitted_at=None)
    dated = AttemptInfo(attempt_no=1, score=D("40"), submitted_at=datetime(2000, 1, 1, tzinfo=KST))
    assert latest_attempt([undated, dated]) is dated
    assert latest_attempt([dated, undated]) is dated


def test_all_undated_the_greatest_attempt_no_wins():
    attempts = [AttemptInfo(attempt_no=n, score=D(n), submitted_at=None) for n in (2, 3, 1)]
    assert latest_attempt(attempts).attempt_no == 3


def test_same_submitted_at_the_greatest_attempt_no_wins():
    a = AttemptInfo(attempt_no=1, score=D("70"), submitted_at=at(10))
    b = AttemptInfo(attempt_no=4, score=D("30"), submitted_at=at(10))
    c = AttemptInfo(attempt_no=2, score=D("99"), submitted_at=at(10))
    for order in itertools.permutations([a, b, c]):
        assert latest_attempt(order) is b


def test_submitted_at_compares_instants_across_offsets():
    # 10:00+09:00 is 01:00Z; 02:00Z is an hour later although its wall clock reads earlier.
    seoul = AttemptInfo(attempt_no=2, score=D("60"), submitted_at=at(10))
    utc = AttemptInfo(attempt_no=1, score=D("61"), submitted_at=at(2, tz=timezone.utc))
    assert latest_attempt([seoul, utc]) is utc


# ---------------------------------------------------------------- rounding

@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (D("70.015"), D("70.02")),       # (70.01 + 70.02) / 2: half goes up
        (D("70.025"), D("70.03")),       # half-even would give 70.02
        (D(182) / D(3), D("60.67")),     # (60 + 61 + 61) / 3 = 60.666...
        (D("60.00333"), D("60.00")),
        (D("0.005"), D("0.01")),
        (D("72.500"), D("72.50")),
    ],
)
def test_round_half_up_to_two_decimals(value, rounded):
    assert round_half_up(value) == rounded

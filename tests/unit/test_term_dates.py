"""The term-schedule generator (dashboard.academy.structure.term_dates): a pure function, dates worked by hand.

Calendar used below: 2026-03-02 is a Monday; 2026-03-01 (Sunday) is 삼일절, and 2026-03-04
(Wednesday) stands in for a closed day."""
from __future__ import annotations

from datetime import date

import pytest

from dashboard.academy.structure import term_dates

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def test_mondays_and_wednesdays_from_a_monday():
    assert term_dates(date(2026, 3, 2), 5, {MON, WED}) == [
        date(2026, 3, 2), date(2026, 3, 4), date(2026, 3, 9), date(2026, 3, 11), date(2026, 3, 16)]


def test_the_start_day_counts_only_when_it_is_a_chosen_weekday():
    # Sunday 03-01 is not a Tuesday or Thursday: the first session is Tuesday 03-03.
    assert term_dates(date(2026, 3, 1), 3, {TUE, THU}) == [date(2026, 3, 3), date(2026, 3, 5), date(2026, 3, 10)]


def test_holidays_are_skipped_and_the_count_is_still_met():
    # Without the holiday: 03-02, 03-04, 03-09. With 03-04 closed the third session moves to 03-11.
    assert term_dates(date(2026, 3, 2), 3, {MON, WED}, {date(2026, 3, 4)}) == [
        date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 11)]


def test_a_holiday_on_an_unchosen_day_changes_nothing():
    assert term_dates(date(2026, 3, 2), 2, {SAT}, {date(2026, 3, 4)}) == [date(2026, 3, 7), date(2026, 3, 14)]


def test_a_run_of_holidays_spanning_weeks():
    # Every Friday of March 2026 is a holiday: 03-06, 03-13, 03-20, 03-27 -> April's Fridays.
    fridays = {date(2026, 3, 6), date(2026, 3, 13), date(2026, 3, 20), date(2026, 3, 27)}
    assert term_dates(date(2026, 3, 1), 2, {FRI}, fridays) == [date(2026, 4, 3), date(2026, 4, 10)]


def test_count_weekdays_and_order():
    dates = term_dates(date(2026, 3, 2), 12, {MON, TUE, WED, THU, FRI, SAT, SUN})
    assert dates == [date(2026, 3, day) for day in range(2, 14)]
    assert len(term_dates(date(2026, 3, 2), 30, {SUN})) == 30


@pytest.mark.parametrize("count, weekdays", [(0, {MON}), (-1, {MON}), (3, set()), (3, {7}), (3, {-1})])
def test_refuses_no_sessions_and_bad_weekdays(count, weekdays):
    with pytest.raises(ValueError):
        term_dates(date(2026, 3, 2), count, weekdays)

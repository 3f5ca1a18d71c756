"""The roll call's rules (SPEC §12) and the grid's words for a cell, as pure functions."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.progress.rules import (
    KEEP,
    EnrollmentInfo,
    PresenceConflict,
    SessionInfo,
    grid_status,
    presence_fits,
    roll_call,
)

PRESENCES = ("present", "late", "absent", "excused")


@pytest.mark.parametrize("presence, attendance", [
    ("present", "offline"), ("late", "offline"), ("absent", "online"), ("excused", "online"),
])
def test_a_presence_sets_the_attendance_it_means(presence, attendance):
    # Stored the other way round: the presence wins, whatever was stored.
    other = "online" if attendance == "offline" else "offline"
    assert roll_call(other, None, presence=presence) == (attendance, presence)
    assert roll_call(other, "excused" if attendance == "offline" else "late", presence=presence) == (attendance,
                                                                                                     presence)


def test_attendance_alone_clears_a_presence_that_contradicts_it_and_keeps_one_that_agrees():
    assert roll_call("offline", "late", attendance="online") == ("online", None)
    assert roll_call("online", "absent", attendance="offline") == ("offline", None)
    assert roll_call("offline", "present", attendance="offline") == ("offline", "present")
    assert roll_call("online", "excused", attendance="online") == ("online", "excused")


def test_none_clears_the_roll_call_and_leaves_attendance():
    assert roll_call("offline", "late", presence=None) == ("offline", None)
    assert roll_call("offline", "late", attendance="online", presence=None) == ("online", None)


def test_nothing_given_keeps_both():
    assert roll_call("offline", "present") == ("offline", "present")
    assert roll_call("online", None, attendance=KEEP, presence=KEEP) == ("online", None)


@pytest.mark.parametrize("presence, attendance", [("present", "online"), ("late", "online"),
                                                  ("absent", "offline"), ("excused", "offline")])
def test_both_given_and_contradicting_is_refused(presence, attendance):
    with pytest.raises(PresenceConflict):
        roll_call("online", None, attendance=attendance, presence=presence)


@given(st.sampled_from(("online", "offline")), st.sampled_from((None, *PRESENCES)),
       st.sampled_from((KEEP, "online", "offline")), st.sampled_from((KEEP, None, *PRESENCES)))
def test_the_outcome_always_agrees_with_itself(stored_attendance, stored_presence, attendance, presence):
    """Whatever the change, a stored pair that agreed gives a pair that agrees (or a refusal)."""
    if not presence_fits(stored_presence, stored_attendance):
        return
    try:
        new_attendance, new_presence = roll_call(stored_attendance, stored_presence, attendance=attendance,
                                                 presence=presence)
    except PresenceConflict:
        assert presence not in (KEEP, None) and attendance is not KEEP
        return
    assert presence_fits(new_presence, new_attendance)
    if attendance is not KEEP:
        assert new_attendance == attendance


# Today 2026-04-01, grace 7 days.
TODAY = date(2026, 4, 1)


@pytest.mark.parametrize("session_date, start, completed, word", [
    (date(2026, 3, 2), date(2026, 3, 10), False, "none"),     # before the student's start
    (date(2026, 4, 20), None, False, "upcoming"),             # not held yet
    (date(2026, 3, 30), None, True, "completed"),
    (date(2026, 3, 30), None, False, "pending"),              # held 03-30, due on 04-06
    (date(2026, 3, 25), None, False, "incomplete"),           # due on 04-01: today
    (date(2026, 3, 26), None, False, "pending"),              # due on 04-02
    (None, None, False, "incomplete"),                        # undated: held and due
])
def test_grid_status(session_date, start, completed, word):
    assert grid_status(SessionInfo(1, 1, session_date), EnrollmentInfo(1, start), TODAY, 7, completed) == word

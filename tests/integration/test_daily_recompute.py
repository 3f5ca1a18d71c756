"""The daily run (SPEC §7, last row): when only the date moved, recomputing just the sessions that
became held or due since the lecture's `recomputed_for` leaves the same rows as the per-row
reference (tests/reference.py) — every day, on random academies walked day by day.

Each example is loaded, walked and compared inside one transaction that is rolled back afterwards.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models import (
    Activity,
    Enrollment,
    Lecture,
    LectureSession,
    SessionProgress,
)
from dashboard.progress.recompute import (
    Scope,
    ensure_fresh,
    lock_lecture,
    recompute,
    recompute_day,
    recompute_lecture,
)
from tests.academies import academies, build_lecture, load_academy
from tests.reference import diff, expected_rows, stored_rows

TODAY = date(2026, 4, 1)
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                      deadline=None)

# Session dates lie 40 days before to 14 days after TODAY (and on the due boundary, up to 366
# days before with a year's grace): walks start before most of them and cross both boundaries.
START_OFFSETS = (-400, -370, -50, -45, -41, -30, -20, -15, -8, -1, 0)
# Mostly single days (every boundary is crossed exactly), some jumps, and now and then a day back.
STEPS = (1, 1, 1, 1, 2, 3, 6, 7, 8, 30, 365, -1, -4, -10, -30)


def _edit_a_cell(lecture_id: int, chooser: random.Random) -> int | None:
    """A teacher changes one student's video rate and attendance (the lock brings a stale lecture
    up to today first), and that cell is recomputed. Answers the enrollment (None when the lecture
    has no cell)."""
    enrollment_ids = db.session.execute(select(Enrollment.id).where(Enrollment.lecture_id == lecture_id)).scalars().all()
    session_ids = db.session.execute(
        select(LectureSession.id).where(LectureSession.lecture_id == lecture_id)).scalars().all()
    if not enrollment_ids or not session_ids:
        return None
    cell = (chooser.choice(enrollment_ids), chooser.choice(session_ids))
    lock_lecture(lecture_id)  # as every service does before it changes inputs
    activity = db.session.execute(
        select(Activity).where(Activity.enrollment_id == cell[0], Activity.session_id == cell[1])
    ).scalar_one_or_none()
    if activity is None:
        activity = Activity(enrollment_id=cell[0], session_id=cell[1])
        db.session.add(activity)
    activity.attendance = chooser.choice(("online", "offline"))
    activity.video_rate = chooser.choice((0, 50, 89, 90, 100))
    db.session.flush()
    recompute(Scope.of_cells(lecture_id, [cell]))
    return cell[0]


@FIXTURE_OK
@given(academy=academies(), start=st.sampled_from(START_OFFSETS),
       steps=st.lists(st.sampled_from(STEPS), min_size=3, max_size=15), seed=st.integers(0, 2**16))
def test_each_day_of_a_walk_matches_the_reference(app, academy, start, steps, seed):
    chooser = random.Random(seed)
    try:
        lecture_ids = load_academy(academy)
        logged: dict[int, set] = {lecture_id: set() for lecture_id in lecture_ids}
        day = TODAY + timedelta(days=start)
        for step in [0, *steps]:
            day += timedelta(days=step)
            app.config["DASHBOARD_TODAY"] = day.isoformat()
            for lecture_id in lecture_ids:
                # An edit brings its lecture up to today itself; a read does otherwise. Some days
                # a lecture is edited and not read, some days read and not edited.
                edited = chooser.random() < 0.4
                if edited:
                    lock_lecture(lecture_id)
                    # The lock did the day's work on the inputs as they were: what it logged.
                    logged[lecture_id] |= expected_rows(lecture_id, day).risk_findings
                    _edit_a_cell(lecture_id, chooser)
                if not edited or chooser.random() < 0.7:
                    ensure_fresh(lecture_id)
            for lecture_id in lecture_ids:
                expected = expected_rows(lecture_id, day)
                # Risk logs are history: a day adds the findings of the lecture progress it changed,
                # which a full recompute would record too; over the walk, every day's findings.
                logged[lecture_id] |= expected.risk_findings
                expected.risk_findings = set(logged[lecture_id])
                problems = diff(expected, stored_rows(lecture_id))
                assert not problems, f"on {day}:\n" + "\n".join(problems[:20])
                assert db.session.get(Lecture, lecture_id).recomputed_for == day
        # A whole-lecture recompute on the last day (read first) finds nothing to change.
        for lecture_id in lecture_ids:
            ensure_fresh(lecture_id)
        before = {lecture_id: stored_rows(lecture_id) for lecture_id in lecture_ids}
        for lecture_id in lecture_ids:
            recompute_lecture(lecture_id)
            assert not diff(before[lecture_id], stored_rows(lecture_id))
    finally:
        db.session.rollback()


def _dated_lecture(days: list[date], students: int = 6) -> tuple[int, list[int]]:
    lecture_id = build_lecture(students, len(days), exams_per_session=1, homeworks_per_session=1)
    session_ids = db.session.execute(
        select(LectureSession.id).where(LectureSession.lecture_id == lecture_id).order_by(LectureSession.order)
    ).scalars().all()
    for session_id, day in zip(session_ids, days):
        db.session.execute(update(LectureSession).where(LectureSession.id == session_id).values(date=day))
    db.session.flush()
    return lecture_id, session_ids


@pytest.mark.parametrize("students, sessions", [(3, 2), (40, 12)])
def test_a_quiet_day_costs_four_statements(app, count_queries, students, sessions):
    """Nothing becomes held or due: the read of the day, the lock with the last day, the dated
    sessions, and `recomputed_for` — four statements, however large the lecture."""
    app.config["DASHBOARD_TODAY"] = "2026-04-01"
    # Grace 7: the first half were due by March 20, the rest are neither held nor due before April 20.
    days = [date(2026, 3, 1) + timedelta(days=index) for index in range(sessions // 2)]
    days += [date(2026, 4, 20) + timedelta(days=index) for index in range(sessions - len(days))]
    lecture_id, _ = _dated_lecture(days, students)
    recompute_lecture(lecture_id)
    app.config["DASHBOARD_TODAY"] = "2026-04-02"
    with count_queries() as counter:
        assert ensure_fresh(lecture_id) is True
    assert counter.count == 4, counter.statements
    assert db.session.get(Lecture, lecture_id).recomputed_for == date(2026, 4, 2)
    with count_queries() as counter:
        assert ensure_fresh(lecture_id) is False
    assert counter.count == 1


def test_a_day_recomputes_only_the_session_that_became_held_or_due(app):
    app.config["DASHBOARD_TODAY"] = "2026-04-01"
    # Due on April 8 (grace 7), held on April 8, held on April 20.
    lecture_id, sessions = _dated_lecture([date(2026, 4, 1), date(2026, 4, 8), date(2026, 4, 20)])
    recompute_lecture(lecture_id)
    held = db.session.execute(select(SessionProgress.session_id)).scalars().all()
    assert sorted(set(held)) == [sessions[0]]
    app.config["DASHBOARD_TODAY"] = "2026-04-08"
    # 6 students x the two sessions whose state changed (the first became due, the second held).
    assert recompute_day(lecture_id) == 12
    held = db.session.execute(select(SessionProgress.session_id)).scalars().all()
    assert sorted(set(held)) == sorted(sessions[:2]) and len(held) == 12
    # The same day again: nothing to do.
    assert recompute_day(lecture_id) == 0

"""The set-based recompute equals the per-row reference (tests/reference.py) on random academies.

Each example is loaded, recomputed and compared inside one transaction that is rolled
back afterwards, so hypothesis can run many examples against one function-scoped app.
"""
from __future__ import annotations

import random
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.extensions import db
from dashboard.progress.recompute import Scope, recompute, recompute_lecture
from tests.academies import academies, load_academy
from tests.reference import diff, expected_rows, stored_rows

TODAY = date(2026, 4, 1)
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                      deadline=None)


def _check_all(lecture_ids: list[int]) -> None:
    for lecture_id in lecture_ids:
        problems = diff(expected_rows(lecture_id, TODAY), stored_rows(lecture_id))
        assert not problems, "\n".join(problems[:20])


@FIXTURE_OK
@given(academy=academies())
def test_whole_lecture_recompute_matches_the_reference(app, academy):
    try:
        lecture_ids = load_academy(academy)
        for lecture_id in lecture_ids:
            recompute_lecture(lecture_id)
        _check_all(lecture_ids)
        # Idempotent: a second run changes no derived value.
        for lecture_id in lecture_ids:
            recompute_lecture(lecture_id)
        _check_all(lecture_ids)
    finally:
        db.session.rollback()


@FIXTURE_OK
@given(academy=academies(), seed=st.integers(0, 2**16))
def test_cell_by_cell_recompute_in_any_order_matches_the_reference(app, academy, seed):
    """Recomputing single cells in a random order ends in the same rows as the reference."""
    from sqlalchemy import select

    from dashboard.models import Enrollment, LectureSession

    try:
        lecture_ids = load_academy(academy)
        for lecture_id in lecture_ids:
            enrollment_ids = db.session.execute(
                select(Enrollment.id).where(Enrollment.lecture_id == lecture_id)
            ).scalars().all()
            session_ids = db.session.execute(
                select(LectureSession.id).where(LectureSession.lecture_id == lecture_id)
            ).scalars().all()
            # With no sessions an enrollment has no cell: its scope is the enrollment alone.
            cells = [(e, s) for e in enrollment_ids for s in session_ids] or [(e, None) for e in enrollment_ids]
            random.Random(seed).shuffle(cells)
            for enrollment_id, session_id in cells:
                sessions = frozenset() if session_id is None else frozenset({session_id})
                recompute(Scope(lecture_id, frozenset({enrollment_id}), sessions))
        _check_all(lecture_ids)
    finally:
        db.session.rollback()

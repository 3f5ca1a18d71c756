"""The set-based recompute equals the per-row reference (tests/reference.py) on random academies.

Each example is loaded, recomputed and compared inside one transaction that is rolled
back afterwards, so hypothesis can run many examples against one function-scoped app.
"""
from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Activity, Attempt, Enrollment, ExamSession, LectureSession
from dashboard.progress.recompute import Scope, recompute, recompute_lecture
from tests.academies import academies, load_academy
from tests.reference import diff, expected_rows, stored_rows

TODAY = date(2026, 4, 1)
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                      deadline=None)


def _ids_of(lecture_id: int) -> tuple[list[int], list[int]]:
    """The lecture's enrollment ids and session ids."""
    return (
        db.session.execute(select(Enrollment.id).where(Enrollment.lecture_id == lecture_id)).scalars().all(),
        db.session.execute(select(LectureSession.id).where(LectureSession.lecture_id == lecture_id)).scalars().all(),
    )


def _recompute_in_random_groups(lecture_id: int, cells: list[tuple[int, int]], chooser: random.Random) -> None:
    """Every cell recomputed once, shuffled into groups of 1 up to half of what is left (Scope.of_cells)."""
    cells = list(cells)
    chooser.shuffle(cells)
    while cells:
        size = chooser.randint(1, max(1, len(cells) // 2))
        group, cells = cells[:size], cells[size:]
        recompute(Scope.of_cells(lecture_id, group))


def _check_all(lecture_ids: list[int]) -> None:
    for lecture_id in lecture_ids:
        problems = diff(expected_rows(lecture_id, TODAY), stored_rows(lecture_id))
        assert not problems, "\n".join(problems[:20])


def check_with_history(lecture_ids: list[int], logged: dict[int, set]) -> None:
    """Every lecture's rows equal the reference's, where the risk logs may also hold history:
    each of `logged` (what earlier states recorded) must be there, and more is allowed."""
    for lecture_id in lecture_ids:
        expected = expected_rows(lecture_id, TODAY)
        expected.risk_findings |= logged[lecture_id]
        problems = [problem for problem in diff(expected, stored_rows(lecture_id))
                    if not (problem.startswith("risk_log(") and problem.endswith(": unexpected"))]
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
    try:
        lecture_ids = load_academy(academy)
        for lecture_id in lecture_ids:
            enrollment_ids, session_ids = _ids_of(lecture_id)
            # With no sessions an enrollment has no cell: its scope is the enrollment alone.
            cells = [(e, s) for e in enrollment_ids for s in session_ids] or [(e, None) for e in enrollment_ids]
            random.Random(seed).shuffle(cells)
            for enrollment_id, session_id in cells:
                sessions = frozenset() if session_id is None else frozenset({session_id})
                recompute(Scope(lecture_id, frozenset({enrollment_id}), sessions))
        _check_all(lecture_ids)
    finally:
        db.session.rollback()


@FIXTURE_OK
@given(academy=academies(), seed=st.integers(0, 2**16))
def test_scattered_cells_in_random_groups_match_the_reference(app, academy, seed):
    """Recomputing random groups of scattered cells (Scope.of_cells), on a lecture never computed
    before (so groups must widen), ends in the same rows as the reference."""
    try:
        lecture_ids = load_academy(academy)
        chooser = random.Random(seed)
        for lecture_id in lecture_ids:
            enrollment_ids, session_ids = _ids_of(lecture_id)
            _recompute_in_random_groups(lecture_id, [(e, s) for e in enrollment_ids for s in session_ids], chooser)
            if not session_ids:
                for enrollment_id in enrollment_ids:
                    recompute(Scope(lecture_id, frozenset({enrollment_id}), frozenset()))
        _check_all(lecture_ids)
    finally:
        db.session.rollback()


@FIXTURE_OK
@given(academy=academies(), seed=st.integers(0, 2**16))
def test_exactly_the_changed_cells_recomputed_match_the_reference(app, academy, seed):
    """After a whole-lecture recompute, random activities and attempt scores change; recomputing
    exactly the cells they feed (Scope.of_cells, in random groups) ends in the reference's rows."""
    try:
        lecture_ids = load_academy(academy)
        for lecture_id in lecture_ids:
            recompute_lecture(lecture_id)
        # Risk logs are history, never rewritten (SPEC §5): what the first state logged stays.
        logged = {lecture_id: stored_rows(lecture_id).risk_findings for lecture_id in lecture_ids}
        chooser = random.Random(seed)
        changed: dict[int, set[tuple[int, int]]] = {lecture_id: set() for lecture_id in lecture_ids}
        for activity, lecture_id in db.session.execute(
                select(Activity, Enrollment.lecture_id).join(Enrollment, Enrollment.id == Activity.enrollment_id)
                .order_by(Activity.id)).all():
            if chooser.random() < 0.3:
                activity.video_rate = chooser.choice((0, 89, 90, 91, 100))
                activity.attendance = chooser.choice(("online", "offline"))
                changed[lecture_id].add((activity.enrollment_id, activity.session_id))
        for attempt, lecture_id in db.session.execute(
                select(Attempt, Enrollment.lecture_id).join(Enrollment, Enrollment.id == Attempt.enrollment_id)
                .order_by(Attempt.id)).all():
            if chooser.random() < 0.3:
                attempt.score = (attempt.score / 2).quantize(Decimal("0.01"))
                sessions = db.session.execute(
                    select(ExamSession.session_id).join(LectureSession, LectureSession.id == ExamSession.session_id)
                    .where(ExamSession.exam_id == attempt.exam_id, LectureSession.lecture_id == lecture_id)
                ).scalars()
                changed[lecture_id].update((attempt.enrollment_id, session_id) for session_id in sessions)
        db.session.flush()
        for lecture_id, cells in changed.items():
            _recompute_in_random_groups(lecture_id, sorted(cells), chooser)
        # A group recomputed before the others sees a state in which only its own changes
        # happened; a risk it finds there is history too (SPEC §7: risk-log history depends on
        # the order of changes). Every log of the first and the final state must be there.
        check_with_history(lecture_ids, logged)
    finally:
        db.session.rollback()

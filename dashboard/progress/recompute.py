"""Set-based recompute (SPEC §7): load facts with a fixed number of queries, apply the
pure rules, write only what changed with bulk upserts — in the caller's transaction.

A recompute covers a *scope*: some enrollments x some sessions of one lecture. It
rewrites those cells' session progress, the lecture progress (and risk logs) of those
enrollments, and the automatic clinic links of those cells. The number of queries
does not depend on how many students or sessions the scope holds.

Callers lock the lecture (`lock_lecture`) before changing its inputs, change them,
flush, then call `recompute`; the request or command boundary commits once.

This module holds the entry points and the day's work; the loads are in `progress/facts.py`,
the computing and writing in `progress/writer.py`.
"""
from __future__ import annotations

import gc
from collections import defaultdict
from contextlib import contextmanager
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from dashboard.clock import academy_today, now
from dashboard.extensions import db
from dashboard.models import Enrollment, ExamSession, Lecture, LectureSession, ProgressPolicy
from dashboard.parents import outbox
from dashboard.progress import rules
from dashboard.progress.facts import Facts
from dashboard.progress.scope import Scope
from dashboard.progress.writer import Writer

__all__ = ["Scope", "ensure_fresh", "lock_lecture", "recompute", "recompute_day", "recompute_exam",
           "recompute_lecture", "sessions_changed_between"]


# ---------------------------------------------------------------- entry points

def lock_lecture(lecture_id: int) -> None:
    """Lock the lecture before changing its inputs, and bring it up to today first if it was last
    computed for another day (`recompute_day`), so that the day's work sees the inputs as they
    were and a recompute after the change starts from today's rows."""
    found, since = _lock(lecture_id)
    if found and since != academy_today():
        _bring_up_to_date(lecture_id, since)


def _lock(lecture_id: int) -> tuple[bool, Any]:
    """SELECT ... FOR UPDATE on the lecture row (SQLite locks the whole file on write instead);
    answers whether it exists and its `recomputed_for`."""
    row = db.session.execute(
        select(Lecture.recomputed_for).where(Lecture.id == lecture_id).with_for_update()
    ).first()
    return (row is not None, row[0] if row is not None else None)


def recompute_lecture(lecture_id: int) -> int:
    """The whole lecture; also records today as the lecture's `recomputed_for`."""
    _lock(lecture_id)
    return _whole_lecture(lecture_id)


def _whole_lecture(lecture_id: int) -> int:
    count = _recompute(Scope(lecture_id), day_checked=True)
    _mark_recomputed_for(lecture_id, academy_today())
    return count


def recompute_day(lecture_id: int) -> int:
    """Bring one lecture up to today (the daily run, and every read of a stale lecture).

    When only the date moved forward since the lecture's `recomputed_for`, the one input that
    changed is *today*, and what depends on it is which sessions are held and due: a session
    whose date (held) or date + grace days (due) fell in the days between is recomputed for every
    enrollment — its cells, its automatic clinic links, and the lecture progress (and risk logs)
    of the enrollments — and nothing else. A day on which no session becomes held or due costs the
    lock, one read of the dated sessions and the update of `recomputed_for`. A lecture never
    computed, or one last computed for a later day (the date went back), is recomputed whole.
    Returns how many session-progress rows were recomputed.
    """
    found, since = _lock(lecture_id)
    return _bring_up_to_date(lecture_id, since) if found else 0


def _bring_up_to_date(lecture_id: int, since) -> int:
    today = academy_today()
    if since == today:
        return 0
    if since is None or since > today:
        return _whole_lecture(lecture_id)
    sessions = sessions_changed_between(lecture_id, since, today)
    count = _recompute(Scope(lecture_id, None, sessions), day_checked=True) if sessions else 0
    _mark_recomputed_for(lecture_id, today)
    return count


def sessions_changed_between(lecture_id: int, since, today) -> frozenset[int]:
    """The lecture's sessions that become held or due after `since`, up to and including `today`
    (`since` < `today`). Undated sessions are always held and due: never among them."""
    rows = db.session.execute(
        select(LectureSession.id, LectureSession.date, ProgressPolicy.completion_grace_days)
        .join(ProgressPolicy, ProgressPolicy.lecture_id == LectureSession.lecture_id)
        # A session dated after today is neither held nor due today.
        .where(LectureSession.lecture_id == lecture_id, LectureSession.date.is_not(None),
               LectureSession.date <= today)
    ).all()
    return frozenset(
        session_id for session_id, day, grace in rows
        if rules.held_or_due_changed(day, grace, since, today)
    )


def _mark_recomputed_for(lecture_id: int, today) -> None:
    _set_recomputed_for(lecture_id, today, or_(Lecture.recomputed_for.is_(None), Lecture.recomputed_for != today))


def _set_recomputed_for(lecture_id: int, value, *where) -> None:
    """One UPDATE; a Lecture already loaded in the session sees the new value too."""
    db.session.execute(update(Lecture.__table__).where(Lecture.id == lecture_id, *where).values(recomputed_for=value))
    loaded = db.session.identity_map.get(identity_key(Lecture, lecture_id))
    if loaded is not None:
        set_committed_value(loaded, "recomputed_for", value)


def recompute_exam(exam_id: int, enrollment_ids: frozenset[int] | None = None) -> int:
    """Every lecture with a session linked to the exam: those sessions, for the given enrollments
    (only the lectures they are in) or for all."""
    rows = db.session.execute(
        select(LectureSession.lecture_id, LectureSession.id)
        .join(ExamSession, ExamSession.session_id == LectureSession.id)
        .where(ExamSession.exam_id == exam_id)
    ).all()
    sessions_by_lecture: dict[int, set[int]] = defaultdict(set)
    for lecture_id, session_id in rows:
        sessions_by_lecture[lecture_id].add(session_id)
    enrollments_by_lecture: dict[int, set[int]] = defaultdict(set)
    if enrollment_ids is not None:
        for lecture_id, enrollment_id in db.session.execute(
            select(Enrollment.lecture_id, Enrollment.id).where(Enrollment.id.in_(sorted(enrollment_ids)))
        ):
            enrollments_by_lecture[lecture_id].add(enrollment_id)
    total = 0
    for lecture_id in sorted(sessions_by_lecture):
        if enrollment_ids is not None and not enrollments_by_lecture[lecture_id]:
            continue
        scope_enrollments = None if enrollment_ids is None else frozenset(enrollments_by_lecture[lecture_id])
        lock_lecture(lecture_id)
        total += recompute(Scope(lecture_id, scope_enrollments, frozenset(sessions_by_lecture[lecture_id])))
    return total


def ensure_fresh(lecture_id: int) -> bool:
    """Read paths call this first: bring the lecture up to today when it was last done for another
    day (`recompute_day`: only the day's work). Returns True when it did (the caller's boundary commits).
    """
    recomputed_for = db.session.execute(
        select(Lecture.recomputed_for).where(Lecture.id == lecture_id)
    ).scalar_one_or_none()
    if recomputed_for == academy_today():
        return False
    recompute_day(lecture_id)
    return True


def recompute(scope: Scope) -> int:
    """Recompute one scope. Returns how many session-progress rows were recomputed.

    A scope narrower than the lecture first brings a lecture last computed for another day up to
    today (`recompute_day`), so that every stored row follows the lecture's `recomputed_for`: the
    day's work can then start from that day, whichever way the date moved since.
    """
    return _recompute(scope, day_checked=scope.enrollment_ids is None and scope.session_ids is None)


def _recompute(scope: Scope, day_checked: bool) -> int:
    with _gc_paused():
        # The facts and the plans are freed when `_load_and_write` returns, before the collector
        # runs again: it never walks them.
        recomputed, risk_may_have_moved = _load_and_write(scope, day_checked)
    if risk_may_have_moved:
        # Guardians hear of a risk level that rose (or stop hearing of one that fell): SPEC §14.
        # Their notices follow every recompute, so only a lecture progress written anew can have
        # moved away from its notice; a recompute that rewrote none skips the check.
        outbox.after_recompute(scope.lecture_id, frozenset(risk_may_have_moved))
    return recomputed


def _load_and_write(scope: Scope, day_checked: bool) -> tuple[int, list[int]]:
    """Load the scope's facts, plan and write: the session-progress rows recomputed, and the
    enrollments whose lecture progress was written anew (nothing for a lecture without a policy)."""
    facts = Facts.load(scope, None if day_checked else academy_today())
    if facts.policy is None:
        return 0, []
    if facts.stale:  # a caller that changed inputs without `lock_lecture` first
        recompute_day(scope.lecture_id)
        facts = Facts.load(scope, None)
    writer = Writer(scope, facts, now())
    if writer.needs_widening():
        # Recompute every session of the scope's enrollments (repairs cells never computed; that
        # recompute brings the guardians' notices along itself).
        return _recompute(Scope(scope.lecture_id, scope.enrollment_ids, None), day_checked=True), []
    recomputed = writer.run()
    return recomputed, writer.lecture_changed


@contextmanager
def _gc_paused():
    """A whole lecture allocates a few hundred thousand small objects that all live until the end:
    the cyclic collector would walk them again and again for nothing (about a third of the time).
    They are freed (by reference counting) before it runs again, so it does not walk them then either."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

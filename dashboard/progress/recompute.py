"""Set-based recompute (SPEC §7) — interface; the implementation is being written now.

Callers lock the lecture they change, change inputs, flush, then call one of these
in the same transaction; the request or command boundary commits once.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """Which cells of one lecture to recompute: enrollment_ids x session_ids (None = all)."""

    lecture_id: int
    enrollment_ids: frozenset[int] | None = None
    session_ids: frozenset[int] | None = None


def lock_lecture(lecture_id: int) -> None:
    """SELECT ... FOR UPDATE on the lecture row (a no-op on SQLite, which locks the whole file)."""
    raise NotImplementedError


def recompute(scope: Scope) -> int:
    """Recompute the scope's session progress, the lecture progress of its enrollments,
    risk logs and automatic clinic links. Returns how many session-progress rows were recomputed."""
    raise NotImplementedError


def recompute_lecture(lecture_id: int) -> int:
    """The whole lecture; also sets lecture.recomputed_for to today."""
    raise NotImplementedError


def recompute_exam(exam_id: int, enrollment_ids: frozenset[int] | None = None) -> int:
    """Every lecture with a session linked to the exam: those sessions (for the given enrollments, or all)."""
    raise NotImplementedError


def ensure_fresh(lecture_id: int) -> None:
    """Read paths call this first: recompute the whole lecture when recomputed_for != today."""
    raise NotImplementedError

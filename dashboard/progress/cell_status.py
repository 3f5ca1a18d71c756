"""A grid cell from what the grid reads, as pure functions (no database, no Flask).

The grid works a cell out in two steps, so that a 300-student page does not evaluate the date
rules 12 000 times: the date part once per (start date, session) — `rules.grid_status` with
`completed=False` — and then, per cell, the session-progress row's flags.
"""
from __future__ import annotations

from typing import NamedTuple

PARTS = ("video", "exam", "homework")


class Cell(NamedTuple):
    status: str  # completed, incomplete, pending, upcoming or none
    missing: tuple[str, ...]  # the parts a held, not completed cell still misses, in PARTS order


def grid_cell(date_status: str, progress: tuple[bool, bool, bool, bool] | None) -> Cell:
    """A cell from its date-only status and its session-progress flags (completed, video completed,
    exam passed, homework passed), or None when the row has no progress row.

    Only a held cell (date status `incomplete` or `pending`) can be completed or miss parts: a
    session not held, or before the student's start, keeps its word whatever is stored.
    """
    if date_status not in ("incomplete", "pending") or progress is None:
        return Cell(date_status, ())
    completed, *parts = progress
    if completed:
        return Cell("completed", ())
    return Cell(date_status, tuple(part for part, ok in zip(PARTS, parts) if not ok))

"""Which cells of one lecture a recompute covers."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """Which cells of one lecture to recompute: enrollment_ids x session_ids (None = all), or
    with `cells` only those (enrollment, session) cells of that block (`Scope.of_cells`)."""

    lecture_id: int
    enrollment_ids: frozenset[int] | None = None
    session_ids: frozenset[int] | None = None
    cells: frozenset[tuple[int, int]] | None = None

    @classmethod
    def of_cells(cls, lecture_id: int, cells) -> "Scope":
        """Exactly these (enrollment_id, session_id) cells, however scattered over the lecture."""
        cells = frozenset(cells)
        return cls(lecture_id, frozenset(e for e, _ in cells), frozenset(s for _, s in cells), cells)


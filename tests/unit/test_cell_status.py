"""A grid cell from its date-only status and its session-progress flags (worked by hand)."""
from __future__ import annotations

import pytest

from dashboard.progress.cell_status import Cell, grid_cell

DONE = (True, True, True, True)


@pytest.mark.parametrize("date_status, progress, cell", [
    # Held cells: the stored row decides.
    ("incomplete", DONE, Cell("completed", ())),
    ("pending", DONE, Cell("completed", ())),
    ("incomplete", (False, False, True, True), Cell("incomplete", ("video",))),
    ("pending", (False, True, False, False), Cell("pending", ("exam", "homework"))),
    ("incomplete", (False, False, False, False), Cell("incomplete", ("video", "exam", "homework"))),
    # Held but no row (not recomputed yet): the date's word, nothing to name as missing.
    ("incomplete", None, Cell("incomplete", ())),
    # Not held, or before the start: the date's word, whatever is stored.
    ("upcoming", DONE, Cell("upcoming", ())),
    ("none", (False, False, False, False), Cell("none", ())),
])
def test_grid_cell(date_status, progress, cell):
    assert grid_cell(date_status, progress) == cell

"""The snapshot importer: a whole academy, or any part of it, validated, planned and applied at once.

Along its steps: `fields` parses one value, `kinds` the items of each kind, `stored` loads the rows
they touch, `after` overlays the two, `validate` checks the result, `plan` diffs it, `apply` writes
it and recomputes, `analyse` refreshes PostgreSQL's statistics; `snapshot` runs them in order.
Names with a leading underscore belong to the package; callers import from here.
"""
from dashboard.importer.analyse import ANALYZE_MIN_ROWS, ANALYZE_SHARE, analyze_grown_tables
from dashboard.importer.results import KINDS, ImportPlan, ImportProblem, ImportRejected, ImportResult, PlannedChange
from dashboard.importer.snapshot import import_snapshot, preview_snapshot

__all__ = [
    "ANALYZE_MIN_ROWS", "ANALYZE_SHARE", "KINDS", "ImportPlan", "ImportProblem", "ImportRejected", "ImportResult",
    "PlannedChange", "analyze_grown_tables", "import_snapshot", "preview_snapshot",
]

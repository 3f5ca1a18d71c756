"""Snapshot import (SPEC §9): validate the whole snapshot, plan the diff, apply it, recompute.

Three steps, in the caller's transaction (flush only, never commit):

1. **validate** every item against the state the snapshot would produce (stored rows plus
   snapshot items minus deletes and what hangs off them) and collect every problem with a
   field path such as ``attempts[3].score``;
2. **plan** the diff: per kind, the items created, updated (only when a value really
   changes) and deleted (only rows that exist) — an `ImportPlan` a preview can show;
3. **apply** it with bulk statements, then recompute exactly the cells that changed.

Existing rows are loaded with a fixed number of ``IN (...)`` selects per kind (chunked),
and written with bulk inserts/updates, so the query count does not grow with the items.
Once the caller has committed, `analyze_grown_tables` refreshes PostgreSQL's statistics of
the tables a large import grew.
"""
from __future__ import annotations

from typing import Any

from dashboard.accounts import audit
from dashboard.extensions import db
from dashboard.importer.after import _After
from dashboard.importer.analyse import _grown_tables, _inserted_rows
from dashboard.importer.apply import _apply, _run_recompute, _tell_guardians_of_absences
from dashboard.importer.kinds import _Item, _parse_snapshot
from dashboard.importer.plan import _plan
from dashboard.importer.results import ImportPlan, ImportProblem, ImportRejected, ImportResult, ProgressCallback
from dashboard.importer.stored import _load, _Stored
from dashboard.importer.validate import _settle_roll_calls, _validate
from dashboard.models import User
from dashboard.omr.regrade import regrade_exam
from dashboard.progress.recompute import lock_lecture

# The JSON API and the schema test import these from here.
from dashboard.importer.analyse import analyze_grown_tables  # noqa: E402,F401,I001
from dashboard.importer.kinds import _KINDS  # noqa: E402,F401
from dashboard.importer.results import KINDS  # noqa: E402,F401


def _count(data: Any) -> int:
    if not isinstance(data, dict):
        return 0
    return sum(len(value) for value in data.values() if isinstance(value, list))


def _prepare(data: Any, *, progress: ProgressCallback | None = None
             ) -> tuple[ImportPlan, _Stored, dict[str, dict[tuple, _Item]]]:
    """Validate a snapshot against the database and plan its diff, writing nothing.

    Raises ImportRejected with every problem found. The plan's `changes` and `counts()`
    are what a preview shows. Answers the plan, the stored rows it was made from and the
    parsed items.
    """
    total = _count(data)
    if progress:
        progress("validate", 0, total)
    problems: list[ImportProblem] = []
    items = _parse_snapshot(data, problems)
    stored = _load(items)
    _settle_roll_calls(items, stored, problems)
    after = _After(items, stored)
    _validate(items, stored, after, problems)
    if problems:
        raise ImportRejected(problems)
    if progress:
        progress("validate", total, total)
    return _plan(items, stored, after), stored, items


def preview_snapshot(data: Any) -> ImportPlan:
    """The diff a snapshot would make (for an upload preview); raises ImportRejected when it is bad."""
    return _prepare(data)[0]


def import_snapshot(data: Any, *, progress: ProgressCallback | None = None, user: User | None = None,
                    audit_import: bool = True, audit_rows: bool | None = None) -> ImportResult:
    """Apply a snapshot (SPEC §9) in the caller's transaction: validate, plan, apply, recompute.

    Flushes only; the caller commits, or rolls back on ImportRejected or any error. The
    lectures it touches are locked before the state it is validated against is read for good.
    `progress(step, done, total)` is called with steps "validate", "apply" and "recompute".
    Returns the change counts; a snapshot that changes nothing writes nothing. A service that
    records its own, more specific audit row passes `audit_import=False`. Every item changed is
    also an audit row of its own (`audit_rows`, by default as `audit_import`): an upload keeps
    them, a setup form that writes through the importer records its own instead.
    """
    plan, stored, items = _prepare(data, progress=progress)
    if plan.is_empty:
        return plan.counts()
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    locked: set[int] = set()
    while True:
        for lecture_id in sorted(plan.lecture_ids - locked):
            lock_lecture(lecture_id)
        locked |= plan.lecture_ids
        # Read the stored rows again under the locks, so what is validated is what gets written:
        # a writer may have committed between the first read and the locks. Validation and plan
        # depend on nothing but the snapshot and these rows, so when the rows are the same they
        # stand; only when something changed are they made again — and when the new plan touches
        # a lecture not locked yet, that one is locked and the rows read once more. With no lock
        # taken (the snapshot touches no stored lecture) a second read would protect nothing,
        # and on SQLite lock_lecture takes no row lock.
        if not (plan.lecture_ids and postgresql) or _load(items) == stored:
            break
        plan, stored, items = _prepare(data)
        if plan.is_empty:
            return plan.counts()
        if plan.lecture_ids <= locked:
            break
    result = plan.counts()
    inserted_before = _inserted_rows() if postgresql else None
    if audit_import if audit_rows is None else audit_rows:
        audit.record_import_rows(plan.changes, user)
    _apply(plan, stored, progress)
    assert plan._work is not None
    # SPEC §7: a changed answer key regrades the exam's OMR-graded attempts before the recompute
    # (which covers those exams' lectures whole already).
    for exam_id in sorted(plan._work.questions):
        regrade_exam(exam_id, user, recompute_changes=False)
    result.recomputed = _run_recompute(plan._work, progress)
    _tell_guardians_of_absences(plan)
    if audit_import:
        audit.record("import_snapshot", "snapshot", None, None, result.as_dict(), user)
    if inserted_before is not None:
        result.grown_tables = _grown_tables(inserted_before)
    return result

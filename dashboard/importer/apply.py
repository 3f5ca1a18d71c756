"""Writing a planned import with bulk statements, then recomputing exactly the stale cells."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator, Mapping

from sqlalchemy import bindparam, delete, text, update

from dashboard.dbtypes import utcnow
from dashboard.extensions import db
from dashboard.importer.kinds import _KINDS
from dashboard.importer.plan import _Work
from dashboard.importer.results import KINDS, ImportPlan, ProgressCallback
from dashboard.importer.stored import _chunks, _rows_by_key, _Stored
from dashboard.models import AnswerFact, Attempt, ExamQuestion, ExamSession, Guardian, LectureSession, ProgressPolicy
from dashboard.parents import outbox
from dashboard.progress import bulk
from dashboard.progress.recompute import recompute, recompute_lecture

_DELETE_ORDER = ("activities", "homework_submissions", "attempts", "homeworks", "exams", "enrollments",
                 "sessions", "students", "lectures")
_EXPLICIT_ID_KINDS = ("lectures", "sessions", "students", "enrollments", "exams", "homeworks")


def _bulk_update(model: type, rows: list[dict[str, Any]]) -> None:
    """UPDATE by primary key, one executemany per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    for group in groups.values():
        db.session.execute(update(model), group)


def _bulk_update_versioned(model: type, rows: list[dict[str, Any]]) -> None:
    """UPDATE versioned objects (models.Versioned) by primary key, raising each one's version:
    the ORM's bulk update by primary key leaves the version alone."""
    table = model.__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(name for name in row if name != "id"))].append(row)
    for names, group in groups.items():
        statement = (
            table.update()
            .where(table.c.id == bindparam("row_id"))
            .values({**{name: bindparam(name) for name in names},
                     "version": table.c.version + 1, "updated_at": utcnow()})
        )
        db.session.connection().execute(
            statement, [{"row_id": row["id"], **{name: row[name] for name in names}} for row in group])


def _bulk_insert(model: type, rows: list[dict[str, Any]]) -> None:
    """INSERT rows with `bulk.insert_rows`, one statement per set of columns.

    (The ORM's bulk insert leaves None values out and so starts a new statement whenever that
    set changes from one row to the next — an answer with or without an invalid reason: some
    2 000 statements for the answer facts of a 300 x 40 lecture.)
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(row)].append(row)
    for group in groups.values():
        bulk.insert_rows(model.__table__, group)


def _bulk_delete(column: Any, values: Iterable[Any]) -> None:
    model = column.class_
    for batch in _chunks(sorted(set(values))):
        db.session.execute(delete(model).where(column.in_(batch)).execution_options(synchronize_session=False))


def _apply(plan: ImportPlan, stored: _Stored, progress: ProgressCallback | None) -> None:
    work = plan._work
    assert work is not None
    total = len(KINDS) + 1
    for kind in _DELETE_ORDER:
        if work.deletes.get(kind):
            _bulk_delete(_KINDS[kind].model.id, work.deletes[kind])
    if progress:
        progress("apply", 1, total)
    for step, kind in enumerate(KINDS, start=2):
        model = _KINDS[kind].model
        if kind == "sessions":
            _apply_sessions(work, stored)
        elif kind == "attempts":
            _apply_attempts(work, stored)
        else:
            if work.inserts.get(kind):
                _bulk_insert(model, work.inserts[kind])
            if work.updates.get(kind):
                _bulk_update(model, work.updates[kind])
        if kind == "lectures":
            if work.policy_inserts:
                _bulk_insert(ProgressPolicy, work.policy_inserts)
            if work.policy_updates:
                _bulk_update_versioned(ProgressPolicy, work.policy_updates)
        if kind == "students":
            _apply_guardians(work)
        if kind == "exams":
            stored_exams = {key[0] for key in stored.rows["exams"]}
            _replace_children(ExamSession.exam_id, work.links, stored_exams & set(work.links),
                              lambda exam, sid: {"exam_id": exam, "session_id": sid})
            _replace_children(ExamQuestion.exam_id, {k: v.items() for k, v in work.questions.items()},
                              stored_exams & set(work.questions),
                              lambda exam, q: {"exam_id": exam, "number": q[0], "answer": q[1][0], "points": q[1][1]})
        if progress:
            progress("apply", step, total)
    _advance_sequences(work)


def _tell_guardians_of_absences(plan: ImportPlan) -> None:
    """An absence the snapshot records queues its guardians' message, and an absence it corrects
    or deletes cancels it (SPEC §14), as a roll call on a page does. Absences are few: one call each."""
    for change in plan.changes.get("activities", ()):
        before = (change.before or {}).get("presence")
        after = None if change.action == "delete" else (change.after or {}).get("presence", before)
        if (before == "absent") != (after == "absent"):
            outbox.presence_changed(change.key[0], change.key[1], before, after)


def _apply_guardians(work: _Work) -> None:
    """Guardians left out go first, so a new one may take a departed one's name and relation."""
    if work.guardian_deletes:
        _bulk_delete(Guardian.id, work.guardian_deletes)
    if work.guardian_updates:
        _bulk_update(Guardian, work.guardian_updates)
    if work.guardian_inserts:
        _bulk_insert(Guardian, work.guardian_inserts)


def _replace_children(column: Any, children: Mapping[int, Iterable[Any]], stored_parents: set[int],
                      make: Callable[[int, Any], dict]) -> None:
    """Whole-list replacement: delete every child of these parents (those that existed), insert the new ones."""
    if not children:
        return
    if stored_parents:
        _bulk_delete(column, stored_parents)
    rows = [make(parent, child) for parent, values in children.items() for child in values]
    if rows:
        _bulk_insert(column.class_, rows)


def _apply_sessions(work: _Work, stored: _Stored) -> None:
    """Move reordered sessions aside first, so swapped orders never meet the unique constraint."""
    if work.reordered:
        lecture_of = {row["id"]: row["lecture_id"] for row in stored.rows["sessions"].values()}
        for row in stored.rows["sessions"].values():
            work.used_orders[row["lecture_id"]].add(row["order"])
        parked = []
        free: dict[int, Iterator[int]] = {}
        for session_id in sorted(work.reordered):
            lecture_id = lecture_of[session_id]
            if lecture_id not in free:
                used = work.used_orders[lecture_id]
                free[lecture_id] = (o for o in range(9999, 0, -1) if o not in used)
            parked.append({"id": session_id, "order": next(free[lecture_id])})
        _bulk_update(LectureSession, parked)
    if work.inserts.get("sessions"):
        _bulk_insert(LectureSession, work.inserts["sessions"])
    if work.updates.get("sessions"):
        _bulk_update(LectureSession, work.updates["sessions"])


def _apply_attempts(work: _Work, stored: _Stored) -> None:
    if work.inserts.get("attempts"):
        _bulk_insert(Attempt, work.inserts["attempts"])
    if work.updates.get("attempts"):
        _bulk_update(Attempt, work.updates["attempts"])
    if not work.answers:
        return
    ids = {key: row["id"] for key, row in stored.rows["attempts"].items()}
    created = [key for key in work.answers if key not in ids]
    if created:
        # The new attempts' ids, read back by key (RETURNING would go row by row on SQLite).
        columns = [Attempt.enrollment_id, Attempt.exam_id, Attempt.attempt_no, Attempt.id]
        for row in _rows_by_key(columns, Attempt.enrollment_id, Attempt.exam_id, created):
            ids[(row.enrollment_id, row.exam_id, row.attempt_no)] = row.id
    _replace_children(
        AnswerFact.attempt_id, {ids[key]: answers.items() for key, answers in work.answers.items()},
        {ids[key] for key in work.answers if key in stored.rows["attempts"]},
        lambda attempt, answer: {"attempt_id": attempt, "question": answer[0], "is_correct": answer[1][0],
                                        "invalid_reason": answer[1][1], "detected": answer[1][2]})


def _advance_sequences(work: _Work) -> None:
    """Ids given by a snapshot became primary keys: move PostgreSQL sequences past them."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    tables = [_KINDS[kind].model.__table__.name for kind in _EXPLICIT_ID_KINDS if work.inserts.get(kind)]
    if any("id" in row for row in work.guardian_inserts):
        tables.append(Guardian.__table__.name)
    for table in tables:
        db.session.execute(
            text(f'SELECT setval(pg_get_serial_sequence(:table, \'id\'), GREATEST('
                 f'(SELECT COALESCE(MAX(id), 0) FROM "{table}"), nextval(pg_get_serial_sequence(:table, \'id\'))))'),
            {"table": table},
        )


def _run_recompute(work: _Work, progress: ProgressCallback | None) -> int:
    """Per lecture, the whole lecture or exactly its stale cells (at most two recompute calls)."""
    lectures = sorted(work.recompute_lectures)
    total = 0
    for done, lecture_id in enumerate(lectures, start=1):
        if lecture_id in work.whole:
            total += recompute_lecture(lecture_id)
        else:
            for scope in work.cells[lecture_id].scopes(lecture_id):
                total += recompute(scope)
        if progress:
            progress("recompute", done, len(lectures))
    return total

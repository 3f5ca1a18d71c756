"""Fresh planner statistics after a large import (PostgreSQL): the tables it grew are analysed once
the import is committed."""
from __future__ import annotations

from typing import Mapping

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.extensions import db
from dashboard.importer.results import ImportResult

# A table is analysed after an import that inserted more than ANALYZE_MIN_ROWS rows plus
# ANALYZE_SHARE of the rows the planner last counted in it: autovacuum's own rule with a larger
# base (docs/decisions.md, 13).
ANALYZE_MIN_ROWS = 1000
ANALYZE_SHARE = 0.1


def _inserted_rows() -> dict[str, int]:
    """Rows inserted per table as this connection's statistics count them (PostgreSQL).

    `pg_stat_xact_user_tables` counts this transaction's inserts, but on PostgreSQL 15 also
    those of the connection's earlier transactions until they reach the shared statistics
    (at most a second later, once the connection is idle): an import takes the difference.
    """
    return dict(db.session.execute(text(
        "SELECT relname, n_tup_ins FROM pg_stat_xact_user_tables WHERE schemaname = current_schema()")).all())


def _grown_tables(inserted_before: Mapping[str, int]) -> tuple[str, ...]:
    """The tables into which the import (recompute included) inserted more rows than the planner's
    statistics can stand (`pg_class.reltuples`: -1 for a table never analysed)."""
    rows = db.session.execute(text(
        "SELECT s.relname, s.n_tup_ins, c.reltuples FROM pg_stat_xact_user_tables AS s "
        "JOIN pg_class AS c ON c.oid = s.relid WHERE s.schemaname = current_schema()")).all()
    return tuple(sorted(
        name for name, inserted, reltuples in rows
        if inserted - inserted_before.get(name, 0) > ANALYZE_MIN_ROWS + ANALYZE_SHARE * max(reltuples, 0)
    ))


def analyze_grown_tables(result: ImportResult) -> None:
    """ANALYZE the tables an import grew; call it after the import's transaction committed.

    Until autovacuum gets to them, the planner has no statistics for the new rows and plans
    with default estimates (a single cell's recompute then hash-joins every answer fact). Runs
    in a transaction of its own and commits it; a failure is logged and left to autovacuum,
    since the import itself is already committed.
    """
    if not result.grown_tables:
        return
    names = ", ".join('"' + name.replace('"', '""') + '"' for name in result.grown_tables)
    try:
        db.session.execute(text(f"ANALYZE {names}"))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("ANALYZE %s after an import failed; autovacuum will do it", names,
                                   exc_info=True)

"""After a committed import that grew tables, PostgreSQL's statistics are refreshed (docs/decisions.md 13).

The large snapshot: one lecture of 30 sessions (all held and due: today is 2026-04-01) and 45
enrollments with an activity in every session — 1 350 activities, and as many session-progress
rows from the recompute. Both pass the threshold (1 000 rows plus 10 % of a freshly emptied
table's 0); the 45 students and enrollments do not. The statistics are read on a connection of
their own after each step: `pg_class.reltuples` (-1 until a table is first analysed or vacuumed;
the row count after an ANALYZE) and `pg_stat_user_tables.last_analyze` (manual ANALYZE only).
"""
from __future__ import annotations

import copy
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from dashboard.extensions import db
from dashboard.importer import ANALYZE_MIN_ROWS, import_snapshot
from dashboard.models import Activity, SessionProgress
from tests.factories import bearer, make_token, make_user

SESSIONS = 30
STUDENTS = 45
GROWN = ("activity", "session_progress")
NOT_GROWN = ("student", "enrollment")


def large_snapshot() -> dict:
    first = date(2026, 4, 1) - timedelta(days=7 * SESSIONS)
    return {
        "lectures": [{"id": 1, "title": "Algebra II"}],
        "sessions": [{"id": 100 + n, "lecture_id": 1, "order": n, "date": (first + timedelta(days=7 * n)).isoformat()}
                     for n in range(1, SESSIONS)] + [{"id": 100, "lecture_id": 1, "order": SESSIONS,
                                                      "date": first.isoformat()}],
        "students": [{"id": s, "name": f"Student {s}"} for s in range(1, STUDENTS + 1)],
        "enrollments": [{"id": s, "student_id": s, "lecture_id": 1} for s in range(1, STUDENTS + 1)],
        "activities": [{"enrollment_id": s, "session_id": 100 + n, "video_rate": (s * n) % 101}
                       for s in range(1, STUDENTS + 1) for n in range(SESSIONS)],
    }


def rejected_snapshot() -> dict:
    snapshot = large_snapshot()
    snapshot["activities"][-1]["video_rate"] = 101
    return snapshot


@pytest.fixture
def postgresql(backend):
    if backend != "postgresql":
        pytest.skip("ANALYZE after an import is PostgreSQL's")


def statistics() -> dict[str, tuple[float, object]]:
    """(reltuples, last_analyze) of every table, read on a fresh connection and transaction."""
    with db.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT c.relname, c.reltuples, s.last_analyze FROM pg_class AS c "
            "JOIN pg_stat_user_tables AS s ON s.relid = c.oid WHERE s.schemaname = current_schema()")).all()
    return {name: (reltuples, last_analyze) for name, reltuples, last_analyze in rows}


def assert_analysed_exactly_the_grown_tables(before: dict, after: dict) -> None:
    assert len(large_snapshot()["activities"]) > ANALYZE_MIN_ROWS > STUDENTS
    for table in GROWN:
        assert after[table][1] is not None and after[table][1] != before[table][1], table
    assert after["activity"][0] == SESSIONS * STUDENTS
    assert after["session_progress"][0] == SESSIONS * STUDENTS
    for table in NOT_GROWN:
        assert after[table] == before[table], table


def test_the_cli_analyses_the_tables_a_large_import_grew(app, postgresql, runner):
    before = statistics()
    result = runner.invoke(args=["import-snapshot", "-"], input=json.dumps(large_snapshot()))
    assert result.exit_code == 0, result.output
    assert_analysed_exactly_the_grown_tables(before, statistics())


def test_the_api_analyses_the_tables_a_large_import_grew(app, postgresql, client):
    token = make_token(make_user("admin", "admin"))
    db.session.commit()
    before = statistics()
    response = client.post("/api/import", json=large_snapshot(), headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"]["activities"] == SESSIONS * STUDENTS
    assert_analysed_exactly_the_grown_tables(before, statistics())


def test_a_rejected_import_analyses_nothing(app, postgresql, runner, client):
    token = make_token(make_user("admin", "admin"))
    db.session.commit()
    before = statistics()

    refused = runner.invoke(args=["import-snapshot", "-"], input=json.dumps(rejected_snapshot()))
    assert refused.exit_code != 0 and "activities[1349].video_rate" in refused.stderr
    response = client.post("/api/import", json=rejected_snapshot(), headers=bearer(token))
    assert response.status_code == 400

    assert statistics() == before
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Activity)).scalar_one() == 0


def test_an_import_whose_commit_fails_analyses_nothing(app, postgresql, client, monkeypatch):
    """The API commits after the view: when that commit fails, the answer is an error and no ANALYZE runs."""
    from sqlalchemy.exc import OperationalError

    token = make_token(make_user("admin", "admin"))
    db.session.commit()
    before = statistics()
    real_commit = db.session.commit

    def failing_commit():
        if db.session.execute(select(func.count()).select_from(Activity)).scalar_one():
            raise OperationalError("COMMIT", {}, Exception("connection lost at commit"))
        real_commit()

    monkeypatch.setattr(db.session, "commit", failing_commit)
    response = client.post("/api/import", json=large_snapshot(), headers=bearer(token))
    monkeypatch.undo()
    assert response.status_code == 503
    assert statistics() == before
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SessionProgress)).scalar_one() == 0


def test_only_tables_past_the_threshold_are_named(app):
    """A small import names no table; a large one names the tables past 1 000 new rows, on PostgreSQL only."""
    small = copy.deepcopy(large_snapshot())
    for kind in ("students", "enrollments"):
        small[kind] = small[kind][:5]
    small["activities"] = [a for a in small["activities"] if a["enrollment_id"] <= 5]
    assert import_snapshot(small).grown_tables == ()
    db.session.rollback()

    grown = import_snapshot(large_snapshot()).grown_tables
    if db.session.get_bind().dialect.name != "postgresql":
        assert grown == ()
        return
    counts = {table.name: db.session.execute(select(func.count()).select_from(table)).scalar_one()
              for table in db.metadata.sorted_tables}
    assert grown == tuple(sorted(name for name, rows in counts.items() if rows > ANALYZE_MIN_ROWS))
    assert set(GROWN) <= set(grown)

"""The backup drill of docs/operations.md: back up a demo academy, restore it into a fresh
database and find every row of every table equal — SQLite through its online backup API,
PostgreSQL through pg_dump and pg_restore."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from dashboard.extensions import db
from tests.conftest import _create_postgres_database, _drop_postgres_database


def _every_row(url: str) -> dict[str, list[tuple]]:
    """Each table's rows in a fixed order (sorted as text: JSON columns have no SQL order), read
    through its own engine."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = {}
            for table in db.metadata.sorted_tables:
                rows[table.name] = sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            return rows
    finally:
        engine.dispose()


@pytest.fixture
def demo_academy(app, runner):
    """The live test database holding the demo academy, committed."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    return app.config["SQLALCHEMY_DATABASE_URI"]


def test_sqlite_online_backup_restores_every_row(demo_academy, backend, tmp_path):
    if backend != "sqlite":
        pytest.skip("SQLite's online backup; PostgreSQL has its own test")
    source = make_url(demo_academy).database
    copy = tmp_path / "backup.sqlite3"
    with sqlite3.connect(source) as live, sqlite3.connect(copy) as backup:
        live.backup(backup)
    original = _every_row(demo_academy)
    assert sum(len(rows) for rows in original.values()) > 500  # the demo academy, not an empty file
    assert _every_row(f"sqlite:///{copy}") == original


@pytest.mark.postgresql_only
def test_pg_dump_and_pg_restore_restore_every_row(demo_academy, backend, tmp_path):
    if backend != "postgresql":
        pytest.skip("pg_dump and pg_restore are PostgreSQL's")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.fail("pg_dump and pg_restore must be installed where PostgreSQL is tested")
    live = make_url(demo_academy)
    dump = tmp_path / "academy.dump"
    connection = ["-h", live.host or "127.0.0.1", "-p", str(live.port or 5432), "-U", live.username or "postgres"]
    subprocess.run(["pg_dump", "-Fc", *connection, "-f", str(dump), live.database], check=True)
    restored_url = _create_postgres_database()
    try:
        restored = make_url(restored_url)
        subprocess.run(["pg_restore", "--no-owner", *connection, "-d", restored.database, str(dump)], check=True)
        original = _every_row(demo_academy)
        assert sum(len(rows) for rows in original.values()) > 500
        assert _every_row(restored_url) == original
        # Sequences come back too: the next id the product assigns does not collide.
        engine = create_engine(restored_url)
        with engine.connect() as conn:
            top = conn.execute(text("SELECT max(id) FROM student")).scalar_one()
            assert conn.execute(text("SELECT nextval(pg_get_serial_sequence('student', 'id'))")).scalar_one() > top
        engine.dispose()
    finally:
        _drop_postgres_database(restored_url)

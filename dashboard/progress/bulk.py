"""The recompute's reads and bulk writes, the cheapest way each database takes them.

Rows to write arrive as plain tuples already in the form the database stores: scores as
integer hundredths, times as `stored_time` gives them, JSON columns as JSON text. Nothing is
converted again per value on the way out.

On PostgreSQL a chunk of rows travels as one JSON document, an array of row arrays that the
server expands with `jsonb_array_elements` (one round trip, no per-row driver work), and
`Statements` sends the chunks in pipeline mode: the server inserts one chunk, with its index
entries and foreign-key checks, while Python computes the next. `read_all` pipelines a set of
independent reads the same way. SQLite, in-process, runs each statement as it comes (a chunk as
an executemany).

Every write is an `INSERT … ON CONFLICT` or an `UPDATE` by key, in the caller's transaction;
errors come back as SQLAlchemy's wrapped driver errors like any other statement's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Callable
import json

import psycopg
from sqlalchemy import DateTime, JSON, Table, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from dashboard.extensions import db


@dataclass(frozen=True)
class Upsert:
    """`INSERT INTO table (columns) … ON CONFLICT (conflict) DO UPDATE SET (update) | DO NOTHING`.

    `assignments` overrides the plain `column = excluded.column` of some updated columns with
    an SQL expression (the same text must work on both databases).
    """

    table: Table
    columns: tuple[str, ...]
    conflict: str
    update: tuple[str, ...] = ()
    assignments: tuple[tuple[str, str], ...] = ()

    @cached_property
    def _on_conflict(self) -> str:
        if not self.update:
            return f"ON CONFLICT {self.conflict} DO NOTHING"
        special = dict(self.assignments)
        sets = ", ".join(f"{name} = {special.get(name, f'excluded.{name}')}" for name in self.update)
        return f"ON CONFLICT {self.conflict} DO UPDATE SET {sets}"

    @cached_property
    def postgresql(self) -> str:
        dialect = postgresql.dialect()
        selected = []
        for index, name in enumerate(self.columns):
            column_type = self.table.c[name].type
            # JSON travels as text inside the document: ->> unwraps it and the cast parses it.
            sql_type = "json" if isinstance(column_type, JSON) else column_type.compile(dialect=dialect)
            selected.append(f"(r->>{index})::{sql_type}")
        return (
            f"INSERT INTO {self.table.name} ({', '.join(self.columns)}) SELECT {', '.join(selected)} "
            f"FROM jsonb_array_elements(%(rows)s::jsonb) AS r {self._on_conflict}"
        )

    @cached_property
    def sqlite(self) -> str:
        values = ", ".join("?" for _ in self.columns)
        return f"INSERT INTO {self.table.name} ({', '.join(self.columns)}) VALUES ({values}) {self._on_conflict}"


def stored_time(value: datetime) -> object:
    """An aware datetime as the current database stores it (naive UTC; SQLite as SQLAlchemy's text)."""
    naive = value.astimezone(timezone.utc).replace(tzinfo=None)
    if _dialect_name() == "postgresql":
        return naive.isoformat()  # cast back to timestamp from the JSON document
    return DateTime().dialect_impl(db.engine.dialect).bind_processor(db.engine.dialect)(naive)


class Statements:
    """The write statements of one recompute, on the session's connection.

    On PostgreSQL the block runs in pipeline mode: each statement is on its way when `execute`
    or `send` returns, the server works through them while Python goes on computing, and
    leaving the block collects every result (and raises the first error). Only statements
    without results belong inside; the session must have been flushed before.
    """

    def __init__(self) -> None:
        self.connection: Connection = db.session.connection()
        self.postgresql = self.connection.dialect.name == "postgresql"
        self._pipeline = None

    def __enter__(self) -> "Statements":
        # Pipeline mode needs libpq 14 or newer (psycopg[binary] bundles one); without it the
        # statements simply run one after the other.
        if self.postgresql and psycopg.Pipeline.is_supported():
            self._pipeline = self.connection.connection.driver_connection.pipeline()
            self._pipeline.__enter__()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self._pipeline is not None:
            pipeline, self._pipeline = self._pipeline, None
            try:
                pipeline.__exit__(kind, error, traceback)
            except psycopg.Error as exc:
                # Wrapped as SQLAlchemy wraps any driver error, so callers and retries treat it alike.
                raise DBAPIError.instance("(pipelined statements)", None, exc, psycopg.Error) from exc

    def execute(self, statement) -> None:
        self.connection.execute(statement)

    def send(self, upsert: Upsert, rows: list[tuple]) -> None:
        """Rows in stored form, in the order of `upsert.columns`."""
        if not rows:
            return
        if not self.postgresql:
            self.connection.exec_driver_sql(upsert.sqlite, rows)
            return
        # One JSON array of row arrays; the server parses it once (jsonb) and reads fields by position.
        document = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
        self.connection.exec_driver_sql(upsert.postgresql, {"rows": document})


def insert_rows(table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows that all have the same keys (Core: a None is written as NULL), in one statement.

    SQLite takes a plain executemany. On PostgreSQL each column travels as one array and comes
    back out of `unnest`, one statement whatever the row count, where executemany and multi-row
    VALUES lists spend seconds binding parameters in the driver for tens of thousands of rows.
    """
    if not rows:
        return
    if _dialect_name() != "postgresql":
        db.session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    source = select(*(
        func.unnest(bindparam(f"column_{name}", [row[name] for row in rows],
                              type_=postgresql.ARRAY(table.c[name].type)))
        for name in columns
    ))
    db.session.execute(insert(table).from_select(columns, source))


def read_all(reads: list[tuple[object, Callable[[list], None]]]) -> None:
    """Run each (query, reader) pair: the reader gets the query's rows, in order.

    On PostgreSQL the queries are sent together in pipeline mode, so the server answers the next
    one while the reader of this one runs. They are rendered with their (integer and string)
    values inline and read as the driver gives them: select what needs no SQLAlchemy type
    processing. Listeners see each statement.
    """
    connection: Connection = db.session.connection()
    if connection.dialect.name != "postgresql" or len(reads) < 2 or not psycopg.Pipeline.is_supported():
        for query, reader in reads:
            reader(connection.execute(query).all())
        return
    raw = connection.connection.driver_connection
    sql = "(pipelined reads)"
    try:
        with raw.pipeline():
            cursors = []
            for query, _ in reads:
                sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
                cursor = raw.cursor()
                connection.dispatch.before_cursor_execute(connection, cursor, sql, {}, None, False)
                cursor.execute(sql)
                cursors.append(cursor)
            for cursor, (_, reader) in zip(cursors, reads):
                reader(cursor.fetchall())
                cursor.close()
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


def _dialect_name() -> str:
    return db.session.get_bind().dialect.name

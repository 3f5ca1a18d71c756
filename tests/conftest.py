"""Shared fixtures: the app on SQLite and, when TEST_POSTGRES_URL is set, on PostgreSQL too.

Every test that takes `app` runs once per configured database. The schema is built once
per database per test run; after each test every table is emptied, so tests may commit.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from dashboard import create_app
from dashboard.extensions import db

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
TEST_TODAY = "2026-04-01"


def pytest_sessionstart(session):
    if os.environ.get("CI") == "true" and not POSTGRES_URL:
        pytest.exit("CI must run the suite on PostgreSQL too: TEST_POSTGRES_URL is not set", returncode=3)


def _postgres_admin_url():
    from dashboard.config import normalise_database_url

    return make_url(normalise_database_url(POSTGRES_URL))


def _create_postgres_database() -> str:
    import psycopg

    url = _postgres_admin_url()
    name = f"dashboard_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    params = dict(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                  dbname=url.database or "postgres", autocommit=True)
    if url.password:
        params["password"] = url.password
    with psycopg.connect(**params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(database_url: str) -> None:
    import psycopg

    url = _postgres_admin_url()
    name = make_url(database_url).database
    params = dict(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                  dbname=url.database or "postgres", autocommit=True)
    if url.password:
        params["password"] = url.password
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url_for(backend: str, tmp_path_factory) -> str:
    if backend == "sqlite":
        return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    return _create_postgres_database()


@pytest.fixture(scope="session")
def _apps(tmp_path_factory):
    """One app per backend for the whole run, built lazily."""
    built: dict[str, object] = {}
    urls: dict[str, str] = {}

    def get(backend: str):
        if backend not in built:
            urls[backend] = database_url_for(backend, tmp_path_factory)
            app = create_app({
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": urls[backend],
                "SECRET_KEY": "test-secret",
                "DASHBOARD_TODAY": TEST_TODAY,
                "WTF_CSRF_ENABLED": True,
                # Cheap scrypt parameters keep login tests fast; production uses the default.
                "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            })
            with app.app_context():
                db.create_all()
            app.teardown_request(_forget_request_globals)
            built[backend] = app
        return built[backend]

    yield get
    for backend, app in built.items():
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if backend == "postgresql":
            _drop_postgres_database(urls[backend])


def _forget_request_globals(exc) -> None:
    """Tests keep one app context open across their requests, so `g` outlives each request:
    drop what Flask-Login (the signed-in user) and Flask-WTF (the CSRF token) cache there, as a
    real new request would start without them."""
    from flask import g

    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def _empty_all_tables() -> None:
    """TRUNCATE on PostgreSQL; on SQLite, DELETE children before parents with foreign keys left on
    (SQLite ignores PRAGMA foreign_keys inside a transaction, so switching them off would stick)."""
    db.session.remove()
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def app(_apps, backend):
    app = _apps(backend)
    saved = dict(app.config)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            _empty_all_tables()
            app.config.clear()
            app.config.update(saved)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class QueryCounter:
    """Counts the SQL statements sent while active."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)


@pytest.fixture
def count_queries(app):
    """`with count_queries() as counter: ...` then `counter.count`."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter._on_execute)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter._on_execute)

    return counting


def _register_hypothesis_profiles() -> None:
    """`HYPOTHESIS_PROFILE=ci` (set by .ci/run) bounds the examples so CI stays well under its budget."""
    from hypothesis import settings

    settings.register_profile("ci", max_examples=40, deadline=None, print_blob=True)
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


_register_hypothesis_profiles()

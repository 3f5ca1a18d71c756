"""What the benchmark scripts share: a fresh PostgreSQL database per run, the app with its schema
on it, a statement counter, a machine-speed reference, statistics after a bulk load, a signed-in
test client, and running one benchmark on SQLite and on PostgreSQL (from its command line)."""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import User
from dashboard.synthetic import TODAY


class Statements:
    def __init__(self):
        self.count = 0

    def __call__(self, *args):
        self.count += 1


def postgres_database(base_url: str):
    import psycopg

    url = make_url(base_url)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    params = dict(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                  dbname=url.database or "postgres", autocommit=True)
    with psycopg.connect(**params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(**params) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(hide_password=False), drop


def machine_speed() -> float:
    """Seconds for a fixed pure-Python loop: how fast this machine runs Python, so that figures
    taken on different machines can be compared."""
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start


def on_each_database(only: str | None, run: Callable[..., None], *args) -> None:
    """`run(url, label, *args)` on a temporary SQLite file, then on a fresh PostgreSQL database
    (BENCH_POSTGRES_URL names the server) that is dropped afterwards; `only` picks one."""
    if only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.sqlite3", "sqlite", *args)
    if only != "sqlite":
        base = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
        url, drop = postgres_database(base)
        try:
            run(url, "postgresql", *args)
        finally:
            drop()


@contextmanager
def bench_app(url: str) -> Iterator[Flask]:
    """The app on `url` (the academy's date: the tests' TODAY) with the schema created, inside its
    app context; the schema is dropped after."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DASHBOARD_TODAY": TODAY.isoformat(), "SECRET_KEY": "bench"})
    with app.app_context():
        db.create_all()
        try:
            yield app
        finally:
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def analyze_on_postgresql() -> None:
    """Statistics for freshly bulk-loaded tables on PostgreSQL, as autovacuum would gather them
    within a minute on a live database; without them the planner picks a nested loop for the
    navigation's clinic count. Commits what was loaded first."""
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def timed_reads(repeats: int, read: Callable[[], Any], statements: list) -> tuple[list[float], Any]:
    """Time `read` (a page's read queries alone) `repeats` times: the seconds of each and what the
    last one read. Each run starts with the statement counter `statements` emptied, so after this
    it holds the last run's statements, and ends rolled back, so no run reads another's work."""
    times, result = [], None
    for _ in range(repeats):
        statements.clear()
        start = time.perf_counter()
        result = read()
        times.append(time.perf_counter() - start)
        db.session.rollback()
    return times, result


def signed_in_client(app: Flask, user: User) -> FlaskClient:
    """A test client signed in as `user` without going through the sign-in form: a new server-side
    session of theirs (committed) and, in the cookie, its key beside Flask-Login's id, as the
    sign-in leaves them. (Imported here: `--code` may point the recompute bench at code older
    than server-side sessions.)"""
    from dashboard.accounts import sessions as user_sessions
    from dashboard.web.auth import SESSION_KEY

    key = user_sessions.start(user, "benchmark", "127.0.0.1")
    db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session[SESSION_KEY] = key
    return client


def run_from_command_line(description: str, run: Callable[..., None], repeats: int) -> None:
    """The command line of a benchmark that times `run(url, label, repeats)`: `--repeats` (how
    many timings, default `repeats`) and `--only sqlite|postgresql`."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    on_each_database(args.only, run, args.repeats)


def sign_in_browser(page, base: str, username: str, password: str) -> None:
    """Sign `username` in through the login form in a Playwright page (the browser benches)."""
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")

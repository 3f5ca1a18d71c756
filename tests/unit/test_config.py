"""Configuration from the environment (SPEC §8): database URL, secret key, academy date and timezone.

create_app reads os.environ, so every test sets the variables it relies on and removes the rest;
building an app never connects to a database, which is what lets these tests run without one.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dashboard import create_app
from dashboard.clock import academy_timezone, academy_today
from dashboard.config import normalise_database_url
from dashboard.extensions import db

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ("DATABASE_URL", "SECRET_KEY", "DASHBOARD_TODAY", "DASHBOARD_TIMEZONE", "DASHBOARD_ENV")
# Nothing listens on port 1: any attempt to connect fails at once.
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nowhere"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://kim:pw@db.example:5433/academy", "postgresql+psycopg://kim:pw@db.example:5433/academy"),
        ("postgresql://kim@db.example/academy", "postgresql+psycopg://kim@db.example/academy"),
        ("postgresql+psycopg://kim@db.example/academy", "postgresql+psycopg://kim@db.example/academy"),
        ("sqlite:////var/lib/dashboard.sqlite3", "sqlite:////var/lib/dashboard.sqlite3"),
    ],
)
def test_database_url_is_normalised_to_psycopg_3(given, expected):
    assert normalise_database_url(given) == expected


def test_database_url_from_environment_reaches_the_engine(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://kim@db.example/academy")

    app = create_app()

    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://kim@db.example/academy"
    with app.app_context():
        assert db.engine.url.drivername == "postgresql+psycopg"
        assert db.engine.url.database == "academy"


def test_database_url_given_in_test_config_is_normalised_too():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql://kim@db.example/academy"})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://kim@db.example/academy"


def test_default_database_is_an_sqlite_file_in_the_instance_folder():
    app = create_app()

    with app.app_context():
        url = db.engine.url
    assert url.drivername == "sqlite"
    assert Path(url.database) == Path(app.instance_path) / "dashboard.sqlite3"
    assert Path(app.instance_path).is_dir()


def test_relative_sqlite_path_lands_in_the_instance_folder(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///other.sqlite3")

    app = create_app()

    with app.app_context():
        assert Path(db.engine.url.database) == Path(app.instance_path) / "other.sqlite3"


def test_missing_secret_key_in_production_is_an_error(monkeypatch):
    monkeypatch.setenv("DASHBOARD_ENV", "production")

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_empty_secret_key_in_production_is_an_error(monkeypatch):
    monkeypatch.setenv("DASHBOARD_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "")

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_uses_the_given_secret_key_and_secure_cookies(monkeypatch):
    monkeypatch.setenv("DASHBOARD_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-secret")

    app = create_app()

    assert app.config["SECRET_KEY"] == "a-long-random-secret"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_missing_secret_key_outside_production_gets_a_random_one_per_app():
    first, second = create_app(), create_app()

    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]
    assert not first.config.get("SESSION_COOKIE_SECURE")


def test_academy_today_and_timezone_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DASHBOARD_TODAY", "2026-03-15")
    monkeypatch.setenv("DASHBOARD_TIMEZONE", "Europe/Berlin")

    app = create_app()

    with app.app_context():
        assert academy_today() == date(2026, 3, 15)
        assert academy_timezone().key == "Europe/Berlin"


def test_timezone_defaults_to_seoul_and_today_to_the_real_date():
    app = create_app()

    assert app.config["DASHBOARD_TODAY"] is None
    with app.app_context():
        assert academy_timezone().key == "Asia/Seoul"


@pytest.mark.parametrize(
    ("name", "value"),
    [("DASHBOARD_TODAY", "2026-13-01"), ("DASHBOARD_TODAY", "01.04.2026"), ("DASHBOARD_TIMEZONE", "Asia/Nowhere")],
)
def test_bad_date_or_timezone_fails_when_the_app_is_built(monkeypatch, name, value):
    """A typo must stop the start, not turn every later page into a server error."""
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=name):
        create_app()


def test_building_the_app_does_not_connect_to_the_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)

    app = create_app()

    with app.app_context():
        assert db.engine.pool.checkedin() == 0
        assert db.engine.pool.checkedout() == 0


def test_importing_wsgi_does_not_connect_to_the_database():
    """`import wsgi` builds the app (gunicorn, flask --app wsgi): it must work while the database is down."""
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS}
    env["DATABASE_URL"] = UNREACHABLE

    result = subprocess.run(
        [sys.executable, "-c", "import wsgi; print(wsgi.app.config['SQLALCHEMY_DATABASE_URI'])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"

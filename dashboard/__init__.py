"""The academy progress dashboard: create_app() builds the Flask application."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    from .config import check_academy_clock, normalise_database_url, settings_from_env

    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(settings_from_env(app.instance_path))
    app.config.update(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.update(test_config)
    if app.config.get("DASHBOARD_ENV") == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    _ensure_secret_key(app)
    check_academy_clock(app.config)

    from . import models  # noqa: F401  (registers the tables on db.metadata)
    from .extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)

    from . import cli

    app.register_blueprint(cli.bp)

    from .web.api import register_api

    register_api(app)

    from .web import auth, home

    auth.init_app(app)
    app.register_blueprint(home.bp)
    return app


def _ensure_secret_key(app: Flask) -> None:
    """A missing SECRET_KEY is an error in production and a throwaway key elsewhere."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("DASHBOARD_ENV") == "production":
        raise RuntimeError("SECRET_KEY must be set when DASHBOARD_ENV=production")
    app.config["SECRET_KEY"] = secrets.token_hex(32)


def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite enforces foreign keys (and so ON DELETE rules) only when asked, per connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()

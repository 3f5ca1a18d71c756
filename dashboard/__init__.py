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
    from dashboard.config import (
        check_academy_clock,
        check_base_url,
        check_rate_limit,
        normalise_database_url,
        normalise_environment,
        settings_from_env,
    )

    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(settings_from_env(app.instance_path))
    app.config.update(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind nginx every request comes from 127.0.0.1: with DASHBOARD_PROXY_HOPS=1 the client's
        # address (login throttling) and scheme are taken from the proxy's X-Forwarded-* headers.
        PROXY_HOPS=int(os.environ.get("DASHBOARD_PROXY_HOPS") or 0),
    )
    if test_config:
        app.config.update(test_config)
    normalise_environment(app.config)
    check_rate_limit(app.config)
    check_base_url(app.config)
    if app.config.get("DASHBOARD_ENV") == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    _ensure_secret_key(app)
    app.json.sort_keys = False  # answers keep the serializers' field order
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    check_academy_clock(app.config)

    from dashboard import models  # noqa: F401  (registers the tables on db.metadata)
    from dashboard.extensions import csrf, db, login_manager, migrate

    from dashboard import request_log
    from dashboard.web import compression, static_files

    # Registered first, so that its after_request runs last, on the finished response.
    compression.init_app(app)
    static_files.init_app(app)
    # Next: its timer starts before every other hook runs, its log line is written after them all.
    request_log.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)

    from dashboard.web import guards

    guards.install(app)

    from dashboard import cli

    app.register_blueprint(cli.bp)

    from dashboard.web.api import register_api

    register_api(app)

    from dashboard.web import health

    health.init_app(app)

    from dashboard import i18n
    from dashboard.web import auth, errors, home, lectures, ui

    i18n.init_app(app)
    ui.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(home.bp)
    app.register_blueprint(lectures.bp)

    from dashboard.web import clinic, clinic_sessions, clinic_todo, policy, risk, users

    for blueprint in (clinic.bp, clinic_sessions.bp, clinic_todo.bp, policy.bp, risk.bp, users.bp):
        app.register_blueprint(blueprint)

    from dashboard.web import exams, omr as omr_pages

    app.register_blueprint(exams.bp)
    app.register_blueprint(omr_pages.bp)

    from dashboard.web import setup

    app.register_blueprint(setup.bp)

    from dashboard.web import setup_exams, uploads

    app.register_blueprint(setup_exams.bp)
    app.register_blueprint(uploads.bp)

    from dashboard.web import api_docs, audit

    app.register_blueprint(api_docs.bp)
    app.register_blueprint(audit.bp)
    from dashboard.web import parents

    app.register_blueprint(parents.bp)
    from dashboard.web import reports

    app.register_blueprint(reports.bp)
    from dashboard.web import entry as entry_pages

    app.register_blueprint(entry_pages.bp)
    # Last: every page view registered above gets its transaction (commit once, bounded retries).
    ui.wrap_page_views(app)
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

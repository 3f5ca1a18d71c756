"""Real Chromium against the app served from a thread (Playwright for Python + Debian's chromium).

The app runs on a real database: a SQLite file, or its own PostgreSQL database when
TEST_POSTGRES_URL is set. Each test fills it through the `academy` or `demo` fixture (committed,
since the server thread has its own connections) and every table is emptied afterwards.
Screenshots go to test-results/ (the best ones are copied to docs/screenshots/ by hand).
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from dashboard import create_app
from dashboard.extensions import db
from tests.conftest import POSTGRES_URL, TEST_TODAY, _create_postgres_database, _drop_postgres_database, _empty_all_tables

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-test-pass"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


def pytest_collection_modifyitems(config, items):
    """Mark every test here `browser`; without Chromium skip them, except on CI where that is a failure."""
    here = Path(__file__).parent
    missing = not shutil.which("chromium") and not Path(CHROMIUM).exists()
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            # The test server is werkzeug's: when Chromium drops a connection in the middle of a
            # static file (a navigation cancels the favicon), werkzeug lets go of the open file
            # unclosed, which is the test server's doing, not the app's.
            item.add_marker(pytest.mark.filterwarnings(
                r"ignore:unclosed file <_io\.BufferedReader name='[^']*static/:ResourceWarning"))
            if missing and os.environ.get("CI") != "true":
                item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed (apt-get install chromium)"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright cannot download its own build here (TOOLING.md)."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    """The app on a real database, served on 127.0.0.1 from a thread for the whole session."""
    if POSTGRES_URL:
        url = _create_postgres_database()
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("browser") / "browser.sqlite3")
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "browser-test-secret",
        "DASHBOARD_TODAY": TEST_TODAY,
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
    })
    with app.app_context():
        db.create_all()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if POSTGRES_URL:
        _drop_postgres_database(url)


@pytest.fixture
def live_url(served_app) -> str:
    return served_app.config["LIVE_URL"]


@pytest.fixture
def filled(served_app):
    """An app context on the served database; every table is emptied after the test."""
    with served_app.app_context():
        try:
            yield served_app
        finally:
            db.session.remove()
            _empty_all_tables()


@pytest.fixture
def academy(filled):
    """tests/factories.build_academy, with real passwords for the users, committed."""
    from dashboard.accounts import users as accounts
    from tests.factories import build_academy

    built = build_academy()
    for user in built.users.values():
        accounts.reset_password(user, PASSWORD)
    db.session.commit()
    return built


def shot(page, name: str) -> Path:
    """A full-viewport screenshot under test-results/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in(page, live_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(live_url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_url + "/")

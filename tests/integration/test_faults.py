"""Faults: the database going away mid-request, a recompute that raises, bodies that are too big
or never end, a stuck worker — each answered cleanly with nothing half-written, and the app
recovering by itself. Also the serving basics the faults are seen through: /healthz and the
one-JSON-line request log.

The database outage is simulated with a TCP relay on 127.0.0.1 between a second app and the
test's PostgreSQL database; the test cuts the relay (never the machine's PostgreSQL).
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from werkzeug.test import EnvironBuilder, run_wsgi_app

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import (
    Activity,
    AuditLog,
    ClinicLink,
    LectureProgress,
    ProgressPolicy,
    RiskLog,
    SessionProgress,
)
from tests.factories import bearer, build_academy, policy_of
from tests.web.pages import HTMX, csrf_token, sign_in

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- a TCP relay the test can cut

class TcpRelay:
    """Relays 127.0.0.1:<port> to a target address, one pair of threads per connection.

    `cut()` closes every relayed connection and makes new ones close at once (as if the database
    host vanished); `restore()` lets connections through again, on the same port.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._cut = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._open.discard(sock)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            open_sockets = list(self._open)
        self._drop(*open_sockets)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closing.set()
        self.cut()
        self._acceptor.join(timeout=2)
        self.listener.close()


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.commit()
    return academy


@pytest.fixture
def relayed(app, backend):
    """(a second app reaching the same database through a relay, the relay) — PostgreSQL only."""
    if backend != "postgresql":
        pytest.skip("the outage is a TCP connection cut; SQLite has no connection to cut")
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    relay = TcpRelay((url.host or "127.0.0.1", url.port or 5432))
    config = {key: app.config[key] for key in ("SECRET_KEY", "DASHBOARD_TODAY", "PASSWORD_HASH_METHOD")}
    # A short connect timeout bounds the test if the relay ever hangs instead of refusing.
    proxied = create_app({
        **config, "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url.set(port=relay.port).render_as_string(hide_password=False),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "connect_args": {"connect_timeout": 3}},
    })
    try:
        yield proxied, relay
    finally:
        relay.close()
        with proxied.app_context():
            db.session.remove()
            db.engine.dispose()


def stored_state():
    """Inputs and derived rows a failed write could have touched, read fresh."""
    db.session.rollback()
    db.session.expire_all()
    policies = db.session.execute(
        select(ProgressPolicy.id, ProgressPolicy.video_required_rate, ProgressPolicy.exam_pass_score,
               ProgressPolicy.updated_at).order_by(ProgressPolicy.id)).all()
    activities = db.session.execute(
        select(Activity.enrollment_id, Activity.session_id, Activity.video_rate, Activity.attendance)
        .order_by(Activity.enrollment_id, Activity.session_id)).all()
    cells = db.session.execute(
        select(SessionProgress.enrollment_id, SessionProgress.session_id, SessionProgress.fingerprint,
               SessionProgress.calculated_at).order_by(SessionProgress.enrollment_id, SessionProgress.session_id)).all()
    lectures = db.session.execute(
        select(LectureProgress.enrollment_id, LectureProgress.fingerprint, LectureProgress.risk_level)
        .order_by(LectureProgress.enrollment_id)).all()
    links = db.session.execute(
        select(ClinicLink.id, ClinicLink.resolved_at, ClinicLink.meta).order_by(ClinicLink.id)).all()
    logs = db.session.execute(select(func.count(RiskLog.id))).scalar_one()
    audit = db.session.execute(select(func.count(AuditLog.id))).scalar_one()
    return policies, activities, cells, lectures, links, logs, audit


def policy_path(academy) -> str:
    return f"/api/progress/policies/{policy_of(academy.algebra).id}/"


# ---------------------------------------------------------------- the database goes away

def test_database_cut_mid_request_is_503_writes_nothing_and_recovers(app, academy, relayed, monkeypatch):
    proxied, relay = relayed
    client = proxied.test_client()
    headers = bearer(academy.tokens["admin"])
    assert client.get("/healthz").status_code == 200
    before = stored_state()

    import dashboard.progress.policy

    original = dashboard.progress.policy.recompute_lecture

    def cut_then_recompute(lecture_id: int) -> int:
        # The policy row is already updated (flushed) in this transaction when the line drops.
        relay.cut()
        return original(lecture_id)

    monkeypatch.setattr(dashboard.progress.policy, "recompute_lecture", cut_then_recompute)
    started = time.monotonic()
    response = client.patch(policy_path(academy), json={"video_required_rate": 96}, headers=headers)
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "unavailable" and "database is unavailable" in body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert stored_state() == before

    # While it is down: the health check says so, the API answers 503 (no hang, no trace).
    assert client.get("/healthz").status_code == 503
    assert client.get("/healthz").get_json()["status"] == "unavailable"
    assert client.get("/api/progress/policies/", headers=headers).status_code == 503

    # Back: the same app serves again without a restart (stale pooled connections are replaced).
    monkeypatch.setattr(dashboard.progress.policy, "recompute_lecture", original)
    relay.restore()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.patch(policy_path(academy), json={"video_required_rate": 96}, headers=headers)
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    assert policy_of(academy.algebra).video_required_rate == 96
    # Minji watched 95%: at 96 she completes nothing any more — the recompute ran and was kept.
    minji = db.session.execute(
        select(LectureProgress).where(LectureProgress.enrollment_id == academy.minji.id)).scalar_one()
    assert (minji.completed_sessions, minji.risk_level) == (0, "DANGER")


def test_database_down_on_a_page_is_a_503_page(app, academy, relayed):
    proxied, relay = relayed
    client = proxied.test_client()
    sign_in(client, academy.users["admin"])
    assert client.get(f"/lectures/{academy.algebra.id}/").status_code == 200
    relay.cut()
    response = client.get(f"/lectures/{academy.algebra.id}/")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "database" in page.lower() and "Traceback" not in page
    relay.restore()
    assert client.get(f"/lectures/{academy.algebra.id}/").status_code == 200


# ---------------------------------------------------------------- a recompute that raises

class RecomputeBroke(RuntimeError):
    pass


def test_a_recompute_raising_after_writing_rolls_back_the_whole_api_request(client, academy, monkeypatch):
    import dashboard.progress.policy
    from dashboard.progress.recompute import recompute_lecture

    before = stored_state()
    written, minji_incomplete = [], []

    def recompute_then_raise(lecture_id: int) -> int:
        written.append(recompute_lecture(lecture_id))
        minji_incomplete.append(db.session.execute(select(func.count()).select_from(SessionProgress).where(
            SessionProgress.enrollment_id == academy.minji.id, SessionProgress.completed.is_(False))).scalar_one())
        raise RecomputeBroke("the recompute failed half-way")

    monkeypatch.setattr(dashboard.progress.policy, "recompute_lecture", recompute_then_raise)
    response = client.patch(policy_path(academy), json={"video_required_rate": 96},
                            headers=bearer(academy.tokens["admin"]))
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal_error"
    # The recompute had written its rows (3 active enrollments x 3 held sessions; at 96 Minji's
    # three cells turned incomplete inside the transaction), then everything was thrown away.
    assert written == [9] and minji_incomplete == [3]
    assert stored_state() == before


def test_a_recompute_raising_rolls_back_a_cell_edit_from_the_grid(client, academy, monkeypatch):
    import dashboard.lectures.cells

    original = dashboard.lectures.cells.recompute
    user = academy.users["teacher_a"]
    sign_in(client, user)
    token = csrf_token(client, f"/lectures/{academy.algebra.id}/")
    before = stored_state()

    def recompute_then_raise(scope):
        original(scope)
        raise RecomputeBroke("the recompute failed half-way")

    monkeypatch.setattr(dashboard.lectures.cells, "recompute", recompute_then_raise)
    # As in production: an unexpected error becomes the 500 page instead of reaching the test.
    client.application.config["PROPAGATE_EXCEPTIONS"] = False
    week = academy.weeks[0]
    response = client.post(
        f"/lectures/{academy.algebra.id}/cell/activity?enrollment={academy.jisoo.id}&session={week.id}",
        data={"activity-attendance": "online", "activity-video_rate": "100"},
        headers={**HTMX, "X-CSRFToken": token},
    )
    assert response.status_code == 500
    assert "Traceback" not in response.get_data(as_text=True)
    assert stored_state() == before


# ---------------------------------------------------------------- bodies

class EndlessBody:
    """A request body that never ends; counts what the app read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size is None or size < 0 else min(size, 65536)
        self.read_bytes += size
        return b" " * size

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def serve_raw(app, path: str, method: str, body: EndlessBody, headers: dict[str, str],
              content_length: int | None = None) -> tuple[int, bytes]:
    """Call the WSGI app directly (the test client would measure the stream first): a body
    without Content-Length is a chunked upload, which the server marks as terminated."""
    builder = EnvironBuilder(path=path, method=method, headers=headers)
    environ = builder.get_environ()
    builder.close()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": body, "wsgi.input_terminated": content_length is None})
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
    app_iter, status, _headers = run_wsgi_app(app, environ, buffered=True)
    try:
        return int(status.split()[0]), b"".join(app_iter)
    finally:
        getattr(app_iter, "close", lambda: None)()


def test_an_endless_api_body_is_cut_at_the_limit_with_413(app, academy):
    from dashboard.web.api import API_BODY_LIMIT

    body = EndlessBody()
    before = stored_state()
    status, answer = serve_raw(app, policy_path(academy), "PATCH", body,
                               {**bearer(academy.tokens["admin"]), "Content-Type": "application/json"})
    assert status == 413, (answer, body.read_bytes)
    assert json.loads(answer)["error"] == "too_large"
    # Read up to the limit and no further: the rest of the endless body is never asked for.
    assert body.read_bytes == API_BODY_LIMIT
    assert stored_state() == before


def test_an_oversized_page_form_is_refused_before_it_is_read(app, client, academy):
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client, f"/lectures/{academy.algebra.id}/")
    week = academy.weeks[0]
    before = stored_state()
    body = EndlessBody()
    status, _answer = serve_raw(
        app, f"/lectures/{academy.algebra.id}/cell/activity?enrollment={academy.jisoo.id}&session={week.id}",
        "POST", body, {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": token,
                       "Cookie": f"session={client.get_cookie('session').value}"},
        content_length=app.config["MAX_CONTENT_LENGTH"] + 1)
    assert status == 413
    assert body.read_bytes == 0
    assert stored_state() == before


# ---------------------------------------------------------------- health check and request log

def test_healthz_is_public_json_and_uncached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    # Other pages send an anonymous visitor to the login form; this one does not.
    assert client.get("/").status_code == 302


def test_one_json_log_line_per_request_with_timing_user_and_request_id(client, academy, caplog):
    caplog.set_level(logging.INFO, logger="dashboard.request")
    response = client.get("/api/progress/policies/", headers={**bearer(academy.tokens["staff"]),
                                                               "X-Request-ID": "req-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-42"
    client.get("/healthz", headers={"X-Request-ID": "not a valid id!"})
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "dashboard.request"]
    assert len(lines) == 2
    api, health = lines
    assert api["method"] == "GET" and api["path"] == "/api/progress/policies/" and api["status"] == 200
    assert api["user_id"] == academy.users["staff"].id and api["request_id"] == "req-42"
    assert isinstance(api["duration_ms"], float) and 0 <= api["duration_ms"] < 10_000
    assert set(api) == {"ts", "event", "method", "path", "status", "duration_ms", "user_id", "request_id"}
    # A request id that is not a short token is replaced by a fresh one.
    assert health["user_id"] is None and len(health["request_id"]) == 32 and health["request_id"] != "not a valid id!"


def test_the_request_log_is_quiet_unless_configured(app, academy, capsys):
    app.test_client().get("/healthz")
    captured = capsys.readouterr()
    assert '"event": "request"' not in captured.err + captured.out


LOGIN_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _log_in(client, username: str, password: str):
    form = client.get("/login").get_data(as_text=True)
    token = LOGIN_CSRF.search(form).group(1)
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password})


def test_two_workers_share_nothing_kept_in_memory(app):
    """Two app instances on one database (as two gunicorn workers or two servers): a sign-in made
    on one is valid on the other, a flash message set on one shows on the other, and failed
    sign-ins counted on one throttle the other."""
    from dashboard.accounts.users import MAX_LOGIN_FAILURES, create_user

    create_user("kim", "correct horse battery", "admin")
    create_user("lee", "staple of the stable", "staff")
    db.session.commit()
    other = create_app({key: app.config[key] for key in (
        "TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "DASHBOARD_TODAY", "PASSWORD_HASH_METHOD")})
    try:
        first, second = app.test_client(), other.test_client()
        assert _log_in(first, "kim", "correct horse battery").status_code == 302
        second.set_cookie("session", first.get_cookie("session").value)
        assert second.get("/").status_code == 200  # signed in on the other worker
        # Sign out on one (a flash message in the cookie), read the message on the other.
        page = first.get("/").get_data(as_text=True)
        csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        assert first.post("/logout", headers={"X-CSRFToken": csrf}).status_code == 302
        second.set_cookie("session", first.get_cookie("session").value)
        assert "You are signed out." in second.get("/login").get_data(as_text=True)

        for _ in range(MAX_LOGIN_FAILURES):
            assert _log_in(first, "lee", "wrong").status_code == 401
        # The other worker refuses even the right password now: the count is in the database.
        assert _log_in(second, "lee", "staple of the stable").status_code == 429
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


# ---------------------------------------------------------------- gunicorn: a stuck request

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_gunicorn_kills_a_worker_stuck_on_a_slow_body_and_keeps_serving(tmp_path):
    """A body that trickles in forever holds a sync worker only until gunicorn's timeout."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed next to this Python")
    port = _free_port()
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1", "GUNICORN_TIMEOUT": "2",
           "GUNICORN_LOG_LEVEL": "warning", "DATABASE_URL": "sqlite:///" + str(tmp_path / "db.sqlite3"),
           "SECRET_KEY": "test", "DASHBOARD_ENV": "development"}
    server = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30  # a busy machine boots workers slowly
        while True:
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        slow = socket.create_connection(("127.0.0.1", port), timeout=15)
        # The login form's CSRF check reads the whole form before anything else happens.
        slow.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nu")
        started = time.monotonic()
        try:
            while slow.recv(4096):  # until the server drops the connection
                pass
        except ConnectionResetError:
            pass
        held = time.monotonic() - started
        slow.close()
        # Timeout 2 s; the arbiter looks about once a second, then the worker gets SIGABRT.
        assert held < 12, f"the stuck request held its worker for {held:.1f} s"
        # The arbiter replaced the killed worker: the next request is served.
        deadline = time.monotonic() + 20
        while True:
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no worker came back after the timeout"
            time.sleep(0.2)
    finally:
        server.terminate()
        try:
            _, errors = server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            _, errors = server.communicate()
    assert b"WORKER TIMEOUT" in errors


def test_the_nginx_site_is_valid(tmp_path):
    """deploy/nginx.conf parses (`nginx -t`); skipped where nginx is not installed (CI needs none)."""
    import shutil

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx); deploy/nginx.conf is checked by hand then")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"include {ROOT / 'deploy' / 'nginx.conf'}; }}\n")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 0, result.stderr

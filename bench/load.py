"""Load test: 50 simulated staff members on gunicorn + PostgreSQL + nginx, all on loopback.

    python bench/load.py                       # 150 s, 50 users, 2 gunicorn instances, nginx if installed
    python bench/load.py --duration 60 --users 20
    python bench/load.py --url http://127.0.0.1:8080 --database-url postgresql+psycopg://...
                                               # against servers already running (deploy/run.sh)

A benchmark, not a test. By default it creates a fresh PostgreSQL database next to
BENCH_POSTGRES_URL (default: the local server), applies the migrations with `flask db upgrade`,
fills it (one 300-student x 40-session lecture, six 40 x 40 ones, users), starts the gunicorn
instances with gunicorn.conf.py and, when nginx is installed, nginx in front of them
(deploy/nginx.conf with this run's ports), then drops everything when done.

Closed loop: each simulated user signs in through the login form, then repeats "act, then think
1-3 s" until the time is up. Teachers view their lecture's grid, open a cell and save it (the
htmx form: the answer is the cell's detail plus the row swapped out of band); staff act on
clinic links through the API and look at the clinic queue; admins post small snapshot imports.
Every request is timed from the first byte sent to the last byte read; anything but the expected
status counts as an error. The table printed at the end (and written with --json) is what
docs/performance.md, "Load test", reports.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_TODAY = "2026-04-01"  # dashboard/synthetic.py dates its sessions around this day
PASSWORD = "load-test-password"
THINK_SECONDS = (1.0, 3.0)
CSRF_HEADER = re.compile(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'')
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


# ---------------------------------------------------------------- the data

@dataclass
class LectureInfo:
    id: int
    students: int
    cells: list[tuple[int, int]]  # (enrollment, held session) pairs to edit


@dataclass
class Plan:
    lectures: list[LectureInfo]
    links: list[int]
    users: list[tuple[str, str, int | None, str]]  # (username, role, lecture id, API token)


def fill_database(database_url: str, users: int, seed: int) -> Plan:
    """One 300 x 40 lecture, six 40 x 40 ones, and `users` accounts (teachers, staff, admins)."""
    os.environ.setdefault("DASHBOARD_TODAY", BENCH_TODAY)
    from sqlalchemy import select, text

    from dashboard import create_app
    from dashboard.accounts.users import create_token, create_user
    from dashboard.extensions import db
    from dashboard.models import ClinicLink, Enrollment, LectureSession
    from dashboard.progress.recompute import recompute_lecture
    from dashboard.synthetic import TODAY, build_lecture

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "DASHBOARD_TODAY": BENCH_TODAY,
                      "SECRET_KEY": "bench-setup", "REQUEST_LOG": False})
    rng = random.Random(seed)
    with app.app_context():
        sizes = [(300, 40)] + [(40, 40)] * 6
        lectures = []
        for number, (students, sessions) in enumerate(sizes):
            lecture_id = build_lecture(students, sessions, 1, 1, seed=seed + number)
            recompute_lecture(lecture_id)
            enrollments = db.session.execute(
                select(Enrollment.id).where(Enrollment.lecture_id == lecture_id)).scalars().all()
            held = db.session.execute(select(LectureSession.id).where(
                LectureSession.lecture_id == lecture_id, LectureSession.date <= TODAY)).scalars().all()
            cells = sorted({(rng.choice(enrollments), rng.choice(held)) for _ in range(400)})
            lectures.append(LectureInfo(lecture_id, students, cells))
        db.session.commit()
        # Statistics for the freshly bulk-loaded tables, as autovacuum would gather on a live database.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        links = db.session.execute(select(ClinicLink.id)).scalars().all()

        # 4 in 5 teachers (a quarter of them on the big lecture), 3 in 20 staff, the rest admins.
        teachers = round(users * 0.8)
        staff = round(users * 0.15)
        accounts = []
        for n in range(users):
            if n < teachers:
                lecture = lectures[0] if n % 4 == 0 else lectures[1 + n % (len(lectures) - 1)]
                user = create_user(f"teacher{n:02d}", PASSWORD, "teacher", [lecture.id])
                accounts.append((user, "teacher", lecture.id))
            elif n < teachers + staff:
                accounts.append((create_user(f"staff{n:02d}", PASSWORD, "staff"), "staff", None))
            else:
                accounts.append((create_user(f"admin{n:02d}", PASSWORD, "admin"), "admin", None))
        plan_users = [(user.username, role, lecture_id, create_token(user)) for user, role, lecture_id in accounts]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return Plan(lectures, links, plan_users)


def _user_creation_signature_check() -> None:
    """create_user's signature is the accounts module's; fail early with a clear message if it moved."""
    import inspect

    from dashboard.accounts.users import create_user

    parameters = list(inspect.signature(create_user).parameters)
    if parameters[:3] != ["username", "password", "role"]:
        raise SystemExit(f"bench/load.py expects create_user(username, password, role, ...), got {parameters}")


# ---------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"nothing healthy on 127.0.0.1:{port} after {seconds:.0f} s")


class Servers:
    """gunicorn instances (and nginx in front when installed), started and stopped by this run."""

    def __init__(self, database_url: str, instances: int, workers: int | None, use_nginx: bool, run_dir: Path):
        self.run_dir = run_dir
        self.processes: list[subprocess.Popen] = []
        self.ports = [free_port() for _ in range(instances)]
        self.logs = [run_dir / f"gunicorn-{port}.log" for port in self.ports]
        self.nginx_port: int | None = None
        self.stopped = False
        env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench-" + os.urandom(8).hex(),
               "DASHBOARD_ENV": "production", "DASHBOARD_TODAY": BENCH_TODAY, "DASHBOARD_PROXY_HOPS": "1"}
        if workers:
            env["GUNICORN_WORKERS"] = str(workers)
        gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
        for port, log in zip(self.ports, self.logs):
            self.processes.append(subprocess.Popen(
                [gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
                stdout=subprocess.DEVNULL, stderr=log.open("w")))
        for port in self.ports:
            wait_healthy(port)
        if use_nginx and shutil.which("nginx"):
            self.nginx_port = free_port()
            site = (ROOT / "deploy" / "nginx.conf").read_text()
            site = site.replace("127.0.0.1:8001", f"127.0.0.1:{self.ports[0]}")
            site = site.replace("127.0.0.1:8002", f"127.0.0.1:{self.ports[-1]}")
            site = site.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{self.nginx_port}")
            (run_dir / "site.conf").write_text(site)
            (run_dir / "nginx.conf").write_text(
                f"worker_processes 1;\npid {run_dir}/nginx.pid;\nerror_log {run_dir}/nginx-error.log warn;\n"
                "events { worker_connections 1024; }\n"
                f"http {{ access_log off; client_body_temp_path {run_dir}/body; proxy_temp_path {run_dir}/proxy;\n"
                f"include {run_dir}/site.conf; }}\n")
            subprocess.run(["nginx", "-p", str(run_dir), "-c", str(run_dir / "nginx.conf")], check=True)
            wait_healthy(self.nginx_port)

    @property
    def targets(self) -> list[tuple[str, int]]:
        if self.nginx_port:
            return [("127.0.0.1", self.nginx_port)]
        return [("127.0.0.1", port) for port in self.ports]

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.nginx_port:
            subprocess.run(["nginx", "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf"), "-s", "quit"],
                           check=False)
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def server_timings(self, big_lecture_id: int) -> dict[str, list[float]]:
        """duration_ms of each request, per action, from the instances' JSON request log."""
        timings: dict[str, list[float]] = defaultdict(list)
        for log in self.logs:
            for line in log.read_text(errors="replace").splitlines():
                if not line.startswith('{"ts"'):
                    continue
                entry = json.loads(line)
                action = classify(entry["method"], entry["path"], big_lecture_id)
                if action:
                    timings[action].append(entry["duration_ms"])
        return timings


# ---------------------------------------------------------------- simulated users

def classify(method: str, path: str, big_lecture_id: int) -> str | None:
    """The action a request belongs to, for the server-side figures."""
    if path.startswith("/api/import"):
        return "import"
    if path.startswith("/api/progress/clinic-links/"):
        return "clinic action"
    if path.startswith("/clinic"):
        return "clinic queue"
    if "/cell/activity" in path:
        return "cell edit"
    if path.endswith("/cell"):
        return "cell open"
    if re.fullmatch(r"/lectures/\d+/", path):
        return "grid view 300" if path == f"/lectures/{big_lecture_id}/" else "grid view 40"
    return None


@dataclass
class Recorder:
    """Latencies per action (ms) and errors, shared by all users."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, action: str, milliseconds: float, error: str | None) -> None:
        with self.lock:
            self.times[action].append(milliseconds)
            if error:
                self.errors[action].append(error)


class SimulatedUser(threading.Thread):
    def __init__(self, number: int, account: tuple[str, str, int | None, str], plan: Plan,
                 target: tuple[str, int], recorder: Recorder, stop_at: float, seed: int) -> None:
        super().__init__(daemon=True, name=f"user-{number}")
        self.username, self.role, self.lecture_id, self.token = account
        self.plan = plan
        self.target = target
        self.recorder = recorder
        self.stop_at = stop_at
        self.rng = random.Random(seed)
        self.cookie = ""
        self.csrf = ""
        self.connection = http.client.HTTPConnection(*target, timeout=30)
        self.lecture = next((lecture for lecture in plan.lectures if lecture.id == self.lecture_id), None)

    # -- HTTP
    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, http.client.HTTPResponse]:
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server had closed: reconnect once (not an error).
                self.connection.close()
                if attempt == 2:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, data, response

    def timed(self, action: str, expected: int, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> bytes:
        started = time.perf_counter()
        error = None
        data = b""
        try:
            status, data, _ = self.request(method, path, body, headers)
            if status != expected:
                error = f"{method} {path}: {status} {data[:200]!r}"
        except Exception as exc:  # a failed request is a measured error, not a crash of the run
            error = f"{method} {path}: {exc!r}"
        self.recorder.add(action, (time.perf_counter() - started) * 1000, error)
        return data

    def api(self, action: str, method: str, path: str, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.timed(action, 200, method, path, body,
                   {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})

    # -- session
    def sign_in(self) -> None:
        status, page, _ = self.request("GET", "/login")
        match = CSRF_FIELD.search(page.decode())
        if status != 200 or not match:
            raise RuntimeError(f"{self.username}: no login form ({status})")
        form = urlencode({"csrf_token": match.group(1) or match.group(2), "username": self.username,
                          "password": PASSWORD}).encode()
        status, _, _ = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"{self.username}: sign-in answered {status}")
        status, page, _ = self.request("GET", "/")
        match = CSRF_HEADER.search(page.decode())
        if status != 200 or not match:
            raise RuntimeError(f"{self.username}: no CSRF token on the home page ({status})")
        self.csrf = match.group(1)

    # -- actions
    def grid_view(self, lecture: LectureInfo) -> None:
        action = "grid view 40" if lecture.students <= 40 else "grid view 300"
        self.timed(action, 200, "GET", f"/lectures/{lecture.id}/")

    def cell_open_and_edit(self) -> None:
        assert self.lecture is not None
        enrollment, session = self.rng.choice(self.lecture.cells)
        query = f"enrollment={enrollment}&session={session}"
        htmx = {"HX-Request": "true", "X-CSRFToken": self.csrf}
        self.timed("cell open", 200, "GET", f"/lectures/{self.lecture.id}/cell?{query}", headers=htmx)
        self.think()
        form = urlencode({"activity-attendance": self.rng.choice(["online", "online", "offline"]),
                          "activity-video_rate": str(self.rng.choice([0, 40, 85, 90, 95, 100]))}).encode()
        self.timed("cell edit", 200, "POST", f"/lectures/{self.lecture.id}/cell/activity?{query}", form,
                   {**htmx, "Content-Type": "application/x-www-form-urlencoded"})

    def clinic_action(self) -> None:
        link = self.rng.choice(self.plan.links)
        verb = self.rng.choice(["approve", "resolve", "reopen"])
        self.api("clinic action", "POST", f"/api/progress/clinic-links/{link}/{verb}/", {})

    def clinic_queue(self) -> None:
        self.timed("clinic queue", 200, "GET", "/clinic/")

    def small_import(self) -> None:
        lecture = self.rng.choice(self.plan.lectures[1:])
        cells = self.rng.sample(lecture.cells, 5)
        self.api("import", "POST", "/api/import", {"activities": [
            {"enrollment_id": e, "session_id": s, "attendance": "online",
             "video_rate": self.rng.choice([50, 90, 100])} for e, s in cells]})

    def act(self) -> None:
        roll = self.rng.random()
        if self.role == "teacher":
            if roll < 0.35:
                self.grid_view(self.lecture)
            else:
                self.cell_open_and_edit()
        elif self.role == "staff":
            if roll < 0.6:
                self.clinic_action()
            elif roll < 0.8:
                self.clinic_queue()
            else:
                self.grid_view(self.rng.choice(self.plan.lectures[1:]))
        elif roll < 0.6:
            self.small_import()
        else:
            self.grid_view(self.rng.choice(self.plan.lectures))

    def think(self) -> None:
        time.sleep(self.rng.uniform(*THINK_SECONDS))

    def run(self) -> None:
        try:
            self.sign_in()
        except Exception as exc:
            self.recorder.add("sign in", 0.0, repr(exc))
            return
        self.think()
        while time.monotonic() < self.stop_at:
            self.act()
            self.think()
        self.connection.close()


# ---------------------------------------------------------------- report

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summarise(recorder: Recorder, seconds: float) -> list[dict]:
    rows = []
    for action in sorted(recorder.times):
        values = recorder.times[action]
        rows.append({
            "action": action, "count": len(values), "errors": len(recorder.errors.get(action, [])),
            "per_second": len(values) / seconds,
            "p50": statistics.median(values), "p95": percentile(values, 0.95), "p99": percentile(values, 0.99),
            "max": max(values),
        })
    return rows


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory_gib": f"{int(memory) / 1024 / 1024:.0f}",
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()), "python": platform.python_version()}


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(f"| action | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['action']} | {row['count']} | {row['errors']} | {row['per_second']:.2f} | {row['p50']:.0f} "
              f"| {row['p95']:.0f} | {row['p99']:.0f} | {row['max']:.0f} |")


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=150, help="seconds of load after sign-in (default 150)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--instances", type=int, default=2, help="gunicorn instances (default 2)")
    parser.add_argument("--workers", type=int, help="workers per instance (default: gunicorn.conf.py's)")
    parser.add_argument("--no-nginx", action="store_true", help="spread users over the instances directly")
    parser.add_argument("--url", help="use servers already running here (needs --database-url and --plan)")
    parser.add_argument("--database-url", help="with --url: the database those servers use, filled by this run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not 1 <= args.duration <= 900:
        parser.error("--duration must be between 1 and 900 seconds")
    _user_creation_signature_check()

    drop = None
    servers = None
    run_dir = Path(tempfile.mkdtemp(prefix="academy-load-"))
    try:
        if args.url:
            if not args.database_url:
                parser.error("--url needs --database-url (the database the running servers use, to fill it)")
            database_url = args.database_url
        else:
            from bench.common import postgres_database

            base = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
            database_url, drop = postgres_database(base)
            subprocess.run([str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "db", "upgrade"],
                           cwd=ROOT, check=True, env={**os.environ, "DATABASE_URL": database_url},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("filling the database ...", flush=True)
        started = time.perf_counter()
        plan = fill_database(database_url, args.users, args.seed)
        print(f"  {len(plan.lectures)} lectures, {len(plan.links)} clinic links, {len(plan.users)} users "
              f"in {time.perf_counter() - started:.0f} s", flush=True)
        if args.url:
            parts = urlsplit(args.url)
            targets = [(parts.hostname or "127.0.0.1", parts.port or 80)]
            description = args.url
        else:
            servers = Servers(database_url, args.instances, args.workers, not args.no_nginx, run_dir)
            targets = servers.targets
            description = (f"nginx :{servers.nginx_port} -> " if servers.nginx_port else "client-side round robin -> ")
            description += ", ".join(f"gunicorn :{port}" for port in servers.ports)
        print(f"serving: {description}", flush=True)

        info = machine()
        recorder = Recorder()
        # Sign-ins (scrypt) are spread over the first seconds, then the measured period runs.
        stop_at = time.monotonic() + 5 + args.duration
        users = [SimulatedUser(n, account, plan, targets[n % len(targets)], recorder, stop_at, args.seed * 1000 + n)
                 for n, account in enumerate(plan.users)]
        load_started = time.monotonic()
        for user in users:
            user.start()
            time.sleep(5 / len(users))
        for user in users:
            user.join(timeout=args.duration + 120)
        seconds = time.monotonic() - load_started
        rows = summarise(recorder, seconds)
        print_table(f"client side, {len(users)} users, {seconds:.0f} s ({description})", rows)
        server_rows = []
        if servers:
            servers.stop()
            timings = servers.server_timings(plan.lectures[0].id)
            server_rows = [{"action": action, "count": len(values), "errors": 0, "per_second": len(values) / seconds,
                            "p50": statistics.median(values), "p95": percentile(values, 0.95),
                            "p99": percentile(values, 0.99), "max": max(values)}
                           for action, values in sorted(timings.items())]
            print_table("server side (duration_ms of the request log)", server_rows)
        total = sum(row["count"] for row in rows)
        errors = {action: messages[:5] for action, messages in recorder.errors.items()}
        print(f"\n{total} requests, {total / seconds:.1f} req/s, {sum(map(len, recorder.errors.values()))} errors")
        for action, messages in errors.items():
            print(f"  {action}: {messages}")
        print(f"machine: {info}")
        if args.json:
            args.json.write_text(json.dumps({"machine": info, "seconds": seconds, "users": len(users),
                                             "serving": description, "client": rows, "server": server_rows,
                                             "errors": errors}, indent=2))
    finally:
        if servers:
            servers.stop()
        if drop:
            drop()
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

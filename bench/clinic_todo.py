"""Benchmark: the clinic to-do list by student over a lecture of 300 students and 40 sessions
(~10 000+ open clinic links; target: <= 150 ms server time and <= 300 KB of HTML per page).

    python bench/clinic_todo.py                      # SQLite (temporary file) and PostgreSQL
    python bench/clinic_todo.py --only sqlite
    BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python bench/clinic_todo.py

A script, not a test: it times whole GET requests of /clinic/students/ through the test client
(a staff member signed in, so every action control is on the page; the lecture already fresh),
wall time and this process's CPU time (on a shared, busy machine the CPU time is the steadier figure;
on SQLite it includes the database's work, on PostgreSQL not),
for the first page, the first page filtered to the lecture, and the last page; and separately the
read alone (dashboard.clinic.todo.load_todo). It prints the number of open links, the rows a staff
member reads (one per student instead of one per link), the page's size and its statements.
Figures go in docs/performance.md, "Clinic to-do list".
"""
from __future__ import annotations

import gzip
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, select  # noqa: E402

from bench.common import (  # noqa: E402
    analyze_on_postgresql,
    bench_app,
    run_from_command_line,
    signed_in_client,
    timed_reads,
)
from dashboard.clinic.todo import PAGE_SIZE, TodoFilters, load_todo  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from dashboard.models import ClinicLink, User  # noqa: E402
from dashboard.progress.recompute import recompute_lecture  # noqa: E402
from dashboard.synthetic import build_lecture  # noqa: E402

STUDENTS, SESSIONS = 300, 40


def run(url: str, label: str, repeats: int) -> None:
    with bench_app(url) as app:
        staff = User(username="bench-staff", password_hash="!", role="staff", is_active=True)
        db.session.add(staff)
        db.session.flush()
        lecture_id = build_lecture(STUDENTS, SESSIONS, 2, 1, seed=STUDENTS)
        recompute_lecture(lecture_id)
        analyze_on_postgresql()
        open_links = db.session.execute(select(func.count()).select_from(ClinicLink)
                                        .where(ClinicLink.resolved_at.is_(None))).scalar_one()
        students = db.session.execute(select(func.count(func.distinct(ClinicLink.enrollment_id)))
                                      .where(ClinicLink.resolved_at.is_(None))).scalar_one()
        print(f"[{label}] {STUDENTS} x {SESSIONS}: {open_links} open links for {students} students "
              f"(the queue's rows before grouping: {open_links}; after: {students})")
        statements: list[int] = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(1))
        client = signed_in_client(app, staff)
        last_page = -(-students // PAGE_SIZE)
        for name, path in (("first page", "/clinic/students/"),
                           ("lecture filter", f"/clinic/students/?lecture={lecture_id}"),
                           ("last page", f"/clinic/students/?page={last_page}")):
            client.get(path)  # warm up: templates compiled, connections open
            times, cpu, sizes = [], [], []
            for _ in range(repeats):
                statements.clear()
                start, start_cpu = time.perf_counter(), time.process_time()
                response = client.get(path)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
                assert response.status_code == 200, response.status_code
                sizes.append(len(response.data))
            count = len(statements)
            zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
            html = gzip.decompress(zipped.data) if zipped.headers.get("Content-Encoding") == "gzip" else zipped.data
            groups = html.count(b"data-clinic-student=")
            rows = html.count(b"<tr data-link-id=")
            print(f"[{label}] {name}: median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms (this process's CPU: best {min(cpu) * 1000:.0f} ms); "
                  f"{sizes[-1] / 1024:.0f} KiB HTML ({len(zipped.data) / 1024:.0f} KiB "
                  f"gzipped); {groups} students, {rows} link rows; {count} statements")
        read_times, _page = timed_reads(repeats, lambda: load_todo(TodoFilters(), None), statements)
        print(f"[{label}] read alone (load_todo): median {statistics.median(read_times) * 1000:.0f} ms, "
              f"best {min(read_times) * 1000:.0f} ms, {len(statements)} statements")


def main() -> None:
    run_from_command_line(__doc__, run, repeats=10)


if __name__ == "__main__":
    main()

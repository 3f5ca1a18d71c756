"""Benchmark: whole-lecture and single-cell recompute on a 300-student x 40-session lecture.

    python bench/recompute.py                      # SQLite (temporary file) and PostgreSQL
    python bench/recompute.py --only sqlite
    BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python bench/recompute.py
    python bench/recompute.py --code /tmp/old     # the same cases on another checkout's dashboard/

A script, not a test: it prints, per case, the best and the median time over the repeats and the
statement count (figures go in docs/performance.md); on a shared machine the best is the figure
to compare. Each PostgreSQL run uses a fresh database it creates and drops. With `--code`, the
dashboard package is imported from that directory (an export of an older commit), so the same
script measures the code before and after a change, one run after the other.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if "--code" in sys.argv:  # before anything imports dashboard
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--code") + 1]).resolve()))

from flask import current_app  # noqa: E402
from sqlalchemy import event, select, text, update  # noqa: E402

from dashboard.extensions import db  # noqa: E402
from dashboard.models import Activity, Enrollment, LectureSession, ProgressPolicy  # noqa: E402
from dashboard.progress.recompute import (  # noqa: E402
    Scope,
    lock_lecture,
    recompute,
    recompute_lecture,
)

try:  # code older than the day's work (--code) brought a stale lecture up to date whole
    from dashboard.progress.recompute import recompute_day  # noqa: E402
except ImportError:
    recompute_day = recompute_lecture
from dashboard.synthetic import TODAY, build_lecture  # noqa: E402

from bench.common import Statements, bench_app, machine_speed, on_each_database  # noqa: E402


class Measure(NamedTuple):
    wall: float  # seconds on the clock
    cpu: float  # seconds of CPU: this process, plus the PostgreSQL backend that served it


def figures(times: list[Measure], digits: int = 0) -> str:
    """Best and median of the repeats, in milliseconds, on the clock and in CPU time. On a machine
    shared with other work the clock counts the time spent waiting for a core; CPU time does not."""
    walls, cpus = [m.wall for m in times], [m.cpu for m in times]
    return (f"best {min(walls) * 1000:.{digits}f} ms (median {statistics.median(walls) * 1000:.{digits}f}, "
            f"of {len(times)}), CPU best {min(cpus) * 1000:.0f} ms")


def _server_cpu() -> float:
    """CPU seconds the session's PostgreSQL backend has used (the server runs on this machine); 0 on SQLite."""
    if db.session.get_bind().dialect.name != "postgresql":
        return 0.0
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def timed(fn, engine):
    server_before = _server_cpu()
    counter = Statements()
    event.listen(engine, "before_cursor_execute", counter)
    start, cpu = time.perf_counter(), time.process_time()
    try:
        result = fn()
        db.session.flush()
    finally:
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        event.remove(engine, "before_cursor_execute", counter)
    return Measure(elapsed, cpu + _server_cpu() - server_before), counter.count, result


def run(url: str, label: str, students: int, sessions: int, repeats: int, whole_daily: bool = True) -> None:
    with bench_app(url):
        engine = db.engine
        # The first recompute of a freshly loaded lecture writes every row: measured on several
        # lectures built alike (seeds differ), the last of which the cases below reuse.
        times = []
        for seed in range(7, 7 + repeats):
            start = time.perf_counter()
            lecture_id = build_lecture(students, sessions, 2, 1, seed=seed)
            db.session.commit()
            if seed == 7:
                print(f"[{label}] built {students} students x {sessions} sessions (2 exams, 1 homework each) "
                      f"in {time.perf_counter() - start:.1f} s")
            seconds, statements, rows = timed(lambda: recompute_lecture(lecture_id), engine)
            db.session.commit()
            times.append(seconds)
        print(f"[{label}] whole lecture, first recompute: {figures(times)}, {statements} statements, "
              f"{rows} session rows")

        if engine.dialect.name == "postgresql":
            # The cases below are a live database's: by then autovacuum has analysed the freshly
            # loaded tables. Without statistics the planner joins a single cell's attempts to
            # every answer fact in the database (a hash join, ~15 ms instead of 0.1 ms).
            db.session.execute(text("ANALYZE"))
            db.session.commit()

        def whole():
            return recompute_lecture(lecture_id)
        times = []
        for _ in range(repeats):
            seconds, statements, rows = timed(whole, engine)
            db.session.commit()
            times.append(seconds)
        print(f"[{label}] whole lecture, nothing changed: {figures(times)}, {statements} statements")

        times = []
        for i in range(repeats):
            rate = 80 + i % 20

            def policy_edit():
                db.session.execute(update(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture_id)
                                   .values(video_required_rate=rate))
                return recompute_lecture(lecture_id)

            seconds, statements, rows = timed(policy_edit, engine)
            db.session.commit()
            times.append(seconds)
        print(f"[{label}] policy edit + whole lecture: {figures(times)}, {statements} statements")

        enrollment_ids = db.session.execute(
            select(Enrollment.id).where(Enrollment.lecture_id == lecture_id).order_by(Enrollment.id)
        ).scalars().all()
        session_ids = db.session.execute(
            select(LectureSession.id).where(LectureSession.lecture_id == lecture_id, LectureSession.order <= 30)
            .order_by(LectureSession.order)
        ).scalars().all()
        times, counts = [], []
        for i in range(repeats * 5):
            enrollment_id = enrollment_ids[(i * 37) % len(enrollment_ids)]
            session_id = session_ids[(i * 11) % len(session_ids)]

            def cell_edit():
                lock_lecture(lecture_id)
                db.session.execute(
                    update(Activity).where(Activity.enrollment_id == enrollment_id, Activity.session_id == session_id)
                    .values(video_rate=(i * 17) % 101)
                )
                return recompute(Scope(lecture_id, frozenset({enrollment_id}), frozenset({session_id})))

            seconds, statements, rows = timed(cell_edit, engine)
            db.session.commit()
            times.append(seconds)
            counts.append(statements - 2)  # minus the lock and the input edit themselves
        print(f"[{label}] single cell edit (lock + input write + recompute): {figures(times, 1)}; "
              f"recompute statements min {min(counts)} max {max(counts)}")

        run_daily(label, lecture_id, repeats, engine, whole_daily)


def run_daily(label: str, lecture_id: int, repeats: int, engine, whole_daily: bool) -> None:
    """The daily run when 0, 1 or every session becomes held overnight: the day's work
    (`recompute_day`, what a read or the scheduler does) and, unless `whole_daily` is off, the
    whole-lecture recompute of the same day beside it. Each repetition starts from the lecture
    fully recomputed the day before."""
    app = current_app
    session_ids = db.session.execute(
        select(LectureSession.id).where(LectureSession.lecture_id == lecture_id).order_by(LectureSession.order)
    ).scalars().all()
    eve = TODAY + timedelta(days=400)
    day = eve + timedelta(days=1)
    for newly_held in (0, 1, len(session_ids)):
        # The other sessions are long due (held and due on both days): only the newly held change.
        old = len(session_ids) - newly_held
        for index, session_id in enumerate(session_ids):
            db.session.execute(update(LectureSession).where(LectureSession.id == session_id)
                               .values(date=TODAY if index < old else day))
        db.session.commit()
        cases = (("whole lecture", recompute_lecture),) if whole_daily else ()
        for name, work in cases + (("day's work", recompute_day),):
            times = []
            for _ in range(repeats):
                app.config["DASHBOARD_TODAY"] = eve.isoformat()
                recompute_lecture(lecture_id)  # the eve, fully: the newly held rows are not there
                db.session.commit()
                app.config["DASHBOARD_TODAY"] = day.isoformat()
                seconds, statements, rows = timed(lambda: work(lecture_id), engine)
                db.session.commit()
                times.append(seconds)
            print(f"[{label}] daily run, {newly_held} newly held sessions, {name}: {figures(times, 1)}, "
                  f"{statements} statements, {rows} session rows")
    app.config["DASHBOARD_TODAY"] = TODAY.isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--code", help="import dashboard/ from this directory instead (read before parsing)")
    parser.add_argument("--no-whole-daily", action="store_true",
                        help="time only the day's work in the daily-run case, not the whole lecture beside it")
    args = parser.parse_args()
    print(f"machine: 10M-iteration Python loop in {min(machine_speed() for _ in range(3)):.2f} s (best of 3)")
    on_each_database(args.only, run, args.students, args.sessions, args.repeats, not args.no_whole_daily)


if __name__ == "__main__":
    main()

"""Benchmark: the roll-call / column-entry page of one session of a 300-student lecture — the
statements a whole column's save costs, and the server render time of the page.

    python bench/entry.py                      # SQLite (temporary file) and PostgreSQL
    python bench/entry.py --only sqlite
    BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python bench/entry.py

A script, not a test: dashboard.synthetic.build_lecture(300 students, 40 sessions, 2 exams and 1
homework per session); the save changes every student's presence, video, both scores and the
homework of the latest held session (lectures.entry.save_column, what the page and the API call),
then the page is timed through the test client (an admin signed in). Figures go in
docs/performance.md, "Column entry".
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, select  # noqa: E402

from bench.common import analyze_on_postgresql, bench_app, run_from_command_line, signed_in_client  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from dashboard.lectures import entry  # noqa: E402
from dashboard.models import Enrollment, ExamSession, Homework, LectureSession, User  # noqa: E402
from dashboard.progress.recompute import recompute_lecture  # noqa: E402
from dashboard.synthetic import TODAY, build_lecture  # noqa: E402

PRESENCES = ("present", "late", "absent", "excused")


def run(url: str, label: str, repeats: int) -> None:
    with bench_app(url) as app:
        admin = User(username="bench-admin", password_hash="!", role="admin", is_active=True)
        db.session.add(admin)
        db.session.flush()
        lecture_id = build_lecture(300, 40, 2, 1, seed=300)
        recompute_lecture(lecture_id)
        analyze_on_postgresql()
        session_id = db.session.execute(select(LectureSession.id).where(
            LectureSession.lecture_id == lecture_id, LectureSession.date <= TODAY)
            .order_by(LectureSession.order.desc())).scalars().first()
        enrollments = db.session.execute(select(Enrollment.id).where(Enrollment.lecture_id == lecture_id)).scalars().all()
        exams = db.session.execute(select(ExamSession.exam_id).where(ExamSession.session_id == session_id)).scalars().all()
        homeworks = db.session.execute(select(Homework.id).where(Homework.session_id == session_id)).scalars().all()
        body = {"rows": [
            {"enrollment_id": e, "presence": PRESENCES[e % 4], "video_rate": (e * 7) % 101,
             "scores": {str(x): (e * 13) % 100 + 0.5 for x in exams},
             "homework": {str(h): {"submitted": True, "score": e % 90, "approved": e % 2 == 0} for h in homeworks}}
            for e in enrollments]}
        statements = []
        listener = lambda *args: statements.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        start = time.perf_counter()
        session = entry.writable_session(admin, lecture_id, session_id)
        result = entry.save_column(admin, session, body)
        db.session.commit()
        seconds = time.perf_counter() - start
        print(f"[{label}] save of a 300-student column: {len(statements)} statements, {seconds * 1000:.0f} ms, "
              f"{result.recomputed} session rows recomputed, {len(result.changed)} grid words changed")
        event.remove(db.engine, "before_cursor_execute", listener)
        client = signed_in_client(app, admin)
        page = f"/lectures/{lecture_id}/sessions/{session_id}/entry"
        client.get(page)  # warm up
        times, size = [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            response = client.get(page)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200
            size = len(response.data)
        print(f"[{label}] entry page, 300 students x (roll call, video, {len(exams)} scores, {len(homeworks)} "
              f"homework): median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, "
              f"{size / 1024:.0f} KiB")


def main() -> None:
    run_from_command_line(__doc__, run, repeats=7)


if __name__ == "__main__":
    main()

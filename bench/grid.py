"""Benchmark: server render time of the lecture grid at 40 x 40 and 300 x 40 (target <= 150 ms).

    python bench/grid.py                      # SQLite (temporary file) and PostgreSQL
    python bench/grid.py --only sqlite
    BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python bench/grid.py

A script, not a test: it times whole GET requests of the grid page through the test client (an
admin signed in; the lecture already fresh, as on every request after the first of the day), and
separately the read queries alone (dashboard.lectures.grid.load_grid). Figures go in docs/performance.md,
"Grid render". Each PostgreSQL run uses a fresh database it creates and drops.
"""
from __future__ import annotations

import gzip
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from bench.common import (  # noqa: E402
    analyze_on_postgresql,
    bench_app,
    run_from_command_line,
    signed_in_client,
    timed_reads,
)
from dashboard.lectures import grid  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from dashboard.models import User  # noqa: E402
from dashboard.progress.recompute import recompute_lecture  # noqa: E402
from dashboard.synthetic import build_lecture  # noqa: E402

SIZES = ((40, 40), (300, 40))


def run(url: str, label: str, repeats: int) -> None:
    with bench_app(url) as app:
        admin = User(username="bench-admin", password_hash="!", role="admin", is_active=True)
        db.session.add(admin)
        db.session.flush()
        lectures = {}
        for students, sessions in SIZES:
            lecture_id = build_lecture(students, sessions, 2, 1, seed=students)
            recompute_lecture(lecture_id)
            lectures[(students, sessions)] = lecture_id
        analyze_on_postgresql()
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(1))
        for (students, sessions), lecture_id in lectures.items():
            client = signed_in_client(app, admin)
            client.get(f"/lectures/{lecture_id}/")  # warm up: templates compiled, connections open
            page_times, sizes = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                response = client.get(f"/lectures/{lecture_id}/")
                page_times.append(time.perf_counter() - start)
                assert response.status_code == 200
                sizes.append(len(response.data))
            # The same page as a browser gets it: gzipped by the app (dashboard/web/compression.py).
            zipped_times, zipped_sizes = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                response = client.get(f"/lectures/{lecture_id}/", headers={"Accept-Encoding": "gzip"})
                zipped_times.append(time.perf_counter() - start)
                assert response.headers.get("Content-Encoding") == "gzip"
                zipped_sizes.append(len(response.data))
            html = gzip.decompress(response.data)
            levels = []
            for level in (1, 5, 6, 9):
                start = time.perf_counter()
                size = len(gzip.compress(html, compresslevel=level, mtime=0))
                levels.append(f"level {level}: {size / 1024:.0f} KiB in {(time.perf_counter() - start) * 1000:.0f} ms")
            print(f"[{label}] {students} x {sessions} gzipped: page median "
                  f"{statistics.median(zipped_times) * 1000:.0f} ms, {zipped_sizes[-1] / 1024:.0f} KiB on the wire "
                  f"(from {sizes[-1] / 1024:.0f} KiB, {zipped_sizes[-1] / sizes[-1]:.1%}); {'; '.join(levels)}")
            query_times, loaded = timed_reads(repeats, lambda: grid.load_grid(lecture_id), statements)
            cells = sum(len(row.cells) for row in loaded.rows)
            print(f"[{label}] {students} x {sessions} ({cells} cells): page median "
                  f"{statistics.median(page_times) * 1000:.0f} ms, max {max(page_times) * 1000:.0f} ms, "
                  f"{sizes[-1] / 1024:.0f} KiB; read queries alone median "
                  f"{statistics.median(query_times) * 1000:.0f} ms in {len(statements)} statements")


def main() -> None:
    run_from_command_line(__doc__, run, repeats=15)


if __name__ == "__main__":
    main()

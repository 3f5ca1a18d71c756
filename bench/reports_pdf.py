"""Benchmark: a whole lecture's monthly reports as one PDF (300 short reports).

    python bench/reports_pdf.py                  # SQLite (temporary file)
    python bench/reports_pdf.py --only postgresql
    python bench/reports_pdf.py --students 300 --repeats 3

A script, not a test. A synthetic lecture (dashboard.synthetic.build_lecture: weekly sessions
around 2026-04-01, one exam and one homework per session) is built and recomputed; then the
lecture PDF of March (about four sessions per report) is requested through the test client as an
admin, and separately its three parts are timed: reading the figures
(dashboard.reports.figures.load_reports), rendering the HTML, and WeasyPrint's layout and PDF;
then the same PDF queued as a batch and made as `flask --app wsgi render-reports` makes it.
Figures go in docs/performance.md, "Report PDFs".
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import render_template
from sqlalchemy import event

from bench.common import bench_app, machine_speed, on_each_database, signed_in_client
from dashboard.extensions import db
from dashboard.models import User
from dashboard.progress.recompute import recompute_lecture
from dashboard.reports import batches, pdf
from dashboard.reports.figures import Month, load_reports
from dashboard.synthetic import TODAY, build_lecture

MONTH = Month(2026, 3)


def run(url: str, label: str, students: int, repeats: int) -> None:
    from pypdf import PdfReader

    with bench_app(url) as app:
        admin = User(username="bench-admin", password_hash="!", role="admin", is_active=True)
        db.session.add(admin)
        db.session.flush()
        lecture_id = build_lecture(students, 8, 1, 1, seed=students)
        recompute_lecture(lecture_id)
        db.session.commit()
        client = signed_in_client(app, admin)
        path = f"/reports/lectures/{lecture_id}.pdf?month={MONTH}"
        app.config["REPORT_PDF_SYNC_LIMIT"] = students  # time the request path even for a large class
        totals, body = [], b""
        for _ in range(repeats):
            start = time.perf_counter()
            response = client.get(path)
            totals.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
            body = response.data
        pages = len(PdfReader(io.BytesIO(body)).pages)

        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(1))
        with app.test_request_context(path):
            start = time.perf_counter()
            reports = load_reports(lecture_id, MONTH, TODAY)
            read = time.perf_counter() - start
            start = time.perf_counter()
            html = render_template("reports/document.html", reports=reports, for_pdf=True)
            rendered = time.perf_counter() - start
            start = time.perf_counter()
            pdf.render_pdf(html, Path(app.static_folder) / "report.css")
            made = time.perf_counter() - start
        db.session.rollback()
        batches.request_batch(admin, lecture_id, str(MONTH), "ko")  # the worker's path (render-reports)
        db.session.commit()
        start = time.perf_counter()
        made_by_worker = batches.run_due()
        worker = time.perf_counter() - start
        assert made_by_worker.made == 1, made_by_worker.problems
        sessions = statistics.mean(len(r.sessions) for r in reports)
        print(f"[{label}] {students} reports ({sessions:.1f} sessions, {len(reports[0].exams)} exams each), "
              f"{pages} pages, {len(body) / 1024:.0f} KiB: whole request median {statistics.median(totals):.1f} s "
              f"(min {min(totals):.1f}, max {max(totals):.1f}); figures {read * 1000:.0f} ms in "
              f"{len(statements)} statements, HTML {rendered * 1000:.0f} ms, WeasyPrint {made:.1f} s; "
              f"the same as a batch made by render-reports {worker:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    print(f"machine speed: {machine_speed():.2f} s for the reference loop")
    on_each_database(args.only, run, args.students, args.repeats)


if __name__ == "__main__":
    main()

"""A large lecture's reports as one PDF, made by `flask --app wsgi render-reports` rather than in the
request (SPEC §15's "it may take seconds", for classes of hundreds).

The academy is tests/factories.build_academy: Algebra II has three active students (Kim Minji, Lee
Jisoo, Park_100%) and a withdrawn one. With REPORT_PDF_SYNC_LIMIT at 2, three students are "large".
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dashboard.clock import now
from dashboard.extensions import db
from dashboard.models import ReportBatch, User
from dashboard.reports import batches
from tests.factories import build_academy
from tests.parallel import at_once

from .pages import HTMX, csrf_token, sign_in
from .test_report_pages import pdf_text


@pytest.fixture
def academy(app):
    app.config["REPORT_PDF_SYNC_LIMIT"] = 2
    built = build_academy()
    db.session.commit()
    return built


def batch_url(academy, month="2026-03") -> str:
    return f"/reports/lectures/{academy.algebra.id}/pdf-batch?month={month}"


def ask(client, academy, headers=None):
    token = csrf_token(client, "/")
    return client.post(f"/reports/lectures/{academy.algebra.id}/pdf-batch",
                       data={"month": "2026-03"}, headers={"X-CSRFToken": token, **(headers or {})})


def stored() -> list[tuple[str, int | None]]:
    db.session.expire_all()
    return [(b.state, b.reports) for b in db.session.execute(select(ReportBatch).order_by(ReportBatch.id)).scalars()]


def test_a_large_lectures_pdf_link_leads_to_the_batch_page_and_a_small_one_stays_direct(client, academy):
    """The page links a class over the limit to the batch page; SPEC §15's address itself still
    answers the PDF in the request, whatever the size (scripts and clients rely on it)."""
    sign_in(client, academy.users["teacher_a"])

    page = client.get(f"/reports/{academy.minji.id}?month=2026-03").get_data(as_text=True)
    assert f'href="{batch_url(academy)}"' in page.replace("&amp;", "&")
    assert "data-lecture-pdf" not in page
    direct = client.get(f"/reports/lectures/{academy.algebra.id}.pdf?month=2026-03")
    assert direct.status_code == 200 and direct.mimetype == "application/pdf"

    client.application.config["REPORT_PDF_SYNC_LIMIT"] = 3
    page = client.get(f"/reports/{academy.minji.id}?month=2026-03").get_data(as_text=True)
    assert "data-lecture-pdf" in page and batch_url(academy) not in page.replace("&amp;", "&")
    assert stored() == []


def test_the_worker_makes_the_pdf_with_a_page_per_student_and_the_panel_offers_it(client, runner, academy):
    sign_in(client, academy.users["teacher_a"])
    html = client.get(batch_url(academy)).get_data(as_text=True)
    assert 'data-state="none"' in html and "Prepare the PDF" in html

    asked = ask(client, academy)
    assert asked.status_code == 303
    assert stored() == [("queued", None)]
    waiting = client.get(batch_url(academy), headers=HTMX).get_data(as_text=True)
    assert waiting.lstrip().startswith('<section class="card" id="report-batch"')  # the panel alone, for htmx
    assert 'data-state="queued"' in waiting and 'hx-trigger="every 3s"' in waiting

    result = runner.invoke(args=["render-reports"])
    assert result.exit_code == 0, result.output
    assert "made 1, failed 0" in result.output
    assert stored() == [("done", 3)]

    done = client.get(batch_url(academy), headers=HTMX).get_data(as_text=True)
    assert 'data-state="done"' in done and "hx-trigger" not in done  # polling stops
    batch_id = db.session.execute(select(ReportBatch.id)).scalar_one()
    assert f'href="/reports/batches/{batch_id}.pdf"' in done
    download = client.get(f"/reports/batches/{batch_id}.pdf")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    pages, text = pdf_text(download.data)
    assert pages == 3
    assert all(name in text for name in ("Kim Minji", "Lee Jisoo", "Park_100%")) and "Choi Yuna" not in text

    assert runner.invoke(args=["render-reports"]).output.startswith("made 0")  # nothing left to make


def test_asking_again_while_one_is_queued_or_running_joins_it(client, academy):
    sign_in(client, academy.users["teacher_a"])
    ask(client, academy)
    ask(client, academy, headers=HTMX)
    assert stored() == [("queued", None)]

    db.session.execute(ReportBatch.__table__.update().values(state="running", started_at=now()))
    db.session.commit()
    again = ask(client, academy, headers=HTMX)
    assert again.status_code == 202 and 'data-state="running"' in again.get_data(as_text=True)
    assert stored() == [("running", None)]

    db.session.execute(ReportBatch.__table__.update().values(state="done", reports=3))
    db.session.commit()
    ask(client, academy)  # a finished one is made again with today's figures
    assert stored() == [("done", 3), ("queued", None)]


def test_parallel_requests_queue_one_batch(app, backend, academy):
    if backend != "postgresql":
        pytest.skip("parallel writers are what this tests; SQLite serialises the whole file")
    teacher_id, lecture_id = academy.users["teacher_a"].id, academy.algebra.id

    def ask_for_it() -> bool:
        created = batches.request_batch(db.session.get(User, teacher_id), lecture_id, "2026-03", "ko")[1]
        db.session.commit()
        return created

    assert sorted(at_once(app, ask_for_it, 4)) == [False, False, False, True]
    assert db.session.execute(select(func.count()).select_from(ReportBatch)).scalar_one() == 1


def test_a_stopped_worker_is_made_again_and_a_failure_is_kept_on_the_batch(client, academy):
    sign_in(client, academy.users["admin"])
    ask(client, academy)
    db.session.execute(ReportBatch.__table__.update().values(
        state="running", attempts=1, started_at=now() - batches.STALE_AFTER - timedelta(minutes=1)))
    db.session.commit()

    def broken(batch):
        raise RuntimeError("layout exploded")

    run = batches.run_due(broken)
    assert (run.requeued, run.failed, run.made) == (1, 1, 0)
    assert stored() == [("failed", None)]
    batch = db.session.execute(select(ReportBatch)).scalar_one()
    assert batch.attempts == 2 and "layout exploded" in batch.error
    html = client.get(batch_url(academy)).get_data(as_text=True)
    assert 'data-state="failed"' in html and "could not be made" in html and "exploded" not in html
    assert client.get(f"/reports/batches/{batch.id}.pdf").status_code == 404


def test_roles(client, academy):
    sign_in(client, academy.users["teacher_b"])  # Geometry's teacher
    assert client.get(batch_url(academy)).status_code == 404
    assert ask(client, academy).status_code == 404
    assert stored() == []

    sign_in(client, academy.users["staff"])  # staff read every lecture's reports
    assert ask(client, academy).status_code == 303
    batch_id = db.session.execute(select(ReportBatch.id)).scalar_one()
    db.session.execute(ReportBatch.__table__.update().values(state="done", reports=3, pdf=b"%PDF-1.7 test"))
    db.session.commit()
    assert client.get(f"/reports/batches/{batch_id}.pdf").data == b"%PDF-1.7 test"

    without_csrf = client.post(f"/reports/lectures/{academy.algebra.id}/pdf-batch", data={"month": "2026-03"})
    assert without_csrf.status_code == 400
    sign_in(client, academy.users["teacher_b"])
    assert client.get(f"/reports/batches/{batch_id}.pdf").status_code == 404
    anonymous = client.application.test_client()
    assert anonymous.get(f"/reports/batches/{batch_id}.pdf").status_code == 302

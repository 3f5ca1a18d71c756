"""Monthly reports in real Chromium (SPEC §15): a demo student's March report printed to PDF by the
browser and downloaded from the server, both carrying the student's name and scores; a parent
link created and copied on the page, opened signed out, and refused once revoked."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard.demo import DEMO_PASSWORD, create_demo
from dashboard.extensions import db
from dashboard.reports.figures import Month, load_reports
from dashboard.web.ui import plain_number

from .conftest import shot, sign_in

MARCH = Month(2026, 3)


@pytest.fixture
def demo_student(filled):
    """The demo academy, and a student of its first lecture (the demo teacher's) with March exam scores."""
    create_demo()
    db.session.commit()
    reports = load_reports(1, MARCH, date(2026, 4, 1))
    db.session.commit()
    with_scores = [r for r in reports if any(e.score is not None for e in r.exams)]
    assert with_scores, "the demo's first lecture has March exams with scores"
    return with_scores[0]


def pdf_text(body: bytes) -> tuple[int, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(body))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_the_browsers_printout_and_the_servers_pdf_carry_the_name_and_scores(page, live_url, demo_student):
    report = demo_student
    scores = [plain_number(e.score) for e in report.exams if e.score is not None]
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "teacher", DEMO_PASSWORD)
    page.goto(live_url + f"/reports/{report.enrollment_id}?month=2026-03")
    root = page.locator(f'[data-report-enrollment="{report.enrollment_id}"][data-report-month="2026-03"]')
    expect(root).to_be_visible()
    expect(root).to_contain_text(report.student_name)
    shot(page, "report-en")

    printed = page.pdf(format="A4")
    pages, text = pdf_text(printed)
    assert len(report.sessions) <= 12 and pages == 1  # one A4 page
    assert report.student_name in text and all(score in text for score in scores)
    assert "Sign out" not in text and "Save comment" not in text  # no navigation, no form

    downloaded = page.request.get(live_url + f"/reports/{report.enrollment_id}.pdf?month=2026-03")
    assert downloaded.ok and downloaded.headers["content-type"] == "application/pdf"
    pages, text = pdf_text(downloaded.body())
    assert pages == 1 and report.student_name in text and all(score in text for score in scores)


def test_the_whole_lecture_pdf_downloads_with_a_busy_state(page, live_url, demo_student):
    sign_in(page, live_url, "teacher", DEMO_PASSWORD)
    page.goto(live_url + f"/reports/{demo_student.enrollment_id}?month=2026-03")
    link = page.locator("[data-lecture-pdf]")
    with page.expect_download() as download_info:
        link.click()
        expect(page.locator(".report-busy")).to_contain_text("few seconds")
    body = Path(download_info.value.path()).read_bytes()
    pages, text = pdf_text(body)
    assert pages >= 2 and demo_student.student_name in text
    expect(link).not_to_have_attribute("aria-busy", "true")
    expect(page.locator(".report-busy")).to_be_empty()


def test_a_parent_link_opens_signed_out_and_fails_once_revoked(browser, page, live_url, demo_student):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    sign_in(page, live_url, "teacher", DEMO_PASSWORD)
    page.goto(live_url + f"/reports/{demo_student.enrollment_id}?month=2026-03")
    page.get_by_role("button", name="Create parent link").click()
    url_field = page.locator("#new-link-url")
    expect(url_field).to_be_visible()
    url = url_field.input_value()
    assert url.startswith(live_url + "/reports/shared/")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == url
    expect(page.locator("tr[data-link]")).to_have_count(1)

    parent = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})  # a parent's phone
    try:
        visit = parent.new_page()
        response = visit.goto(url)
        assert response.status == 200
        expect(visit.locator("[data-report-enrollment]")).to_contain_text(demo_student.student_name)
        expect(visit.locator("[data-report-enrollment]")).to_contain_text("월간 보고서")
        expect(visit.locator("nav, .report-side, form")).to_have_count(0)
        assert visit.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        shot(visit, "report-parent-ko-390")

        page.locator("tr[data-link]").get_by_role("button", name="Revoke").click()
        expect(page.locator("tr[data-link]")).to_have_count(0)
        assert visit.goto(url).status == 404
    finally:
        parent.close()


def test_a_large_lectures_pdf_is_asked_for_waited_for_and_downloaded(page, live_url, demo_student, filled):
    """A class over the direct limit: the page queues the PDF, polls while the worker makes it, and
    offers the download without a reload."""
    from dashboard.reports import batches

    filled.config["REPORT_PDF_SYNC_LIMIT"] = 1
    try:
        sign_in(page, live_url, "teacher", DEMO_PASSWORD)
        page.goto(live_url + f"/reports/{demo_student.enrollment_id}?month=2026-03")
        page.get_by_role("link", name="Whole lecture as one PDF").click()
        panel = page.locator("#report-batch")
        expect(panel).to_have_attribute("data-state", "none")
        page.get_by_role("button", name="Prepare the PDF").click()
        expect(panel).to_have_attribute("data-state", "queued")

        assert batches.run_due().made == 1  # what `flask --app wsgi render-reports` does
        expect(panel).to_have_attribute("data-state", "done", timeout=15_000)  # the panel polled
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download the PDF").click()
        pages, text = pdf_text(Path(download_info.value.path()).read_bytes())
        assert pages >= 2 and demo_student.student_name in text
    finally:
        filled.config["REPORT_PDF_SYNC_LIMIT"] = batches.DEFAULT_SYNC_LIMIT

"""End to end in real Chromium: the OMR review queue. Staff correct a flagged answer and see the
score and the navigation's count change in place; a teacher finds the student of a sheet whose
identifier could not be read, by typing part of the name, and assigns it.

Academy: tests/web/factories.build_academy (today 2026-04-01) with a key on the quiz (Algebra
II, week 2, max 100): 1:"1", 2:"2", 3:"3", 4:"24", 25 points each. Two scans, worked by hand
(as in tests/web/test_omr_pages.py):
- Park_100%'s sheet, question 2 read "2" at confidence 0.61 (< 0.70): flagged, wrong: 75.
  Corrected to "2" it is right: 100, and the scan leaves the queue.
- A sheet with a blank identifier box and every answer right: waits for its student; assigned to
  Kim Minji it becomes her attempt 2 with 100 (her manual attempt 1 scored 72.5).
Both need review at first: the count is 2.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Attempt

from tests.factories import ALL_RIGHT, UNSURE, add_answer_key, read_scan

from .conftest import shot, sign_in

@pytest.fixture
def scans(academy):
    add_answer_key(academy.quiz)
    template = {"version": "omr-2.1", "mode": "template"}
    ids = {
        "unsure": read_scan(academy.quiz, academy.park, UNSURE, **template),
        "nameless": read_scan(academy.quiz, None, ALL_RIGHT, {"status": "blank", "enrollment_id": None}, **template),
    }
    db.session.commit()
    return ids


def test_staff_correct_a_flagged_answer_and_the_score_changes_in_place(page, live_url, academy, scans):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "staff")
    count = page.locator("#nav-omr-count")
    expect(count).to_have_text(re.compile(r"\b2$"))
    page.get_by_role("link", name=re.compile("OMR review")).click()
    rows = page.locator("tr[data-scan-id]")
    expect(rows).to_have_count(2)
    expect(page.locator(f'#scan-{scans["unsure"]}')).to_contain_text("Low confidence")
    expect(page.locator(f'#scan-{scans["nameless"]}')).to_contain_text("Student not identified")

    page.get_by_role("link", name=f'Review scan {scans["unsure"]}').click()
    panel = page.locator("#omr-scan")
    expect(panel).to_have_attribute("data-score", "75")
    question2 = page.locator('tr[data-question="2"]')
    expect(question2).to_have_attribute("data-flags", "ANSWER_LOW_CONFIDENCE")
    shot(page, "omr-review-en")
    page.evaluate("window.__still_the_same_page = true")

    question2.get_by_label("Marks read for question 2").fill("2")
    question2.get_by_role("button", name="Save question 2").click()
    expect(panel).to_have_attribute("data-score", "100")
    expect(panel).to_contain_text("100 of 100 (attempt 1)")
    expect(page.locator('tr[data-question="2"]')).to_have_attribute("data-correct", "true")
    expect(page.locator('tr[data-question="2"]')).to_have_attribute("data-flags", "")
    expect(count).to_have_text(re.compile(r"\b1$"))
    assert page.evaluate("window.__still_the_same_page") is True
    shot(page, "omr-review-corrected-en")

    # The grid's cell detail shows the regraded attempt.
    page.goto(live_url + f"/lectures/{academy.algebra.id}/cell?enrollment={academy.park.id}"
              f"&session={academy.weeks[1].id}")
    expect(page.locator("#cell-panel")).to_contain_text("100 against a pass line of 60")


def test_a_teacher_assigns_the_student_of_an_unreadable_sheet(page, live_url, academy, scans):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "teacher_a")
    page.goto(live_url + "/omr/")
    page.get_by_role("link", name=f'Review scan {scans["nameless"]}').click()
    panel = page.locator("#omr-scan")
    expect(panel).to_have_attribute("data-status", "needs_review")
    expect(panel).to_contain_text("Student not identified")

    choice = page.get_by_label("Student", exact=True)
    expect(choice.locator("option")).to_have_count(4)  # "Choose the student" + Algebra II's 3 active students
    page.get_by_label("Search students").fill("minji")
    expect(choice.locator("option")).to_have_count(2)
    choice.select_option(label="Kim Minji")
    shot(page, "omr-assign-en")
    page.get_by_role("button", name="Assign").click()

    expect(panel).to_have_attribute("data-status", "graded")
    expect(panel).to_have_attribute("data-score", "100")
    expect(panel).to_contain_text("Kim Minji")
    expect(panel).to_contain_text("100 of 100 (attempt 2)")
    expect(page.locator("#nav-omr-count")).to_have_text(re.compile(r"\b1$"))
    db.session.expire_all()
    attempt = db.session.execute(select(Attempt).where(Attempt.enrollment_id == academy.minji.id,
                                                       Attempt.attempt_no == 2)).scalar_one()
    assert (attempt.source, attempt.score) == ("omr", Decimal(100))


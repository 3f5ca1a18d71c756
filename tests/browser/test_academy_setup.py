"""End to end in real Chromium: an admin sets up a lecture from an empty academy — creates it,
generates its sessions, uploads a roster CSV (preview, then apply), creates an exam — and sees
its grid.

Worked by hand (today 2026-04-01): four sessions from Monday 2026-03-02 on Mondays and
Wednesdays: 03-02, 03-04, 03-09, 03-11 — all held. Two students from the roster, so the grid has
2 x 4 = 8 cells, none completed (no video yet): Week 1 (before the exam range, no exam) fails
on video alone, and the exam linked to Week 2 has no results.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from dashboard.accounts import users as accounts
from dashboard.extensions import db
from tests.factories import make_user

from .conftest import PASSWORD, shot, sign_in

ROSTER = "\ufeffname,student_id,contact\nKim Minji,,010-1111\n이서준,,\n"


def test_an_admin_sets_up_a_lecture_from_nothing_and_sees_its_grid(page, live_url, filled):
    accounts.reset_password(make_user("director", "admin"), PASSWORD)
    db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "director")

    page.get_by_role("link", name="Setup").click()
    page.get_by_label("Title").fill("Physics I")
    page.get_by_role("button", name="Create lecture").click()
    expect(page.locator("h1")).to_have_text("Physics I")

    term = page.locator("#term-generate")
    term.get_by_label("First day").fill("2026-03-02")
    term.get_by_label("Number of sessions").fill("4")
    term.get_by_label("Title prefix (e.g. Week)").fill("Week")
    term.get_by_label("Mon").check()
    term.get_by_label("Wed").check()
    term.get_by_role("button", name="Generate sessions").click()
    expect(page.locator("#session-list tbody tr")).to_have_count(4)
    expect(page.locator("#session-list tbody tr").nth(3)).to_contain_text("2026-03-11")

    page.locator("nav.tabs").get_by_role("link", name="Uploads").click()
    roster = page.locator("#upload-roster")
    roster.locator('input[type="file"]').set_input_files(
        files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": ROSTER.encode("utf-8")}])
    roster.get_by_role("button", name="Preview").click()
    expect(page.locator("#upload-counts")).to_have_attribute("data-create", "2")
    expect(page.locator("#upload-counts")).to_have_attribute("data-bad", "0")
    shot(page, "upload-preview-en")
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.locator(".flashes")).to_contain_text("roster.csv applied (2 rows)")

    page.locator("nav.tabs").get_by_role("link", name="Exams and homework").click()
    form = page.locator("#exam-add")
    form.get_by_label("Title").fill("Quiz 1")
    form.get_by_label("2. Week 2").check()
    form.get_by_label("Pass score (optional)").fill("60")
    form.get_by_role("button", name="Create exam").click()
    expect(page.locator("#exam-list tbody tr")).to_have_count(1)
    expect(page.locator("#exam-list")).to_contain_text("Quiz 1")

    page.locator("nav.tabs").get_by_role("link", name="Grid").click()
    cells = page.locator("td[data-enrollment][data-session]")
    expect(cells).to_have_count(8)
    expect(page.locator('td[data-status="completed"]')).to_have_count(0)
    expect(page.get_by_text("이서준")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/lectures/\d+"))

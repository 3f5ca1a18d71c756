"""End to end in real Chromium: sign in, open a grid, edit a cell until it turns completed and see
the cell, the risk badge and the clinic count change without a reload; roles; screenshots.

Academy: tests/web/factories.build_academy (today 2026-04-01). Park_100% has nothing: Weeks 1-3
due and incomplete -> DANGER x3. Video 95 on Week 3 (no exam, no homework there) completes it,
which ends the run of failures: NORMAL.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import PASSWORD, shot, sign_in


def cell(page, enrollment, session):
    return page.locator(f'td[data-enrollment="{enrollment.id}"][data-session="{session.id}"]')


def test_anonymous_visitor_signs_in_and_sees_the_lectures(page, live_url, academy):
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill("teacher_a")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    # Back where they were going: the grid.
    expect(page.locator("table.grid")).to_be_visible()
    page.goto(live_url + "/")
    links = page.locator(".lecture-card h2 a")
    expect(links).to_have_count(1)
    expect(page.get_by_role("link", name="Algebra II")).to_be_visible()
    page.get_by_role("link", name="Algebra II").click()
    expect(page.locator("table.grid caption")).to_contain_text("Algebra II")
    expect(page.locator("td[data-status]")).to_have_count(12)


def test_wrong_password_is_refused(page, live_url, academy):
    page.goto(live_url + "/login")
    page.get_by_label("Username").fill("teacher_a")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("p.error[role=alert]")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))


def test_cell_edit_turns_it_completed_and_the_badge_changes_without_reload(page, live_url, academy):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_url, "teacher_a")
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    week3 = academy.weeks[2]
    target = cell(page, academy.park, week3)
    badge = page.locator(f"#row-{academy.park.id} [data-risk]")
    count = page.locator("#nav-clinic-count")
    expect(target).to_have_attribute("data-status", "incomplete")
    expect(badge).to_have_attribute("data-risk", "DANGER")
    # Open links of Algebra II: Jisoo's 3 AUTO_FAILED + 1 AUTO_RISK, Park's 3 AUTO_FAILED.
    expect(count).to_have_text(re.compile(r"\b7$"))
    page.evaluate("window.__still_the_same_page = true")

    target.locator("a").click()
    video = page.get_by_label(re.compile("Video"))
    expect(video).to_be_visible()
    expect(video).to_have_attribute("type", "number")
    shot(page, "cell-detail-before")
    video.fill("95")
    video.press("Enter")

    expect(page.locator("#cell-panel .saved")).to_be_visible()
    expect(cell(page, academy.park, week3)).to_have_attribute("data-status", "completed")
    expect(page.locator(f"#row-{academy.park.id} [data-risk]")).to_have_attribute("data-risk", "NORMAL")
    expect(page.locator("#cell-panel")).to_have_attribute("data-status", "completed")
    expect(count).to_have_text(re.compile(r"\b6$"))  # Park's Week 3 link resolved itself
    assert page.evaluate("window.__still_the_same_page") is True  # no reload happened
    shot(page, "grid-after-edit")


def test_invalid_score_shows_the_error_at_the_field_and_saves_nothing(page, live_url, academy):
    """The browser itself refuses a video rate of 250 (min/max on the number input); a score with
    three decimals passes the browser and is refused by the server: 422, error at the field."""
    sign_in(page, live_url, "admin")
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    cell(page, academy.jisoo, academy.weeks[1]).locator("a").click()
    score = page.get_by_label("New attempt score")
    score.fill("72.505")
    score.press("Enter")
    error = page.locator(f"#exam{academy.quiz.id}-score-error")
    expect(error).to_contain_text("must have at most 2 decimal places")
    expect(page.locator(f"#exam{academy.quiz.id}-score")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#cell-panel tr[data-attempt]")).to_have_count(1)
    expect(cell(page, academy.jisoo, academy.weeks[1])).to_have_attribute("data-status", "incomplete")


def test_active_search_and_risk_filter(page, live_url, academy):
    sign_in(page, live_url, "admin")
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    expect(page.locator("tbody tr")).to_have_count(3)
    page.get_by_label("Search students").press_sequentially("minj", delay=30)
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr .student-name")).to_have_text("Kim Minji")
    page.get_by_label("Search students").fill("")
    page.get_by_label("Search students").press("Backspace")
    page.get_by_label("Risk", exact=True).select_option("DANGER")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"risk=DANGER"))


def test_teacher_cannot_reach_another_teachers_lecture(page, live_url, academy):
    sign_in(page, live_url, "teacher_b")
    expect(page.get_by_role("link", name="Algebra II")).to_have_count(0)
    response = page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    shot(page, "not-found")


def test_staff_sees_the_detail_without_edit_forms(page, live_url, academy):
    sign_in(page, live_url, "staff")
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    cell(page, academy.jisoo, academy.weeks[1]).locator("a").click()
    expect(page.locator("#cell-panel")).to_be_visible()
    # No input of the cell's data; the clinic part below lets staff request a clinic (SPEC §6).
    expect(page.locator("#cell-panel .part input")).to_have_count(0)
    expect(page.locator('#cell-panel #student-clinic [data-action="request-clinic"]')).to_have_count(1)


def test_two_tabs_edit_one_cell_the_stale_save_is_shown_and_overwrites_on_purpose(page, live_url, academy):
    """Both tabs open Park's Week 3. Tab 2 takes the roll call: absent. Tab 1, still showing "not
    taken", saves video 95: refused, with the roll call saved meanwhile beside its own, nothing of
    it saved; pressing Save again saves tab 1's values on purpose (the roll call back to not taken)."""
    from sqlalchemy import select

    from dashboard.extensions import db
    from dashboard.models import Activity

    sign_in(page, live_url, "teacher_a")
    cell_url = (live_url + f"/lectures/{academy.algebra.id}/cell?enrollment={academy.park.id}"
                f"&session={academy.weeks[2].id}")
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    cell(page, academy.park, academy.weeks[2]).locator("a").click()
    expect(page.get_by_label(re.compile("Video"))).to_be_visible()
    second = page.context.new_page()
    second.goto(cell_url)
    second.get_by_label("Roll call").select_option("absent")
    second.get_by_role("button", name="Save").first.click()
    expect(second.get_by_text("Saved.")).to_be_visible()

    video = page.get_by_label(re.compile("Video"))
    video.fill("95")
    video.press("Enter")
    conflict = page.locator("#cell-panel [data-conflict]")
    expect(conflict).to_be_visible()
    expect(conflict.locator("tr", has_text="Roll call")).to_contain_text("Absent")
    expect(conflict.locator("tr", has_text="Video")).to_contain_text("95")
    expect(conflict.get_by_role("link", name="Reload the saved values")).to_be_visible()
    shot(page, "cell-stale-save")
    expect(cell(page, academy.park, academy.weeks[2])).to_have_attribute("data-status", "incomplete")

    page.locator("#cell-panel").get_by_role("button", name="Save").first.click()
    expect(page.locator("#cell-panel .saved")).to_be_visible()
    expect(page.locator("#cell-panel [data-conflict]")).to_have_count(0)
    expect(cell(page, academy.park, academy.weeks[2])).to_have_attribute("data-status", "completed")
    db.session.expire_all()
    stored = db.session.execute(select(Activity).where(Activity.enrollment_id == academy.park.id,
                                                       Activity.session_id == academy.weeks[2].id)).scalar_one()
    assert (stored.video_rate, stored.presence, stored.attendance) == (95, None, "online")

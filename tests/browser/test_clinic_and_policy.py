"""End to end in real Chromium: approve and resolve a clinic link (the row and the nav count change
in place), and edit a policy — preview, save — then see the grid change.

Academy: tests/web/factories.build_academy (today 2026-04-01). Open links: Lee Jisoo AUTO_FAILED
x3 + AUTO_RISK (quiz 40 < 60), Park_100% AUTO_FAILED x3, Kim Minho (Geometry) AUTO_FAILED: 8 for
staff. Policy: video_required_rate 90 -> 0 completes Jisoo's and Park's weeks 1 and 3 (no exam
part there), 4 cells, and both go DANGER -> NORMAL (tests/web/test_policy_pages.py works it out).
"""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import ClinicLink

from .conftest import shot, sign_in


def test_staff_approves_then_resolves_a_clinic_link_in_place(page, live_url, academy):
    page.set_viewport_size({"width": 1280, "height": 800})
    link_id = db.session.execute(select(ClinicLink.id).where(
        ClinicLink.enrollment_id == academy.jisoo.id, ClinicLink.reason == "AUTO_RISK")).scalar_one()
    sign_in(page, live_url, "staff")
    page.get_by_role("link", name=re.compile("Clinic queue")).click()
    row = page.locator(f'tr[data-link-id="{link_id}"]')
    count = page.locator("#nav-clinic-count")
    expect(row).to_contain_text("Exam 40 (pass 60)")
    expect(count).to_have_text(re.compile(r"\b8$"))
    page.evaluate("window.__still_the_same_page = true")
    shot(page, "clinic-queue")

    row.locator('[data-action="approve"]').click()
    expect(row).to_have_attribute("data-state", "approved")
    expect(row.locator('[data-action="approve"]')).to_have_count(0)
    expect(count).to_have_text(re.compile(r"\b8$"))  # approved links stay in the queue

    row.get_by_role("button", name="Resolve").click()
    expect(row).to_have_attribute("data-state", "resolved")
    expect(row.get_by_role("button", name="Reopen")).to_be_visible()
    expect(count).to_have_text(re.compile(r"\b7$"))
    assert page.evaluate("window.__still_the_same_page") is True

    db.session.expire_all()
    stored = db.session.get(ClinicLink, link_id)
    assert stored.approved and stored.resolved_at is not None

    page.get_by_role("link", name="Resolved history").click()
    expect(page.locator(f'tr[data-link-id="{link_id}"]')).to_have_attribute("data-state", "resolved")


def test_teacher_sees_no_action_buttons(page, live_url, academy):
    sign_in(page, live_url, "teacher_a")
    page.goto(live_url + "/clinic/")
    expect(page.locator("tr[data-link-id]")).to_have_count(7)
    expect(page.locator("[data-action]")).to_have_count(0)


def test_admin_previews_then_saves_a_policy_and_the_grid_changes(page, live_url, academy):
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_url, "admin")
    grid_url = live_url + f"/lectures/{academy.algebra.id}/"
    jisoo_week1 = f'td[data-enrollment="{academy.jisoo.id}"][data-session="{academy.weeks[0].id}"]'
    park_badge = f"#row-{academy.park.id} [data-risk]"
    page.goto(grid_url)
    expect(page.locator(jisoo_week1)).to_have_attribute("data-status", "incomplete")
    expect(page.locator(park_badge)).to_have_attribute("data-risk", "DANGER")

    page.get_by_role("link", name="Policies").click()
    page.get_by_role("link", name="Algebra II").click()
    rate = page.get_by_label("Required video rate (%)")
    expect(rate).to_have_value("90")
    rate.fill("0")
    page.get_by_role("button", name="Preview").click()
    impact = page.locator("#policy-impact")
    expect(impact).to_have_attribute("data-outcome", "preview")
    expect(impact).to_contain_text("Session cells that would change status: 4")
    expect(impact.locator(f'tr[data-enrollment="{academy.park.id}"] [data-risk]').last).to_have_attribute(
        "data-risk", "NORMAL")
    impact.scroll_into_view_if_needed()
    shot(page, "policy-preview-tablet")

    # The preview kept nothing: the grid is as it was.
    preview_page = page.url
    page.goto(grid_url)
    expect(page.locator(jisoo_week1)).to_have_attribute("data-status", "incomplete")
    page.goto(preview_page)

    page.get_by_label("Required video rate (%)").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#policy-impact")).to_have_attribute("data-outcome", "save")
    expect(page.locator("#policy-impact")).to_contain_text("Session cells that changed status: 4")

    page.goto(grid_url)
    expect(page.locator(jisoo_week1)).to_have_attribute("data-status", "completed")
    expect(page.locator(park_badge)).to_have_attribute("data-risk", "NORMAL")
    shot(page, "grid-after-policy")


def test_two_tabs_edit_one_policy_the_stale_save_is_shown_and_overwrites_on_purpose(page, live_url, academy):
    """Tab 1 and tab 2 open the editor at version 1; tab 2 saves grace days 20 first. Tab 1's save
    of video rate 80 is refused with tab 2's change shown beside its own; Save again overwrites."""
    from dashboard.models import ProgressPolicy

    sign_in(page, live_url, "admin")
    editor = live_url + f"/policies/{academy.algebra.id}/"
    page.goto(editor)
    second = page.context.new_page()
    second.goto(editor)
    second.get_by_label("Grace days").fill("20")
    second.get_by_role("button", name="Save").click()
    expect(second.locator("#policy-impact")).to_have_attribute("data-outcome", "save")

    page.get_by_label("Required video rate (%)").fill("80")
    page.get_by_role("button", name="Save").click()
    conflict = page.locator("#policy-conflict")
    expect(conflict).to_be_visible()
    expect(conflict.locator("tr", has_text="Grace days")).to_contain_text("20")
    expect(conflict.locator("tr", has_text="Required video rate")).to_contain_text("80")
    expect(page.get_by_role("link", name="Reload the saved policy")).to_be_visible()
    conflict.scroll_into_view_if_needed()
    shot(page, "policy-stale-save")

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#policy-impact")).to_have_attribute("data-outcome", "save")
    expect(page.locator("#policy-conflict")).to_have_count(0)
    db.session.expire_all()
    policy = db.session.execute(select(ProgressPolicy).where(
        ProgressPolicy.lecture_id == academy.algebra.id)).scalar_one()
    assert (policy.video_required_rate, policy.completion_grace_days, policy.version) == (80, 7, 3)

"""End to end in real Chromium: staff schedules a clinic session of capacity 2, books three
students from the clinic queue (the third is refused, saying the clinic is full), takes the
roll call (one attended, one no-show) and sees one student's link resolved and the other's
back in the queue with its history.

Academy: tests.factories.build_academy (today 2026-04-01). The first open link of Kim Minho
(Geometry), Lee Jisoo and Park_100% are selected; students are booked in name order, so Kim
Minho and Lee Jisoo take the two seats and Park_100% is refused.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import ClinicLink, ClinicSession

from .conftest import shot, sign_in


def _first_link(enrollment) -> int:
    return db.session.execute(select(ClinicLink.id).where(ClinicLink.enrollment_id == enrollment.id)
                              .order_by(ClinicLink.id).limit(1)).scalar_one()


def test_staff_books_three_into_two_seats_and_takes_the_roll_call(page, live_url, academy):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "staff")
    page.get_by_role("link", name="Clinic calendar").click()
    page.get_by_label("Date").fill("2026-04-02")
    page.get_by_label("Starts").fill("15:00")
    page.get_by_label("Ends").fill("16:00")
    page.get_by_label("Room").fill("B101")
    page.get_by_label("Capacity").fill("2")
    page.locator('[data-action="schedule"]').click()
    card = page.locator("[data-clinic-session]")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("data-capacity", "2")
    expect(card).to_have_attribute("data-booked", "0")
    clinic_id = db.session.execute(select(ClinicSession.id)).scalar_one()

    links = {name: _first_link(enrollment) for name, enrollment in
             (("minho", academy.minho), ("jisoo", academy.jisoo), ("park", academy.park))}
    page.goto(live_url + "/clinic/")
    for link_id in links.values():
        page.locator(f'input[name="link_ids"][value="{link_id}"]').check()
    page.get_by_label("Book the selected links into").select_option(str(clinic_id))
    page.locator('[data-action="book-selected"]').click()
    flashes = page.locator(".flashes")
    expect(flashes).to_contain_text("Booked: Kim Minho, Lee Jisoo.")
    expect(flashes).to_contain_text("Park_100%: This clinic session is full (2 seats).")
    expect(page.locator(f'tr[data-link-id="{links["jisoo"]}"]')).to_have_attribute("data-state", "approved")
    expect(page.locator(f'tr[data-link-id="{links["park"]}"]')).to_have_attribute("data-state", "open")
    shot(page, "clinic-booked-from-queue")

    page.goto(f"{live_url}/clinic/sessions/{clinic_id}")
    bookings = page.locator("#clinic-bookings")
    expect(bookings).to_have_attribute("data-booked", "2")
    jisoo_row = bookings.locator("tr", has_text="Lee Jisoo")
    minho_row = bookings.locator("tr", has_text="Kim Minho")
    jisoo_row.locator('[data-action="attended"]').click()
    expect(bookings.locator("tr", has_text="Lee Jisoo")).to_have_attribute("data-state", "attended")
    bookings = page.locator("#clinic-bookings")
    bookings.locator("tr", has_text="Kim Minho").locator('[data-action="no-show"]').click()
    expect(page.locator("#clinic-bookings tr", has_text="Kim Minho")).to_have_attribute("data-state", "no_show")
    expect(page.locator("#clinic-bookings")).to_have_attribute("data-booked", "1")
    expect(page.locator("#clinic-bookings")).to_contain_text("Marked no-show; the links are back in the queue.")
    shot(page, "clinic-roll-call")
    del minho_row

    page.goto(live_url + "/clinic/")
    returned = page.locator(f'tr[data-link-id="{links["minho"]}"]')
    expect(returned).to_have_attribute("data-state", "open")
    expect(returned.locator('.booking-history li[data-outcome="no_show"]')).to_have_count(1)
    expect(returned.locator('input[name="link_ids"]')).to_have_count(1)
    expect(page.locator(f'tr[data-link-id="{links["jisoo"]}"]')).to_have_count(0)
    page.get_by_role("link", name="Resolved history").click()
    resolved = page.locator(f'tr[data-link-id="{links["jisoo"]}"]')
    expect(resolved).to_have_attribute("data-state", "resolved")
    expect(resolved.locator('.booking-history li[data-outcome="attended"]')).to_have_count(1)


def test_the_week_is_a_list_on_a_phone(page, live_url, academy):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_url, "staff")
    page.goto(live_url + "/clinic/sessions/?week=2026-04-01")
    # Empty days fold away on a phone; the page does not scroll sideways.
    expect(page.locator(".clinic-day").first).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_to_do_by_student_bulk_approve_and_one_resolve(page, live_url, academy):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "staff")
    page.goto(live_url + "/clinic/students/")
    jisoo = page.locator(f'[data-clinic-student="{academy.jisoo.id}"]')
    expect(jisoo).to_contain_text("Exam 40 (pass 60)")
    jisoo.locator("summary strong").click()
    jisoo.locator("input.select-group").check()
    expect(jisoo.locator('input[name="link_ids"]:checked')).to_have_count(4)
    page.locator('[data-action="approve-selected"]').click()
    expect(page.locator(".flashes")).to_contain_text("Approved 4 of 4 links.")
    shot(page, "clinic-todo-by-student")
    park = page.locator(f'[data-clinic-student="{academy.park.id}"]')
    park.locator("summary strong").click()
    first = park.locator("tr[data-link-id]").first
    link_id = first.get_attribute("data-link-id")
    first.locator('[data-action="resolve"]').click()
    expect(page.locator(".flashes")).to_contain_text("Resolved 1 of 1 links.")
    expect(page.locator(f'[data-clinic-student="{academy.park.id}"]')).to_have_attribute("data-links", "2")
    expect(page.locator("#nav-clinic-count")).to_have_text(re.compile(r"\b7$"))
    db.session.expire_all()
    assert db.session.get(ClinicLink, int(link_id)).resolved_at is not None

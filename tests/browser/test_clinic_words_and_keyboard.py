"""The clinic pages in real Chromium: in Korean no internal code reaches the reader (visible text,
labels, tooltips, the choices of every control) on the to-do list, the queue, the calendar and a
student's page of the demo academy; booking from the to-do list works with the keyboard alone; and
a teacher requests a clinic from the cell panel, the counts agreeing afterwards.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from dashboard.clinic import sessions
from dashboard.demo import DEMO_PASSWORD, create_demo
from dashboard.extensions import db
from dashboard.models import ClinicBooking, ClinicBookingLink, ClinicLink, Enrollment, User

from .conftest import shot, sign_in

# Codes that must stay in the API and data- attributes: reasons, rules, risk causes, levels, policy
# options, states. Any SCREAMING_SNAKE word is one too.
CODES = re.compile(r"\b(?:[A-Z]+_[A-Z_]+|DANGER|WARNING|NORMAL|MAX|AVG|LATEST|SUBMIT|SCORE|no_show|auto_resolved)\b")

# What a reader meets on the page: its text, and the words only some readers meet (labels for
# screen readers, tooltips, placeholders, every choice of every select, opened or not).
READER_TEXT = """() => {
  const parts = [document.body.innerText, document.title];
  document.querySelectorAll("[aria-label],[title],[placeholder],[alt]").forEach((element) => {
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      if (element.hasAttribute(name)) parts.push(element.getAttribute(name));
    }
  });
  document.querySelectorAll("option, summary, .vh, .visually-hidden").forEach((element) => parts.push(element.textContent));
  return parts.join("\\n");
}"""


@pytest.fixture
def demo(filled):
    create_demo()
    db.session.commit()


def korean_page(browser, live_url, username="staff", viewport=None):
    context = browser.new_context(viewport=viewport or {"width": 1366, "height": 900}, locale="ko-KR")
    page = context.new_page()
    page.goto(live_url + "/")
    page.get_by_label("아이디").fill(username)
    page.get_by_label("비밀번호").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url(live_url + "/")
    return context, page


def clinic_tomorrow(capacity: int):
    """A clinic session on 2026-04-02, 15:00-16:00, scheduled by the demo's staff member."""
    staff = db.session.execute(select(User).where(User.username == "staff")).scalar_one()
    made = sessions.create_clinic_session(staff, {"starts_at": "2026-04-02T15:00", "ends_at": "2026-04-02T16:00",
                                                  "capacity": capacity, "room": "302호"})
    db.session.commit()
    return made


def codes_on(page) -> list[str]:
    return sorted(set(CODES.findall(page.evaluate(READER_TEXT))))


def test_the_clinic_pages_in_korean_show_no_code(browser, live_url, demo):
    day = clinic_tomorrow(capacity=4)
    context, page = korean_page(browser, live_url)
    page.goto(live_url + "/clinic/students/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    groups = page.locator("[data-clinic-student]")
    expect(groups.first).to_be_visible()
    # Open every student's row on the page: their links' rows are read and shown too.
    for summary in page.locator("[data-clinic-student] summary").all()[:12]:
        summary.click()
    expect(page.locator("[data-clinic-student] tr[data-link-id]").first).to_be_visible()
    assert page.locator("tr[data-reason]").count() > 0  # the codes are there, in data- attributes only
    assert codes_on(page) == [], codes_on(page)

    page.goto(live_url + "/clinic/")
    expect(page.locator("tr[data-link-id]").first).to_be_visible()
    assert codes_on(page) == []
    page.goto(f"{live_url}/clinic/sessions/?week=2026-04-01")
    expect(page.locator(f'[data-clinic-session="{day.id}"]')).to_be_visible()
    assert codes_on(page) == []
    enrollment = db.session.execute(select(Enrollment.id, Enrollment.lecture_id).join(ClinicLink)
                                    .where(ClinicLink.reason == "AUTO_RISK").limit(1)).first()
    page.goto(f"{live_url}/lectures/{enrollment.lecture_id}/students/{enrollment.id}")
    expect(page.locator("#student-clinic")).to_be_visible()
    assert codes_on(page) == []
    context.close()


def test_booking_from_the_to_do_list_with_the_keyboard(browser, live_url, demo):
    clinic = clinic_tomorrow(capacity=2)
    context, page = korean_page(browser, live_url)
    page.goto(live_url + "/clinic/students/")
    first = page.locator("[data-clinic-student]").first
    enrollment_id = int(first.get_attribute("data-clinic-student"))
    wanted = db.session.execute(select(func.count()).select_from(ClinicLink).where(
        ClinicLink.enrollment_id == enrollment_id, ClinicLink.resolved_at.is_(None))).scalar_one()

    # From the "book" button, Tab reaches the first student's box; Space ticks it.
    page.locator('[data-action="book-selected"]').focus()
    page.keyboard.press("Tab")
    expect(first.locator("input.select-group")).to_be_focused()
    page.keyboard.press("Space")
    expect(first.locator("input.select-group")).to_be_checked()
    # Tab to the student's summary, Enter opens it: their rows are ticked with the student.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(first.locator('input[name="link_ids"]').first).to_be_checked()
    # Back to the clinic session choice (Shift+Tab x3) and down to the clinic, then Tab and Enter on "book".
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
    select_box = page.locator("#todo-clinic-session")
    expect(select_box).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(select_box).to_have_value(str(clinic.id))
    page.keyboard.press("Tab")
    expect(page.locator('[data-action="book-selected"]')).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".flashes")).to_contain_text("예약")
    booked = page.locator(f'[data-clinic-student="{enrollment_id}"]')
    expect(booked).to_have_attribute("data-booked", "yes")
    db.session.expire_all()
    booking = db.session.execute(select(ClinicBooking).where(ClinicBooking.enrollment_id == enrollment_id)).scalar_one()
    assert booking.clinic_session_id == clinic.id
    # The student's box booked every open link of theirs.
    covered = db.session.execute(select(func.count()).select_from(ClinicBookingLink).where(
        ClinicBookingLink.booking_id == booking.id, ClinicBookingLink.active.is_(True))).scalar_one()
    assert covered == wanted
    context.close()


def test_a_teacher_requests_a_clinic_from_the_cell_panel(page, live_url, academy):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "teacher_a")
    expect(page.locator("#nav-clinic-count")).to_have_text(re.compile(r"\b7$"))
    page.goto(f"{live_url}/lectures/{academy.algebra.id}/")
    page.locator(f'td[data-enrollment="{academy.minji.id}"][data-session="{academy.weeks[1].id}"] a').click()
    panel = page.locator("#cell-panel")
    expect(panel).to_be_visible()
    clinic = panel.locator("#student-clinic")
    expect(clinic).to_have_attribute("data-open", "0")
    clinic.get_by_text("Request a clinic").click()
    clinic.get_by_label("Memo").fill("Asked for help with the quiz")
    clinic.locator('[data-action="request-clinic"]').click()
    expect(panel.locator("#student-clinic")).to_contain_text("Clinic requested.")
    expect(panel.locator("#student-clinic")).to_have_attribute("data-open", "1")
    expect(panel.locator("#student-clinic tr[data-link-id]")).to_have_count(1)
    expect(page.locator("#nav-clinic-count")).to_have_text(re.compile(r"\b8$"))
    shot(page, "clinic-request-from-cell")
    db.session.expire_all()
    made = db.session.execute(select(ClinicLink).where(ClinicLink.enrollment_id == academy.minji.id)).scalar_one()
    assert (made.reason, made.session_id, made.memo) == ("MANUAL_REQUEST", academy.weeks[1].id,
                                                         "Asked for help with the quiz")
    # The to-do list agrees: Kim Minji is there with her one link.
    page.goto(live_url + "/clinic/students/")
    expect(page.locator(f'[data-clinic-student="{academy.minji.id}"]')).to_have_attribute("data-links", "1")


def test_staff_books_three_students_from_the_to_do_list_into_two_seats(page, live_url, academy):
    """The students' boxes book all their open links; names in order take the seats (Kim Minho,
    Lee Jisoo), Park_100% is refused; the roll call resolves Jisoo's four links and returns Minho's."""
    staff = academy.users["staff"]
    clinic = sessions.create_clinic_session(staff, {"starts_at": "2026-04-02T15:00", "ends_at": "2026-04-02T16:00",
                                                    "capacity": 2, "room": "B101"})
    db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "staff")
    page.goto(live_url + "/clinic/students/")
    for enrollment in (academy.minho, academy.jisoo, academy.park):
        page.locator(f'[data-clinic-student="{enrollment.id}"] input.select-group').check()
    page.get_by_label("Book the selected links into").select_option(str(clinic.id))
    page.locator('[data-action="book-selected"]').click()
    flashes = page.locator(".flashes")
    expect(flashes).to_contain_text("Booked: Kim Minho, Lee Jisoo.")
    expect(flashes).to_contain_text("Park_100%: This clinic session is full (2 seats).")
    expect(page.locator(f'[data-clinic-student="{academy.jisoo.id}"]')).to_have_attribute("data-booked", "yes")
    expect(page.locator(f'[data-clinic-student="{academy.park.id}"]')).to_have_attribute("data-booked", "no")

    page.goto(f"{live_url}/clinic/sessions/{clinic.id}")
    bookings = page.locator("#clinic-bookings")
    expect(bookings).to_have_attribute("data-booked", "2")
    bookings.locator("tr", has_text="Lee Jisoo").locator('[data-action="attended"]').click()
    expect(page.locator("#clinic-bookings tr", has_text="Lee Jisoo")).to_have_attribute("data-state", "attended")
    page.locator("#clinic-bookings tr", has_text="Kim Minho").locator('[data-action="no-show"]').click()
    expect(page.locator("#clinic-bookings tr", has_text="Kim Minho")).to_have_attribute("data-state", "no_show")

    page.goto(live_url + "/clinic/students/")
    expect(page.locator(f'[data-clinic-student="{academy.jisoo.id}"]')).to_have_count(0)  # all four resolved
    minho = page.locator(f'[data-clinic-student="{academy.minho.id}"]')
    expect(minho).to_have_attribute("data-booked", "no")
    minho.locator("summary strong").click()
    expect(minho.locator("tr[data-link-id]")).to_have_attribute("data-state", "open")
    expect(page.locator("#nav-clinic-count")).to_have_text(re.compile(r"\b4$"))  # 8 open, Jisoo's 4 resolved
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(ClinicLink).where(
        ClinicLink.enrollment_id == academy.jisoo.id, ClinicLink.resolved_at.is_not(None))).scalar_one() == 4
    # The student page shows the outcome where the teacher looks.
    page.goto(f"{live_url}/lectures/{academy.geometry.id}/students/{academy.minho.id}")
    expect(page.locator('#student-clinic .booking-bar li[data-outcome="no_show"]')).to_have_count(1)

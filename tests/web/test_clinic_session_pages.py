"""The clinic calendar pages (SPEC §13): the week, scheduling one slot or a weekly one, editing
and cancelling, booking from the queue (each student booked or refused with the reason), the
roll call, and a link's booking history in the queue.

The academy is tests.factories.build_academy (today 2026-04-01, a Wednesday: its week starts on
Monday 2026-03-30).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import ClinicBooking, ClinicLink, ClinicSession
from tests.factories import build_academy

from .pages import HTMX, csrf_token, nav_count, sign_in

CARD = re.compile(r'data-clinic-session="(\d+)" data-capacity="(\d+)" data-booked="(\d+)"')


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.commit()
    return academy


def schedule(client, token, day="2026-04-02", starts="15:00", ends="16:00", capacity="2", weeks="1", **extra):
    form = {"csrf_token": token, "date": day, "starts": starts, "ends": ends, "capacity": capacity,
            "room": "B101", "weeks": weeks, **extra}
    return client.post("/clinic/sessions/", data=form)


def links_of(enrollment) -> list[int]:
    return list(db.session.execute(select(ClinicLink.id).where(ClinicLink.enrollment_id == enrollment.id)
                                   .order_by(ClinicLink.id)).scalars())


def test_staff_schedules_a_weekly_slot_and_sees_it_in_the_week(client, academy):
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, "/clinic/sessions/")
    response = schedule(client, token, weeks="3", lecture=str(academy.algebra.id),
                        teacher=str(academy.users["teacher_a"].id))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/clinic/sessions/?week=2026-04-02")
    starts = sorted(db.session.execute(select(ClinicSession.starts_at)).scalars())
    assert [value.strftime("%m-%d %H:%M") for value in starts] == ["04-02 06:00", "04-09 06:00", "04-16 06:00"]
    page = client.get("/clinic/sessions/?week=2026-04-01").get_data(as_text=True)
    assert CARD.findall(page) == [(str(min(db.session.execute(select(ClinicSession.id)).scalars())), "2", "0")]
    assert "15:00–16:00" in page and "teacher_a" in page and "Algebra II" in page
    next_week = client.get("/clinic/sessions/?week=2026-04-06").get_data(as_text=True)
    assert len(CARD.findall(next_week)) == 1


def test_a_bad_slot_is_refused_with_its_reason(client, academy):
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, "/clinic/sessions/")
    response = schedule(client, token, starts="16:00", ends="15:00")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The clinic must end after it starts." in page
    assert db.session.execute(select(func.count()).select_from(ClinicSession)).scalar_one() == 0


def test_a_teacher_sees_the_calendar_but_may_not_schedule(client, academy):
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client, "/clinic/sessions/")
    page = client.get("/clinic/sessions/").get_data(as_text=True)
    assert "Schedule a clinic session" not in page
    assert schedule(client, token).status_code == 403


def test_book_from_the_queue_then_roll_call(client, academy):
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, "/clinic/")
    schedule(client, token, capacity="2")
    clinic_id = db.session.execute(select(ClinicSession.id)).scalar_one()
    queue = client.get("/clinic/").get_data(as_text=True)
    assert 'data-action="book-selected"' in queue
    assert f'name="link_ids" value="{links_of(academy.jisoo)[0]}"' in queue
    chosen = links_of(academy.jisoo)[:2] + links_of(academy.park)[:1] + links_of(academy.minho)
    response = client.post("/clinic/sessions/book", headers=HTMX, data={
        "csrf_token": token, "clinic_session": str(clinic_id), "link_ids": [str(i) for i in chosen],
        "next": "/clinic/"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/clinic/"
    page = client.get("/clinic/").get_data(as_text=True)
    # Alphabetical: Kim Minho and Lee Jisoo take the two seats, Park is refused.
    assert "Booked: Kim Minho, Lee Jisoo." in page
    assert "Not booked — Park_100%: This clinic session is full (2 seats)." in page
    assert db.session.execute(select(func.count()).select_from(ClinicBooking)).scalar_one() == 2

    detail = client.get(f"/clinic/sessions/{clinic_id}").get_data(as_text=True)
    assert f'data-clinic-session="{clinic_id}" data-capacity="2" data-booked="2"' in detail
    jisoo_booking, minho_booking = (
        db.session.execute(select(ClinicBooking.id).where(ClinicBooking.enrollment_id == enrollment.id)).scalar_one()
        for enrollment in (academy.jisoo, academy.minho))
    answer = client.post(f"/clinic/sessions/bookings/{jisoo_booking}/attendance", headers=HTMX,
                         data={"csrf_token": token, "attendance": "attended"})
    assert answer.status_code == 200
    assert 'id="clinic-bookings"' in answer.get_data(as_text=True)
    # Jisoo's two links are resolved: the navigation's open count goes from 8 to 6 in place.
    assert nav_count(answer.get_data(as_text=True)) == 6
    answer = client.post(f"/clinic/sessions/bookings/{minho_booking}/attendance", headers=HTMX,
                         data={"csrf_token": token, "attendance": "no_show"})
    html = answer.get_data(as_text=True)
    assert "Marked no-show; the links are back in the queue." in html
    assert 'data-booked="1"' in html
    db.session.expire_all()
    jisoo_links = [db.session.get(ClinicLink, i) for i in links_of(academy.jisoo)[:2]]
    assert all(link.resolved_at is not None for link in jisoo_links)
    minho_link = db.session.get(ClinicLink, links_of(academy.minho)[0])
    assert (minho_link.approved, minho_link.resolved_at) == (False, None)
    # The queue shows the returned link with its no-show in its history, and it can be selected again.
    queue = client.get("/clinic/").get_data(as_text=True)
    row = re.search(rf'<tr id="link-{minho_link.id}".*?</tr>', queue, re.DOTALL).group(0)
    assert 'data-outcome="no_show"' in row and 'name="link_ids"' in row


def test_cancel_a_clinic_session_from_its_page(client, academy):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client, "/clinic/")
    schedule(client, token)
    clinic_id = db.session.execute(select(ClinicSession.id)).scalar_one()
    client.post("/clinic/sessions/book", data={"csrf_token": token, "clinic_session": str(clinic_id),
                                               "link_ids": [str(links_of(academy.jisoo)[0])]})
    response = client.post(f"/clinic/sessions/{clinic_id}/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ClinicSession, clinic_id).cancelled_at is not None
    assert db.session.get(ClinicLink, links_of(academy.jisoo)[0]).approved is False


def test_editing_capacity_below_the_bookings_says_why(client, academy):
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, "/clinic/")
    schedule(client, token, capacity="2")
    clinic_id = db.session.execute(select(ClinicSession.id)).scalar_one()
    client.post("/clinic/sessions/book", data={"csrf_token": token, "clinic_session": str(clinic_id),
                                               "link_ids": [str(links_of(academy.jisoo)[0]),
                                                            str(links_of(academy.park)[0])]})
    response = client.post(f"/clinic/sessions/{clinic_id}/edit", data={
        "csrf_token": token, "date": "2026-04-02", "starts": "15:00", "ends": "16:00", "capacity": "1"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 students are booked; the capacity cannot be lower." in page
    db.session.expire_all()
    assert db.session.get(ClinicSession, clinic_id).capacity == 2


def test_korean_pages(client, academy):
    sign_in(client, academy.users["staff"])
    page = client.get("/clinic/sessions/", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "보충 달력" in page

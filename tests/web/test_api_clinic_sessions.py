"""Clinic sessions and bookings through the JSON API (SPEC §13): every rule and role, and that
a refused request changes nothing.

The academy is tests.factories.build_academy: Lee Jisoo has AUTO_FAILED on Weeks 1-3 and
AUTO_RISK on Week 2 (Algebra II), Park has AUTO_FAILED x3, Kim Minho one in Geometry.
teacher_a teaches Algebra II, teacher_b Geometry.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import (
    AuditLog,
    ClinicBooking,
    ClinicBookingLink,
    ClinicLink,
    ClinicSession,
)
from tests.factories import bearer, build_academy

SESSIONS = "/api/clinic/sessions/"
LINKS = "/api/progress/clinic-links/"


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.commit()
    return academy


def call(client, academy, method, path, who="staff", body=None):
    return client.open(path, method=method, headers=bearer(academy.tokens[who]), json=body)


def links_of(enrollment, reason=None) -> list[int]:
    statement = select(ClinicLink.id).where(ClinicLink.enrollment_id == enrollment.id).order_by(ClinicLink.id)
    if reason:
        statement = statement.where(ClinicLink.reason == reason)
    return list(db.session.execute(statement).scalars())


def new_session(client, academy, who="staff", **fields):
    body = {"starts_at": "2026-04-02T15:00:00", "ends_at": "2026-04-02T16:00:00", "capacity": 2,
            "room": "B101", **fields}
    response = call(client, academy, "POST", SESSIONS, who, body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def book(client, academy, session_id, enrollment, link_ids, who="staff"):
    return call(client, academy, "POST", f"{SESSIONS}{session_id}/bookings/", who,
                {"enrollment_id": enrollment.id, "link_ids": link_ids})


def state():
    """Everything a refused booking write could change."""
    db.session.expire_all()
    links = db.session.execute(select(ClinicLink.id, ClinicLink.approved, ClinicLink.resolved_at,
                                      ClinicLink.auto_managed).order_by(ClinicLink.id)).all()
    bookings = db.session.execute(select(ClinicBooking.id, ClinicBooking.attendance,
                                         ClinicBooking.cancelled_at).order_by(ClinicBooking.id)).all()
    sessions = db.session.execute(select(ClinicSession.id, ClinicSession.capacity, ClinicSession.starts_at,
                                         ClinicSession.cancelled_at).order_by(ClinicSession.id)).all()
    audits = db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    return links, bookings, sessions, audits


def link_json(client, academy, link_id):
    return call(client, academy, "GET", f"{LINKS}{link_id}/", "admin").get_json()


# ---------------------------------------------------------------- clinic sessions

def test_create_answers_the_clinic_session_with_academy_times(client, academy):
    body = new_session(client, academy, lecture=academy.algebra.id, teacher="teacher_a", note="bring notes")
    assert body["starts_at"] == "2026-04-02T15:00:00+09:00"
    assert body["ends_at"] == "2026-04-02T16:00:00+09:00"
    assert (body["room"], body["capacity"], body["lecture"], body["teacher"], body["note"]) == \
        ("B101", 2, academy.algebra.id, "teacher_a", "bring notes")
    assert (body["booked"], body["cancelled_at"], body["created_by"]) == (0, None, "staff")
    stored = db.session.get(ClinicSession, body["id"])
    # 15:00 in Seoul is 06:00 UTC.
    assert stored.starts_at.hour == 6


@pytest.mark.parametrize("change, field", [
    ({"ends_at": "2026-04-02T15:00:00"}, "ends_at"),
    ({"ends_at": "2026-04-02T14:00:00"}, "ends_at"),
    ({"capacity": 0}, "capacity"),
    ({"capacity": "3"}, "capacity"),
    ({"capacity": True}, "capacity"),
    ({"starts_at": "yesterday"}, "starts_at"),
    ({"lecture": 999999}, "lecture"),
    ({"teacher": "nobody"}, "teacher"),
    ({"colour": "red"}, "colour"),
])
def test_create_refuses_bad_values(client, academy, change, field):
    body = {"starts_at": "2026-04-02T15:00:00", "ends_at": "2026-04-02T16:00:00", "capacity": 2, **change}
    response = call(client, academy, "POST", SESSIONS, "staff", body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert db.session.execute(select(func.count()).select_from(ClinicSession)).scalar_one() == 0


def test_a_teacher_may_not_schedule_even_with_a_bad_body(client, academy):
    assert call(client, academy, "POST", SESSIONS, "teacher_a", {"capacity": 0}).status_code == 403
    response = client.post(SESSIONS, headers={**bearer(academy.tokens["teacher_a"]),
                                              "Content-Type": "application/json"}, data="{not json")
    assert response.status_code == 403


def test_lists_are_paged_and_scoped(client, academy):
    open_one = new_session(client, academy, starts_at="2026-04-03T10:00:00", ends_at="2026-04-03T11:00:00")
    algebra = new_session(client, academy, lecture=academy.algebra.id)
    geometry = new_session(client, academy, lecture=academy.geometry.id, starts_at="2026-04-01T09:00:00",
                           ends_at="2026-04-01T10:00:00")
    staff = call(client, academy, "GET", SESSIONS).get_json()
    assert staff["count"] == 3 and staff["next"] is None and staff["previous"] is None
    # Soonest first.
    assert [item["id"] for item in staff["results"]] == [geometry["id"], algebra["id"], open_one["id"]]
    teacher = call(client, academy, "GET", SESSIONS, "teacher_a").get_json()
    assert sorted(item["id"] for item in teacher["results"]) == sorted([open_one["id"], algebra["id"]])
    assert call(client, academy, "GET", f"{SESSIONS}{geometry['id']}/", "teacher_a").status_code == 404
    assert call(client, academy, "GET", f"{SESSIONS}{open_one['id']}/", "teacher_b").status_code == 200
    filtered = call(client, academy, "GET", f"{SESSIONS}?lecture={academy.algebra.id}").get_json()
    assert [item["id"] for item in filtered["results"]] == [algebra["id"]]
    paged = call(client, academy, "GET", f"{SESSIONS}?page_size=2").get_json()
    assert paged["count"] == 3 and paged["next"].endswith("page_size=2&page=2")
    assert call(client, academy, "GET", f"{SESSIONS}?page=3").status_code == 404
    assert call(client, academy, "GET", f"{SESSIONS}?ordering=room").status_code == 400


def test_teacher_may_not_edit_or_cancel(client, academy):
    algebra = new_session(client, academy, lecture=academy.algebra.id, teacher="teacher_a")
    path = f"{SESSIONS}{algebra['id']}/"
    assert call(client, academy, "PATCH", path, "teacher_a", {"capacity": 0}).status_code == 403
    assert call(client, academy, "POST", path + "cancel/", "teacher_a").status_code == 403
    geometry = new_session(client, academy, lecture=academy.geometry.id)
    assert call(client, academy, "PATCH", f"{SESSIONS}{geometry['id']}/", "teacher_a",
                {"room": "x"}).status_code == 404


# ---------------------------------------------------------------- booking

def test_booking_approves_the_links_and_shows_on_them(client, academy):
    session = new_session(client, academy, lecture=academy.algebra.id)
    first, second, third = links_of(academy.jisoo, "AUTO_FAILED")
    response = book(client, academy, session["id"], academy.jisoo, [second, first, first])
    assert response.status_code == 201, response.get_json()
    booking = response.get_json()
    assert booking["clinic_session"] == session["id"]
    assert booking["enrollment_id"] == academy.jisoo.id
    assert booking["link_ids"] == [first, second]
    assert (booking["attendance"], booking["cancelled_at"], booking["created_by"]) == (None, None, "staff")
    assert booking["created_at"].endswith("+09:00")
    for link_id in (first, second):
        link = link_json(client, academy, link_id)
        assert (link["approved"], link["approved_by"], link["auto_managed"], link["booking"]) == \
            (True, "staff", False, booking["id"])
    untouched = link_json(client, academy, third)
    assert (untouched["approved"], untouched["booking"], untouched["auto_managed"]) == (False, None, True)
    assert call(client, academy, "GET", f"{SESSIONS}{session['id']}/").get_json()["booked"] == 1


def test_booking_refusals_change_nothing(client, academy):
    algebra = new_session(client, academy, lecture=academy.algebra.id)
    jisoo = links_of(academy.jisoo)
    park = links_of(academy.park)
    before = state()
    cases = [
        (academy.minho, links_of(academy.minho), 400, "enrollment_id"),  # another lecture's student
        (academy.jisoo, [park[0]], 400, "link_ids"),  # someone else's link
        (academy.jisoo, [], 400, "link_ids"),
        (academy.jisoo, [999999], 400, "link_ids"),
        (academy.jisoo, ["1"], 400, "link_ids[0]"),
    ]
    for enrollment, link_ids, status, field in cases:
        response = book(client, academy, algebra["id"], enrollment, link_ids)
        assert (response.status_code, response.get_json()["field"]) == (status, field), response.get_json()
    response = call(client, academy, "POST", f"{SESSIONS}{algebra['id']}/bookings/", "staff",
                    {"enrollment_id": 999999, "link_ids": jisoo})
    assert (response.status_code, response.get_json()["field"]) == (400, "enrollment_id")
    assert call(client, academy, "POST", f"{SESSIONS}999999/bookings/", "staff",
                {"enrollment_id": academy.jisoo.id, "link_ids": jisoo}).status_code == 404
    assert state() == before


def test_a_resolved_link_cannot_be_booked(client, academy):
    session = new_session(client, academy)
    link_id = links_of(academy.jisoo)[0]
    assert call(client, academy, "POST", f"{LINKS}{link_id}/resolve/").status_code == 200
    response = book(client, academy, session["id"], academy.jisoo, [link_id])
    assert (response.status_code, response.get_json()["field"]) == (400, "link_ids")


def test_capacity_one_booking_twice_and_a_booked_link_are_conflicts(client, academy):
    session = new_session(client, academy, capacity=1)
    other = new_session(client, academy, starts_at="2026-04-09T15:00:00", ends_at="2026-04-09T16:00:00")
    jisoo = links_of(academy.jisoo)
    assert book(client, academy, session["id"], academy.jisoo, jisoo[:1]).status_code == 201
    before = state()
    full = book(client, academy, session["id"], academy.park, links_of(academy.park)[:1])
    assert full.status_code == 409 and full.get_json()["error"] == "conflict"
    assert "full" in full.get_json()["message"]
    assert book(client, academy, session["id"], academy.jisoo, jisoo[1:2]).status_code == 409
    assert book(client, academy, other["id"], academy.jisoo, jisoo[:2]).status_code == 409
    assert state() == before
    # Another of the student's links in another clinic is fine.
    assert book(client, academy, other["id"], academy.jisoo, jisoo[1:2]).status_code == 201


def test_overlap_is_refused_and_touching_is_fine(client, academy):
    three_to_four = new_session(client, academy)
    half_past = new_session(client, academy, starts_at="2026-04-02T15:30:00", ends_at="2026-04-02T16:30:00")
    four_to_five = new_session(client, academy, starts_at="2026-04-02T16:00:00", ends_at="2026-04-02T17:00:00")
    jisoo = links_of(academy.jisoo)
    assert book(client, academy, three_to_four["id"], academy.jisoo, jisoo[:1]).status_code == 201
    overlap = book(client, academy, half_past["id"], academy.jisoo, jisoo[1:2])
    assert (overlap.status_code, overlap.get_json()["field"]) == (409, "enrollment_id")
    assert book(client, academy, four_to_five["id"], academy.jisoo, jisoo[1:2]).status_code == 201
    # Another student is not bothered by Jisoo's clinics.
    assert book(client, academy, half_past["id"], academy.park, links_of(academy.park)[:1]).status_code == 201


def test_past_clinics_can_be_recorded(client, academy):
    session = new_session(client, academy, starts_at="2020-01-06T15:00:00", ends_at="2020-01-06T16:00:00")
    booking = book(client, academy, session["id"], academy.jisoo, links_of(academy.jisoo)[:1]).get_json()
    marked = call(client, academy, "PATCH", f"/api/clinic/bookings/{booking['id']}/", "staff",
                  {"attendance": "attended"})
    assert marked.status_code == 200 and marked.get_json()["attendance"] == "attended"


# ---------------------------------------------------------------- roll call and cancelling

def test_attended_resolves_and_no_show_returns_with_history(client, academy):
    session = new_session(client, academy)
    jisoo = links_of(academy.jisoo)
    park = links_of(academy.park)
    came = book(client, academy, session["id"], academy.jisoo, jisoo[:2]).get_json()
    missed = book(client, academy, session["id"], academy.park, park[:1]).get_json()
    answer = call(client, academy, "PATCH", f"/api/clinic/bookings/{came['id']}/", "staff",
                  {"attendance": "attended"})
    assert answer.status_code == 200 and answer.get_json()["link_ids"] == jisoo[:2]
    for link_id in jisoo[:2]:
        link = link_json(client, academy, link_id)
        assert link["resolved_at"] is not None and link["resolved_by"] == "staff"
        assert link["booking"] == came["id"]  # an attended booking stays active
    answer = call(client, academy, "PATCH", f"/api/clinic/bookings/{missed['id']}/", "admin",
                  {"attendance": "no_show"})
    assert answer.status_code == 200 and answer.get_json()["attendance"] == "no_show"
    link = link_json(client, academy, park[0])
    assert (link["approved"], link["approved_by"], link["resolved_at"], link["booking"]) == (False, None, None, None)
    # The history stays: the no-show booking is still a row covering the link.
    assert db.session.execute(select(ClinicBookingLink.booking_id).where(
        ClinicBookingLink.link_id == park[0])).scalars().all() == [missed["id"]]
    assert call(client, academy, "GET", f"{SESSIONS}{session['id']}/").get_json()["booked"] == 1
    # Marking the same again changes nothing; a no-show is final.
    audits = state()[3]
    assert call(client, academy, "PATCH", f"/api/clinic/bookings/{missed['id']}/", "staff",
                {"attendance": "no_show"}).status_code == 200
    assert state()[3] == audits
    assert call(client, academy, "PATCH", f"/api/clinic/bookings/{missed['id']}/", "staff",
                {"attendance": "attended"}).status_code == 409
    # The returned link can be booked again, into the seat the no-show gave back.
    assert book(client, academy, session["id"], academy.park, park[:1]).status_code == 201


@pytest.mark.parametrize("body, field", [({"attendance": "late"}, "attendance"), ({}, "attendance"),
                                         ({"attendance": None}, "attendance"),
                                         ({"attendance": "attended", "x": 1}, "x")])
def test_roll_call_refuses_bad_values(client, academy, body, field):
    session = new_session(client, academy)
    booking = book(client, academy, session["id"], academy.jisoo, links_of(academy.jisoo)[:1]).get_json()
    response = call(client, academy, "PATCH", f"/api/clinic/bookings/{booking['id']}/", "staff", body)
    assert (response.status_code, response.get_json()["field"]) == (400, field)


def test_cancelling_a_booking_returns_its_links(client, academy):
    session = new_session(client, academy)
    jisoo = links_of(academy.jisoo)
    booking = book(client, academy, session["id"], academy.jisoo, jisoo[:2]).get_json()
    path = f"/api/clinic/bookings/{booking['id']}/cancel/"
    answer = call(client, academy, "POST", path)
    assert answer.status_code == 200 and answer.get_json()["cancelled_at"] is not None
    for link_id in jisoo[:2]:
        link = link_json(client, academy, link_id)
        assert (link["approved"], link["booking"], link["resolved_at"]) == (False, None, None)
    before = state()
    assert call(client, academy, "POST", path).status_code == 200
    assert state() == before
    marked = call(client, academy, "PATCH", f"/api/clinic/bookings/{booking['id']}/", "staff",
                  {"attendance": "attended"})
    assert marked.status_code == 409
    # Rebooking the same student in the same clinic session is allowed again.
    assert book(client, academy, session["id"], academy.jisoo, jisoo[:2]).status_code == 201


def test_cancelling_an_attended_booking_reopens_its_links(client, academy):
    session = new_session(client, academy)
    link_id = links_of(academy.jisoo)[0]
    booking = book(client, academy, session["id"], academy.jisoo, [link_id]).get_json()
    call(client, academy, "PATCH", f"/api/clinic/bookings/{booking['id']}/", "staff", {"attendance": "attended"})
    call(client, academy, "POST", f"/api/clinic/bookings/{booking['id']}/cancel/", "admin")
    link = link_json(client, academy, link_id)
    assert (link["resolved_at"], link["approved"], link["reopened_by"]) == (None, False, "admin")


def test_editing_capacity_and_time_against_bookings(client, academy):
    session = new_session(client, academy, capacity=3)
    later = new_session(client, academy, starts_at="2026-04-02T17:00:00", ends_at="2026-04-02T18:00:00")
    book(client, academy, session["id"], academy.jisoo, links_of(academy.jisoo)[:1])
    book(client, academy, session["id"], academy.park, links_of(academy.park)[:1])
    book(client, academy, later["id"], academy.jisoo, links_of(academy.jisoo)[1:2])
    path = f"{SESSIONS}{session['id']}/"
    before = state()
    low = call(client, academy, "PATCH", path, "staff", {"capacity": 1})
    assert (low.status_code, low.get_json()["field"]) == (409, "capacity")
    overlap = call(client, academy, "PATCH", path, "staff", {"ends_at": "2026-04-02T17:30:00"})
    assert overlap.status_code == 409
    assert call(client, academy, "PATCH", path, "staff", {"ends_at": "2026-04-02T14:00:00"}).status_code == 400
    assert state() == before
    assert call(client, academy, "PATCH", path, "staff", {"capacity": 2}).get_json()["capacity"] == 2
    touching = call(client, academy, "PATCH", path, "staff", {"ends_at": "2026-04-02T17:00:00"})
    assert touching.status_code == 200 and touching.get_json()["ends_at"] == "2026-04-02T17:00:00+09:00"


def test_cancelling_a_clinic_session_cancels_its_bookings(client, academy):
    session = new_session(client, academy)
    jisoo = links_of(academy.jisoo)[:1]
    booking = book(client, academy, session["id"], academy.jisoo, jisoo).get_json()
    answer = call(client, academy, "POST", f"{SESSIONS}{session['id']}/cancel/")
    assert answer.status_code == 200
    assert answer.get_json()["cancelled_at"] is not None and answer.get_json()["booked"] == 0
    assert db.session.get(ClinicBooking, booking["id"]).cancelled_at is not None
    assert link_json(client, academy, jisoo[0])["approved"] is False
    refused = book(client, academy, session["id"], academy.jisoo, jisoo)
    assert refused.status_code == 409
    assert call(client, academy, "PATCH", f"{SESSIONS}{session['id']}/", "staff", {"capacity": 5}).status_code == 409


# ---------------------------------------------------------------- teachers

def test_teacher_books_own_students_into_a_clinic_they_teach(client, academy):
    theirs = new_session(client, academy, lecture=academy.algebra.id, teacher="teacher_a")
    not_theirs = new_session(client, academy, lecture=academy.algebra.id, starts_at="2026-04-03T15:00:00",
                             ends_at="2026-04-03T16:00:00")
    open_theirs = new_session(client, academy, teacher="teacher_a", starts_at="2026-04-04T15:00:00",
                              ends_at="2026-04-04T16:00:00")
    jisoo = links_of(academy.jisoo)
    assert book(client, academy, not_theirs["id"], academy.jisoo, jisoo[:1], "teacher_a").status_code == 403
    # Another lecture's student into the open clinic they teach: 403 before any validation.
    assert book(client, academy, open_theirs["id"], academy.minho, [], "teacher_a").status_code == 403
    created = book(client, academy, theirs["id"], academy.jisoo, jisoo[:1], "teacher_a")
    assert created.status_code == 201 and created.get_json()["created_by"] == "teacher_a"
    assert link_json(client, academy, jisoo[0])["approved_by"] == "teacher_a"
    # teacher_b cannot see the Algebra clinic nor its bookings.
    assert book(client, academy, theirs["id"], academy.minho, links_of(academy.minho), "teacher_b").status_code == 404
    booking_path = f"/api/clinic/bookings/{created.get_json()['id']}/"
    assert call(client, academy, "PATCH", booking_path, "teacher_b", {"attendance": "attended"}).status_code == 404
    marked = call(client, academy, "PATCH", booking_path, "teacher_a", {"attendance": "attended"})
    assert marked.status_code == 200
    assert link_json(client, academy, jisoo[0])["resolved_by"] == "teacher_a"


def test_teacher_may_not_take_the_roll_call_of_a_clinic_they_do_not_teach(client, academy):
    session = new_session(client, academy, lecture=academy.algebra.id)
    booking = book(client, academy, session["id"], academy.jisoo, links_of(academy.jisoo)[:1]).get_json()
    path = f"/api/clinic/bookings/{booking['id']}/"
    assert call(client, academy, "PATCH", path, "teacher_a", {"attendance": "bogus"}).status_code == 403
    assert call(client, academy, "POST", path + "cancel/", "teacher_a").status_code == 403


def test_methods_not_listed_answer_405(client, academy):
    session = new_session(client, academy)
    assert call(client, academy, "DELETE", f"{SESSIONS}{session['id']}/").status_code == 405
    assert call(client, academy, "PUT", SESSIONS).status_code == 405

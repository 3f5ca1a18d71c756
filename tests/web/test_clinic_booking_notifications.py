"""A clinic booking tells the student's guardians (SPEC §14 `booking`), once; cancelling the
booking cancels a message not yet sent. Booking, roll call and bulk actions change links, so their
versions move (SPEC §8)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.clock import now
from dashboard.extensions import db
from dashboard.models import Notification
from tests.factories import bearer, build_academy
from tests.web.test_api_clinic_sessions import book, links_of, new_session


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.commit()
    return academy


def messages(client, academy, **filters):
    query = "&".join(f"{key}={value}" for key, value in {"event": "booking", **filters}.items())
    answer = client.get(f"/api/notifications/?{query}", headers=bearer(academy.tokens["admin"]))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["results"]


def test_booking_queues_one_message_and_cancelling_cancels_it(client, academy):
    imported = client.post("/api/import", headers=bearer(academy.tokens["admin"]), json={"students": [
        {"id": academy.jisoo.student_id, "guardians": [
            {"name": "이지수 어머니", "relation": "모", "phone": "010-0000-1234", "channel": "sms", "consent": True},
            {"name": "No consent", "relation": "부", "phone": "010-0000-9999", "channel": "sms", "consent": False},
        ]}]})
    assert imported.status_code == 200, imported.get_json()
    session = new_session(client, academy, room="B101")
    booking = book(client, academy, session["id"], academy.jisoo, links_of(academy.jisoo)[:1])
    assert booking.status_code == 201, booking.get_json()

    queued = messages(client, academy, enrollment_id=academy.jisoo.id)
    assert len(queued) == 1  # the guardian without consent gets nothing
    assert queued[0]["to"] == "01000001234" and queued[0]["state"] == "review"
    assert "B101" in queued[0]["text"] and "15:00" in queued[0]["text"]

    cancel = client.post(f"/api/clinic/bookings/{booking.get_json()['id']}/cancel/",
                         headers=bearer(academy.tokens["staff"]))
    assert cancel.status_code == 200
    assert [message["state"] for message in messages(client, academy, enrollment_id=academy.jisoo.id)] \
        == ["cancelled"]


def test_booking_and_bulk_actions_raise_the_links_versions(client, academy):
    def version(link_id):
        answer = client.get(f"/api/progress/clinic-links/{link_id}/", headers=bearer(academy.tokens["admin"]))
        return answer.get_json()["version"]

    link_id = links_of(academy.jisoo)[0]
    first = version(link_id)
    session = new_session(client, academy)
    booking = book(client, academy, session["id"], academy.jisoo, [link_id]).get_json()
    booked = version(link_id)
    assert booked > first
    marked = client.patch(f"/api/clinic/bookings/{booking['id']}/", headers=bearer(academy.tokens["staff"]),
                          json={"attendance": "attended"})
    assert marked.status_code == 200
    assert version(link_id) > booked
    # A client holding the version from before the booking is refused.
    stale = client.patch(f"/api/progress/clinic-links/{link_id}/", headers={
        **bearer(academy.tokens["staff"]), "If-Match": f'"{first}"'}, json={"memo": "late"})
    assert stale.status_code == 409


def two_guardians(client, academy):
    imported = client.post("/api/import", headers=bearer(academy.tokens["admin"]), json={"students": [
        {"id": academy.jisoo.student_id, "guardians": [
            {"name": "이지수 어머니", "relation": "모", "phone": "010-0000-1234", "channel": "sms", "consent": True},
            {"name": "Lee Father", "relation": "부", "email": "dad@example.com", "channel": "email",
             "language": "en", "consent": True},
        ]}]})
    assert imported.status_code == 200, imported.get_json()


def by_recipient(client, academy) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for message in sorted(messages(client, academy, enrollment_id=academy.jisoo.id), key=lambda m: m["id"]):
        found.setdefault(message["to"], []).append((message["state"], message["text"]))
    return found


def move(client, academy, session_id, **fields):
    answer = client.patch(f"/api/clinic/sessions/{session_id}/", headers=bearer(academy.tokens["staff"]), json=fields)
    assert answer.status_code == 200, answer.get_json()


def test_moving_a_booked_clinic_rewrites_unsent_messages_and_tells_those_already_sent(client, academy):
    two_guardians(client, academy)
    session = new_session(client, academy, room="B101")  # 2026-04-02 15:00
    booked = book(client, academy, session["id"], academy.jisoo, links_of(academy.jisoo)[:1])
    assert booked.status_code == 201
    mother, father = sorted(db.session.execute(select(Notification).where(Notification.event == "booking")
                                               .order_by(Notification.id)).scalars(), key=lambda n: n.to)
    assert (mother.to, father.to) == ("01000001234", "dad@example.com")
    mother.state, mother.sent_at = "sent", now()  # delivered, as send-notifications would have
    approved = client.post(f"/api/notifications/{father.id}/approve/", headers=bearer(academy.tokens["admin"]))
    assert approved.get_json()["state"] == "queued"
    db.session.commit()

    move(client, academy, session["id"], starts_at="2026-04-03T17:00:00", ends_at="2026-04-03T18:00:00", room="C202")

    found = by_recipient(client, academy)
    assert found["01000001234"] == [
        ("sent", "[Algebra II] Lee Jisoo 학생의 보충 수업이 2026-04-02 15:00, B101에 예약되었습니다."),
        ("review", "[변경 안내] [Algebra II] Lee Jisoo 학생의 보충 수업이 2026-04-03 17:00, C202에 예약되었습니다."),
    ]
    # Approved with the old time, so it waits for a reviewer again (the lecture reviews messages).
    assert found["dad@example.com"] == [
        ("review", "[Algebra II] A clinic class for Lee Jisoo is booked on 2026-04-03 at 17:00, C202.")]

    move(client, academy, session["id"], room="C203")  # the notice not yet sent is rewritten, not repeated
    found = by_recipient(client, academy)
    assert [state for state, _ in found["01000001234"]] == ["sent", "review"]
    assert found["01000001234"][1][1].endswith("2026-04-03 17:00, C203에 예약되었습니다.")
    assert found["dad@example.com"][0][1].endswith("at 17:00, C203.")

    move(client, academy, session["id"], capacity=3)  # neither time nor room: no message changes
    assert by_recipient(client, academy) == found

    cancelled = client.post(f"/api/clinic/bookings/{booked.get_json()['id']}/cancel/",
                            headers=bearer(academy.tokens["staff"]))
    assert cancelled.status_code == 200
    assert {to: [state for state, _ in rows] for to, rows in by_recipient(client, academy).items()} == {
        "01000001234": ["sent", "cancelled"], "dad@example.com": ["cancelled"]}


def test_a_lecture_that_no_longer_notifies_bookings_sends_no_change_notice(client, academy):
    two_guardians(client, academy)
    session = new_session(client, academy, room="B101")
    assert book(client, academy, session["id"], academy.jisoo, links_of(academy.jisoo)[:1]).status_code == 201
    for notification in db.session.execute(select(Notification)).scalars():
        notification.state = "sent"
    settings = client.patch(f"/api/lectures/{academy.algebra.id}/notification-settings/",
                            headers=bearer(academy.tokens["admin"]), json={"events": ["absence"]})
    assert settings.status_code == 200
    db.session.commit()

    move(client, academy, session["id"], starts_at="2026-04-03T17:00:00", ends_at="2026-04-03T18:00:00")

    assert [state for state, _ in sum(by_recipient(client, academy).values(), [])] == ["sent", "sent"]

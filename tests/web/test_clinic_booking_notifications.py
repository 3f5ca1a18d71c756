"""A clinic booking tells the student's guardians (SPEC §14 `booking`), once; cancelling the
booking cancels a message not yet sent. Booking, roll call and bulk actions change links, so their
versions move (SPEC §8)."""
from __future__ import annotations

import pytest

from dashboard.extensions import db
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

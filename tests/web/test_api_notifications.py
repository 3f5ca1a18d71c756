"""`/api/notifications/` and the notification settings (SPEC §14), through the test client."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.extensions import db
from dashboard.models import Student
from dashboard.parents import outbox
from tests.factories import bearer, build_academy, make_guardian

LIST = "/api/notifications/"


@pytest.fixture
def academy(app):
    academy = build_academy()
    minji = db.session.get(Student, academy.minji.student_id)
    make_guardian(minji, "Kim Mother", "모", phone="01011112222")
    make_guardian(minji, "Kim Father", "부", phone=None, email="dad@example.com", channel="email", language="en")
    park = db.session.get(Student, academy.park.student_id)
    make_guardian(park, "Park Mother", "모", phone="01055556666")
    outbox.queue_absence(academy.minji.id, academy.upcoming.id)
    outbox.queue_booking(9, academy.park.id, datetime(2026, 4, 2, 7, 0, tzinfo=UTC), "201호")
    db.session.commit()
    return academy


def get(client, token, path=LIST, **query):
    return client.get(path, headers=bearer(token), query_string=query)


def post(client, token, path):
    return client.post(path, headers=bearer(token))


def test_admin_lists_every_message_with_the_contract_fields(client, academy):
    answer = get(client, academy.tokens["admin"]).get_json()

    assert answer["count"] == 3
    assert set(answer["results"][0]) == {"id", "event", "enrollment_id", "guardian", "channel", "to", "text",
                                         "state", "attempts", "last_error", "created_at", "sent_at"}
    mine = [m for m in answer["results"] if m["enrollment_id"] == academy.minji.id]
    assert sorted((m["channel"], m["to"], m["state"], m["attempts"]) for m in mine) == [
        ("email", "dad@example.com", "review", 0), ("sms", "01011112222", "review", 0)]


def test_filters_and_paging(client, academy):
    admin = academy.tokens["admin"]
    assert get(client, admin, enrollment_id=academy.minji.id).get_json()["count"] == 2
    assert get(client, admin, lecture=academy.algebra.id, event="absence").get_json()["count"] == 2
    assert get(client, admin, state="queued").get_json()["count"] == 0
    page = get(client, admin, page_size=2).get_json()
    assert (len(page["results"]), page["next"] is not None) == (2, True)
    assert get(client, admin, page=3, page_size=2).status_code == 404
    assert get(client, admin, enrollment_id="x").status_code == 400


def test_a_teacher_sees_only_their_lectures_messages(client, academy):
    assert get(client, academy.tokens["teacher_a"]).get_json()["count"] == 3
    assert get(client, academy.tokens["teacher_b"]).get_json()["count"] == 0  # Geometry: none


def test_the_lectures_teacher_approves_and_cancels_staff_may_not_and_others_get_404(client, academy):
    ids = sorted(m["id"] for m in get(client, academy.tokens["admin"], enrollment_id=academy.minji.id)
                 .get_json()["results"])

    assert post(client, academy.tokens["staff"], f"{LIST}{ids[0]}/approve/").status_code == 403
    assert post(client, academy.tokens["teacher_b"], f"{LIST}{ids[0]}/approve/").status_code == 404
    approved = post(client, academy.tokens["teacher_a"], f"{LIST}{ids[0]}/approve")
    assert (approved.status_code, approved.get_json()["state"]) == (200, "queued")
    assert post(client, academy.tokens["teacher_a"], f"{LIST}{ids[0]}/approve/").get_json()["state"] == "queued"
    cancelled = post(client, academy.tokens["admin"], f"{LIST}{ids[1]}/cancel/")
    assert (cancelled.status_code, cancelled.get_json()["state"]) == (200, "cancelled")
    refused = post(client, academy.tokens["admin"], f"{LIST}{ids[1]}/approve/")
    assert (refused.status_code, refused.get_json()["error"]) == (409, "conflict")
    assert post(client, academy.tokens["admin"], f"{LIST}999999/cancel/").status_code == 404


def test_settings_are_the_admins(client, academy):
    path = f"/api/lectures/{academy.algebra.id}/notification-settings/"
    admin = academy.tokens["admin"]
    assert get(client, admin, path).get_json() == {
        "events": ["risk_warning", "risk_danger", "booking", "absence"], "review": True}
    assert get(client, academy.tokens["teacher_a"], path).status_code == 403
    assert client.patch(path, headers=bearer(academy.tokens["teacher_a"]), json={"events": "x"}).status_code == 403

    bad = client.patch(path, headers=bearer(admin), json={"events": ["risk_danger", "weather"]})
    assert (bad.status_code, bad.get_json()["field"]) == (400, "events[1]")
    saved = client.patch(path.rstrip("/"), headers=bearer(admin), json={"review": False})
    assert saved.get_json() == {"events": ["risk_warning", "risk_danger", "booking", "absence"], "review": False}
    assert get(client, admin, "/api/lectures/999999/notification-settings/").status_code == 404

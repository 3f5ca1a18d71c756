"""An absence that arrives through a snapshot tells the guardians like a roll call on a page:
queued once, cancelled when the snapshot corrects it."""
from __future__ import annotations

import pytest

from dashboard.extensions import db
from dashboard.models import Guardian
from tests.factories import bearer, build_academy


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.add(Guardian(student_id=academy.minji.student_id, name="Kim Mother", relation="모",
                            phone="01000001111", channel="sms", language="ko", consent=True))
    db.session.commit()
    return academy


def absence_states(client, academy) -> list[str]:
    answer = client.get(f"/api/notifications/?event=absence&enrollment_id={academy.minji.id}",
                        headers=bearer(academy.tokens["admin"]))
    return [message["state"] for message in answer.get_json()["results"]]


def roll_call(client, academy, presence: str):
    answer = client.post("/api/import", headers=bearer(academy.tokens["admin"]), json={"activities": [
        {"enrollment_id": academy.minji.id, "session_id": academy.upcoming.id, "presence": presence}]})
    assert answer.status_code == 200, answer.get_json()


def test_an_imported_absence_queues_once_and_its_correction_cancels(client, academy):
    roll_call(client, academy, "absent")
    assert absence_states(client, academy) == ["review"]
    roll_call(client, academy, "absent")  # the same snapshot again changes nothing
    assert absence_states(client, academy) == ["review"]
    roll_call(client, academy, "present")
    assert absence_states(client, academy) == ["cancelled"]

"""Two identical POSTs with one Idempotency-Key at the same instant (PostgreSQL, real threads):
one runs, the other waits on the key's unique constraint and answers the stored answer."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update

from dashboard.web import idempotency
from dashboard.clock import now
from dashboard.extensions import db
from dashboard.models import ApiToken, ClinicLink, IdempotencyKey
from tests.factories import bearer, build_academy
from tests.integration.test_concurrency_requests import BARRIER_SECONDS, run_parallel


@pytest.fixture
def postgresql(backend):
    if backend != "postgresql":
        pytest.skip("parallel writers are what this tests; SQLite serialises the whole file")


def test_concurrent_duplicates_one_runs_the_other_answers_its_answer(app, postgresql, monkeypatch):
    academy = build_academy()
    # Used just now: neither request refreshes the token's last use (that UPDATE of one row would
    # make the second request wait for the first before it even looks at the key).
    db.session.execute(update(ApiToken).values(last_used_at=now()))
    db.session.commit()
    links = db.session.execute(select(func.count(ClinicLink.id))).scalar_one()
    barrier = threading.Barrier(2)
    seen = threading.local()
    original = idempotency.stored_answer

    def both_find_the_key_new(*args, **kwargs):
        answer = original(*args, **kwargs)
        if not getattr(seen, "met", False):
            seen.met = True
            barrier.wait(timeout=BARRIER_SECONDS)  # both have looked and found nothing stored
        return answer

    monkeypatch.setattr(idempotency, "stored_answer", both_find_the_key_new)
    body = {"enrollment_id": academy.jisoo.id, "session": academy.weeks[1].id, "reason": "MANUAL_REQUEST",
            "memo": "Parent asked"}
    headers = {**bearer(academy.tokens["admin"]), "Idempotency-Key": "same-key"}

    def post():
        response = app.test_client().post("/api/progress/clinic-links/", json=body, headers=headers)
        return response.status_code, response.get_json(), response.headers.get("Idempotent-Replayed")

    first, second = run_parallel(post, post)
    assert first[0] == second[0] == 201
    assert first[1] == second[1]
    assert sorted([first[2], second[2]], key=str) == [None, "true"]
    db.session.expire_all()
    assert db.session.execute(select(func.count(ClinicLink.id))).scalar_one() == links + 1
    assert db.session.execute(select(func.count(IdempotencyKey.id))).scalar_one() == 1

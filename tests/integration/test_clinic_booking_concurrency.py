"""Two people booking the last seat of a clinic session at once (SPEC §13), through the real
HTTP layer on PostgreSQL: one booking, one 409, never two.

Both requests have read the clinic session (one seat left) and validated their bodies before
either takes the clinic session's row lock: a barrier holds each at `_lock_clinic_session` until
both are there, so they race for the lock itself.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

import dashboard.clinic.sessions as clinic_sessions
from dashboard.extensions import db
from dashboard.models import ClinicBooking, ClinicLink, ClinicSession
from tests.factories import bearer, build_academy
from tests.integration.test_concurrency_requests import BARRIER_SECONDS, run_parallel


@pytest.fixture
def postgresql(backend):
    if backend != "postgresql":
        pytest.skip("parallel writers and row locks are what this tests; SQLite serialises the whole file")


def _meet_at_the_clinic_lock(monkeypatch, barrier: threading.Barrier) -> None:
    seen = threading.local()
    original = clinic_sessions._lock_clinic_session

    def waiting(clinic_session_id: int):
        if not getattr(seen, "met", False):
            seen.met = True
            barrier.wait(timeout=BARRIER_SECONDS)
        return original(clinic_session_id)

    monkeypatch.setattr(clinic_sessions, "_lock_clinic_session", waiting)


def _open_link(enrollment_id: int) -> int:
    return db.session.execute(select(ClinicLink.id).where(ClinicLink.enrollment_id == enrollment_id)
                              .order_by(ClinicLink.id).limit(1)).scalar_one()


@pytest.mark.parametrize("same_student", [False, True])
def test_two_bookings_for_the_last_seat(app, postgresql, monkeypatch, same_student):
    """Different students of different lectures (an open clinic, so no lecture lock is shared):
    capacity decides. The same student twice (two links): the one-booking-
    per-enrollment rule decides. Either way exactly one booking is made."""
    academy = build_academy()
    clinic = ClinicSession(starts_at=academy.weeks[0].created_at, ends_at=academy.weeks[0].created_at.replace(
        year=2100), capacity=1)
    db.session.add(clinic)
    db.session.flush()
    jisoo_links = list(db.session.execute(select(ClinicLink.id).where(
        ClinicLink.enrollment_id == academy.jisoo.id).order_by(ClinicLink.id)).scalars())
    if same_student:
        bodies = [{"enrollment_id": academy.jisoo.id, "link_ids": [jisoo_links[0]]},
                  {"enrollment_id": academy.jisoo.id, "link_ids": [jisoo_links[1]]}]
        clinic.capacity = 2
    else:
        bodies = [{"enrollment_id": academy.jisoo.id, "link_ids": [jisoo_links[0]]},
                  {"enrollment_id": academy.minho.id, "link_ids": [_open_link(academy.minho.id)]}]
    db.session.commit()
    clinic_id = clinic.id
    _meet_at_the_clinic_lock(monkeypatch, threading.Barrier(2))

    def booking(who: str, body: dict[str, Any]) -> Callable[[], Any]:
        def work():
            response = app.test_client().post(f"/api/clinic/sessions/{clinic_id}/bookings/",
                                              headers=bearer(academy.tokens[who]), json=body)
            return response.status_code, response.get_json()
        return work

    (status_a, body_a), (status_b, body_b) = run_parallel(booking("admin", bodies[0]), booking("staff", bodies[1]))
    assert sorted([status_a, status_b]) == [201, 409], (body_a, body_b)
    refused = body_a if status_a == 409 else body_b
    assert refused["error"] == "conflict"
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(ClinicBooking)).scalar_one() == 1
    # The refused request changed nothing: only the booked link is approved.
    approved = db.session.execute(select(func.count()).select_from(ClinicLink).where(
        ClinicLink.approved.is_(True))).scalar_one()
    assert approved == 1

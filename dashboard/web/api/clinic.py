"""`/api/clinic/...`: clinic sessions and bookings (SPEC §13).

Lists and details of clinic sessions are scoped like every list (a teacher: their lectures'
clinic sessions and the open ones); writes call one service each in dashboard.clinic.sessions,
which checks the role before the values and raises dashboard.errors refusals.
"""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from dashboard import listing as queries
from dashboard.accounts.access import visible_lecture_ids
from dashboard.clinic import sessions
from dashboard.errors import Forbidden, NotFound
from dashboard.extensions import db
from dashboard.models import User
from dashboard.web.api import bp, current_api_user, json_object, list_response
from dashboard.web.api.resources import CLINIC_BOOKING, CLINIC_SESSION, BookingRow


def _session_answer(clinic_session_id: int, status: int = 200):
    row = queries.get_row("clinic-sessions", clinic_session_id, None)
    if row is None:
        raise NotFound()
    response = jsonify(CLINIC_SESSION.dump(row))
    response.status_code = status
    return response


def _booking_answer(booking, status: int = 200):
    created_by = None
    if booking.created_by_id is not None:
        created_by = db.session.execute(select(User.username).where(User.id == booking.created_by_id)).scalar()
    response = jsonify(CLINIC_BOOKING.dump(BookingRow(booking, sessions.booking_link_ids(booking.id), created_by)))
    response.status_code = status
    return response


@bp.get("/clinic/sessions/")
def clinic_session_list():
    """Clinic sessions the caller may see, soonest first."""
    return list_response("clinic-sessions", visible_lecture_ids(current_api_user()))


@bp.post("/clinic/sessions/")
def clinic_session_create():
    """A new clinic session (admins and staff)."""
    user = current_api_user()
    # Role before validation (SPEC §8): a teacher's unreadable body is still a 403.
    if user.role not in sessions.MANAGER_ROLES:
        raise Forbidden()
    created = sessions.create_clinic_session(user, json_object())
    return _session_answer(created.id, 201)


@bp.get("/clinic/sessions/<int:clinic_session_id>/")
def clinic_session_detail(clinic_session_id: int):
    sessions.clinic_session_for(current_api_user(), clinic_session_id)
    return _session_answer(clinic_session_id)


@bp.patch("/clinic/sessions/<int:clinic_session_id>/")
def clinic_session_edit(clinic_session_id: int):
    """Edit a clinic session (admins and staff); 409 when its bookings would no longer fit."""
    user = current_api_user()
    sessions.clinic_session_for(user, clinic_session_id)
    if user.role not in sessions.MANAGER_ROLES:
        raise Forbidden()
    edited, _ = sessions.edit_clinic_session(user, clinic_session_id, json_object())
    return _session_answer(edited.id)


@bp.post("/clinic/sessions/<int:clinic_session_id>/cancel/")
def clinic_session_cancel(clinic_session_id: int):
    """Cancel a clinic session and its active bookings (admins and staff)."""
    cancelled, _ = sessions.cancel_clinic_session(current_api_user(), clinic_session_id)
    return _session_answer(cancelled.id)


@bp.post("/clinic/sessions/<int:clinic_session_id>/bookings/")
def clinic_booking_create(clinic_session_id: int):
    """Book `{"enrollment_id", "link_ids"}` into the clinic session; answers the booking (201)."""
    user = current_api_user()
    clinic_session = sessions.clinic_session_for(user, clinic_session_id)
    if not sessions.may_run(user, clinic_session):
        raise Forbidden()
    booking = sessions.book(user, clinic_session_id, json_object())
    return _booking_answer(booking, 201)


@bp.patch("/clinic/bookings/<int:booking_id>/")
def clinic_booking_mark(booking_id: int):
    """The roll call: `{"attendance": "attended" | "no_show"}`."""
    user = current_api_user()
    booking = sessions.booking_for(user, booking_id)
    if not sessions.may_mark(user, booking):
        raise Forbidden()
    marked, _ = sessions.mark_attendance(user, booking_id, json_object())
    return _booking_answer(marked)


@bp.post("/clinic/bookings/<int:booking_id>/cancel/")
def clinic_booking_cancel(booking_id: int):
    """Cancel a booking: its links go back to open and not approved."""
    cancelled, _ = sessions.cancel_booking(current_api_user(), booking_id)
    return _booking_answer(cancelled)

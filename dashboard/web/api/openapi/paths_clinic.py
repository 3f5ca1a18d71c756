"""Paths of clinic sessions and bookings (SPEC §13)."""
from __future__ import annotations

from dashboard.web.api.openapi.parts import Schema, body, errors, list_operation, ok, path_id


def paths() -> dict[str, Schema]:
    sessions = "/api/clinic/sessions/"
    session_id = path_id("clinic_session_id", "the clinic session's id")
    booking_id = path_id("booking_id", "the booking's id")
    managers = " Admins and staff; a teacher gets 403 (404 for a clinic session they cannot see)."
    return {
        sessions: {
            "get": list_operation(
                "clinic_session_list", "clinic sessions", "List clinic sessions",
                "Soonest first. A teacher sees their lectures' clinic sessions and the open ones.",
                "clinic-sessions", ("ClinicSessionPage", "A page of clinic sessions.")),
            "post": {
                "operationId": "clinic_session_create",
                "tags": ["clinic sessions"],
                "summary": "Schedule a clinic session",
                "description": "ends_at after starts_at, capacity >= 1; an unknown lecture or teacher is 400."
                               + managers,
                "requestBody": body("ClinicSessionCreate"),
                "responses": {**ok("ClinicSession", "The new clinic session.", 201), **errors(400, 403, 413)},
            },
        },
        f"{sessions}{{clinic_session_id}}/": {
            "parameters": [session_id],
            "get": {
                "operationId": "clinic_session_detail",
                "tags": ["clinic sessions"],
                "summary": "One clinic session",
                "description": "404 when it does not exist or the caller cannot see it.",
                "responses": {**ok("ClinicSession", "The clinic session."), **errors(404)},
            },
            "patch": {
                "operationId": "clinic_session_edit",
                "tags": ["clinic sessions"],
                "summary": "Change a clinic session",
                "description": "A capacity below its active bookings, or a time that makes a booked student "
                               "overlap another of their clinics, is 409; so is changing a cancelled one."
                               + managers,
                "requestBody": body("ClinicSessionChange"),
                "responses": {**ok("ClinicSession", "The clinic session."), **errors(400, 403, 404, 409, 413)},
            },
        },
        f"{sessions}{{clinic_session_id}}/cancel/": {
            "parameters": [session_id],
            "post": {
                "operationId": "clinic_session_cancel",
                "tags": ["clinic sessions"],
                "summary": "Cancel a clinic session",
                "description": "Cancels its active bookings too (their links go back to open and not "
                               "approved). Cancelling again changes nothing. No body." + managers,
                "responses": {**ok("ClinicSession", "The clinic session."), **errors(403, 404)},
            },
        },
        f"{sessions}{{clinic_session_id}}/bookings/": {
            "parameters": [session_id],
            "post": {
                "operationId": "clinic_booking_create",
                "tags": ["clinic sessions"],
                "summary": "Book a student into a clinic session",
                "description": "Approves the booked links. Admins and staff; a teacher into a clinic session "
                               "they teach, for their own lectures' students (403 otherwise). An enrollment of "
                               "another lecture than the clinic session's, or link_ids that are not open links "
                               "of that enrollment, are 400. A full clinic session, the student already booked "
                               "there or elsewhere at an overlapping time, a link already booked, or a "
                               "cancelled clinic session is 409.",
                "requestBody": body("ClinicBookingCreate"),
                "responses": {**ok("ClinicBooking", "The new booking.", 201),
                              **errors(400, 403, 404, 409, 413)},
            },
        },
        "/api/clinic/bookings/{booking_id}/": {
            "parameters": [booking_id],
            "patch": {
                "operationId": "clinic_booking_mark",
                "tags": ["clinic sessions"],
                "summary": "Take a booking's roll call",
                "description": "`attended` resolves the booked links; `no_show` puts them back to open and not "
                               "approved. A cancelled or no-show booking cannot be marked again (409). Admins, "
                               "staff, or the clinic session's teacher.",
                "requestBody": body("ClinicBookingMark"),
                "responses": {**ok("ClinicBooking", "The booking."), **errors(400, 403, 404, 409, 413)},
            },
        },
        "/api/clinic/bookings/{booking_id}/cancel/": {
            "parameters": [booking_id],
            "post": {
                "operationId": "clinic_booking_cancel",
                "tags": ["clinic sessions"],
                "summary": "Cancel a booking",
                "description": "Its links go back to open and not approved; the booking stays as history. "
                               "Cancelling again changes nothing. Admins, staff, or the clinic session's "
                               "teacher. No body.",
                "responses": {**ok("ClinicBooking", "The booking."), **errors(403, 404)},
            },
        },
    }


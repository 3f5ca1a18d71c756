"""JSON shapes of the API objects (SPEC §8): the seed models' field names, foreign keys as integer
ids, people as usernames, times ISO 8601 with the academy's offset, scores as JSON numbers.

Each function takes a row of the matching select in dashboard.listing (the object plus the
joined values it needs), so serializing a page issues no query.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from dashboard.clock import to_academy_iso
from dashboard.progress.rules import POLICY_FIELDS


def number(value: Decimal | int | None) -> int | float | None:
    """A score as a JSON number: whole values as integers, others as the shortest exact decimal."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def time(value: datetime | None) -> str | None:
    return to_academy_iso(value)


def _stamps(obj: Any) -> dict[str, Any]:
    return {"created_at": time(obj.created_at), "updated_at": time(obj.updated_at)}


def policy(row: Any) -> dict[str, Any]:
    obj = row[0]
    data: dict[str, Any] = {"id": obj.id, "lecture": obj.lecture_id}
    for name in POLICY_FIELDS:
        value = getattr(obj, name)
        data[name] = number(value) if isinstance(value, Decimal) else value
    data["version"] = obj.version
    data.update(_stamps(obj))
    return data


def session_progress(row: Any) -> dict[str, Any]:
    obj = row[0]
    return {
        "id": obj.id,
        "enrollment_id": obj.enrollment_id,
        "session": obj.session_id,
        "lecture": row.lecture_id,
        "student_name": row.student_name,
        "attendance_type": obj.attendance_type,
        "presence": row.presence,
        "video_progress_rate": obj.video_progress_rate,
        "video_completed": obj.video_completed,
        "exam_attempted": obj.exam_attempted,
        "exam_aggregate_score": number(obj.exam_aggregate_score),
        "exam_passed": obj.exam_passed,
        "exam_meta": obj.exam_meta,
        "homework_submitted": obj.homework_submitted,
        "homework_passed": obj.homework_passed,
        "completed": obj.completed,
        "completed_at": time(obj.completed_at),
        "calculated_at": time(obj.calculated_at),
        "meta": obj.meta,
        **_stamps(obj),
    }


def lecture_progress(row: Any) -> dict[str, Any]:
    obj = row[0]
    return {
        "id": obj.id,
        "enrollment_id": obj.enrollment_id,
        "lecture": obj.lecture_id,
        "student_name": row.student_name,
        "total_sessions": obj.total_sessions,
        "completed_sessions": obj.completed_sessions,
        "failed_sessions": obj.failed_sessions,
        "consecutive_failed_sessions": obj.consecutive_failed_sessions,
        "risk_level": obj.risk_level,
        "last_session": obj.last_session_id,
        "last_updated": time(obj.last_updated),
        "meta": obj.meta,
        **_stamps(obj),
    }


def clinic_link(row: Any) -> dict[str, Any]:
    obj = row[0]
    return {
        "id": obj.id,
        "enrollment_id": obj.enrollment_id,
        "session": obj.session_id,
        "lecture": row.lecture_id,
        "student_name": row.student_name,
        "reason": obj.reason,
        "is_auto": obj.is_auto,
        "approved": obj.approved,
        "resolved_at": time(obj.resolved_at),
        "memo": obj.memo,
        "meta": obj.meta,
        "auto_managed": obj.auto_managed,
        "created_by": row.created_by,
        "approved_by": row.approved_by,
        "approved_at": time(obj.approved_at),
        "resolved_by": row.resolved_by,
        "reopened_by": row.reopened_by,
        "reopened_at": time(obj.reopened_at),
        "booking": row.booking_id,
        "version": obj.version,
        **_stamps(obj),
    }


def clinic_session(row: Any) -> dict[str, Any]:
    """SPEC §13: the clinic session's fields, `booked` (active bookings) and `cancelled_at`."""
    obj = row[0]
    return {
        "id": obj.id,
        "starts_at": time(obj.starts_at),
        "ends_at": time(obj.ends_at),
        "room": obj.room,
        "capacity": obj.capacity,
        "lecture": obj.lecture_id,
        "teacher": row.teacher,
        "note": obj.note,
        "booked": row.booked,
        "cancelled_at": time(obj.cancelled_at),
        "created_by": row.created_by,
        **_stamps(obj),
    }


def clinic_booking(booking: Any, link_ids: list[int], created_by: str | None) -> dict[str, Any]:
    """SPEC §13: a booking with the ids of the links it covers."""
    return {
        "id": booking.id,
        "clinic_session": booking.clinic_session_id,
        "enrollment_id": booking.enrollment_id,
        "link_ids": link_ids,
        "attendance": booking.attendance,
        "cancelled_at": time(booking.cancelled_at),
        "created_at": time(booking.created_at),
        "created_by": created_by,
        "updated_at": time(booking.updated_at),
    }


def risk_log(row: Any) -> dict[str, Any]:
    obj = row[0]
    return {
        "id": obj.id,
        "enrollment_id": obj.enrollment_id,
        "session": obj.session_id,
        "lecture": row.lecture_id,
        "student_name": row.student_name,
        "risk_level": obj.risk_level,
        "rule": obj.rule,
        "reason": obj.reason,
        "meta": obj.meta,
        **_stamps(obj),
    }


def audit_entry(row: Any) -> dict[str, Any]:
    obj = row[0]
    return {
        "id": obj.id,
        "user": obj.username,
        "action": obj.action,
        "object_type": obj.object_type,
        "object_id": obj.object_id,
        "lecture": obj.lecture_id,
        "before": obj.before,
        "after": obj.after,
        "created_at": time(obj.created_at),
    }


def notification(row: Any) -> dict[str, Any]:
    """A message to a guardian (SPEC §14): `guardian` is the guardian's id (null once deleted)."""
    obj = row[0]
    return {
        "id": obj.id, "event": obj.event, "enrollment_id": obj.enrollment_id, "guardian": obj.guardian_id,
        "channel": obj.channel, "to": obj.to, "text": obj.text, "state": obj.state, "attempts": obj.attempts,
        "last_error": obj.last_error, "created_at": time(obj.created_at), "sent_at": time(obj.sent_at),
    }


SERIALIZERS = {
    "policies": policy,
    "session-progress": session_progress,
    "lecture-progress": lecture_progress,
    "clinic-links": clinic_link,
    "risk-logs": risk_log,
    "clinic-sessions": clinic_session,
    "audit": audit_entry,
    "notifications": notification,
}

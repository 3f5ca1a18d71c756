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
from dashboard.progress.rules import POLICY_DEFAULTS

POLICY_FIELDS = tuple(POLICY_DEFAULTS)


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
        **_stamps(obj),
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


SERIALIZERS = {
    "policies": policy,
    "session-progress": session_progress,
    "lecture-progress": lecture_progress,
    "clinic-links": clinic_link,
    "risk-logs": risk_log,
    "audit": audit_entry,
}

"""The audit trail: one AuditLog row per change, with who made it and the values before and after.

Callers pass plain values (dicts of column values, lists, scalars); they are stored as JSON,
so Decimals become numbers and dates and times ISO 8601 text.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from dashboard.clock import now, to_academy_iso
from dashboard.extensions import db
from dashboard.models import AuditLog, Enrollment, Homework, LectureSession, User


def record(
    action: str,
    obj_type: str,
    obj_id: Any,
    before: Any,
    after: Any,
    user: User | None = None,
    lecture_id: int | None = None,
) -> AuditLog | None:
    """Add (and flush) one audit row; `user` None means the system itself (a CLI command, a recompute).

    A save that changed nothing (the values before and after are the same) records nothing and
    answers None: the trail lists changes, not clicks on Save."""
    stored_before, stored_after = json_safe(before), json_safe(after)
    if stored_before is not None and stored_before == stored_after:
        return None
    entry = AuditLog(
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else None,
        action=action,
        object_type=obj_type,
        object_id=None if obj_id is None else str(obj_id),
        lecture_id=lecture_id,
        before=stored_before,
        after=stored_after,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def json_safe(value: Any) -> Any:
    """The value with every part JSON can't hold turned into a JSON number or text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return to_academy_iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [json_safe(item) for item in items]
    raise TypeError(f"cannot record a {type(value).__name__} in the audit trail")


# ---------------------------------------------------------------- imports and uploads, row by row

# A snapshot's kinds (SPEC §9) and the object each row is.
IMPORT_OBJECTS = {
    "lectures": "lecture", "sessions": "session", "students": "student", "enrollments": "enrollment",
    "exams": "exam", "attempts": "attempt", "homeworks": "homework",
    "homework_submissions": "homework_submission", "activities": "activity",
}
IMPORT_ACTION_PREFIX = "import."


def record_import_rows(changes: Mapping[str, Iterable[Any]], user: User | None) -> int:
    """One audit row per item an import or an upload creates, changes or deletes, with the
    stored values before and the new ones after (an update: only the fields that change), as
    `import.<object>.<create|update|delete>`. Called before the changes are written, while a row
    about to be deleted can still tell its lecture. One INSERT for them all; answers how many."""
    planned = [(kind, change) for kind, items in changes.items() if kind in IMPORT_OBJECTS for change in items]
    if not planned:
        return 0
    lecture_of = _import_lectures(planned)
    moment = now()
    rows = [{
        "user_id": user.id if user is not None else None,
        "username": user.username if user is not None else None,
        "action": f"{IMPORT_ACTION_PREFIX}{IMPORT_OBJECTS[kind]}.{change.action}",
        "object_type": IMPORT_OBJECTS[kind],
        "object_id": "/".join(str(part) for part in change.key)[:64],
        "lecture_id": lecture_of(kind, change),
        "before": json_safe(change.before),
        "after": json_safe(change.after),
        "created_at": moment,
    } for kind, change in planned]
    db.session.execute(insert(AuditLog.__table__), rows)
    return len(rows)


def _import_lectures(planned: list[tuple[str, Any]]):
    """A function (kind, change) -> the lecture the row belongs to, or None (students, exams):
    read in three queries from the stored enrollments, sessions and homeworks, completed by the
    ones the same import creates."""
    def values(change: Any) -> dict[str, Any]:
        return {**(change.before or {}), **(change.after or {})}

    enrollments: dict[int, int] = {}
    sessions: dict[int, int] = {}
    homeworks: dict[int, int] = {}
    for kind, change in planned:
        lecture = values(change).get("lecture_id")
        if kind == "enrollments" and lecture is not None:
            enrollments[change.key[0]] = lecture
        elif kind == "sessions" and lecture is not None:
            sessions[change.key[0]] = lecture
    wanted_enrollments = {change.key[0] for kind, change in planned
                          if kind in ("enrollments", "attempts", "homework_submissions", "activities")}
    wanted_sessions = {change.key[0] for kind, change in planned if kind == "sessions"} | {
        values(change)["session_id"] for kind, change in planned
        if kind == "homeworks" and values(change).get("session_id") is not None}
    wanted_homeworks = {change.key[0] for kind, change in planned if kind == "homeworks"}
    if missing := sorted(wanted_enrollments - enrollments.keys()):
        enrollments.update(db.session.execute(
            select(Enrollment.id, Enrollment.lecture_id).where(Enrollment.id.in_(missing))).all())
    if missing := sorted(wanted_sessions - sessions.keys()):
        sessions.update(db.session.execute(
            select(LectureSession.id, LectureSession.lecture_id).where(LectureSession.id.in_(missing))).all())
    if wanted_homeworks:
        homeworks.update(db.session.execute(
            select(Homework.id, LectureSession.lecture_id).join(LectureSession, LectureSession.id == Homework.session_id)
            .where(Homework.id.in_(sorted(wanted_homeworks)))).all())

    def lecture_of(kind: str, change: Any) -> int | None:
        key = change.key[0]
        if kind == "lectures":
            return key
        if kind == "sessions":
            return sessions.get(key)
        if kind == "homeworks":
            session = values(change).get("session_id")
            return homeworks.get(key) if key in homeworks else sessions.get(session) if session is not None else None
        if kind in ("enrollments", "attempts", "homework_submissions", "activities"):
            return enrollments.get(key)
        return None

    return lecture_of

"""The audit trail: one AuditLog row per change, with who made it and the values before and after.

Callers pass plain values (dicts of column values, lists, scalars); they are stored as JSON,
so Decimals become numbers and dates and times ISO 8601 text.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dashboard.clock import to_academy_iso
from dashboard.extensions import db
from dashboard.models import AuditLog, User


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

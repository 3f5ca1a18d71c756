"""What every table shares: the value lists the constraints name, timestamps and versions."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from dashboard.dbtypes import UTCDateTime, utcnow
from dashboard.progress.rules import INTEGER_MAX


ROLES = ("admin", "teacher", "staff")
ATTEMPT_SOURCES = ("import", "manual", "omr")
ATTENDANCE_TYPES = ("online", "offline")
# A roll call's word for a student in a session (SPEC §12); present and late mean offline.
PRESENCE_VALUES = ("present", "late", "absent", "excused")
INVALID_REASONS = ("LOW_CONFIDENCE", "BLANK", "MULTI")
RISK_LEVELS = ("NORMAL", "WARNING", "DANGER")
RISK_RULES = ("CONSECUTIVE_INCOMPLETE", "CONSECUTIVE_LOW_SCORE")
CLINIC_REASONS = ("AUTO_FAILED", "AUTO_RISK", "MANUAL_REQUEST", "TEACHER_RECOMMEND")
AUTO_CLINIC_REASONS = ("AUTO_FAILED", "AUTO_RISK")
OMR_STATUSES = ("pending", "failed", "needs_review", "graded")
MAX_ID = INTEGER_MAX  # ids are INTEGER columns


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Versioned:
    """An object whose every change raises its `version` by one (SPEC §8: a write carrying a
    stale version is refused). A mutable resource adopts it with one line: add `Versioned` to
    its bases (and the column in a migration); dashboard.models.versions checks what a write carries.

    The ORM raises the number on each UPDATE and adds `WHERE version = <loaded>` to it, so two
    writers that both read version 3 cannot both write: the second one's UPDATE matches no row
    (StaleDataError, answered 409). Core statements that change such a row raise it themselves.
    """

    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}

"""What the engine derives (SPEC §3–6): session and lecture progress, risk logs, clinic links;
and OMR scans as they come in."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.dbtypes import Score, UTCDateTime
from dashboard.extensions import db
from dashboard.models.base import (
    RISK_LEVELS,
    RISK_RULES,
    CLINIC_REASONS,
    OMR_STATUSES,
    Timestamped,
    Versioned,
    _in,
)


# ---------------------------------------------------------------- derived rows

class SessionProgress(Timestamped, db.Model):
    """One row per (enrollment, held session), written only by recompute (SPEC §3)."""

    __tablename__ = "session_progress"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "session_id"),
        Index("ix_session_progress_session", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("lecture_session.id", ondelete="CASCADE"))
    attendance_type: Mapped[str] = mapped_column(String(10), default="online")
    video_progress_rate: Mapped[int] = mapped_column(Integer, default=0)
    video_completed: Mapped[bool] = mapped_column(Boolean, default=False)
    exam_attempted: Mapped[bool] = mapped_column(Boolean, default=False)
    exam_aggregate_score: Mapped[Decimal | None] = mapped_column(Score)
    exam_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    exam_meta: Mapped[Any] = mapped_column(JSON, nullable=True)
    homework_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    homework_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    calculated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meta: Mapped[Any] = mapped_column(JSON, nullable=True)
    # A digest of the derived values: a recompute rewrites only rows whose digest changed.
    fingerprint: Mapped[str | None] = mapped_column(String(40))


class LectureProgress(Timestamped, db.Model):
    """One row per enrollment (SPEC §4)."""

    __tablename__ = "lecture_progress"
    __table_args__ = (
        CheckConstraint(_in("risk_level", RISK_LEVELS), name="risk_level"),
        Index("ix_lecture_progress_lecture", "lecture_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), unique=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"))
    total_sessions: Mapped[int] = mapped_column(Integer, default=0)
    completed_sessions: Mapped[int] = mapped_column(Integer, default=0)
    failed_sessions: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failed_sessions: Mapped[int] = mapped_column(Integer, default=0)
    risk_level: Mapped[str] = mapped_column(String(10), default="NORMAL")
    last_session_id: Mapped[int | None] = mapped_column(ForeignKey("lecture_session.id", ondelete="SET NULL"))
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meta: Mapped[Any] = mapped_column(JSON, nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(40))


class RiskLog(Timestamped, db.Model):
    """History of risk findings; a recompute only ever inserts (SPEC §5)."""

    __tablename__ = "risk_log"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "session_id", "risk_level", "rule"),
        CheckConstraint(_in("risk_level", ("WARNING", "DANGER")), name="risk_level"),
        CheckConstraint(_in("rule", RISK_RULES), name="rule"),
        Index("ix_risk_log_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("lecture_session.id", ondelete="SET NULL"), index=True)
    risk_level: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[Any] = mapped_column(JSON, nullable=True)


class ClinicLink(Versioned, Timestamped, db.Model):
    """A clinic (remedial class) booking, automatic or requested by a person (SPEC §6)."""

    __tablename__ = "clinic_link"
    __table_args__ = (
        CheckConstraint(_in("reason", CLINIC_REASONS), name="reason"),
        # At most one automatic link per (enrollment, session, reason); manual ones repeat freely.
        Index(
            "uq_clinic_link_auto",
            "enrollment_id",
            "session_id",
            "reason",
            unique=True,
            sqlite_where=text("reason IN ('AUTO_FAILED', 'AUTO_RISK')"),
            postgresql_where=text("reason IN ('AUTO_FAILED', 'AUTO_RISK')"),
        ),
        Index("ix_clinic_link_session", "session_id"),
        Index("ix_clinic_link_resolved", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lecture_session.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(30))
    is_auto: Mapped[bool] = mapped_column(Boolean, default=False)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    memo: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[Any] = mapped_column(JSON, nullable=True)
    # False once a person approved, resolved or reopened it: recompute leaves it alone from then on.
    auto_managed: Mapped[bool] = mapped_column(Boolean, default=True)
    # A digest of the cause a recompute last wrote into meta (automatic links only).
    fingerprint: Mapped[str | None] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------- OMR intake

class OmrScan(Timestamped, db.Model):
    """A scanned answer sheet and what the OMR worker read from it (SPEC §10)."""

    __tablename__ = "omr_scan"
    __table_args__ = (CheckConstraint(_in("status", OMR_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment.id", ondelete="SET NULL"))
    registered_enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    review_reasons: Mapped[Any] = mapped_column(JSON, default=list)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    request: Mapped[Any] = mapped_column(JSON, nullable=True)
    payload: Mapped[Any] = mapped_column(JSON, nullable=True)
    result_version: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str | None] = mapped_column(String(64))
    meta_used: Mapped[bool | None] = mapped_column(Boolean)
    # A person's readings of answers ({"question": ["marks", ...]}): they outlive regrading.
    corrections: Mapped[Any] = mapped_column(JSON, nullable=True)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    corrected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

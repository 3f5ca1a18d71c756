"""Guardians, counselling notes and notifications to guardians (SPEC §14)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text  # the parents' tables have columns named text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.dbtypes import UTCDateTime, utcnow
from dashboard.extensions import db
from dashboard.models.base import (
    RISK_LEVELS,
    Timestamped,
    _in,
)


# ---------------------------------------------------------------- parents: guardians, notes, notifications

GUARDIAN_CHANNELS = ("sms", "email")
GUARDIAN_LANGUAGES = ("ko", "en")
NOTIFICATION_EVENTS = ("risk_warning", "risk_danger", "booking", "absence")
NOTIFICATION_STATES = ("review", "queued", "sending", "sent", "failed", "cancelled")


class Guardian(Timestamped, db.Model):
    """A parent or other guardian of a student, and how they want to hear from the academy (SPEC §14)."""

    __tablename__ = "guardian"
    __table_args__ = (
        # A snapshot item without an id is matched by (name, relation): it must name one guardian.
        UniqueConstraint("student_id", "name", "relation"),
        CheckConstraint(_in("channel", GUARDIAN_CHANNELS), name="channel"),
        CheckConstraint(_in("language", GUARDIAN_LANGUAGES), name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(30), default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(10), default="sms")
    language: Mapped[str] = mapped_column(String(2), default="ko")
    consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))


class CounsellingNote(Timestamped, db.Model):
    """A counselling note (상담 기록) about one enrollment, with an optional follow-up date."""

    __tablename__ = "counselling_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    follow_up_on: Mapped[date | None] = mapped_column(Date, index=True)


class NotificationSetting(db.Model):
    """Which events of a lecture notify guardians, and whether a person reviews each message first.
    A lecture without a row uses the defaults (every event, review)."""

    __tablename__ = "notification_setting"

    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), primary_key=True)
    events: Mapped[Any] = mapped_column(JSON)
    review: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NotificationTemplate(db.Model):
    """The academy's own text for one event in one language; without one the built-in text is used."""

    __tablename__ = "notification_template"
    __table_args__ = (
        UniqueConstraint("event", "language"),
        CheckConstraint(_in("event", NOTIFICATION_EVENTS), name="event"),
        CheckConstraint(_in("language", GUARDIAN_LANGUAGES), name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RiskNotice(db.Model):
    """The risk level guardians were last told about for an enrollment, and which rise it belongs to:
    a fall starts a new rise, so the same level notifies again when reached again."""

    __tablename__ = "risk_notice"
    __table_args__ = (CheckConstraint(_in("level", RISK_LEVELS), name="level"),)

    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[str] = mapped_column(String(10))
    rise: Mapped[int] = mapped_column(Integer, default=1)


class Notification(Timestamped, db.Model):
    """One message to one guardian in the outbox (SPEC §14). `event_key` names the event occurrence
    (``absence:<enrollment>:<session>``): with the guardian it is unique, so an occurrence never queues twice."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_key", "guardian_id"),
        CheckConstraint(_in("event", NOTIFICATION_EVENTS), name="event"),
        CheckConstraint(_in("state", NOTIFICATION_STATES), name="state"),
        CheckConstraint(_in("channel", GUARDIAN_CHANNELS), name="channel"),
        Index("ix_notification_state_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(20))
    event_key: Mapped[str] = mapped_column(String(100))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardian.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10))
    to: Mapped[str] = mapped_column("recipient", String(254))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the cause was undone (not by a person): the same occurrence recorded again revives it.
    cancelled_by_cause: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

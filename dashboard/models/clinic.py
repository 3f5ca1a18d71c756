"""Clinic sessions and bookings (SPEC §13)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.dbtypes import UTCDateTime
from dashboard.extensions import db
from dashboard.models.base import (
    Timestamped,
    _in,
)


# ---------------------------------------------------------------- clinic sessions and bookings (SPEC §13)

CLINIC_ATTENDANCE = ("attended", "no_show")
# A booking holds its seat and its links unless cancelled or marked no-show (SPEC §13).
ACTIVE_BOOKING_SQL = "cancelled_at IS NULL AND (attendance IS NULL OR attendance <> 'no_show')"


class ClinicSession(Timestamped, db.Model):
    """A scheduled remedial class: a time, a room, a number of seats, optionally one lecture's only."""

    __tablename__ = "clinic_session"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        Index("ix_clinic_session_starts", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    room: Mapped[str | None] = mapped_column(String(100))
    capacity: Mapped[int] = mapped_column(Integer)
    # Null: a clinic open to every lecture's students.
    lecture_id: Mapped[int | None] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    teacher_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class ClinicBooking(Timestamped, db.Model):
    """One enrollment in one clinic session for some of its open clinic links.

    Cancelled and no-show bookings stay as rows: they are the link's booking history.
    """

    __tablename__ = "clinic_booking"
    __table_args__ = (
        CheckConstraint("attendance IS NULL OR " + _in("attendance", CLINIC_ATTENDANCE), name="attendance"),
        # One active booking per (clinic session, enrollment).
        Index(
            "uq_clinic_booking_active",
            "clinic_session_id",
            "enrollment_id",
            unique=True,
            sqlite_where=text(ACTIVE_BOOKING_SQL),
            postgresql_where=text(ACTIVE_BOOKING_SQL),
        ),
        Index("ix_clinic_booking_enrollment", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_session_id: Mapped[int] = mapped_column(ForeignKey("clinic_session.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    attendance: Mapped[str | None] = mapped_column(String(10))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClinicBookingLink(db.Model):
    """A clinic link covered by a booking; `active` follows the booking, so the database keeps a
    link in at most one active booking."""

    __tablename__ = "clinic_booking_link"
    __table_args__ = (
        Index(
            "uq_clinic_booking_link_active",
            "link_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    booking_id: Mapped[int] = mapped_column(ForeignKey("clinic_booking.id", ondelete="CASCADE"), primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("clinic_link.id", ondelete="CASCADE"), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

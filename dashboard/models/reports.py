"""Monthly reports: the teacher's comment and parent links (SPEC §15)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.dbtypes import UTCDateTime, utcnow
from dashboard.extensions import db
from dashboard.models.base import (
    Timestamped,
    _in,
)


# ---------------------------------------------------------------- reports (SPEC §15)

class ReportComment(Timestamped, db.Model):
    """The teacher's comment on one student's monthly report: one per (enrollment, month)."""

    __tablename__ = "report_comment"
    __table_args__ = (UniqueConstraint("enrollment_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    # The report's month as YYYY-MM.
    month: Mapped[str] = mapped_column(String(7))
    text: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class ReportLink(db.Model):
    """A parent link to one student's monthly report; only a hash of its token is stored."""

    __tablename__ = "report_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


REPORT_BATCH_STATES = ("queued", "running", "done", "failed")
_ACTIVE_BATCH = sql_text("state IN ('queued', 'running')")


class ReportBatch(db.Model):
    """A whole lecture's monthly reports as one PDF, made by `flask --app wsgi render-reports` rather
    than in the request. While one is queued or running for a lecture and month, asking again joins it
    (a partial unique index)."""

    __tablename__ = "report_batch"
    __table_args__ = (
        CheckConstraint(_in("state", REPORT_BATCH_STATES), name="state"),
        Index("uq_report_batch_active", "lecture_id", "month", unique=True,
              sqlite_where=_ACTIVE_BATCH, postgresql_where=_ACTIVE_BATCH),
        Index("ix_report_batch_lecture_month", "lecture_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    # The requester's language: the PDF's headings are in it.
    language: Mapped[str] = mapped_column(String(2), default="ko")
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reports: Mapped[int | None] = mapped_column(Integer)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

"""Monthly reports: the teacher's comment and parent links (SPEC §15)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.dbtypes import UTCDateTime, utcnow
from dashboard.extensions import db
from dashboard.models.base import (
    Timestamped,
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

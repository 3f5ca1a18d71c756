"""What the API keeps about requests: idempotency keys and rate-limit windows (SPEC §8)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.dbtypes import UTCDateTime, utcnow
from dashboard.extensions import db


# ---------------------------------------------------------------- trust: idempotency and rate limits

class IdempotencyKey(db.Model):
    """The first answer to a POST sent with `Idempotency-Key` (SPEC §8), kept per user so the
    same key again answers it without doing anything; also the one-time key of an upload's Apply.
    The unique (user, key) makes two concurrent duplicates queue: the second waits for the
    first to commit and then reads its stored answer."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ApiRateWindow(db.Model):
    """How many API requests one token made in one fixed window (API_RATE_LIMIT): one row per
    (token, window), upserted by every request, so every gunicorn worker counts together."""

    __tablename__ = "api_rate_window"
    __table_args__ = (UniqueConstraint("token_hash", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(Integer, default=0)

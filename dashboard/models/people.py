"""People: users, their lecture assignments, API tokens, login failures and the audit trail."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.dbtypes import UTCDateTime, utcnow
from dashboard.extensions import db
from dashboard.models.base import (
    ROLES,
    Timestamped,
    _in,
)


# ---------------------------------------------------------------- people

class User(Timestamped, UserMixin, db.Model):
    """A person who signs in; UserMixin gives Flask-Login is_authenticated and friends."""

    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    locale: Mapped[str | None] = mapped_column(String(8))
    # Raised by logout, a password change and deactivation: every session signed in before ends.
    session_generation: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id, the session generation and a stamp of the
        current password (accounts.session_stamp). Logout, a new password and deactivation raise
        the generation, so every session signed in before ends on its next request, even a copy
        of the cookie kept elsewhere."""
        from dashboard.accounts.users import session_stamp

        return f"{self.id}:{self.session_generation}:{session_stamp(self)}"


class TeacherLecture(db.Model):
    """A teacher assigned to a lecture."""

    __tablename__ = "teacher_lecture"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), primary_key=True)


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(db.Model):
    """One failed login, kept so every worker sees the throttle (per account and per address)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_time", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditLog(db.Model):
    """Who changed what, when, with the values before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    lecture_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

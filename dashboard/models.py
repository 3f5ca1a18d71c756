"""Tables and constraints of the dashboard (SPEC §1–6, §8, §10). No rules live here.

Every "unique" of the spec is a database constraint. Foreign keys carry their
delete behaviour (SPEC §5: deleting a session nulls its risk logs' session,
deleting an enrollment deletes its logs) so deletes need no application loops.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import text as sql_text  # the parents' tables have columns named text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from dashboard.dbtypes import Score, UTCDateTime, utcnow
from dashboard.extensions import db
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
    its bases (and the column in a migration); dashboard.versioning checks what a write carries.

    The ORM raises the number on each UPDATE and adds `WHERE version = <loaded>` to it, so two
    writers that both read version 3 cannot both write: the second one's UPDATE matches no row
    (StaleDataError, answered 409). Core statements that change such a row raise it themselves.
    """

    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


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


# ---------------------------------------------------------------- structure

class Lecture(Timestamped, db.Model):
    __tablename__ = "lecture"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The academy date of the last whole-lecture recompute (SPEC §7).
    recomputed_for: Mapped[date | None] = mapped_column(Date)


class LectureSession(Timestamped, db.Model):
    """A session (차시) of a lecture."""

    __tablename__ = "lecture_session"
    __table_args__ = (
        UniqueConstraint("lecture_id", "order"),
        CheckConstraint('"order" BETWEEN 1 AND 9999', name="order_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    order: Mapped[int] = mapped_column("order", Integer)
    title: Mapped[str | None] = mapped_column(String(200))
    date: Mapped[date | None] = mapped_column(Date)


class Student(Timestamped, db.Model):
    __tablename__ = "student"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(100))
    guardian_contact: Mapped[str | None] = mapped_column(String(100))


class Enrollment(Timestamped, db.Model):
    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("student_id", "lecture_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id", ondelete="CASCADE"), index=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date | None] = mapped_column(Date)
    # Withdrawn enrollments keep their history, frozen and hidden by default (SPEC §1).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Exam(Timestamped, db.Model):
    __tablename__ = "exam"
    __table_args__ = (
        CheckConstraint("max_score > 0", name="max_score_positive"),
        CheckConstraint("pass_score IS NULL OR (pass_score >= 0 AND pass_score <= max_score)", name="pass_score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    pass_score: Mapped[Decimal | None] = mapped_column(Score)
    max_score: Mapped[Decimal] = mapped_column(Score, default=Decimal(100))


class ExamSession(db.Model):
    """The many-to-many link between exams and sessions."""

    __tablename__ = "exam_session"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("lecture_session.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ExamQuestion(db.Model):
    """One question of an exam's answer key: the right marks as a string ("3", "24")."""

    __tablename__ = "exam_question"
    __table_args__ = (UniqueConstraint("exam_id", "number"), CheckConstraint("points >= 0", name="points"))

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(String(32))
    points: Mapped[Decimal] = mapped_column(Score, default=Decimal(1))


class Homework(Timestamped, db.Model):
    __tablename__ = "homework"
    __table_args__ = (CheckConstraint("max_score > 0", name="max_score_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lecture_session.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    max_score: Mapped[Decimal] = mapped_column(Score, default=Decimal(100))


# ---------------------------------------------------------------- facts (inputs)

class Attempt(Timestamped, db.Model):
    """One sitting of an exam; the latest one is the result (SPEC §1)."""

    __tablename__ = "attempt"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "exam_id", "attempt_no"),
        CheckConstraint("attempt_no >= 1", name="attempt_no_positive"),
        CheckConstraint("score >= 0", name="score_non_negative"),
        CheckConstraint(_in("source", ATTEMPT_SOURCES), name="source"),
        Index("ix_attempt_exam_enrollment", "exam_id", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    score: Mapped[Decimal] = mapped_column(Score)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16), default="import")


class AnswerFact(db.Model):
    """One question of one attempt (SPEC §1 'answer fact')."""

    __tablename__ = "answer_fact"
    __table_args__ = (
        UniqueConstraint("attempt_id", "question"),
        CheckConstraint("invalid_reason IS NULL OR " + _in("invalid_reason", INVALID_REASONS), name="invalid_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    question: Mapped[int] = mapped_column(Integer)
    is_correct: Mapped[bool] = mapped_column(Boolean)
    invalid_reason: Mapped[str | None] = mapped_column(String(16))
    detected: Mapped[str | None] = mapped_column(String(32))


class HomeworkSubmission(Timestamped, db.Model):
    __tablename__ = "homework_submission"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "homework_id"),
        CheckConstraint("score IS NULL OR score >= 0", name="score_non_negative"),
        Index("ix_homework_submission_homework", "homework_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    homework_id: Mapped[int] = mapped_column(ForeignKey("homework.id", ondelete="CASCADE"))
    submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[Decimal | None] = mapped_column(Score)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)


class Activity(Timestamped, db.Model):
    """Attendance and video progress of one enrollment in one session."""

    __tablename__ = "activity"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "session_id"),
        CheckConstraint(_in("attendance", ATTENDANCE_TYPES), name="attendance"),
        CheckConstraint("video_rate BETWEEN 0 AND 100", name="video_rate_range"),
        CheckConstraint(_in("presence", PRESENCE_VALUES), name="presence"),
        Index("ix_activity_session", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("lecture_session.id", ondelete="CASCADE"))
    attendance: Mapped[str] = mapped_column(String(10), default="online")
    video_rate: Mapped[int] = mapped_column(Integer, default=0)
    # The roll call (null: not taken); attendance follows from it (SPEC §12).
    presence: Mapped[str | None] = mapped_column(String(10))


# ---------------------------------------------------------------- policy

class ProgressPolicy(Versioned, Timestamped, db.Model):
    """The pass policy of one lecture (SPEC §2); defaults live in progress.rules.POLICY_DEFAULTS."""

    __tablename__ = "progress_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), unique=True)
    video_required_rate: Mapped[int] = mapped_column(Integer, default=90)
    exam_start_session_order: Mapped[int] = mapped_column(Integer, default=2)
    exam_end_session_order: Mapped[int] = mapped_column(Integer, default=9999)
    exam_pass_score: Mapped[Decimal] = mapped_column(Score, default=Decimal(60))
    exam_aggregate_strategy: Mapped[str] = mapped_column(String(10), default="MAX")
    exam_pass_source: Mapped[str] = mapped_column(String(10), default="EXAM")
    homework_start_session_order: Mapped[int] = mapped_column(Integer, default=2)
    homework_end_session_order: Mapped[int] = mapped_column(Integer, default=9999)
    homework_pass_type: Mapped[str] = mapped_column(String(30), default="TEACHER_APPROVAL")
    homework_cutline_percent: Mapped[int] = mapped_column(Integer, default=80)
    homework_round_unit: Mapped[int] = mapped_column(Integer, default=5)
    completion_grace_days: Mapped[int] = mapped_column(Integer, default=7)
    risk_warning_consecutive: Mapped[int] = mapped_column(Integer, default=2)
    risk_danger_consecutive: Mapped[int] = mapped_column(Integer, default=3)


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

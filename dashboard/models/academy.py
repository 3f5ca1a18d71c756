"""The academy and its inputs: lectures, sessions, students, enrollments, exams, homework,
attempts and answer facts, homework submissions, activities, and each lecture's pass policy."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.dbtypes import Score, UTCDateTime
from dashboard.extensions import db
from dashboard.models.base import (
    ATTEMPT_SOURCES,
    ATTENDANCE_TYPES,
    PRESENCE_VALUES,
    INVALID_REASONS,
    Timestamped,
    Versioned,
    _in,
)


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

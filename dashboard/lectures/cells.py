"""Editing one cell's inputs: activity, homework submissions and exam attempts.

Each change: check the caller may edit the lecture's inputs, validate (an `errors.Invalid` names
the field), lock the lecture, write, flush, recompute exactly the cells it touches (SPEC §7),
and record the change in the audit trail. Nothing here commits: the request boundary does.

Lost updates: every edit carries, optionally, the version of the inputs it was based on
(`expected_version`, from the cell panel's hidden `version` field). A version is a short
fingerprint of the stored values the form edits (`input_version`): it changes whenever anyone
changes them — the panel, the column entry, an upload, a snapshot or an OMR regrade — without
every one of those writers having to keep a counter. A save based on another version than the
stored one is refused with `Conflict("stale_version")` after the lecture's lock is taken, so two
tabs cannot both pass the check.

The parsers (`parse_video_rate`, `parse_attendance`, `parse_score_text`, `parse_time_text`)
turn form text into values; the Flask-WTF forms call the same functions, so a form and this
service can never disagree about what is valid.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError

from dashboard.accounts import audit
from dashboard.accounts.access import can_edit_inputs, can_read_lecture
from dashboard.clock import parse_input_time
from dashboard.errors import Conflict, Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import (
    ATTENDANCE_TYPES,
    PRESENCE_VALUES,
    Activity,
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    LectureSession,
    User,
)
from dashboard.parents import outbox
from dashboard.progress import rules
from dashboard.progress.policy_validation import decimal_from_text, parse_score
from dashboard.progress.recompute import Scope, lock_lecture, recompute
from dashboard.text.plain_numbers import plain_number


@dataclass(frozen=True)
class CellChange:
    """What a save touched: the lecture, the enrollment and the sessions recomputed."""

    lecture_id: int
    enrollment_id: int
    session_ids: frozenset[int]
    recomputed: int


# ---------------------------------------------------------------- parsing (shared with the forms)

def parse_video_rate(value: Any) -> int:
    """A whole percentage 0..100 (form text or a JSON integer; booleans and fractions are refused)."""
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            raise Invalid("video_rate_whole", "video_rate")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("video_rate_whole", "video_rate")
    if not 0 <= value <= 100:
        raise Invalid("video_rate_range", "video_rate")
    return value


def parse_attendance(value: Any) -> str:
    if value not in ATTENDANCE_TYPES:
        raise Invalid("attendance_choice", "attendance")
    return value


def parse_score_text(text: str | None, field: str = "score", required: bool = True) -> Decimal | None:
    """Decimal text with at most 2 decimals ('72.5', '72.50'); blank is None unless required."""
    text = (text or "").strip()
    if not text:
        if required:
            raise Invalid("is_required", field)
        return None
    try:
        number = decimal_from_text(text)
    except Invalid:
        raise Invalid("score_not_number", field) from None
    return check_score(number, None, field)


def check_score(value: Any, max_score: Decimal | None, field: str = "score") -> Decimal:
    """Exact, at most 2 decimals, and 0 <= value <= max_score (when given)."""
    try:
        score = parse_score(value)
    except Invalid as refused:
        raise Invalid(refused.reason, field, **refused.params) from None
    if score < 0:
        raise Invalid("at_least", field, n=0)
    if max_score is not None and score > max_score:
        raise Invalid("at_most", field, n=plain_number(max_score))
    return score


def parse_time_text(text: str | None, field: str = "submitted_at") -> datetime | None:
    """An ISO 8601 time ('2026-03-09T10:00', offset optional: read in the academy's zone); blank is None."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return parse_input_time(text)
    except ValueError:
        raise Invalid("time_text", field) from None


def _check_time(value: Any, field: str = "submitted_at") -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise Invalid("time_without_zone", field)
    return value


def _check_flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true_or_false", field)
    return value



# ---------------------------------------------------------------- versions (no lost updates)

VERSION_FIELD = "version"


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    raise TypeError(type(value).__name__)


def input_version(state: Any) -> str:
    """The version of a cell's stored inputs: 16 hex digits of a digest of their values."""
    text = json.dumps(state, sort_keys=True, default=_canonical, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def activity_state(attendance: str, video_rate: int, presence: str | None) -> dict[str, Any]:
    """What the attendance form edits (no stored activity: online, 0, not taken)."""
    return {"attendance": attendance, "video_rate": video_rate, "presence": presence}


def submission_state(submitted: bool, score: Decimal | None, approved: bool) -> dict[str, Any]:
    """What one homework's form edits (no stored submission: not submitted, no score, not approved)."""
    return {"submitted": submitted, "score": score, "approved": approved}


def attempt_state(score: Decimal, submitted_at: datetime | None) -> dict[str, Any]:
    """What an attempt's form edits."""
    return {"score": score, "submitted_at": submitted_at}


def attempts_state(attempts: list[tuple[int, Decimal]]) -> dict[str, Any]:
    """What "add an attempt" is based on: the attempts of that exam already there (number, score)."""
    return {"attempts": sorted([no, score] for no, score in attempts)}


def _check_version(expected: str | None, state: Any) -> None:
    """Refuse (409) a save based on other stored values than these; a save without a version applies."""
    if expected is not None and expected != input_version(state):
        raise Conflict("stale_version", VERSION_FIELD, current=input_version(state), expected=expected)


# ---------------------------------------------------------------- who may change what

def _enrollment_for(user: User, enrollment_id: int) -> Enrollment:
    """The enrollment, when the caller may see its lecture and edit its inputs."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or not can_read_lecture(user, enrollment.lecture_id):
        raise NotFound()
    if not can_edit_inputs(user, enrollment.lecture_id):
        raise Forbidden("inputs_forbidden")
    if enrollment.withdrawn_at is not None:
        raise Invalid("enrollment_withdrawn")
    return enrollment


def _session_in(enrollment: Enrollment, session_id: int) -> LectureSession:
    session = db.session.get(LectureSession, session_id)
    if session is None or session.lecture_id != enrollment.lecture_id:
        raise NotFound()
    return session


def _exam_session_ids(exam_id: int, lecture_id: int) -> frozenset[int]:
    """The sessions of this lecture linked to the exam: an attempt touches every one of them."""
    return frozenset(db.session.execute(
        select(ExamSession.session_id)
        .join(LectureSession, LectureSession.id == ExamSession.session_id)
        .where(ExamSession.exam_id == exam_id, LectureSession.lecture_id == lecture_id)
    ).scalars())


def _recompute(enrollment: Enrollment, session_ids: frozenset[int]) -> CellChange:
    db.session.flush()
    count = recompute(Scope(enrollment.lecture_id, frozenset({enrollment.id}), session_ids))
    return CellChange(enrollment.lecture_id, enrollment.id, session_ids, count)


# ---------------------------------------------------------------- activity

def parse_presence(value: Any) -> str | None:
    """A roll call's word (present, late, absent, excused) or None: not taken."""
    if value is not None and value not in PRESENCE_VALUES:
        raise Invalid("presence_choice", "presence")
    return value


def set_activity(user: User, enrollment_id: int, session_id: int, *, attendance: Any = rules.KEEP,
                 video_rate: Any = rules.KEEP, presence: Any = rules.KEEP,
                 expected_version: str | None = None) -> CellChange:
    """Attendance (online/offline), video rate (0..100) and roll call of one enrollment in one session.

    A value left out (`rules.KEEP`) keeps the stored one. A presence sets the attendance it means;
    an attendance given alone clears a presence that contradicts it; both given and contradicting
    are refused, naming `presence` (SPEC §12).
    """
    enrollment = _enrollment_for(user, enrollment_id)
    session = _session_in(enrollment, session_id)
    if attendance is not rules.KEEP:
        attendance = parse_attendance(attendance)
    if video_rate is not rules.KEEP:
        video_rate = parse_video_rate(video_rate)
    if presence is not rules.KEEP:
        presence = parse_presence(presence)
    lock_lecture(enrollment.lecture_id)
    activity = db.session.execute(
        select(Activity).where(Activity.enrollment_id == enrollment.id, Activity.session_id == session.id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    before = None if activity is None else {"attendance": activity.attendance, "video_rate": activity.video_rate,
                                            "presence": activity.presence}
    _check_version(expected_version, activity_state(**before) if before else activity_state("online", 0, None))
    try:
        new_attendance, new_presence = rules.roll_call(
            activity.attendance if activity else "online", activity.presence if activity else None,
            attendance=attendance, presence=presence)
    except rules.PresenceConflict:
        raise Invalid("presence_contradicts", "presence") from None
    if activity is None:
        activity = Activity(enrollment_id=enrollment.id, session_id=session.id, video_rate=0)
        db.session.add(activity)
    activity.attendance = new_attendance
    activity.presence = new_presence
    if video_rate is not rules.KEEP:
        activity.video_rate = video_rate
    change = _recompute(enrollment, frozenset({session.id}))
    after = {"attendance": activity.attendance, "video_rate": activity.video_rate, "presence": activity.presence}
    if before != after:  # a save of the same values is no change
        audit.record("activity.set", "activity", activity.id, before,
                     {"enrollment_id": enrollment.id, "session_id": session.id, **after}, user, enrollment.lecture_id)
    outbox.presence_changed(enrollment.id, session.id, before["presence"] if before else None, activity.presence)
    return change


# ---------------------------------------------------------------- homework

def set_homework_submission(user: User, enrollment_id: int, homework_id: int, *, submitted: Any, score: Any,
                            approved: Any, expected_version: str | None = None) -> CellChange:
    """Submitted, score (None or 0..max_score, 2 decimals) and teacher approval of one homework."""
    enrollment = _enrollment_for(user, enrollment_id)
    homework = db.session.get(Homework, homework_id)
    if homework is None:
        raise NotFound()
    session = _session_in(enrollment, homework.session_id)
    submitted = _check_flag(submitted, "submitted")
    approved = _check_flag(approved, "approved")
    score = None if score is None else check_score(score, homework.max_score, "score")
    lock_lecture(enrollment.lecture_id)
    submission = db.session.execute(
        select(HomeworkSubmission).where(HomeworkSubmission.enrollment_id == enrollment.id,
                                         HomeworkSubmission.homework_id == homework.id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    before = None if submission is None else {
        "submitted": submission.submitted, "score": submission.score, "approved": submission.approved}
    _check_version(expected_version, submission_state(**before) if before else submission_state(False, None, False))
    if submission is None:
        submission = HomeworkSubmission(enrollment_id=enrollment.id, homework_id=homework.id)
        db.session.add(submission)
    submission.submitted = submitted
    submission.score = score
    submission.approved = approved
    change = _recompute(enrollment, frozenset({session.id}))
    if before != {"submitted": submitted, "score": score, "approved": approved}:
        audit.record("homework_submission.set", "homework_submission", submission.id, before,
                     {"enrollment_id": enrollment.id, "homework_id": homework.id, "submitted": submitted,
                      "score": score, "approved": approved}, user, enrollment.lecture_id)
    return change


# ---------------------------------------------------------------- exam attempts

def _attempt_state(attempt: Attempt) -> dict[str, Any]:
    return {"enrollment_id": attempt.enrollment_id, "exam_id": attempt.exam_id, "attempt_no": attempt.attempt_no,
            "score": attempt.score, "submitted_at": attempt.submitted_at, "source": attempt.source}


def add_attempt(user: User, enrollment_id: int, exam_id: int, *, score: Any, submitted_at: Any,
                expected_version: str | None = None) -> tuple[Attempt, CellChange]:
    """A new attempt (the next attempt number) of an exam linked to a session of the enrollment's lecture."""
    enrollment = _enrollment_for(user, enrollment_id)
    exam = db.session.get(Exam, exam_id)
    session_ids = _exam_session_ids(exam_id, enrollment.lecture_id) if exam is not None else frozenset()
    if not session_ids:
        raise NotFound()
    score = check_score(score, exam.max_score, "score")
    submitted_at = _check_time(submitted_at)
    # The lock makes "the next number" safe: a second writer waits here until we commit.
    lock_lecture(enrollment.lecture_id)
    existing = [tuple(row) for row in db.session.execute(
        select(Attempt.attempt_no, Attempt.score).where(Attempt.enrollment_id == enrollment.id,
                                                        Attempt.exam_id == exam.id))]
    _check_version(expected_version, attempts_state(existing))
    last = max((no for no, _score in existing), default=None)
    attempt = Attempt(enrollment_id=enrollment.id, exam_id=exam.id, attempt_no=(last or 0) + 1, score=score,
                      submitted_at=submitted_at, source="manual")
    db.session.add(attempt)
    change = _recompute(enrollment, session_ids)
    audit.record("attempt.create", "attempt", attempt.id, None, _attempt_state(attempt), user, enrollment.lecture_id)
    return attempt, change


def _attempt_for(user: User, attempt_id: int) -> tuple[Attempt, Enrollment]:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        raise NotFound()
    try:
        enrollment = _enrollment_for(user, attempt.enrollment_id)
    except NotFound:
        raise NotFound() from None
    return attempt, enrollment


def _reread(attempt: Attempt) -> None:
    """The attempt as stored now, after the lecture's lock: a writer before us has committed."""
    try:
        db.session.refresh(attempt)
    except InvalidRequestError:  # deleted meanwhile
        raise NotFound() from None


def edit_attempt(user: User, attempt_id: int, *, score: Any, submitted_at: Any,
                 expected_version: str | None = None) -> CellChange:
    """Change an attempt's score and submission time."""
    attempt, enrollment = _attempt_for(user, attempt_id)
    exam = db.session.get(Exam, attempt.exam_id)
    score = check_score(score, exam.max_score, "score")
    submitted_at = _check_time(submitted_at)
    lock_lecture(enrollment.lecture_id)
    _reread(attempt)
    _check_version(expected_version, attempt_state(attempt.score, attempt.submitted_at))
    before = _attempt_state(attempt)
    if score != attempt.score:
        attempt.source = "manual"  # a typed score: neither a regrade nor the sheet changes it again
    attempt.score = score
    attempt.submitted_at = submitted_at
    change = _recompute(enrollment, _exam_session_ids(exam.id, enrollment.lecture_id))
    audit.record("attempt.update", "attempt", attempt.id, before, _attempt_state(attempt), user,
                 enrollment.lecture_id)
    return change


def delete_attempt(user: User, attempt_id: int, expected_version: str | None = None) -> CellChange:
    """Remove an attempt (and its answer facts); the result falls back to the latest remaining one."""
    attempt, enrollment = _attempt_for(user, attempt_id)
    lock_lecture(enrollment.lecture_id)
    _reread(attempt)
    _check_version(expected_version, attempt_state(attempt.score, attempt.submitted_at))
    before = _attempt_state(attempt)
    session_ids = _exam_session_ids(attempt.exam_id, enrollment.lecture_id)
    db.session.delete(attempt)
    change = _recompute(enrollment, session_ids)
    audit.record("attempt.delete", "attempt", attempt_id, before, None, user, enrollment.lecture_id)
    return change

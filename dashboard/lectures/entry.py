"""Column entry (SPEC §12): one session's roll call, video rates, exam scores and homework for
many students at once — what an assistant types after class, in one request.

`writable_session` checks the path and the caller (a session outside the lecture is a 404
before any role check; a reader who may not edit gets 403). `save_column` validates the whole
body first (every problem is named `rows[i].presence`, `rows[i].scores.<exam_id>`, … and nothing
is saved if there is one), locks the lecture, writes only what really changes with a handful of
set-based statements, recomputes exactly the cells those changes feed — in ONE recompute — and
answers which cells changed their grid word (`none`, `upcoming`, `pending`, `incomplete`,
`completed`). The number of statements does not grow with the number of students.

`load_column` is the read side of the entry page: every active student of the lecture with
their stored values for that session.

Scores: a typed score for a student without an attempt creates attempt 1; with attempts, it
replaces the score of the result (the latest attempt), which becomes hand-entered (`source`
"manual": an answer-key regrade leaves it alone); with `retake` it creates attempt
max(attempt_no) + 1. Either new attempt is submitted now. A score equal to the result's changes
nothing.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select, update

from dashboard.accounts import audit
from dashboard.accounts.access import can_edit_inputs, can_read_lecture
from dashboard.clock import academy_today, now
from dashboard.errors import Forbidden, Invalid, NotFound, Refused, all_of
from dashboard.extensions import db
from dashboard.models import (
    MAX_ID,
    PRESENCE_VALUES,
    Activity,
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    LectureSession,
    ProgressPolicy,
    SessionProgress,
    Student,
    User,
)
from dashboard.parents import outbox
from dashboard.progress import bulk, rules
from dashboard.progress.policy_validation import parse_score
from dashboard.progress.recompute import Scope, ensure_fresh, lock_lecture, recompute
from dashboard.text.plain_numbers import plain_number

KEEP = rules.KEEP
ROW_KEYS = frozenset({"enrollment_id", "presence", "video_rate", "scores", "homework"})
HOMEWORK_KEYS = frozenset({"submitted", "score", "approved"})


# ---------------------------------------------------------------- values

@dataclass(frozen=True)
class HomeworkEntry:
    """One homework of one row; KEEP leaves a value as stored."""

    submitted: Any = KEEP
    score: Any = KEEP  # Decimal, None (clears) or KEEP
    approved: Any = KEEP


@dataclass(frozen=True)
class RowEntry:
    index: int
    enrollment_id: int
    presence: Any = KEEP  # a PRESENCE_VALUES word, None (clears the roll call) or KEEP
    video_rate: Any = KEEP
    scores: Mapping[int, Decimal] = field(default_factory=dict)
    homework: Mapping[int, HomeworkEntry] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusChange:
    enrollment_id: int
    session_id: int
    before: str
    after: str

    def as_dict(self) -> dict[str, Any]:
        return {"enrollment_id": self.enrollment_id, "session": self.session_id, "before": self.before,
                "after": self.after}


@dataclass(frozen=True)
class EntryResult:
    saved: int
    changed: list[StatusChange]
    recomputed: int

    def as_dict(self) -> dict[str, Any]:
        """The answer of `PUT /api/lectures/L/sessions/S/entry`."""
        return {"saved": self.saved, "changed": [change.as_dict() for change in self.changed]}


@dataclass(frozen=True)
class _Context:
    """What validation needs: the session's exams and homework, and the rows' enrollments."""

    exams: dict[int, Decimal]  # exam id -> max score
    homeworks: dict[int, Decimal]  # homework id -> max score
    enrollments: dict[int, tuple[date | None, bool]]  # id -> (start date, withdrawn)


# ---------------------------------------------------------------- who may

def writable_session(user: User, lecture_id: int, session_id: int) -> LectureSession:
    """The session, when it is in the lecture (404 otherwise, before any role check), the caller may
    read the lecture (404) and edit its inputs (403)."""
    session = None
    if 0 < session_id <= MAX_ID and 0 < lecture_id <= MAX_ID:
        session = db.session.get(LectureSession, session_id)
    if session is None or session.lecture_id != lecture_id:
        raise NotFound()
    if not can_read_lecture(user, lecture_id):
        raise NotFound()
    if not can_edit_inputs(user, lecture_id):
        raise Forbidden()
    return session


# ---------------------------------------------------------------- parsing the body

def _context(session: LectureSession, enrollment_ids: set[int]) -> _Context:
    exams = dict(db.session.execute(
        select(Exam.id, Exam.max_score).join(ExamSession, ExamSession.exam_id == Exam.id)
        .where(ExamSession.session_id == session.id)
    ).all())
    homeworks = dict(db.session.execute(
        select(Homework.id, Homework.max_score).where(Homework.session_id == session.id)
    ).all())
    enrollments = {
        row.id: (row.start_date, row.withdrawn_at is not None)
        for row in db.session.execute(
            select(Enrollment.id, Enrollment.start_date, Enrollment.withdrawn_at)
            .where(Enrollment.lecture_id == session.lecture_id, Enrollment.id.in_(sorted(enrollment_ids)))
        )
    } if enrollment_ids else {}
    return _Context(exams, homeworks, enrollments)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key_id(text: Any) -> int | None:
    """An object key naming an id ("500"): its integer, or None."""
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 10:
        number = int(text)
        return number if 0 < number <= MAX_ID else None
    return None


def _score(value: Any, max_score: Decimal, where: str, problems: list[Refused]) -> Decimal | None:
    try:
        score = parse_score(value)
    except Invalid as refused:
        reason = "too_many_decimals" if refused.reason == "score_decimals" else "not_number"
        problems.append(Invalid(reason, where))
        return None
    if score < 0:
        problems.append(Invalid("score_negative", where))
        return None
    if score > max_score:
        problems.append(Invalid("score_above_max", where, max=plain_number(max_score)))
        return None
    return score



def parse_body(session: LectureSession, body: Any) -> tuple[bool, list[RowEntry]]:
    """The body's retake flag and rows, checked against the session; raises one `Invalid` carrying
    every problem (`errors.all_of`)."""
    problems: list[Refused] = []
    if not isinstance(body, dict):
        raise Invalid("not_object")
    for name in body:
        if name not in ("retake", "rows"):
            problems.append(Invalid("unknown_field", name))
    retake = body.get("retake", False)
    if not isinstance(retake, bool):
        problems.append(Invalid("not_boolean", "retake"))
    raw_rows = body.get("rows")
    if not isinstance(raw_rows, list):
        problems.append(Invalid("required" if raw_rows is None else "not_list", "rows"))
        raise all_of(problems)
    wanted = {row["enrollment_id"] for row in raw_rows
              if isinstance(row, dict) and _is_int(row.get("enrollment_id")) and 0 < row["enrollment_id"] <= MAX_ID}
    context = _context(session, wanted)
    rows: list[RowEntry] = []
    seen: set[int] = set()
    for index, raw in enumerate(raw_rows):
        row = _parse_row(index, raw, context, seen, problems)
        if row is not None:
            rows.append(row)
    if problems:
        raise all_of(problems)
    return retake is True, rows


def _parse_row(index: int, raw: Any, context: _Context, seen: set[int], problems: list[Refused]) -> RowEntry | None:
    place = f"rows[{index}]"
    if not isinstance(raw, dict):
        problems.append(Invalid("not_object", place))
        return None
    count = len(problems)
    for name in raw:
        if name not in ROW_KEYS:
            problems.append(Invalid("unknown_field", f"{place}.{name}"))
    enrollment_id = raw.get("enrollment_id")
    if enrollment_id is None:
        problems.append(Invalid("required", f"{place}.enrollment_id"))
    elif not _is_int(enrollment_id):
        problems.append(Invalid("not_integer", f"{place}.enrollment_id"))
    elif enrollment_id not in context.enrollments:
        problems.append(Invalid("not_in_lecture", f"{place}.enrollment_id", kind="enrollment"))
    elif context.enrollments[enrollment_id][1]:
        problems.append(Invalid("withdrawn", f"{place}.enrollment_id"))
    elif enrollment_id in seen:
        problems.append(Invalid("duplicate_row", f"{place}.enrollment_id"))
    else:
        seen.add(enrollment_id)
    values: dict[str, Any] = {}
    if "presence" in raw:
        presence = raw["presence"]
        if presence is not None and presence not in PRESENCE_VALUES:
            problems.append(Invalid("not_a_choice", f"{place}.presence", choices=", ".join(PRESENCE_VALUES)))
        values["presence"] = presence
    if "video_rate" in raw:
        rate = raw["video_rate"]
        if not _is_int(rate):
            problems.append(Invalid("not_integer", f"{place}.video_rate"))
        elif not 0 <= rate <= 100:
            problems.append(Invalid("out_of_range", f"{place}.video_rate", min=0, max=100))
        values["video_rate"] = rate
    scores: dict[int, Decimal] = {}
    raw_scores = raw.get("scores", {})
    if not isinstance(raw_scores, dict):
        problems.append(Invalid("not_object", f"{place}.scores"))
    else:
        for key, value in raw_scores.items():
            where = f"{place}.scores.{key}"
            exam_id = _key_id(key)
            if exam_id is None or exam_id not in context.exams:
                problems.append(Invalid("not_in_session", where, kind="exam"))
                continue
            score = _score(value, context.exams[exam_id], where, problems)
            if score is not None:
                scores[exam_id] = score
    homework: dict[int, HomeworkEntry] = {}
    raw_homework = raw.get("homework", {})
    if not isinstance(raw_homework, dict):
        problems.append(Invalid("not_object", f"{place}.homework"))
    else:
        for key, value in raw_homework.items():
            entry = _parse_homework(f"{place}.homework.{key}", _key_id(key), value, context, problems)
            if entry is not None:
                homework[_key_id(key)] = entry
    if len(problems) > count:
        return None
    return RowEntry(index, enrollment_id, scores=scores, homework=homework, **values)


def _parse_homework(where: str, homework_id: int | None, value: Any, context: _Context,
                    problems: list[Refused]) -> HomeworkEntry | None:
    if homework_id is None or homework_id not in context.homeworks:
        problems.append(Invalid("not_in_session", where, kind="homework"))
        return None
    if not isinstance(value, dict):
        problems.append(Invalid("not_object", where))
        return None
    count = len(problems)
    given: dict[str, Any] = {}
    for name, item in value.items():
        if name not in HOMEWORK_KEYS:
            problems.append(Invalid("unknown_field", f"{where}.{name}"))
        elif name == "score":
            given["score"] = None if item is None else _score(item, context.homeworks[homework_id],
                                                              f"{where}.score", problems)
        elif not isinstance(item, bool):
            problems.append(Invalid("not_boolean", f"{where}.{name}"))
        else:
            given[name] = item
    return HomeworkEntry(**given) if len(problems) == count else None


# ---------------------------------------------------------------- saving

def save_column(user: User, session: LectureSession, body: Any) -> EntryResult:
    """Validate and save one session's column (module docstring); flushes, never commits."""
    retake, rows = parse_body(session, body)
    lecture_id = session.lecture_id
    lock_lecture(lecture_id)
    ensure_fresh(lecture_id)
    stamp = now()
    cells: set[tuple[int, int]] = set()
    _write_activities(session, rows, cells)
    _write_attempts(session, rows, retake, stamp, cells)
    _write_submissions(session, rows, cells)
    if not cells:
        return EntryResult(len(rows), [], 0)
    statuses = _StatusReader(lecture_id, cells)
    before = statuses.read()
    db.session.flush()
    recomputed = recompute(Scope.of_cells(lecture_id, cells))
    after = statuses.read()
    changed = [StatusChange(e, s, before[(e, s)], after[(e, s)])
               for e, s in sorted(cells, key=lambda cell: (statuses.order[cell[1]], cell[0]))
               if before[(e, s)] != after[(e, s)]]
    audit.record("column_entry.save", "session", session.id, None,
                 {"retake": retake, "rows": len(rows), "cells": len(cells),
                  "changed": [change.as_dict() for change in changed]}, user, lecture_id)
    return EntryResult(len(rows), changed, recomputed)


def _write_activities(session: LectureSession, rows: list[RowEntry], cells: set[tuple[int, int]]) -> None:
    """Roll call and video: a presence sets attendance; presence null clears the roll call only."""
    wanted = [row for row in rows if row.presence is not KEEP or row.video_rate is not KEEP]
    if not wanted:
        return
    stored = {
        row.enrollment_id: row for row in db.session.execute(
            select(Activity.id, Activity.enrollment_id, Activity.attendance, Activity.video_rate, Activity.presence)
            .where(Activity.session_id == session.id,
                   Activity.enrollment_id.in_([r.enrollment_id for r in wanted]))
        )
    }
    inserts, updates, absences = [], [], []
    for row in wanted:
        old = stored.get(row.enrollment_id)
        old_values = (old.attendance, old.video_rate, old.presence) if old else ("online", 0, None)
        attendance, presence = rules.roll_call(old_values[0], old_values[2], presence=row.presence)
        if (presence == "absent") != (old_values[2] == "absent"):
            absences.append((row.enrollment_id, old_values[2], presence))
        video_rate = old_values[1] if row.video_rate is KEEP else row.video_rate
        new_values = (attendance, video_rate, presence)
        if new_values == old_values:
            continue
        if new_values[:2] != old_values[:2]:
            cells.add((row.enrollment_id, session.id))  # the roll call alone feeds no derived row
        values = {"attendance": attendance, "video_rate": video_rate, "presence": presence}
        if old is None:
            inserts.append({"enrollment_id": row.enrollment_id, "session_id": session.id, **values,
                            "created_at": now(), "updated_at": now()})
        else:
            updates.append({"id": old.id, **values, "updated_at": now()})
    bulk.insert_rows(Activity.__table__, inserts)
    if updates:
        db.session.execute(update(Activity), updates)
    # Guardians hear of an absence recorded, and of its correction (SPEC §14); absences are few.
    for enrollment_id, before, after in absences:
        outbox.presence_changed(enrollment_id, session.id, before, after)


def _latest(attempts: list[Any]) -> Any:
    return max(attempts, key=lambda attempt: rules.attempt_rank(attempt.submitted_at, attempt.attempt_no))


def _write_attempts(session: LectureSession, rows: list[RowEntry], retake: bool,
                    stamp: datetime, cells: set[tuple[int, int]]) -> None:
    typed = {(row.enrollment_id, exam_id): score for row in rows for exam_id, score in row.scores.items()}
    if not typed:
        return
    exam_ids = sorted({exam_id for _e, exam_id in typed})
    stored: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for attempt in db.session.execute(
        select(Attempt.id, Attempt.enrollment_id, Attempt.exam_id, Attempt.attempt_no, Attempt.score,
               Attempt.submitted_at)
        .where(Attempt.exam_id.in_(exam_ids), Attempt.enrollment_id.in_(sorted({e for e, _x in typed})))
    ):
        stored[(attempt.enrollment_id, attempt.exam_id)].append(attempt)
    inserts, updates, edited = [], [], set()
    for (enrollment_id, exam_id), score in sorted(typed.items()):
        attempts = stored.get((enrollment_id, exam_id), [])
        if attempts and not retake:
            latest = _latest(attempts)
            if latest.score == score:
                continue
            updates.append({"id": latest.id, "score": score, "source": "manual", "updated_at": stamp})
        else:
            number = max((attempt.attempt_no for attempt in attempts), default=0) + 1
            inserts.append({"enrollment_id": enrollment_id, "exam_id": exam_id, "attempt_no": number,
                            "score": score, "submitted_at": stamp, "source": "manual", "created_at": stamp,
                            "updated_at": stamp})
        edited.add((enrollment_id, exam_id))
    if not edited:
        return
    bulk.insert_rows(Attempt.__table__, inserts)
    if updates:
        db.session.execute(update(Attempt), updates)
    # An attempt feeds every session of this lecture its exam is linked to (SPEC §7).
    linked: dict[int, set[int]] = defaultdict(set)
    for exam_id, session_id in db.session.execute(
        select(ExamSession.exam_id, ExamSession.session_id)
        .join(LectureSession, LectureSession.id == ExamSession.session_id)
        .where(ExamSession.exam_id.in_(sorted({x for _e, x in edited})),
               LectureSession.lecture_id == session.lecture_id)
    ):
        linked[exam_id].add(session_id)
    for enrollment_id, exam_id in edited:
        cells.update((enrollment_id, session_id) for session_id in linked[exam_id])


def _write_submissions(session: LectureSession, rows: list[RowEntry], cells: set[tuple[int, int]]) -> None:
    typed = {(row.enrollment_id, homework_id): entry for row in rows for homework_id, entry in row.homework.items()}
    if not typed:
        return
    stored = {
        (row.enrollment_id, row.homework_id): row for row in db.session.execute(
            select(HomeworkSubmission.id, HomeworkSubmission.enrollment_id, HomeworkSubmission.homework_id,
                   HomeworkSubmission.submitted, HomeworkSubmission.score, HomeworkSubmission.approved)
            .where(HomeworkSubmission.homework_id.in_(sorted({h for _e, h in typed})),
                   HomeworkSubmission.enrollment_id.in_(sorted({e for e, _h in typed})))
        )
    }
    inserts, updates = [], []
    stamp = now()
    for key, entry in sorted(typed.items()):
        old = stored.get(key)
        old_values = (old.submitted, old.score, old.approved) if old else (False, None, False)
        new_values = tuple(old_value if given is KEEP else given
                           for old_value, given in zip(old_values, (entry.submitted, entry.score, entry.approved)))
        if new_values == old_values:
            continue
        values = dict(zip(("submitted", "score", "approved"), new_values))
        if old is None:
            inserts.append({"enrollment_id": key[0], "homework_id": key[1], **values, "created_at": stamp,
                            "updated_at": stamp})
        else:
            updates.append({"id": old.id, **values, "updated_at": stamp})
        cells.add((key[0], session.id))
    bulk.insert_rows(HomeworkSubmission.__table__, inserts)
    if updates:
        db.session.execute(update(HomeworkSubmission), updates)


class _StatusReader:
    """The grid words of some cells of one lecture, read before and after the recompute."""

    def __init__(self, lecture_id: int, cells: set[tuple[int, int]]) -> None:
        self.cells = cells
        self.enrollment_ids = sorted({e for e, _s in cells})
        self.session_ids = sorted({s for _e, s in cells})
        grace = db.session.execute(
            select(ProgressPolicy.completion_grace_days).where(ProgressPolicy.lecture_id == lecture_id)
        ).scalar_one_or_none()
        self.grace = 7 if grace is None else grace
        self.sessions = {
            row.id: rules.SessionInfo(row.id, row.order, row.date)
            for row in db.session.execute(select(LectureSession.id, LectureSession.order, LectureSession.date)
                                          .where(LectureSession.id.in_(self.session_ids)))
        }
        self.order = {session_id: info.order for session_id, info in self.sessions.items()}
        self.starts = dict(db.session.execute(
            select(Enrollment.id, Enrollment.start_date).where(Enrollment.id.in_(self.enrollment_ids))
        ).all())
        self.today = academy_today()

    def read(self) -> dict[tuple[int, int], str]:
        completed = {
            (row.enrollment_id, row.session_id) for row in db.session.execute(
                select(SessionProgress.enrollment_id, SessionProgress.session_id)
                .where(SessionProgress.enrollment_id.in_(self.enrollment_ids),
                       SessionProgress.session_id.in_(self.session_ids), SessionProgress.completed.is_(True))
            )
        }
        return {
            (e, s): rules.grid_status(self.sessions[s], rules.EnrollmentInfo(e, self.starts.get(e)), self.today,
                                      self.grace, (e, s) in completed)
            for e, s in self.cells
        }


# ---------------------------------------------------------------- the page's read side

@dataclass(frozen=True)
class ColumnExam:
    id: int
    title: str
    max_score: Decimal


@dataclass(frozen=True)
class ColumnHomework:
    id: int
    title: str | None
    max_score: Decimal


@dataclass
class ColumnRow:
    enrollment_id: int
    name: str
    status: str
    presence: str | None
    attendance: str
    video_rate: int
    scores: dict[int, Decimal]  # exam id -> the result's score
    homework: dict[int, tuple[bool, Decimal | None, bool]]  # homework id -> (submitted, score, approved)


@dataclass
class Column:
    lecture_id: int
    lecture_title: str
    session_id: int
    session_order: int
    session_title: str | None
    session_date: date | None
    exams: list[ColumnExam]
    homeworks: list[ColumnHomework]
    rows: list[ColumnRow]


def load_column(lecture_id: int, session_id: int) -> Column | None:
    """Every active student of the lecture (by name) with their values in the session; None when the
    session is not the lecture's. A fixed number of queries, whatever the class size."""
    from dashboard.models import Lecture

    ensure_fresh(lecture_id)
    head = db.session.execute(
        select(LectureSession, Lecture.title).join(Lecture, Lecture.id == LectureSession.lecture_id)
        .where(LectureSession.id == session_id, LectureSession.lecture_id == lecture_id)
    ).one_or_none()
    if head is None:
        return None
    session, title = head
    grace = db.session.execute(
        select(ProgressPolicy.completion_grace_days).where(ProgressPolicy.lecture_id == lecture_id)
    ).scalar_one_or_none()
    grace = 7 if grace is None else grace
    today = academy_today()
    exams = [ColumnExam(row.id, row.title, row.max_score) for row in db.session.execute(
        select(Exam.id, Exam.title, Exam.max_score).join(ExamSession, ExamSession.exam_id == Exam.id)
        .where(ExamSession.session_id == session_id).order_by(Exam.id))]
    homeworks = [ColumnHomework(row.id, row.title, row.max_score) for row in db.session.execute(
        select(Homework.id, Homework.title, Homework.max_score).where(Homework.session_id == session_id)
        .order_by(Homework.id))]
    active = and_(Enrollment.lecture_id == lecture_id, Enrollment.withdrawn_at.is_(None))
    people = db.session.execute(
        select(Enrollment.id, Student.name, Enrollment.start_date, Activity.presence, Activity.attendance,
               Activity.video_rate, SessionProgress.completed)
        .join(Student, Student.id == Enrollment.student_id)
        .outerjoin(Activity, and_(Activity.enrollment_id == Enrollment.id, Activity.session_id == session_id))
        .outerjoin(SessionProgress, and_(SessionProgress.enrollment_id == Enrollment.id,
                                         SessionProgress.session_id == session_id))
        .where(active).order_by(Student.name, Enrollment.id)
    ).all()
    info = rules.SessionInfo(session.id, session.order, session.date)
    rows = {
        person.id: ColumnRow(
            person.id, person.name,
            rules.grid_status(info, rules.EnrollmentInfo(person.id, person.start_date), today, grace,
                              bool(person.completed)),
            person.presence, person.attendance or "online", person.video_rate or 0, {}, {})
        for person in people
    }
    if exams:
        latest = rules.latest_per(db.session.execute(
            select(Attempt.enrollment_id, Attempt.exam_id, Attempt.attempt_no, Attempt.score, Attempt.submitted_at)
            .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
            .where(active, Attempt.exam_id.in_([exam.id for exam in exams]))
        ), lambda attempt: (attempt.enrollment_id, attempt.exam_id))
        for (enrollment_id, exam_id), attempt in latest.items():
            rows[enrollment_id].scores[exam_id] = attempt.score
    if homeworks:
        for submission in db.session.execute(
            select(HomeworkSubmission.enrollment_id, HomeworkSubmission.homework_id, HomeworkSubmission.submitted,
                   HomeworkSubmission.score, HomeworkSubmission.approved)
            .join(Enrollment, Enrollment.id == HomeworkSubmission.enrollment_id)
            .where(active, HomeworkSubmission.homework_id.in_([homework.id for homework in homeworks]))
        ):
            rows[submission.enrollment_id].homework[submission.homework_id] = (
                submission.submitted, submission.score, submission.approved)
    return Column(lecture_id, title, session.id, session.order, session.title, session.date, exams, homeworks,
                  list(rows.values()))


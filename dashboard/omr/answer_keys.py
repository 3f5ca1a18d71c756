"""Editing an exam's answer key (SPEC §10's key, §7's recompute): the questions, the right marks
of each ("3", or "24" for a choose-all question) and their points.

Who: admins, and the teachers of a lecture the exam is linked to, edit; staff read. A teacher
of none of the exam's lectures is told nothing (not found, as for any unknown exam).

Saving validates every row (errors name the row and the field), locks the exam's lectures
(sorted, like every exam-wide write), writes only the questions that differ, regrades the
attempts graded from the exam's scans (`regrade.regrade_exam`), recomputes every enrollment of the
exam's lectures (SPEC §7: an answer key or points changed) and records the change in the audit
trail. Saving the key as it is writes nothing. Services only flush: the request commits.

Decisions (docs/omr.md, "The answer-key editor"):
- the points may not add up to more than the exam's max score: a scan graded from such a key
  could score above the maximum, which the intake refuses (register_scan, grading);
- a key cannot be emptied while scans of the exam have been read: every answer would vanish and
  their attempts would drop to 0 (remove questions one by one instead, or fix the scans first);
- a row left wholly blank is ignored (an added row never filled in).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from dashboard.accounts import audit
from dashboard.omr import regrade, scans
from dashboard.accounts.access import can_edit_exam, can_read_exam
from dashboard.extensions import db
from dashboard.errors import Forbidden, Invalid, NotFound, all_of
from dashboard.lectures.cells import parse_score_text
from dashboard.models import MAX_ID, Exam, ExamQuestion, OmrScan, User
from dashboard.progress.recompute import lock_lecture, recompute_lecture
from dashboard.text.plain_numbers import plain_number

ANSWER_MAX_MARKS = 32  # ExamQuestion.answer is String(32); one character per mark
AUDIT_ACTION = "exam.answer_key"


@dataclass(frozen=True)
class KeyQuestion:
    """One question of a key, as validated."""

    number: int
    answer: str
    points: Decimal


@dataclass(frozen=True)
class KeySaved:
    """What a save did: whether the key changed, attempts regraded, session rows recomputed."""

    changed: bool
    regraded: int
    recomputed: int


# ---------------------------------------------------------------- who may do what

def readable_exam(user: User, exam_id: int) -> Exam:
    """The exam, when the caller may read its key: admin and staff always, a teacher when the exam
    is linked to one of their lectures (errors.NotFound otherwise)."""
    exam = db.session.get(Exam, exam_id) if 0 < exam_id <= MAX_ID else None
    if exam is None or user.role not in ("admin", "staff", "teacher") or not can_read_exam(user, exam_id):
        raise NotFound()
    return exam


def can_edit_key(user: User, exam_id: int) -> bool:
    """Admins, and a teacher of every lecture the exam is linked to: a new key regrades and
    recomputes all of them (accounts.access.can_edit_exam, the rule for shared exams)."""
    return can_edit_exam(user, exam_id)


def questions_of(exam_id: int) -> list[KeyQuestion]:
    """The stored key, by question number."""
    return [KeyQuestion(q.number, q.answer, q.points) for q in scans.answer_key(exam_id)]


def read_scan_count(exam_id: int) -> int:
    """Scans of the exam with a reading (graded or waiting for review): what a key edit regrades."""
    return db.session.execute(
        select(func.count(OmrScan.id))
        .where(OmrScan.exam_id == exam_id, OmrScan.status.in_(("graded", "needs_review")))
    ).scalar_one()


# ---------------------------------------------------------------- validation

def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _number(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("question_number", "number")
    if isinstance(value, int):
        number = value
    else:
        text = _text(value)
        if not text:
            raise Invalid("is_required", "number")
        if not text.isascii() or not text.isdigit():
            raise Invalid("question_number", "number")
        number = int(text)
    if not 1 <= number <= MAX_ID:
        raise Invalid("question_number", "number")
    return number


def parse_answer(value: Any) -> str:
    """The right marks written together ("3", "24"): one character each, none repeated."""
    text = _text(value)
    if not text:
        raise Invalid("is_required", "answer")
    if any(character.isspace() for character in text):
        raise Invalid("marks_with_spaces", "answer")
    if len(text) > ANSWER_MAX_MARKS:
        raise Invalid("too_many_marks", "answer", n=ANSWER_MAX_MARKS)
    if len(set(text)) != len(text):
        raise Invalid("repeated_mark", "answer")
    return text


def _points(value: Any) -> Decimal:
    text = value if isinstance(value, str) or value is None else str(value)
    points = parse_score_text(text, "points")
    assert points is not None  # required: parse_score_text raised otherwise
    return points


def validate_rows(exam: Exam, rows: Sequence[Mapping[str, Any]]) -> list[KeyQuestion]:
    """The rows as a key, sorted by number. Refuses with every problem at once (`errors.all_of`):
    each names its column (`number`, `answer`, `points`, or `total` for the key as a whole) and,
    for a row's problem, the row's index in `rows` as the parameter `row`."""
    problems: list[Invalid] = []
    questions: list[KeyQuestion] = []
    seen: dict[int, int] = {}
    for index, row in enumerate(rows):
        values = {name: row.get(name) for name in ("number", "answer", "points")}
        if all(_text(value) == "" for value in values.values()):
            continue
        parsed: dict[str, Any] = {}
        for name, parse in (("number", _number), ("answer", parse_answer), ("points", _points)):
            try:
                parsed[name] = parse(values[name])
            except Invalid as refused:
                problems.append(Invalid(refused.reason, name, row=index, **refused.params))
        number = parsed.get("number")
        if number is not None:
            if number in seen:
                problems.append(Invalid("question_twice", "number", row=index, n=number))
                continue
            seen[number] = index
        if len(parsed) == 3:
            questions.append(KeyQuestion(parsed["number"], parsed["answer"], parsed["points"]))
    if not problems:
        total = sum((q.points for q in questions), Decimal(0))
        if total > exam.max_score:
            problems.append(Invalid("key_points_above_max", "total", total=plain_number(total), max=plain_number(exam.max_score)))
        if not questions and read_scan_count(exam.id):
            problems.append(Invalid("graded_key_emptied", "total"))
    if problems:
        raise all_of(problems)
    return sorted(questions, key=lambda q: q.number)



# ---------------------------------------------------------------- saving

def _as_json(questions: Sequence[KeyQuestion]) -> list[dict[str, Any]]:
    return [{"number": q.number, "answer": q.answer, "points": q.points} for q in questions]


def save_answer_key(user: User, exam_id: int, rows: Sequence[Mapping[str, Any]]) -> KeySaved:
    """Replace the exam's key with `rows` (`number`, `answer`, `points` each), regrade and recompute.

    Raises errors.NotFound, Forbidden or Invalid (`validate_rows`); flushes, never commits.
    """
    exam = readable_exam(user, exam_id)
    if not can_edit_key(user, exam_id):
        raise Forbidden("exam_shared_lecture")
    wanted = validate_rows(exam, rows)
    lectures = scans.exam_lecture_ids(exam_id)
    for lecture_id in lectures:
        lock_lecture(lecture_id)
    stored = {q.number: q for q in db.session.execute(
        select(ExamQuestion).where(ExamQuestion.exam_id == exam_id).order_by(ExamQuestion.number)
    ).scalars()}
    before = [KeyQuestion(q.number, q.answer, q.points) for q in stored.values()]
    if before == wanted:
        return KeySaved(False, 0, 0)

    # Keyed by number, so a renumbered question is a delete and an insert of other numbers: the
    # (exam, number) unique constraint never sees two rows with one number.
    numbers = {q.number for q in wanted}
    for number, row in stored.items():
        if number not in numbers:
            db.session.delete(row)
    for question in wanted:
        row = stored.get(question.number)
        if row is None:
            db.session.add(ExamQuestion(exam_id=exam_id, number=question.number, answer=question.answer,
                                        points=question.points))
        elif (row.answer, row.points) != (question.answer, question.points):
            row.answer, row.points = question.answer, question.points
    db.session.flush()

    # The exam's lectures are recomputed whole just below (SPEC §7), so the regrade need not
    # recompute the enrollments it changed.
    regraded = regrade.regrade_exam(exam_id, user, recompute_changes=False)
    recomputed = sum(recompute_lecture(lecture_id) for lecture_id in lectures)
    audit.record(AUDIT_ACTION, "exam", exam_id, {"questions": _as_json(before)},
                 {"questions": _as_json(wanted), "regraded": regraded}, user=user,
                 lecture_id=lectures[0] if len(lectures) == 1 else None)
    return KeySaved(True, regraded, recomputed)

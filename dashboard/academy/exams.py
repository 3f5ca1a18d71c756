"""Setting up a lecture's exams and homework in the browser.

The same pattern as `dashboard.academy.structure`: each change checks the caller, turns the change into a
small snapshot for the snapshot importer (`import_snapshot(..., audit_import=False)`: validated
against the state it would produce, the lectures locked, written, recomputed as SPEC §7 says),
then records one audit row with the values before and after. Nothing commits. Refusals are
`dashboard.errors` ones: `NotFound`, `Forbidden`, and `Invalid` at the form's fields (several
problems of one change through `all_of`).

Rules (docs/academy-setup.md):

- An exam is set up from one lecture's page and must keep at least one link to that lecture's
  sessions (an exam with no link is inert and would vanish from every lecture). Links to other
  lectures' sessions are kept untouched when the exam is edited from this one.
- A teacher changes an exam only when they teach every lecture it is linked to (its scores and
  links change those lectures' progress); otherwise they read it.
- The answer key is edited by the one key editor (`dashboard.omr.answer_keys`, `exams.answer_key`).
- Removing an exam deletes its attempts (with their answers); removing a homework deletes its
  submissions. The page says how many before asking.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from dashboard.accounts import audit
from dashboard.lectures import cells as inputs
from dashboard.accounts.access import can_edit_exam
from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import (
    Attempt,
    Exam,
    ExamQuestion,
    ExamSession,
    Homework,
    HomeworkSubmission,
    LectureSession,
    User,
)
from dashboard.omr.scans import exam_lecture_ids
from dashboard.progress.recompute import lock_lecture
from dashboard.academy.structure import (
    TITLE_MAX_LENGTH,
    apply_snapshot,
    check_text,
    lecture_for_structure,
    new_id,
    raise_if,
    readable_lecture,
)


# ---------------------------------------------------------------- reading (for the pages)

@dataclass(frozen=True)
class ExamRow:
    """An exam as a lecture's page lists it: its sessions in this lecture (orders), attempts, questions."""

    id: int
    title: str
    pass_score: Decimal | None
    max_score: Decimal
    session_orders: list[int]
    attempts: int
    questions: int


@dataclass(frozen=True)
class HomeworkRow:
    id: int
    session_id: int
    session_order: int
    title: str | None
    max_score: Decimal
    submissions: int


def exam_ids_of(lecture_id: int) -> list[int]:
    """The exams linked to at least one session of the lecture, ascending."""
    return list(db.session.execute(
        select(ExamSession.exam_id).distinct()
        .join(LectureSession, LectureSession.id == ExamSession.session_id)
        .where(LectureSession.lecture_id == lecture_id).order_by(ExamSession.exam_id)).scalars())


def exams_of(lecture_id: int) -> list[ExamRow]:
    """The lecture's exams by title, each with its sessions' orders in this lecture and its counts."""
    ids = exam_ids_of(lecture_id)
    if not ids:
        return []
    orders: dict[int, list[int]] = {}
    for exam_id, order in db.session.execute(
            select(ExamSession.exam_id, LectureSession.order)
            .join(LectureSession, LectureSession.id == ExamSession.session_id)
            .where(LectureSession.lecture_id == lecture_id).order_by(LectureSession.order)):
        orders.setdefault(exam_id, []).append(order)
    attempts = dict(db.session.execute(
        select(Attempt.exam_id, func.count()).where(Attempt.exam_id.in_(ids)).group_by(Attempt.exam_id)).all())
    questions = dict(db.session.execute(
        select(ExamQuestion.exam_id, func.count()).where(ExamQuestion.exam_id.in_(ids))
        .group_by(ExamQuestion.exam_id)).all())
    exams = db.session.execute(select(Exam).where(Exam.id.in_(ids)).order_by(Exam.title, Exam.id)).scalars()
    return [ExamRow(e.id, e.title, e.pass_score, e.max_score, orders.get(e.id, []), attempts.get(e.id, 0),
                    questions.get(e.id, 0)) for e in exams]


def homeworks_of(lecture_id: int) -> list[HomeworkRow]:
    """The lecture's homework by session order, then id, with their submission counts."""
    submissions = (select(HomeworkSubmission.homework_id, func.count().label("n"))
                   .group_by(HomeworkSubmission.homework_id).subquery())
    rows = db.session.execute(
        select(Homework.id, Homework.session_id, LectureSession.order, Homework.title, Homework.max_score,
               func.coalesce(submissions.c.n, 0))
        .join(LectureSession, LectureSession.id == Homework.session_id)
        .outerjoin(submissions, submissions.c.homework_id == Homework.id)
        .where(LectureSession.lecture_id == lecture_id).order_by(LectureSession.order, Homework.id))
    return [HomeworkRow(*row) for row in rows]


def linked_session_ids(exam_id: int) -> set[int]:
    return set(db.session.execute(select(ExamSession.session_id).where(ExamSession.exam_id == exam_id)).scalars())


def readable_exam(user: User, lecture_id: int, exam_id: int) -> Exam:
    """An exam of the lecture (linked to one of its sessions), when the user may see the lecture."""
    readable_lecture(user, lecture_id)
    exam = db.session.get(Exam, exam_id)
    if exam is None or lecture_id not in exam_lecture_ids(exam_id):
        raise NotFound()
    return exam


def may_edit_exam(user: User, exam_id: int) -> bool:
    """Admins; a teacher who teaches every lecture the exam is linked to (access.can_edit_exam)."""
    return can_edit_exam(user, exam_id)


def readable_homework(user: User, homework_id: int) -> tuple[Homework, int]:
    """A homework and its lecture, when the user may see that lecture."""
    homework = db.session.get(Homework, homework_id)
    if homework is None:
        raise NotFound()
    lecture_id = db.session.execute(
        select(LectureSession.lecture_id).where(LectureSession.id == homework.session_id)).scalar_one()
    readable_lecture(user, lecture_id)
    return homework, lecture_id


@dataclass(frozen=True)
class ExamImpact:
    attempts: int
    lectures: int


def exam_impact(exam_id: int) -> ExamImpact:
    """What removing an exam takes: its attempts (with answers) and the lectures recomputed."""
    attempts = db.session.execute(select(func.count()).where(Attempt.exam_id == exam_id)).scalar_one()
    return ExamImpact(attempts, len(exam_lecture_ids(exam_id)))


def homework_impact(homework_id: int) -> int:
    """How many submissions go with a homework."""
    return db.session.execute(
        select(func.count()).where(HomeworkSubmission.homework_id == homework_id)).scalar_one()


# ---------------------------------------------------------------- values

def _score(problems: list[Invalid], field: str, text: str | None, required: bool) -> Decimal | None:
    try:
        return inputs.parse_score_text(text, field, required=required)
    except Invalid as refused:
        problems.append(refused)
        return None


def plain_score(number: Decimal | None) -> str | None:
    """A score as form text (`72.50` -> `72.5`; None stays None)."""
    return None if number is None else format(number.normalize(), "f")


def _exam_values(problems: list[Invalid], title: str | None, pass_score: str | None,
                 max_score: str | None) -> dict[str, Any]:
    values = {
        "title": check_text(problems, "title", title, TITLE_MAX_LENGTH, required=True),
        "pass_score": _score(problems, "pass_score", pass_score, required=False),
        "max_score": _score(problems, "max_score", max_score, required=True),
    }
    if values["max_score"] is not None and values["max_score"] <= 0:
        problems.append(Invalid("max_score_not_positive", "max_score"))
    if values["pass_score"] is not None and values["max_score"] is not None \
            and values["pass_score"] > values["max_score"]:
        problems.append(Invalid("pass_above_max", "pass_score"))
    return values


def _chosen_sessions(problems: list[Invalid], lecture_id: int, session_ids: Iterable[int]) -> set[int]:
    chosen = set(session_ids)
    own = set(db.session.execute(
        select(LectureSession.id).where(LectureSession.lecture_id == lecture_id)).scalars())
    if not chosen:
        problems.append(Invalid("choose_sessions", "session_ids"))
    elif not chosen <= own:
        problems.append(Invalid("sessions_of_other_lecture", "session_ids"))
    return chosen


def _exam_state(exam: Exam) -> dict[str, Any]:
    return {"title": exam.title, "pass_score": exam.pass_score, "max_score": exam.max_score,
            "session_ids": sorted(linked_session_ids(exam.id))}


def _snapshot_exam(values: Mapping[str, Any], session_ids: Iterable[int]) -> dict[str, Any]:
    return {"title": values["title"], "pass_score": values["pass_score"], "max_score": values["max_score"],
            "session_ids": sorted(session_ids)}


# ---------------------------------------------------------------- exams

def create_exam(user: User, lecture_id: int, title: str | None, session_ids: Iterable[int],
                pass_score: str | None, max_score: str | None) -> Exam:
    """A new exam linked to sessions of the lecture; its lecture is recomputed."""
    lecture_for_structure(user, lecture_id)
    problems: list[Invalid] = []
    values = _exam_values(problems, title, pass_score, max_score)
    chosen = _chosen_sessions(problems, lecture_id, session_ids)
    raise_if(problems)
    lock_lecture(lecture_id)
    exam_id = new_id(Exam)
    snapshot = {"id": exam_id, **_snapshot_exam(values, chosen)}
    apply_snapshot({"exams": [snapshot]}, user)
    exam = db.session.get(Exam, exam_id)
    audit.record("exam.create", "exam", exam_id, None, _exam_state(exam), user, lecture_id)
    return exam


def _exam_for_change(user: User, lecture_id: int, exam_id: int) -> Exam:
    exam = readable_exam(user, lecture_id, exam_id)
    lecture_for_structure(user, lecture_id)
    if not may_edit_exam(user, exam_id):
        raise Forbidden("exam_shared_lecture")
    return exam


def update_exam(user: User, lecture_id: int, exam_id: int, title: str | None, session_ids: Iterable[int],
                pass_score: str | None, max_score: str | None) -> Exam:
    """An exam's title, scores and its links to this lecture's sessions (links elsewhere are kept);
    a change of score or links recomputes every lecture it touches."""
    exam = _exam_for_change(user, lecture_id, exam_id)
    problems: list[Invalid] = []
    values = _exam_values(problems, title, pass_score, max_score)
    chosen = _chosen_sessions(problems, lecture_id, session_ids)
    raise_if(problems)
    lectures = set(exam_lecture_ids(exam_id)) | {lecture_id}
    for locked in sorted(lectures):
        lock_lecture(locked)
    before = _exam_state(exam)
    own = set(db.session.execute(
        select(LectureSession.id).where(LectureSession.lecture_id == lecture_id)).scalars())
    kept_elsewhere = linked_session_ids(exam_id) - own
    apply_snapshot({"exams": [{"id": exam_id, **_snapshot_exam(values, chosen | kept_elsewhere)}]}, user)
    db.session.refresh(exam)
    after = _exam_state(exam)
    if after != before:
        audit.record("exam.update", "exam", exam_id, before, after, user, lecture_id)
    return exam


def remove_exam(user: User, lecture_id: int, exam_id: int) -> None:
    """Remove an exam with its attempts, answers and answer key; its lectures are recomputed."""
    exam = _exam_for_change(user, lecture_id, exam_id)
    for locked in exam_lecture_ids(exam_id):
        lock_lecture(locked)
    before = {**_exam_state(exam), "attempts": exam_impact(exam_id).attempts}
    apply_snapshot({"exams": [{"id": exam_id, "delete": True}]}, user)
    audit.record("exam.delete", "exam", exam_id, before, None, user, lecture_id)


# ---------------------------------------------------------------- homework

def _homework_values(problems: list[Invalid], lecture_id: int, session_id: int | None, title: str | None,
                     max_score: str | None) -> dict[str, Any]:
    values = {
        "session_id": session_id,
        "title": check_text(problems, "title", title, TITLE_MAX_LENGTH, required=False),
        "max_score": _score(problems, "max_score", max_score, required=True),
    }
    if values["max_score"] is not None and values["max_score"] <= 0:
        problems.append(Invalid("max_score_not_positive", "max_score"))
    session = db.session.get(LectureSession, session_id) if session_id is not None else None
    if session is None or session.lecture_id != lecture_id:
        problems.append(Invalid("choose_lecture_session", "session_id"))
    return values


def _homework_state(homework: Homework) -> dict[str, Any]:
    return {"session_id": homework.session_id, "title": homework.title, "max_score": homework.max_score}


def _snapshot_homework(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"session_id": values["session_id"], "title": values["title"], "max_score": values["max_score"]}


def create_homework(user: User, lecture_id: int, session_id: int | None, title: str | None,
                    max_score: str | None) -> Homework:
    """A new homework on one session of the lecture; the lecture is recomputed for that session."""
    lecture_for_structure(user, lecture_id)
    problems: list[Invalid] = []
    values = _homework_values(problems, lecture_id, session_id, title, max_score)
    raise_if(problems)
    lock_lecture(lecture_id)
    homework_id = new_id(Homework)
    apply_snapshot({"homeworks": [{"id": homework_id, **_snapshot_homework(values)}]}, user)
    homework = db.session.get(Homework, homework_id)
    audit.record("homework.create", "homework", homework_id, None, _homework_state(homework), user, lecture_id)
    return homework


def update_homework(user: User, homework_id: int, session_id: int | None, title: str | None,
                    max_score: str | None) -> Homework:
    """A homework's session (within its lecture), title and maximum score."""
    homework, lecture_id = readable_homework(user, homework_id)
    lecture_for_structure(user, lecture_id)
    problems: list[Invalid] = []
    values = _homework_values(problems, lecture_id, session_id, title, max_score)
    raise_if(problems)
    lock_lecture(lecture_id)
    before = _homework_state(homework)
    apply_snapshot({"homeworks": [{"id": homework_id, **_snapshot_homework(values)}]}, user)
    db.session.refresh(homework)
    after = _homework_state(homework)
    if after != before:
        audit.record("homework.update", "homework", homework_id, before, after, user, lecture_id)
    return homework


def remove_homework(user: User, homework_id: int) -> int:
    """Remove a homework with its submissions; returns its lecture (recomputed for that session)."""
    homework, lecture_id = readable_homework(user, homework_id)
    lecture_for_structure(user, lecture_id)
    lock_lecture(lecture_id)
    before = {**_homework_state(homework), "submissions": homework_impact(homework_id)}
    apply_snapshot({"homeworks": [{"id": homework_id, "delete": True}]}, user)
    audit.record("homework.delete", "homework", homework_id, before, None, user, lecture_id)
    return lecture_id

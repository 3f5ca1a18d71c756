"""The stored rows an import looks at, loaded with a fixed number of chunked ``IN (...)`` selects per
kind, whatever the number of items."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import and_, or_, select, tuple_

from dashboard.extensions import db
from dashboard.importer.after import _After
from dashboard.importer.kinds import _KINDS, _Item
from dashboard.importer.results import KINDS
from dashboard.models import (
    Activity,
    AnswerFact,
    Attempt,
    Enrollment,
    Exam,
    ExamQuestion,
    ExamSession,
    Guardian,
    Homework,
    HomeworkSubmission,
    Lecture,
    LectureSession,
    ProgressPolicy,
    Student,
)
from dashboard.parents import guardians as guardian_rules
from dashboard.progress.policy_validation import POLICY_FIELDS

_CHUNK = 500  # ids per IN (...) list; tuples count their columns


def _chunks(values: Iterable[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rows_in(columns: Sequence[Any], match: Any, values: Iterable[Any], *where: Any) -> list[Any]:
    """SELECT columns WHERE match IN values (chunked; `match` may be a tuple_ of columns)."""
    values = sorted(set(values))
    if not values:
        return []
    # Row-value lists count one bind parameter per column.
    size = _CHUNK // len(values[0]) if isinstance(values[0], tuple) else _CHUNK
    rows: list[Any] = []
    for batch in _chunks(values, size):
        rows.extend(db.session.execute(select(*columns).where(match.in_(batch), *where)).all())
    return rows


def _rows_by_key(columns: Sequence[Any], first: Any, second: Any, keys: Iterable[tuple]) -> list[Any]:
    """Rows whose composite key (first, second, ...) is among `keys`.

    Selects by the first column (an enrollment id) in chunks, narrowed by the second, and
    filters exactly here: plain IN lists use the indexes where a row-value IN list may not.
    """
    wanted = set(keys)
    by_first: dict[int, set[int]] = defaultdict(set)
    for key in wanted:
        by_first[key[0]].add(key[1])
    width = len(next(iter(wanted))) if wanted else 0
    rows: list[Any] = []
    for batch in _chunks(sorted(by_first)):
        seconds = sorted(set().union(*(by_first[value] for value in batch)))
        where = [first.in_(batch)] + ([second.in_(seconds)] if len(seconds) <= 5 * _CHUNK else [])
        for row in db.session.execute(select(*columns).where(*where)).all():
            if tuple(row[:width]) in wanted:
                rows.append(row)
    return rows


_COLUMNS: dict[str, tuple[str, ...]] = {
    "lectures": ("id", "title"),
    "sessions": ("id", "lecture_id", "order", "title", "date"),
    "students": ("id", "name", "contact", "guardian_contact"),
    "enrollments": ("id", "student_id", "lecture_id", "start_date", "withdrawn_at"),
    "exams": ("id", "title", "pass_score", "max_score"),
    "homeworks": ("id", "session_id", "title", "max_score"),
    "attempts": ("id", "enrollment_id", "exam_id", "attempt_no", "score", "submitted_at"),
    "homework_submissions": ("id", "enrollment_id", "homework_id", "submitted", "score", "approved"),
    "activities": ("id", "enrollment_id", "session_id", "attendance", "video_rate", "presence"),
}


@dataclass(frozen=True)
class _StoredFact:
    """A stored attempt or submission: `key` as in the snapshot, `parent` its exam or homework."""

    key: tuple
    parent: int
    student_id: int
    lecture_id: int
    score: Decimal | None = None


def _stored_facts(kind: str, parents: Sequence[Any], condition: Callable[[list[Any]], Any]) -> list[_StoredFact]:
    """Stored attempts (kind "attempts") or submissions matching `condition(batch)`, with their enrollment."""
    model = Attempt if kind == "attempts" else HomeworkSubmission
    key = [model.enrollment_id, model.exam_id, model.attempt_no] if kind == "attempts" \
        else [model.enrollment_id, model.homework_id]
    facts = []
    for batch in _chunks(parents):
        query = (select(*key, Enrollment.student_id, Enrollment.lecture_id, model.score)
                 .join(Enrollment, Enrollment.id == model.enrollment_id).where(condition(batch)))
        for row in db.session.execute(query).all():
            fact_key = tuple(row[: len(key)])
            facts.append(_StoredFact(fact_key, fact_key[1], row.student_id, row.lecture_id, row.score))
    return facts


@dataclass
class _Stored:
    """The stored rows an import needs, keyed like the snapshot."""

    rows: dict[str, dict[tuple, dict[str, Any]]] = field(default_factory=lambda: {k: {} for k in KINDS})
    policies: dict[int, dict[str, Any]] = field(default_factory=dict)  # lecture id -> fields + "id"
    links: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))  # exam -> sessions
    questions: dict[int, dict[int, tuple[str, Decimal]]] = field(default_factory=lambda: defaultdict(dict))
    answers: dict[int, dict[int, tuple]] = field(default_factory=lambda: defaultdict(dict))  # attempt id ->
    # Stored guardians of the students whose list the snapshot gives, and of the ids it names.
    guardians: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    guardian_owners: dict[int, int] = field(default_factory=dict)  # guardian id -> student id
    # Lectures whose every session is loaded (their order uniqueness is checked).
    ordered_lectures: set[int] = field(default_factory=set)
    # (student, lecture) -> enrollment id, for the enrollments the snapshot creates.
    enrollment_pairs: dict[tuple[int, int], int] = field(default_factory=dict)
    # Stored facts the cross checks look at, each with its enrollment's (student, lecture) so
    # the check knows whether a delete in the snapshot takes it away:
    # attempts of exams whose links may shrink, made outside the lectures linked afterwards,
    linked_attempts: list[_StoredFact] = field(default_factory=list)
    # attempts and submissions scoring above a lowered max score,
    attempts_above: list[_StoredFact] = field(default_factory=list)
    submissions_above: list[_StoredFact] = field(default_factory=list)
    # submissions of homeworks moved to another session.
    moved_submissions: list[_StoredFact] = field(default_factory=list)

    def add(self, kind: str, rows: Iterable[Any]) -> None:
        key = _KINDS[kind].key
        table = self.rows[kind]
        names: tuple[str, ...] = ()
        for row in rows:
            names = names or row._fields
            values = dict(zip(names, row))
            table[tuple(values[name] for name in key)] = values


def _attempt_columns() -> list[Any]:
    """Attempt columns, key first (as _rows_by_key wants)."""
    return _model_columns("attempts")[1:] + [Attempt.id]


def _model_columns(kind: str) -> list[Any]:
    model = _KINDS[kind].model
    return [getattr(model, name) for name in _COLUMNS[kind]]


def _load(items: dict[str, dict[tuple, _Item]]) -> _Stored:
    """Every stored row the validation and the plan look at, with a fixed number of selects."""
    stored = _Stored()

    def given(kind: str, name: str) -> set[int]:
        return {item.values[name] for item in items[kind].values() if name in item.values}

    def keys(kind: str, position: int = 0) -> set[int]:
        return {key[position] for key in items[kind]}

    deleted_sessions = {key[0] for key, item in items["sessions"].items() if item.delete}
    deleted_students = {key[0] for key, item in items["students"].items() if item.delete}

    # Exams: the snapshot's, the attempts', and those linked to sessions the snapshot deletes.
    exam_ids = keys("exams") | keys("attempts", 1)
    if deleted_sessions:
        exam_ids |= {row.exam_id for row in _rows_in([ExamSession.exam_id], ExamSession.session_id, deleted_sessions)}
    if exam_ids:
        stored.add("exams", _rows_in(_model_columns("exams"), Exam.id, exam_ids))
        for row in _rows_in([ExamSession.exam_id, ExamSession.session_id], ExamSession.exam_id, exam_ids):
            stored.links[row.exam_id].add(row.session_id)

    homework_ids = keys("homeworks") | keys("homework_submissions", 1)
    if homework_ids:
        stored.add("homeworks", _rows_in(_model_columns("homeworks"), Homework.id, homework_ids))

    enrollment_ids = keys("enrollments") | keys("attempts") | keys("homework_submissions") | keys("activities")
    if enrollment_ids:
        stored.add("enrollments", _rows_in(_model_columns("enrollments"), Enrollment.id, enrollment_ids))
    if deleted_students:
        # Their enrollments go too: those lectures are recomputed.
        stored.add("enrollments", _rows_in(_model_columns("enrollments"), Enrollment.student_id, deleted_students))
    new_pairs = {
        (item.values["student_id"], item.values["lecture_id"])
        for key, item in items["enrollments"].items()
        if not item.delete and key not in stored.rows["enrollments"]
        and "student_id" in item.values and "lecture_id" in item.values
    }
    if new_pairs:
        rows = _rows_in(_model_columns("enrollments"), tuple_(Enrollment.student_id, Enrollment.lecture_id), new_pairs)
        stored.add("enrollments", rows)
        stored.enrollment_pairs = {(row.student_id, row.lecture_id): row.id for row in rows}

    session_ids = keys("sessions") | keys("activities", 1) | given("homeworks", "session_id")
    for item in items["exams"].values():
        session_ids |= item.extra.get("session_ids", frozenset())
    for linked in stored.links.values():
        session_ids |= linked
    session_ids |= {row["session_id"] for row in stored.rows["homeworks"].values()}
    if session_ids:
        stored.add("sessions", _rows_in(_model_columns("sessions"), LectureSession.id, session_ids))
    # Every session of a lecture where the snapshot creates a session or sets an order.
    ordered = set()
    for key, item in items["sessions"].items():
        if item.delete or not ("order" in item.values or key not in stored.rows["sessions"]):
            continue
        row = stored.rows["sessions"].get(key)
        lecture_id = row["lecture_id"] if row else item.values.get("lecture_id")
        if lecture_id is not None:
            ordered.add(lecture_id)
    if ordered:
        stored.add("sessions", _rows_in(_model_columns("sessions"), LectureSession.lecture_id, ordered))
        stored.ordered_lectures = ordered

    lecture_ids = keys("lectures") | given("sessions", "lecture_id") | given("enrollments", "lecture_id")
    lecture_ids |= {row["lecture_id"] for row in stored.rows["sessions"].values()}
    lecture_ids |= {row["lecture_id"] for row in stored.rows["enrollments"].values()}
    if lecture_ids:
        stored.add("lectures", _rows_in(_model_columns("lectures"), Lecture.id, lecture_ids))
    policy_lectures = {key[0] for key, item in items["lectures"].items() if "policy" in item.extra}
    policy_lectures &= {key[0] for key in stored.rows["lectures"]}
    if policy_lectures:
        policy_columns = [ProgressPolicy.id, ProgressPolicy.lecture_id] + [
            getattr(ProgressPolicy, name) for name in POLICY_FIELDS]
        for row in _rows_in(policy_columns, ProgressPolicy.lecture_id, policy_lectures):
            stored.policies[row.lecture_id] = dict(row._mapping)

    student_ids = keys("students") | given("enrollments", "student_id")
    student_ids |= {row["student_id"] for row in stored.rows["enrollments"].values()}
    if student_ids:
        stored.add("students", _rows_in(_model_columns("students"), Student.id, student_ids))
    _load_guardians(items, stored)

    _load_facts(items, stored, deleted_sessions)
    return stored


_GUARDIAN_COLUMNS = ("id", "student_id", *guardian_rules.FIELDS)


def _load_guardians(items: dict[str, dict[tuple, _Item]], stored: _Stored) -> None:
    """The stored guardians of students given a list, and whoever owns the guardian ids named."""
    students = {key[0] for key, item in items["students"].items() if "guardians" in item.extra}
    if not students:
        return
    named = {row["id"] for key in students for row in items["students"][(key,)].extra["guardians"]
             if row["id"] is not None}
    columns = [getattr(Guardian, name) for name in _GUARDIAN_COLUMNS]
    condition = Guardian.student_id.in_(sorted(students))
    if named:
        condition = or_(condition, Guardian.id.in_(sorted(named)))
    for row in db.session.execute(select(*columns).where(condition).order_by(Guardian.id)).all():
        values = dict(row._mapping)
        stored.guardian_owners[values["id"]] = values["student_id"]
        if values["student_id"] in students:
            stored.guardians[values["student_id"]].append(values)


def _load_facts(items: dict[str, dict[tuple, _Item]], stored: _Stored, deleted_sessions: set[int]) -> None:
    """Attempts, answers, questions, submissions, activities, and the rows the cross checks need."""
    if items["attempts"]:
        stored.add("attempts", _rows_by_key(_attempt_columns(), Attempt.enrollment_id, Attempt.exam_id,
                                            items["attempts"].keys()))
        answer_attempts = {
            stored.rows["attempts"][key]["id"]
            for key, item in items["attempts"].items()
            if "answers" in item.extra and key in stored.rows["attempts"]
        }
        if answer_attempts:
            columns = [AnswerFact.attempt_id, AnswerFact.question, AnswerFact.is_correct,
                       AnswerFact.invalid_reason, AnswerFact.detected]
            for row in _rows_in(columns, AnswerFact.attempt_id, answer_attempts):
                stored.answers[row.attempt_id][row.question] = (row.is_correct, row.invalid_reason, row.detected)
    question_exams = {key[0] for key, item in items["exams"].items() if "questions" in item.extra}
    question_exams &= {key[0] for key in stored.rows["exams"]}
    if question_exams:
        columns = [ExamQuestion.exam_id, ExamQuestion.number, ExamQuestion.answer, ExamQuestion.points]
        for row in _rows_in(columns, ExamQuestion.exam_id, question_exams):
            stored.questions[row.exam_id][row.number] = (row.answer, row.points)
    if items["homework_submissions"]:
        stored.add("homework_submissions", _rows_by_key(
            _model_columns("homework_submissions")[1:] + [HomeworkSubmission.id], HomeworkSubmission.enrollment_id,
            HomeworkSubmission.homework_id, items["homework_submissions"].keys()))
    if items["activities"]:
        stored.add("activities", _rows_by_key(_model_columns("activities")[1:] + [Activity.id], Activity.enrollment_id,
                                              Activity.session_id, items["activities"].keys()))

    # Exams whose links may shrink: their stored attempts must keep a linked session. Only the
    # attempts made in a lecture the exam will not be linked to can fail that check, so only they
    # are loaded (sessions and lectures are loaded by now: the lectures linked afterwards are known).
    shrinking = {key[0] for key, item in items["exams"].items() if "session_ids" in item.extra}
    shrinking |= {exam for exam, sessions in stored.links.items() if sessions & deleted_sessions}
    shrinking &= {key[0] for key in stored.rows["exams"]}
    after = _After(items, stored)
    linked = [(exam, frozenset(after.lectures_linked(exam))) for exam in sorted(shrinking)]
    stored.linked_attempts = _stored_facts("attempts", linked, _attempts_outside_linked_lectures)

    # Max scores lowered below stored scores.
    lowered_exams = [
        (key[0], item.values["max_score"]) for key, item in items["exams"].items()
        if "max_score" in item.values and key in stored.rows["exams"]
        and item.values["max_score"] < stored.rows["exams"][key]["max_score"]
    ]
    stored.attempts_above = _stored_facts("attempts", lowered_exams, lambda batch: or_(
        *(and_(Attempt.exam_id == exam, Attempt.score > top) for exam, top in batch)))
    lowered_homeworks = [
        (key[0], item.values["max_score"]) for key, item in items["homeworks"].items()
        if "max_score" in item.values and key in stored.rows["homeworks"]
        and item.values["max_score"] < stored.rows["homeworks"][key]["max_score"]
    ]
    stored.submissions_above = _stored_facts("homework_submissions", lowered_homeworks, lambda batch: or_(
        *(and_(HomeworkSubmission.homework_id == hw, HomeworkSubmission.score > top) for hw, top in batch)))

    # Homeworks moved to another session: their stored submissions must stay in that session's lecture.
    moved = {
        key[0] for key, item in items["homeworks"].items()
        if "session_id" in item.values and key in stored.rows["homeworks"]
        and item.values["session_id"] != stored.rows["homeworks"][key]["session_id"]
    }
    stored.moved_submissions = _stored_facts("homework_submissions", sorted(moved), HomeworkSubmission.homework_id.in_)


def _attempts_outside_linked_lectures(batch: list[tuple[int, frozenset[int]]]) -> Any:
    """Attempts of these exams made in an enrollment of a lecture other than the given ones."""
    by_lectures: dict[frozenset[int], list[int]] = defaultdict(list)
    for exam_id, lectures in batch:
        by_lectures[lectures].append(exam_id)
    return or_(*(
        and_(Attempt.exam_id.in_(exams), Enrollment.lecture_id.not_in(sorted(lectures))) if lectures
        else Attempt.exam_id.in_(exams)
        for lectures, exams in by_lectures.items()
    ))

"""Snapshot import (SPEC §9): validate the whole snapshot, plan the diff, apply it, recompute.

Three steps, in the caller's transaction (flush only, never commit):

1. **validate** every item against the state the snapshot would produce (stored rows plus
   snapshot items minus deletes and what hangs off them) and collect every problem with a
   field path such as ``attempts[3].score``;
2. **plan** the diff: per kind, the items created, updated (only when a value really
   changes) and deleted (only rows that exist) — an `ImportPlan` a preview can show;
3. **apply** it with bulk statements, then recompute exactly the cells that changed.

Existing rows are loaded with a fixed number of ``IN (...)`` selects per kind (chunked),
and written with bulk inserts/updates, so the query count does not grow with the items.
Once the caller has committed, `analyze_grown_tables` refreshes PostgreSQL's statistics of
the tables a large import grew.
"""
from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from flask import current_app
from sqlalchemy import and_, bindparam, delete, or_, select, text, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from dashboard.accounts import audit
from dashboard.clock import parse_input_time
from dashboard.errors import Invalid, describe
from dashboard.dbtypes import utcnow
from dashboard.text.visible import has_visible_character
from dashboard.extensions import db
from dashboard.models import (
    INVALID_REASONS,
    PRESENCE_VALUES,
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
    User,
)
from dashboard.progress import bulk
from dashboard.progress.policy_validation import POLICY_FIELDS, parse_score, validate_policy_change
from dashboard.omr.intake import regrade_exam
from dashboard.parents import guardians as guardian_rules, outbox
from dashboard.progress.recompute import Scope, lock_lecture, recompute, recompute_lecture
from dashboard.progress.rules import POLICY_DEFAULTS, PresenceConflict, roll_call

KINDS: tuple[str, ...] = (
    "lectures",
    "sessions",
    "students",
    "enrollments",
    "exams",
    "attempts",
    "homeworks",
    "homework_submissions",
    "activities",
)

ProgressCallback = Callable[[str, int, int], None]

_INT_MAX = 2_147_483_647  # PostgreSQL INTEGER
_CHUNK = 500  # ids per IN (...) list; tuples count their columns
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


# ---------------------------------------------------------------- public results


@dataclass(frozen=True)
class ImportProblem:
    """One reason a snapshot is refused: `field` names the item (``attempts[3].score``), or is
    None for the snapshot as a whole."""

    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ImportRejected(Exception):
    """The snapshot is refused as a whole; `errors` lists every problem found. Nothing was written."""

    def __init__(self, errors: Sequence[ImportProblem]):
        self.errors: list[ImportProblem] = list(errors)
        first = str(self.errors[0]) if self.errors else "invalid snapshot"
        super().__init__(f"snapshot rejected ({len(self.errors)} problem(s)); first: {first}")


@dataclass
class ImportResult:
    """Change counts per snapshot kind (every kind present) and the session-progress rows recomputed;
    `grown_tables` (not part of the answer) are the tables to analyse once the import is committed."""

    created: dict[str, int]
    updated: dict[str, int]
    deleted: dict[str, int]
    recomputed: int = 0
    grown_tables: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The answer of ``POST /api/import`` and of the CLI (SPEC §8)."""
        return {
            "created": dict(self.created),
            "updated": dict(self.updated),
            "deleted": dict(self.deleted),
            "recomputed": self.recomputed,
        }


@dataclass(frozen=True)
class PlannedChange:
    """One item of the diff. `key` is the snapshot key (``(id,)`` or the composite key);
    `before` holds the stored values of the fields that change (update, delete), `after`
    the new ones (every field for a create, only the changed ones for an update)."""

    kind: str
    index: int
    key: tuple
    action: str  # "create" | "update" | "delete"
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass
class ImportPlan:
    """The diff a snapshot makes; `changes[kind]` in snapshot order. Reused by an upload preview."""

    changes: dict[str, list[PlannedChange]]
    # Existing lectures whose inputs change: locked before applying.
    lecture_ids: frozenset[int] = frozenset()
    # What to write, prepared by the planner for the apply step.
    _work: "_Work | None" = field(default=None, repr=False)

    def counts(self) -> ImportResult:
        """The change counts of this plan (recomputed 0: nothing has run yet)."""
        result = ImportResult(*({kind: 0 for kind in KINDS} for _ in range(3)))
        buckets = {"create": result.created, "update": result.updated, "delete": result.deleted}
        for kind, changes in self.changes.items():
            for change in changes:
                buckets[change.action][kind] += 1
        return result

    @property
    def is_empty(self) -> bool:
        return not any(self.changes.values())


# ---------------------------------------------------------------- field parsing


class _Bad(ValueError):
    """Problems with one field value: (sub-path under the field, message) pairs."""

    def __init__(self, message: str | None = None, sub: str = "", problems: list[tuple[str, str]] | None = None):
        self.problems = problems if problems is not None else [(sub, message or "is invalid")]
        super().__init__(self.problems[0][1])


def _integer(value: Any, lowest: int, highest: int = _INT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad("must be an integer")
    if not lowest <= value <= highest:
        raise _Bad(f"must be between {lowest} and {highest}")
    return value


def _id(value: Any) -> int:
    return _integer(value, 1)


def _int_range(lowest: int, highest: int) -> Callable[[Any], int]:
    return lambda value: _integer(value, lowest, highest)


def _text(max_length: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise _Bad("must be a string")
        if not value.strip():
            raise _Bad("must not be blank")
        if not has_visible_character(value):
            raise _Bad("must have at least one visible character")
        if len(value) > max_length:
            raise _Bad(f"must be at most {max_length} characters")
        return value

    return parse


def _date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise _Bad("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _Bad("is not a valid date") from None


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) < 16:
        raise _Bad("must be an ISO 8601 time, e.g. 2026-03-09T10:00:00+09:00")
    try:
        return parse_input_time(value)
    except ValueError:
        raise _Bad("must be an ISO 8601 time, e.g. 2026-03-09T10:00:00+09:00") from None


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("must be true or false")
    return value


def _score(value: Any) -> Decimal:
    try:
        number = parse_score(value)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    if number < 0:
        raise _Bad("must be at least 0")
    return number


def _positive_score(value: Any) -> Decimal:
    number = _score(value)
    if number <= 0:
        raise _Bad("must be greater than 0")
    return number


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _Bad("must be one of " + ", ".join(choices))
        return value

    return parse


def _list_of_objects(
    value: Any, allowed: Mapping[str, tuple[Callable[[Any], Any], bool, Any]], unique: str
) -> list[dict[str, Any]]:
    """A list of small objects: `allowed` maps field -> (parser, required, default)."""
    if not isinstance(value, list):
        raise _Bad("must be a list")
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    seen: dict[Any, int] = {}
    for i, element in enumerate(value):
        if not isinstance(element, dict):
            problems.append((f"[{i}]", "must be an object"))
            continue
        row: dict[str, Any] = {}
        for name in element:
            if name not in allowed:
                problems.append((f"[{i}].{name}", "unknown field"))
        for name, (parse, required, default) in allowed.items():
            if name not in element:
                if required:
                    problems.append((f"[{i}].{name}", "is required"))
                else:
                    row[name] = default
                continue
            raw = element[name]
            if raw is None and not required and default is None:
                row[name] = None
                continue
            try:
                row[name] = parse(raw)
            except _Bad as bad:
                problems.extend((f"[{i}].{name}{sub}", msg) for sub, msg in bad.problems)
        if unique in row:
            if row[unique] in seen:
                message = f"{unique} {row[unique]} appears twice (also [{seen[row[unique]]}])"
                problems.append((f"[{i}].{unique}", message))
            else:
                seen[row[unique]] = i
        rows.append(row)
    if problems:
        raise _Bad(problems=problems)
    return rows


def _guardians(value: Any) -> tuple[dict[str, Any], ...]:
    """A student's whole list of guardians (SPEC §14): each checked like the setup form checks it;
    an item may carry the `id` of a stored guardian, else it is matched by (name, relation)."""
    if not isinstance(value, list):
        raise _Bad("must be a list")
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    ids: set[int] = set()
    names: set[tuple[str, str]] = set()
    for i, element in enumerate(value):
        if not isinstance(element, dict):
            problems.append((f"[{i}]", "must be an object"))
            continue
        guardian_id = None
        if element.get("id") is not None:
            try:
                guardian_id = _id(element["id"])
            except _Bad as bad:
                problems.append((f"[{i}].id", bad.problems[0][1]))
                continue
        try:
            row = guardian_rules.clean({k: v for k, v in element.items() if k != "id"}, f"[{i}].")
        except Invalid as error:
            problems.append((error.field or f"[{i}]", describe(error)))
            continue
        if guardian_id is not None and guardian_id in ids:
            problems.append((f"[{i}].id", f"id {guardian_id} appears twice"))
        if (row["name"], row["relation"]) in names:
            problems.append((f"[{i}].name", "the same name and relation appear twice"))
        if guardian_id is not None:
            ids.add(guardian_id)
        names.add((row["name"], row["relation"]))
        rows.append({"id": guardian_id, **row})
    if problems:
        raise _Bad(problems=problems)
    return tuple(rows)


def _answer_key(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 32 or any(c.isspace() for c in value):
        raise _Bad("must be a string of 1 to 32 marks")
    if len(set(value)) != len(value):
        raise _Bad("must not repeat a mark")
    return value


def _questions(value: Any) -> dict[int, tuple[str, Decimal]]:
    rows = _list_of_objects(
        value,
        {"number": (_id, True, None), "answer": (_answer_key, True, None), "points": (_score, False, Decimal(1))},
        unique="number",
    )
    return {row["number"]: (row["answer"], row["points"]) for row in rows}


def _answers(value: Any) -> dict[int, tuple[bool, str | None, None]]:
    rows = _list_of_objects(
        value,
        {
            "question": (_id, True, None),
            "is_correct": (_bool, True, None),
            "invalid_reason": (_choice(*INVALID_REASONS), False, None),
        },
        unique="question",
    )
    # The third element is AnswerFact.detected, which an import never sets.
    return {row["question"]: (row["is_correct"], row["invalid_reason"], None) for row in rows}


def _session_ids(value: Any) -> frozenset[int]:
    if not isinstance(value, list):
        raise _Bad("must be a list of session ids")
    problems = []
    seen: set[int] = set()
    for i, element in enumerate(value):
        try:
            number = _id(element)
        except _Bad as bad:
            problems.append((f"[{i}]", bad.problems[0][1]))
            continue
        if number in seen:
            problems.append((f"[{i}]", f"session {number} is listed twice"))
        seen.add(number)
    if problems:
        raise _Bad(problems=problems)
    return frozenset(seen)


def _policy(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad("must be an object of policy fields")
    return value  # checked on the merged policy once the stored one is loaded


# ---------------------------------------------------------------- kinds


@dataclass(frozen=True)
class _Field:
    parse: Callable[[Any], Any]
    nullable: bool = False
    # Lists and the policy are not columns of the item's row: they replace child rows.
    column: bool = True


@dataclass(frozen=True)
class _Kind:
    name: str
    model: type
    key: tuple[str, ...]
    fields: Mapping[str, _Field]
    required: tuple[str, ...]
    defaults: Mapping[str, Any]
    immutable: tuple[str, ...] = ()

    @property
    def by_id(self) -> bool:
        return self.key == ("id",)

    @functools.cached_property
    def columns(self) -> tuple[str, ...]:
        """The row's columns a snapshot item sets: its key, then its column fields."""
        return (*self.key, *(name for name, spec in self.fields.items() if spec.column))


_KIND_LIST = (
    _Kind(
        "lectures", Lecture, ("id",),
        {"title": _Field(_text(200)), "policy": _Field(_policy, column=False)},
        required=("title",), defaults={},
    ),
    _Kind(
        "sessions", LectureSession, ("id",),
        {
            "lecture_id": _Field(_id),
            "order": _Field(_int_range(1, 9999)),
            "title": _Field(_text(200), nullable=True),
            "date": _Field(_date, nullable=True),
        },
        required=("lecture_id", "order"), defaults={"title": None, "date": None}, immutable=("lecture_id",),
    ),
    _Kind(
        "students", Student, ("id",),
        {
            "name": _Field(_text(200)),
            "contact": _Field(_text(100), nullable=True),
            "guardian_contact": _Field(_text(100), nullable=True),
            "guardians": _Field(_guardians, column=False),
        },
        required=("name",), defaults={"contact": None, "guardian_contact": None},
    ),
    _Kind(
        "enrollments", Enrollment, ("id",),
        {
            "student_id": _Field(_id),
            "lecture_id": _Field(_id),
            "start_date": _Field(_date, nullable=True),
            "withdrawn_at": _Field(_time, nullable=True),
        },
        required=("student_id", "lecture_id"), defaults={"start_date": None, "withdrawn_at": None},
        immutable=("student_id", "lecture_id"),
    ),
    _Kind(
        "exams", Exam, ("id",),
        {
            "title": _Field(_text(200)),
            "pass_score": _Field(_score, nullable=True),
            "max_score": _Field(_positive_score),
            "session_ids": _Field(_session_ids, column=False),
            "questions": _Field(_questions, column=False),
        },
        required=("title",), defaults={"pass_score": None, "max_score": Decimal(100)},
    ),
    _Kind(
        "attempts", Attempt, ("enrollment_id", "exam_id", "attempt_no"),
        {
            "score": _Field(_score),
            "submitted_at": _Field(_time, nullable=True),
            "answers": _Field(_answers, column=False),
        },
        required=("score",), defaults={"submitted_at": None},
    ),
    _Kind(
        "homeworks", Homework, ("id",),
        {
            "session_id": _Field(_id),
            "title": _Field(_text(200), nullable=True),
            "max_score": _Field(_positive_score),
        },
        required=("session_id",), defaults={"title": None, "max_score": Decimal(100)},
    ),
    _Kind(
        "homework_submissions", HomeworkSubmission, ("enrollment_id", "homework_id"),
        {"submitted": _Field(_bool), "score": _Field(_score, nullable=True), "approved": _Field(_bool)},
        required=(), defaults={"submitted": False, "score": None, "approved": False},
    ),
    _Kind(
        "activities", Activity, ("enrollment_id", "session_id"),
        {"attendance": _Field(_choice("online", "offline")), "video_rate": _Field(_int_range(0, 100)),
         "presence": _Field(_choice(*PRESENCE_VALUES), nullable=True)},
        required=(), defaults={"attendance": "online", "video_rate": 0, "presence": None},
    ),
)
_KINDS: dict[str, _Kind] = {kind.name: kind for kind in _KIND_LIST}


@dataclass
class _Item:
    kind: str
    index: int
    key: tuple
    values: dict[str, Any]  # column fields given, parsed
    extra: dict[str, Any]  # session_ids, questions, answers, policy
    delete: bool
    ok: bool = True
    bad: set[str] = field(default_factory=set)  # fields whose value was refused while parsing

    def path(self, name: str | None = None) -> str:
        base = f"{self.kind}[{self.index}]"
        return f"{base}.{name}" if name else base


def _describe(kind: _Kind, key: tuple) -> str:
    if kind.by_id:
        return f"id {key[0]}"
    return ", ".join(f"{name} {value}" for name, value in zip(kind.key, key))


def _parse_snapshot(data: Any, problems: list[ImportProblem]) -> dict[str, dict[tuple, _Item]]:
    """Type-check every item; items whose key is unusable are left out (their problem is recorded)."""
    items: dict[str, dict[tuple, _Item]] = {name: {} for name in KINDS}
    if not isinstance(data, dict):
        problems.append(ImportProblem(None, "a snapshot must be a JSON object"))
        return items
    for name in data:
        if name not in _KINDS:
            problems.append(ImportProblem(name, "unknown key; a snapshot holds " + ", ".join(KINDS)))
    for kind in _KIND_LIST:
        if kind.name not in data:
            continue
        entries = data[kind.name]
        if not isinstance(entries, list):
            problems.append(ImportProblem(kind.name, "must be a list"))
            continue
        for index, entry in enumerate(entries):
            item = _parse_item(kind, index, entry, problems)
            if item is None:
                continue
            earlier = items[kind.name].get(item.key)
            if earlier is not None:
                problems.append(ImportProblem(
                    item.path(), f"the same key ({_describe(kind, item.key)}) appears twice (also {earlier.path()})"))
                continue
            items[kind.name][item.key] = item
    return items


def _parse_item(kind: _Kind, index: int, entry: Any, problems: list[ImportProblem]) -> _Item | None:
    path = f"{kind.name}[{index}]"
    if not isinstance(entry, dict):
        problems.append(ImportProblem(path, "must be an object"))
        return None
    before = len(problems)
    key = []
    for name in kind.key:
        if name not in entry:
            problems.append(ImportProblem(f"{path}.{name}", "is required"))
            continue
        try:
            key.append(_id(entry[name]))  # ids and attempt_no alike are integers >= 1
        except _Bad as bad:
            problems.append(ImportProblem(f"{path}.{name}", bad.problems[0][1]))
    if len(key) != len(kind.key):
        return None
    item = _Item(kind.name, index, tuple(key), {}, {}, False)
    for name, raw in entry.items():
        if name in kind.key:
            continue
        if name == "delete":
            if isinstance(raw, bool):
                item.delete = raw
            else:
                problems.append(ImportProblem(item.path(name), "must be true or false"))
            continue
        spec = kind.fields.get(name)
        if spec is None:
            problems.append(ImportProblem(item.path(name), "unknown field"))
            continue
        if raw is None:
            if spec.nullable:
                item.values[name] = None
            else:
                problems.append(ImportProblem(item.path(name), "cannot be null"))
                item.bad.add(name)
            continue
        try:
            parsed = spec.parse(raw)
        except _Bad as bad:
            problems.extend(ImportProblem(item.path(name) + sub, message) for sub, message in bad.problems)
            item.bad.add(name)
            continue
        (item.values if spec.column else item.extra)[name] = parsed
    item.ok = len(problems) == before
    return item


# ---------------------------------------------------------------- loading stored rows


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


def _guardian_changes(student_id: int, wanted: Sequence[Mapping[str, Any]], stored_rows: Sequence[Mapping[str, Any]]
                      ) -> tuple[list[dict], list[dict], list[int]]:
    """(inserts, updates, deleted ids) that turn the stored list into the wanted one: an item is the
    stored guardian with its id, else the one with its (name, relation); the rest are new, and
    stored ones nobody matched go."""
    by_id = {row["id"]: row for row in stored_rows}
    by_name = {(row["name"], row["relation"]): row for row in stored_rows}
    matched: set[int] = set()
    inserts: list[dict] = []
    updates: list[dict] = []
    for item in wanted:
        row = by_id.get(item["id"]) if item["id"] is not None else by_name.get((item["name"], item["relation"]))
        if row is None or row["id"] in matched:
            new = {name: item[name] for name in guardian_rules.FIELDS}
            inserts.append({**({"id": item["id"]} if item["id"] is not None else {}), "student_id": student_id,
                            **new})
            continue
        matched.add(row["id"])
        changed = {name: item[name] for name in guardian_rules.FIELDS if row[name] != item[name]}
        if changed:
            updates.append({"id": row["id"], **changed})
    deletes = [row["id"] for row in stored_rows if row["id"] not in matched]
    return inserts, updates, deletes


def _validate_guardians(items, stored: _Stored, refuse) -> None:
    for key, item in items["students"].items():
        for i, row in enumerate(item.extra.get("guardians", ())):
            owner = stored.guardian_owners.get(row["id"])
            if owner is not None and owner != key[0]:
                refuse(item, f"guardians[{i}].id", f"guardian {row['id']} belongs to another student")


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


# ---------------------------------------------------------------- the state after the import


_PARENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sessions": (("lectures", "lecture_id"),),
    "enrollments": (("students", "student_id"), ("lectures", "lecture_id")),
    "homeworks": (("sessions", "session_id"),),
    "attempts": (("enrollments", "enrollment_id"), ("exams", "exam_id")),
    "homework_submissions": (("enrollments", "enrollment_id"), ("homeworks", "homework_id")),
    "activities": (("enrollments", "enrollment_id"), ("sessions", "session_id")),
}


class _After:
    """Rows as they would be after the import: stored values overlaid with snapshot items,
    minus deleted items and everything that hangs off them (ON DELETE CASCADE)."""

    def __init__(self, items: dict[str, dict[tuple, _Item]], stored: _Stored):
        self.items = items
        self.stored = stored
        self._memo: dict[tuple[str, tuple], dict[str, Any] | None] = {}
        self._links: dict[int, set[int]] = {}

    def row(self, kind: str, key: tuple) -> dict[str, Any] | None:
        memo_key = (kind, key)
        if memo_key not in self._memo:
            self._memo[memo_key] = self._compute(kind, key)
        return self._memo[memo_key]

    def _compute(self, kind: str, key: tuple) -> dict[str, Any] | None:
        item = self.items[kind].get(key)
        base = self.stored.rows[kind].get(key)
        if (item is not None and item.delete) or (item is None and base is None):
            return None
        spec = _KINDS[kind]
        merged = dict(spec.defaults) if base is None else dict(base)
        merged.update(zip(spec.key, key))
        if item is not None:
            merged.update(item.values)
        for parent_kind, column in _PARENTS.get(kind, ()):
            parent = merged.get(column)
            if parent is None or self.row(parent_kind, (parent,)) is None:
                return None
        return merged

    def survives(self, kind: str, fact: _StoredFact) -> bool:
        """Whether a stored attempt or submission (possibly not loaded by key) outlives the import."""
        parent_kind = "exams" if kind == "attempts" else "homeworks"
        taken = (
            (kind, fact.key), (parent_kind, (fact.parent,)), ("enrollments", (fact.key[0],)),
            ("students", (fact.student_id,)), ("lectures", (fact.lecture_id,)),
        )
        if any(self._deletes(k, key) for k, key in taken):
            return False
        if kind == "homework_submissions":
            homework = self.row("homeworks", (fact.parent,))
            return homework is not None
        return True

    def _deletes(self, kind: str, key: tuple) -> bool:
        item = self.items[kind].get(key)
        return item is not None and item.delete

    def exists(self, kind: str, key_value: Any) -> bool:
        return self.row(kind, (key_value,)) is not None

    def links(self, exam_id: int) -> set[int]:
        """The sessions an exam is linked to afterwards (links to deleted sessions are gone)."""
        if exam_id not in self._links:
            item = self.items["exams"].get((exam_id,))
            linked = item.extra["session_ids"] if item is not None and "session_ids" in item.extra \
                else self.stored.links.get(exam_id, set())
            self._links[exam_id] = {sid for sid in linked if self.exists("sessions", sid)}
        return self._links[exam_id]

    def lecture_of_session(self, session_id: int) -> int | None:
        row = self.row("sessions", (session_id,))
        return row["lecture_id"] if row else None

    def lectures_linked(self, exam_id: int) -> set[int]:
        return {self.lecture_of_session(sid) for sid in self.links(exam_id)}


# ---------------------------------------------------------------- validation


def _missing(kind_word: str, value: Any) -> str:
    return f"{kind_word} {value} does not exist (or this snapshot deletes it or what it belongs to)"


def _validate(items: dict[str, dict[tuple, _Item]], stored: _Stored, after: _After,
              problems: list[ImportProblem]) -> None:
    """Check every item against the state the snapshot would produce."""

    def refuse(item: _Item, name: str | None, message: str) -> None:
        item.ok = False
        problems.append(ImportProblem(item.path(name), message))

    for kind in _KIND_LIST:
        for key, item in items[kind.name].items():
            if item.delete:
                continue
            base = stored.rows[kind.name].get(key)
            if base is None:
                for name in kind.required:
                    if name not in item.values and name not in item.bad:
                        refuse(item, name, "is required to create this item")
            else:
                for name in kind.immutable:
                    if name in item.values and item.values[name] != base[name]:
                        refuse(item, name, f"cannot change (stored {base[name]}); delete the item and create it anew")
            parent_missing = False
            for parent_kind, column in _PARENTS.get(kind.name, ()):
                # By-id items name their parent in a field (an update may leave it out: the stored one
                # holds); facts name it in their key.
                value = item.values.get(column) if kind.by_id else key[kind.key.index(column)]
                if value is not None and not after.exists(parent_kind, value):
                    parent_missing = True
                    refuse(item, column, _missing(parent_kind[:-1], value))
            if base is not None and not parent_missing and after.row(kind.name, key) is None:
                refuse(item, None, "belongs to an item this snapshot deletes")

    _validate_lectures(items, stored, refuse)
    _validate_session_orders(items, stored, after, problems)
    _validate_enrollment_pairs(items, stored, after, refuse)
    _validate_exams(items, stored, after, refuse)
    _validate_homeworks(items, stored, after, refuse)
    _validate_facts(items, stored, after, refuse)
    _validate_guardians(items, stored, refuse)


def _validate_lectures(items, stored: _Stored, refuse) -> None:
    for key, item in items["lectures"].items():
        if item.delete or "policy" not in item.extra:
            continue
        base = stored.policies.get(key[0], POLICY_DEFAULTS)
        merged, errors = validate_policy_change(base, item.extra["policy"])
        for name, message in errors:
            refuse(item, f"policy.{name}", message)
        item.extra["policy_merged"] = merged


def _validate_session_orders(items, stored: _Stored, after: _After, problems: list[ImportProblem]) -> None:
    """Orders unique within each lecture after the import (swaps within a snapshot are fine)."""
    taken: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    keys = set(stored.rows["sessions"]) | set(items["sessions"])
    for key in keys:
        row = after.row("sessions", key)
        if row is None or row["lecture_id"] not in stored.ordered_lectures and key not in items["sessions"]:
            continue
        if row.get("order") is not None:
            taken[(row["lecture_id"], row["order"])].append(key)
    for (lecture_id, order), holders in taken.items():
        if len(holders) < 2:
            continue
        for key in holders:
            item = items["sessions"].get(key)
            if item is not None and ("order" in item.values):
                others = sorted(k[0] for k in holders if k != key)
                item.ok = False
                problems.append(ImportProblem(
                    item.path("order"),
                    f"order {order} is already used in lecture {lecture_id} by session {', '.join(map(str, others))}"))


def _validate_enrollment_pairs(items, stored: _Stored, after: _After, refuse) -> None:
    """One enrollment per (student, lecture) after the import."""
    pairs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for (student_id, lecture_id), enrollment_id in stored.enrollment_pairs.items():
        if after.exists("enrollments", enrollment_id):
            pairs[(student_id, lecture_id)].append(enrollment_id)
    for key, item in items["enrollments"].items():
        if item.delete or key in stored.rows["enrollments"]:
            continue
        row = after.row("enrollments", key)
        if row is None:
            continue
        pair = (row["student_id"], row["lecture_id"])
        if pairs[pair]:
            refuse(item, None, f"student {pair[0]} is already enrolled in lecture {pair[1]} "
                               f"(enrollment {pairs[pair][0]})")
        pairs[pair].append(key[0])


def _validate_exams(items, stored: _Stored, after: _After, refuse) -> None:
    for key, item in items["exams"].items():
        if item.delete:
            continue
        row = after.row("exams", key)
        if row is None:
            continue
        if row["pass_score"] is not None and row["pass_score"] > row["max_score"]:
            name = "pass_score" if "pass_score" in item.values else "max_score"
            refuse(item, name, f"pass score {row['pass_score']} is above the max score {row['max_score']}")
        for session_id in sorted(item.extra.get("session_ids", ())):
            if not after.exists("sessions", session_id):
                refuse(item, "session_ids", _missing("session", session_id))

    # Stored attempts above a lowered max score (unless the snapshot rescores or removes them).
    _refuse_scores_above_max(
        items, "attempts", "exams", stored.attempts_above, after, refuse,
        lambda fact: f"enrollment {fact.key[0]} attempt {fact.key[2]}: {fact.score}",
    )

    # An exam must stay linked to a session of the lecture of every enrollment that sat it.
    needed: dict[tuple[int, int], list[int]] = defaultdict(list)
    for fact in stored.linked_attempts:
        if after.survives("attempts", fact) and fact.lecture_id not in after.lectures_linked(fact.parent):
            needed[(fact.parent, fact.lecture_id)].append(fact.key[0])
    for (exam_id, lecture_id), enrollments in sorted(needed.items()):
        message = (f"exam {exam_id} would no longer be linked to a session of lecture {lecture_id}, "
                   f"which attempts of enrollment {', '.join(map(str, sorted(set(enrollments))[:5]))} need")
        item = items["exams"].get((exam_id,))
        if item is not None and "session_ids" in item.extra:
            refuse(item, "session_ids", message)
            continue
        # The links vanish with a deleted session: blame the deletes.
        for session_id in sorted(stored.links.get(exam_id, ())):
            session_item = items["sessions"].get((session_id,))
            if session_item is not None and session_item.delete:
                refuse(session_item, "delete", message)


def _refuse_scores_above_max(items, kind: str, parent_kind: str, facts, after: _After, refuse, describe) -> None:
    """Stored scores (`facts`, of `kind`) above their parent's lowered max score refuse the parent's
    `max_score`, unless the snapshot removes them or gives them a new score (checked on its own)."""
    above: dict[int, list[str]] = defaultdict(list)
    for fact in facts:
        rescored = items[kind].get(fact.key)
        if rescored is not None and "score" in rescored.values:
            continue
        if after.survives(kind, fact):
            above[fact.parent].append(describe(fact))
    for parent_id, lines in above.items():
        refuse(items[parent_kind][(parent_id,)], "max_score",
               f"is below stored scores ({'; '.join(sorted(lines)[:5])}{' …' if len(lines) > 5 else ''})")


def _validate_homeworks(items, stored: _Stored, after: _After, refuse) -> None:
    _refuse_scores_above_max(
        items, "homework_submissions", "homeworks", stored.submissions_above, after, refuse,
        lambda fact: f"enrollment {fact.key[0]}: {fact.score}",
    )
    wrong: dict[int, list[int]] = defaultdict(list)
    for fact in stored.moved_submissions:
        homework = after.row("homeworks", (fact.parent,))
        if homework is None or not after.survives("homework_submissions", fact):
            continue
        if after.lecture_of_session(homework["session_id"]) != fact.lecture_id:
            wrong[fact.parent].append(fact.key[0])
    for homework_id, enrollments in wrong.items():
        refuse(items["homeworks"][(homework_id,)], "session_id",
               "moves the homework to another lecture while submissions of enrollment "
               + ", ".join(map(str, sorted(enrollments)[:5])) + " remain")


def _validate_facts(items, stored: _Stored, after: _After, refuse) -> None:
    for key, item in items["attempts"].items():
        if item.delete or not item.ok:
            continue
        enrollment_id, exam_id, _ = key
        enrollment, exam = after.row("enrollments", (enrollment_id,)), after.row("exams", (exam_id,))
        if enrollment is None or exam is None:
            continue
        if enrollment["lecture_id"] not in after.lectures_linked(exam_id):
            refuse(item, "exam_id", f"exam {exam_id} is not linked to a session of lecture "
                                    f"{enrollment['lecture_id']} (enrollment {enrollment_id}'s lecture)")
        row = after.row("attempts", key)
        if row is not None and row.get("score") is not None and row["score"] > exam["max_score"]:
            refuse(item, "score", f"{row['score']} is above the exam's max score {exam['max_score']}")
    for key, item in items["homework_submissions"].items():
        if item.delete or not item.ok:
            continue
        enrollment, homework = after.row("enrollments", (key[0],)), after.row("homeworks", (key[1],))
        if enrollment is None or homework is None:
            continue
        if after.lecture_of_session(homework["session_id"]) != enrollment["lecture_id"]:
            refuse(item, "homework_id", f"homework {key[1]} does not belong to lecture {enrollment['lecture_id']} "
                                        f"(enrollment {key[0]}'s lecture)")
        row = after.row("homework_submissions", key)
        if row is not None and row["score"] is not None and row["score"] > homework["max_score"]:
            refuse(item, "score", f"{row['score']} is above the homework's max score {homework['max_score']}")
    for key, item in items["activities"].items():
        if item.delete or not item.ok:
            continue
        enrollment = after.row("enrollments", (key[0],))
        lecture_id = after.lecture_of_session(key[1])
        if enrollment is not None and lecture_id is not None and lecture_id != enrollment["lecture_id"]:
            refuse(item, "session_id", f"session {key[1]} does not belong to lecture {enrollment['lecture_id']} "
                                       f"(enrollment {key[0]}'s lecture)")


def _settle_roll_calls(items, stored: _Stored, problems: list[ImportProblem]) -> None:
    """Give each activity the attendance its presence means, or clear a stored presence its new
    attendance contradicts (SPEC §12), so the plan sees the values that will be stored: importing
    the same snapshot again then finds nothing to change."""
    for key, item in items["activities"].items():
        if item.delete or not item.ok:
            continue
        given = {name: item.values[name] for name in ("attendance", "presence") if name in item.values}
        if not given:
            continue
        base = stored.rows["activities"].get(key) or {"attendance": "online", "presence": None}
        try:
            attendance, presence = roll_call(base["attendance"], base["presence"], **given)
        except PresenceConflict:
            item.ok = False
            problems.append(ImportProblem(item.path("presence"), f"{given['presence']} contradicts attendance "
                                          f"{given['attendance']} (present and late mean offline, absent and "
                                          "excused online)"))
            continue
        if "presence" in given or presence != base["presence"]:
            item.values["presence"] = presence
        if "attendance" in given or attendance != base["attendance"]:
            item.values["attendance"] = attendance


# ---------------------------------------------------------------- planning


@dataclass
class _StaleCells:
    """The stale cells of one lecture: whole `sessions` (every enrollment's cell of them) and
    single `cells` (enrollment, session) besides."""

    sessions: set[int] = field(default_factory=set)
    cells: set[tuple[int, int]] = field(default_factory=set)

    def add(self, enrollment_id: int | None, session_ids: Iterable[int]) -> None:
        """Cells of one enrollment (None: every enrollment) in these sessions."""
        if enrollment_id is None:
            self.sessions.update(session_ids)
        else:
            self.cells.update((enrollment_id, session_id) for session_id in session_ids)

    def scopes(self, lecture_id: int) -> list[Scope]:
        """At most two recompute scopes: the whole sessions, then the single cells outside them."""
        scopes = [Scope(lecture_id, None, frozenset(self.sessions))] if self.sessions else []
        cells = {cell for cell in self.cells if cell[1] not in self.sessions}
        if cells:
            scopes.append(Scope.of_cells(lecture_id, cells))
        return scopes


@dataclass
class _Work:
    """What the apply step writes and recomputes; filled by the planner."""

    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    deletes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # primary keys
    policy_inserts: list[dict[str, Any]] = field(default_factory=list)
    policy_updates: list[dict[str, Any]] = field(default_factory=list)
    links: dict[int, set[int]] = field(default_factory=dict)  # exam -> its new link set
    questions: dict[int, dict[int, tuple]] = field(default_factory=dict)
    answers: dict[tuple, dict[int, tuple]] = field(default_factory=dict)  # attempt key -> answers
    guardian_inserts: list[dict[str, Any]] = field(default_factory=list)
    guardian_updates: list[dict[str, Any]] = field(default_factory=list)
    guardian_deletes: list[int] = field(default_factory=list)
    reordered: dict[int, int] = field(default_factory=dict)  # session id -> new order, for moved sessions
    used_orders: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    whole: set[int] = field(default_factory=set)  # lectures recomputed whole
    recompute_lectures: set[int] = field(default_factory=set)  # lectures left to recompute (not deleted)
    cells: dict[int, _StaleCells] = field(default_factory=lambda: defaultdict(_StaleCells))  # by lecture


def _plan(items: dict[str, dict[tuple, _Item]], stored: _Stored, after: _After) -> ImportPlan:
    work = _Work()
    changes: dict[str, list[PlannedChange]] = {kind: [] for kind in KINDS}
    touched: set[int] = set()

    student_lectures: dict[int, set[int]] = defaultdict(set)
    for enrollment in stored.rows["enrollments"].values():
        student_lectures[enrollment["student_id"]].add(enrollment["lecture_id"])

    def lectures_of(kind: str, key: tuple, row: Mapping[str, Any]) -> set[int]:
        """The lectures a change of this row touches (before and after)."""
        if kind == "lectures":
            return {key[0]}
        if kind == "students":
            return student_lectures.get(key[0], set())
        if kind == "sessions":
            return {row["lecture_id"]}
        if kind == "exams":
            return _exam_lectures(key[0], after, stored)
        if kind == "homeworks":
            sessions = {row["session_id"], stored.rows["homeworks"].get(key, row)["session_id"]}
            return {_lecture_of_any_session(s, after, stored) for s in sessions} - {None}
        enrollment = after.row("enrollments", (key[0],)) or stored.rows["enrollments"].get((key[0],))
        return {enrollment["lecture_id"]} if enrollment else set()

    for kind in _KIND_LIST:
        for key, item in items[kind.name].items():
            base = stored.rows[kind.name].get(key)
            if item.delete:
                if base is None:
                    continue  # deleting a missing item does nothing
                work.deletes[kind.name].append(base["id"])
                changes[kind.name].append(PlannedChange(kind.name, item.index, key, "delete", dict(base), None))
                lectures = lectures_of(kind.name, key, base)
                touched |= lectures
                _recompute_after_delete(kind.name, key, base, lectures, after, stored, work)
                continue
            row = after.row(kind.name, key)
            if base is None:
                change = _plan_create(kind, key, item, row, work)
                changes[kind.name].append(change)
                _recompute_after_write(kind.name, key, row, None, set(change.after), after, stored, work)
                touched |= lectures_of(kind.name, key, row)
                continue
            before, new = _diff(kind, key, item, base, stored, work)
            if new:
                changes[kind.name].append(PlannedChange(kind.name, item.index, key, "update", before, new))
                _recompute_after_write(kind.name, key, row, base, set(new), after, stored, work)
                touched |= lectures_of(kind.name, key, row)
    existing = {key[0] for key in stored.rows["lectures"]}
    work.recompute_lectures = {lid for lid in work.whole | set(work.cells) if after.exists("lectures", lid)}
    return ImportPlan(changes, frozenset(touched & existing), work)


def _plan_create(kind: _Kind, key: tuple, item: _Item, row: dict[str, Any], work: _Work) -> PlannedChange:
    values = {name: row.get(name) for name in kind.columns}
    if kind.name == "attempts":
        values["source"] = "import"
    work.inserts[kind.name].append(values)
    after = dict(values)
    if kind.name == "lectures":
        merged = item.extra.get("policy_merged", dict(POLICY_DEFAULTS))
        work.policy_inserts.append({"lecture_id": key[0], **merged})
        if "policy" in item.extra:
            after["policy"] = {name: merged[name] for name in item.extra["policy"]}
    if kind.name == "sessions":
        work.used_orders[row["lecture_id"]].add(row["order"])
    if "session_ids" in item.extra:
        work.links[key[0]] = set(item.extra["session_ids"])
        after["session_ids"] = sorted(item.extra["session_ids"])
    if "questions" in item.extra:
        work.questions[key[0]] = item.extra["questions"]
        after["questions"] = item.extra["questions"]
    if "answers" in item.extra:
        work.answers[key] = item.extra["answers"]
        after["answers"] = item.extra["answers"]
    if "guardians" in item.extra:
        inserts, _, _ = _guardian_changes(key[0], item.extra["guardians"], ())
        work.guardian_inserts.extend(inserts)
        after["guardians"] = inserts
    return PlannedChange(kind.name, item.index, key, "create", None, after)


def _diff(kind: _Kind, key: tuple, item: _Item, base: dict[str, Any], stored: _Stored,
          work: _Work) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored and new values of the fields the item really changes."""
    before: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name, value in item.values.items():
        if base[name] != value:
            before[name], new[name] = base[name], value
    if new:
        work.updates[kind.name].append({"id": base["id"], **new})
    if kind.name == "sessions":
        work.used_orders[base["lecture_id"]].add(base["order"])
        if "order" in new:
            work.reordered[base["id"]] = new["order"]
            work.used_orders[base["lecture_id"]].add(new["order"])
    if kind.name == "lectures" and "policy" in item.extra:
        stored_policy = stored.policies.get(key[0])
        merged = item.extra["policy_merged"]
        if stored_policy is None:
            work.policy_inserts.append({"lecture_id": key[0], **merged})
            before["policy"], new["policy"] = None, {n: merged[n] for n in item.extra["policy"]}
        else:
            changed = {n: merged[n] for n in POLICY_FIELDS if merged[n] != stored_policy[n]}
            if changed:
                work.policy_updates.append({"id": stored_policy["id"], **changed})
                before["policy"] = {n: stored_policy[n] for n in changed}
                new["policy"] = changed
    if "session_ids" in item.extra:
        old = stored.links.get(key[0], set())
        if set(item.extra["session_ids"]) != old:
            work.links[key[0]] = set(item.extra["session_ids"])
            before["session_ids"], new["session_ids"] = sorted(old), sorted(item.extra["session_ids"])
    if "questions" in item.extra:
        old_questions = stored.questions.get(key[0], {})
        if item.extra["questions"] != old_questions:
            work.questions[key[0]] = item.extra["questions"]
            before["questions"], new["questions"] = old_questions, item.extra["questions"]
    if "answers" in item.extra:
        old_answers = stored.answers.get(base["id"], {})
        if item.extra["answers"] != old_answers:
            work.answers[key] = item.extra["answers"]
            before["answers"], new["answers"] = old_answers, item.extra["answers"]
    if "guardians" in item.extra:
        old_guardians = stored.guardians.get(key[0], [])
        inserts, updates, deletes = _guardian_changes(key[0], item.extra["guardians"], old_guardians)
        if inserts or updates or deletes:
            work.guardian_inserts.extend(inserts)
            work.guardian_updates.extend(updates)
            work.guardian_deletes.extend(deletes)
            before["guardians"] = [{k: v for k, v in row.items() if k != "student_id"} for row in old_guardians]
            new["guardians"] = [dict(row) for row in item.extra["guardians"]]
    return before, new


# Field changes that alter no derived row.
_COSMETIC = {"lectures": {"title"}, "sessions": {"title"},
             "students": {"name", "contact", "guardian_contact", "guardians"},
             "exams": {"title"}, "homeworks": {"title"}, "activities": {"presence"}}


def _recompute_after_write(kind: str, key: tuple, row: Mapping[str, Any], base: Mapping[str, Any] | None,
                           changed: set[str], after: _After, stored: _Stored, work: _Work) -> None:
    """Record which cells a create or update makes stale (SPEC §7)."""
    if base is not None and changed <= _COSMETIC.get(kind, set()):
        return
    if kind == "lectures":
        work.whole.add(key[0])
    elif kind == "sessions":
        if base is None or changed & {"order", "date"}:
            work.whole.add(row["lecture_id"])
    elif kind == "enrollments":
        work.whole.add(row["lecture_id"])
    elif kind == "students":
        return  # a new student has no enrollment yet; enrollments are planned on their own
    elif kind == "exams":
        if base is not None or "session_ids" in changed:
            work.whole |= _exam_lectures(key[0], after, stored)
    elif kind == "homeworks":
        sessions = {row["session_id"]} | ({base["session_id"]} if base is not None else set())
        for session_id in sessions:
            lecture_id = _lecture_of_any_session(session_id, after, stored)
            if lecture_id is not None:
                work.cells[lecture_id].add(None, (session_id,))
    else:
        _fact_cells(kind, key, after, stored, work)


def _recompute_after_delete(kind: str, key: tuple, base: Mapping[str, Any], lectures: set[int],
                            after: _After, stored: _Stored, work: _Work) -> None:
    if kind in ("lectures", "students", "sessions", "enrollments"):
        # A deleted lecture needs nothing; the others change the whole lecture (SPEC §7).
        work.whole |= lectures - ({key[0]} if kind == "lectures" else set())
    elif kind == "exams":
        work.whole |= lectures
    elif kind == "homeworks":
        for lecture_id in lectures:
            work.cells[lecture_id].add(None, (base["session_id"],))
    else:
        _fact_cells(kind, key, after, stored, work)


def _lecture_of_any_session(session_id: int, after: _After, stored: _Stored) -> int | None:
    lecture_id = after.lecture_of_session(session_id)
    if lecture_id is None and (session_id,) in stored.rows["sessions"]:
        lecture_id = stored.rows["sessions"][(session_id,)]["lecture_id"]
    return lecture_id


def _exam_lectures(exam_id: int, after: _After, stored: _Stored) -> set[int]:
    lectures = {_lecture_of_any_session(s, after, stored) for s in stored.links.get(exam_id, ())}
    return (lectures | after.lectures_linked(exam_id)) - {None}


def _fact_cells(kind: str, key: tuple, after: _After, stored: _Stored, work: _Work) -> None:
    """An attempt, submission or activity (written or deleted): its enrollment x the sessions it feeds."""
    enrollment_id = key[0]
    enrollment = after.row("enrollments", (enrollment_id,)) or stored.rows["enrollments"].get((enrollment_id,))
    if enrollment is None:
        return
    lecture_id = enrollment["lecture_id"]
    if kind == "attempts":
        sessions = [s for s in after.links(key[1]) if after.lecture_of_session(s) == lecture_id]
    elif kind == "homework_submissions":
        homework = after.row("homeworks", (key[1],)) or stored.rows["homeworks"].get((key[1],))
        sessions = [homework["session_id"]] if homework else []
    else:
        sessions = [key[1]]
    if sessions:
        work.cells[lecture_id].add(enrollment_id, sessions)


# ---------------------------------------------------------------- apply


_DELETE_ORDER = ("activities", "homework_submissions", "attempts", "homeworks", "exams", "enrollments",
                 "sessions", "students", "lectures")
_EXPLICIT_ID_KINDS = ("lectures", "sessions", "students", "enrollments", "exams", "homeworks")


def _bulk_update(model: type, rows: list[dict[str, Any]]) -> None:
    """UPDATE by primary key, one executemany per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    for group in groups.values():
        db.session.execute(update(model), group)


def _bulk_update_versioned(model: type, rows: list[dict[str, Any]]) -> None:
    """UPDATE versioned objects (models.Versioned) by primary key, raising each one's version:
    the ORM's bulk update by primary key leaves the version alone."""
    table = model.__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(name for name in row if name != "id"))].append(row)
    for names, group in groups.items():
        statement = (
            table.update()
            .where(table.c.id == bindparam("row_id"))
            .values({**{name: bindparam(name) for name in names},
                     "version": table.c.version + 1, "updated_at": utcnow()})
        )
        db.session.connection().execute(
            statement, [{"row_id": row["id"], **{name: row[name] for name in names}} for row in group])


def _bulk_insert(model: type, rows: list[dict[str, Any]]) -> None:
    """INSERT rows with `bulk.insert_rows`, one statement per set of columns.

    (The ORM's bulk insert leaves None values out and so starts a new statement whenever that
    set changes from one row to the next — an answer with or without an invalid reason: some
    2 000 statements for the answer facts of a 300 x 40 lecture.)
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(row)].append(row)
    for group in groups.values():
        bulk.insert_rows(model.__table__, group)


def _bulk_delete(column: Any, values: Iterable[Any]) -> None:
    model = column.class_
    for batch in _chunks(sorted(set(values))):
        db.session.execute(delete(model).where(column.in_(batch)).execution_options(synchronize_session=False))


def _apply(plan: ImportPlan, stored: _Stored, progress: ProgressCallback | None) -> None:
    work = plan._work
    assert work is not None
    total = len(KINDS) + 1
    for kind in _DELETE_ORDER:
        if work.deletes.get(kind):
            _bulk_delete(_KINDS[kind].model.id, work.deletes[kind])
    if progress:
        progress("apply", 1, total)
    for step, kind in enumerate(KINDS, start=2):
        model = _KINDS[kind].model
        if kind == "sessions":
            _apply_sessions(work, stored)
        elif kind == "attempts":
            _apply_attempts(work, stored)
        else:
            if work.inserts.get(kind):
                _bulk_insert(model, work.inserts[kind])
            if work.updates.get(kind):
                _bulk_update(model, work.updates[kind])
        if kind == "lectures":
            if work.policy_inserts:
                _bulk_insert(ProgressPolicy, work.policy_inserts)
            if work.policy_updates:
                _bulk_update_versioned(ProgressPolicy, work.policy_updates)
        if kind == "students":
            _apply_guardians(work)
        if kind == "exams":
            stored_exams = {key[0] for key in stored.rows["exams"]}
            _replace_children(ExamSession.exam_id, work.links, stored_exams & set(work.links),
                              lambda exam, sid: {"exam_id": exam, "session_id": sid})
            _replace_children(ExamQuestion.exam_id, {k: v.items() for k, v in work.questions.items()},
                              stored_exams & set(work.questions),
                              lambda exam, q: {"exam_id": exam, "number": q[0], "answer": q[1][0], "points": q[1][1]})
        if progress:
            progress("apply", step, total)
    _advance_sequences(work)


def _tell_guardians_of_absences(plan: ImportPlan) -> None:
    """An absence the snapshot records queues its guardians' message, and an absence it corrects
    or deletes cancels it (SPEC §14), as a roll call on a page does. Absences are few: one call each."""
    for change in plan.changes.get("activities", ()):
        before = (change.before or {}).get("presence")
        after = None if change.action == "delete" else (change.after or {}).get("presence", before)
        if (before == "absent") != (after == "absent"):
            outbox.presence_changed(change.key[0], change.key[1], before, after)


def _apply_guardians(work: _Work) -> None:
    """Guardians left out go first, so a new one may take a departed one's name and relation."""
    if work.guardian_deletes:
        _bulk_delete(Guardian.id, work.guardian_deletes)
    if work.guardian_updates:
        _bulk_update(Guardian, work.guardian_updates)
    if work.guardian_inserts:
        _bulk_insert(Guardian, work.guardian_inserts)


def _replace_children(column: Any, children: Mapping[int, Iterable[Any]], stored_parents: set[int],
                      make: Callable[[int, Any], dict]) -> None:
    """Whole-list replacement: delete every child of these parents (those that existed), insert the new ones."""
    if not children:
        return
    if stored_parents:
        _bulk_delete(column, stored_parents)
    rows = [make(parent, child) for parent, values in children.items() for child in values]
    if rows:
        _bulk_insert(column.class_, rows)


def _apply_sessions(work: _Work, stored: _Stored) -> None:
    """Move reordered sessions aside first, so swapped orders never meet the unique constraint."""
    if work.reordered:
        lecture_of = {row["id"]: row["lecture_id"] for row in stored.rows["sessions"].values()}
        for row in stored.rows["sessions"].values():
            work.used_orders[row["lecture_id"]].add(row["order"])
        parked = []
        free: dict[int, Iterator[int]] = {}
        for session_id in sorted(work.reordered):
            lecture_id = lecture_of[session_id]
            if lecture_id not in free:
                used = work.used_orders[lecture_id]
                free[lecture_id] = (o for o in range(9999, 0, -1) if o not in used)
            parked.append({"id": session_id, "order": next(free[lecture_id])})
        _bulk_update(LectureSession, parked)
    if work.inserts.get("sessions"):
        _bulk_insert(LectureSession, work.inserts["sessions"])
    if work.updates.get("sessions"):
        _bulk_update(LectureSession, work.updates["sessions"])


def _apply_attempts(work: _Work, stored: _Stored) -> None:
    if work.inserts.get("attempts"):
        _bulk_insert(Attempt, work.inserts["attempts"])
    if work.updates.get("attempts"):
        _bulk_update(Attempt, work.updates["attempts"])
    if not work.answers:
        return
    ids = {key: row["id"] for key, row in stored.rows["attempts"].items()}
    created = [key for key in work.answers if key not in ids]
    if created:
        # The new attempts' ids, read back by key (RETURNING would go row by row on SQLite).
        columns = [Attempt.enrollment_id, Attempt.exam_id, Attempt.attempt_no, Attempt.id]
        for row in _rows_by_key(columns, Attempt.enrollment_id, Attempt.exam_id, created):
            ids[(row.enrollment_id, row.exam_id, row.attempt_no)] = row.id
    _replace_children(
        AnswerFact.attempt_id, {ids[key]: answers.items() for key, answers in work.answers.items()},
        {ids[key] for key in work.answers if key in stored.rows["attempts"]},
        lambda attempt, answer: {"attempt_id": attempt, "question": answer[0], "is_correct": answer[1][0],
                                        "invalid_reason": answer[1][1], "detected": answer[1][2]})


def _advance_sequences(work: _Work) -> None:
    """Ids given by a snapshot became primary keys: move PostgreSQL sequences past them."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    tables = [_KINDS[kind].model.__table__.name for kind in _EXPLICIT_ID_KINDS if work.inserts.get(kind)]
    if any("id" in row for row in work.guardian_inserts):
        tables.append(Guardian.__table__.name)
    for table in tables:
        db.session.execute(
            text(f'SELECT setval(pg_get_serial_sequence(:table, \'id\'), GREATEST('
                 f'(SELECT COALESCE(MAX(id), 0) FROM "{table}"), nextval(pg_get_serial_sequence(:table, \'id\'))))'),
            {"table": table},
        )


def _run_recompute(work: _Work, progress: ProgressCallback | None) -> int:
    """Per lecture, the whole lecture or exactly its stale cells (at most two recompute calls)."""
    lectures = sorted(work.recompute_lectures)
    total = 0
    for done, lecture_id in enumerate(lectures, start=1):
        if lecture_id in work.whole:
            total += recompute_lecture(lecture_id)
        else:
            for scope in work.cells[lecture_id].scopes(lecture_id):
                total += recompute(scope)
        if progress:
            progress("recompute", done, len(lectures))
    return total


# ---------------------------------------------------------------- entry points


def _count(data: Any) -> int:
    if not isinstance(data, dict):
        return 0
    return sum(len(value) for value in data.values() if isinstance(value, list))


def _prepare(data: Any, *, progress: ProgressCallback | None = None
             ) -> tuple[ImportPlan, _Stored, dict[str, dict[tuple, _Item]]]:
    """Validate a snapshot against the database and plan its diff, writing nothing.

    Raises ImportRejected with every problem found. The plan's `changes` and `counts()`
    are what a preview shows. Answers the plan, the stored rows it was made from and the
    parsed items.
    """
    total = _count(data)
    if progress:
        progress("validate", 0, total)
    problems: list[ImportProblem] = []
    items = _parse_snapshot(data, problems)
    stored = _load(items)
    _settle_roll_calls(items, stored, problems)
    after = _After(items, stored)
    _validate(items, stored, after, problems)
    if problems:
        raise ImportRejected(problems)
    if progress:
        progress("validate", total, total)
    return _plan(items, stored, after), stored, items


def preview_snapshot(data: Any) -> ImportPlan:
    """The diff a snapshot would make (for an upload preview); raises ImportRejected when it is bad."""
    return _prepare(data)[0]


def import_snapshot(data: Any, *, progress: ProgressCallback | None = None, user: User | None = None,
                    audit_import: bool = True, audit_rows: bool | None = None) -> ImportResult:
    """Apply a snapshot (SPEC §9) in the caller's transaction: validate, plan, apply, recompute.

    Flushes only; the caller commits, or rolls back on ImportRejected or any error. The
    lectures it touches are locked before the state it is validated against is read for good.
    `progress(step, done, total)` is called with steps "validate", "apply" and "recompute".
    Returns the change counts; a snapshot that changes nothing writes nothing. A service that
    records its own, more specific audit row passes `audit_import=False`. Every item changed is
    also an audit row of its own (`audit_rows`, by default as `audit_import`): an upload keeps
    them, a setup form that writes through the importer records its own instead.
    """
    plan, stored, items = _prepare(data, progress=progress)
    if plan.is_empty:
        return plan.counts()
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    locked: set[int] = set()
    while True:
        for lecture_id in sorted(plan.lecture_ids - locked):
            lock_lecture(lecture_id)
        locked |= plan.lecture_ids
        # Read the stored rows again under the locks, so what is validated is what gets written:
        # a writer may have committed between the first read and the locks. Validation and plan
        # depend on nothing but the snapshot and these rows, so when the rows are the same they
        # stand; only when something changed are they made again — and when the new plan touches
        # a lecture not locked yet, that one is locked and the rows read once more. With no lock
        # taken (the snapshot touches no stored lecture) a second read would protect nothing,
        # and on SQLite lock_lecture takes no row lock.
        if not (plan.lecture_ids and postgresql) or _load(items) == stored:
            break
        plan, stored, items = _prepare(data)
        if plan.is_empty:
            return plan.counts()
        if plan.lecture_ids <= locked:
            break
    result = plan.counts()
    inserted_before = _inserted_rows() if postgresql else None
    if audit_import if audit_rows is None else audit_rows:
        audit.record_import_rows(plan.changes, user)
    _apply(plan, stored, progress)
    assert plan._work is not None
    # SPEC §7: a changed answer key regrades the exam's OMR-graded attempts before the recompute
    # (which covers those exams' lectures whole already).
    for exam_id in sorted(plan._work.questions):
        regrade_exam(exam_id, user, recompute_changes=False)
    result.recomputed = _run_recompute(plan._work, progress)
    _tell_guardians_of_absences(plan)
    if audit_import:
        audit.record("import_snapshot", "snapshot", None, None, result.as_dict(), user)
    if inserted_before is not None:
        result.grown_tables = _grown_tables(inserted_before)
    return result


# A table is analysed after an import that inserted more than ANALYZE_MIN_ROWS rows plus
# ANALYZE_SHARE of the rows the planner last counted in it: autovacuum's own rule with a larger
# base (docs/decisions.md, 13).
ANALYZE_MIN_ROWS = 1000
ANALYZE_SHARE = 0.1


def _inserted_rows() -> dict[str, int]:
    """Rows inserted per table as this connection's statistics count them (PostgreSQL).

    `pg_stat_xact_user_tables` counts this transaction's inserts, but on PostgreSQL 15 also
    those of the connection's earlier transactions until they reach the shared statistics
    (at most a second later, once the connection is idle): an import takes the difference.
    """
    return dict(db.session.execute(text(
        "SELECT relname, n_tup_ins FROM pg_stat_xact_user_tables WHERE schemaname = current_schema()")).all())


def _grown_tables(inserted_before: Mapping[str, int]) -> tuple[str, ...]:
    """The tables into which the import (recompute included) inserted more rows than the planner's
    statistics can stand (`pg_class.reltuples`: -1 for a table never analysed)."""
    rows = db.session.execute(text(
        "SELECT s.relname, s.n_tup_ins, c.reltuples FROM pg_stat_xact_user_tables AS s "
        "JOIN pg_class AS c ON c.oid = s.relid WHERE s.schemaname = current_schema()")).all()
    return tuple(sorted(
        name for name, inserted, reltuples in rows
        if inserted - inserted_before.get(name, 0) > ANALYZE_MIN_ROWS + ANALYZE_SHARE * max(reltuples, 0)
    ))


def analyze_grown_tables(result: ImportResult) -> None:
    """ANALYZE the tables an import grew; call it after the import's transaction committed.

    Until autovacuum gets to them, the planner has no statistics for the new rows and plans
    with default estimates (a single cell's recompute then hash-joins every answer fact). Runs
    in a transaction of its own and commits it; a failure is logged and left to autovacuum,
    since the import itself is already committed.
    """
    if not result.grown_tables:
        return
    names = ", ".join('"' + name.replace('"', '""') + '"' for name in result.grown_tables)
    try:
        db.session.execute(text(f"ANALYZE {names}"))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("ANALYZE %s after an import failed; autovacuum will do it", names,
                                   exc_info=True)

"""The nine kinds of snapshot item (SPEC §9): their key, fields, required fields and defaults, and the
first reading of a snapshot into items keyed like the stored rows."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

from dashboard.importer.fields import (
    _answers,
    _Bad,
    _bool,
    _choice,
    _date,
    _guardians,
    _id,
    _int_range,
    _policy,
    _positive_score,
    _questions,
    _score,
    _session_ids,
    _text,
    _time,
)
from dashboard.importer.results import KINDS, ImportProblem
from dashboard.models import (
    PRESENCE_VALUES,
    Activity,
    Attempt,
    Enrollment,
    Exam,
    Homework,
    HomeworkSubmission,
    Lecture,
    LectureSession,
    Student,
)


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
        problems.append(ImportProblem(None, "a snapshot must be a JSON object", "not_object"))
        return items
    for name in data:
        if name not in _KINDS:
            problems.append(ImportProblem(name, "unknown key; a snapshot holds " + ", ".join(KINDS), "unknown_field"))
    for kind in _KIND_LIST:
        if kind.name not in data:
            continue
        entries = data[kind.name]
        if not isinstance(entries, list):
            problems.append(ImportProblem(kind.name, "must be a list", "not_list"))
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
        problems.append(ImportProblem(path, "must be an object", "not_object"))
        return None
    before = len(problems)
    key = []
    for name in kind.key:
        if name not in entry:
            problems.append(ImportProblem(f"{path}.{name}", "is required", "required"))
            continue
        try:
            key.append(_id(entry[name]))  # ids and attempt_no alike are integers >= 1
        except _Bad as bad:
            problems.append(ImportProblem(f"{path}.{name}", bad.problems[0][1], bad.reason, bad.params))
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
                problems.append(ImportProblem(item.path(name), "must be true or false", "not_boolean"))
            continue
        spec = kind.fields.get(name)
        if spec is None:
            problems.append(ImportProblem(item.path(name), "unknown field", "unknown_field"))
            continue
        if raw is None:
            if spec.nullable:
                item.values[name] = None
            else:
                problems.append(ImportProblem(item.path(name), "cannot be null", "required"))
                item.bad.add(name)
            continue
        try:
            parsed = spec.parse(raw)
        except _Bad as bad:
            problems.extend(ImportProblem(item.path(name) + sub, message, bad.reason, bad.params)
                            for sub, message in bad.problems)
            item.bad.add(name)
            continue
        (item.values if spec.column else item.extra)[name] = parsed
    item.ok = len(problems) == before
    return item

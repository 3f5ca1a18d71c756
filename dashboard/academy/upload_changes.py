"""What an upload's preview says about each line: whose row it is, what it is about (an exam and
attempt, a homework, a session), and every value it changes, stored → new.

The snapshot planner already knows the stored and the new value of every field a row changes
(`PlannedChange.before` / `.after`); this module puts names on them. Only the values a person
typed into the file are shown — ids and keys are what the row is *about*, not changes.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from dashboard.clock import academy_timezone
from dashboard.extensions import db
from dashboard.models import Exam, Homework, Student

# The fields a person types, per snapshot kind, in the order the preview lists them.
SHOWN: dict[str, tuple[str, ...]] = {
    "students": ("name", "contact", "guardian_contact", "guardians"),
    "enrollments": ("start_date", "withdrawn_at"),
    "attempts": ("score", "submitted_at"),
    "homework_submissions": ("submitted", "score", "approved"),
    "activities": ("presence", "attendance", "video_rate"),
}


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class LineChanges:
    """One line of the file: its student, the item it is about, and its changed values."""

    student: str
    item: str
    fields: tuple[FieldChange, ...]


def shown(value: Any) -> str:
    """A value as the preview prints it: blank as a dash, a flag as yes/no, a score as people write it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(academy_timezone()).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):  # a roster row's guardians: their names
        return ", ".join(str(item.get("name", "")) for item in value if isinstance(item, Mapping)) or "—"
    return str(value)


def field_changes(kind: str, action: str, before: Mapping[str, Any] | None,
                  after: Mapping[str, Any] | None) -> list[FieldChange]:
    """The typed fields one planned change alters, stored → new (a created row: — → new)."""
    before = before or {}
    after = after or {}
    changes = []
    for name in SHOWN.get(kind, ()):
        if name not in after:
            continue
        old = None if action == "create" else before.get(name)
        if action == "create" and after[name] in (None, ""):
            continue
        if kind == "enrollments" and name == "withdrawn_at":
            # Re-enrolling: the row shows the student back in the lecture.
            changes.append(FieldChange(_("enrolled"), _("withdrawn"), _("active")))
            continue
        changes.append(FieldChange(name, shown(old), shown(after[name])))
    return changes


def describe(kind: str, rows: Sequence[Any], lines: Mapping[tuple[str, int], int],
             planned: Iterable[Any]) -> dict[int, LineChanges]:
    """Each line's student, item and changed values. `rows` are the file's rows (line, values),
    `lines` maps (snapshot kind, index) to a line and `planned` are the planner's changes."""
    by_line = {row.line: row.values for row in rows}
    fields: dict[int, list[FieldChange]] = {}
    for change in planned:
        line = lines.get((change.kind, change.index))
        if line is not None:
            fields.setdefault(line, []).extend(field_changes(change.kind, change.action, change.before,
                                                             change.after))
    labels = _Labels.load(kind, by_line.values())
    return {line: LineChanges(labels.student(values), labels.item(kind, values), tuple(fields.get(line, ())))
            for line, values in by_line.items()}


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) <= 9 else None


@dataclass
class _Labels:
    """The names a file's rows refer to: students, exams, homework, sessions (one query each)."""

    students: dict[int, str]
    exams: dict[int, str]
    homeworks: dict[int, str | None]

    @classmethod
    def load(cls, kind: str, rows: Iterable[Mapping[str, str]]) -> _Labels:
        rows = list(rows)

        def ids(name: str) -> list[int]:
            return sorted({n for n in (_number(row.get(name)) for row in rows) if n is not None})

        def titles(model: Any, wanted: list[int]) -> dict[int, Any]:
            return dict(db.session.execute(select(model.id, model.title).where(model.id.in_(wanted))).all()) \
                if wanted else {}

        students = dict(db.session.execute(select(Student.id, Student.name).where(
            Student.id.in_(ids("student_id")))).all()) if ids("student_id") else {}
        return cls(students,
                   titles(Exam, ids("exam_id")) if kind == "scores" else {},
                   titles(Homework, ids("homework_id")) if kind == "homework" else {})

    def student(self, values: Mapping[str, str]) -> str:
        number = _number(values.get("student_id"))
        if number in self.students:
            return self.students[number]
        return values.get("name") or values.get("student_name") or "—"

    def item(self, kind: str, values: Mapping[str, str]) -> str:
        if kind == "scores":
            exam = _number(values.get("exam_id"))
            title = self.exams.get(exam) or _("Exam %(id)s", id=exam)
            return _("%(exam)s, attempt %(n)s", exam=title, n=values.get("attempt_no") or "1")
        if kind == "homework":
            homework = _number(values.get("homework_id"))
            return self.homeworks.get(homework) or _("Homework %(id)s", id=homework)
        if kind == "activity":
            return _("Session %(order)s", order=values.get("session", ""))
        return _("Enrollment")

"""Spreadsheet uploads into one lecture: a roster, exam scores, homework results,
attendance and video — CSV (UTF-8 with or without a byte-order mark, or Korean Excel's CP949) or an
Excel workbook (.xlsx, its first sheet).

An upload is turned into a snapshot (SPEC §9) and goes through the snapshot importer, so it
obeys exactly the rules and the transaction of `POST /api/import`:

1. `decode` the bytes and `read_rows` (the header names the columns, in any order; each data
   row keeps the line number it starts on);
2. `build` a snapshot from the rows and the lecture's facts (pure: no database) — every row
   names things *of this lecture* (its enrolled students, its exams, homework and sessions);
   a row naming anything else is a bad row with its line and reason. `lines` maps each
   snapshot item (``("attempts", 3)``) back to its CSV line;
3. `preview` asks the importer for the plan without writing (`preview_snapshot`) and maps its
   problems (``attempts[3].score``) back to lines; `apply` imports the same snapshot (lock,
   write, recompute) and records one audit row. A file with any bad row changes nothing.

Blank cells keep what is stored (an upsert leaves omitted keys alone); a data row whose value
cells are all blank is skipped (the downloadable templates list the lecture's students with blank
values, so an untouched template changes nothing). Who may upload is the caller's business
(`dashboard.web.uploads`: admins, and teachers for their own lectures); here, a teacher's roster
may change the details only of students enrolled in one of their lectures (`editable_students`).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from dashboard.academy import upload_changes
from dashboard.accounts import audit
from dashboard.accounts.access import visible_lecture_ids
from dashboard.errors import Invalid, describe
from dashboard.extensions import db
from dashboard.importer import ImportRejected, import_snapshot, preview_snapshot
from dashboard.models import (
    PRESENCE_VALUES,
    Enrollment,
    ExamSession,
    Guardian,
    Homework,
    LectureSession,
    Student,
    User,
)
from dashboard.parents import guardians as guardian_rules
from dashboard.progress.policy_validation import decimal_from_text
from dashboard.progress.recompute import lock_lecture
from dashboard.progress.rules import INTEGER_MAX
from dashboard.text.spreadsheet import unguarded

MAX_BYTES = 2 * 1024 * 1024  # a term of several hundred students fits many times over
MAX_ROWS = 5000

# Columns per kind; the first ones are required in the header. `student_name` is for the
# reader of the spreadsheet only (the templates fill it in) and is not checked.
COLUMNS: dict[str, tuple[str, ...]] = {
    "roster": ("name", "student_id", "contact", "guardian_contact", "start_date", *(
        f"guardian_{name}" for name in ("name", "relation", "phone", "email", "consent"))),
    "scores": ("student_id", "exam_id", "score", "attempt_no", "submitted_at", "student_name"),
    "homework": ("student_id", "homework_id", "submitted", "score", "approved", "student_name"),
    "activity": ("student_id", "session", "attendance", "video_rate", "presence", "student_name"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "roster": ("name",),
    "scores": ("student_id", "exam_id", "score"),
    "homework": ("student_id", "homework_id"),
    "activity": ("student_id", "session"),
}
KINDS: tuple[str, ...] = tuple(COLUMNS)

_TRUE = frozenset({"yes", "y", "true", "1", "o"})
_FALSE = frozenset({"no", "n", "false", "0", "x"})


class UploadRejected(ValueError):
    """The file is refused as a whole: `problems` are (line or None, message). Nothing was written."""

    def __init__(self, problems: Sequence[tuple[int | None, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"line {line}: {m}" if line else m for line, m in self.problems))


# ---------------------------------------------------------------- reading the file (pure)

@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]


def decode(content: bytes) -> str:
    """The file as CSV text: an Excel workbook (.xlsx: its first sheet), or CSV in UTF-8 (with or
    without a byte-order mark) or in CP949, what Korean Excel's "CSV (쉼표로 분리)" writes.
    UploadRejected otherwise."""
    if len(content) > MAX_BYTES:
        raise UploadRejected([(None, _("The file is larger than %(n)s MB.", n=MAX_BYTES // (1024 * 1024)))])
    if content.startswith(_ZIP_MAGIC):
        return _workbook_text(content)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # UTF-8 first: CP949 would read many UTF-8 files as nonsense without complaint.
        return content.decode("cp949")
    except UnicodeDecodeError:
        raise UploadRejected([(None, _("The file is neither UTF-8 nor CP949 text, nor an Excel workbook (.xlsx). "
                                       "Save it as “CSV UTF-8” or as an Excel workbook."))]) from None


_ZIP_MAGIC = b"PK\x03\x04"  # an .xlsx workbook is a zip archive


def _workbook_text(content: bytes) -> str:
    """The first sheet of an .xlsx workbook as CSV text (values, not formulas; whole numbers without
    a decimal point, dates as YYYY-MM-DD)."""
    from openpyxl import load_workbook  # only uploads of workbooks need it

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (zipfile, XML, KeyError) for a broken workbook
        raise UploadRejected([(None, _("This is not a readable Excel workbook (.xlsx)."))]) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for count, values in enumerate(sheet.iter_rows(values_only=True) if sheet is not None else ()):
            if count > MAX_ROWS + 1:
                raise UploadRejected([(None, _("At most %(n)s rows per file.", n=MAX_ROWS))])
            writer.writerow([_cell_text(value) for value in values])
    finally:
        workbook.close()
    return out.getvalue()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        # A date typed in Excel comes back as midnight; a time typed with it is kept (academy's zone).
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def read_rows(kind: str, text: str) -> list[Row]:
    """The data rows, each with the line it starts on; a header naming unknown or missing columns,
    or more than MAX_ROWS rows, refuses the file. Quoting is read strictly: a quote left open
    would otherwise swallow the rest of the file into one cell (or one "blank" row) unreported."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    previous_end = 0
    try:
        header = next(reader, None)
        if header is None:
            raise UploadRejected([(None, _("The file is empty."))])
        names = [name.strip().lstrip("\ufeff").lower() for name in header]
        unknown = [name for name in names if name and name not in COLUMNS[kind]]
        missing = [name for name in REQUIRED[kind] if name not in names]
        if unknown or missing or len(set(filter(None, names))) != len(list(filter(None, names))):
            raise UploadRejected([(1, _("The header must name the columns %(columns)s (required: %(required)s).",
                                        columns=", ".join(COLUMNS[kind]), required=", ".join(REQUIRED[kind])))])
        rows: list[Row] = []
        previous_end = reader.line_num
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_ROWS:
                raise UploadRejected([(None, _("At most %(n)s rows per file.", n=MAX_ROWS))])
            rows.append(Row(start, {name: (record[i].strip() if i < len(record) else "")
                                    for i, name in enumerate(names) if name}))
    except csv.Error as broken:
        if _quote_left_open(text, previous_end):
            # The record that starts after the last one read opens a quote and never closes it.
            raise UploadRejected([(previous_end + 1, _("A quote (\") opened on this line is never closed."))]) \
                from None
        raise UploadRejected([(reader.line_num, _("This is not a readable CSV line (%(why)s).", why=str(broken)))]) \
            from None
    return rows


def _quote_left_open(text: str, lines_read: int) -> bool:
    """Whether the text after the first `lines_read` lines holds an odd number of quotes (an
    escaped quote is two, so only an unclosed one makes the count odd)."""
    rest = "".join(io.StringIO(text, newline="").readlines()[lines_read:])
    return rest.count('"') % 2 == 1


# ---------------------------------------------------------------- the lecture's facts

@dataclass(frozen=True)
class LectureFacts:
    """What rows may name: this lecture's enrollments by student, its exams, homework and sessions."""

    lecture_id: int
    enrollments: Mapping[int, tuple[int, bool]]  # student id -> (enrollment id, withdrawn)
    students: Mapping[int, tuple[str, str | None, str | None]]  # existing students named by the file
    exam_ids: frozenset[int]
    homework_ids: frozenset[int]
    session_by_order: Mapping[int, int]
    editable_students: frozenset[int] | None  # None: every student (admins)
    # The stored guardians of the existing students named by the file (a roster row may add one).
    guardians: Mapping[int, list[dict[str, Any]]] = field(default_factory=dict)
    # The start date (YYYY-MM-DD) of an enrollment a roster row creates while leaving start_date blank.
    default_start: str | None = None


@dataclass
class Built:
    """A snapshot built from rows; `lines[(kind, index)]` is the CSV line of each item."""

    snapshot: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lines: dict[tuple[str, int], int] = field(default_factory=dict)
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # lines with blank values only
    row_lines: list[int] = field(default_factory=list)  # lines that made items

    def add(self, kind: str, line: int, item: dict[str, Any]) -> None:
        items = self.snapshot.setdefault(kind, [])
        self.lines[(kind, len(items))] = line
        items.append(item)


class _RowProblem(ValueError):
    pass


def _whole(text: str, what: str, lowest: int = 1, highest: int = INTEGER_MAX) -> int:
    if not text.isascii() or not text.isdigit() or not lowest <= int(text) <= highest:
        raise _RowProblem(_("%(what)s must be a whole number from %(low)s to %(high)s.",
                            what=what, low=lowest, high=highest))
    return int(text)


def _decimal(text: str, what: str) -> Decimal:
    try:
        number = decimal_from_text(text)
    except Invalid:
        raise _RowProblem(_("%(what)s must be a number.", what=what)) from None
    if not number.is_finite():
        raise _RowProblem(_("%(what)s must be a number.", what=what))
    return number


def _flag(text: str, what: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise _RowProblem(_("%(what)s must be yes or no.", what=what))


def _day(text: str) -> str:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise _RowProblem(_("start_date must be a date YYYY-MM-DD.")) from None
    return text


def _unquoted(text: str) -> str:
    """Undo the apostrophe our CSV downloads put before a formula mark (spreadsheet.formula_safe)."""
    return unguarded(text)


def _enrollment(facts: LectureFacts, values: Mapping[str, str]) -> int:
    student_id = _whole(values.get("student_id", ""), "student_id")
    found = facts.enrollments.get(student_id)
    if found is None:
        raise _RowProblem(_("Student %(id)s is not enrolled in this lecture.", id=student_id))
    if found[1]:
        raise _RowProblem(_("Student %(id)s has withdrawn from this lecture.", id=student_id))
    return found[0]


def _blank(values: Mapping[str, str], names: Iterable[str]) -> bool:
    return not any(values.get(name) for name in names)


def build(kind: str, rows: Sequence[Row], facts: LectureFacts, new_ids: Callable[[str], int]) -> Built:
    """The snapshot of a file's rows (pure). `new_ids("students" | "enrollments")` hands out the id
    of a row the import will create. Bad rows land in `problems` with their line."""
    built = Built()
    seen: dict[tuple, int] = {}
    for row in rows:
        try:
            made = _build_row(kind, row.values, facts, new_ids)
        except _RowProblem as problem:
            built.problems.append((row.line, str(problem)))
            continue
        if made is None:
            built.skipped.append(row.line)
            continue
        key, items = made
        if key in seen:
            built.problems.append((row.line, _("This row repeats line %(line)s.", line=seen[key])))
            continue
        seen[key] = row.line
        built.row_lines.append(row.line)
        for item_kind, item in items:
            built.add(item_kind, row.line, item)
    return built


Items = list[tuple[str, dict[str, Any]]]


def _build_row(kind: str, values: Mapping[str, str], facts: LectureFacts,
               new_ids: Callable[[str], int]) -> tuple[tuple, Items] | None:
    """One row's key (a row repeating it is refused) and snapshot items; None for a blank row."""
    if kind == "roster":
        return _roster_row(values, facts, new_ids)
    if kind == "scores":
        if _blank(values, ("score", "submitted_at")):
            return None
        enrollment_id = _enrollment(facts, values)
        exam_id = _whole(values.get("exam_id", ""), "exam_id")
        if exam_id not in facts.exam_ids:
            raise _RowProblem(_("Exam %(id)s is not an exam of this lecture.", id=exam_id))
        attempt_no = _whole(values.get("attempt_no") or "1", "attempt_no")
        if not values.get("score"):
            raise _RowProblem(_("A score is required."))
        item: dict[str, Any] = {"enrollment_id": enrollment_id, "exam_id": exam_id, "attempt_no": attempt_no,
                                "score": _decimal(values["score"], "score")}
        if values.get("submitted_at"):
            item["submitted_at"] = values["submitted_at"]
        return ("attempt", enrollment_id, exam_id, attempt_no), [("attempts", item)]
    if kind == "homework":
        if _blank(values, ("submitted", "score", "approved")):
            return None
        enrollment_id = _enrollment(facts, values)
        homework_id = _whole(values.get("homework_id", ""), "homework_id")
        if homework_id not in facts.homework_ids:
            raise _RowProblem(_("Homework %(id)s is not homework of this lecture.", id=homework_id))
        item = {"enrollment_id": enrollment_id, "homework_id": homework_id}
        if values.get("submitted"):
            item["submitted"] = _flag(values["submitted"], "submitted")
        if values.get("score"):
            item["score"] = _decimal(values["score"], "score")
        if values.get("approved"):
            item["approved"] = _flag(values["approved"], "approved")
        return ("submission", enrollment_id, homework_id), [("homework_submissions", item)]
    # attendance and video
    if _blank(values, ("attendance", "video_rate", "presence")):
        return None
    enrollment_id = _enrollment(facts, values)
    order = _whole(values.get("session", ""), "session", 1, 9999)
    session_id = facts.session_by_order.get(order)
    if session_id is None:
        raise _RowProblem(_("This lecture has no session %(order)s.", order=order))
    item = {"enrollment_id": enrollment_id, "session_id": session_id}
    if values.get("attendance"):
        attendance = values["attendance"].lower()
        if attendance not in ("online", "offline"):
            raise _RowProblem(_("attendance must be online or offline."))
        item["attendance"] = attendance
    if values.get("video_rate"):
        item["video_rate"] = _whole(values["video_rate"], "video_rate", 0, 100)
    if values.get("presence"):
        # The importer gives the attendance a presence means, and refuses a contradicting pair.
        presence = values["presence"].lower()
        if presence not in PRESENCE_VALUES:
            raise _RowProblem(_("presence must be present, late, absent or excused."))
        item["presence"] = presence
    return ("activity", enrollment_id, session_id), [("activities", item)]


_DETAILS = ("name", "contact", "guardian_contact")
_GUARDIAN_COLUMNS = ("guardian_name", "guardian_relation", "guardian_phone", "guardian_email", "guardian_consent")


def _roster_guardian(values: Mapping[str, str]) -> dict[str, Any] | None:
    """The guardian a roster row names (guardian_name, _relation, _phone, _email, _consent), checked
    as the setup page checks one; None when the row names none. E-mail is the channel only when
    there is no phone."""
    given = {name: _unquoted(values[name]) for name in _GUARDIAN_COLUMNS if values.get(name)}
    if not given:
        return None
    if "guardian_name" not in given:
        raise _RowProblem(_("A guardian needs a name (guardian_name)."))
    raw: dict[str, Any] = {
        "name": given["guardian_name"], "relation": given.get("guardian_relation", ""),
        "phone": given.get("guardian_phone"), "email": given.get("guardian_email"),
        "channel": "email" if given.get("guardian_email") and not given.get("guardian_phone") else "sms",
        "consent": _flag(given["guardian_consent"], "guardian_consent") if "guardian_consent" in given else False,
    }
    try:
        return guardian_rules.clean(raw, "guardian_")
    except Invalid as error:
        raise _RowProblem(f"{error.field}: {describe(error)}") from None


def _with_guardian(stored: list[dict[str, Any]], guardian: dict[str, Any]) -> list[dict[str, Any]]:
    """The student's whole list with this guardian added, or replacing the stored one of the same
    name and relation (the others stay as they are)."""
    same = [row for row in stored if (row["name"], row["relation"]) == (guardian["name"], guardian["relation"])]
    kept = [{key: row[key] for key in ("id", *guardian_rules.FIELDS)} for row in stored if row not in same]
    return kept + [{"id": same[0]["id"], **guardian} if same else guardian]


def _roster_row(values: Mapping[str, str], facts: LectureFacts,
                new_ids: Callable[[str], int]) -> tuple[tuple, Items]:
    details = {name: _unquoted(values[name]) for name in _DETAILS if values.get(name)}
    start_date = _day(values["start_date"]) if values.get("start_date") else None
    new_start = start_date or facts.default_start
    guardian = _roster_guardian(values)
    if not values.get("student_id"):
        if "name" not in details:
            raise _RowProblem(_("A new student needs a name."))
        student_id = new_ids("students")
        return ("new", student_id), [
            ("students", {"id": student_id, **details, **({"guardians": [guardian]} if guardian else {})}),
            ("enrollments", {"id": new_ids("enrollments"), "student_id": student_id,
                             "lecture_id": facts.lecture_id, "start_date": new_start})]
    student_id = _whole(values["student_id"], "student_id")
    stored = facts.students.get(student_id)
    if stored is None:
        raise _RowProblem(_("There is no student %(id)s.", id=student_id))
    changed = {name: value for name, value in details.items() if value != stored[_DETAILS.index(name)]}
    if guardian is not None:
        stored_guardians = facts.guardians.get(student_id, [])
        wanted = _with_guardian(stored_guardians, guardian)
        as_stored = [{key: row[key] for key in ("id", *guardian_rules.FIELDS)} for row in stored_guardians]
        if sorted(map(repr, wanted)) != sorted(map(repr, as_stored)):
            changed["guardians"] = wanted
    if changed and facts.editable_students is not None and student_id not in facts.editable_students:
        raise _RowProblem(_("You may not change the details of student %(id)s.", id=student_id))
    items: Items = [("students", {"id": student_id, **changed})] if changed else []
    enrollment = facts.enrollments.get(student_id)
    if enrollment is None:
        items.append(("enrollments", {"id": new_ids("enrollments"), "student_id": student_id,
                                      "lecture_id": facts.lecture_id, "start_date": new_start}))
    else:
        update: dict[str, Any] = {"id": enrollment[0]}
        if enrollment[1]:
            update["withdrawn_at"] = None  # re-enrolling reactivates the same enrollment
        if start_date is not None:
            update["start_date"] = start_date
        if len(update) > 1:
            items.append(("enrollments", update))
    return ("student", student_id), items


# ---------------------------------------------------------------- with the database

def _ids_in(rows: Sequence[Row], name: str) -> set[int]:
    return {int(r.values[name]) for r in rows
            if r.values.get(name, "").isascii() and r.values.get(name, "").isdigit()
            and int(r.values[name]) <= INTEGER_MAX}


def load_facts(user: User, lecture_id: int, rows: Sequence[Row], default_start: date | None = None) -> LectureFacts:
    """This lecture's enrollments, exams, homework and sessions, and the existing students the rows name;
    `default_start` for the enrollments a roster creates without a start date."""
    enrollments = {student_id: (enrollment_id, withdrawn is not None) for student_id, enrollment_id, withdrawn in
                   db.session.execute(select(Enrollment.student_id, Enrollment.id, Enrollment.withdrawn_at)
                                      .where(Enrollment.lecture_id == lecture_id))}
    named = sorted(_ids_in(rows, "student_id"))
    students = {}
    for start in range(0, len(named), 500):
        students.update({sid: (name, contact, guardian) for sid, name, contact, guardian in db.session.execute(
            select(Student.id, Student.name, Student.contact, Student.guardian_contact)
            .where(Student.id.in_(named[start:start + 500])))})
    sessions = select(LectureSession.id).where(LectureSession.lecture_id == lecture_id)
    exam_ids = frozenset(db.session.execute(
        select(ExamSession.exam_id).where(ExamSession.session_id.in_(sessions))).scalars())
    homework_ids = frozenset(db.session.execute(
        select(Homework.id).where(Homework.session_id.in_(sessions))).scalars())
    by_order = dict(db.session.execute(
        select(LectureSession.order, LectureSession.id).where(LectureSession.lecture_id == lecture_id)).all())
    visible = visible_lecture_ids(user)
    editable = None
    if user.role != "admin":
        editable = frozenset(db.session.execute(select(Enrollment.student_id).where(
            Enrollment.lecture_id.in_(sorted(visible or ())))).scalars())
    guardians: dict[int, list[dict[str, Any]]] = {}
    if named:
        for row in db.session.execute(
            select(Guardian.id, Guardian.student_id, *(getattr(Guardian, name) for name in guardian_rules.FIELDS))
            .where(Guardian.student_id.in_(named)).order_by(Guardian.id)
        ).mappings():
            guardians.setdefault(row["student_id"], []).append(dict(row))
    return LectureFacts(lecture_id, enrollments, students, exam_ids, homework_ids, by_order, editable, guardians,
                        default_start.isoformat() if default_start else None)


def _id_source() -> Callable[[str], int]:
    """Ids for created students and enrollments, as the setup service takes them (its sequence on
    PostgreSQL, largest plus one on SQLite)."""
    from dashboard.academy.structure import new_id

    models = {"students": Student, "enrollments": Enrollment}
    handed: dict[str, int] = {}

    def next_id(kind: str) -> int:
        if db.session.get_bind().dialect.name == "postgresql":
            return new_id(models[kind])
        handed[kind] = handed[kind] + 1 if kind in handed else new_id(models[kind])
        return handed[kind]

    return next_id


@dataclass(frozen=True)
class RowOutcome:
    line: int
    action: str  # "create" | "update" | "unchanged"
    # Whose row it is, what it is about, and each value it changes (stored -> new).
    changes: upload_changes.LineChanges | None = None


@dataclass
class Preview:
    """What a file would do: each row's outcome, the bad rows, the blank rows skipped."""

    kind: str
    outcomes: list[RowOutcome]
    problems: list[tuple[int | None, str]]
    skipped: list[int]

    def count(self, action: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)

    @property
    def changes(self) -> bool:
        return any(outcome.action != "unchanged" for outcome in self.outcomes)


def _line_of(path: str | None, lines: Mapping[tuple[str, int], int]) -> int | None:
    """The CSV line of an importer field path such as ``attempts[3].score`` (None: the file)."""
    if not path or "[" not in path:
        return None
    kind, rest = path.split("[", 1)
    index = rest.split("]", 1)[0]
    return lines.get((kind, int(index))) if index.isdigit() else None


def _mapped(rejected: ImportRejected, lines: Mapping[tuple[str, int], int]) -> list[tuple[int | None, str]]:
    """The importer's problems at the file's lines, each in the reader's language where the
    importer gives it a code (the column's name in front, as the file's header spells it)."""
    problems = []
    for problem in rejected.errors:
        name = problem.field.split(".", 1)[1] if problem.field and "." in problem.field else None
        text = describe(Invalid(problem.reason, **problem.params)) if problem.reason else problem.message
        message = f"{name}: {text}" if name else text
        problems.append((_line_of(problem.field, lines), message))
    return problems


def _prepared(user: User, lecture_id: int, kind: str, content: bytes,
              default_start: date | None) -> tuple[list[Row], Built]:
    if kind not in COLUMNS:
        raise UploadRejected([(None, _("Unknown kind of upload."))])
    rows = read_rows(kind, decode(content))
    if not rows:
        raise UploadRejected([(None, _("The file has no data rows."))])
    return rows, build(kind, rows, load_facts(user, lecture_id, rows, default_start), _id_source())


def _sorted(problems: list[tuple[int | None, str]]) -> list[tuple[int | None, str]]:
    return sorted(problems, key=lambda p: (p[0] is not None, p[0] or 0))


def preview(user: User, lecture_id: int, kind: str, content: bytes, default_start: date | None = None) -> Preview:
    """What the file would change, row by row, and every bad row; writes nothing (the caller has
    checked the user may change the lecture). UploadRejected for a file that cannot be read.
    `default_start`: a roster's new enrollments whose row leaves start_date blank start that day."""
    rows, built = _prepared(user, lecture_id, kind, content, default_start)
    problems = list(built.problems)
    actions: dict[int, str] = {line: "unchanged" for line in built.row_lines}
    described: dict[int, upload_changes.LineChanges] = {}
    if built.snapshot:
        try:
            plan = preview_snapshot(built.snapshot)
        except ImportRejected as rejected:
            problems += _mapped(rejected, built.lines)
        else:
            for kind_name, changes in plan.changes.items():
                for change in changes:
                    line = built.lines.get((kind_name, change.index))
                    if line is not None and actions.get(line) != "create":
                        actions[line] = "create" if change.action == "create" else "update"
            described = upload_changes.describe(
                kind, rows, built.lines, (change for changes in plan.changes.values() for change in changes))
    bad = {line for line, _m in problems}
    outcomes = [RowOutcome(line, action, described.get(line)) for line, action in sorted(actions.items())
                if line not in bad]
    return Preview(kind, outcomes, _sorted(problems), built.skipped)


def apply(user: User, lecture_id: int, kind: str, content: bytes, file_name: str = "",
          default_start: date | None = None) -> dict[str, Any]:
    """Import the file into the lecture (lock, write, recompute, one audit row `upload.<kind>`);
    a file with any bad row raises UploadRejected and changes nothing. Returns the rows applied and
    the importer's change counts."""
    lock_lecture(lecture_id)
    _rows, built = _prepared(user, lecture_id, kind, content, default_start)
    if built.problems:
        raise UploadRejected(_sorted(built.problems))
    if not built.snapshot:
        raise UploadRejected([(None, _("The file changes nothing."))])
    try:
        result = import_snapshot(built.snapshot, user=user, audit_import=False, audit_rows=True)
    except ImportRejected as rejected:
        raise UploadRejected(_sorted(_mapped(rejected, built.lines))) from None
    counts = {"rows": len(built.row_lines), **result.as_dict()}
    audit.record(f"upload.{kind}", "lecture", lecture_id, None, {"file": file_name, **counts}, user, lecture_id)
    return counts


# ---------------------------------------------------------------- templates

def template_rows(lecture_id: int, kind: str) -> list[list[Any]]:
    """A template for the lecture: the header, then a row per active student (roster), per active
    student and exam (scores), homework (homework results) or session (attendance and video),
    with the values blank — uploading it untouched changes nothing."""
    header = list(COLUMNS[kind])
    enrolled = db.session.execute(
        select(Student.id, Student.name, Student.contact, Student.guardian_contact, Enrollment.start_date)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(Enrollment.lecture_id == lecture_id, Enrollment.withdrawn_at.is_(None))
        .order_by(Student.name, Student.id)).all()
    if kind == "roster":
        return [header] + [[name, sid, contact or "", guardian or "", start.isoformat() if start else "", *[""] * 5]
                           for sid, name, contact, guardian, start in enrolled]
    sessions = select(LectureSession.id).where(LectureSession.lecture_id == lecture_id)
    if kind == "scores":
        targets = list(db.session.execute(select(ExamSession.exam_id).distinct()
                                          .where(ExamSession.session_id.in_(sessions))
                                          .order_by(ExamSession.exam_id)).scalars())
        return [header] + [[sid, exam_id, "", "1", "", name] for sid, name, *_rest in enrolled for exam_id in targets]
    if kind == "homework":
        targets = list(db.session.execute(select(Homework.id).where(Homework.session_id.in_(sessions))
                                          .order_by(Homework.id)).scalars())
        return [header] + [[sid, hw, "", "", "", name] for sid, name, *_rest in enrolled for hw in targets]
    orders = list(db.session.execute(select(LectureSession.order).where(LectureSession.lecture_id == lecture_id)
                                     .order_by(LectureSession.order)).scalars())
    return [header] + [[sid, order, "", "", "", name] for sid, name, *_rest in enrolled for order in orders]

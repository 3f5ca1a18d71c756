"""The read side of the Audit page: who changed what and when, with the values before and after.

Admins filter by person, lecture, kind of object and a date range (academy dates, both ends
included); newest first, paged. Each entry's change is shown as the fields that differ, so an
edit of one score reads "score: 60 → 72.5" rather than two whole objects. Kinds and actions are
shown in words; the stored codes stay in data- attributes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from dashboard.clock import academy_timezone
from dashboard.extensions import db
from dashboard.listing import FilteredPage, id_or_none
from dashboard.models import AuditLog, Lecture

PAGE_SIZE = 50

# The kinds of object the trail records, in words.
KINDS: dict[str, Any] = {
    "activity": _l("Attendance and video"),
    "api_token": _l("API token"),
    "attempt": _l("Exam attempt"),
    "clinic_link": _l("Clinic"),
    "enrollment": _l("Enrollment"),
    "exam": _l("Exam"),
    "homework": _l("Homework"),
    "homework_submission": _l("Homework submission"),
    "lecture": _l("Lecture"),
    "omr_scan": _l("OMR scan"),
    "policy": _l("Pass policy"),
    "session": _l("Session"),
    "snapshot": _l("Import"),
    "student": _l("Student"),
    "user": _l("User"),
}
# The last part of an action code (`attempt.create` → `create`), in words.
VERBS: dict[str, Any] = {
    "create": _l("created"),
    "update": _l("changed"),
    "set": _l("changed"),
    "delete": _l("deleted"),
    "withdraw": _l("withdrawn"),
    "reenroll": _l("enrolled again"),
    "memo": _l("memo changed"),
    "approve": _l("approved"),
    "resolve": _l("resolved"),
    "reopen": _l("reopened"),
    "reorder": _l("sessions reordered"),
    "generate": _l("sessions generated"),
    "password_reset": _l("password reset"),
    "revoke": _l("revoked"),
}


def kind_word(object_type: str) -> str:
    return str(KINDS.get(object_type, _l("Other")))


def action_words(action: str, object_type: str) -> str:
    """'Exam attempt created', 'Clinic approved', … ('Import', 'Upload' for files)."""
    verb = action.rsplit(".", 1)[-1]
    if object_type == "snapshot":
        return kind_word(object_type)
    if action.startswith("upload."):
        return str(_l("Upload"))
    words = f"{kind_word(object_type)} {VERBS.get(verb, _l('changed'))}"
    if action.startswith("import."):  # one row of an import or an upload
        return str(_l("%(what)s by an import or upload", what=words))
    return words


@dataclass(frozen=True)
class AuditFilters:
    """The page's controls; values it cannot read are ignored."""

    user: str = ""
    lecture: int | None = None
    kind: str | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> AuditFilters:
        page = id_or_none(args.get("page"))
        return cls(
            user=(args.get("user") or "").strip()[:150],
            lecture=id_or_none(args.get("lecture")),
            kind=args.get("kind") if args.get("kind") in KINDS else None,
            since=_date_or_none(args.get("since")),
            until=_date_or_none(args.get("until")),
            page=max(1, page) if page is not None else 1,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        values = {"user": self.user or None, "lecture": self.lecture, "kind": self.kind,
                  "since": self.since.isoformat() if self.since else None,
                  "until": self.until.isoformat() if self.until else None, "page": self.page}
        values.update(changes)
        if values["page"] == 1:
            values["page"] = None
        return {key: value for key, value in values.items() if value is not None}


def _date_or_none(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class AuditRow:
    entry: AuditLog
    what: str
    lecture_title: str | None
    changes: list[Change]


def changes(before: Any, after: Any) -> list[Change]:
    """The fields that differ between two recorded values (dicts compared key by key; anything
    else as one value)."""
    if isinstance(before, dict) or isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        keys = list(dict.fromkeys([*old, *new]))
        return [Change(key, old.get(key), new.get(key)) for key in keys if old.get(key) != new.get(key)]
    if before == after:
        return []
    return [Change("", before, after)]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=academy_timezone())


def load_lectures() -> list[tuple[int, str]]:
    return list(db.session.execute(select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id)))


def load_trail(filters: AuditFilters, lectures: list[tuple[int, str]]) -> FilteredPage:
    """One page of the trail, newest first, as the filters ask."""
    conditions = []
    if filters.user:
        conditions.append(AuditLog.username == filters.user)
    if filters.lecture is not None:
        conditions.append(AuditLog.lecture_id == filters.lecture)
    if filters.kind is not None:
        conditions.append(AuditLog.object_type == filters.kind)
    if filters.since is not None:
        conditions.append(AuditLog.created_at >= _start_of(filters.since))
    if filters.until is not None:
        conditions.append(AuditLog.created_at < _start_of(filters.until + timedelta(days=1)))
    count = db.session.execute(select(func.count()).select_from(AuditLog).where(*conditions)).scalar_one()
    entries = db.session.execute(
        select(AuditLog).where(*conditions).order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE)
    ).scalars().all()
    titles = dict(lectures)
    rows = [AuditRow(entry, action_words(entry.action, entry.object_type), titles.get(entry.lecture_id),
                     changes(entry.before, entry.after)) for entry in entries]
    return FilteredPage(rows, count, filters, PAGE_SIZE)


def usernames() -> list[str]:
    """The people who appear in the trail, for the person filter."""
    return list(db.session.execute(
        select(AuditLog.username).where(AuditLog.username.is_not(None)).distinct().order_by(AuditLog.username)
    ).scalars())

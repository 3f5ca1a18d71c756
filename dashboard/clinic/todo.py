"""The clinic to-do list by student: the open queue grouped by enrollment, one row per student
with their risk badge, lecture, which sessions to make up (numbers and dates), their needs in a
few plain phrases with figures (dashboard.clinic.words), how long the oldest need has waited —
counted from the day its session became due (its date plus the lecture's grace days; an undated
session from the day the link was made) — whether a clinic is booked, and the guardians to call.

Most urgent first: the risk level, then the oldest need, then the name. A page shows 25 students;
their links' rows come with the page while the page holds at most INLINE_LINKS links, and
otherwise each student's rows are read when their row is opened (`load_student_links`), so a
lecture of 300 students with 10 000 open links answers a page of summaries in a few queries.

Statements per page, whatever its size: the students and their groups (ordered in Python: one
row per student), the page's links (plain columns, no ORM objects), their guardians.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, false, func, null, select, type_coerce
from sqlalchemy.orm import aliased

from dashboard.clinic.words import plain_reasons, summary
from dashboard.clock import academy_timezone, academy_today
from dashboard.extensions import db
from dashboard.listing import (
    LIKE_ESCAPE,
    FilteredPage,
    clinic_links_joined,
    id_or_none,
    like_pattern,
    refresh_stale,
)
from dashboard.models import (
    CLINIC_REASONS,
    RISK_LEVELS,
    ClinicBookingLink,
    ClinicLink,
    Enrollment,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    Student,
    TeacherLecture,
    User,
)
from dashboard.parents.read import guardians_by_enrollment

PAGE_SIZE = 25
INLINE_LINKS = 200  # a page with more links than this reads each student's rows when opened (~1 KiB a row)
SEVERITY = {"DANGER": 2, "WARNING": 1}
SESSIONS_WITH_DATES = 6  # more sessions than this are written as ranges of numbers


@dataclass(frozen=True)
class TodoFilters:
    """The list's filters as the page's controls send them; values it cannot read are ignored.
    `open` names a student whose links a page without JavaScript shows opened."""

    lecture: int | None = None
    risk: str | None = None
    booked: str | None = None  # "yes" or "no"
    reason: str | None = None
    teacher: int | None = None
    q: str = ""
    page: int = 1
    open: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TodoFilters:
        risk = args.get("risk") if args.get("risk") in RISK_LEVELS else None
        booked = args.get("booked") if args.get("booked") in ("yes", "no") else None
        reason = args.get("reason") if args.get("reason") in CLINIC_REASONS else None
        return cls(lecture=id_or_none(args.get("lecture")), risk=risk, booked=booked, reason=reason,
                   teacher=id_or_none(args.get("teacher")), q=(args.get("q") or "").strip()[:100],
                   page=max(1, id_or_none(args.get("page")) or 1), open=id_or_none(args.get("open")))

    def args(self, **changes: Any) -> dict[str, Any]:
        values = replace(self, **changes)
        out = {"lecture": values.lecture, "risk": values.risk, "booked": values.booked, "reason": values.reason,
               "teacher": values.teacher, "q": values.q or None,
               "page": values.page if values.page != 1 else None, "open": values.open}
        return {key: value for key, value in out.items() if value is not None}


@dataclass(frozen=True)
class LinkRow:
    """The columns of an open link the list needs (what a ClinicLink would carry, without the ORM)."""

    id: int
    enrollment_id: int
    reason: str
    approved: bool
    memo: str | None
    meta: Any


@dataclass(frozen=True)
class TodoLink:
    """One open link of a student, with the words and dates its row shows."""

    link: LinkRow
    session_order: int
    session_title: str | None
    session_date: date | None
    booking_id: int | None

    @property
    def reasons(self) -> tuple[str, ...]:
        return plain_reasons(self.link)


@dataclass(frozen=True)
class StudentTodo:
    """One student's open clinic needs in one lecture. `links` is None when the rows are read on opening."""

    enrollment_id: int
    student_name: str
    lecture_id: int
    lecture_title: str
    risk_level: str
    consecutive: int
    link_count: int
    booked_count: int
    sessions: tuple[tuple[int, date | None], ...]  # (order, date) of each session to make up, in order
    reasons: tuple[str, ...]
    oldest_days: int
    links: tuple[TodoLink, ...] | None
    guardians: tuple[Any, ...] = ()  # the student's guardians, to call or write to

    @property
    def booked(self) -> bool:
        return self.booked_count > 0

    @property
    def unbooked_count(self) -> int:
        return self.link_count - self.booked_count

    @property
    def sessions_text(self) -> str:
        """"1 (3/2), 2 (3/9)" for a few sessions; "1–12, 14, 16–40" for many."""
        if len(self.sessions) <= SESSIONS_WITH_DATES:
            return ", ".join(f"{order} ({day.month}/{day.day})" if day else str(order) for order, day in self.sessions)
        runs: list[list[int]] = []
        for order, _day in self.sessions:
            if runs and order == runs[-1][1] + 1:
                runs[-1][1] = order
            else:
                runs.append([order, order])
        return ", ".join(str(first) if first == last else f"{first}–{last}" for first, last in runs)


@dataclass(frozen=True)
class TodoPage(FilteredPage):
    """A page of the list; `count` is the number of students, `link_count` their open links in all."""

    link_count: int = 0


def _booked_condition():
    return exists(
        select(ClinicBookingLink.link_id)
        .join(ClinicLink, ClinicLink.id == ClinicBookingLink.link_id)
        .where(ClinicLink.enrollment_id == Enrollment.id, ClinicLink.resolved_at.is_(None),
               ClinicBookingLink.active.is_(True))
    )


def _conditions(filters: TodoFilters, visible: set[int] | None) -> list:
    conditions = [ClinicLink.resolved_at.is_(None), Enrollment.withdrawn_at.is_(None)]
    if visible is not None:
        conditions.append(Enrollment.lecture_id.in_(sorted(visible)) if visible else false())
    if filters.lecture is not None:
        conditions.append(Enrollment.lecture_id == filters.lecture)
    if filters.risk is not None:
        conditions.append(func.coalesce(LectureProgress.risk_level, "NORMAL") == filters.risk)
    if filters.q:
        conditions.append(Student.name.ilike(like_pattern(filters.q), escape=LIKE_ESCAPE))
    if filters.booked == "yes":
        conditions.append(_booked_condition())
    elif filters.booked == "no":
        conditions.append(~_booked_condition())
    if filters.reason is not None:
        Same = aliased(ClinicLink)
        conditions.append(exists(select(Same.id).where(Same.enrollment_id == Enrollment.id,
                                                       Same.resolved_at.is_(None), Same.reason == filters.reason)))
    if filters.teacher is not None:
        conditions.append(exists(select(TeacherLecture.lecture_id).where(
            TeacherLecture.lecture_id == Enrollment.lecture_id, TeacherLecture.user_id == filters.teacher)))
    return conditions


def _groups(filters: TodoFilters, visible: set[int] | None) -> Select:
    """One row per student with open links: who, their risk, and what orders them (the oldest need)."""
    return (
        clinic_links_joined(
            Enrollment.id, Student.name, Enrollment.lecture_id, Lecture.title,
            func.coalesce(LectureProgress.risk_level, "NORMAL"),
            func.coalesce(LectureProgress.consecutive_failed_sessions, 0),
            func.coalesce(ProgressPolicy.completion_grace_days, 0),
            func.min(LectureSession.date), func.count(LectureSession.date), func.count(ClinicLink.id),
            func.min(ClinicLink.created_at))
        .outerjoin(LectureProgress, LectureProgress.enrollment_id == Enrollment.id)
        .outerjoin(ProgressPolicy, ProgressPolicy.lecture_id == Enrollment.lecture_id)
        .where(and_(*_conditions(filters, visible)))
        .group_by(Enrollment.id, Student.name, Enrollment.lecture_id, Lecture.title, LectureProgress.risk_level,
                  LectureProgress.consecutive_failed_sessions, ProgressPolicy.completion_grace_days)
    )


def _oldest_due(first_date: date | None, dated: int, count: int, grace: int, first_created: Any) -> date:
    """When the student's oldest need became due: the first dated session plus the grace days,
    or, when some of the sessions are undated, the day the first link was made if that is earlier."""
    candidates = []
    if first_date is not None:
        candidates.append(first_date + timedelta(days=grace))
    if dated < count and first_created is not None:
        candidates.append(first_created.astimezone(academy_timezone()).date())
    return min(candidates) if candidates else academy_today()


def load_todo(filters: TodoFilters, visible: set[int] | None) -> FilteredPage:
    """One page of students with open clinic links, the most at risk first, then the longest waiting."""
    refresh_stale(visible, filters.lecture)
    today = academy_today()
    groups = []
    for (enrollment_id, name, lecture_id, title, risk, consecutive, grace, first_date, dated, count,
         first_created) in db.session.execute(_groups(filters, visible)):
        due = _oldest_due(first_date, dated, count, grace, first_created)
        groups.append(((-SEVERITY.get(risk, 0), due, name, enrollment_id),
                       (enrollment_id, name, lecture_id, title, risk, consecutive, count, (today - due).days)))
    groups.sort(key=lambda item: item[0])
    start = (filters.page - 1) * PAGE_SIZE
    page = [values for _key, values in groups[start:start + PAGE_SIZE]]
    ids = [values[0] for values in page]
    inline = sum(values[6] for values in page) <= INLINE_LINKS
    links = _links_of(ids, with_words=inline)
    if not inline and filters.open in ids:
        links.update(_links_of([filters.open]))
    guardians = guardians_by_enrollment(ids)
    rows = [_student(values, links.get(values[0], []), inline or values[0] == filters.open,
                     guardians.get(values[0], ())) for values in page]
    return TodoPage(rows, len(groups), filters, PAGE_SIZE, sum(values[6] for _key, values in groups))


def _student(values: tuple, links: list[TodoLink], with_rows: bool, guardians) -> StudentTodo:
    enrollment_id, name, lecture_id, title, risk, consecutive, count, oldest_days = values
    sessions = tuple(sorted({(item.session_order, item.session_date) for item in links}, key=lambda pair: pair[0]))
    return StudentTodo(enrollment_id, name, lecture_id, title, risk, consecutive, len(links),
                       sum(1 for item in links if item.booking_id is not None), sessions,
                       summary(item.link for item in links), oldest_days,
                       tuple(links) if with_rows else None, tuple(guardians))


def _links_of(enrollment_ids: list[int], with_words: bool = True) -> dict[int, list[TodoLink]]:
    """Every open link of these students, by session (one query of plain columns). Without
    `with_words` (a summary only) the figures of failed sessions are not read: a summary counts them."""
    if not enrollment_ids:
        return {}
    meta = ClinicLink.meta if with_words else type_coerce(
        case((ClinicLink.reason == "AUTO_FAILED", null()), else_=ClinicLink.meta), ClinicLink.meta.type)
    grouped: dict[int, list[TodoLink]] = defaultdict(list)
    for link_id, enrollment_id, reason, approved, memo, meta, order, title, day, booking_id in db.session.execute(
        select(ClinicLink.id, ClinicLink.enrollment_id, ClinicLink.reason, ClinicLink.approved, ClinicLink.memo,
               meta, LectureSession.order, LectureSession.title, LectureSession.date, ClinicBookingLink.booking_id)
        .join(LectureSession, LectureSession.id == ClinicLink.session_id)
        .outerjoin(ClinicBookingLink, and_(ClinicBookingLink.link_id == ClinicLink.id,
                                           ClinicBookingLink.active.is_(True)))
        .where(ClinicLink.enrollment_id.in_(enrollment_ids), ClinicLink.resolved_at.is_(None))
        .order_by(LectureSession.order, ClinicLink.id)
    ):
        grouped[enrollment_id].append(TodoLink(LinkRow(link_id, enrollment_id, reason, approved, memo, meta),
                                               order, title, day, booking_id))
    return grouped


def load_student_links(enrollment_id: int, visible: set[int] | None) -> tuple[str, list[TodoLink]] | None:
    """One student's open links (the rows shown when their row is opened), with their name;
    None when the student is not in the caller's lectures."""
    found = db.session.execute(
        select(Student.name, Enrollment.lecture_id).join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.id == enrollment_id)
    ).first()
    if found is None or (visible is not None and found.lecture_id not in visible):
        return None
    return found.name, _links_of([enrollment_id]).get(enrollment_id, [])


def open_link_ids(enrollment_ids: list[int], visible: set[int] | None, unbooked: bool = False) -> list[int]:
    """The open links of the selected students (a student's box on the list selects them all);
    with `unbooked`, only those in no active booking. Students outside `visible` give nothing."""
    if not enrollment_ids:
        return []
    statement = (select(ClinicLink.id).join(Enrollment, Enrollment.id == ClinicLink.enrollment_id)
                 .where(ClinicLink.enrollment_id.in_(sorted(set(enrollment_ids))), ClinicLink.resolved_at.is_(None),
                        Enrollment.withdrawn_at.is_(None)))
    if visible is not None:
        statement = statement.where(Enrollment.lecture_id.in_(sorted(visible)) if visible else false())
    if unbooked:
        statement = statement.where(~exists(select(ClinicBookingLink.link_id).where(
            ClinicBookingLink.link_id == ClinicLink.id, ClinicBookingLink.active.is_(True))))
    return list(db.session.execute(statement.order_by(ClinicLink.id)).scalars())


def lecture_choices(visible: set[int] | None) -> list[tuple[int, str]]:
    """The lectures the list can be filtered by (those the caller sees)."""
    statement = select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id)
    if visible is not None:
        statement = statement.where(Lecture.id.in_(sorted(visible)) if visible else false())
    return [tuple(row) for row in db.session.execute(statement)]


def teacher_choices() -> list[tuple[int, str]]:
    """The teachers the list can be filtered by."""
    return [tuple(row) for row in db.session.execute(
        select(User.id, User.username).where(User.role == "teacher").order_by(User.username))]

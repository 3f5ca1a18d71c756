"""The clinic to-do list by student: the open queue grouped by enrollment, one row per student
with their risk badge, lecture, which sessions to make up (numbers and dates), the reasons in
plain words with their figures, how long the oldest need has waited — counted from the day its
session became due (its date plus the lecture's grace days; an undated session from the day the
link was made) — and whether a clinic is booked.

Three queries per page whatever its size: the page of students (with their count), the number
of students, and every open link of the page's students.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, case, exists, false, func, select

from dashboard.clock import academy_timezone, academy_today
from dashboard.extensions import db
from dashboard.listing import (
    LIKE_ESCAPE,
    FilteredPage,
    active_booking_of_link,
    id_or_none,
    like_pattern,
    refresh_stale,
)
from dashboard.models import (
    RISK_LEVELS,
    ClinicBookingLink,
    ClinicLink,
    Enrollment,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    Student,
)
from dashboard.parents.read import guardians_by_enrollment

PAGE_SIZE = 50


@dataclass(frozen=True)
class TodoFilters:
    """The list's filters as the page's controls send them; values it cannot read are ignored."""

    lecture: int | None = None
    risk: str | None = None
    booked: str | None = None  # "yes" or "no"
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TodoFilters:
        risk = args.get("risk") if args.get("risk") in RISK_LEVELS else None
        booked = args.get("booked") if args.get("booked") in ("yes", "no") else None
        return cls(lecture=id_or_none(args.get("lecture")), risk=risk, booked=booked,
                   q=(args.get("q") or "").strip()[:100], page=max(1, id_or_none(args.get("page")) or 1))

    def args(self, **changes: Any) -> dict[str, Any]:
        values = replace(self, **changes)
        out = {"lecture": values.lecture, "risk": values.risk, "booked": values.booked, "q": values.q or None,
               "page": values.page if values.page != 1 else None}
        return {key: value for key, value in out.items() if value is not None}


@dataclass(frozen=True)
class TodoLink:
    """One open link of a student, with the words and dates its row shows."""

    link: ClinicLink
    session_order: int
    session_title: str | None
    session_date: date | None
    due_on: date
    reasons: tuple[str, ...]
    booking_id: int | None


@dataclass(frozen=True)
class StudentTodo:
    """One student's open clinic needs in one lecture."""

    enrollment_id: int
    student_name: str
    lecture_id: int
    lecture_title: str
    risk_level: str
    consecutive: int
    links: tuple[TodoLink, ...]
    today: date
    guardians: tuple[Any, ...] = ()  # the student's guardians, to call or write to

    @property
    def sessions(self) -> list[tuple[int, date | None]]:
        """The sessions to make up (order, date), each once, in order."""
        return sorted({(item.session_order, item.session_date) for item in self.links},
                      key=lambda pair: pair[0])

    @property
    def reasons(self) -> list[str]:
        seen: list[str] = []
        for item in self.links:
            for word in item.reasons:
                if word not in seen:
                    seen.append(word)
        return seen

    @property
    def oldest_days(self) -> int:
        return max((self.today - item.due_on).days for item in self.links)

    @property
    def booked(self) -> bool:
        return any(item.booking_id is not None for item in self.links)

    @property
    def unbooked_count(self) -> int:
        return sum(1 for item in self.links if item.booking_id is None)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def plain_reasons(link: ClinicLink) -> tuple[str, ...]:
    """A link's reasons as people say them, with their figures: "Exam 30 (pass 70)"."""
    meta = link.meta if isinstance(link.meta, dict) else {}
    words: list[str] = []
    if link.reason == "AUTO_FAILED":
        missed = [label for key, label in (("video_completed", _("video")), ("exam_passed", _("exam")),
                                           ("homework_passed", _("homework"))) if meta.get(key) is False]
        words.append(_("Not completed: %(parts)s", parts=", ".join(missed)) if missed else _("Not completed"))
    elif link.reason == "AUTO_RISK":
        for reasons in (meta.get("exam_reasons") or {}).values():
            if "LOW_SCORE" in reasons:
                low = reasons["LOW_SCORE"]
                words.append(_("Exam %(score)s (pass %(pass_score)s)", score=_number(low.get("score")),
                               pass_score=_number(low.get("pass_score"))))
            if "LOW_CONFIDENCE_OMR" in reasons:
                words.append(_("%(count)s unclear OMR marks", count=reasons["LOW_CONFIDENCE_OMR"].get("count")))
            if "REPEATED_WRONG" in reasons:
                questions = ", ".join(str(q) for q in reasons["REPEATED_WRONG"].get("questions", []))
                words.append(_("Wrong again on questions %(questions)s", questions=questions))
    elif link.reason == "MANUAL_REQUEST":
        words.append(_("Requested: %(memo)s", memo=link.memo or ""))
    else:
        words.append(_("Teacher recommends: %(memo)s", memo=link.memo or ""))
    return tuple(words)


def _severity():
    return case({"DANGER": 2, "WARNING": 1}, value=LectureProgress.risk_level, else_=0)


def _booked_condition():
    return exists(
        select(ClinicBookingLink.link_id)
        .join(ClinicLink, ClinicLink.id == ClinicBookingLink.link_id)
        .where(ClinicLink.enrollment_id == Enrollment.id, ClinicLink.resolved_at.is_(None),
               ClinicBookingLink.active.is_(True))
    )


def _groups(filters: TodoFilters, visible: set[int] | None) -> Select:
    statement = (
        select(Enrollment.id, Student.name, Enrollment.lecture_id, Lecture.title,
               func.coalesce(LectureProgress.risk_level, "NORMAL"),
               func.coalesce(LectureProgress.consecutive_failed_sessions, 0),
               func.count(ClinicLink.id).label("links"), func.min(ClinicLink.created_at).label("oldest"))
        .select_from(ClinicLink)
        .join(Enrollment, Enrollment.id == ClinicLink.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        .outerjoin(LectureProgress, LectureProgress.enrollment_id == Enrollment.id)
        .where(ClinicLink.resolved_at.is_(None), Enrollment.withdrawn_at.is_(None))
        .group_by(Enrollment.id, Student.name, Enrollment.lecture_id, Lecture.title, LectureProgress.risk_level,
                  LectureProgress.consecutive_failed_sessions)
    )
    conditions = []
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
    return statement.where(and_(*conditions)) if conditions else statement


def load_todo(filters: TodoFilters, visible: set[int] | None) -> FilteredPage:
    """One page of students with open clinic links, the most at risk first, then the most links."""
    refresh_stale(visible, filters.lecture)
    statement = _groups(filters, visible)
    count = db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    page = db.session.execute(
        statement.order_by(_severity().desc(), func.count(ClinicLink.id).desc(), Student.name, Enrollment.id)
        .limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE)
    ).all()
    links = _links_of([row[0] for row in page])
    guardians = guardians_by_enrollment([row[0] for row in page])
    today = academy_today()
    rows = [StudentTodo(enrollment_id, name, lecture_id, title, risk, consecutive,
                        tuple(links.get(enrollment_id, ())), today, tuple(guardians.get(enrollment_id, ())))
            for enrollment_id, name, lecture_id, title, risk, consecutive, _count, _oldest in page]
    return FilteredPage(rows, count, filters, PAGE_SIZE)


def _links_of(enrollment_ids: list[int]) -> dict[int, list[TodoLink]]:
    if not enrollment_ids:
        return {}
    zone = academy_timezone()
    grouped: dict[int, list[TodoLink]] = defaultdict(list)
    for link, order, title, day, grace, booking_id in db.session.execute(
        select(ClinicLink, LectureSession.order, LectureSession.title, LectureSession.date,
               ProgressPolicy.completion_grace_days, active_booking_of_link())
        .join(Enrollment, Enrollment.id == ClinicLink.enrollment_id)
        .join(LectureSession, LectureSession.id == ClinicLink.session_id)
        .outerjoin(ProgressPolicy, ProgressPolicy.lecture_id == Enrollment.lecture_id)
        .where(ClinicLink.enrollment_id.in_(enrollment_ids), ClinicLink.resolved_at.is_(None))
        .order_by(LectureSession.order, ClinicLink.id)
    ):
        due_on = day + timedelta(days=grace or 0) if day is not None else link.created_at.astimezone(zone).date()
        grouped[link.enrollment_id].append(TodoLink(link, order, title, day, due_on, plain_reasons(link), booking_id))
    return grouped

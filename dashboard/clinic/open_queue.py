"""The read side of the clinic queue page: open links (approved ones stay until resolved) and the
resolved history, filtered, searched by student and paged, each row with the figures behind an
automatic link; and what the page's filter and request controls offer.

Kept apart from `queries` (the API's generic lists) because the queue has its own filters,
ordering and row shape; both read links through `queries.clinic_links_select`, the one join.

`visible` is what `access.visible_lecture_ids` answers for the signed-in user: None for every
lecture, else the ids of the lectures they may read. Withdrawn enrollments' links are left out,
as in the navigation's count. Nothing here knows about requests, forms or responses.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from flask_babel import gettext as _
from sqlalchemy import Select, and_, false, func, select

from dashboard.clinic.timetable import LinkBooking, link_histories
from dashboard.clinic.words import exam_risk_words
from dashboard.clock import academy_today, now
from dashboard.extensions import db
from dashboard.models import (
    CLINIC_REASONS,
    ClinicLink,
    Enrollment,
    Exam,
    Lecture,
    LectureSession,
    ProgressPolicy,
    Student,
)
from dashboard.listing import (
    LIKE_ESCAPE,
    ApprovedBy,
    CreatedBy,
    FilteredPage,
    ResolvedBy,
    clinic_links_select,
    id_or_none,
    like_pattern,
    refresh_stale,
)

PAGE_SIZE = 50
TABS = ("open", "resolved")


# ---------------------------------------------------------------- filters

@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters as the page's controls send them; values it cannot read are ignored."""

    tab: str = "open"
    lecture: int | None = None
    session: int | None = None
    reason: str | None = None
    approved: bool | None = None
    kind: str | None = None  # "auto" or "manual"
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        tab = args.get("tab", "open")
        reason = args.get("reason") or None
        approved = {"true": True, "false": False}.get(args.get("approved", ""))
        kind = args.get("kind") if args.get("kind") in ("auto", "manual") else None
        return cls(
            tab=tab if tab in TABS else "open",
            lecture=id_or_none(args.get("lecture")),
            session=id_or_none(args.get("session")),
            reason=reason if reason in CLINIC_REASONS else None,
            approved=approved,
            kind=kind,
            q=(args.get("q") or "").strip()[:100],
            page=max(1, id_or_none(args.get("page")) or 1),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query arguments for url_for (empty ones left out)."""
        values = replace(self, **changes)
        out = {
            "tab": values.tab if values.tab != "open" else None,
            "lecture": values.lecture,
            "session": values.session,
            "reason": values.reason,
            "approved": None if values.approved is None else ("true" if values.approved else "false"),
            "kind": values.kind,
            "q": values.q or None,
            "page": values.page if values.page != 1 else None,
        }
        return {key: value for key, value in out.items() if value is not None}


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class QueueRow:
    """One clinic link with what its row shows."""

    link: ClinicLink
    student_name: str
    lecture_id: int
    lecture_title: str
    session_order: int
    session_title: str | None
    created_by: str | None
    approved_by: str | None
    resolved_by: str | None
    figures: tuple[str, ...]
    age: str
    # The link's clinic bookings, oldest first (SPEC §13): the active one and the history.
    bookings: tuple[LinkBooking, ...] = ()

    @property
    def booking(self) -> LinkBooking | None:
        """The active booking, if any."""
        return next((item for item in reversed(self.bookings) if item.active), None)


def _queue_select(visible: set[int] | None) -> Select:
    grace = (select(ProgressPolicy.completion_grace_days).where(ProgressPolicy.lecture_id == Enrollment.lecture_id)
             .scalar_subquery())
    statement = clinic_links_select(
        ClinicLink, Student.name, Enrollment.lecture_id, Lecture.title, LectureSession.order,
        LectureSession.title, CreatedBy.username, ApprovedBy.username, ResolvedBy.username,
        LectureSession.date, grace,
    ).where(Enrollment.withdrawn_at.is_(None))
    if visible is not None:
        statement = statement.where(Enrollment.lecture_id.in_(sorted(visible)) if visible else false())
    return statement


def _filtered(statement: Select, filters: QueueFilters) -> Select:
    conditions = [ClinicLink.resolved_at.is_(None) if filters.tab == "open" else ClinicLink.resolved_at.is_not(None)]
    if filters.lecture is not None:
        conditions.append(Enrollment.lecture_id == filters.lecture)
    if filters.session is not None:
        conditions.append(ClinicLink.session_id == filters.session)
    if filters.reason is not None:
        conditions.append(ClinicLink.reason == filters.reason)
    if filters.approved is not None:
        conditions.append(ClinicLink.approved.is_(filters.approved))
    if filters.kind is not None:
        conditions.append(ClinicLink.is_auto.is_(filters.kind == "auto"))
    if filters.q:
        conditions.append(Student.name.ilike(like_pattern(filters.q), escape=LIKE_ESCAPE))
    return statement.where(and_(*conditions))


def _ordered(statement: Select, tab: str) -> Select:
    # The open queue is worked oldest first; the history shows the latest resolved first.
    if tab == "open":
        return statement.order_by(ClinicLink.created_at, ClinicLink.id)
    return statement.order_by(ClinicLink.resolved_at.desc(), ClinicLink.id.desc())


def _age(created_at: datetime, moment: datetime, due_on: date | None) -> str:
    """How long the need has waited: days since its session became due (its date plus the grace
    days), or, for an undated session or one not due yet, since the link was made."""
    if due_on is not None and due_on <= academy_today():
        return _("%(n)s d since due", n=(academy_today() - due_on).days)
    elapsed = moment - created_at
    if elapsed.days >= 1:
        return _("%(n)s d", n=elapsed.days)
    hours = elapsed.seconds // 3600
    if hours >= 1:
        return _("%(n)s h", n=hours)
    return _("< 1 h")


def _exam_titles(links: list[ClinicLink]) -> dict[str, str]:
    ids = {int(exam_id) for link in links if isinstance(link.meta, dict)
           for exam_id in (link.meta.get("exam_reasons") or {}) if str(exam_id).isdigit()}
    if not ids:
        return {}
    return {str(exam_id): title for exam_id, title in
            db.session.execute(select(Exam.id, Exam.title).where(Exam.id.in_(sorted(ids))))}


def reason_figures(link: ClinicLink, exam_titles: Mapping[str, str]) -> tuple[str, ...]:
    """The figures behind an automatic link, in words: "Exam 48 (pass 60)", "3 unclear OMR marks",
    "Wrong again on questions 3, 7" per risky exam (named when the link has several), or the parts
    a failed session missed."""
    meta = link.meta if isinstance(link.meta, dict) else {}
    figures: list[str] = []
    if link.reason == "AUTO_RISK":
        exam_reasons = meta.get("exam_reasons") or {}
        for exam_id, reasons in exam_reasons.items():
            text = "; ".join(exam_risk_words(reasons))
            if len(exam_reasons) > 1:
                text = f"{exam_titles.get(str(exam_id), '#' + str(exam_id))}: {text}"
            figures.append(text)
    elif link.reason == "AUTO_FAILED":
        missed = [label for key, label in (("video_completed", _("video")), ("exam_passed", _("exam")),
                                           ("homework_passed", _("homework"))) if meta.get(key) is False]
        if missed:
            figures.append(_("missed: %(parts)s", parts=", ".join(missed)))
    return tuple(figures)


def _rows(results: list[Any]) -> list[QueueRow]:
    links = [result[0] for result in results]
    titles = _exam_titles(links)
    histories = link_histories([link.id for link in links])
    moment = now()
    return [
        QueueRow(link, name, lecture_id, lecture_title, order, session_title, created_by, approved_by,
                 resolved_by, reason_figures(link, titles),
                 _age(link.created_at, moment, day + timedelta(days=grace or 0) if day is not None else None),
                 histories.get(link.id, ()))
        for (link, name, lecture_id, lecture_title, order, session_title, created_by, approved_by, resolved_by,
             day, grace) in results
    ]


def load_queue(filters: QueueFilters, visible: set[int] | None) -> FilteredPage:
    """One page of the queue among the `visible` lectures (three queries — the page, its count and
    its links' bookings — plus one for exam titles)."""
    refresh_stale(visible, filters.lecture)
    statement = _filtered(_queue_select(visible), filters)
    count = count_queue(filters, visible)
    results = list(db.session.execute(
        _ordered(statement, filters.tab).limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE)))
    return FilteredPage(_rows(results), count, filters, PAGE_SIZE)


def count_queue(filters: QueueFilters, visible: set[int] | None) -> int:
    """How many links the filters select among the `visible` lectures (the queue's own count)."""
    statement = _filtered(_queue_select(visible), filters)
    return db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()


def load_all_rows(filters: QueueFilters, visible: set[int] | None) -> list[QueueRow]:
    """Every row the filters select among the `visible` lectures, all pages, in the queue's order
    (the page number is not used)."""
    refresh_stale(visible, filters.lecture)
    results = list(db.session.execute(_ordered(_filtered(_queue_select(visible), filters), filters.tab)))
    return _rows(results)


def load_row(link_id: int, visible: set[int] | None) -> QueueRow | None:
    """One link's row, or None when it is missing, out of the `visible` lectures or withdrawn."""
    result = db.session.execute(_queue_select(visible).where(ClinicLink.id == link_id)).first()
    if result is None:
        return None
    return _rows([result])[0]


@dataclass(frozen=True)
class Choices:
    """What the filter and request controls offer: the user's lectures, their sessions and students."""

    lectures: list[tuple[int, str]]
    sessions: list[tuple[int, int, int, str | None]]  # id, lecture id, order, title
    enrollments: list[tuple[int, int, str]]  # id, lecture id, student name


def load_choices(visible: set[int] | None) -> Choices:
    """The `visible` lectures by title, their sessions in order, their enrolled (not withdrawn) students."""

    def scoped(statement: Select, column) -> Select:
        if visible is None:
            return statement
        return statement.where(column.in_(sorted(visible)) if visible else false())

    lectures = list(db.session.execute(scoped(
        select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id), Lecture.id)))
    sessions = list(db.session.execute(scoped(
        select(LectureSession.id, LectureSession.lecture_id, LectureSession.order, LectureSession.title)
        .order_by(LectureSession.lecture_id, LectureSession.order), LectureSession.lecture_id)))
    enrollments = list(db.session.execute(scoped(
        select(Enrollment.id, Enrollment.lecture_id, Student.name)
        .join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.withdrawn_at.is_(None))
        .order_by(Enrollment.lecture_id, Student.name, Enrollment.id), Enrollment.lecture_id)))
    return Choices(lectures, sessions, enrollments)

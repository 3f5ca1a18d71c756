"""The read side of the clinic calendar pages (SPEC §13): a week of clinic sessions, one clinic
session with its bookings, the clinic sessions a booking form offers, and the booking history
of the clinic links a queue page shows. Each read is a fixed number of queries, whatever the
number of clinic sessions, bookings or links.

`user` decides the scope (dashboard.clinic.sessions.session_scope): admins and staff see every
clinic session, a teacher those of their lectures and the open ones.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import aliased

from dashboard.clinic.sessions import may_run, session_scope
from dashboard.clock import academy_timezone, academy_today
from dashboard.extensions import db
from dashboard.listing import booked_count_column
from dashboard.models import (
    ClinicBooking,
    ClinicBookingLink,
    ClinicLink,
    ClinicSession,
    Enrollment,
    Lecture,
    LectureSession,
    Student,
    User,
)

Teacher = aliased(User, name="clinic_teacher")


@dataclass(frozen=True)
class SessionCard:
    """One clinic session as the calendar shows it."""

    clinic_session: ClinicSession
    teacher: str | None
    lecture_title: str | None
    booked: int

    @property
    def seats_left(self) -> int:
        return max(0, self.clinic_session.capacity - self.booked)


def _cards_select(user: User):
    statement = (
        select(ClinicSession, Teacher.username, Lecture.title, booked_count_column())
        .outerjoin(Teacher, Teacher.id == ClinicSession.teacher_id)
        .outerjoin(Lecture, Lecture.id == ClinicSession.lecture_id)
    )
    scope = session_scope(user)
    return statement if scope is None else statement.where(scope)


def _cards(rows) -> list[SessionCard]:
    return [SessionCard(clinic_session, teacher, title, booked) for clinic_session, teacher, title, booked in rows]


def week_start(day: date) -> date:
    """The Monday of the week holding `day`."""
    return day - timedelta(days=day.weekday())


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=academy_timezone())


def load_week(user: User, monday: date) -> list[tuple[date, list[SessionCard]]]:
    """The seven days from `monday`, each with its clinic sessions by start time (one query)."""
    start, end = _local_midnight(monday), _local_midnight(monday + timedelta(days=7))
    rows = db.session.execute(
        _cards_select(user).where(ClinicSession.starts_at >= start, ClinicSession.starts_at < end)
        .order_by(ClinicSession.starts_at, ClinicSession.id)
    ).all()
    by_day: dict[date, list[SessionCard]] = defaultdict(list)
    zone = academy_timezone()
    for card in _cards(rows):
        by_day[card.clinic_session.starts_at.astimezone(zone).date()].append(card)
    return [(monday + timedelta(days=offset), by_day[monday + timedelta(days=offset)]) for offset in range(7)]


def load_card(user: User, clinic_session_id: int) -> SessionCard | None:
    row = db.session.execute(_cards_select(user).where(ClinicSession.id == clinic_session_id)).first()
    return _cards([row])[0] if row is not None else None


def bookable_sessions(user: User, limit: int = 60) -> list[SessionCard]:
    """Clinic sessions a booking form offers: not cancelled, ending from a week before the
    academy's today on (a past clinic can still be recorded), soonest first, only those the user runs."""
    since = _local_midnight(academy_today() - timedelta(days=7))
    rows = db.session.execute(
        _cards_select(user).where(ClinicSession.cancelled_at.is_(None), ClinicSession.ends_at >= since)
        .order_by(ClinicSession.starts_at, ClinicSession.id).limit(limit)
    ).all()
    return [card for card in _cards(rows) if may_run(user, card.clinic_session)]


@dataclass(frozen=True)
class BookingRow:
    """One booking of a clinic session, with its student and the sessions its links make up."""

    booking: ClinicBooking
    student_name: str
    lecture_title: str
    created_by: str | None
    links: tuple[tuple[int, int, str | None, str], ...]  # link id, session order, session title, reason

    @property
    def active(self) -> bool:
        return self.booking.cancelled_at is None and self.booking.attendance != "no_show"

    @property
    def state(self) -> str:
        if self.booking.cancelled_at is not None:
            return "cancelled"
        return self.booking.attendance or "booked"


def load_bookings(clinic_session_id: int) -> list[BookingRow]:
    """Every booking of the clinic session (cancelled and no-show ones too), active ones first (two queries)."""
    Creator = aliased(User, name="booking_creator")
    rows = db.session.execute(
        select(ClinicBooking, Student.name, Lecture.title, Creator.username)
        .join(Enrollment, Enrollment.id == ClinicBooking.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        .outerjoin(Creator, Creator.id == ClinicBooking.created_by_id)
        .where(ClinicBooking.clinic_session_id == clinic_session_id)
        .order_by(ClinicBooking.cancelled_at.is_not(None), Student.name, ClinicBooking.id)
    ).all()
    links: dict[int, list[tuple[int, int, str | None, str]]] = defaultdict(list)
    for booking_id, link_id, order, title, reason in db.session.execute(
        select(ClinicBookingLink.booking_id, ClinicLink.id, LectureSession.order, LectureSession.title,
               ClinicLink.reason)
        .join(ClinicLink, ClinicLink.id == ClinicBookingLink.link_id)
        .join(LectureSession, LectureSession.id == ClinicLink.session_id)
        .join(ClinicBooking, ClinicBooking.id == ClinicBookingLink.booking_id)
        .where(ClinicBooking.clinic_session_id == clinic_session_id)
        .order_by(LectureSession.order, ClinicLink.id)
    ):
        links[booking_id].append((link_id, order, title, reason))
    return [BookingRow(booking, name, title, creator, tuple(links[booking.id]))
            for booking, name, title, creator in rows]


@dataclass(frozen=True)
class LinkBooking:
    """One booking a clinic link was in: when and where, and how it ended."""

    booking_id: int
    clinic_session_id: int
    starts_at: datetime
    room: str | None
    outcome: str  # booked, attended, no_show, cancelled

    @property
    def active(self) -> bool:
        return self.outcome in ("booked", "attended")


def link_histories(link_ids: list[int]) -> dict[int, tuple[LinkBooking, ...]]:
    """Each link's bookings, oldest first (one query for all the links)."""
    if not link_ids:
        return {}
    histories: dict[int, list[LinkBooking]] = defaultdict(list)
    for link_id, booking_id, clinic_session_id, starts_at, room, attendance, cancelled_at in db.session.execute(
        select(ClinicBookingLink.link_id, ClinicBooking.id, ClinicSession.id, ClinicSession.starts_at,
               ClinicSession.room, ClinicBooking.attendance, ClinicBooking.cancelled_at)
        .join(ClinicBooking, ClinicBooking.id == ClinicBookingLink.booking_id)
        .join(ClinicSession, ClinicSession.id == ClinicBooking.clinic_session_id)
        .where(ClinicBookingLink.link_id.in_(sorted(set(link_ids))))
        .order_by(ClinicSession.starts_at, ClinicBooking.id)
    ):
        outcome = "cancelled" if cancelled_at is not None else (attendance or "booked")
        histories[link_id].append(LinkBooking(booking_id, clinic_session_id, starts_at, room, outcome))
    return {link_id: tuple(items) for link_id, items in histories.items()}


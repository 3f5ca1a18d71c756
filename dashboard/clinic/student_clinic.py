"""A student's clinic, where the teacher is: the student page and the cell panel show the
enrollment's clinic links in plain words with their bookings (when, where, and how each ended),
and let the people SPEC §6 allows request a clinic there — with the session filled in on the cell
panel — and, when they run a clinic session, book it at once (SPEC §13).

Read side: five queries whatever the number of links (the enrollment, its links, their booking
history, the lecture's sessions, the clinic sessions the caller may book into). Write side:
`request_and_book` makes the manual link (dashboard.clinic.links) and books it in the same
transaction; a refused booking raises, and the caller rolls back, so the link is not kept either.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from sqlalchemy import select

from dashboard.accounts.access import visible_lecture_ids
from dashboard.clinic import links as link_service
from dashboard.clinic import sessions as session_service
from dashboard.clinic.timetable import LinkBooking, SessionCard, bookable_sessions, link_histories
from dashboard.clinic.words import plain_reasons
from dashboard.extensions import db
from dashboard.models import ClinicLink, Enrollment, LectureSession, Student, User

RECENT_RESOLVED = 10  # resolved links shown under the open ones on the student page


@dataclass(frozen=True)
class StudentLink:
    """One clinic link of the student, with its session, its reasons in words and its bookings."""

    link: ClinicLink
    session_id: int
    session_order: int
    session_title: str | None
    session_date: date | None
    reasons: tuple[str, ...]
    bookings: tuple[LinkBooking, ...]

    @property
    def booking(self) -> LinkBooking | None:
        """The active booking (booked, or attended), if any."""
        return next((item for item in reversed(self.bookings) if item.active), None)

    @property
    def state(self) -> str:
        """resolved, booked, approved or open (a `data-` value; the page shows words)."""
        if self.link.resolved_at is not None:
            return "resolved"
        if self.booking is not None:
            return "booked"
        return "approved" if self.link.approved else "open"


@dataclass(frozen=True)
class BookingSummary:
    """One booking of the student, as the booking bar shows it: when, where, which sessions, outcome."""

    booking: LinkBooking
    session_orders: tuple[int, ...]


@dataclass(frozen=True)
class StudentClinic:
    """Everything the clinic part of the student page or the cell panel shows."""

    enrollment_id: int
    lecture_id: int
    student_name: str
    withdrawn: bool
    links: tuple[StudentLink, ...]  # open ones first (by session), then the latest resolved ones
    session_id: int | None  # the cell panel's session (None on the student page)
    sessions: tuple[tuple[int, int, str | None], ...]  # id, order, title: what a request may name
    bookable: tuple[SessionCard, ...]  # clinic sessions the caller may book this student into
    request_reasons: tuple[str, ...]  # the manual reasons the caller may request

    @property
    def open_links(self) -> list[StudentLink]:
        return [item for item in self.links if item.link.resolved_at is None]

    @property
    def shown_links(self) -> list[StudentLink]:
        """The student page: every link shown; the cell panel: this session's only."""
        if self.session_id is None:
            return list(self.links)
        return [item for item in self.links if item.session_id == self.session_id]

    @property
    def booked_count(self) -> int:
        return sum(1 for item in self.open_links if item.booking is not None)

    @property
    def bookings(self) -> list[BookingSummary]:
        """Each booking of the shown links once, the latest first (the booking bar)."""
        found: dict[int, tuple[LinkBooking, list[int]]] = {}
        for item in self.shown_links:
            for booking in item.bookings:
                entry = found.setdefault(booking.booking_id, (booking, []))
                if item.session_order not in entry[1]:
                    entry[1].append(item.session_order)
        ordered = sorted(found.values(), key=lambda entry: (entry[0].starts_at, entry[0].booking_id), reverse=True)
        return [BookingSummary(booking, tuple(sorted(orders))) for booking, orders in ordered]

    @property
    def may_request(self) -> bool:
        return bool(self.request_reasons) and not self.withdrawn


def load_student_clinic(user: User, enrollment_id: int, session_id: int | None = None) -> StudentClinic | None:
    """The student's clinic as `user` may see it (None: no such enrollment in the user's lectures)."""
    row = db.session.execute(
        select(Enrollment.lecture_id, Enrollment.withdrawn_at, Student.name)
        .join(Student, Student.id == Enrollment.student_id).where(Enrollment.id == enrollment_id)
    ).first()
    visible = visible_lecture_ids(user)
    if row is None or (visible is not None and row.lecture_id not in visible):
        return None
    found = db.session.execute(
        select(ClinicLink, LectureSession.order, LectureSession.title, LectureSession.date)
        .join(LectureSession, LectureSession.id == ClinicLink.session_id)
        .where(ClinicLink.enrollment_id == enrollment_id)
        .order_by(ClinicLink.resolved_at.is_not(None), ClinicLink.resolved_at.desc(), LectureSession.order,
                  ClinicLink.id)
    ).all()
    opened = [entry for entry in found if entry[0].resolved_at is None]
    resolved = [entry for entry in found if entry[0].resolved_at is not None]
    if session_id is None:
        resolved = resolved[:RECENT_RESOLVED]
    kept = opened + resolved
    histories = link_histories([entry[0].id for entry in kept])
    links = tuple(StudentLink(link, link.session_id, order, title, day, plain_reasons(link), histories.get(link.id, ()))
                  for link, order, title, day in kept)
    sessions = tuple(tuple(item) for item in db.session.execute(
        select(LectureSession.id, LectureSession.order, LectureSession.title)
        .where(LectureSession.lecture_id == row.lecture_id).order_by(LectureSession.order)))
    reasons = tuple(reason for reason in link_service.MANUAL_REASONS
                    if user.role in link_service.REQUEST_ROLES[reason])
    bookable = tuple(card for card in bookable_sessions(user)
                     if card.clinic_session.lecture_id in (None, row.lecture_id)) if reasons else ()
    return StudentClinic(enrollment_id, row.lecture_id, row.name, row.withdrawn_at is not None, links,
                         session_id, sessions, bookable, reasons)


def request_and_book(user: User, data: Mapping[str, Any], clinic_session_id: int | None) -> tuple[ClinicLink, bool]:
    """A person's clinic request (`{"enrollment_id", "session", "reason", "memo"}`), booked at once
    into `clinic_session_id` when one is given. Returns the link and whether it was booked.

    Refusals (dashboard.errors): the link's and the booking's; after a refused booking the caller
    rolls back, and the link goes too."""
    link = link_service.request_clinic(user, data)
    if clinic_session_id is None:
        return link, False
    session_service.book(user, clinic_session_id, {"enrollment_id": link.enrollment_id, "link_ids": [link.id]})
    return link, True

"""Clinic sessions and bookings (SPEC §13): the remedial classes staff schedule, and the
students booked into them for some of their open clinic links.

Who may do what: admins and staff create, edit and cancel clinic sessions, book, take the roll
call and cancel bookings. A teacher sees the clinic sessions of their lectures and the open ones
(no lecture), and may book their own lectures' students into a clinic session they teach and
take its roll call — the one way a teacher approves or resolves clinic links.

The rules among *active* bookings (not cancelled, not marked no-show): one per (clinic session,
enrollment), at most `capacity` per clinic session, no two of one student whose clinic sessions
overlap in time (touching is not overlapping), a link in at most one. The database holds the
first and the last as partial unique indexes; capacity and overlap are counted after locking
the clinic session row and the student row (PostgreSQL `FOR UPDATE`; SQLite writes one at a
time anyway), so two people booking the last seat at once get one booking and one 409.

What a booking does to its links (SPEC §6): booking approves them; `attended` resolves them;
`no_show` and cancelling put them back to open and not approved. The booking rows stay, so a
link's bookings are its history. No action looks at the clinic's time: a past clinic can be
recorded.

`book` is the one function that creates a booking and `cancel_booking_row` the one that cancels
one (cancelling a booking and cancelling a clinic session both go through it). Services only
flush; the request boundary commits.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm.util import identity_key

from dashboard.accounts.access import visible_lecture_ids
from dashboard.clinic.links import key_given
from dashboard.clock import now, parse_input_time
from dashboard.errors import Conflict, Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import (
    MAX_ID,
    AuditLog,
    ClinicBooking,
    ClinicBookingLink,
    ClinicLink,
    ClinicSession,
    Enrollment,
    Lecture,
    Student,
    User,
)
from dashboard.parents import outbox
from dashboard.progress.recompute import lock_lecture

MANAGER_ROLES = ("admin", "staff")
ROOM_MAX_LENGTH = 100
NOTE_MAX_LENGTH = 5000
SESSION_FIELDS = ("starts_at", "ends_at", "room", "capacity", "lecture", "lecture_id", "teacher", "teacher_id", "note")
BOOKING_FIELDS = ("enrollment_id", "link_ids")
ATTENDANCE_CHOICES = ("attended", "no_show")


# ---------------------------------------------------------------- who sees what

def active_booking() -> Any:
    """The SQL condition of an active booking (not cancelled, not marked no-show)."""
    return and_(
        ClinicBooking.cancelled_at.is_(None),
        or_(ClinicBooking.attendance.is_(None), ClinicBooking.attendance != "no_show"),
    )


def session_scope(user: User, visible: set[int] | None = None) -> Any | None:
    """The condition on ClinicSession the caller may see; None for every clinic session."""
    if user.role in MANAGER_ROLES:
        return None
    if visible is None:
        visible = visible_lecture_ids(user) or set()
    conditions = [ClinicSession.lecture_id.is_(None)]
    if visible:
        conditions.append(ClinicSession.lecture_id.in_(sorted(visible)))
    return or_(*conditions)


def clinic_session_for(user: User, clinic_session_id: int) -> ClinicSession:
    """The clinic session with this id, if the caller may see it (NotFound otherwise)."""
    statement = select(ClinicSession).where(ClinicSession.id == clinic_session_id)
    scope = session_scope(user)
    if scope is not None:
        statement = statement.where(scope)
    found = db.session.execute(statement).scalar()
    if found is None:
        raise NotFound()
    return found


def booking_for(user: User, booking_id: int) -> ClinicBooking:
    """The booking with this id, if the caller may see it: admins and staff every booking, a
    teacher those of their lectures' students in a clinic session they may see."""
    row = db.session.execute(
        select(ClinicBooking, Enrollment.lecture_id)
        .join(Enrollment, Enrollment.id == ClinicBooking.enrollment_id)
        .where(ClinicBooking.id == booking_id)
    ).first()
    if row is None:
        raise NotFound()
    if user.role not in MANAGER_ROLES:
        visible = visible_lecture_ids(user) or set()
        if row.lecture_id not in visible:
            raise NotFound()
        clinic_session_for(user, row[0].clinic_session_id)
    return row[0]


def may_run(user: User, clinic_session: ClinicSession) -> bool:
    """Admins and staff run every clinic session; a teacher the ones they teach."""
    return user.role in MANAGER_ROLES or (user.role == "teacher" and clinic_session.teacher_id == user.id)


def may_mark(user: User, booking: ClinicBooking) -> bool:
    """Whether the caller may take this booking's roll call or cancel it."""
    return may_run(user, db.session.get(ClinicSession, booking.clinic_session_id))


# ---------------------------------------------------------------- reading values

def _reject_unknown(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    for name in data:
        if name not in allowed:
            raise Invalid("unknown_field", name)


def _id(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid("not_integer", name)
    return value


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise Invalid("bad_time", name)
    try:
        return parse_input_time(value.strip())
    except ValueError:
        raise Invalid("bad_time", name) from None


def _text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("not_text", name)
    if len(value) > limit:
        raise Invalid("too_long", name, max=limit)
    return value.strip() or None


def _capacity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("not_integer", "capacity")
    if value < 1:
        raise Invalid("too_small", "capacity", min=1)
    if value > 10_000:
        raise Invalid("too_large", "capacity", max=10_000)
    return value


def _lecture(value: Any, name: str) -> int | None:
    if value is None:
        return None
    lecture_id = _id(value, name)
    if db.session.get(Lecture, lecture_id) is None:
        raise Invalid("unknown_reference", name, kind="lecture", id=lecture_id)
    return lecture_id


def _teacher(value: Any, name: str) -> int | None:
    """A person given by username (as the API shows people) or by id."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        found = db.session.execute(select(User.id).where(User.username == value)).scalar()
        if found is None:
            raise Invalid("clinic_unknown_user", name, username=value)
        return found
    user_id = _id(value, name)
    if db.session.get(User, user_id) is None:
        raise Invalid("unknown_reference", name, kind="user", id=user_id)
    return user_id


def _pick(data: Mapping[str, Any], name: str, alias: str) -> tuple[str, Any] | None:
    """The field under whichever of its two accepted names the body uses, or None."""
    key = key_given(data, name, alias)
    return (key, data[key]) if key in data else None


def _read_session(data: Mapping[str, Any], current: ClinicSession | None) -> dict[str, Any]:
    """The clinic session's values after applying `data` (every field when creating)."""
    _reject_unknown(data, SESSION_FIELDS)
    values: dict[str, Any] = {}
    for name in ("starts_at", "ends_at"):
        if name in data:
            values[name] = _time(data[name], name)
        elif current is None:
            raise Invalid("required", name)
    if "capacity" in data:
        values["capacity"] = _capacity(data["capacity"])
    elif current is None:
        raise Invalid("required", "capacity")
    if "room" in data:
        values["room"] = _text(data["room"], "room", ROOM_MAX_LENGTH)
    if "note" in data:
        values["note"] = _text(data["note"], "note", NOTE_MAX_LENGTH)
    picked = _pick(data, "lecture", "lecture_id")
    if picked is not None:
        values["lecture_id"] = _lecture(picked[1], picked[0])
    picked = _pick(data, "teacher", "teacher_id")
    if picked is not None:
        values["teacher_id"] = _teacher(picked[1], picked[0])
    starts = values.get("starts_at", current.starts_at if current else None)
    ends = values.get("ends_at", current.ends_at if current else None)
    if ends <= starts:
        raise Invalid("clinic_ends_before_start", "ends_at")
    return values


def _session_state(clinic_session: ClinicSession) -> dict[str, Any]:
    return {name: getattr(clinic_session, name) for name in (
        "starts_at", "ends_at", "room", "capacity", "lecture_id", "teacher_id", "note", "cancelled_at")}


def _audit_rows(rows: list[dict[str, Any]], user: User) -> None:
    """Several audit entries in one statement (a booking may approve or resolve many links)."""
    from dashboard.accounts.audit import json_safe

    if not rows:
        return
    moment = now()
    db.session.execute(insert(AuditLog), [
        {"user_id": user.id, "username": user.username, "action": row["action"],
         "object_type": row["object_type"], "object_id": str(row["object_id"]),
         "lecture_id": row.get("lecture_id"), "before": json_safe(row.get("before")),
         "after": json_safe(row.get("after")), "created_at": moment}
        for row in rows
    ])


def _audit(user: User, action: str, object_type: str, object_id: int, before: Any, after: Any,
           lecture_id: int | None) -> None:
    from dashboard.accounts import audit

    audit.record(action, object_type, object_id, before, after, user=user, lecture_id=lecture_id)


# ---------------------------------------------------------------- locks and counts

def _lock_clinic_session(clinic_session_id: int) -> ClinicSession:
    """SELECT ... FOR UPDATE on the clinic session row, then its fresh values."""
    db.session.execute(
        select(ClinicSession.id).where(ClinicSession.id == clinic_session_id).with_for_update())
    found = db.session.get(ClinicSession, clinic_session_id, populate_existing=True)
    assert found is not None
    return found


def _lock_students(student_ids: Iterable[int]) -> None:
    """Lock the students' rows (in id order) while their bookings' times are checked."""
    ids = sorted(set(student_ids))
    if ids:
        db.session.execute(select(Student.id).where(Student.id.in_(ids)).order_by(Student.id).with_for_update())


def booked_count(clinic_session_id: int) -> int:
    return db.session.execute(
        select(func.count()).select_from(ClinicBooking)
        .where(ClinicBooking.clinic_session_id == clinic_session_id, active_booking())
    ).scalar_one()


def _overlapping(student_id: int, starts_at: datetime, ends_at: datetime, other_than: int | None) -> bool:
    """Whether the student holds an active booking in a clinic session (other than `other_than`)
    overlapping the interval [starts_at, ends_at) — touching intervals do not overlap."""
    statement = (
        select(ClinicBooking.id)
        .join(Enrollment, Enrollment.id == ClinicBooking.enrollment_id)
        .join(ClinicSession, ClinicSession.id == ClinicBooking.clinic_session_id)
        .where(
            Enrollment.student_id == student_id,
            active_booking(),
            ClinicSession.cancelled_at.is_(None),
            ClinicSession.starts_at < ends_at,
            ClinicSession.ends_at > starts_at,
        ).limit(1)
    )
    if other_than is not None:
        statement = statement.where(ClinicSession.id != other_than)
    return db.session.execute(statement).first() is not None


# ---------------------------------------------------------------- clinic sessions

def create_clinic_session(user: User, data: Mapping[str, Any]) -> ClinicSession:
    """A new clinic session (admins and staff): starts_at, ends_at, capacity required."""
    if user.role not in MANAGER_ROLES:
        raise Forbidden()
    values = _read_session(data, None)
    clinic_session = ClinicSession(created_by_id=user.id, **values)
    db.session.add(clinic_session)
    db.session.flush()
    _audit(user, "clinic_session.create", "clinic_session", clinic_session.id, None,
           _session_state(clinic_session), clinic_session.lecture_id)
    return clinic_session


def create_weekly_clinic_sessions(user: User, data: Mapping[str, Any], weeks: int) -> list[ClinicSession]:
    """The same slot every week for `weeks` weeks (1..52), starting on `data`'s date."""
    from datetime import timedelta

    if user.role not in MANAGER_ROLES:
        raise Forbidden()
    if isinstance(weeks, bool) or not isinstance(weeks, int):
        raise Invalid("not_integer", "weeks")
    if not 1 <= weeks <= 52:
        raise Invalid("out_of_range", "weeks", min=1, max=52)
    values = _read_session(data, None)
    made = []
    for week in range(weeks):
        shift = timedelta(days=7 * week)
        # Weekly in the academy's wall clock: the same local time each week.
        clinic_session = ClinicSession(created_by_id=user.id, **{
            **values, "starts_at": values["starts_at"] + shift, "ends_at": values["ends_at"] + shift})
        db.session.add(clinic_session)
        made.append(clinic_session)
    db.session.flush()
    _audit_rows([{"action": "clinic_session.create", "object_type": "clinic_session", "object_id": item.id,
                  "lecture_id": item.lecture_id, "after": _session_state(item)} for item in made], user)
    return made


def edit_clinic_session(user: User, clinic_session_id: int, data: Mapping[str, Any]) -> tuple[ClinicSession, bool]:
    """Change a clinic session's fields (admins and staff). Capacity below the active bookings,
    or a time that makes a booked student overlap another of their clinics, is a conflict."""
    clinic_session_for(user, clinic_session_id)
    if user.role not in MANAGER_ROLES:
        raise Forbidden()
    clinic_session = _lock_clinic_session(clinic_session_id)
    values = _read_session(data, clinic_session)
    changed = {name: value for name, value in values.items() if getattr(clinic_session, name) != value}
    if not changed:
        return clinic_session, False
    if clinic_session.cancelled_at is not None:
        raise Conflict("clinic_session_cancelled")
    bookings = db.session.execute(
        select(ClinicBooking.id, Enrollment.student_id, Enrollment.lecture_id)
        .join(Enrollment, Enrollment.id == ClinicBooking.enrollment_id)
        .where(ClinicBooking.clinic_session_id == clinic_session.id, active_booking())
    ).all()
    if "capacity" in changed and changed["capacity"] < len(bookings):
        raise Conflict("clinic_capacity_below_booked", "capacity", booked=len(bookings))
    new_lecture = changed.get("lecture_id")
    if new_lecture is not None and any(row.lecture_id != new_lecture for row in bookings):
        raise Conflict("clinic_lecture_has_other_bookings", "lecture")
    if "starts_at" in changed or "ends_at" in changed:
        starts = values.get("starts_at", clinic_session.starts_at)
        ends = values.get("ends_at", clinic_session.ends_at)
        _lock_students(row.student_id for row in bookings)
        for row in bookings:
            if _overlapping(row.student_id, starts, ends, clinic_session.id):
                raise Conflict("clinic_student_overlap", "starts_at")
    before = _session_state(clinic_session)
    for name, value in changed.items():
        setattr(clinic_session, name, value)
    db.session.flush()
    if "starts_at" in changed or "room" in changed:  # guardians are never left with the old time or room
        outbox.reschedule_bookings([row.id for row in bookings], clinic_session.starts_at, clinic_session.room)
    _audit(user, "clinic_session.edit", "clinic_session", clinic_session.id, before,
           _session_state(clinic_session), clinic_session.lecture_id)
    return clinic_session, True


def cancel_clinic_session(user: User, clinic_session_id: int) -> tuple[ClinicSession, bool]:
    """Cancel a clinic session and every active booking in it (admins and staff)."""
    clinic_session_for(user, clinic_session_id)
    if user.role not in MANAGER_ROLES:
        raise Forbidden()
    clinic_session = _lock_clinic_session(clinic_session_id)
    if clinic_session.cancelled_at is not None:
        return clinic_session, False
    moment = now()
    before = _session_state(clinic_session)
    bookings = db.session.execute(
        select(ClinicBooking).where(ClinicBooking.clinic_session_id == clinic_session.id, active_booking())
        .order_by(ClinicBooking.id)
    ).scalars().all()
    for booking in bookings:
        cancel_booking_row(user, booking, moment)
    clinic_session.cancelled_at = moment
    db.session.flush()
    _audit(user, "clinic_session.cancel", "clinic_session", clinic_session.id, before,
           _session_state(clinic_session), clinic_session.lecture_id)
    return clinic_session, True


# ---------------------------------------------------------------- bookings

def _link_ids(value: Any) -> list[int]:
    if value is None:
        raise Invalid("required", "link_ids")
    if not isinstance(value, list):
        raise Invalid("not_list", "link_ids")
    if not value:
        raise Invalid("required", "link_ids")
    ids: list[int] = []
    for index, item in enumerate(value):
        ids.append(_id(item, f"link_ids[{index}]"))
    return sorted(set(ids))


def _booking_state(booking: ClinicBooking) -> dict[str, Any]:
    return {"clinic_session_id": booking.clinic_session_id, "enrollment_id": booking.enrollment_id,
            "attendance": booking.attendance, "cancelled_at": booking.cancelled_at}


def book(user: User, clinic_session_id: int, data: Mapping[str, Any]) -> ClinicBooking:
    """Book `{"enrollment_id", "link_ids"}` into a clinic session; approves the booked links.

    The one function that creates a booking. Checks in order: the caller sees the clinic
    session (404) and may book into it (403), the enrollment is theirs (403), the values (400),
    then — under the clinic session's and the student's locks — the seat, the student's other
    clinics and the links' other bookings (409).
    """
    clinic_session = clinic_session_for(user, clinic_session_id)
    if not may_run(user, clinic_session):
        raise Forbidden()
    _reject_unknown(data, BOOKING_FIELDS)
    if "enrollment_id" not in data or data["enrollment_id"] is None:
        raise Invalid("required", "enrollment_id")
    enrollment_id = _id(data["enrollment_id"], "enrollment_id")
    enrollment = db.session.get(Enrollment, enrollment_id)
    if (enrollment is not None and user.role not in MANAGER_ROLES
            and enrollment.lecture_id not in (visible_lecture_ids(user) or set())):
        raise Forbidden()
    if enrollment is None:
        raise Invalid("unknown_reference", "enrollment_id", kind="enrollment", id=enrollment_id)
    if enrollment.withdrawn_at is not None:
        raise Invalid("clinic_enrollment_withdrawn", "enrollment_id")
    if clinic_session.lecture_id is not None and enrollment.lecture_id != clinic_session.lecture_id:
        raise Invalid("not_in_lecture", "enrollment_id", kind="enrollment")
    link_ids = _link_ids(data.get("link_ids"))
    _check_open_links(enrollment.id, link_ids)

    clinic_session = _lock_clinic_session(clinic_session.id)
    lock_lecture(enrollment.lecture_id)
    _lock_students([enrollment.student_id])
    if clinic_session.cancelled_at is not None:
        raise Conflict("clinic_session_cancelled")
    _check_open_links(enrollment.id, link_ids)
    if db.session.execute(
        select(ClinicBooking.id).where(ClinicBooking.clinic_session_id == clinic_session.id,
                                       ClinicBooking.enrollment_id == enrollment.id, active_booking())
    ).first() is not None:
        raise Conflict("clinic_already_booked", "enrollment_id")
    if booked_count(clinic_session.id) >= clinic_session.capacity:
        raise Conflict("clinic_session_full", capacity=clinic_session.capacity)
    if _overlapping(enrollment.student_id, clinic_session.starts_at, clinic_session.ends_at, None):
        raise Conflict("clinic_student_overlap", "enrollment_id")
    taken = db.session.execute(
        select(ClinicBookingLink.link_id).where(ClinicBookingLink.link_id.in_(link_ids),
                                                ClinicBookingLink.active.is_(True))
        .order_by(ClinicBookingLink.link_id).limit(1)
    ).scalar()
    if taken is not None:
        raise Conflict("clinic_link_already_booked", "link_ids", id=taken)

    booking = ClinicBooking(clinic_session_id=clinic_session.id, enrollment_id=enrollment.id,
                            created_by_id=user.id)
    db.session.add(booking)
    db.session.flush()
    db.session.execute(insert(ClinicBookingLink),
                       [{"booking_id": booking.id, "link_id": link_id, "active": True} for link_id in link_ids])
    moment = now()
    to_approve = db.session.execute(
        select(ClinicLink.id).where(ClinicLink.id.in_(link_ids), ClinicLink.approved.is_(False))
    ).scalars().all()
    db.session.execute(
        update(ClinicLink).where(ClinicLink.id.in_(link_ids), ClinicLink.approved.is_(False))
        .values(version=ClinicLink.version + 1, approved=True, approved_by_id=user.id, approved_at=moment, auto_managed=False, updated_at=moment)
        .execution_options(synchronize_session=False))
    # Booking takes every booked link out of automatic management, approved before or not.
    db.session.execute(
        update(ClinicLink).where(ClinicLink.id.in_(link_ids), ClinicLink.auto_managed.is_(True))
        .values(version=ClinicLink.version + 1, auto_managed=False, updated_at=moment).execution_options(synchronize_session=False))
    _expire_links(link_ids)
    _audit_rows(
        [{"action": "clinic_booking.create", "object_type": "clinic_booking", "object_id": booking.id,
          "lecture_id": enrollment.lecture_id, "after": {**_booking_state(booking), "link_ids": link_ids}}]
        + [{"action": "clinic_link.approve", "object_type": "clinic_link", "object_id": link_id,
            "lecture_id": enrollment.lecture_id, "before": {"approved": False},
            "after": {"approved": True, "approved_by_id": user.id, "approved_at": moment,
                      "booking_id": booking.id}} for link_id in to_approve],
        user)
    outbox.queue_booking(booking.id, enrollment.id, clinic_session.starts_at, clinic_session.room)
    return booking


def _check_open_links(enrollment_id: int, link_ids: list[int]) -> None:
    """Every id names an open link of this enrollment (400 naming the first that does not)."""
    rows = dict(db.session.execute(
        select(ClinicLink.id, ClinicLink.resolved_at.is_(None))
        .where(ClinicLink.id.in_(link_ids), ClinicLink.enrollment_id == enrollment_id)
    ).all())
    for link_id in link_ids:
        if not rows.get(link_id):
            raise Invalid("clinic_link_not_open", "link_ids", id=link_id)


def _expire_links(link_ids: list[int]) -> None:
    """Links changed by a bulk UPDATE: forget any loaded copies so later reads see the new values."""
    identity = db.session.identity_map
    for link_id in link_ids:
        obj = identity.get(identity_key(ClinicLink, link_id))
        if obj is not None:
            db.session.expire(obj)


def booking_link_ids(booking_id: int) -> list[int]:
    return list(db.session.execute(
        select(ClinicBookingLink.link_id).where(ClinicBookingLink.booking_id == booking_id)
        .order_by(ClinicBookingLink.link_id)).scalars())


def _release_links(user: User, booking: ClinicBooking, moment: datetime, lecture_id: int) -> None:
    """A booking that no longer holds its links (no-show, cancelled): they are open and not
    approved again, out of the booking; the booking row keeps the history."""
    link_ids = list(db.session.execute(
        select(ClinicBookingLink.link_id).where(ClinicBookingLink.booking_id == booking.id,
                                                ClinicBookingLink.active.is_(True))).scalars())
    if not link_ids:
        return
    db.session.execute(
        update(ClinicBookingLink).where(ClinicBookingLink.booking_id == booking.id)
        .values(active=False).execution_options(synchronize_session=False))
    resolved = set(db.session.execute(
        select(ClinicLink.id).where(ClinicLink.id.in_(link_ids), ClinicLink.resolved_at.is_not(None))).scalars())
    db.session.execute(
        update(ClinicLink).where(ClinicLink.id.in_(link_ids))
        .values(version=ClinicLink.version + 1, approved=False, approved_by_id=None, approved_at=None, auto_managed=False, updated_at=moment)
        .execution_options(synchronize_session=False))
    if resolved:
        db.session.execute(
            update(ClinicLink).where(ClinicLink.id.in_(sorted(resolved)))
            .values(version=ClinicLink.version + 1, resolved_at=None, resolved_by_id=None, reopened_by_id=user.id, reopened_at=moment)
            .execution_options(synchronize_session=False))
    _expire_links(link_ids)
    _audit_rows([{"action": "clinic_link.return", "object_type": "clinic_link", "object_id": link_id,
                  "lecture_id": lecture_id, "before": {"booking_id": booking.id},
                  "after": {"approved": False, "resolved_at": None, "booking_id": None}}
                 for link_id in link_ids], user)


def cancel_booking_row(user: User, booking: ClinicBooking, moment: datetime | None = None) -> bool:
    """Cancel one booking (the caller has checked the role and locked the clinic session): its
    links go back to open and not approved. The one function that cancels a booking; answers
    whether anything changed."""
    if booking.cancelled_at is not None:
        return False
    moment = moment or now()
    lecture_id = db.session.execute(
        select(Enrollment.lecture_id).where(Enrollment.id == booking.enrollment_id)).scalar_one()
    lock_lecture(lecture_id)
    before = _booking_state(booking)
    booking.cancelled_at = moment
    booking.cancelled_by_id = user.id
    db.session.flush()
    _release_links(user, booking, moment, lecture_id)
    _audit(user, "clinic_booking.cancel", "clinic_booking", booking.id, before, _booking_state(booking), lecture_id)
    outbox.cancel_booking(booking.id)
    return True


def cancel_booking(user: User, booking_id: int) -> tuple[ClinicBooking, bool]:
    """Cancel a booking (admins, staff, or the teacher of its clinic session)."""
    booking = booking_for(user, booking_id)
    clinic_session = db.session.get(ClinicSession, booking.clinic_session_id)
    if not may_run(user, clinic_session):
        raise Forbidden()
    _lock_clinic_session(clinic_session.id)
    db.session.refresh(booking)
    changed = cancel_booking_row(user, booking)
    return booking, changed


def mark_attendance(user: User, booking_id: int, data: Mapping[str, Any]) -> tuple[ClinicBooking, bool]:
    """The roll call of one booking: `{"attendance": "attended" | "no_show"}`.

    `attended` resolves the booked links; `no_show` puts them back to open and not approved
    (the booking stops holding them). A no-show is final: book again to give the seat back. A
    cancelled booking cannot be marked.
    """
    booking = booking_for(user, booking_id)
    clinic_session = db.session.get(ClinicSession, booking.clinic_session_id)
    if not may_run(user, clinic_session):
        raise Forbidden()
    _reject_unknown(data, ("attendance",))
    if "attendance" not in data:
        raise Invalid("required", "attendance")
    value = data["attendance"]
    if value not in ATTENDANCE_CHOICES:
        raise Invalid("not_a_choice", "attendance", choices=", ".join(ATTENDANCE_CHOICES))
    _lock_clinic_session(clinic_session.id)
    db.session.refresh(booking)
    if booking.attendance == value:
        return booking, False
    if booking.cancelled_at is not None:
        raise Conflict("clinic_booking_cancelled")
    if booking.attendance == "no_show":
        raise Conflict("clinic_booking_no_show")
    lecture_id = db.session.execute(
        select(Enrollment.lecture_id).where(Enrollment.id == booking.enrollment_id)).scalar_one()
    lock_lecture(lecture_id)
    moment = now()
    before = _booking_state(booking)
    booking.attendance = value
    booking.marked_by_id = user.id
    booking.marked_at = moment
    db.session.flush()
    if value == "attended":
        link_ids = list(db.session.execute(
            select(ClinicBookingLink.link_id).where(ClinicBookingLink.booking_id == booking.id,
                                                    ClinicBookingLink.active.is_(True))).scalars())
        to_resolve = list(db.session.execute(
            select(ClinicLink.id).where(ClinicLink.id.in_(link_ids), ClinicLink.resolved_at.is_(None))).scalars())
        if to_resolve:
            db.session.execute(
                update(ClinicLink).where(ClinicLink.id.in_(to_resolve))
                .values(version=ClinicLink.version + 1, resolved_at=moment, resolved_by_id=user.id, auto_managed=False, updated_at=moment)
                .execution_options(synchronize_session=False))
            _expire_links(to_resolve)
            _audit_rows([{"action": "clinic_link.resolve", "object_type": "clinic_link", "object_id": link_id,
                          "lecture_id": lecture_id, "before": {"resolved_at": None},
                          "after": {"resolved_at": moment, "resolved_by_id": user.id, "booking_id": booking.id}}
                         for link_id in to_resolve], user)
    else:
        _release_links(user, booking, moment, lecture_id)
    _audit(user, "clinic_booking.attendance", "clinic_booking", booking.id, before, _booking_state(booking),
           lecture_id)
    return booking, True

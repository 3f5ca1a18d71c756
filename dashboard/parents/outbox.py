"""The outbox: messages to guardians, queued in the transaction of the change that caused them.

Every message names its *event occurrence* in `event_key` (``absence:<enrollment>:<session>``,
``booking:<booking>``, ``risk:<enrollment>:<rise>:<level>``); the database keeps (event_key,
guardian) unique and every insert is ``ON CONFLICT DO NOTHING``, so an occurrence never queues
twice, even when two requests record it at once. A message goes only to a guardian with consent
and a contact for their channel, and only for an event the lecture's settings enable; it starts
in `review` when the lecture reviews messages, else `queued`. When the cause is undone before
the message was sent (absence corrected, booking cancelled, risk fallen) it is cancelled; the
same absence recorded again revives a message its correction cancelled.

Risk (SPEC §14): `after_recompute` runs once per recompute, after the lecture-progress rows are
written. It compares each enrollment's risk level with `risk_notice`, the level guardians last
heard of and the rise it belongs to: a rise queues the new level's event; any fall cancels the
pending messages of the levels above and starts a new rise, so reaching the level again
notifies again. A rise whose last due session is dated more than HISTORY_DAYS before today is
history: the notice is updated but nothing is queued.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from dashboard.accounts.access import can_edit_inputs
from dashboard.clock import academy_timezone, academy_today, now
from dashboard.errors import Conflict, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import (
    NOTIFICATION_EVENTS,
    Enrollment,
    Guardian,
    Lecture,
    LectureProgress,
    LectureSession,
    Notification,
    NotificationSetting,
    RiskNotice,
    Student,
    User,
)
from dashboard.parents import messages

HISTORY_DAYS = 7
PENDING = ("review", "queued")
RISK_EVENTS = {"WARNING": "risk_warning", "DANGER": "risk_danger"}
SEVERITY = {"NORMAL": 0, "WARNING": 1, "DANGER": 2}


# ---------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    events: tuple[str, ...] = NOTIFICATION_EVENTS
    review: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"events": list(self.events), "review": self.review}


def settings_of(lecture_id: int) -> Settings:
    row = db.session.get(NotificationSetting, lecture_id)
    return Settings() if row is None else Settings(_ordered_events(row.events), row.review)


def _ordered_events(events: Iterable[str]) -> tuple[str, ...]:
    chosen = set(events)
    return tuple(event for event in NOTIFICATION_EVENTS if event in chosen)


def save_settings(lecture_id: int, change: dict[str, Any]) -> Settings:
    """Merge a change (`events`, `review`) into the lecture's settings; admins only (the caller checked).
    Messages already created are left as they are."""
    current = settings_of(lecture_id)
    for name in change:
        if name not in ("events", "review"):
            raise Invalid("unknown_field", name)
    events = change.get("events", list(current.events))
    if not isinstance(events, list):
        raise Invalid("not_list", "events")
    for index, event in enumerate(events):
        if event not in NOTIFICATION_EVENTS:
            raise Invalid("not_a_choice", f"events[{index}]", choices=", ".join(NOTIFICATION_EVENTS))
    review = change.get("review", current.review)
    if not isinstance(review, bool):
        raise Invalid("not_boolean", "review")
    row = db.session.get(NotificationSetting, lecture_id)
    if row is None:
        row = NotificationSetting(lecture_id=lecture_id)
        db.session.add(row)
    row.events, row.review = list(_ordered_events(events)), review
    db.session.flush()
    return Settings(tuple(row.events), row.review)


# ---------------------------------------------------------------- writing messages

@dataclass(frozen=True)
class Recipient:
    guardian_id: int
    channel: str
    to: str
    language: str


def _recipient(guardian_id, channel, phone, email, language, consent) -> Recipient | None:
    to = phone if channel == "sms" else email
    if not consent or not to:
        return None
    return Recipient(guardian_id, channel, to, language)


def _insert_ignoring_duplicates(rows: list[dict[str, Any]]) -> None:
    """One INSERT … ON CONFLICT (event_key, guardian_id) DO NOTHING for all rows."""
    if not rows:
        return
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    stamp = now()
    for row in rows:
        row.setdefault("created_at", stamp)
        row.setdefault("updated_at", stamp)
        row.setdefault("attempts", 0)
        row.setdefault("cancelled_by_cause", False)
    statement = dialect.insert(Notification).values(rows).on_conflict_do_nothing(
        index_elements=["event_key", "guardian_id"])
    db.session.execute(statement)


def _rows_for(event: str, event_key: str, enrollment_id: int, state: str, recipients: Iterable[Recipient],
              bodies: dict[tuple[str, str], str], values_for: Any) -> list[dict[str, Any]]:
    return [
        {"event": event, "event_key": event_key, "enrollment_id": enrollment_id, "guardian_id": r.guardian_id,
         "channel": r.channel, "to": r.to, "state": state,
         "text": messages.fill(bodies[(event, r.language)], values_for(r.language))}
        for r in recipients
    ]


def _cancel_by_cause(*conditions) -> int:
    result = db.session.execute(
        update(Notification).where(Notification.state.in_(PENDING), *conditions)
        .values(state="cancelled", cancelled_by_cause=True, updated_at=now())
        .execution_options(synchronize_session=False))
    return result.rowcount


def _enrollment_context(enrollment_id: int):
    """(lecture id, lecture title, student name, [recipients]) of an enrollment, in one query."""
    rows = db.session.execute(
        select(Enrollment.lecture_id, Lecture.title, Student.name, Guardian.id, Guardian.channel, Guardian.phone,
               Guardian.email, Guardian.language, Guardian.consent)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        .join(Student, Student.id == Enrollment.student_id)
        .outerjoin(Guardian, Guardian.student_id == Student.id)
        .where(Enrollment.id == enrollment_id).order_by(Guardian.id)).all()
    if not rows:
        raise NotFound()
    recipients = [r for r in (_recipient(*row[3:]) for row in rows if row[3] is not None) if r is not None]
    return rows[0][0], rows[0][1], rows[0][2], recipients


def _queue(event: str, event_key: str, enrollment_id: int, values: dict[str, Any],
           session_order: int | None = None, session_title: str | None = None) -> int:
    """Queue one occurrence for every reachable guardian; answers how many messages are now pending for it."""
    lecture_id, lecture_title, student_name, recipients = _enrollment_context(enrollment_id)
    settings = settings_of(lecture_id)
    if event not in settings.events or not recipients:
        return 0
    state = "review" if settings.review else "queued"
    bodies = messages.template_bodies()

    def values_for(language: str) -> dict[str, Any]:
        return {"student": student_name, "lecture": lecture_title,
                "session": messages.session_words(session_order, session_title, language)
                if session_order is not None or session_title else None, **values}

    _insert_ignoring_duplicates(_rows_for(event, event_key, enrollment_id, state, recipients, bodies, values_for))
    # The same occurrence recorded again after its cause was undone: the cancelled message comes back.
    db.session.execute(
        update(Notification)
        .where(Notification.event_key == event_key, Notification.state == "cancelled",
               Notification.cancelled_by_cause.is_(True))
        .values(state=state, cancelled_by_cause=False, updated_at=now())
        .execution_options(synchronize_session=False))
    return db.session.execute(
        select(func.count()).select_from(Notification)
        .where(Notification.event_key == event_key, Notification.state.in_(PENDING))).scalar_one()


def _is_history(day: date | None) -> bool:
    return day is not None and day < academy_today() - timedelta(days=HISTORY_DAYS)


# ---------------------------------------------------------------- absences and bookings (called by their services)

def absence_key(enrollment_id: int, session_id: int) -> str:
    return f"absence:{enrollment_id}:{session_id}"


def queue_absence(enrollment_id: int, session_id: int) -> int:
    """An `absent` presence was recorded for this enrollment in this session. Queues a message per
    reachable guardian unless the session is more than HISTORY_DAYS old or the lecture does not
    notify absences; recording the same absence again queues nothing new. Answers the number of
    messages pending for it."""
    session = db.session.get(LectureSession, session_id)
    if session is None:
        raise NotFound()
    if _is_history(session.date):
        return 0
    return _queue("absence", absence_key(enrollment_id, session_id), enrollment_id,
                  {"date": session.date}, session.order, session.title)


def cancel_absence(enrollment_id: int, session_id: int) -> int:
    """The absence was corrected (another presence, or none): its unsent messages are cancelled."""
    return _cancel_by_cause(Notification.event_key == absence_key(enrollment_id, session_id))


def presence_changed(enrollment_id: int, session_id: int, before: str | None, after: str | None) -> None:
    """A roll call was written: an absence recorded queues its message, an absence corrected
    cancels it; any other change tells nobody."""
    if after == "absent" and before != "absent":
        queue_absence(enrollment_id, session_id)
    elif before == "absent" and after != "absent":
        cancel_absence(enrollment_id, session_id)


def booking_key(booking_id: int) -> str:
    return f"booking:{booking_id}"


def _clinic_values(starts_at: datetime, room: str | None) -> dict[str, Any]:
    local = starts_at.astimezone(academy_timezone())
    return {"date": local.date(), "time": local.replace(tzinfo=None), "room": room}


def queue_booking(booking_id: int, enrollment_id: int, starts_at: datetime, room: str | None = None) -> int:
    """A clinic booking was made: tells each reachable guardian the clinic's date, time and room."""
    return _queue("booking", booking_key(booking_id), enrollment_id, _clinic_values(starts_at, room))


def _of_booking(booking_id: int):
    """The booking's own message and the change notices that followed it (``booking:<id>:change:<n>``)."""
    key = booking_key(booking_id)
    return and_(Notification.event == "booking",
                or_(Notification.event_key == key, Notification.event_key.like(f"{key}:change:%")))


def cancel_booking(booking_id: int) -> int:
    """The booking was cancelled: its unsent messages (change notices included) are cancelled."""
    return _cancel_by_cause(_of_booking(booking_id))


CHANGED = {"ko": "[변경 안내] ", "en": "[Changed] "}
UNSENT = (*PENDING, "failed")


def reschedule_bookings(booking_ids: Iterable[int], starts_at: datetime, room: str | None) -> dict[str, int]:
    """A booked clinic session moved (its time or room changed); called in the same transaction.

    No guardian is ever sent the old time: every booking message not yet sent (awaiting review,
    queued, or failed and waiting for a person's resend) is written again from its template with
    the new date, time and room. A message approved before the move goes back to review when the
    lecture reviews messages, since the reviewer approved another text. A guardian who was already
    sent the old time (or is being sent it right now) gets a change notice — the booking text
    headed "[변경 안내]" — when the lecture still notifies bookings; one change notice not yet sent
    is rewritten rather than followed by another. Answers {"rewritten": n, "notices": n}.
    """
    ids = sorted(set(booking_ids))
    counts = {"rewritten": 0, "notices": 0}
    if not ids:
        return counts
    rows = db.session.execute(
        select(Notification, Guardian.language)
        .outerjoin(Guardian, Guardian.id == Notification.guardian_id)
        .where(or_(*(_of_booking(booking_id) for booking_id in ids)))
        .order_by(Notification.id)).all()
    if not rows:
        return counts
    bodies = messages.template_bodies()
    values = _clinic_values(starts_at, room)
    contexts: dict[int, tuple] = {}

    def context(enrollment_id: int) -> tuple:
        if enrollment_id not in contexts:
            contexts[enrollment_id] = _enrollment_context(enrollment_id)
        return contexts[enrollment_id]

    def text_for(enrollment_id: int, language: str, notice: bool) -> str:
        _lecture_id, lecture_title, student_name, _recipients = context(enrollment_id)
        text = messages.fill(bodies[("booking", language)],
                             {"student": student_name, "lecture": lecture_title, **values})
        return CHANGED[language] + text if notice else text

    told: dict[tuple[int, int], list[Notification]] = {}
    for notification, language in rows:
        booking_id = int(notification.event_key.split(":")[1])
        told.setdefault((booking_id, notification.guardian_id), []).append(notification)
        # One being sent right now gets the new text too: should this try fail, the retry says the new time.
        if notification.state not in (*UNSENT, "sending"):
            continue
        notice = ":change:" in notification.event_key
        notification.text = text_for(notification.enrollment_id, language or "ko", notice)
        if notification.state == "queued" and settings_of(context(notification.enrollment_id)[0]).review:
            notification.state = "review"
            notification.reviewed_by_id = notification.reviewed_at = None
        counts["rewritten"] += 1
    notices: list[dict[str, Any]] = []
    for (booking_id, guardian_id), sent in told.items():
        if guardian_id is None or any(n.state in UNSENT for n in sent) \
                or not any(n.state in ("sent", "sending") for n in sent):
            continue
        enrollment_id = sent[0].enrollment_id
        lecture_id, _title, _name, recipients = context(enrollment_id)
        settings = settings_of(lecture_id)
        recipient = next((r for r in recipients if r.guardian_id == guardian_id), None)
        if recipient is None or "booking" not in settings.events:
            continue
        notices.append({
            "event": "booking", "event_key": f"{booking_key(booking_id)}:change:{len(sent)}",
            "enrollment_id": enrollment_id, "guardian_id": guardian_id, "channel": recipient.channel,
            "to": recipient.to, "state": "review" if settings.review else "queued",
            "text": text_for(enrollment_id, recipient.language, True)})
    _insert_ignoring_duplicates(notices)
    counts["notices"] = len(notices)
    db.session.flush()
    return counts


# ---------------------------------------------------------------- risk: the recompute's one call-out

def _severity(column):
    return case(SEVERITY, value=column, else_=0)


def after_recompute(lecture_id: int, enrollment_ids: Sequence[int] | frozenset[int] | None) -> None:
    """Queue or cancel risk messages for the enrollments of this recompute whose risk level moved
    since guardians last heard of it.

    Always two statements, whatever the number of students: one select finds the moves with
    everything a message needs, one INSERT … SELECT moves `risk_notice` along. Only when a move
    concerns a guardian with consent (or a pending message to cancel) do one to three more follow.
    """
    last_session = aliased(LectureSession)
    stored_level = func.coalesce(RiskNotice.level, "NORMAL")
    stored_rise = func.coalesce(RiskNotice.rise, 1)
    pending_risk = (
        select(Notification.id).where(Notification.enrollment_id == LectureProgress.enrollment_id,
                                      Notification.event.in_(tuple(RISK_EVENTS.values())),
                                      Notification.state.in_(PENDING))
        .correlate(LectureProgress).exists()
    )
    moved = [LectureProgress.lecture_id == lecture_id, LectureProgress.risk_level != stored_level]
    if enrollment_ids is not None:
        moved.append(LectureProgress.enrollment_id.in_(sorted(enrollment_ids)))
    query = (
        select(LectureProgress.enrollment_id, LectureProgress.risk_level, stored_level, stored_rise, pending_risk,
               last_session.date, last_session.order, last_session.title, Lecture.title, Student.name,
               NotificationSetting.events, NotificationSetting.review,
               Guardian.id, Guardian.channel, Guardian.phone, Guardian.email, Guardian.language, Guardian.consent)
        .join(Enrollment, Enrollment.id == LectureProgress.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
        .join(Lecture, Lecture.id == LectureProgress.lecture_id)
        .outerjoin(RiskNotice, RiskNotice.enrollment_id == LectureProgress.enrollment_id)
        .outerjoin(last_session, last_session.id == LectureProgress.last_session_id)
        .outerjoin(NotificationSetting, NotificationSetting.lecture_id == LectureProgress.lecture_id)
        .outerjoin(Guardian, and_(Guardian.student_id == Student.id, Guardian.consent.is_(True)))
        .where(*moved)
        .order_by(LectureProgress.enrollment_id, Guardian.id)
    )
    rows = db.session.execute(query).all()
    _move_notices(moved)
    fell_to: dict[str, list[int]] = {"NORMAL": [], "WARNING": []}
    pending: list[dict[str, Any]] = []
    bodies: dict[tuple[str, str], str] | None = None
    seen: set[int] = set()
    for row in rows:
        (eid, level, old_level, rise, has_pending, last_date, last_order, last_title, lecture_title, student_name,
         events, review, *guardian) = row
        if SEVERITY[level] < SEVERITY[old_level]:
            if has_pending and eid not in seen:
                fell_to[level].append(eid)
            seen.add(eid)
            continue
        event = RISK_EVENTS[level]
        enabled = NOTIFICATION_EVENTS if events is None else events
        recipient = _recipient(*guardian) if guardian[0] is not None else None
        if recipient is None or event not in enabled or _is_history(last_date):
            continue
        if bodies is None:
            bodies = messages.template_bodies()

        def values_for(language: str, last_date=last_date, last_order=last_order, last_title=last_title,
                       lecture_title=lecture_title, student_name=student_name) -> dict[str, Any]:
            return {"student": student_name, "lecture": lecture_title, "date": last_date,
                    "session": messages.session_words(last_order, last_title, language)}

        state = "queued" if review is False else "review"
        pending.extend(_rows_for(event, f"risk:{eid}:{rise}:{level}", eid, state, [recipient], bodies, values_for))
    if fell_to["NORMAL"] or fell_to["WARNING"]:
        _cancel_by_cause(or_(
            and_(Notification.enrollment_id.in_(fell_to["NORMAL"] or [-1]),
                 Notification.event.in_(tuple(RISK_EVENTS.values()))),
            and_(Notification.enrollment_id.in_(fell_to["WARNING"] or [-1]), Notification.event == "risk_danger"),
        ))
    _insert_ignoring_duplicates(pending)


def _move_notices(moved: list) -> None:
    """Every moved enrollment's notice takes its new level; a fall starts the next rise."""
    stored_level = func.coalesce(RiskNotice.level, "NORMAL")
    stored_rise = func.coalesce(RiskNotice.rise, 1)
    rise = case((_severity(LectureProgress.risk_level) < _severity(stored_level), stored_rise + 1), else_=stored_rise)
    source = (
        select(LectureProgress.enrollment_id, LectureProgress.risk_level, rise)
        .outerjoin(RiskNotice, RiskNotice.enrollment_id == LectureProgress.enrollment_id)
        .where(*moved)
    )
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RiskNotice).from_select(["enrollment_id", "level", "rise"], source)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["enrollment_id"], set_={"level": statement.excluded.level, "rise": statement.excluded.rise}))


# ---------------------------------------------------------------- people's actions

def may_review(user: User, lecture_id: int) -> bool:
    """Admins and the lecture's teachers approve, edit and cancel its messages."""
    return user.role == "admin" or (user.role == "teacher" and can_edit_inputs(user, lecture_id))


def lecture_of_message(notification: Notification) -> int:
    return db.session.execute(
        select(Enrollment.lecture_id).where(Enrollment.id == notification.enrollment_id)).scalar_one()


def approve(notification: Notification, user: User) -> Notification:
    """A message awaiting review is queued for sending; a failed one is queued again (a person's resend).
    A queued message stays queued; one sent, being sent or cancelled is refused."""
    if notification.state in ("review", "failed"):
        if notification.state == "failed":
            notification.attempts = 0
            notification.last_error = None
        notification.state = "queued"
        notification.next_attempt_at = None
        notification.reviewed_by_id, notification.reviewed_at = user.id, now()
    elif notification.state != "queued":
        raise Conflict("notification_not_pending", "state")
    db.session.flush()
    return notification


def cancel(notification: Notification, user: User) -> Notification:
    """A person cancels a message not yet sent (cancelling a cancelled one changes nothing)."""
    if notification.state in PENDING or notification.state == "failed":
        notification.state = "cancelled"
        notification.cancelled_by_cause = False
        notification.reviewed_by_id, notification.reviewed_at = user.id, now()
    elif notification.state != "cancelled":
        raise Conflict("notification_not_pending", "state")
    db.session.flush()
    return notification


def edit_text(notification: Notification, text: Any) -> Notification:
    """A reviewer rewrites a message before it is sent."""
    if notification.state not in PENDING:
        raise Conflict("notification_not_pending", "state")
    if not isinstance(text, str) or not text.strip():
        raise Invalid("required", "text")
    if len(text.strip()) > messages.MAX_LENGTH:
        raise Invalid("too_long", "text", max=messages.MAX_LENGTH)
    notification.text = text.strip()
    db.session.flush()
    return notification


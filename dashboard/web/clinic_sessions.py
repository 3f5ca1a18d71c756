"""Clinic sessions in the browser (SPEC §13): the week calendar, scheduling (one slot or the
same slot for N weeks), editing and cancelling, booking students from the clinic queue, and
the roll call of one clinic session.

Every write calls one service of dashboard.clinic.sessions, which decides who may (a teacher
books and takes the roll call only in a clinic session they teach). A refusal is shown in the
reader's language (dashboard.errors.describe) after rolling back, so nothing of a refused
write is kept. Plain forms post and redirect (PRG); htmx forms get `HX-Redirect` for whole-page
changes, and the roll call answers the bookings partial in place.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dashboard.accounts.access import role_required, visible_lecture_ids
from dashboard.clinic import timetable as calendar, sessions
from dashboard.clock import academy_timezone, academy_today
from dashboard.errors import NotFound, Refused, describe
from dashboard.extensions import db
from dashboard.models import ClinicLink, Enrollment, Lecture, Student, User
from dashboard.web.clinic_todo import selected_link_ids
from dashboard.web.ui import back_within, is_htmx
from dashboard.web.idempotency import one_time

bp = Blueprint("clinic_sessions", __name__, url_prefix="/clinic/sessions")

MAX_WEEKS = 52


def _go(url: str):
    """Redirect a plain form (303) or an htmx one (HX-Redirect: the page loads with its flashes)."""
    if is_htmx():
        return "", 200, {"HX-Redirect": url}
    return redirect(url, 303)


def _refused(error: Refused) -> str:
    """Roll back what the refused write did (its locks), and the message to show."""
    db.session.rollback()
    return describe(error)


def _parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _lectures() -> list[tuple[int, str]]:
    visible = visible_lecture_ids(current_user)
    statement = select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id)
    if visible is not None:
        statement = statement.where(Lecture.id.in_(sorted(visible)))
    return [tuple(row) for row in db.session.execute(statement)]


def _teachers() -> list[tuple[int, str]]:
    return [tuple(row) for row in db.session.execute(
        select(User.id, User.username).where(User.is_active.is_(True), User.role.in_(("teacher", "staff", "admin")))
        .order_by(User.username))]


def _form_data(form: Any) -> dict[str, Any]:
    """The schedule form's fields as the service reads them (date + start/end times, local)."""
    day = (form.get("date") or "").strip()
    data: dict[str, Any] = {
        "starts_at": f"{day}T{(form.get('starts') or '').strip()}",
        "ends_at": f"{day}T{(form.get('ends') or '').strip()}",
        "room": form.get("room") or None,
        "note": form.get("note") or None,
        "lecture": int(form["lecture"]) if (form.get("lecture") or "").isdigit() else None,
        "teacher": int(form["teacher"]) if (form.get("teacher") or "").isdigit() else None,
    }
    capacity = (form.get("capacity") or "").strip()
    data["capacity"] = int(capacity) if capacity.isdigit() and len(capacity) < 6 else capacity
    return data


@bp.app_template_filter("clock_time")
def clock_time(value) -> str:
    """A timestamp's wall-clock time in the academy (15:00)."""
    return value.astimezone(academy_timezone()).strftime("%H:%M") if value else ""


@bp.app_template_global("bookable_clinic_sessions")
def bookable_clinic_sessions() -> list[calendar.SessionCard]:
    """The clinic sessions the queue's booking bar offers the signed-in user."""
    return calendar.bookable_sessions(current_user)


@bp.app_template_filter("format_day")
def format_day(day: date) -> str:
    """A calendar day heading in the reader's language (Mon 4/6, 월 4/6)."""
    return format_date(day, "EEE M/d")


# ---------------------------------------------------------------- the calendar

@bp.get("/")
@role_required("admin", "staff", "teacher")
def calendar_page():
    """A week of clinic sessions (Monday to Sunday); `?week=YYYY-MM-DD` picks the week holding that day."""
    monday = calendar.week_start(_parse_day(request.args.get("week")) or academy_today())
    days = calendar.load_week(current_user, monday)
    return render_template(
        "clinic/calendar.html", days=days, monday=monday, today=academy_today(),
        previous_week=monday - timedelta(days=7), next_week=monday + timedelta(days=7),
        can_manage=current_user.role in sessions.MANAGER_ROLES, lectures=_lectures(), teachers=_teachers(),
        form=request.args, max_weeks=MAX_WEEKS)


@bp.post("/")
@role_required("admin", "staff", "teacher")
@one_time
def create():
    """Schedule a clinic session, or the same slot every week for `weeks` weeks."""
    weeks_text = (request.form.get("weeks") or "1").strip()
    weeks = int(weeks_text) if weeks_text.isdigit() and len(weeks_text) < 4 else weeks_text
    data = _form_data(request.form)
    day = _parse_day(request.form.get("date")) or academy_today()
    try:
        if weeks == 1:
            sessions.create_clinic_session(current_user, data)
            flash(_("Clinic session scheduled."), "success")
        else:
            made = sessions.create_weekly_clinic_sessions(current_user, data, weeks)
            flash(_("%(n)s weekly clinic sessions scheduled.", n=len(made)), "success")
    except Refused as error:
        if error.kind == "forbidden":
            abort(403)
        flash(_("Not scheduled: %(reason)s", reason=_refused(error)), "error")
    return _go(url_for(".calendar_page", week=day.isoformat()))


# ---------------------------------------------------------------- one clinic session

def _card_or_404(clinic_session_id: int) -> calendar.SessionCard:
    card = calendar.load_card(current_user, clinic_session_id)
    if card is None:
        abort(404)
    return card


def _detail_context(card: calendar.SessionCard) -> dict[str, Any]:
    local = card.clinic_session.starts_at.astimezone(academy_timezone())
    return dict(card=card, bookings=calendar.load_bookings(card.clinic_session.id),
                can_manage=current_user.role in sessions.MANAGER_ROLES,
                can_run=sessions.may_run(current_user, card.clinic_session),
                lectures=_lectures(), teachers=_teachers(), local_start=local,
                local_end=card.clinic_session.ends_at.astimezone(academy_timezone()))


@bp.get("/<int:clinic_session_id>")
@role_required("admin", "staff", "teacher")
def detail(clinic_session_id: int):
    """One clinic session: its details, its bookings with the roll call, edit and cancel."""
    card = _card_or_404(clinic_session_id)
    return render_template("clinic/session.html", **_detail_context(card))


@bp.post("/<int:clinic_session_id>/edit")
@role_required("admin", "staff", "teacher")
def edit(clinic_session_id: int):
    """Change the time, room, capacity, lecture, teacher or note (admins and staff)."""
    _card_or_404(clinic_session_id)
    try:
        _edited, changed = sessions.edit_clinic_session(current_user, clinic_session_id, _form_data(request.form))
        flash(_("Clinic session saved.") if changed else _("Nothing to change."), "success")
    except Refused as error:
        if error.kind == "forbidden":
            abort(403)
        flash(_("Not saved: %(reason)s", reason=_refused(error)), "error")
    return _go(url_for(".detail", clinic_session_id=clinic_session_id))


@bp.post("/<int:clinic_session_id>/cancel")
@role_required("admin", "staff", "teacher")
def cancel(clinic_session_id: int):
    """Cancel the clinic session and its bookings (their links go back to the queue)."""
    try:
        _cancelled, changed = sessions.cancel_clinic_session(current_user, clinic_session_id)
    except NotFound:
        abort(404)
    except Refused as error:
        if error.kind == "forbidden":
            abort(403)
        raise
    flash(_("Clinic session cancelled; its bookings are cancelled and their links are back in the queue.")
          if changed else _("Nothing to change."), "success")
    return _go(url_for(".detail", clinic_session_id=clinic_session_id))


def _bookings_answer(clinic_session_id: int, message: str | None = None, error: bool = False):
    """The roll call partial (htmx) or the page again (a plain form)."""
    if not is_htmx():
        if message:
            flash(message, "error" if error else "success")
        return _go(url_for(".detail", clinic_session_id=clinic_session_id))
    card = _card_or_404(clinic_session_id)
    return render_template("clinic/_bookings.html", message=message, error=error, nav_oob=True,
                           **_detail_context(card))


@bp.post("/bookings/<int:booking_id>/attendance")
@role_required("admin", "staff", "teacher")
def attendance(booking_id: int):
    """The roll call of one booking: attended resolves its links, no-show returns them."""
    value = request.form.get("attendance", "")
    try:
        booking = sessions.booking_for(current_user, booking_id)
    except NotFound:
        abort(404)
    clinic_session_id = booking.clinic_session_id
    try:
        sessions.mark_attendance(current_user, booking_id, {"attendance": value})
    except Refused as error:
        if error.kind == "forbidden":
            abort(403)
        return _bookings_answer(clinic_session_id, _refused(error), error=True)
    message = _("Marked attended; the links are resolved.") if value == "attended" else \
        _("Marked no-show; the links are back in the queue.")
    return _bookings_answer(clinic_session_id, message)


@bp.post("/bookings/<int:booking_id>/cancel")
@role_required("admin", "staff", "teacher")
def cancel_booking(booking_id: int):
    """Cancel one booking; its links go back to the queue."""
    try:
        booking = sessions.booking_for(current_user, booking_id)
    except NotFound:
        abort(404)
    clinic_session_id = booking.clinic_session_id
    try:
        sessions.cancel_booking(current_user, booking_id)
    except Refused as error:
        if error.kind == "forbidden":
            abort(403)
        return _bookings_answer(clinic_session_id, _refused(error), error=True)
    return _bookings_answer(clinic_session_id, _("Booking cancelled; the links are back in the queue."))


# ---------------------------------------------------------------- booking from the queue

def _safe_next(text: str | None) -> str:
    """Where booking from the queue or the to-do list goes back to: a page under the clinic, nothing else."""
    return back_within(url_for("clinic.queue"), text)


@bp.post("/book")
@role_required("admin", "staff", "teacher")
@one_time
def book_selected():
    """Book the students of the selected clinic links into one clinic session: one booking per
    student, covering that student's selected links. Each student is booked or refused on their
    own (a refusal writes nothing), and the page says which, and why."""
    back = _safe_next(request.form.get("next"))
    clinic_session_id = request.form.get("clinic_session", "")
    link_ids = selected_link_ids(unbooked=True)
    if not clinic_session_id.isdigit() or len(clinic_session_id) > 9:
        flash(_("Choose a clinic session."), "error")
        return _go(back)
    if not link_ids:
        flash(_("Select the clinic links to book."), "error")
        return _go(back)
    visible = visible_lecture_ids(current_user)
    statement = (
        select(ClinicLink.id, ClinicLink.enrollment_id, Student.name)
        .join(Enrollment, Enrollment.id == ClinicLink.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
        .where(ClinicLink.id.in_(link_ids))
        .order_by(Student.name, ClinicLink.enrollment_id, ClinicLink.id)
    )
    if visible is not None:
        statement = statement.where(Enrollment.lecture_id.in_(sorted(visible)))
    students: dict[int, tuple[str, list[int]]] = {}
    for link_id, enrollment_id, name in db.session.execute(statement):
        students.setdefault(enrollment_id, (name, []))[1].append(link_id)
    booked: list[str] = []
    refused: list[str] = []
    for enrollment_id, (name, ids) in students.items():
        try:
            sessions.book(current_user, int(clinic_session_id), {"enrollment_id": enrollment_id, "link_ids": ids})
            booked.append(name)
        except NotFound:
            abort(404)
        except Refused as error:
            # `book` refuses before it writes anything: the students booked so far stay booked.
            refused.append(_("%(student)s: %(reason)s", student=name, reason=describe(error)))
    if booked:
        flash(_("Booked: %(names)s.", names=", ".join(booked)), "success")
    for message in refused:
        flash(_("Not booked — %(message)s", message=message), "error")
    return _go(back)

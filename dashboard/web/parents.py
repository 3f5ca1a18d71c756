"""Pages of the parents' area: guardians (edited beside a student's details), counselling notes on
the student page, the messages page (review, edit, approve or cancel, one or many), a lecture's
notification settings and the message templates with a preview.

Every write redirects back to the page it came from (PRG); a refused one shows its reason as a
flash message there. The domain code is in dashboard.parents.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dashboard.academy import structure
from dashboard.accounts.access import can_read_lecture, role_required
from dashboard.errors import Invalid, NotFound, Refused, describe
from dashboard.extensions import db
from dashboard.models import (
    GUARDIAN_LANGUAGES,
    MAX_ID,
    NOTIFICATION_EVENTS,
    NOTIFICATION_STATES,
    Enrollment,
    Lecture,
    Notification,
    Student,
)
from dashboard.parents import guardians, messages, notes, outbox, read
from dashboard.web.idempotency import one_time

bp = Blueprint("parents", __name__, url_prefix="/parents")

EVERYONE = ("admin", "teacher", "staff")


def _id(value: int) -> int:
    if not 0 < value <= MAX_ID:
        abort(404)
    return value


def _back(default: str) -> str:
    """Where a form sends the user afterwards: its `next` when it is a path of this site."""
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


def _refused(error: Refused) -> None:
    """A refused change: 404 or 403 as the error says, else nothing kept and the reason flashed."""
    if error.status in (403, 404):
        abort(error.status)
    db.session.rollback()
    flash(describe(error) + (f" ({error.field})" if error.field else ""), "error")


# ---------------------------------------------------------------- guardians (setup student page)

def _student_for_edit(student_id: int) -> Student:
    try:
        student = structure.readable_student(current_user, _id(student_id))
    except NotFound:
        abort(404)
    if not structure.may_edit_student(current_user, student):
        abort(403)
    return student


def _guardian_values() -> dict:
    form = request.form
    return {
        "name": form.get("name", ""), "relation": form.get("relation", ""), "phone": form.get("phone") or None,
        "email": form.get("email") or None, "channel": form.get("channel", "sms"),
        "language": form.get("language", "ko"), "consent": form.get("consent") in ("on", "y", "true", "1"),
    }


def _change_guardians(student_id: int, change: Callable[[Student], object]):
    """Apply `change(student)` for someone who may edit the student, then back to their page."""
    student = _student_for_edit(student_id)
    try:
        change(student)
    except Refused as error:
        _refused(error)
    else:
        flash(_("Guardian saved."), "success")
    return redirect(url_for("setup.student", student_id=student.id) + "#guardians")


@bp.post("/students/<int:student_id>/guardians/")
@role_required(*EVERYONE)
def add_guardian(student_id: int):
    return _change_guardians(student_id, lambda student: guardians.add_guardian(student.id, _guardian_values()))


@bp.post("/students/<int:student_id>/guardians/from-contact")
@role_required(*EVERYONE)
def adopt_guardian_contact(student_id: int):
    """The student's imported guardian contact becomes a guardian (without consent, for a person to tick)."""
    return _change_guardians(
        student_id, lambda student: guardians.adopt_contact(student.id, student.guardian_contact))


@bp.post("/students/<int:student_id>/guardians/<int:guardian_id>")
@role_required(*EVERYONE)
def update_guardian(student_id: int, guardian_id: int):
    student = _student_for_edit(student_id)
    try:
        if request.form.get("remove"):
            guardians.remove_guardian(student.id, _id(guardian_id))
        else:
            guardians.update_guardian(student.id, _id(guardian_id), _guardian_values())
    except Refused as error:
        _refused(error)
    else:
        flash(_("Guardian saved."), "success")
    return redirect(url_for("setup.student", student_id=student.id) + "#guardians")


# ---------------------------------------------------------------- counselling notes

def _follow_up() -> date | None:
    raw = (request.form.get("follow_up_on") or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid("bad_date", "follow_up_on") from None


@bp.post("/enrollments/<int:enrollment_id>/notes/")
@role_required(*EVERYONE)
@one_time
def add_note(enrollment_id: int):
    enrollment = db.session.get(Enrollment, _id(enrollment_id)) or abort(404)
    student_page = url_for("lectures.student", lecture_id=enrollment.lecture_id, enrollment_id=enrollment.id)
    try:
        notes.add_note(current_user, enrollment.id, request.form.get("text"), _follow_up())
    except Refused as error:
        _refused(error)
    else:
        flash(_("Note saved."), "success")
    return redirect(student_page + "#notes")


@bp.post("/notes/<int:note_id>")
@role_required(*EVERYONE)
def edit_note(note_id: int):
    try:
        note = notes.edit_note(current_user, _id(note_id), request.form.get("text"), _follow_up())
    except Refused as error:
        _refused(error)
        return redirect(_back(url_for("home.index")))
    enrollment = db.session.get(Enrollment, note.enrollment_id)
    flash(_("Note saved."), "success")
    return redirect(url_for("lectures.student", lecture_id=enrollment.lecture_id, enrollment_id=enrollment.id)
                    + "#notes")


# ---------------------------------------------------------------- messages

@bp.get("/messages/")
@role_required(*EVERYONE)
def messages_page():
    """Every message of the user's lectures with its state; reviewers edit, approve or cancel."""
    args = {name: request.args.get(name, "") for name in ("state", "event")}
    lecture_raw = request.args.get("lecture", "")
    args["lecture"] = int(lecture_raw) if lecture_raw.isdigit() and 0 < int(lecture_raw) <= MAX_ID else None
    if args["state"] not in ("", *NOTIFICATION_STATES):
        args["state"] = ""
    if args["event"] not in ("", *NOTIFICATION_EVENTS):
        args["event"] = ""
    rows, count = read.message_rows(current_user, args)
    return render_template("parents/messages.html", rows=rows, count=count, args=args,
                           states=NOTIFICATION_STATES, events=NOTIFICATION_EVENTS)


def _message_for_review(message_id: int) -> Notification:
    message = db.session.get(Notification, _id(message_id)) or abort(404)
    lecture_id = outbox.lecture_of_message(message)
    if not can_read_lecture(current_user, lecture_id):
        abort(404)
    if not outbox.may_review(current_user, lecture_id):
        abort(403)
    return message


@bp.post("/messages/<int:message_id>")
@role_required(*EVERYONE)
def message_action(message_id: int):
    """Edit the text, approve or cancel one message (the button pressed says which)."""
    message = _message_for_review(message_id)
    action = request.form.get("action", "")
    try:
        edited = request.form.get("text")
        if action in ("save", "approve") and edited is not None and edited.strip() != message.text:
            outbox.edit_text(message, edited)
        if action == "approve":
            outbox.approve(message, current_user)
        elif action == "cancel":
            outbox.cancel(message, current_user)
    except Refused as error:
        _refused(error)
    else:
        flash(_("Message updated."), "success")
    return redirect(_back(url_for(".messages_page")))


@bp.post("/messages/bulk")
@role_required(*EVERYONE)
@one_time
def messages_bulk():
    """Approve or cancel every ticked message; those the user may not review are refused with 403."""
    action = request.form.get("action")
    if action not in ("approve", "cancel"):
        abort(400)
    ids = [int(value) for value in request.form.getlist("ids") if value.isdigit()]
    done = 0
    # Messages already past the point of the action (sent, being sent; cancelled for an approval) are skipped.
    skip = ("sent", "sending", "cancelled") if action == "approve" else ("sent", "sending")
    for message_id in ids:
        message = _message_for_review(message_id)
        if message.state in skip:
            continue
        (outbox.approve if action == "approve" else outbox.cancel)(message, current_user)
        done += 1
    flash(_("%(count)s messages updated.", count=done), "success")
    return redirect(_back(url_for(".messages_page")))


# ---------------------------------------------------------------- settings and templates (admin)

@bp.route("/lectures/<int:lecture_id>/settings", methods=["GET", "POST"])
@role_required("admin")
def settings(lecture_id: int):
    lecture = db.session.get(Lecture, _id(lecture_id)) or abort(404)
    if request.method == "POST":
        chosen = [event for event in request.form.getlist("events") if event in NOTIFICATION_EVENTS]
        outbox.save_settings(lecture.id, {"events": chosen, "review": request.form.get("review") == "on"})
        flash(_("Notification settings saved."), "success")
        return redirect(url_for(".settings", lecture_id=lecture.id))
    return render_template("parents/settings.html", lecture=lecture, settings=outbox.settings_of(lecture.id),
                           events=NOTIFICATION_EVENTS)


@bp.route("/templates/", methods=["GET", "POST"])
@role_required("admin")
def templates():
    """Each event's text in Korean and English, with a preview filled with example values, and the
    way to each lecture's notification settings."""
    errors: dict[tuple[str, str], str] = {}
    bodies = messages.template_bodies()
    if request.method == "POST":
        for event in NOTIFICATION_EVENTS:
            for language in GUARDIAN_LANGUAGES:
                name = f"{event}-{language}"
                if name not in request.form:
                    continue
                try:
                    bodies[(event, language)] = messages.save_template(event, language, request.form[name])
                except Refused as error:
                    errors[(event, language)] = describe(error)
                    bodies[(event, language)] = request.form[name]
        if errors:
            db.session.rollback()
        else:
            flash(_("Message templates saved."), "success")
            return redirect(url_for(".templates"))
    previews = {}
    for key, body in bodies.items():
        try:
            previews[key] = messages.fill(messages.check_body(body), messages.EXAMPLE_VALUES)
        except Refused:
            previews[key] = ""
    lectures = db.session.execute(
        select(Lecture.id, Lecture.title).where(Lecture.archived_at.is_(None)).order_by(Lecture.title)).all()
    return render_template("parents/templates.html", bodies=bodies, previews=previews, errors=errors,
                           lectures=lectures,
                           events=NOTIFICATION_EVENTS, languages=GUARDIAN_LANGUAGES,
                           placeholders=messages.PLACEHOLDERS), 422 if errors else 200


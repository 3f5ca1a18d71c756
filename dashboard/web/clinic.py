"""The clinic queue: open links (approved ones stay until resolved) and the resolved history,
with filters, active search by student, row actions, manual requests and a CSV export.

Roles (SPEC §6, §8), all decided by the `dashboard.clinic.links` service this module calls: admin and
staff approve, resolve and reopen; everyone who sees a link edits its memo; a teacher sees only
their lectures' links (another lecture's link is 404), requests clinics and recommends, and gets
no action buttons (403 if they post one anyway). Staff may request but not recommend.

htmx: a filter or search answers `_queue.html`; an action or a memo edit answers the link's row
(`_row.html`, swapped in place) with the navigation's count out of band; a manual request
answers the request form again and redraws the queue out of band with the filters the page
sent along. Without JavaScript every form posts and redirects back to the queue (PRG).

What the queue shows (filters, ordering, rows, the controls' choices) is read by
`dashboard.clinic.open_queue`, scoped to the lectures the signed-in user may see; withdrawn
enrollments' links are left out there, as in the navigation's count.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectField

from dashboard.clinic import links as clinic_service
from dashboard.clinic.student_clinic import StudentClinic, load_student_clinic, request_and_book
from dashboard.extensions import db
from dashboard.accounts.access import role_required, visible_lecture_ids
from dashboard.clinic.open_queue import (
    Choices,
    QueueFilters,
    QueueRow,
    count_queue,
    load_all_rows,
    load_choices,
    load_queue,
    load_row,
)
from dashboard.errors import Invalid, Refused, describe
from dashboard.models import ClinicLink
from dashboard.web.admin_forms import REASON_LABELS, ClinicRequestForm, MemoForm
from dashboard.web.ui import academy_time, back_within, is_htmx
from dashboard.text.spreadsheet import csv_bytes
from dashboard.web.idempotency import one_time

bp = Blueprint("clinic", __name__, url_prefix="/clinic")


# ---------------------------------------------------------------- rendering

def can_act() -> bool:
    """Whether the signed-in user approves, resolves and reopens (admin and staff)."""
    return current_user.role in clinic_service.ACTION_ROLES


def _request_reasons() -> list[str]:
    return [reason for reason in clinic_service.MANUAL_REASONS
            if current_user.role in clinic_service.REQUEST_ROLES[reason]]


def _request_form(choices: Choices, formdata: Any = None) -> ClinicRequestForm:
    """The request form; students and sessions grouped by lecture (one <optgroup> each)."""
    form = ClinicRequestForm(formdata=formdata, prefix="request")
    titles = dict(choices.lectures)
    students: dict[str, list[tuple[str, str]]] = {}
    for enrollment_id, lecture_id, name in choices.enrollments:
        students.setdefault(titles[lecture_id], []).append((str(enrollment_id), name))
    sessions: dict[str, list[tuple[str, str]]] = {}
    for session_id, lecture_id, order, title in choices.sessions:
        sessions.setdefault(titles[lecture_id], []).append((str(session_id), f"{order}. {title}" if title else str(order)))
    form.enrollment.choices = students
    form.session.choices = sessions
    form.reason.choices = [(reason, REASON_LABELS[reason]) for reason in _request_reasons()]
    return form


def _back_url(filters: QueueFilters) -> str:
    return url_for(".queue", **filters.args())


def _queue_context(filters: QueueFilters, visible: set[int] | None) -> dict[str, Any]:
    return dict(queue=load_queue(filters, visible), can_act=can_act(),
                back=_back_url(filters))


def _row_or_404(link_id: int) -> QueueRow:
    """A link's row, if the signed-in user may see it (404 otherwise)."""
    row = load_row(link_id, visible_lecture_ids(current_user))
    if row is None:
        abort(404)
    return row


@bp.app_template_filter("reason_word")
def reason_word(code: str) -> str:
    """A clinic link's reason in the reader's words (the code stays in `data-reason`)."""
    return str(REASON_LABELS.get(code, code))


@bp.app_template_global("clinic_memo_form")
def memo_form(link: ClinicLink, formdata: Any = None) -> MemoForm:
    """A row's memo form (prefixed by the link's id, so every row's field has its own id)."""
    return MemoForm(formdata=formdata, prefix=f"memo{link.id}", data={"memo": link.memo or ""})


@bp.get("/")
@role_required("admin", "staff", "teacher")
def queue():
    """The queue (or, with tab=resolved, the history). An htmx filter or search gets `_queue.html`."""
    filters = QueueFilters.from_args(request.args)
    visible = visible_lecture_ids(current_user)
    context = _queue_context(filters, visible)
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("clinic/_queue.html", **context)
    choices = load_choices(visible)
    return render_template("clinic/queue.html", choices=choices, request_form=_request_form(choices),
                           reasons=REASON_LABELS, **context)


def _safe_back(text: str | None) -> str:
    """Where a plain form goes back to: a page of the queue, nothing else."""
    return back_within(url_for(".queue"), text)


def _row_answer(link_id: int, status: int = 200, memo_form: MemoForm | None = None):
    row = _row_or_404(link_id)
    back = _safe_back(request.form.get("next"))
    # The queue page the action came from (its filters ride in `next`): its own count, redrawn.
    filters = QueueFilters.from_args(dict(parse_qsl(urlsplit(back).query)))
    queue_count = (filters.tab, count_queue(filters, visible_lecture_ids(current_user)))
    return render_template("clinic/_row_answer.html", row=row, can_act=can_act(), back=back,
                           memo_form=memo_form, queue_count=queue_count), status


@bp.post("/<int:link_id>/<any(approve, resolve, reopen):action>")
@role_required("admin", "staff", "teacher")
def act(link_id: int, action: str):
    """Approve, resolve or reopen (admin, staff). Doing it twice succeeds and records nothing."""
    service = {"approve": clinic_service.approve, "resolve": clinic_service.resolve,
               "reopen": clinic_service.reopen}[action]
    _link, changed = service(current_user, link_id)
    if is_htmx():
        return _row_answer(link_id)
    messages = {"approve": _("Clinic link approved."), "resolve": _("Clinic link resolved."),
                "reopen": _("Clinic link reopened.")}
    flash(messages[action] if changed else _("Nothing to change."), "success")
    return redirect(_safe_back(request.form.get("next")))


@bp.post("/<int:link_id>/memo")
@role_required("admin", "staff", "teacher")
def memo(link_id: int):
    """Change a link's memo (a manual link keeps a memo: an empty one is refused)."""
    row = _row_or_404(link_id)
    form = memo_form(row.link, request.form)
    if form.validate():
        try:
            clinic_service.edit_memo(current_user, link_id, {"memo": form.memo.data or ""})
        except Invalid as invalid:
            form.memo.errors = [*form.memo.errors, describe(invalid)]
    if form.memo.errors:
        if is_htmx():
            return _row_answer(link_id, 422, form)
        flash(" ".join(form.memo.errors), "error")
        return redirect(_safe_back(request.form.get("next")))
    if is_htmx():
        return _row_answer(link_id)
    flash(_("Memo saved."), "success")
    return redirect(_safe_back(request.form.get("next")))


_REQUEST_FIELDS = {"enrollment_id": "enrollment", "session": "session", "session_id": "session",
                   "reason": "reason", "memo": "memo"}


@bp.post("/requests")
@role_required("admin", "staff", "teacher")
@one_time
def request_clinic():
    """A manual request or a teacher's recommendation; memo required, session of the student's lecture."""
    visible = visible_lecture_ids(current_user)
    choices = load_choices(visible)
    form = _request_form(choices, request.form)
    filters = QueueFilters.from_args(request.form)
    ids = form.ids() if form.validate() else None
    if ids is not None:
        data = {"enrollment_id": ids["enrollment"], "session": ids["session"], "reason": form.reason.data,
                "memo": form.memo.data or ""}
        try:
            clinic_service.request_clinic(current_user, data)
        except Invalid as invalid:
            target = getattr(form, _REQUEST_FIELDS.get(invalid.field or "", ""), None)
            message = describe(invalid)
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                form.form_errors.append(message)
        else:
            if not is_htmx():
                flash(_("Clinic requested."), "success")
                return redirect(_back_url(filters))
            return render_template("clinic/_request_answer.html", request_form=_request_form(choices),
                                   requested=True, **_queue_context(filters, visible))
    if not is_htmx():
        return render_template("clinic/queue.html", choices=choices, request_form=form,
                               reasons=REASON_LABELS, **_queue_context(filters, visible)), 422
    return render_template("clinic/_request.html", request_form=form, requested=False), 422



# ---------------------------------------------------------------- CSV

@bp.get("/queue.csv")
@role_required("admin", "staff", "teacher")
def queue_csv():
    """Every link the filters select (all pages), UTF-8 with a BOM so Excel reads Korean names."""
    filters = QueueFilters.from_args(request.args)
    rows = load_all_rows(filters, visible_lecture_ids(current_user))
    header = [_("Link"), _("Student"), _("Lecture"), _("Session"), _("Session title"), _("Reason"),
              _("Details"), _("Automatic"), _("Approved"), _("Created"), _("Age"), _("Resolved"), _("Memo")]
    lines = [[
        row.link.id, row.student_name, row.lecture_title, row.session_order, row.session_title or "",
        row.link.reason, "; ".join(row.figures), "yes" if row.link.is_auto else "no",
        "yes" if row.link.approved else "no", academy_time(row.link.created_at), row.age,
        academy_time(row.link.resolved_at), row.link.memo or "",
    ] for row in rows]
    filename = "clinic-history.csv" if filters.tab == "resolved" else "clinic-queue.csv"
    return Response(csv_bytes([header, *lines]), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---------------------------------------------------------------- the student page and the cell panel

class StudentRequestForm(ClinicRequestForm):
    """A request where the student is known (the student page, the cell panel), optionally booked at once."""

    clinic_session = SelectField(_l("Book into a clinic session (optional)"), coerce=str, validate_choice=False)


def _student_request_form(clinic: StudentClinic, formdata: Any = None) -> StudentRequestForm:
    form = StudentRequestForm(formdata=formdata, prefix=f"ask{clinic.enrollment_id}",
                              data={"enrollment": str(clinic.enrollment_id),
                                    "session": str(clinic.session_id or "")})
    form.session.choices = [("", _("Choose a session"))] + [
        (str(session_id), f"{order}. {title}" if title else str(order)) for session_id, order, title in clinic.sessions]
    form.reason.choices = [(reason, REASON_LABELS[reason]) for reason in clinic.request_reasons]
    form.clinic_session.choices = [("", _("Not now"))] + [
        (str(card.clinic_session.id), " · ".join(filter(None, (
            academy_time(card.clinic_session.starts_at), card.clinic_session.room,
            _("%(booked)s / %(capacity)s booked", booked=card.booked, capacity=card.clinic_session.capacity)))))
        for card in clinic.bookable]
    return form


def _student_clinic_html(clinic: StudentClinic, form: StudentRequestForm | None = None,
                         message: str | None = None, error: str | None = None) -> str:
    return render_template("clinic/_student_clinic.html", clinic=clinic, message=message, error=error,
                           form=form if form is not None else _student_request_form(clinic))


@bp.app_template_global("clinic_panel")
def clinic_panel(enrollment_id: int, session_id: int | None = None) -> Markup:
    """The clinic part of the student page (every link) or of the cell panel (`session_id`'s links,
    and a request with that session filled in): links in words, the booking bar, the request form."""
    clinic = load_student_clinic(current_user, enrollment_id, session_id)
    return Markup(_student_clinic_html(clinic)) if clinic is not None else Markup("")


def _student_clinic_back(clinic: StudentClinic) -> str:
    if clinic.session_id is not None:
        return url_for("lectures.cell", lecture_id=clinic.lecture_id, enrollment=clinic.enrollment_id,
                       session=clinic.session_id)
    return url_for("lectures.student", lecture_id=clinic.lecture_id, enrollment_id=clinic.enrollment_id)


@bp.post("/enrollments/<int:enrollment_id>/request")
@role_required("admin", "staff", "teacher")
def request_for_student(enrollment_id: int):
    """Request a clinic for this student (memo required), booked at once into the chosen clinic
    session if any; `cell` names the cell panel's session. One transaction: a refused booking keeps
    nothing. htmx gets the clinic part again with the navigation's count out of band."""
    cell = request.form.get("cell", "")
    session_id = int(cell) if cell.isdigit() and len(cell) < 10 else None
    clinic = load_student_clinic(current_user, enrollment_id, session_id)
    if clinic is None:
        abort(404)
    if not clinic.request_reasons:
        abort(403)
    form = _student_request_form(clinic, request.form)
    if session_id is not None:
        form.session.data = str(session_id)
    booking_text = (form.clinic_session.data or "").strip()
    problem = None
    ids = form.ids() if form.validate() else None
    if ids is not None and ids["enrollment"] != enrollment_id:
        abort(400)
    if ids is not None and booking_text and not (booking_text.isdigit() and len(booking_text) < 10):
        form.clinic_session.errors = [*form.clinic_session.errors, _("Choose one.")]
        ids = None
    if ids is not None:
        data = {"enrollment_id": enrollment_id, "session": ids["session"], "reason": form.reason.data,
                "memo": form.memo.data or ""}
        try:
            _link, booked = request_and_book(current_user, data, int(booking_text) if booking_text else None)
        except Refused as refused:
            db.session.rollback()
            if refused.kind == "forbidden":
                abort(403)
            if refused.kind == "not_found":
                abort(404)
            message = describe(refused)
            # The request's own fields take their refusal; anything else (the booking's: a full
            # session, an overlap) is said above the form and at the clinic-session choice.
            name = _REQUEST_FIELDS.get(refused.field or "", "") if isinstance(refused, Invalid) else ""
            target = getattr(form, name, None) if name in ("session", "reason", "memo") else None
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                problem = message
                form.clinic_session.errors = [*form.clinic_session.errors, message]
        else:
            done = _("Clinic requested and booked.") if booked else _("Clinic requested.")
            if not is_htmx():
                flash(done, "success")
                return redirect(_student_clinic_back(clinic))
            fresh = load_student_clinic(current_user, enrollment_id, session_id)
            return render_template("clinic/_student_clinic_answer.html",
                                   panel=Markup(_student_clinic_html(fresh, message=done)))
    if not is_htmx():
        flash(problem or " ".join(message for errors in form.errors.values() for message in errors), "error")
        return redirect(_student_clinic_back(clinic))
    fresh = load_student_clinic(current_user, enrollment_id, session_id)
    return _student_clinic_html(fresh, form, error=problem or _("Correct the marked fields.")), 422

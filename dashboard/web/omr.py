"""The OMR review queue (SPEC §10, docs/omr.md): scanned sheets waiting for a person, and one
scan's page where its answers are read against the key, corrected, or the sheet is assigned to
its student when the identifier could not be read. The services are in dashboard/omr/: intake.py
(writes) and scans.py (lookups).

Roles: admins and staff act on every scan; a teacher sees and acts on the scans of their
lectures only (a scan belongs to its student's lecture, or to every lecture of the exam while the
student is unknown); any other scan is 404. An enrollment of another teacher's lecture is 403.

htmx: the filters answer `_queue.html`; a correction or an assignment answers the scan's
partial (`_scan.html`, swapped in place) with the navigation's clinic and review counts out of
band (a regrade may open or close clinic links). A refused value answers 422 with the message
at the field; nothing is saved. Without JavaScript every form posts and redirects back (PRG).

What the pages show (the queue and its filters' options, a scan's row, the students it may be
assigned to, the navigation's count) is read by `dashboard.omr.review`, scoped to the lectures
the signed-in user may see.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from dashboard.omr import intake as omr, scans
from dashboard.accounts.access import role_required, visible_lecture_ids
from dashboard.errors import Conflict, Invalid
from dashboard.extensions import db
from dashboard.listing import id_or_none
from dashboard.omr.review import (
    QueueFilters,
    ScanRow,
    assignable,
    corrected_by,
    load_choices,
    load_queue,
    load_row,
    review_count,
    sheet_score,
)
from dashboard.omr import grading as omr_rules
from dashboard.web.ui import is_htmx

bp = Blueprint("omr", __name__, url_prefix="/omr")

MARKS_MAX = 32  # a key has at most 32 marks per question (ExamQuestion.answer)

REASON_LABELS = {
    omr_rules.ANSWER_STATUS_NOT_OK: _l("An answer was not read cleanly"),
    omr_rules.ANSWER_BLANK_OR_MULTI: _l("Blank or several marks"),
    omr_rules.ANSWER_LOW_CONFIDENCE: _l("Low confidence"),
    omr_rules.IDENTIFIER_NOT_OK: _l("Student not identified"),
    omr_rules.IDENTIFIER_MISMATCH: _l("Identifier names another student"),
}
STATUS_LABELS = {
    "pending": _l("Waiting for the reading"),
    "failed": _l("Reading failed"),
    "needs_review": _l("Waiting for the student"),
    "graded": _l("Graded"),
}


# ---------------------------------------------------------------- rendering

@bp.app_template_global("nav_omr_count")
def nav_omr_count() -> int | None:
    """The navigation's count of scans needing review (None when nobody is signed in)."""
    if not current_user.is_authenticated or current_user.role not in omr.REVIEW_ROLES:
        return None
    return review_count(visible_lecture_ids(current_user))


def _row_or_404(scan_id: int) -> ScanRow:
    """One scan's row, if the signed-in user may see it (404 otherwise)."""
    row = load_row(scan_id, visible_lecture_ids(current_user))
    if row is None:
        abort(404)
    return row


def reason_label(code: str) -> str:
    return str(REASON_LABELS.get(code, code))


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"omr_reason_label": reason_label, "omr_status_label": status_label}


def _scan_context(scan_id: int, q: str = "", errors: Mapping[int, str] | None = None, values: Mapping[int, str] | None = None,
                  assign_error: str | None = None, form_error: str | None = None,
                  message: str | None = None) -> dict[str, Any]:
    row = _row_or_404(scan_id)
    scan = row.scan
    corrector = corrected_by(scan)
    answers = scans.review_answers(scan)
    return dict(
        row=row, scan=scan, answers=answers,
        sheet_score=sheet_score(answers) if row.typed_score and answers else None,
        can_correct=scan.status in ("graded", "needs_review"),
        can_assign=scan.status == "needs_review",
        students=assignable(scan, visible_lecture_ids(current_user), q) if scan.status == "needs_review" else [],
        q=q, corrected_by=corrector,
        errors=errors or {}, values=values or {}, assign_error=assign_error, form_error=form_error,
        message=message,
    )


def _render_scan(scan_id: int, status: int = 200, saved: bool = False, **kwargs: Any):
    context = _scan_context(scan_id, **kwargs)
    if is_htmx():
        return render_template("omr/_scan_saved.html" if saved else "omr/_scan.html", **context), status
    return render_template("omr/scan.html", **context), status


@bp.get("/")
@role_required(*omr.REVIEW_ROLES)
def queue():
    """The review queue (or every scan, with needs_review=all). An htmx filter gets `_queue.html`."""
    filters = QueueFilters.from_args(request.args)
    visible = visible_lecture_ids(current_user)
    queue_ = load_queue(filters, visible)
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("omr/_queue.html", queue=queue_)
    return render_template("omr/queue.html", queue=queue_, choices=load_choices(visible))


@bp.get("/<int:scan_id>/")
@role_required(*omr.REVIEW_ROLES)
def scan(scan_id: int):
    """One scan: its answers next to the key, with the controls to correct and assign (`q` narrows
    the students offered, for a search without JavaScript)."""
    return _render_scan(scan_id, q=_search_text())


@bp.get("/<int:scan_id>/students")
@role_required(*omr.REVIEW_ROLES)
def students(scan_id: int):
    """The assign control's options, narrowed as the user types a name (htmx)."""
    row = _row_or_404(scan_id)
    options = assignable(row.scan, visible_lecture_ids(current_user), _search_text())
    return render_template("omr/_student_options.html", students=options, selected=None)


def _search_text() -> str:
    return (request.args.get("q") or "").strip()[:100]


def parse_marks(text: str) -> list[str]:
    """The marks a person typed ("24", "2, 4", "" for none): every character but spaces and commas."""
    marks = sorted({character for character in text if not character.isspace() and character != ","})
    if len(marks) > MARKS_MAX:
        raise ValueError(_("at most %(n)s marks", n=MARKS_MAX))
    return marks


def _done(scan_id: int, message: str):
    if is_htmx():
        return _render_scan(scan_id, saved=True, message=message)
    flash(message, "success")
    return redirect(url_for(".scan", scan_id=scan_id))


@bp.post("/<int:scan_id>/correct")
@role_required(*omr.REVIEW_ROLES)
def correct(scan_id: int):
    """A person reads one answer: `question` and `detected` (the marks; empty for a blank answer)."""
    _row_or_404(scan_id)
    question = id_or_none(request.form.get("question"))
    if question is None:
        abort(400, description="question must be a question number.")
    text = request.form.get("detected", "")
    try:
        marks = parse_marks(text)
    except ValueError as refused:
        return _refused(scan_id, errors={question: str(refused)}, values={question: text})
    try:
        omr.correct_answers(current_user, scan_id, {"answers": [{"question": question, "detected": marks}]})
    except Invalid as invalid:
        message = _("question %(n)s is not in the exam's answer key.", n=question) \
            if (invalid.field or "").endswith(".question") else _("Write the marks read, such as 3 or 24.")
        return _refused(scan_id, errors={question: message}, values={question: text})
    except Conflict:
        return _refused(scan_id, form_error=_("This scan has no reading to correct (it is pending or failed)."))
    return _done(scan_id, _("Question %(n)s corrected; the attempt is regraded.", n=question))


@bp.post("/<int:scan_id>/assign")
@role_required(*omr.REVIEW_ROLES)
def assign(scan_id: int):
    """Say whose sheet it is: `enrollment` (an active enrollment of the exam's lectures)."""
    _row_or_404(scan_id)
    enrollment_id = id_or_none(request.form.get("enrollment"))
    if enrollment_id is None:
        return _refused(scan_id, assign_error=_("Choose the student."))
    try:
        omr.assign_student(current_user, scan_id, {"enrollment_id": enrollment_id})
    except Invalid:
        return _refused(scan_id, assign_error=_("Choose an active student of a lecture this exam is linked to."))
    except Conflict as conflict:
        message = (_("The scan is already graded for another student.") if conflict.field == "enrollment_id"
                   else _("This scan has no reading yet: wait for the OMR worker's result."))
        return _refused(scan_id, assign_error=message)
    return _done(scan_id, _("Student assigned; the sheet is graded as their next attempt."))


def _refused(scan_id: int, **kwargs: Any):
    """422: the scan as stored (whatever the refused call did is rolled back) with the message at the field."""
    db.session.rollback()
    return _render_scan(scan_id, 422, **kwargs)

"""Monthly student reports (SPEC §15): the printable page, its PDF, a lecture's PDF, the
teacher's comment, and parent links.

- `/reports/ENROLLMENT?month=YYYY-MM` (default: the academy's current month): admins, staff and the
  lecture's teacher read it; admins and the lecture's teacher also edit the month's comment and
  create, copy and revoke parent links in the panel beside it. Printed, only the report remains
  (one A4 page for up to 12 sessions, static/app.css's print rules).
- `/reports/ENROLLMENT.pdf` and `/reports/lectures/LECTURE.pdf`: the same template through
  WeasyPrint (dashboard/reports/pdf.py). Without WeasyPrint's system libraries they answer 503
  with what to install, and the page's PDF links are replaced by that explanation. The pages
  link a lecture too large to lay out in one request to `/reports/lectures/LECTURE/pdf-batch`:
  there the PDF is queued for the worker (dashboard/reports/batches.py), the panel polls until it
  is made, and `/reports/batches/ID.pdf` downloads it.
- `/reports/shared/TOKEN`: a parent link, open without an account: that one report and nothing
  else (no navigation, no panel); anything wrong with the link is 404.

htmx: the comment form and the parent-link forms swap the report with its panel
(`_layout.html`); without JavaScript every form posts and redirects back (or renders the page).
"""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from dashboard.accounts.access import can_read_lecture, public, role_required
from dashboard.clock import academy_today
from dashboard.errors import Invalid, Refused, describe
from dashboard.extensions import db
from dashboard.i18n import current_language
from dashboard.models import ReportBatch
from dashboard.reports import batches, comments, figures, links, pdf
from dashboard.reports.access import (
    can_write_reports,
    lecture_exists,
    readable_enrollment,
)
from dashboard.reports.figures import Month
from dashboard.web.ui import is_htmx
from dashboard.web.urls import absolute_url
from dashboard.web.idempotency import one_time

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _month(value: str | None) -> Month:
    """The month asked for (default: the academy's current month); a malformed one is 400."""
    if not value:
        return Month.of(academy_today())
    try:
        return Month.parse(value)
    except Invalid:
        abort(400, description=_("Enter a month as YYYY-MM."))


def _readable(enrollment_id: int) -> int:
    try:
        return readable_enrollment(current_user, enrollment_id)
    except Refused:
        abort(404)


def _report(enrollment_id: int, month: Month) -> figures.Report:
    report = figures.load_report(enrollment_id, month, academy_today())
    if report is None:
        abort(404)
    return report


def _context(report: figures.Report, new_link: links.NewLink | None = None,
             comment_error: str | None = None) -> dict:
    can_write = can_write_reports(current_user, report.lecture_id)
    return {"report": report, "can_write": can_write,
            "links": links.active_links(report.enrollment_id) if can_write else [],
            "new_link": new_link, "new_link_url": _link_url(new_link), "comment_error": comment_error}


def _page(report: figures.Report, new_link: links.NewLink | None = None, comment_error: str | None = None,
          status: int = 200):
    """The whole page, or for htmx the report with its panel (`_layout.html`)."""
    context = _context(report, new_link, comment_error)
    if is_htmx():
        return render_template("reports/_layout.html", **context), status
    return render_template(
        "reports/page.html", pdf_available=pdf.available(), install_hint=pdf.INSTALL_HINT,
        lecture_batch=batches.needs_batch(report.lecture_id),
        previous_month=_shift(report.month, -1), next_month=_shift(report.month, 1), **context,
    ), status


def _shift(month: Month, step: int) -> str:
    index = month.year * 12 + month.month - 1 + step
    return str(Month(index // 12, index % 12 + 1))


def _link_url(new_link: links.NewLink | None) -> str | None:
    return absolute_url("reports.shared", token=new_link.token) if new_link else None


@bp.get("/<int:enrollment_id>")
@role_required("admin", "staff", "teacher")
def report_page(enrollment_id: int):
    """The printable monthly report with its comment and parent-link panel."""
    month = _month(request.args.get("month"))
    _readable(enrollment_id)
    return _page(_report(enrollment_id, month))


@bp.get("/<int:enrollment_id>.pdf")
@role_required("admin", "staff", "teacher")
def report_pdf(enrollment_id: int):
    """The same report as a PDF."""
    month = _month(request.args.get("month"))
    _readable(enrollment_id)
    report = _report(enrollment_id, month)
    return _pdf_response([report], f"report-{enrollment_id}-{month}.pdf")


def _readable_lecture(lecture_id: int) -> None:
    if not lecture_exists(lecture_id) or not can_read_lecture(current_user, lecture_id):
        abort(404)


@bp.get("/lectures/<int:lecture_id>.pdf")
@role_required("admin", "staff", "teacher")
def lecture_pdf(lecture_id: int):
    """Every active student's report of a lecture for the month, one per page, as one PDF, made in
    this request whatever the class's size (SPEC §15's address, for scripts and clients). The pages
    offer a large class's PDF through the batch page instead, so that nobody waits on a request
    that may outlast the server's worker timeout."""
    month = _month(request.args.get("month"))
    _readable_lecture(lecture_id)
    reports = figures.load_reports(lecture_id, month, academy_today())
    return _pdf_response(reports, f"reports-lecture-{lecture_id}-{month}.pdf")


def _unavailable():
    return render_template("reports/pdf_unavailable.html", install_hint=pdf.INSTALL_HINT), 503


def _pdf_body(body: bytes, filename: str) -> Response:
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


def _pdf_response(reports: list[figures.Report], filename: str):
    if not pdf.available():
        return _unavailable()
    html = pdf.document_html(reports)
    # The figures are read (and a stale lecture recomputed, under its lock): commit now rather than
    # hold the transaction open through the seconds WeasyPrint takes to lay out the pages.
    db.session.commit()
    return _pdf_body(pdf.render_reports(html), filename)


# ---------------------------------------------------------------- a large lecture's PDF, made by the worker

def _batch_page(lecture_id: int, month: Month, status: int = 200):
    """The batch page, or for htmx (its polling included) the batch's panel alone."""
    context = {"lecture_id": lecture_id, "lecture_title": batches.lecture_title(lecture_id), "month": str(month),
               "batch": batches.latest_batch(lecture_id, str(month)), "students": batches.active_students(lecture_id)}
    if is_htmx():
        return render_template("reports/_batch.html", **context), status
    return render_template("reports/batch.html", pdf_available=pdf.available(), install_hint=pdf.INSTALL_HINT,
                           **context), status


@bp.get("/lectures/<int:lecture_id>/pdf-batch")
@role_required("admin", "staff", "teacher")
def lecture_batch(lecture_id: int):
    """Where a large lecture's PDF is asked for, waited for (the panel polls) and downloaded."""
    month = _month(request.args.get("month"))
    _readable_lecture(lecture_id)
    return _batch_page(lecture_id, month)


@bp.post("/lectures/<int:lecture_id>/pdf-batch")
@role_required("admin", "staff", "teacher")
def request_lecture_batch(lecture_id: int):
    """Queue the lecture's PDF for the month, or join the one already queued or being made."""
    month = _month(request.form.get("month"))
    _readable_lecture(lecture_id)
    if not pdf.available():
        return _unavailable()
    batches.request_batch(current_user, lecture_id, str(month), current_language())
    if is_htmx():
        return _batch_page(lecture_id, month, 202)
    return redirect(url_for(".lecture_batch", lecture_id=lecture_id, month=str(month)), 303)


@bp.get("/batches/<int:batch_id>.pdf")
@role_required("admin", "staff", "teacher")
def batch_pdf(batch_id: int):
    """A finished batch's PDF, for whoever may read its lecture."""
    batch = db.session.get(ReportBatch, batch_id)
    if batch is None or not can_read_lecture(current_user, batch.lecture_id) or batch.state != "done":
        abort(404)
    return _pdf_body(batches.pdf_of(batch.id), f"reports-lecture-{batch.lecture_id}-{batch.month}.pdf")


@bp.post("/<int:enrollment_id>/comment")
@role_required("admin", "staff", "teacher")
def save_comment(enrollment_id: int):
    """Save the month's comment (admins and the lecture's teacher)."""
    month = _month(request.form.get("month"))
    _readable(enrollment_id)
    error = None
    try:
        comments.save_comment(current_user, enrollment_id, month, request.form.get("comment", ""))
    except Invalid as exc:
        error = describe(exc)
    except Refused:
        abort(403)
    report = _report(enrollment_id, month)
    if error:
        return _page(report, comment_error=error, status=422)
    if is_htmx():
        return _page(report)
    flash(_("Comment saved."), "success")
    return redirect(url_for(".report_page", enrollment_id=enrollment_id, month=str(month)))


@bp.post("/<int:enrollment_id>/links")
@role_required("admin", "staff", "teacher")
@one_time
def create_link(enrollment_id: int):
    """Create a parent link for the month; its address is shown once, here."""
    month = _month(request.form.get("month"))
    _readable(enrollment_id)
    days = request.form.get("days", "").strip()
    if not days.isdigit():
        abort(400, description=_("Enter a whole number."))
    try:
        new_link = links.create_link(current_user, enrollment_id, month, int(days))
    except Invalid as exc:
        abort(400, description=describe(exc))
    except Refused:
        abort(403)
    return _page(_report(enrollment_id, month), new_link=new_link, status=201)


@bp.post("/links/<int:link_id>/revoke")
@role_required("admin", "staff", "teacher")
def revoke_link(link_id: int):
    """Revoke a parent link: it answers 404 from now on."""
    try:
        link = links.revoke_link(current_user, link_id)
    except Refused as exc:
        abort(exc.status)
    if is_htmx():
        return _page(_report(link.enrollment_id, _month(request.form.get("month") or link.month)))
    flash(_("Link revoked."), "success")
    return redirect(url_for(".report_page", enrollment_id=link.enrollment_id, month=link.month))


@bp.get("/shared/<token>")
@public
def shared(token: str):
    """A parent link: that one report, nothing else, without an account."""
    try:
        link = links.open_link(token)
    except Refused:
        abort(404)
    report = _report(link.enrollment_id, Month.parse(link.month))
    response = current_app.make_response(render_template("reports/document.html", reports=[report], for_pdf=False))
    # The address is the key: keep it out of caches and of other sites' Referer headers.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

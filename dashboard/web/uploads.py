"""Spreadsheet uploads into one lecture: pick a kind (roster, exam scores,
homework results, attendance and video), upload a CSV, read the preview — rows to create,
update, leave unchanged, and every bad row with its line — and confirm to apply.

Between the preview and the confirmation the server keeps nothing: the preview page carries the
file's text in a hidden field, signed with the app's SECRET_KEY (itsdangerous, salted for
uploads, bound to the lecture, the kind and the user, valid for an hour). Confirming re-reads
that text and runs the whole check again under the lecture lock, so a change made meanwhile is
seen; a tampered or expired field is refused (400 / 422) and nothing is written.

Roles: admins upload into every lecture, a teacher into their own (another lecture: 404); staff
see the page and the templates without forms, and a post answers 403. The import itself is
`dashboard.academy.uploads` (the snapshot importer, in the request's transaction: a bad row changes
nothing). Templates are generated for the lecture (its students, exams, homework, sessions).
"""
from __future__ import annotations

import json
import secrets
from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from dashboard.academy import structure as setup, uploads
from dashboard.accounts.access import can_edit_inputs, can_edit_structure, role_required
from dashboard.errors import NotFound
from dashboard.models import MAX_ID, Lecture
from dashboard.web import idempotency
from dashboard.web.setup_forms import parse_date_text
from dashboard.text.spreadsheet import csv_bytes

bp = Blueprint("uploads", __name__, url_prefix="/setup")

EVERYONE = ("admin", "teacher", "staff")
SIGNED_FOR_SECONDS = 3600
_SALT = "dashboard.academy.uploads.preview"

KIND_TITLES = {
    "roster": _l("Roster"),
    "scores": _l("Exam scores"),
    "homework": _l("Homework results"),
    "activity": _l("Attendance and video"),
}
KIND_HELP = {
    "roster": _l("One row per student: a blank student_id creates the student; an existing one is enrolled "
                 "(or re-enrolled) and their details updated. start_date is YYYY-MM-DD."),
    "scores": _l("One row per attempt: student_id, exam_id, score; attempt_no (blank: 1) and submitted_at "
                 "(e.g. 2026-03-09T10:00) are optional. Rows with a blank score are skipped."),
    "homework": _l("One row per student and homework: submitted and approved are yes or no, score a number. "
                   "Blank cells keep what is stored."),
    "activity": _l("One row per student and session (its order): attendance online or offline, video_rate "
                   "0 to 100, presence (the roll call) present, late, absent or excused — present and late "
                   "mean offline. Blank cells keep what is stored. CSV (UTF-8 or CP949) or an Excel workbook."),
}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_SALT)


def _lecture(lecture_id: int) -> Lecture:
    if not 0 < lecture_id <= MAX_ID:
        abort(404)
    try:
        return setup.readable_lecture(current_user, lecture_id)
    except NotFound:
        abort(404)


def _kind(kind: str) -> str:
    if kind not in uploads.KINDS:
        abort(404)
    return kind


def _editable(lecture: Lecture) -> bool:
    return can_edit_inputs(current_user, lecture.id) and lecture.archived_at is None


def _writable_lecture(lecture_id: int, kind: str) -> Lecture:
    """For a post: 404 when hidden, 403 when read-only (staff, or not their lecture). A roster
    enrolls students, which is the lecture's structure: not for its assistants."""
    lecture = _lecture(lecture_id)
    allowed = can_edit_structure if kind == "roster" else can_edit_inputs
    if not allowed(current_user, lecture.id):
        abort(403)
    return lecture


def _render_index(lecture: Lecture, status: int = 200, failed_kind: str | None = None,
                  problems: list | None = None):
    editable = _editable(lecture)
    default_start = setup.default_start_date(lecture.id) if editable else None
    return render_template("uploads/index.html", lecture=lecture, kinds=uploads.KINDS, titles=KIND_TITLES,
                           help=KIND_HELP, columns=uploads.COLUMNS, required=uploads.REQUIRED,
                           editable=editable, failed_kind=failed_kind, problems=problems or [],
                           default_start=default_start), status


@bp.get("/lectures/<int:lecture_id>/uploads")
@role_required(*EVERYONE)
def index(lecture_id: int):
    """The four kinds of upload, each with its template and, for the lecture's editors, a file form."""
    return _render_index(_lecture(lecture_id))


@bp.get("/lectures/<int:lecture_id>/uploads/<kind>/template.csv")
@role_required(*EVERYONE)
def template(lecture_id: int, kind: str):
    """The kind's CSV template for this lecture (UTF-8 with BOM, so spreadsheets read Korean names)."""
    lecture = _lecture(lecture_id)
    filename = f"lecture-{lecture.id}-{kind}.csv"
    return Response(csv_bytes(uploads.template_rows(lecture.id, _kind(kind))), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})



def _refused_archived(lecture: Lecture, kind: str):
    if lecture.archived_at is not None:
        return _render_index(lecture, 422, kind,
                             [(None, _("This lecture is archived; restore it before changing it."))])
    return None


@bp.post("/lectures/<int:lecture_id>/uploads/<kind>")
@role_required(*EVERYONE)
def preview(lecture_id: int, kind: str):
    """Read the uploaded file and show what it would change (nothing is written)."""
    kind = _kind(kind)
    lecture = _writable_lecture(lecture_id, kind)
    refused = _refused_archived(lecture, kind)
    if refused is not None:
        return refused
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render_index(lecture, 422, kind, [(None, _("Choose a CSV file."))])
    content = upload.read(uploads.MAX_BYTES + 1)
    start = None
    if kind == "roster" and not request.form.get("from_first"):
        try:
            start = parse_date_text(request.form.get("start_date"))
        except ValueError as refused:
            return _render_index(lecture, 422, kind, [(None, _("Joins on: %(problem)s", problem=str(refused)))])
    try:
        result = uploads.preview(current_user, lecture.id, kind, content, start)
        text = uploads.decode(content)
    except uploads.UploadRejected as rejected:
        return _render_index(lecture, 422, kind, rejected.problems)
    # `once`: the one-time key of this preview's Apply (a second post of the same form, a reload
    # or a replayed request answers the first result and writes nothing).
    payload = _serializer().dumps({"lecture": lecture.id, "kind": kind, "user": current_user.id,
                                   "name": upload.filename, "text": text, "once": secrets.token_urlsafe(16),
                                   "start": start.isoformat() if start else None})
    return render_template("uploads/preview.html", lecture=lecture, kind=kind, title=KIND_TITLES[kind], start=start,
                           file_name=upload.filename, preview=result, payload=payload,
                           problems=result.problems), 422 if result.problems else 200


@bp.post("/lectures/<int:lecture_id>/uploads/<kind>/apply")
@role_required(*EVERYONE)
def apply(lecture_id: int, kind: str):
    """Apply a previewed file (its signed text), all or nothing."""
    kind = _kind(kind)
    lecture = _writable_lecture(lecture_id, kind)
    refused = _refused_archived(lecture, kind)
    if refused is not None:
        return refused
    try:
        data = _serializer().loads(request.form.get("payload", ""), max_age=SIGNED_FOR_SECONDS)
    except SignatureExpired:
        return _render_index(lecture, 422, kind, [(None, _("The preview has expired; upload the file again."))])
    except BadSignature:
        abort(400)
    if (data.get("lecture"), data.get("kind"), data.get("user")) != (lecture.id, kind, current_user.id):
        abort(400)
    if not isinstance(data.get("once"), str):
        abort(400)
    start = date.fromisoformat(data["start"]) if isinstance(data.get("start"), str) else None

    def run() -> idempotency.Answer:
        counts = uploads.apply(current_user, lecture.id, kind, data["text"].encode("utf-8"), data.get("name", ""),
                               start)
        return idempotency.Answer(200, json.dumps({"rows": counts["rows"]}), "application/json")

    try:
        answer, replayed = idempotency.answer_once(current_user.id, "upload:" + data["once"], "POST",
                                                   request.path, run)
    except uploads.UploadRejected as rejected:
        return _render_index(lecture, 422, kind, rejected.problems)
    rows = json.loads(answer.body)["rows"]
    if replayed:
        flash(_("%(file)s was already applied (%(rows)s rows); nothing was done again.",
                file=data.get("name", ""), rows=rows), "info")
    else:
        flash(_("%(file)s applied (%(rows)s rows); the lecture was recomputed.", file=data.get("name", ""),
                rows=rows), "success")
    return redirect(url_for(".index", lecture_id=lecture.id))

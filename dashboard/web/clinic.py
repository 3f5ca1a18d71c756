"""The clinic queue: open links (approved ones stay until resolved) and the resolved history,
with filters, active search by student, row actions, manual requests and a CSV export.

Roles (SPEC §6, §8), all decided by the `dashboard.clinic` service this module calls: admin and
staff approve, resolve and reopen; everyone who sees a link edits its memo; a teacher sees only
their lectures' links (another lecture's link is 404), requests clinics and recommends, and gets
no action buttons (403 if they post one anyway). Staff may request but not recommend.

htmx: a filter or search answers `_queue.html`; an action or a memo edit answers the link's row
(`_row.html`, swapped in place) with the navigation's count out of band; a manual request
answers the request form again and redraws the queue out of band with the filters the page
sent along. Without JavaScript every form posts and redirects back to the queue (PRG).

Withdrawn enrollments' links are left out, as in the navigation's count.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Mapping

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, and_, false, func, select

from .. import clinic as clinic_service
from ..access import role_required, visible_lecture_ids
from ..clock import now
from ..extensions import db
from ..models import CLINIC_REASONS, ClinicLink, Enrollment, Exam, Lecture, LectureSession, Student
from ..queries import (
    LIKE_ESCAPE,
    ApprovedBy,
    CreatedBy,
    ResolvedBy,
    clinic_links_select,
    like_pattern,
    refresh_stale,
)
from .admin_forms import REASON_LABELS, ClinicRequestForm, MemoForm
from .ui import academy_time, is_htmx

bp = Blueprint("clinic", __name__, url_prefix="/clinic")

PAGE_SIZE = 50
TABS = ("open", "resolved")


# ---------------------------------------------------------------- filters

def _int_or_none(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters as the page's controls send them; values it cannot read are ignored."""

    tab: str = "open"
    lecture: int | None = None
    session: int | None = None
    reason: str | None = None
    approved: bool | None = None
    kind: str | None = None  # "auto" or "manual"
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        tab = args.get("tab", "open")
        reason = args.get("reason") or None
        approved = {"true": True, "false": False}.get(args.get("approved", ""))
        kind = args.get("kind") if args.get("kind") in ("auto", "manual") else None
        return cls(
            tab=tab if tab in TABS else "open",
            lecture=_int_or_none(args.get("lecture")),
            session=_int_or_none(args.get("session")),
            reason=reason if reason in CLINIC_REASONS else None,
            approved=approved,
            kind=kind,
            q=(args.get("q") or "").strip()[:100],
            page=max(1, _int_or_none(args.get("page")) or 1),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query arguments for url_for (empty ones left out)."""
        values = replace(self, **changes)
        out = {
            "tab": values.tab if values.tab != "open" else None,
            "lecture": values.lecture,
            "session": values.session,
            "reason": values.reason,
            "approved": None if values.approved is None else ("true" if values.approved else "false"),
            "kind": values.kind,
            "q": values.q or None,
            "page": values.page if values.page != 1 else None,
        }
        return {key: value for key, value in out.items() if value is not None}


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class QueueRow:
    """One clinic link with what its row shows."""

    link: ClinicLink
    student_name: str
    lecture_id: int
    lecture_title: str
    session_order: int
    session_title: str | None
    created_by: str | None
    approved_by: str | None
    resolved_by: str | None
    figures: tuple[str, ...]
    age: str


def _queue_select(visible: set[int] | None) -> Select:
    statement = clinic_links_select(
        ClinicLink, Student.name, Enrollment.lecture_id, Lecture.title, LectureSession.order,
        LectureSession.title, CreatedBy.username, ApprovedBy.username, ResolvedBy.username,
    ).where(Enrollment.withdrawn_at.is_(None))
    if visible is not None:
        statement = statement.where(Enrollment.lecture_id.in_(sorted(visible)) if visible else false())
    return statement


def _filtered(statement: Select, filters: QueueFilters) -> Select:
    conditions = [ClinicLink.resolved_at.is_(None) if filters.tab == "open" else ClinicLink.resolved_at.is_not(None)]
    if filters.lecture is not None:
        conditions.append(Enrollment.lecture_id == filters.lecture)
    if filters.session is not None:
        conditions.append(ClinicLink.session_id == filters.session)
    if filters.reason is not None:
        conditions.append(ClinicLink.reason == filters.reason)
    if filters.approved is not None:
        conditions.append(ClinicLink.approved.is_(filters.approved))
    if filters.kind is not None:
        conditions.append(ClinicLink.is_auto.is_(filters.kind == "auto"))
    if filters.q:
        conditions.append(Student.name.ilike(like_pattern(filters.q), escape=LIKE_ESCAPE))
    return statement.where(and_(*conditions))


def _ordered(statement: Select, tab: str) -> Select:
    # The open queue is worked oldest first; the history shows the latest resolved first.
    if tab == "open":
        return statement.order_by(ClinicLink.created_at, ClinicLink.id)
    return statement.order_by(ClinicLink.resolved_at.desc(), ClinicLink.id.desc())


def _age(created_at: datetime, moment: datetime) -> str:
    elapsed = moment - created_at
    if elapsed.days >= 1:
        return _("%(n)s d", n=elapsed.days)
    hours = elapsed.seconds // 3600
    if hours >= 1:
        return _("%(n)s h", n=hours)
    return _("< 1 h")


def _exam_titles(links: list[ClinicLink]) -> dict[str, str]:
    ids = {int(exam_id) for link in links if isinstance(link.meta, dict)
           for exam_id in (link.meta.get("exam_reasons") or {}) if str(exam_id).isdigit()}
    if not ids:
        return {}
    return {str(exam_id): title for exam_id, title in
            db.session.execute(select(Exam.id, Exam.title).where(Exam.id.in_(sorted(ids))))}


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def reason_figures(link: ClinicLink, exam_titles: Mapping[str, str]) -> tuple[str, ...]:
    """The figures behind an automatic link: "LOW_SCORE 48/60", "LOW_CONFIDENCE_OMR ×3",
    "REPEATED_WRONG Q3, Q7" per risky exam (named when the link has several), or the parts a
    failed session missed."""
    meta = link.meta if isinstance(link.meta, dict) else {}
    figures: list[str] = []
    if link.reason == "AUTO_RISK":
        exam_reasons = meta.get("exam_reasons") or {}
        for exam_id, reasons in exam_reasons.items():
            parts = []
            if "LOW_SCORE" in reasons:
                low = reasons["LOW_SCORE"]
                parts.append(f"LOW_SCORE {_number(low.get('score'))}/{_number(low.get('pass_score'))}")
            if "LOW_CONFIDENCE_OMR" in reasons:
                parts.append(f"LOW_CONFIDENCE_OMR ×{reasons['LOW_CONFIDENCE_OMR'].get('count')}")
            if "REPEATED_WRONG" in reasons:
                questions = ", ".join(f"Q{q}" for q in reasons["REPEATED_WRONG"].get("questions", []))
                parts.append(f"REPEATED_WRONG {questions}")
            text = "; ".join(parts)
            if len(exam_reasons) > 1:
                text = f"{exam_titles.get(str(exam_id), '#' + str(exam_id))}: {text}"
            figures.append(text)
    elif link.reason == "AUTO_FAILED":
        missed = [label for key, label in (("video_completed", _("video")), ("exam_passed", _("exam")),
                                           ("homework_passed", _("homework"))) if meta.get(key) is False]
        if missed:
            figures.append(_("missed: %(parts)s", parts=", ".join(missed)))
    return tuple(figures)


def _rows(results: list[Any]) -> list[QueueRow]:
    links = [result[0] for result in results]
    titles = _exam_titles(links)
    moment = now()
    return [
        QueueRow(link, name, lecture_id, lecture_title, order, session_title, created_by, approved_by,
                 resolved_by, reason_figures(link, titles), _age(link.created_at, moment))
        for link, name, lecture_id, lecture_title, order, session_title, created_by, approved_by, resolved_by
        in results
    ]


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    count: int
    filters: QueueFilters

    @property
    def has_next(self) -> bool:
        return self.filters.page * PAGE_SIZE < self.count


def load_queue(filters: QueueFilters) -> Queue:
    """One page of the queue for the signed-in user (two queries, plus one for exam titles)."""
    visible = visible_lecture_ids(current_user)
    refresh_stale(visible, filters.lecture)
    statement = _filtered(_queue_select(visible), filters)
    count = db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    results = list(db.session.execute(
        _ordered(statement, filters.tab).limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE)))
    return Queue(_rows(results), count, filters)


def load_row(link_id: int) -> QueueRow:
    """One link's row, if the signed-in user may see it (404 otherwise)."""
    result = db.session.execute(
        _queue_select(visible_lecture_ids(current_user)).where(ClinicLink.id == link_id)).first()
    if result is None:
        abort(404)
    return _rows([result])[0]


@dataclass(frozen=True)
class Choices:
    """What the filter and request controls offer: the user's lectures, their sessions and students."""

    lectures: list[tuple[int, str]]
    sessions: list[tuple[int, int, int, str | None]]  # id, lecture id, order, title
    enrollments: list[tuple[int, int, str]]  # id, lecture id, student name


def load_choices() -> Choices:
    visible = visible_lecture_ids(current_user)

    def scoped(statement: Select, column) -> Select:
        if visible is None:
            return statement
        return statement.where(column.in_(sorted(visible)) if visible else false())

    lectures = list(db.session.execute(scoped(
        select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id), Lecture.id)))
    sessions = list(db.session.execute(scoped(
        select(LectureSession.id, LectureSession.lecture_id, LectureSession.order, LectureSession.title)
        .order_by(LectureSession.lecture_id, LectureSession.order), LectureSession.lecture_id)))
    enrollments = list(db.session.execute(scoped(
        select(Enrollment.id, Enrollment.lecture_id, Student.name)
        .join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.withdrawn_at.is_(None))
        .order_by(Enrollment.lecture_id, Student.name, Enrollment.id), Enrollment.lecture_id)))
    return Choices(lectures, sessions, enrollments)


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


def _queue_context(filters: QueueFilters) -> dict[str, Any]:
    return dict(queue=load_queue(filters), can_act=can_act(), back=_back_url(filters))


@bp.app_template_global("clinic_memo_form")
def memo_form(link: ClinicLink, formdata: Any = None) -> MemoForm:
    """A row's memo form (prefixed by the link's id, so every row's field has its own id)."""
    return MemoForm(formdata=formdata, prefix=f"memo{link.id}", data={"memo": link.memo or ""})


@bp.get("/")
@role_required("admin", "staff", "teacher")
def queue():
    """The queue (or, with tab=resolved, the history). An htmx filter or search gets `_queue.html`."""
    filters = QueueFilters.from_args(request.args)
    context = _queue_context(filters)
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("clinic/_queue.html", **context)
    choices = load_choices()
    return render_template("clinic/queue.html", choices=choices, request_form=_request_form(choices),
                           reasons=REASON_LABELS, **context)


def _safe_back(text: str | None) -> str:
    """Where a plain form goes back to: a page of the queue, nothing else."""
    base = url_for(".queue")
    if text and text.startswith(base) and "//" not in text and "\\" not in text:
        return text
    return base


def _row_answer(link_id: int, status: int = 200, memo_form: MemoForm | None = None):
    row = load_row(link_id)
    back = _safe_back(request.form.get("next"))
    return render_template("clinic/_row_answer.html", row=row, can_act=can_act(), back=back,
                           memo_form=memo_form), status


@bp.post("/<int:link_id>/<any(approve, resolve, reopen):action>")
@role_required("admin", "staff", "teacher")
def act(link_id: int, action: str):
    """Approve, resolve or reopen (admin, staff). Doing it twice succeeds and records nothing."""
    service = {"approve": clinic_service.approve, "resolve": clinic_service.resolve,
               "reopen": clinic_service.reopen}[action]
    try:
        _link, changed = service(current_user, link_id)
    except clinic_service.ClinicNotFound:
        abort(404)
    except clinic_service.ClinicForbidden:
        abort(403)
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
    row = load_row(link_id)
    form = memo_form(row.link, request.form)
    if form.validate():
        try:
            clinic_service.edit_memo(current_user, link_id, {"memo": form.memo.data or ""})
        except clinic_service.ClinicNotFound:
            abort(404)
        except clinic_service.ClinicForbidden:
            abort(403)
        except clinic_service.ClinicInvalid as invalid:
            form.memo.errors = [*form.memo.errors, _memo_problem(invalid)]
    if form.memo.errors:
        if is_htmx():
            return _row_answer(link_id, 422, form)
        flash(" ".join(form.memo.errors), "error")
        return redirect(_safe_back(request.form.get("next")))
    if is_htmx():
        return _row_answer(link_id)
    flash(_("Memo saved."), "success")
    return redirect(_safe_back(request.form.get("next")))


def _memo_problem(invalid: clinic_service.ClinicInvalid) -> str:
    if invalid.message.startswith("A memo is required"):
        return _("A memo is required for a clinic requested by a person.")
    return invalid.message


_REQUEST_FIELDS = {"enrollment_id": "enrollment", "session": "session", "session_id": "session",
                   "reason": "reason", "memo": "memo"}


@bp.post("/requests")
@role_required("admin", "staff", "teacher")
def request_clinic():
    """A manual request or a teacher's recommendation; memo required, session of the student's lecture."""
    choices = load_choices()
    form = _request_form(choices, request.form)
    filters = QueueFilters.from_args(request.form)
    ids = form.ids() if form.validate() else None
    if ids is not None:
        data = {"enrollment_id": ids["enrollment"], "session": ids["session"], "reason": form.reason.data,
                "memo": form.memo.data or ""}
        try:
            clinic_service.request_clinic(current_user, data)
        except clinic_service.ClinicForbidden:
            abort(403)
        except clinic_service.ClinicInvalid as invalid:
            target = getattr(form, _REQUEST_FIELDS.get(invalid.field or "", ""), None)
            message = _request_problem(invalid)
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                form.form_errors.append(message)
        else:
            if not is_htmx():
                flash(_("Clinic requested."), "success")
                return redirect(_back_url(filters))
            return render_template("clinic/_request_answer.html", request_form=_request_form(choices),
                                   requested=True, **_queue_context(filters))
    if not is_htmx():
        return render_template("clinic/queue.html", choices=choices, request_form=form,
                               reasons=REASON_LABELS, **_queue_context(filters)), 422
    return render_template("clinic/_request.html", request_form=form, requested=False), 422


def _request_problem(invalid: clinic_service.ClinicInvalid) -> str:
    if invalid.field == "memo":
        return _memo_problem(invalid)
    if invalid.field in ("session", "session_id") and "does not belong" in invalid.message:
        return _("The session does not belong to the student's lecture.")
    return invalid.message


# ---------------------------------------------------------------- CSV

@bp.get("/queue.csv")
@role_required("admin", "staff", "teacher")
def queue_csv():
    """Every link the filters select (all pages), UTF-8 with a BOM so Excel reads Korean names."""
    filters = QueueFilters.from_args(request.args)
    visible = visible_lecture_ids(current_user)
    refresh_stale(visible, filters.lecture)
    results = list(db.session.execute(_ordered(_filtered(_queue_select(visible), filters), filters.tab)))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Link"), _("Student"), _("Lecture"), _("Session"), _("Session title"), _("Reason"),
                     _("Details"), _("Automatic"), _("Approved"), _("Created"), _("Age"), _("Resolved"),
                     _("Memo")])
    for row in _rows(results):
        link = row.link
        writer.writerow([
            link.id, _spreadsheet_safe(row.student_name), _spreadsheet_safe(row.lecture_title), row.session_order,
            _spreadsheet_safe(row.session_title or ""), link.reason, "; ".join(row.figures),
            "yes" if link.is_auto else "no", "yes" if link.approved else "no", academy_time(link.created_at),
            row.age, academy_time(link.resolved_at), _spreadsheet_safe(link.memo or ""),
        ])
    filename = "clinic-history.csv" if filters.tab == "resolved" else "clinic-queue.csv"
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _spreadsheet_safe(text: str) -> str:
    """A leading =, +, - or @ would make a spreadsheet run the cell as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text

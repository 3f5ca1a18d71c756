"""The Risk page: the risk log as a filterable history (lecture, level, rule, student search).

Everyone signed in reads it, scoped to the lectures they may see (a teacher: their own). The
list is the API's read side (`queries.plan_list("risk-logs", ...)`: the same filters, the same
search over student name and reason, newest first, withdrawn enrollments hidden), with the
lectures' and sessions' names looked up once per page. Each student links to the grid's
student page when that page exists. An htmx filter or search gets `_history.html` alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import false, select

from .. import queries
from ..access import role_required, visible_lecture_ids
from ..extensions import db
from ..models import RISK_RULES, Lecture, LectureSession, RiskLog
from .ui import is_htmx

bp = Blueprint("risk", __name__, url_prefix="/risk")

PAGE_SIZE = 50
LEVELS = ("WARNING", "DANGER")


@dataclass(frozen=True)
class RiskFilters:
    """The page's controls; values outside the known ones are ignored."""

    lecture: int | None = None
    level: str | None = None
    rule: str | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> RiskFilters:
        lecture = (args.get("lecture") or "").strip()
        page = (args.get("page") or "").strip()
        return cls(
            lecture=int(lecture) if lecture.isascii() and lecture.isdigit() else None,
            level=args.get("level") if args.get("level") in LEVELS else None,
            rule=args.get("rule") if args.get("rule") in RISK_RULES else None,
            q=(args.get("q") or "").strip()[:100],
            page=max(1, int(page)) if page.isascii() and page.isdigit() else 1,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query arguments for url_for (empty ones and page 1 left out)."""
        values = {"lecture": self.lecture, "level": self.level, "rule": self.rule, "q": self.q or None,
                  "page": self.page}
        values.update(changes)
        if values["page"] == 1:
            values["page"] = None
        return {key: value for key, value in values.items() if value is not None}

    def list_args(self) -> dict[str, str]:
        """The same filters in the API's words."""
        out = {"page": str(self.page), "page_size": str(PAGE_SIZE)}
        for key, value in (("lecture", self.lecture), ("risk_level", self.level), ("rule", self.rule),
                           ("search", self.q)):
            if value:
                out[key] = str(value)
        return out


@dataclass(frozen=True)
class RiskRow:
    log: RiskLog
    student_name: str
    lecture_id: int
    lecture_title: str
    session_order: int | None
    session_title: str | None


@dataclass(frozen=True)
class History:
    rows: list[RiskRow]
    count: int
    filters: RiskFilters

    @property
    def has_next(self) -> bool:
        return self.filters.page * PAGE_SIZE < self.count


def _visible_lectures(visible: set[int] | None) -> list[tuple[int, str]]:
    statement = select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id)
    if visible is not None:
        statement = statement.where(Lecture.id.in_(sorted(visible)) if visible else false())
    return list(db.session.execute(statement))


def load_history(filters: RiskFilters, lectures: list[tuple[int, str]]) -> History:
    visible = visible_lecture_ids(current_user)
    try:
        plan = queries.plan_list("risk-logs", filters.list_args(), visible)
        queries.refresh_stale(visible, plan.lecture_id)
        page = queries.fetch_page(plan)
    except queries.PageOutOfRange:
        abort(404)
    titles = dict(lectures)
    session_ids = sorted({row[0].session_id for row in page.rows if row[0].session_id is not None})
    sessions = {session_id: (order, title) for session_id, order, title in db.session.execute(
        select(LectureSession.id, LectureSession.order, LectureSession.title)
        .where(LectureSession.id.in_(session_ids)))} if session_ids else {}
    rows = []
    for log, lecture_id, student_name in page.rows:
        order, title = sessions.get(log.session_id, (None, None))
        rows.append(RiskRow(log, student_name, lecture_id, titles.get(lecture_id, ""), order, title))
    return History(rows, page.count, filters)


@bp.get("/")
@role_required("admin", "staff", "teacher")
def index():
    """The risk history; an htmx filter, search or page change gets `_history.html`."""
    filters = RiskFilters.from_args(request.args)
    lectures = _visible_lectures(visible_lecture_ids(current_user))
    history = load_history(filters, lectures)
    if is_htmx() and not request.headers.get("HX-History-Restore-Request"):
        return render_template("risk/_history.html", history=history)
    return render_template("risk/index.html", history=history, lectures=lectures, levels=LEVELS, rules=RISK_RULES)

"""The read side of the Risk page: the risk log as a filterable history (lecture, level, rule,
student search), newest first and paged, with the lectures its lecture filter offers.

The list is the API's (`queries.plan_list("risk-logs", ...)`: the same filters, the same search
over student name and reason, the same order, withdrawn enrollments hidden); this module adds
the lectures' and sessions' names, looked up once per page.

`visible` is what `access.visible_lecture_ids` answers for the signed-in user: None for every
lecture, else the ids of the lectures they may read. Nothing here knows about requests, forms or
responses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, select

from dashboard import listing as queries
from dashboard.extensions import db
from dashboard.models import RISK_RULES, Lecture, LectureSession, RiskLog

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
        lecture = queries.id_or_none(args.get("lecture"))
        page = queries.id_or_none(args.get("page"))
        return cls(
            lecture=lecture,
            level=args.get("level") if args.get("level") in LEVELS else None,
            rule=args.get("rule") if args.get("rule") in RISK_RULES else None,
            q=(args.get("q") or "").strip()[:100],
            page=max(1, page) if page is not None else 1,
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


def load_lectures(visible: set[int] | None) -> list[tuple[int, str]]:
    """(id, title) of the `visible` lectures, by title: the lecture filter's options."""
    statement = select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id)
    if visible is not None:
        statement = statement.where(Lecture.id.in_(sorted(visible)) if visible else false())
    return list(db.session.execute(statement))


def load_history(filters: RiskFilters, lectures: list[tuple[int, str]],
                 visible: set[int] | None) -> queries.FilteredPage:
    """One page of the risk log among the `visible` lectures, newest first, after refreshing the
    lectures it may show that are stale; `lectures` (from `load_lectures`) names each row's
    lecture. A page past the end raises `errors.NotFound`."""
    plan = queries.plan_list("risk-logs", filters.list_args(), visible)
    queries.refresh_stale(visible, plan.lecture_id)
    page = queries.fetch_page(plan)
    titles = dict(lectures)
    session_ids = sorted({row[0].session_id for row in page.rows if row[0].session_id is not None})
    sessions = {session_id: (order, title) for session_id, order, title in db.session.execute(
        select(LectureSession.id, LectureSession.order, LectureSession.title)
        .where(LectureSession.id.in_(session_ids)))} if session_ids else {}
    rows = []
    for log, lecture_id, student_name in page.rows:
        order, title = sessions.get(log.session_id, (None, None))
        rows.append(RiskRow(log, student_name, lecture_id, titles.get(lecture_id, ""), order, title))
    return queries.FilteredPage(rows, page.count, filters, PAGE_SIZE)

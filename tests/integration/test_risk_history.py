"""The Risk page's read side (dashboard/progress/risk_history.py) on both databases: lecture scoping,
withdrawn enrollments hidden, the filters and the search, newest first, paging, the rows' names
and the refresh of stale lectures.

Academy: tests/web/factories.build_academy (today 2026-04-01). Its recompute logged Lee Jisoo,
Park_100% and Choi Yuna (withdrawn, so hidden) DANGER by CONSECUTIVE_INCOMPLETE at week 3. The
fixture adds, with their times set: Kim Minho (Geometry) WARNING by CONSECUTIVE_LOW_SCORE on
"Triangles" (the newest), and Kim Minji WARNING by CONSECUTIVE_LOW_SCORE with no session (the
oldest); the recompute's three share one time between them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from dashboard.progress import risk_history
from dashboard.extensions import db
from dashboard.models import Lecture, RiskLog
from dashboard.errors import NotFound
from dashboard.progress.risk_history import RiskFilters, load_history, load_lectures

from tests.factories import Academy, build_academy


@dataclass
class Logs:
    academy: Academy
    jisoo: int
    park: int
    minho: int
    minji: int


def log_of(enrollment) -> RiskLog:
    return db.session.execute(select(RiskLog).where(RiskLog.enrollment_id == enrollment.id)).scalar_one()


@pytest.fixture
def logs(app) -> Logs:
    academy = build_academy()
    moment = datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc)
    for enrollment in (academy.jisoo, academy.park, academy.choi):
        log_of(enrollment).created_at = moment
    minho = RiskLog(enrollment_id=academy.minho.id, session_id=academy.geometry_week.id, risk_level="WARNING",
                    rule="CONSECUTIVE_LOW_SCORE", reason="2 consecutive failed exams", meta={"count": 2},
                    created_at=datetime(2026, 3, 25, 9, 0, tzinfo=timezone.utc))
    minji = RiskLog(enrollment_id=academy.minji.id, session_id=None, risk_level="WARNING",
                    rule="CONSECUTIVE_LOW_SCORE", reason="k_ and 100% in the reason",
                    created_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc))
    db.session.add_all([minho, minji])
    db.session.flush()
    return Logs(academy, log_of(academy.jisoo).id, log_of(academy.park).id, minho.id, minji.id)


def history(filters: RiskFilters = RiskFilters(), visible: set[int] | None = None):
    return load_history(filters, load_lectures(visible), visible)


def ids(filters: RiskFilters = RiskFilters(), visible: set[int] | None = None) -> list[int]:
    return [row.log.id for row in history(filters, visible).rows]


# ---------------------------------------------------------------- filters as the page sends them

def test_filters_ignore_what_they_cannot_read():
    filters = RiskFilters.from_args({"lecture": "x1", "level": "SEVERE", "rule": "NOPE", "q": "  Lee  ", "page": "0"})
    assert filters == RiskFilters(q="Lee")
    assert filters.args() == {"q": "Lee"}
    assert RiskFilters.from_args({"page": "-2"}).page == 1


def test_filters_in_the_pages_words_and_the_apis():
    args = {"lecture": "4", "level": "DANGER", "rule": "CONSECUTIVE_INCOMPLETE", "q": "Kim", "page": "3"}
    filters = RiskFilters.from_args(args)
    assert filters == RiskFilters(4, "DANGER", "CONSECUTIVE_INCOMPLETE", "Kim", 3)
    assert {key: str(value) for key, value in filters.args().items()} == args
    assert "page" not in filters.args(page=1)
    assert filters.list_args() == {"page": "3", "page_size": "50", "lecture": "4", "risk_level": "DANGER",
                                   "rule": "CONSECUTIVE_INCOMPLETE", "search": "Kim"}
    assert RiskFilters().list_args() == {"page": "1", "page_size": "50"}


# ---------------------------------------------------------------- scoping

def test_visible_lectures_scope_the_history_and_withdrawn_enrollments_are_hidden(logs):
    academy = logs.academy
    assert load_lectures(None) == [(academy.algebra.id, "Algebra II"), (academy.geometry.id, "Geometry")]
    assert load_lectures({academy.geometry.id}) == [(academy.geometry.id, "Geometry")]
    assert load_lectures(set()) == []

    everyone = history()
    assert everyone.count == 4
    assert log_of(academy.choi).id not in {row.log.id for row in everyone.rows}
    assert sorted(ids(visible={academy.algebra.id})) == sorted([logs.jisoo, logs.park, logs.minji])
    assert ids(visible={academy.geometry.id}) == [logs.minho]
    nothing = history(visible=set())
    assert nothing.count == 0 and nothing.rows == []


def test_rows_name_their_student_lecture_and_session(logs):
    academy = logs.academy
    rows = {row.log.id: row for row in history().rows}
    minho, minji, park = rows[logs.minho], rows[logs.minji], rows[logs.park]
    assert (minho.student_name, minho.lecture_id, minho.lecture_title, minho.session_order, minho.session_title) == (
        "Kim Minho", academy.geometry.id, "Geometry", 1, "Triangles")
    assert (park.student_name, park.lecture_title, park.session_order, park.session_title) == (
        "Park_100%", "Algebra II", 3, "Week 3")
    assert (minji.session_order, minji.session_title) == (None, None)
    # The lecture's name comes from the lectures given (the filter's options).
    assert [row.lecture_title for row in load_history(RiskFilters(), [], None).rows] == [""] * 4


# ---------------------------------------------------------------- filters and search

def test_filters_narrow_the_history(logs):
    academy = logs.academy
    assert ids(RiskFilters(level="WARNING")) == [logs.minho, logs.minji]
    assert sorted(ids(RiskFilters(rule="CONSECUTIVE_INCOMPLETE"))) == sorted([logs.jisoo, logs.park])
    assert ids(RiskFilters(lecture=academy.geometry.id)) == [logs.minho]
    assert ids(RiskFilters(lecture=academy.geometry.id), {academy.algebra.id}) == []
    assert ids(RiskFilters(level="DANGER", lecture=academy.geometry.id)) == []


def test_search_covers_name_and_reason_and_takes_wildcards_literally(logs):
    assert ids(RiskFilters(q="lee jisoo")) == [logs.jisoo]
    assert ids(RiskFilters(q="failed exams")) == [logs.minho]
    # "k_" as a LIKE wildcard would also match "Kim ..."; taken literally only Park_100% and
    # Minji's reason have it.
    assert sorted(ids(RiskFilters(q="k_"))) == sorted([logs.park, logs.minji])
    assert ids(RiskFilters(q="Choi")) == []  # withdrawn


# ---------------------------------------------------------------- ordering and paging

def test_newest_first_then_the_larger_id(logs):
    assert ids() == [logs.minho, *sorted((logs.jisoo, logs.park), reverse=True), logs.minji]


def test_pages_and_a_page_past_the_end(logs, monkeypatch):
    every = ids()
    monkeypatch.setattr(risk_history, "PAGE_SIZE", 3)
    pages = [history(RiskFilters(page=page)) for page in (1, 2)]
    assert [[row.log.id for row in page.rows] for page in pages] == [every[:3], every[3:]]
    assert [page.has_next for page in pages] == [True, False]
    assert all(page.count == 4 for page in pages)
    with pytest.raises(NotFound):
        history(RiskFilters(page=3))
    assert history(RiskFilters(page=1), set()).rows == []  # an empty history still has its first page


# ---------------------------------------------------------------- freshness

def test_stale_lectures_are_recomputed_first_only_the_one_filtered(logs):
    academy = logs.academy
    yesterday = date(2026, 3, 31)
    academy.algebra.recomputed_for = yesterday
    academy.geometry.recomputed_for = yesterday
    db.session.flush()
    history(RiskFilters(lecture=academy.geometry.id))
    recomputed = dict(db.session.execute(select(Lecture.id, Lecture.recomputed_for)).all())
    assert recomputed == {academy.algebra.id: yesterday, academy.geometry.id: date(2026, 4, 1)}
    history(RiskFilters(), {academy.algebra.id})
    assert db.session.execute(select(Lecture.recomputed_for).where(Lecture.id == academy.algebra.id)
                              ).scalar_one() == date(2026, 4, 1)

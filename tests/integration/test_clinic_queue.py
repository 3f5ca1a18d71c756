"""The clinic queue's read side (dashboard/clinic/open_queue.py) on both databases: lecture scoping,
withdrawn links hidden, the filters and the student search, the two tabs' ordering, paging, one
link's row and the controls' choices.

Academy: tests/web/factories.build_academy (today 2026-04-01). Open links: Lee Jisoo AUTO_FAILED
on weeks 1-3 and AUTO_RISK on week 2 (quiz 40 < pass 60); Park_100% AUTO_FAILED on weeks 1-3;
Kim Minho (Geometry) AUTO_FAILED on week 1; Choi Yuna's three are hidden (withdrawn). So 8 for
every lecture, 7 for Algebra, 1 for Geometry.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from dashboard.clinic import open_queue as clinic_queue
from dashboard.clinic.open_queue import QueueFilters, load_all_rows, load_choices, load_queue, load_row
from dashboard.extensions import db
from dashboard.models import ClinicLink

from tests.factories import build_academy, make_manual_link


@pytest.fixture
def academy(app):
    return build_academy()


def links_of(enrollment, reason: str | None = None) -> list[ClinicLink]:
    statement = select(ClinicLink).where(ClinicLink.enrollment_id == enrollment.id).order_by(ClinicLink.id)
    if reason:
        statement = statement.where(ClinicLink.reason == reason)
    return list(db.session.execute(statement).scalars())


def ids(filters: QueueFilters, visible: set[int] | None = None) -> list[int]:
    return [row.link.id for row in load_queue(filters, visible).rows]


# ---------------------------------------------------------------- filters as the page sends them

def test_filters_ignore_what_they_cannot_read():
    filters = QueueFilters.from_args({"tab": "bogus", "lecture": "x1", "session": "-3", "reason": "NOPE",
                                      "approved": "yes", "kind": "robot", "q": "  Lee  ", "page": "0"})
    assert filters == QueueFilters(q="Lee")
    assert filters.args() == {"q": "Lee"}


def test_filters_round_trip_through_their_arguments():
    args = {"tab": "resolved", "lecture": "4", "session": "9", "reason": "AUTO_RISK", "approved": "false",
            "kind": "auto", "q": "Kim", "page": "3"}
    filters = QueueFilters.from_args(args)
    assert filters == QueueFilters("resolved", 4, 9, "AUTO_RISK", False, "auto", "Kim", 3)
    assert {key: str(value) for key, value in filters.args().items()} == args
    assert filters.args(page=1) == {key: value for key, value in filters.args().items() if key != "page"}


# ---------------------------------------------------------------- scoping

def test_visible_lectures_scope_the_queue_and_withdrawn_links_are_hidden(academy):
    everyone = load_queue(QueueFilters(), None)
    assert everyone.count == 8 and len(everyone.rows) == 8
    choi = {link.id for link in links_of(academy.choi)}
    assert len(choi) == 3 and not choi & {row.link.id for row in everyone.rows}

    algebra = load_queue(QueueFilters(), {academy.algebra.id})
    assert algebra.count == 7 and {row.lecture_id for row in algebra.rows} == {academy.algebra.id}
    geometry = load_queue(QueueFilters(), {academy.geometry.id})
    assert [(row.student_name, row.lecture_title, row.session_title) for row in geometry.rows] == [
        ("Kim Minho", "Geometry", "Triangles")]
    nothing = load_queue(QueueFilters(), set())
    assert nothing.count == 0 and nothing.rows == []


def test_one_row_only_when_visible_and_not_withdrawn(academy):
    risk = links_of(academy.jisoo, "AUTO_RISK")[0]
    row = load_row(risk.id, {academy.algebra.id})
    assert row is not None and row.link.id == risk.id and row.session_order == 2
    assert row.figures == ("Exam 40 (pass 60)",)
    assert load_row(risk.id, {academy.geometry.id}) is None
    assert load_row(risk.id, set()) is None
    assert load_row(links_of(academy.choi)[0].id, None) is None
    assert load_row(10**6, None) is None


def test_choices_follow_the_visible_lectures(academy):
    teacher_b = load_choices({academy.geometry.id})
    assert teacher_b.lectures == [(academy.geometry.id, "Geometry")]
    assert [session[0] for session in teacher_b.sessions] == [academy.geometry_week.id]
    assert teacher_b.enrollments == [(academy.minho.id, academy.geometry.id, "Kim Minho")]

    everyone = load_choices(None)
    assert [title for _id, title in everyone.lectures] == ["Algebra II", "Geometry"]
    # Choi is withdrawn: nobody can request a clinic for her.
    assert [name for _id, _lecture, name in everyone.enrollments] == [
        "Kim Minji", "Lee Jisoo", "Park_100%", "Kim Minho"]
    assert load_choices(set()).lectures == []


# ---------------------------------------------------------------- filters and search

def test_filters_narrow_the_queue(academy):
    risk = links_of(academy.jisoo, "AUTO_RISK")[0]
    manual = make_manual_link(academy.minji, academy.weeks[0])
    assert ids(QueueFilters(reason="AUTO_RISK")) == [risk.id]
    assert ids(QueueFilters(kind="manual")) == [manual.id]
    assert len(ids(QueueFilters(kind="auto"))) == 8
    assert set(ids(QueueFilters(lecture=academy.geometry.id))) == {links_of(academy.minho)[0].id}
    week2 = set(ids(QueueFilters(session=academy.weeks[1].id)))
    assert week2 == {link.id for link in links_of(academy.jisoo) + links_of(academy.park)
                     if link.session_id == academy.weeks[1].id}

    risk.approved = True
    db.session.flush()
    assert ids(QueueFilters(approved=True)) == [risk.id]
    assert risk.id not in ids(QueueFilters(approved=False))


def test_search_takes_wildcards_literally(academy):
    """"k_" as a LIKE wildcard would also match "Kim ..."; taken literally only Park_100% has it."""
    park = {link.id for link in links_of(academy.park)}
    assert set(ids(QueueFilters(q="k_"))) == park
    assert set(ids(QueueFilters(q="100%"))) == park
    assert set(ids(QueueFilters(q="lee jisoo"))) == {link.id for link in links_of(academy.jisoo)}
    assert ids(QueueFilters(q="Choi")) == []  # withdrawn


# ---------------------------------------------------------------- ordering and paging

def test_open_queue_is_oldest_first_and_history_latest_resolved_first(academy):
    jisoo = links_of(academy.jisoo)
    park = links_of(academy.park)
    moment = datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc)
    park[2].created_at = moment - timedelta(days=30)  # the oldest, though not the first made
    jisoo[0].resolved_at = moment
    park[0].resolved_at = moment + timedelta(hours=1)
    jisoo[1].resolved_at = moment  # same time as jisoo[0]: the larger id first
    db.session.flush()

    open_ids = ids(QueueFilters())
    assert open_ids[0] == park[2].id and len(open_ids) == 5
    rows = load_queue(QueueFilters(), None).rows
    assert [(row.link.created_at, row.link.id) for row in rows] == sorted(
        (row.link.created_at, row.link.id) for row in rows)

    history = load_queue(QueueFilters(tab="resolved"), None)
    assert history.count == 3
    assert [row.link.id for row in history.rows] == [park[0].id, *sorted((jisoo[0].id, jisoo[1].id), reverse=True)]


def test_pages_and_the_unpaged_rows(academy, monkeypatch):
    every = ids(QueueFilters())
    assert len(every) == 8
    monkeypatch.setattr(clinic_queue, "PAGE_SIZE", 3)
    pages = [load_queue(QueueFilters(page=page), None) for page in (1, 2, 3)]
    assert [len(page.rows) for page in pages] == [3, 3, 2]
    assert [page.has_next for page in pages] == [True, True, False]
    assert all(page.count == 8 for page in pages)
    assert [row.link.id for page in pages for row in page.rows] == every

    assert [row.link.id for row in load_all_rows(QueueFilters(page=2), None)] == every
    assert [row.link.id for row in load_all_rows(QueueFilters(), {academy.geometry.id})] == [
        links_of(academy.minho)[0].id]

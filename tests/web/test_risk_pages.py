"""The Risk page: the risk log as a filterable history, scoped by role, with links to student pages.

The academy is tests/web/factories.build_academy (today 2026-04-01). Its recompute logged, worked
by hand: Lee Jisoo and Park_100% DANGER by CONSECUTIVE_INCOMPLETE (3 failed in a row, at week 3);
Choi Yuna the same but withdrawn (hidden); nobody by the low-score rule (Jisoo's run is 1), and
Kim Minho (Geometry, 1 failed) nothing. The tests add a Geometry low-score WARNING by hand.
"""
from __future__ import annotations

import re

import pytest

from dashboard.extensions import db
from dashboard.models import RiskLog
from dashboard.progress.recompute import recompute_lecture

from tests.factories import build_academy, enroll
from .pages import HTMX
from .test_clinic_pages import sign_in_with_form

ROW = re.compile(r'<tr data-risk-log="(\d+)" data-enrollment="(\d+)">')


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.add(RiskLog(enrollment_id=built.minho.id, session_id=built.geometry_week.id, risk_level="WARNING",
                           rule="CONSECUTIVE_LOW_SCORE", reason="2 consecutive failed exams", meta={"count": 2}))
    db.session.commit()
    return built


def enrollments_shown(html: str) -> list[int]:
    return [int(enrollment) for _log, enrollment in ROW.findall(html)]


def test_anonymous_visitor_is_sent_to_login(client, academy):
    response = client.get("/risk/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("who,expected", [
    ("admin", {"jisoo", "park", "minho"}), ("staff", {"jisoo", "park", "minho"}),
    ("teacher_a", {"jisoo", "park"}), ("teacher_b", {"minho"}),
])
def test_each_role_sees_its_lectures_history(client, academy, who, expected):
    sign_in_with_form(client, academy.users[who])
    response = client.get("/risk/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert sorted(enrollments_shown(page)) == sorted(getattr(academy, name).id for name in expected)
    assert 'aria-current="page">Risk' in page
    if who == "teacher_b":
        assert "Algebra II" not in page


def test_full_page_and_htmx_partial(client, academy):
    sign_in_with_form(client, academy.users["staff"])
    full = client.get("/risk/").get_data(as_text=True)
    assert "<html" in full and 'id="risk-filters"' in full
    partial = client.get("/risk/?level=WARNING", headers=HTMX).get_data(as_text=True)
    assert partial.lstrip().startswith('<div id="risk-history"') and "<html" not in partial
    assert enrollments_shown(partial) == [academy.minho.id]


@pytest.mark.parametrize("query,expected", [
    ("level=DANGER", {"jisoo", "park"}),
    ("level=WARNING", {"minho"}),
    ("rule=CONSECUTIVE_INCOMPLETE", {"jisoo", "park"}),
    ("rule=CONSECUTIVE_LOW_SCORE", {"minho"}),
    ("lecture={geometry}", {"minho"}),
    ("lecture={algebra}&level=WARNING", set()),
    ("q=JISOO", {"jisoo"}),
    ("q=_100%25", {"park"}),
    ("level=nonsense", {"jisoo", "park", "minho"}),  # an unknown value is ignored
])
def test_filters_and_search(client, academy, query, expected):
    sign_in_with_form(client, academy.users["admin"])
    url = "/risk/?" + query.format(geometry=academy.geometry.id, algebra=academy.algebra.id)
    shown = enrollments_shown(client.get(url, headers=HTMX).get_data(as_text=True))
    assert sorted(shown) == sorted(getattr(academy, name).id for name in expected)


def test_rows_show_level_rule_session_and_link_to_the_student_page(client, academy):
    sign_in_with_form(client, academy.users["teacher_a"])
    page = client.get("/risk/?q=jisoo", headers=HTMX).get_data(as_text=True)
    assert f'href="/lectures/{academy.algebra.id}/students/{academy.jisoo.id}">Lee Jisoo</a>' in page
    assert 'data-risk="DANGER"' in page
    assert 'data-rule="CONSECUTIVE_INCOMPLETE"' in page and "3 sessions in a row not completed" in page
    assert ">CONSECUTIVE_INCOMPLETE<" not in page  # the code stays in the data- attribute
    assert "3. Week 3" in page


def test_names_are_escaped(client, academy):
    enroll("<b>Bold</b>", academy.algebra)
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    sign_in_with_form(client, academy.users["admin"])
    page = client.get("/risk/?q=bold").get_data(as_text=True)
    assert "<b>Bold</b>" not in page and "&lt;b&gt;Bold&lt;/b&gt;" in page
    assert len(enrollments_shown(page)) == 1


def test_a_page_past_the_end_is_404(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    assert client.get("/risk/?page=2").status_code == 404
    assert client.get("/risk/?page=1").status_code == 200



@pytest.mark.parametrize("query", ["lecture=99999999999999999999", "lecture=2147483648", "page=99999999999999999999"])
def test_numbers_beyond_any_id_are_ignored_like_other_unreadable_filters(client, academy, query):
    sign_in_with_form(client, academy.users["admin"])
    response = client.get(f"/risk/?{query}")
    assert response.status_code == 200
    assert sorted(enrollments_shown(response.get_data(as_text=True))) == sorted(
        getattr(academy, name).id for name in ("jisoo", "park", "minho"))

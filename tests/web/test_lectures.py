"""The lecture pages in the browser UI: lecture list, grid (full page vs htmx partial), statuses,
search/filter/sort, CSV export, student page, roles, escaping, security headers and languages.

The academy is tests/web/factories.build_academy (worked by hand there; today 2026-04-01).
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest

from dashboard.extensions import db
from dashboard.progress.recompute import recompute_lecture

from tests.factories import build_academy, enroll, make_enrollment, make_session, make_student
from .pages import HTMX, cell_statuses, row_html, sign_in


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def grid_url(lecture) -> str:
    return f"/lectures/{lecture.id}/"


# ---------------------------------------------------------------- who may see what

def test_anonymous_visitor_is_sent_to_login(client, academy):
    response = client.get(grid_url(academy.algebra))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_home_lists_the_teachers_lectures_as_links_to_their_grids(client, academy):
    sign_in(client, academy.users["teacher_a"])
    html = client.get("/").get_data(as_text=True)
    assert f'<a href="/lectures/{academy.algebra.id}/">Algebra II</a>' in html
    assert "Geometry" not in html


def test_lecture_list_figures(client, academy):
    """Algebra II: 3 active students (Choi withdrew), 3 of 4 sessions held; Minji completed all
    3 held cells, Jisoo and Park none: 3/9 = 33 %; Jisoo and Park are DANGER."""
    sign_in(client, academy.users["admin"])
    html = client.get("/").get_data(as_text=True)
    card = re.search(rf'<li class="card lecture-card" data-lecture="{academy.algebra.id}">.*?</li>', html, re.S).group(0)
    figures = re.findall(r"<dd>(.*?)</dd>", card, re.S)
    assert figures[0] == "3"
    assert figures[1] == "3 / 4"
    assert figures[2].strip() == "33%"
    assert re.search(r'data-risk="WARNING".*?</span>\s*0', figures[3], re.S)
    assert re.search(r'data-risk="DANGER".*?</span>\s*2', figures[3], re.S)
    assert card.count("<rect") == 4  # one bar per session in the inline chart


def test_teacher_gets_404_for_another_teachers_lecture(client, academy):
    sign_in(client, academy.users["teacher_b"])
    algebra = academy.algebra.id
    cell = f"/lectures/{algebra}/cell?enrollment={academy.minji.id}&session={academy.weeks[0].id}"
    for path in (grid_url(academy.algebra), f"/lectures/{algebra}/grid.csv", cell,
                 f"/lectures/{algebra}/students/{academy.minji.id}"):
        assert client.get(path).status_code == 404, path
    assert client.get(grid_url(academy.geometry)).status_code == 200


def test_enrollment_of_another_lecture_is_404_in_this_lectures_url(client, academy):
    sign_in(client, academy.users["admin"])
    path = f"/lectures/{academy.algebra.id}/cell?enrollment={academy.minho.id}&session={academy.weeks[0].id}"
    assert client.get(path).status_code == 404
    assert client.get(f"/lectures/{academy.algebra.id}/students/{academy.minho.id}").status_code == 404
    assert client.get(f"/lectures/{academy.algebra.id}/cell?enrollment=x&session=1").status_code == 404
    huge = 2**31
    assert client.get(f"/lectures/{huge}/").status_code == 404
    assert client.get(f"/lectures/{academy.algebra.id}/students/{huge}").status_code == 404
    assert client.get(f"/lectures/{academy.algebra.id}/cell?enrollment={huge}&session=1").status_code == 404


def test_unknown_lecture_shows_the_404_page_and_the_api_keeps_json(client, academy):
    sign_in(client, academy.users["admin"])
    page = client.get("/lectures/999999/")
    assert page.status_code == 404
    assert "Not found" in page.get_data(as_text=True)
    assert page.mimetype == "text/html"
    api = client.get("/api/progress/nothing-here/")
    assert api.status_code in (401, 404)
    assert api.is_json


# ---------------------------------------------------------------- grid: page vs partial, statuses

def test_grid_full_page_and_htmx_partial(client, academy):
    sign_in(client, academy.users["teacher_a"])
    full = client.get(grid_url(academy.algebra))
    partial = client.get(grid_url(academy.algebra), headers=HTMX)
    assert full.status_code == partial.status_code == 200
    full_html, partial_html = full.get_data(as_text=True), partial.get_data(as_text=True)
    assert full_html.startswith("<!doctype html>")
    assert partial_html.lstrip().startswith('<div id="grid"')
    assert "<html" not in partial_html
    assert "HX-Request" in full.headers["Vary"] and "HX-Request" in partial.headers["Vary"]
    # The partial is the very block the page includes.
    assert cell_statuses(full_html) == cell_statuses(partial_html)


def test_grid_cell_statuses(client, academy):
    """Minji: three completed, week 4 upcoming. Jisoo: due and not completed -> incomplete.
    A session on 03-28 is held but not due (grace 7 days) -> pending. A student who started on
    03-05 has `none` for week 1 (03-02)."""
    recent = make_session(academy.algebra, 5, date(2026, 3, 28))
    late = make_enrollment(make_student("Late Starter"), academy.algebra, start_date=date(2026, 3, 5))
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    sign_in(client, academy.users["admin"])
    statuses = cell_statuses(client.get(grid_url(academy.algebra)).get_data(as_text=True))
    w1, w2, w3 = (week.id for week in academy.weeks)
    assert [statuses[(academy.minji.id, s)] for s in (w1, w2, w3)] == ["completed"] * 3
    assert statuses[(academy.minji.id, academy.upcoming.id)] == "upcoming"
    assert statuses[(academy.jisoo.id, w1)] == "incomplete"
    assert statuses[(academy.jisoo.id, recent.id)] == "pending"
    assert statuses[(late.id, w1)] == "none"
    assert statuses[(late.id, w2)] == "incomplete"
    assert (academy.choi.id, w1) not in statuses  # withdrawn: hidden by default


def test_grid_row_summary_and_badges(client, academy):
    sign_in(client, academy.users["admin"])
    html = client.get(grid_url(academy.algebra)).get_data(as_text=True)
    jisoo = row_html(html, academy.jisoo.id)
    assert 'data-risk="DANGER"' in jisoo and "3 in a row" in jisoo
    minji = row_html(html, academy.minji.id)
    assert 'data-risk="NORMAL"' in minji and "✓ 3/3" in minji


def test_upcoming_session_column_is_greyed(client, academy):
    sign_in(client, academy.users["admin"])
    html = client.get(grid_url(academy.algebra)).get_data(as_text=True)
    assert f'<th scope="col" data-session="{academy.upcoming.id}" class="upcoming">' in html
    assert f'<th scope="col" data-session="{academy.weeks[0].id}">' in html


def test_search_filter_sort_and_withdrawn(client, academy):
    sign_in(client, academy.users["admin"])
    url = grid_url(academy.algebra)

    def names(query: str) -> list[str]:
        html = client.get(url + query, headers=HTMX).get_data(as_text=True)
        return re.findall(r'class="student-name"[^>]*>([^<]+)</a>', html)

    assert names("") == ["Kim Minji", "Lee Jisoo", "Park_100%"]
    assert names("?q=minj") == ["Kim Minji"]
    assert names("?q=MINJI") == ["Kim Minji"]
    assert names("?q=%25") == ["Park_100%"]  # % is taken literally
    assert names("?risk=DANGER") == ["Lee Jisoo", "Park_100%"]
    assert names("?risk=NORMAL") == ["Kim Minji"]
    assert names("?sort=risk") == ["Lee Jisoo", "Park_100%", "Kim Minji"]
    assert names("?sort=completion")[-1] == "Kim Minji"
    assert names("?withdrawn=1") == ["Choi Yuna", "Kim Minji", "Lee Jisoo", "Park_100%"]
    assert names("?sort=bogus&risk=bogus") == ["Kim Minji", "Lee Jisoo", "Park_100%"]


def test_page_has_no_inline_script_or_style_and_sends_security_headers(client, academy):
    sign_in(client, academy.users["admin"])
    response = client.get(grid_url(academy.algebra))
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html and "<style" not in html
    assert " hx-on" not in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert '<body hx-headers=\'{"X-CSRFToken": "' in html
    assert 'name="htmx-config"' in html and '"includeIndicatorStyles": false' in html


def test_session_cookie_flags(client, academy):
    response = client.get("/login")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_grid_tables_are_accessible(client, academy):
    sign_in(client, academy.users["admin"])
    html = client.get(grid_url(academy.algebra)).get_data(as_text=True)
    assert "<caption" in html
    assert html.count('<th scope="row">') == 3
    assert '<label for="grid-q">' in html and 'hx-trigger="search, keyup delay:200ms changed"' in html


# ---------------------------------------------------------------- escaping

def test_script_in_a_student_name_shows_as_text(client, academy):
    evil = enroll("<script>alert(1)</script>", academy.algebra)
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    sign_in(client, academy.users["admin"])
    pages = [
        client.get(grid_url(academy.algebra)),
        client.get(f"/lectures/{academy.algebra.id}/cell?enrollment={evil.id}&session={academy.weeks[0].id}",
                   headers=HTMX),
        client.get(f"/lectures/{academy.algebra.id}/students/{evil.id}"),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ---------------------------------------------------------------- CSV

def test_csv_export_is_utf8_with_bom_and_korean_names(client, academy):
    enroll("김민지", academy.algebra)
    enroll("=HYPERLINK(1)", academy.algebra)
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    sign_in(client, academy.users["teacher_a"])
    response = client.get(f"/lectures/{academy.algebra.id}/grid.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Student", "Risk", "Consecutive", "Completed", "Failed", "Held"]
    assert rows[0][6:] == ["1 Week 1", "2 Week 2", "3 Week 3", "4 Week 4"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Kim Minji"][1:] == ["NORMAL", "0", "3", "0", "3", "completed", "completed", "completed", "upcoming"]
    assert by_name["Lee Jisoo"][1:6] == ["DANGER", "3", "0", "3", "3"]
    assert "김민지" in by_name
    assert "'=HYPERLINK(1)" in by_name  # a spreadsheet must not run it as a formula


def test_csv_follows_the_filters(client, academy):
    sign_in(client, academy.users["admin"])
    response = client.get(f"/lectures/{academy.algebra.id}/grid.csv?risk=DANGER")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["Lee Jisoo", "Park_100%"]


# ---------------------------------------------------------------- student page

def test_student_page_shows_timeline_risk_history_and_clinic_links(client, academy):
    sign_in(client, academy.users["teacher_a"])
    response = client.get(f"/lectures/{academy.algebra.id}/students/{academy.jisoo.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<svg class=\"timeline\"" in html
    assert 'data-risk="DANGER"' in html
    assert "CONSECUTIVE_INCOMPLETE" in html
    assert html.count("data-link-id=") == 4  # AUTO_FAILED x3 and AUTO_RISK on Week 2
    # Week 2's quiz: score 40 against pass line 60.
    week2 = re.search(rf'<tr data-session="{academy.weeks[1].id}".*?</tr>', html, re.S).group(0)
    assert ">40<" in week2 and ">60<" in week2 and 'data-status="incomplete"' in week2


# ---------------------------------------------------------------- languages

def test_korean_for_a_browser_that_asks_for_it(client, academy):
    sign_in(client, academy.users["admin"])
    korean = client.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}).get_data(as_text=True)
    english = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="ko">' in korean and "강의" in korean
    assert '<html lang="en">' in english and "Lectures" in english


def test_korean_for_a_user_whose_setting_asks_for_it(client, academy):
    academy.users["admin"].locale = "ko"
    db.session.commit()
    sign_in(client, academy.users["admin"])
    html = client.get(grid_url(academy.algebra), headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ko">' in html
    assert 'data-status="completed"' in html  # the hooks stay the same in every language

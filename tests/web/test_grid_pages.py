"""The grid's pages beyond the first, its footer and its CSV, through the test client.

Academy: tests/factories.build_academy (today 2026-04-01). Algebra II's active students are Kim
Minji, Lee Jisoo and Park_100%; Choi Yuna has withdrawn (her rows are kept, and count nowhere
in the footer). Weeks 1-3 held and due, Week 4 upcoming; a quiz on Week 2 only (exams count from
order 2). Minji completed every week with 72.5 on the quiz; Jisoo has 40 and nothing else; Park
has nothing.
"""
from __future__ import annotations

import csv
import io
import re

import pytest

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.lectures import grid
from dashboard.models import Enrollment, Student
from dashboard.progress.recompute import recompute_lecture
from dashboard.synthetic import build_lecture

from tests.factories import build_academy
from .pages import HTMX, cell_statuses, csrf_token, sign_in

NAME = re.compile(r'class="student-name"[^>]*>([^<]+)</a>')


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def footer(html: str, kind: str) -> dict[int, str]:
    """Session id -> the footer's text for `completed` or `mean`."""
    return {int(s): text for s, text in re.findall(rf'<td data-foot-{kind}="(\d+)">([^<]*)</td>', html)}


def test_the_footer_per_session_over_active_students(client, academy):
    """Week 1: Minji alone completed it of three active students: 1/3 = 33.33 -> 33 %; out of exam
    range, so no mean. Week 2: 1/3 -> 33 %; quiz 72.5 and 40 (Park sat nothing) -> 56.25.
    Week 3: 33 %, no exam. Week 4 is not held: nothing to count. (With withdrawn Choi the shares
    would be 1/4 = 25 %.)"""
    sign_in(client, academy.users["admin"])
    html = client.get(f"/lectures/{academy.algebra.id}/").get_data(as_text=True)
    w1, w2, w3 = (week.id for week in academy.weeks)
    w4 = academy.upcoming.id
    assert footer(html, "completed") == {w1: "33%", w2: "33%", w3: "33%", w4: "–"}
    assert footer(html, "mean") == {w1: "–", w2: "56.25", w3: "–", w4: "–"}
    # The footer is the lecture's, whatever the search: it does not change with the rows shown.
    searched = client.get(f"/lectures/{academy.algebra.id}/?q=minji", headers=HTMX).get_data(as_text=True)
    assert footer(searched, "completed") == footer(html, "completed")


def test_a_save_swaps_the_footer_in_place(client, academy):
    """Park's video 95 completes his Week 3: 2/3 = 66.67 -> 67 %. Then he sits the quiz with 80:
    (72.5 + 40 + 80) / 3 = 64.1666... -> 64.17 (half-up, once)."""
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    headers = {**HTMX, "X-CSRFToken": token}
    week2, week3 = academy.weeks[1], academy.weeks[2]
    base = f"/lectures/{academy.algebra.id}/cell"
    answer = client.post(f"{base}/activity?enrollment={academy.park.id}&session={week3.id}",
                         data={"activity-attendance": "online", "activity-video_rate": "95"}, headers=headers)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert '<tfoot id="grid-foot" hx-swap-oob="true">' in html
    assert footer(html, "completed")[week3.id] == "67%"
    answer = client.post(f"{base}/exams/{academy.quiz.id}/attempts?enrollment={academy.park.id}&session={week2.id}",
                         data={f"exam{academy.quiz.id}-score": "80", f"exam{academy.quiz.id}-submitted_at": ""},
                         headers=headers)
    assert answer.status_code == 200
    assert footer(answer.get_data(as_text=True), "mean")[week2.id] == "64.17"


def test_the_first_page_then_the_rest_when_asked(client, academy):
    """75 students by name: the page holds the first 30 and a row that asks for `from=30`; that
    answer holds the other 45 (a next page is up to 60) and asks for nothing more."""
    lecture_id = build_lecture(75, 4, 1, 1, seed=3)
    recompute_lecture(lecture_id)
    db.session.commit()
    sign_in(client, academy.users["admin"])
    url = f"/lectures/{lecture_id}/"
    first = client.get(url).get_data(as_text=True)
    assert NAME.findall(first) == [f"Student {n:04d}" for n in range(1, 31)]
    assert len(cell_statuses(first)) == 30 * 4
    assert "75 of 75 students" in first
    more = re.search(r'<tr id="grid-more" class="grid-more" hx-get="([^"]+)"', first)
    last_shown = _enrollment_of(lecture_id, "Student 0030")
    assert more and more.group(1).replace("&amp;", "&") == f"{url}?from=30&after={last_shown}"
    assert 'aria-rowcount="78"' in first  # header, 75 students, two footer rows

    rest = client.get(more.group(1).replace("&amp;", "&"), headers=HTMX).get_data(as_text=True)
    assert NAME.findall(rest) == [f"Student {n:04d}" for n in range(31, 76)]
    assert len(cell_statuses(rest)) == 45 * 4
    assert "grid-more" not in rest and "<tfoot" not in rest and "<html" not in rest
    assert 'aria-rowindex="32"' in rest.split("</tr>")[0]  # Student 0031 is the 32nd row
    # Without JavaScript the same link is a page of its own.
    assert client.get(more.group(1).replace("&amp;", "&")).get_data(as_text=True).startswith("<!doctype html>")


def _enrollment_of(lecture_id: int, name: str) -> int:
    return db.session.execute(
        select(Enrollment.id).join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.lecture_id == lecture_id, Student.name == name)
    ).scalar_one()


def test_the_next_page_follows_the_last_row_shown_when_the_order_moved_meanwhile(client, academy):
    """The page holds Student 0001 to 0030. Someone renames Student 0005 so that it sorts after
    0050. Counted by position, the next page would now start at 0032 and 0031 would never be
    shown; the next page follows the last row shown instead: 0031 to 0075, with the renamed
    student once more in its new place (the browser drops the earlier copy, static/grid.js)."""
    lecture_id = build_lecture(75, 2, 0, 0, seed=8)
    recompute_lecture(lecture_id)
    db.session.commit()
    sign_in(client, academy.users["admin"])
    first = client.get(f"/lectures/{lecture_id}/").get_data(as_text=True)
    more = re.search(r'id="grid-more" class="grid-more" hx-get="([^"]+)"', first).group(1).replace("&amp;", "&")
    renamed = db.session.get(Student, db.session.get(Enrollment, _enrollment_of(lecture_id, "Student 0005")).student_id)
    renamed.name = "Student 0050b"
    db.session.commit()
    rest = NAME.findall(client.get(more, headers=HTMX).get_data(as_text=True))
    expected = [f"Student {n:04d}" for n in range(31, 76)]
    assert rest == expected[:20] + ["Student 0050b"] + expected[20:]
    # A next page whose last row left the list (withdrawn, filtered out) falls back to the position.
    gone = grid.load_grid(lecture_id, grid.GridQuery(start=30, after=999_999), limit=60)
    assert gone.start == 30 and gone.rows[0].name == "Student 0032"


def test_later_pages_keep_the_search_filter_and_sort(client, academy):
    lecture_id = build_lecture(80, 3, 0, 0, seed=4)
    recompute_lecture(lecture_id)
    db.session.commit()
    everyone = grid.load_grid(lecture_id, grid.GridQuery(sort="completion"))
    expected = [row.name for row in everyone.rows]
    db.session.rollback()
    sign_in(client, academy.users["admin"])
    first = client.get(f"/lectures/{lecture_id}/?sort=completion", headers=HTMX).get_data(as_text=True)
    more = re.search(r'id="grid-more" class="grid-more" hx-get="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert more == f"/lectures/{lecture_id}/?sort=completion&from=30&after={everyone.rows[29].enrollment_id}"
    rest = client.get(more, headers=HTMX).get_data(as_text=True)
    assert NAME.findall(first) + NAME.findall(rest) == expected


def test_csv_holds_every_row_whatever_the_page(client, academy):
    lecture_id = build_lecture(75, 2, 0, 0, seed=5)
    recompute_lecture(lecture_id)
    db.session.commit()
    sign_in(client, academy.users["admin"])
    page = client.get(f"/lectures/{lecture_id}/?from=30").get_data(as_text=True)
    link = re.search(r'href="([^"]+grid\.csv[^"]*)"', page).group(1)
    assert "from=" not in link
    for url in (link, f"/lectures/{lecture_id}/grid.csv?from=30"):
        text = client.get(url).get_data().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert [row[0] for row in rows[1:]] == [f"Student {n:04d}" for n in range(1, 76)]


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "٣"])
def test_a_strange_page_start_is_the_first_page(client, academy, value):
    sign_in(client, academy.users["admin"])
    html = client.get(f"/lectures/{academy.algebra.id}/?from={value}").get_data(as_text=True)
    assert NAME.findall(html) == ["Kim Minji", "Lee Jisoo", "Park_100%"]


def test_a_page_of_rows_costs_the_same_statements_whatever_the_lecture_size(client, academy, count_queries):
    """The first page of a 20-student and of a 150-student lecture, and a later page: the same
    number of statements (students, cells of the page, roll calls, footer…), not one per row."""
    small = build_lecture(20, 5, 1, 1, seed=6)
    large = build_lecture(150, 5, 1, 1, seed=7)
    for lecture_id in (small, large):
        recompute_lecture(lecture_id)
    db.session.commit()
    sign_in(client, academy.users["admin"])
    counts = []
    for url in (f"/lectures/{small}/", f"/lectures/{large}/", f"/lectures/{large}/?from=30"):
        client.get(url)  # the session's user and any first-of-the-day work, out of the count
        with count_queries() as counter:
            assert client.get(url, headers=HTMX if "from" in url else {}).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]
    assert counts[2] <= counts[1]

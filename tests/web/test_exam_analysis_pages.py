"""The exam analysis page and the class average on a student's page, through the test client.

Academy: tests/factories.build_academy. Its quiz (pass 60) is also linked here to Geometry's
session, so it is shared by two lectures: Algebra has Kim Minji 72.5 and Lee Jisoo 40, and the
withdrawn Choi 100 (left out of every figure); Geometry has Kim Minho 80. Answers stored:
Minji q1 right, q2 wrong; Jisoo q1 wrong, q2 wrong; Minho q1 wrong.
"""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard.extensions import db
from dashboard.models import AnswerFact, Attempt, ExamSession

from tests.factories import build_academy, make_attempt
from .pages import sign_in

KST = ZoneInfo("Asia/Seoul")


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.add(ExamSession(exam_id=built.quiz.id, session_id=built.geometry_week.id))
    db.session.flush()
    make_attempt(built.choi, built.quiz, 100, submitted_at=datetime(2026, 3, 9, 11, 0, tzinfo=KST))
    minho = make_attempt(built.minho, built.quiz, 80, submitted_at=datetime(2026, 3, 2, 11, 0, tzinfo=KST))
    attempts = {a.enrollment_id: a.id for a in db.session.query(Attempt).filter(Attempt.exam_id == built.quiz.id)}
    for enrollment, question, right in ((built.minji, 1, True), (built.minji, 2, False), (built.jisoo, 1, False),
                                        (built.jisoo, 2, False)):
        db.session.add(AnswerFact(attempt_id=attempts[enrollment.id], question=question, is_correct=right))
    db.session.add(AnswerFact(attempt_id=minho.id, question=1, is_correct=False))
    db.session.commit()
    return built


def url(academy, **args) -> str:
    query = "".join(f"?{name}={value}" for name, value in args.items())
    return f"/exams/{academy.quiz.id}/analysis{query}"


def figures(html: str) -> dict[str, str]:
    return {name: value.strip() for name, value in
            re.findall(r'data-figure="(\w+)"><dt>[^<]*</dt><dd>([^<]*)</dd>', html)}


def questions(html: str) -> list[tuple[int, int, int, str]]:
    return [(int(q), int(w), int(a), share) for q, w, a, share in re.findall(
        r'<tr data-question="(\d+)"><th scope="row">\d+</th><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td><td class="num">([\d.]+)%</td>', html)]


def ranked(html: str) -> list[tuple[str, str]]:
    body = re.search(r'id="exam-ranking".*?</table>', html, re.S).group(0)
    return re.findall(r'<td class="num">(\d+)</td>\s*<td><a href="[^"]+">([^<]+)</a>', body)


def test_a_teacher_sees_their_own_class_only(client, academy):
    # Algebra: 72.5 and 40. Mean 56.25, median 56.25, each 16.25 from it: deviation 16.25; 1 of 2 passes.
    sign_in(client, academy.users["teacher_a"])
    page = client.get(url(academy))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert figures(html) == {"count": "2", "mean": "56.25", "median": "56.25", "low": "40", "high": "72.5",
                             "deviation": "16.25", "passed": "1 of 2 (50%)"}
    assert "Geometry" not in html and "Kim Minho" not in html and "Choi Yuna" not in html
    # q2 wrong for both (100 %), q1 for Jisoo only (50 %).
    assert questions(html) == [(2, 2, 2, "100"), (1, 1, 2, "50")]
    assert ranked(html) == [("1", "Kim Minji"), ("2", "Lee Jisoo")]
    assert client.get(url(academy, lecture=academy.geometry.id)).status_code == 404


def test_an_admin_sees_both_lectures_together_and_apart(client, academy):
    # 72.5, 40, 80: sum 192.5 / 3 = 64.1666 -> 64.17; median 72.5; population deviation
    # sqrt(((8.33)^2 + (24.17)^2 + (15.83)^2) / 3) = sqrt(301.39) = 17.36; 72.5 and 80 pass: 66.7 %.
    sign_in(client, academy.users["admin"])
    html = client.get(url(academy)).get_data(as_text=True)
    assert figures(html) == {"count": "3", "mean": "64.17", "median": "72.5", "low": "40", "high": "80",
                             "deviation": "17.36", "passed": "2 of 3 (66.7%)"}
    assert re.search(rf'<tr data-lecture="{academy.geometry.id}"><th scope="row">Geometry</th>', html)
    # q1: Jisoo and Minho wrong of 3 (66.7 %); q2: 2 of 2 (100 %) first.
    assert questions(html) == [(2, 2, 2, "100"), (1, 2, 3, "66.7")]
    assert ranked(html) == [("1", "Kim Minho"), ("2", "Kim Minji"), ("3", "Lee Jisoo")]
    # The histogram: 40 in 40-50, 72.5 in 70-80, 80 in 80-90; its table carries the same counts.
    counts = re.findall(r'<tr data-bin="(\d)"><th scope="row">[^<]*</th><td class="num">(\d+)</td>', html)
    assert [int(c) for _b, c in counts] == [0, 0, 0, 0, 1, 0, 0, 1, 1, 0]
    assert '<svg class="histogram"' in html and 'aria-labelledby="histogram-svg-title histogram-svg-desc"' in html
    one = client.get(url(academy, lecture=academy.geometry.id)).get_data(as_text=True)
    assert figures(one)["count"] == "1" and figures(one)["mean"] == "80"
    assert "Lee Jisoo" not in one


@pytest.mark.parametrize("who, status", [("staff", 200), ("teacher_b", 200), ("admin", 200)])
def test_who_may_read(client, academy, who, status):
    sign_in(client, academy.users[who])
    assert client.get(url(academy)).status_code == status


def test_teacher_b_sees_geometry_alone(client, academy):
    sign_in(client, academy.users["teacher_b"])
    html = client.get(url(academy)).get_data(as_text=True)
    assert figures(html)["count"] == "1" and "Algebra II" not in html and "Kim Minji" not in html


def test_unknown_exam_bad_lecture_and_anonymous(client, academy):
    assert client.get(url(academy)).status_code == 302  # to the login form
    sign_in(client, academy.users["admin"])
    assert client.get("/exams/999999/analysis").status_code == 404
    assert client.get(url(academy, lecture="abc")).status_code == 404
    assert client.get(url(academy, lecture="99999999999")).status_code == 404


def test_the_grid_header_and_the_student_page_link_to_it(client, academy):
    sign_in(client, academy.users["teacher_a"])
    grid = client.get(f"/lectures/{academy.algebra.id}/").get_data(as_text=True)
    assert f'href="/exams/{academy.quiz.id}/analysis?lecture={academy.algebra.id}"' in grid
    student = client.get(f"/lectures/{academy.algebra.id}/students/{academy.minji.id}").get_data(as_text=True)
    row = re.search(rf'<tr data-exam="{academy.quiz.id}">.*?</tr>', student, re.S).group(0)
    # Her 72.5 beside the class average of the active students: (72.5 + 40) / 2 = 56.25.
    assert re.search(r"data-score>72.5<", row)
    assert re.search(r"data-class-average>56.25 ", row)
    assert f'/exams/{academy.quiz.id}/analysis?lecture={academy.algebra.id}' in row

"""Spreadsheets out: the lecture's scores export, the grid and a session's column, as CSV and as
Excel workbooks, with formula-looking text neutralised in both.

Academy: tests/factories.build_academy (Algebra Week 1..4, the quiz on Week 2: Minji 72.5, Jisoo
40; Minji video 95 everywhere). Here Park is renamed "=1+2" (a formula if a spreadsheet ran it),
Week 2 gets a homework that Minji submitted with 85, approved, and Jisoo's roll call in Week 2 is
"late".
"""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from dashboard.extensions import db
from dashboard.models import Activity, Student

from tests.factories import build_academy, make_homework, make_submission
from .pages import sign_in


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.get(Student, built.park.student_id).name = "=1+2"
    built.homework = make_homework(built.weeks[1])
    built.homework.title = "Worksheet"
    make_submission(built.minji, built.homework, submitted=True, score=85, approved=True)
    db.session.add(Activity(enrollment_id=built.jisoo.id, session_id=built.weeks[1].id, attendance="offline",
                            video_rate=0, presence="late"))
    db.session.commit()
    return built


def read_csv(response) -> list[list[str]]:
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def read_xlsx(response) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_the_lecture_scores_export_as_csv(client, academy):
    sign_in(client, academy.users["teacher_a"])
    response = client.get(f"/lectures/{academy.algebra.id}/scores.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = read_csv(response)
    quiz = academy.quiz.title
    assert rows[0] == ["Student", "Student ID", "1 presence", "1 video", "2 presence", "2 video", f"2 {quiz}",
                       "2 Worksheet submitted", "2 Worksheet score", "2 Worksheet approved",
                       "3 presence", "3 video", "4 presence", "4 video"]
    by_name = {row[0]: row for row in rows[1:]}
    # Active students only, by name ("'=1+2" sorts first); Choi has withdrawn.
    assert [row[0] for row in rows[1:]] == ["'=1+2", "Kim Minji", "Lee Jisoo"]
    assert by_name["Kim Minji"][2:] == ["", "95", "", "95", "72.5", "yes", "85", "yes", "", "95", "", "0"]
    assert by_name["Lee Jisoo"][2:] == ["", "0", "late", "0", "40", "", "", "", "", "0", "", "0"]
    assert by_name["'=1+2"][2:] == ["", "0", "", "0", "", "", "", "", "", "0", "", "0"]


def test_the_lecture_scores_export_as_a_workbook(client, academy):
    sign_in(client, academy.users["staff"])
    response = client.get(f"/lectures/{academy.algebra.id}/scores.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = read_xlsx(response)
    minji = next(row for row in rows if row[0] == "Kim Minji")
    assert minji[2:10] == [None, 95, None, 95, 72.5, "yes", 85, "yes"]  # numbers stay numbers
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    park = next(row for row in sheet.iter_rows() if row[0].value == "=1+2")[0]
    assert park.data_type == "s" and park.quotePrefix  # text, never a formula
    assert b"<f>" not in response.get_data()


def test_the_grid_as_a_workbook_and_csv(client, academy):
    sign_in(client, academy.users["admin"])
    rows = read_xlsx(client.get(f"/lectures/{academy.algebra.id}/grid.xlsx"))
    assert rows[0][:6] == ["Student", "Risk", "Consecutive", "Completed", "Failed", "Held"]
    minji = next(row for row in rows if row[0] == "Kim Minji")
    assert minji[1:6] == ["NORMAL", 0, 3, 0, 3]
    assert minji[6:] == ["completed", "completed", "completed", "upcoming"]
    as_csv = read_csv(client.get(f"/lectures/{academy.algebra.id}/grid.csv"))
    assert [row[0] for row in as_csv[1:]] == [row[0] if not str(row[0]).startswith("=") else "'" + row[0]
                                              for row in rows[1:]]


def test_a_sessions_column_as_a_workbook(client, academy):
    sign_in(client, academy.users["teacher_a"])
    response = client.get(f"/lectures/{academy.algebra.id}/sessions/{academy.weeks[1].id}/entry.xlsx")
    assert response.status_code == 200
    rows = read_xlsx(response)
    assert rows[0] == ["enrollment_id", "Student", "Roll call", "Video (%)", academy.quiz.title,
                       "Worksheet: submitted", "Worksheet: score", "Worksheet: approved", "Status"]
    jisoo = next(row for row in rows if row[1] == "Lee Jisoo")
    assert jisoo == [academy.jisoo.id, "Lee Jisoo", "late", 0, 40, "no", None, "no", "incomplete"]


@pytest.mark.parametrize("path", ["scores.csv", "scores.xlsx", "grid.xlsx"])
def test_another_teachers_lecture_is_404(client, academy, path):
    sign_in(client, academy.users["teacher_b"])
    assert client.get(f"/lectures/{academy.algebra.id}/{path}").status_code == 404
    assert client.get(f"/lectures/{academy.algebra.id}/scores.pdf").status_code == 404

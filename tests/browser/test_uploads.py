"""Spreadsheet uploads in real Chromium: an Excel workbook of exam scores and a roster saved by
Korean Excel as CP949 CSV, each through the preview (the student, the item, stored → new) and
Apply.

Academy: tests/factories.build_academy (today 2026-04-01): the quiz on Week 2 with Kim Minji 72.5
and Lee Jisoo 40; Park_100% has no attempt.
"""
from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook
from playwright.sync_api import expect
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Attempt, Enrollment, Student

from .conftest import shot, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def uploads_url(live_url: str, academy) -> str:
    return f"{live_url}/setup/lectures/{academy.algebra.id}/uploads"


def test_an_excel_workbook_of_scores_through_preview_and_apply(page, live_url, academy):
    sign_in(page, live_url, "teacher_a")
    page.goto(uploads_url(live_url, academy))
    quiz = academy.quiz.id
    content = workbook([["student_id", "exam_id", "score", "student_name"],
                        [academy.minji.student_id, quiz, 80, "Kim Minji"],
                        [academy.jisoo.student_id, quiz, 40, "Lee Jisoo"],
                        [academy.park.student_id, quiz, 55.5, "Park_100%"]])
    section = page.locator("#upload-scores")
    section.locator('input[type="file"]').set_input_files(
        {"name": "scores.xlsx", "mimeType": XLSX, "buffer": content})
    section.get_by_role("button", name="Preview").click()
    counts = page.locator("#upload-counts")
    expect(counts).to_have_attribute("data-update", "1")
    expect(counts).to_have_attribute("data-create", "1")
    expect(counts).to_have_attribute("data-unchanged", "1")
    minji = page.locator('tr[data-line="2"]')
    expect(minji.locator("td[data-student]")).to_have_text("Kim Minji")
    expect(minji.locator('li[data-field="score"]')).to_have_text("score: 72.5 → 80")
    expect(page.locator('tr[data-line="4"] li[data-field="score"]')).to_have_text("score: — → 55.5")
    shot(page, "upload-xlsx-preview")
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.locator(".flash, [role=status]").first).to_contain_text("scores.xlsx applied (3 rows)")
    db.session.expire_all()
    scores = dict(db.session.execute(select(Attempt.enrollment_id, Attempt.score)
                                     .where(Attempt.exam_id == quiz)).all())
    assert scores[academy.minji.id] == Decimal(80)
    assert scores[academy.park.id] == Decimal("55.5")
    assert scores[academy.jisoo.id] == Decimal(40)


def test_a_cp949_roster_from_korean_excel_through_preview_and_apply(page, live_url, academy):
    sign_in(page, live_url, "teacher_a")
    page.goto(uploads_url(live_url, academy))
    text = f"name,student_id,contact\r\n김하늘,,010-1234-5678\r\nKim Minji,{academy.minji.student_id},010-9999-0000\r\n"
    content = text.encode("cp949")
    section = page.locator("#upload-roster")
    section.locator('input[type="file"]').set_input_files(
        {"name": "명단.csv", "mimeType": "text/csv", "buffer": content})
    section.get_by_role("button", name="Preview").click()
    new = page.locator('tr[data-line="2"]')
    expect(new).to_have_attribute("data-outcome", "create")
    expect(new.locator("td[data-student]")).to_have_text("김하늘")
    expect(new.locator('li[data-field="name"]')).to_have_text("name: — → 김하늘")
    minji = page.locator('tr[data-line="3"]')
    expect(minji).to_have_attribute("data-outcome", "update")
    expect(minji.locator('li[data-field="contact"]')).to_have_text("contact: — → 010-9999-0000")
    shot(page, "upload-cp949-preview")
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.locator(".flash, [role=status]").first).to_contain_text("applied (2 rows)")
    db.session.expire_all()
    student = db.session.execute(select(Student).where(Student.name == "김하늘")).scalar_one()
    assert student.contact == "010-1234-5678"
    assert db.session.execute(select(Enrollment.lecture_id).where(Enrollment.student_id == student.id)
                              ).scalar_one() == academy.algebra.id
    assert db.session.get(Student, academy.minji.student_id).contact == "010-9999-0000"

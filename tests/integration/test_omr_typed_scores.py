"""A score a person typed stands over the OMR sheet (docs/decisions.md): a correction of the scan,
a different result from the worker or an answer-key change rewrites the sheet's answers but never
the typed score; the scan's page shows both. On SQLite and PostgreSQL.

Academy: tests/factories.build_academy (today 2026-04-01). The quiz (Week 2, pass 60, max 100)
gets the key 1:"1" 2:"2" 3:"3" 4:"24", 25 points each. Minji has a paper attempt 1 (72.5); her
sheet, read right everywhere, becomes attempt 2 with 100.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.lectures import cells, entry
from dashboard.models import AnswerFact, Attempt, ExamQuestion, OmrScan
from dashboard.omr import answer_keys, intake as omr
from dashboard.progress.recompute import recompute_lecture

from tests.factories import ALL_RIGHT, add_answer_key, build_academy, read_scan
from tests.web.pages import sign_in


@pytest.fixture
def academy(app):
    built = build_academy()
    add_answer_key(built.quiz)
    built.scan_id = read_scan(built.quiz, built.minji, ALL_RIGHT)
    return built


def sheet_attempt(academy) -> Attempt:
    scan = db.session.get(OmrScan, academy.scan_id)
    return db.session.get(Attempt, scan.attempt_id)


def facts(attempt: Attempt) -> dict[int, bool]:
    return dict(db.session.execute(select(AnswerFact.question, AnswerFact.is_correct)
                                   .where(AnswerFact.attempt_id == attempt.id)).all())


def type_score(academy, score) -> None:
    """The roll call page's column save: a typed score replaces the result's (attempt 2's)."""
    entry.save_column(academy.users["admin"], academy.weeks[1],
                      {"rows": [{"enrollment_id": academy.minji.id, "scores": {str(academy.quiz.id): score}}]})


def test_the_sheet_alone_is_regraded_by_a_correction(academy):
    attempt = sheet_attempt(academy)
    assert (attempt.attempt_no, attempt.score, attempt.source) == (2, Decimal(100), "omr")
    # A person reads question 1 as "2": wrong, 75. Nobody typed the score: the sheet decides.
    omr.correct_answers(academy.users["admin"], academy.scan_id, {"answers": [{"question": 1, "detected": ["2"]}]})
    assert sheet_attempt(academy).score == Decimal(75)


def test_a_correction_keeps_a_typed_score_and_the_sheets_answers(academy):
    type_score(academy, 90)
    attempt = sheet_attempt(academy)
    assert (attempt.score, attempt.source) == (Decimal(90), "manual")
    omr.correct_answers(academy.users["admin"], academy.scan_id, {"answers": [{"question": 1, "detected": ["2"]}]})
    attempt = sheet_attempt(academy)
    assert (attempt.score, attempt.source) == (Decimal(90), "manual")  # the typed score stands
    assert facts(attempt) == {1: False, 2: True, 3: True, 4: True}  # the sheet as corrected
    assert db.session.get(OmrScan, academy.scan_id).status == "graded"


def test_a_new_result_from_the_worker_keeps_a_typed_score(academy):
    type_score(academy, 90)
    # The worker reads the sheet again, question 3 now blank: the sheet gives 75.
    again = [dict(a, detected=[], marking="blank") if a["question"] == 3 else a for a in ALL_RIGHT]
    omr.record_result(None, academy.scan_id, {"status": "DONE", "error": None, "result": {
        "identifier": {"status": "ok", "enrollment_id": academy.minji.id}, "answers": again}})
    attempt = sheet_attempt(academy)
    assert (attempt.score, attempt.source) == (Decimal(90), "manual")
    assert facts(attempt)[3] is False


def test_a_score_typed_in_the_cell_panel_is_kept_by_an_answer_key_change(academy):
    attempt = sheet_attempt(academy)
    cells.edit_attempt(academy.users["admin"], attempt.id, score=Decimal(88), submitted_at=attempt.submitted_at)
    assert (attempt.score, attempt.source) == (Decimal(88), "manual")
    # Question 4's points drop to 5: the sheet would give 80, the typed 88 stands.
    rows = [{"number": str(q.number), "answer": q.answer, "points": "5" if q.number == 4 else "25"}
            for q in db.session.execute(select(ExamQuestion).where(ExamQuestion.exam_id == academy.quiz.id)
                                        .order_by(ExamQuestion.number)).scalars()]
    answer_keys.save_answer_key(academy.users["admin"], academy.quiz.id, rows)
    assert sheet_attempt(academy).score == Decimal(88)


def test_editing_only_the_time_in_the_cell_panel_leaves_the_sheet_in_charge(academy):
    attempt = sheet_attempt(academy)
    cells.edit_attempt(academy.users["admin"], attempt.id, score=Decimal(100), submitted_at=attempt.submitted_at)
    assert attempt.source == "omr"


def test_the_scan_page_shows_the_typed_score_beside_the_sheets(client, academy):
    type_score(academy, 90)
    omr.correct_answers(academy.users["admin"], academy.scan_id, {"answers": [{"question": 1, "detected": ["2"]}]})
    recompute_lecture(academy.algebra.id)
    sign_in(client, academy.users["staff"])
    html = client.get(f"/omr/{academy.scan_id}/").get_data(as_text=True)
    assert 'id="omr-typed-score"' in html and 'data-sheet-score="75"' in html
    assert "a person typed 90 for this attempt; the sheet as read gives 75" in html
    queue = client.get("/omr/?needs_review=all").get_data(as_text=True)
    assert "data-typed-score" in queue

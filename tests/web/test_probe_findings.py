"""Holes an outside probe found, each with the test that keeps it closed (docs/decisions.md, "Trust").

The academy is tests.factories.build_academy (today 2026-04-01): teacher_a teaches Algebra II,
teacher_b Geometry only.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.accounts.access import can_edit_exam, can_read_exam, shown_exam_lecture_ids
from dashboard.extensions import db
from dashboard.models import ExamQuestion, ExamSession, TeacherLecture

from tests.factories import add_answer_key, build_academy
from .pages import HTMX, csrf_token, sign_in


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


# ---------------------------------------------------------------- an exam shared by two lectures

@pytest.fixture
def shared_quiz(academy):
    """The quiz linked to Algebra's week 2 and to Geometry's Triangles session too, with a key."""
    db.session.add(ExamSession(exam_id=academy.quiz.id, session_id=academy.geometry_week.id))
    add_answer_key(academy.quiz)
    db.session.commit()
    return academy.quiz


def stored_key(exam):
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(
        select(ExamQuestion.number, ExamQuestion.answer).where(ExamQuestion.exam_id == exam.id)
        .order_by(ExamQuestion.number))]


def key_form(token, rows):
    data = {"csrf_token": token, "action": "save"}
    for i, (number, answer, points) in enumerate(rows):
        data.update({f"questions-{i}-number": str(number), f"questions-{i}-answer": answer,
                     f"questions-{i}-points": str(points)})
    return data


def test_one_rule_for_shared_exams_edit_needs_every_lecture(academy, shared_quiz):
    users = academy.users
    assert [can_read_exam(users[w], shared_quiz.id) for w in ("admin", "staff", "teacher_a", "teacher_b")] == \
        [True, True, True, True]
    assert [can_edit_exam(users[w], shared_quiz.id) for w in ("admin", "staff", "teacher_a", "teacher_b")] == \
        [True, False, False, False]
    assert shown_exam_lecture_ids(users["teacher_a"], shared_quiz.id) == [academy.algebra.id]
    db.session.add(TeacherLecture(user_id=users["teacher_a"].id, lecture_id=academy.geometry.id))
    db.session.flush()
    assert can_edit_exam(users["teacher_a"], shared_quiz.id)


def test_a_teacher_of_one_lecture_may_not_change_a_shared_exams_key_nor_see_the_other_title(
        client, academy, shared_quiz):
    before = stored_key(shared_quiz)
    sign_in(client, academy.users["teacher_a"])
    page = client.get(f"/exams/{shared_quiz.id}/answer-key")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Algebra II" in html and "Geometry" not in html
    assert "questions-0-number" not in html  # read-only: no editor
    token = csrf_token(client, f"/exams/{shared_quiz.id}/answer-key")
    response = client.post(f"/exams/{shared_quiz.id}/answer-key", data=key_form(token, [(1, "5", 100)]),
                           headers=HTMX)
    assert response.status_code == 403
    assert stored_key(shared_quiz) == before


def test_a_teacher_of_one_lecture_may_not_edit_a_shared_exam_in_setup(client, academy, shared_quiz):
    sign_in(client, academy.users["teacher_a"])
    path = f"/setup/lectures/{academy.algebra.id}/exams/{shared_quiz.id}/edit"
    token = csrf_token(client, f"/setup/lectures/{academy.algebra.id}/exams")
    data = {"csrf_token": token, "exam-title": "Renamed", "exam-session_ids": str(academy.weeks[1].id),
            "exam-pass_score": "60", "exam-max_score": "100"}
    assert client.post(path, data=data).status_code == 403
    db.session.expire_all()
    assert db.session.get(type(shared_quiz), shared_quiz.id).title != "Renamed"


def test_a_teacher_of_every_lecture_changes_the_shared_key(client, academy, shared_quiz):
    db.session.add(TeacherLecture(user_id=academy.users["teacher_a"].id, lecture_id=academy.geometry.id))
    db.session.commit()
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client, f"/exams/{shared_quiz.id}/answer-key")
    response = client.post(f"/exams/{shared_quiz.id}/answer-key", data=key_form(token, [(1, "5", 100)]),
                           headers=HTMX)
    assert response.status_code == 200
    assert stored_key(shared_quiz) == [(1, "5")]


def test_an_answer_key_post_with_no_rows_at_all_is_refused(client, academy, shared_quiz):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client, f"/exams/{shared_quiz.id}/answer-key")
    response = client.post(f"/exams/{shared_quiz.id}/answer-key", data={"csrf_token": token, "action": "save"},
                           headers=HTMX)
    assert response.status_code == 422
    assert len(stored_key(shared_quiz)) == 4

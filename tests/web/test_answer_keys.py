"""The answer-key editor (/exams/ID/answer-key) and its service (dashboard/omr/answer_keys.py): roles,
rows added, removed and edited, validation at the field with nothing saved, and a save that
regrades the exam's scanned attempts and recomputes its lectures whole.

The academy is tests.factories.build_academy (today 2026-04-01): the quiz (max 100, pass 60)
is on Algebra II's week 2; teacher_a teaches Algebra II, teacher_b Geometry only.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from dashboard.omr import intake as omr
from dashboard.extensions import db
from dashboard.models import AuditLog, ExamQuestion, OmrScan, SessionProgress

from tests.factories import ALL_RIGHT, QUIZ_KEY, add_answer_key, build_academy, make_exam, read_scan
from .pages import HTMX, csrf_token, sign_in



@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def graded_scan(academy, enrollment, answers=ALL_RIGHT) -> OmrScan:
    """A scan of the quiz registered for `enrollment` and read by the worker (committed)."""
    scan_id = read_scan(academy.quiz, enrollment, answers)
    db.session.commit()
    return db.session.get(OmrScan, scan_id)


def url(exam) -> str:
    return f"/exams/{exam.id}/answer-key"


def form_of(rows, token, action="save", removed=()) -> dict[str, str]:
    data = {"csrf_token": token, "action": action}
    for i, (number, answer, points) in enumerate(rows):
        data.update({f"questions-{i}-number": str(number), f"questions-{i}-answer": answer,
                     f"questions-{i}-points": str(points)})
        if i in removed:
            data[f"questions-{i}-remove"] = "y"
    return data


def stored_key(exam) -> list[tuple[int, str, Decimal]]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(
        select(ExamQuestion.number, ExamQuestion.answer, ExamQuestion.points)
        .where(ExamQuestion.exam_id == exam.id).order_by(ExamQuestion.number))]


def key_audits() -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == "exam.answer_key")).scalars())


def post_as(client, academy, who, data_rows, **kwargs):
    sign_in(client, academy.users[who])
    token = csrf_token(client, url(academy.quiz))
    return client.post(url(academy.quiz), data=form_of(data_rows, token, **kwargs), headers=HTMX)


# ---------------------------------------------------------------- who may see and change the key

def test_anonymous_visitor_is_sent_to_login(client, academy):
    response = client.get(url(academy.quiz))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("who", ["admin", "teacher_a"])
def test_admin_and_the_lectures_teacher_get_the_editor(client, academy, who):
    add_answer_key(academy.quiz)
    db.session.commit()
    sign_in(client, academy.users[who])
    html = client.get(url(academy.quiz)).get_data(as_text=True)
    assert f'action="/exams/{academy.quiz.id}/answer-key"' in html
    assert 'name="questions-3-answer"' in html and 'value="24"' in html
    assert "Total points: 100 of the exam's maximum 100." in html


def test_staff_read_the_key_without_a_form_and_may_not_post(client, academy):
    add_answer_key(academy.quiz)
    db.session.commit()
    sign_in(client, academy.users["staff"])
    html = client.get(url(academy.quiz)).get_data(as_text=True)
    assert '<tr data-question="4"><th scope="row">4</th><td>24</td><td class="num">25</td></tr>' in html
    assert "questions-0-number" not in html and 'method="post" action="/exams' not in html
    token = csrf_token(client, url(academy.quiz))
    response = client.post(url(academy.quiz), data=form_of([(1, "5", 10)], token))
    assert response.status_code == 403
    assert len(stored_key(academy.quiz)) == 4


def test_a_teacher_of_another_lecture_is_told_nothing(client, academy):
    sign_in(client, academy.users["teacher_b"])
    assert client.get(url(academy.quiz)).status_code == 404
    token = csrf_token(client, "/")
    assert client.post(url(academy.quiz), data=form_of([(1, "5", 10)], token)).status_code == 404
    assert client.get("/exams/999999/answer-key").status_code == 404
    assert stored_key(academy.quiz) == []


def test_an_exam_linked_to_no_session_is_for_admins_and_staff_only(client, academy):
    loose = make_exam([], title="Loose exam")
    db.session.commit()
    sign_in(client, academy.users["teacher_a"])
    assert client.get(url(loose)).status_code == 404
    sign_in(client, academy.users["admin"])
    assert client.get(url(loose)).status_code == 200


def test_the_cell_detail_links_the_exams_answer_key(client, academy):
    sign_in(client, academy.users["staff"])
    html = client.get(f"/lectures/{academy.algebra.id}/cell?enrollment={academy.minji.id}"
                      f"&session={academy.weeks[1].id}").get_data(as_text=True)
    assert f'href="/exams/{academy.quiz.id}/answer-key"' in html


def test_a_post_without_the_csrf_token_is_refused(client, academy):
    sign_in(client, academy.users["admin"])
    data = form_of([(1, "3", 10)], "")
    del data["csrf_token"]
    assert client.post(url(academy.quiz), data=data).status_code == 400
    assert stored_key(academy.quiz) == []


# ---------------------------------------------------------------- saving

def test_a_new_key_is_saved_audited_and_answers_the_editor_with_the_counts(client, academy):
    response = post_as(client, academy, "teacher_a", [(1, "3", 40), (2, "24", "60")])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="answer-key"')
    assert "Answer key saved and the lectures recomputed." in html
    assert 'id="nav-clinic-count" class="nav-count" hx-swap-oob="true"' in html
    assert 'id="nav-omr-count" class="nav-count" hx-swap-oob="true"' in html
    assert stored_key(academy.quiz) == [(1, "3", Decimal(40)), (2, "24", Decimal(60))]
    [entry] = key_audits()
    assert entry.username == "teacher_a" and entry.lecture_id == academy.algebra.id
    assert entry.before == {"questions": []}
    assert entry.after == {"questions": [{"number": 1, "answer": "3", "points": 40},
                                         {"number": 2, "answer": "24", "points": 60}], "regraded": 0}


def test_saving_the_same_key_again_writes_nothing(client, academy):
    add_answer_key(academy.quiz)
    db.session.commit()
    response = post_as(client, academy, "admin", [(n, a, "25.00") for n, a in QUIZ_KEY.items()])
    assert response.status_code == 200
    assert "Nothing to change." in response.get_data(as_text=True)
    assert key_audits() == []


def test_without_javascript_a_save_redirects_back_with_a_message(client, academy):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client, url(academy.quiz))
    response = client.post(url(academy.quiz), data=form_of([(1, "3", 100)], token))
    assert response.status_code == 302 and response.headers["Location"] == url(academy.quiz)
    assert "Answer key saved" in client.get(url(academy.quiz)).get_data(as_text=True)


def test_rows_are_added_without_saving_and_removed_on_save(client, academy):
    add_answer_key(academy.quiz)
    db.session.commit()
    rows = [(n, a, 25) for n, a in QUIZ_KEY.items()]
    response = post_as(client, academy, "admin", rows, action="add")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # A fifth row: the next number, the points of the row above, focus on its marks.
    assert re.search(r'name="questions-4-number"[^>]*value="5"', html)
    assert re.search(r'name="questions-4-points"[^>]*value="25"', html)
    assert re.search(r'<input [^>]*autofocus[^>]*name="questions-4-answer"', html)
    assert len(stored_key(academy.quiz)) == 4 and key_audits() == []

    # Remove question 3, change 4's marks, and leave a wholly blank added row (ignored).
    edited = [(1, "1", 25), (2, "2", 25), (3, "3", 25), (4, "4", 25), ("", "", "")]
    response = post_as(client, academy, "admin", edited, removed=(2,))
    assert response.status_code == 200
    assert stored_key(academy.quiz) == [(1, "1", Decimal(25)), (2, "2", Decimal(25)), (4, "4", Decimal(25))]


@pytest.mark.parametrize("rows, field, message", [
    ([(1, "3", 10), (1, "4", 10)], "questions-1-number", "question 1 appears twice"),
    ([(0, "3", 10)], "questions-0-number", "must be a whole number of at least 1"),
    ([("x", "3", 10)], "questions-0-number", "must be a whole number of at least 1"),
    ([(1, "33", 10)], "questions-0-answer", "must not repeat a mark"),
    ([(1, "2 4", 10)], "questions-0-answer", "write the marks together without spaces, such as 24"),
    ([(1, "", 10)], "questions-0-answer", "is required"),
    ([(1, "3", "2.555")], "questions-0-points", "must have at most 2 decimal places"),
    ([(1, "3", "-1")], "questions-0-points", "must be at least 0"),
    ([(1, "3", "ten")], "questions-0-points", "must be a number"),
])
def test_a_bad_row_answers_422_with_the_error_at_its_field(client, academy, rows, field, message):
    response = post_as(client, academy, "admin", rows)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'aria-invalid="true"[^>]*id="{field}"|id="{field}"[^>]*aria-invalid="true"', html), html
    assert f'<small id="{field}-error" class="error" role="alert">{message}</small>' in html
    assert stored_key(academy.quiz) == [] and key_audits() == []


def test_points_above_the_exams_maximum_are_refused(client, academy):
    response = post_as(client, academy, "admin", [(1, "3", 60), (2, "4", "40.5")])
    assert response.status_code == 422
    assert "The points add up to 100.5, more than the exam&#39;s maximum score 100." in response.get_data(as_text=True)
    assert stored_key(academy.quiz) == []


def test_a_key_with_read_scans_cannot_be_emptied_but_one_without_can(client, academy):
    add_answer_key(academy.quiz)
    db.session.commit()
    response = post_as(client, academy, "admin", [(n, a, 25) for n, a in QUIZ_KEY.items()], removed=(0, 1, 2, 3))
    assert response.status_code == 200
    assert stored_key(academy.quiz) == []

    add_answer_key(academy.quiz)
    db.session.commit()
    graded_scan(academy, academy.park)
    response = post_as(client, academy, "admin", [(n, a, 25) for n, a in QUIZ_KEY.items()], removed=(0, 1, 2, 3))
    assert response.status_code == 422
    assert "it cannot be emptied" in response.get_data(as_text=True)
    assert len(stored_key(academy.quiz)) == 4


# ---------------------------------------------------------------- regrade and recompute

def progress_of(enrollment, session) -> SessionProgress:
    db.session.expire_all()
    return db.session.execute(select(SessionProgress).where(
        SessionProgress.enrollment_id == enrollment.id, SessionProgress.session_id == session.id)).scalar_one()


def test_a_key_change_regrades_the_scanned_attempt_and_recomputes_the_lectures(client, academy):
    """Park's sheet read all right against 1:"1" 2:"2" 3:"3" 4:"24" at 25 each: 100. The new key
    says question 1 is "4" (Park read "1": wrong) and question 4 is "4" alone, so Park's two marks
    there are an unexpected multi marking: flagged, wrong (MULTI). Score 25 + 25 = 50 < pass 60."""
    add_answer_key(academy.quiz)
    db.session.commit()
    scan = graded_scan(academy, academy.park)
    week2 = academy.weeks[1]
    assert progress_of(academy.park, week2).exam_aggregate_score == Decimal(100)
    # A row outside the exam's sessions, dropped by hand: only a whole-lecture recompute restores it.
    db.session.execute(delete(SessionProgress).where(SessionProgress.enrollment_id == academy.minji.id,
                                                     SessionProgress.session_id == academy.weeks[0].id))
    db.session.commit()

    response = post_as(client, academy, "teacher_a", [(1, "4", 25), (2, "2", 25), (3, "3", 25), (4, "4", 25)])
    assert response.status_code == 200
    assert "1 scanned attempts regraded" in response.get_data(as_text=True)

    row = omr.describe(omr.scan_row(scan.id))
    assert (row["score"], row["review_reasons"]) == (50, ["ANSWER_BLANK_OR_MULTI"])
    park = progress_of(academy.park, week2)
    assert park.exam_aggregate_score == Decimal(50) and park.exam_passed is False
    assert progress_of(academy.minji, academy.weeks[0]).completed is True
    [entry] = key_audits()
    assert entry.after["regraded"] == 1
    assert db.session.execute(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "omr_scan.regrade")).scalar_one() == 1

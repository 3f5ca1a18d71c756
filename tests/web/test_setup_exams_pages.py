"""The exams-and-homework setup pages through real forms (CSRF included), on both databases:
validation at the field (422, nothing saved), roles (teacher outside the lecture: 404; staff: no
forms, 403 on POST), the removal confirmation saying what goes, and the link to the key editor.

Academy: tests/web/factories.build_academy (quiz on Week 2 with two attempts)."""
from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Attempt, Exam, ExamSession, Homework, SessionProgress

from tests.factories import build_academy, make_homework
from .test_clinic_pages import sign_in_with_form
from .test_setup_pages import count, field_error, get, post


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def test_the_tab_lists_exams_with_the_answer_key_link_and_homework(client, academy):
    sign_in_with_form(client, academy.users["teacher_a"])
    page = get(client, f"/setup/lectures/{academy.algebra.id}/exams").get_data(as_text=True)
    assert f'data-exam="{academy.quiz.id}"' in page
    assert f'href="/exams/{academy.quiz.id}/answer-key"' in page
    assert 'id="exam-add"' in page and 'id="homework-add"' in page
    assert f'href="/setup/lectures/{academy.algebra.id}/exams" aria-current="page"' in page
    sessions = get(client, f"/setup/lectures/{academy.algebra.id}/sessions").get_data(as_text=True)
    assert f'href="/setup/lectures/{academy.algebra.id}/exams"' in sessions


def test_creating_an_exam_through_the_form(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    week3 = academy.weeks[2].id
    response = post(client, f"/setup/lectures/{academy.algebra.id}/exams", token,
                    {"exam-title": "Unit test", "exam-session_ids": str(week3), "exam-pass_score": "70",
                     "exam-max_score": "100"})
    assert response.status_code == 302
    exam = db.session.execute(select(Exam).where(Exam.title == "Unit test")).scalar_one()
    assert exam.pass_score == Decimal(70)
    assert db.session.execute(select(ExamSession.session_id).where(ExamSession.exam_id == exam.id)).scalar_one() == week3
    # Minji has no result for it: Week 3 no longer completed.
    assert not db.session.execute(select(SessionProgress.completed).where(
        SessionProgress.enrollment_id == academy.minji.id, SessionProgress.session_id == week3)).scalar_one()


def test_a_bad_exam_form_answers_422_at_the_fields_and_saves_nothing(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    response = post(client, f"/setup/lectures/{academy.algebra.id}/exams", token,
                    {"exam-title": "", "exam-pass_score": "72.505", "exam-max_score": "100"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "exam-title") and field_error(html, "exam-pass_score")
    assert field_error(html, "exam-session_ids") == "Choose at least one session."
    assert count(Exam) == 1


def test_editing_the_quiz_refuses_a_max_below_stored_scores(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    path = f"/setup/lectures/{academy.algebra.id}/exams/{academy.quiz.id}/edit"
    form = get(client, path).get_data(as_text=True)
    checked = re.findall(r'<input checked id="exam-session_ids-\d+" name="exam-session_ids" type="checkbox" value="(\d+)"',
                         form)
    assert checked == [str(academy.weeks[1].id)]
    data = {"exam-title": "Quiz 1", "exam-session_ids": str(academy.weeks[1].id), "exam-pass_score": "30",
            "exam-max_score": "50"}
    response = post(client, path, token, data)
    assert response.status_code == 422 and field_error(response.get_data(as_text=True), "exam-max_score")
    db.session.expire_all()
    assert db.session.get(Exam, academy.quiz.id).max_score == Decimal(100)
    assert post(client, path, token, {**data, "exam-max_score": "80"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Exam, academy.quiz.id).max_score == Decimal(80)


def test_removing_the_quiz_says_what_goes_then_does_it(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    path = f"/setup/lectures/{academy.algebra.id}/exams/{academy.quiz.id}/remove"
    page = get(client, path).get_data(as_text=True)
    assert "2 recorded attempts" in page and "1 lectures are recomputed" in page
    assert client.post(path).status_code == 400  # no CSRF token
    assert count(Exam) == 1
    assert post(client, path, token).status_code == 302
    assert count(Exam) == 0 and count(Attempt) == 0


def test_homework_add_edit_remove(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    base = f"/setup/lectures/{academy.algebra.id}"
    bad = post(client, f"{base}/homeworks", token, {"homework-session_id": str(academy.geometry_week.id),
                                                    "homework-max_score": "0"})
    assert bad.status_code == 422 and field_error(bad.get_data(as_text=True), "homework-session_id")
    assert count(Homework) == 0
    assert post(client, f"{base}/homeworks", token, {"homework-session_id": str(academy.weeks[1].id),
                                                     "homework-title": "Sheet", "homework-max_score": "20"}).status_code == 302
    homework = db.session.execute(select(Homework)).scalar_one()
    assert (homework.title, homework.max_score) == ("Sheet", Decimal(20))
    assert post(client, f"/setup/homeworks/{homework.id}/edit", token, {
        "homework-session_id": str(academy.weeks[2].id), "homework-title": "Sheet B",
        "homework-max_score": "25"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Homework, homework.id).session_id == academy.weeks[2].id
    assert "0 submissions" in get(client, f"/setup/homeworks/{homework.id}/remove").get_data(as_text=True)
    assert post(client, f"/setup/homeworks/{homework.id}/remove", token).status_code == 302
    assert count(Homework) == 0


def test_a_teacher_of_another_lecture_gets_404(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_b"])
    homework = make_homework(academy.weeks[1])
    db.session.commit()
    base = f"/setup/lectures/{academy.algebra.id}"
    assert get(client, f"{base}/exams").status_code == 404
    assert get(client, f"{base}/exams/{academy.quiz.id}/edit").status_code == 404
    assert post(client, f"{base}/exams", token, {"exam-title": "X"}).status_code == 404
    assert get(client, f"/setup/homeworks/{homework.id}/edit").status_code == 404
    assert post(client, f"/setup/homeworks/{homework.id}/remove", token).status_code == 404
    # The quiz is not one of Geometry's exams either.
    assert get(client, f"/setup/lectures/{academy.geometry.id}/exams/{academy.quiz.id}/edit").status_code == 404


def test_staff_read_without_forms_and_cannot_post(client, academy):
    token = sign_in_with_form(client, academy.users["staff"])
    homework = make_homework(academy.weeks[1])
    db.session.commit()
    base = f"/setup/lectures/{academy.algebra.id}"
    page = get(client, f"{base}/exams").get_data(as_text=True)
    assert "Quiz" in page and "<form" not in page.split('id="exams"', 1)[1]
    for path, data in {
        f"{base}/exams": {"exam-title": "X", "exam-session_ids": str(academy.weeks[0].id), "exam-max_score": "100"},
        f"{base}/exams/{academy.quiz.id}/edit": {"exam-title": "X"},
        f"{base}/exams/{academy.quiz.id}/remove": {},
        f"{base}/homeworks": {"homework-session_id": str(academy.weeks[0].id), "homework-max_score": "10"},
        f"/setup/homeworks/{homework.id}/edit": {"homework-max_score": "10"},
        f"/setup/homeworks/{homework.id}/remove": {},
    }.items():
        assert post(client, path, token, data).status_code == 403, path
    assert get(client, f"{base}/exams/{academy.quiz.id}/edit").status_code == 403
    assert count(Exam) == 1 and count(Homework) == 1


def test_an_archived_lecture_refuses_exams_homework_and_uploads(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    base = f"/setup/lectures/{academy.algebra.id}"
    assert post(client, f"{base}/archive", token).status_code == 302
    assert 'id="exam-add"' not in get(client, f"{base}/exams").get_data(as_text=True)
    refused = post(client, f"{base}/exams", token, {"exam-title": "Late", "exam-session_ids": str(academy.weeks[0].id),
                                                    "exam-max_score": "100"})
    assert refused.status_code == 422 and "archived" in refused.get_data(as_text=True)
    removal = post(client, f"{base}/exams/{academy.quiz.id}/remove", token)
    assert removal.status_code == 422
    upload = client.post(f"{base}/uploads/roster", data={"csrf_token": token, "file": (io.BytesIO(b"name\nX\n"), "r.csv")},
                         content_type="multipart/form-data")
    assert upload.status_code == 422 and "archived" in upload.get_data(as_text=True)
    assert count(Exam) == 1 and count(Attempt) == 2

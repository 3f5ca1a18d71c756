"""The upload pages through real multipart posts (CSRF included), on both databases: the preview
(200, or 422 with every bad line), the signed confirmation (tampered or for another lecture: 400),
templates, and roles (teacher outside the lecture: 404; staff: no forms, 403 on POST).

Academy: tests/web/factories.build_academy."""
from __future__ import annotations

import io
import re

import pytest
from dashboard.extensions import db
from dashboard.models import Attempt, AuditLog, Student

from tests.factories import build_academy
from .test_clinic_pages import sign_in_with_form
from .test_setup_pages import count, get


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def upload(client, path: str, token: str, text: str, name: str = "file.csv"):
    return client.post(path, data={"csrf_token": token, "file": (io.BytesIO(text.encode("utf-8")), name)},
                       content_type="multipart/form-data")


def payload_of(html: str) -> str:
    match = re.search(r'name="payload" value="([^"]+)"', html)
    assert match, "the preview has no confirmation form"
    return match.group(1)


def test_roster_preview_then_apply(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    base = f"/setup/lectures/{academy.algebra.id}/uploads"
    page = get(client, base).get_data(as_text=True)
    assert 'id="upload-roster"' in page and 'enctype="multipart/form-data"' in page
    text = f"\ufeffname,student_id\nNew Student,\nKim Minji,{academy.minji.student_id}\n"
    preview = upload(client, f"{base}/roster", token, text, "roster.csv")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert 'data-create="1" data-update="0" data-unchanged="1" data-bad="0"' in html
    assert 'data-line="2" data-outcome="create"' in html and 'data-line="3" data-outcome="unchanged"' in html
    assert count(Student, Student.name == "New Student") == 0  # the preview wrote nothing
    applied = client.post(f"{base}/roster/apply", data={"csrf_token": token, "payload": payload_of(html)})
    assert applied.status_code == 302
    assert count(Student, Student.name == "New Student") == 1
    assert count(AuditLog, AuditLog.action == "upload.roster") == 1


def test_a_bad_file_shows_every_bad_line_and_offers_no_confirmation(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    base = f"/setup/lectures/{academy.algebra.id}/uploads"
    quiz = academy.quiz.id
    text = (f"student_id,exam_id,score\n{academy.minji.student_id},{quiz},80\n{academy.minho.student_id},{quiz},70\n"
            f"{academy.jisoo.student_id},{quiz},1000\n")
    response = upload(client, f"{base}/scores", token, text)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<tr data-line="3">' in html and '<tr data-line="4">' in html and 'name="payload"' not in html
    assert count(Attempt) == 2
    unreadable = client.post(f"{base}/scores", data={
        "csrf_token": token, "file": (io.BytesIO("student_id\n".encode("utf-16")), "x.csv")},
        content_type="multipart/form-data")
    assert unreadable.status_code == 422 and 'id="upload-problems"' in unreadable.get_data(as_text=True)


def test_the_confirmation_is_signed_and_bound_to_the_lecture(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    algebra = f"/setup/lectures/{academy.algebra.id}/uploads"
    html = upload(client, f"{algebra}/roster", token, "name\nNew Student\n").get_data(as_text=True)
    payload = payload_of(html)
    assert client.post(f"{algebra}/roster/apply", data={"csrf_token": token, "payload": payload + "x"}).status_code == 400
    geometry = f"/setup/lectures/{academy.geometry.id}/uploads"
    assert client.post(f"{geometry}/roster/apply", data={"csrf_token": token, "payload": payload}).status_code == 400
    assert client.post(f"{algebra}/scores/apply", data={"csrf_token": token, "payload": payload}).status_code == 400
    assert client.post(f"{algebra}/roster/apply", data={"payload": payload}).status_code == 400  # no CSRF token
    assert count(Student, Student.name == "New Student") == 0


def test_templates_are_utf8_with_bom_and_list_the_lectures_students(client, academy):
    sign_in_with_form(client, academy.users["staff"])
    response = get(client, f"/setup/lectures/{academy.algebra.id}/uploads/scores/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeffstudent_id,exam_id,score,attempt_no,submitted_at,student_name")
    assert f"{academy.minji.student_id},{academy.quiz.id},,1,,Kim Minji" in body
    assert "Choi" not in body  # withdrawn
    assert get(client, f"/setup/lectures/{academy.algebra.id}/uploads/nothing/template.csv").status_code == 404


def test_a_teacher_of_another_lecture_gets_404(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_b"])
    base = f"/setup/lectures/{academy.algebra.id}/uploads"
    assert get(client, base).status_code == 404
    assert get(client, f"{base}/roster/template.csv").status_code == 404
    assert upload(client, f"{base}/roster", token, "name\nX\n").status_code == 404


def test_an_assistant_uploads_results_but_not_a_roster(client, academy):
    """Staff assigned to Algebra (an assistant) upload its attendance; a roster enrolls students,
    which is the lecture's structure: 403."""
    from tests.factories import make_user

    assistant = make_user("assistant", "staff", (academy.algebra,))
    db.session.commit()
    token = sign_in_with_form(client, assistant)
    base = f"/setup/lectures/{academy.algebra.id}/uploads"
    assert 'type="file"' in get(client, base).get_data(as_text=True)
    response = upload(client, f"{base}/activity", token, f"student_id,session,presence\n{academy.park.student_id},1,late\n")
    assert response.status_code == 200
    assert upload(client, f"{base}/roster", token, "name\nX\n").status_code == 403
    other = f"/setup/lectures/{academy.geometry.id}/uploads"
    assert upload(client, f"{other}/activity", token, f"student_id,session\n{academy.minho.student_id},1\n"
                  ).status_code == 403


def test_staff_see_no_forms_and_cannot_post(client, academy):
    token = sign_in_with_form(client, academy.users["staff"])
    base = f"/setup/lectures/{academy.algebra.id}/uploads"
    page = get(client, base).get_data(as_text=True)
    assert 'id="upload-roster"' in page and 'type="file"' not in page
    assert upload(client, f"{base}/roster", token, "name\nX\n").status_code == 403
    assert client.post(f"{base}/roster/apply", data={"csrf_token": token, "payload": "x"}).status_code == 403
    assert count(Student, Student.name == "X") == 0


def test_applying_the_same_preview_twice_creates_nothing_the_second_time(client, academy):
    """A roster row with a blank student_id creates a student; a replayed Apply must not create
    a second one (the signed form carries a one-time key kept in the database)."""
    token = sign_in_with_form(client, academy.users["teacher_a"])
    base = f"/setup/lectures/{academy.algebra.id}/uploads"
    html = upload(client, f"{base}/roster", token, "name,student_id\nNew Student,\n", "roster.csv").get_data(
        as_text=True)
    payload = payload_of(html)
    first = client.post(f"{base}/roster/apply", data={"csrf_token": token, "payload": payload})
    assert first.status_code == 302
    again = client.post(f"{base}/roster/apply", data={"csrf_token": token, "payload": payload})
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert count(Student, Student.name == "New Student") == 1
    assert count(AuditLog, AuditLog.action == "upload.roster") == 1
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "was already applied (1 rows); nothing was done again." in page


def preview_row(html: str, line: int) -> str:
    match = re.search(rf'<tr data-line="{line}" data-outcome="\w+">.*?</tr>', html, re.S)
    assert match, f"no preview row for line {line}"
    return match.group(0)


def test_the_preview_names_the_student_the_item_and_each_value_stored_and_new(client, academy):
    # Minji's quiz attempt 1 is 72.5 (typed 80: an update), Jisoo's is 40 (typed 40: unchanged),
    # Park has none (typed 55: a new attempt). Activity: Jisoo late in Week 2 (nothing stored: created,
    # attendance offline follows), Minji's Week 1 video 95 -> 50.
    token = sign_in_with_form(client, academy.users["teacher_a"])
    base = f"/setup/lectures/{academy.algebra.id}/uploads"
    quiz = academy.quiz.id
    text = (f"student_id,exam_id,score\n{academy.minji.student_id},{quiz},80\n"
            f"{academy.jisoo.student_id},{quiz},40\n{academy.park.student_id},{quiz},55\n")
    html = upload(client, f"{base}/scores", token, text).get_data(as_text=True)
    minji = preview_row(html, 2)
    assert 'data-outcome="update"' in minji and "<td data-student>Kim Minji</td>" in minji
    assert f"<td data-item>{academy.quiz.title}, attempt 1</td>" in minji
    assert '<li data-field="score">score: <del>72.5</del> → <ins>80</ins></li>' in minji
    jisoo = preview_row(html, 3)
    assert 'data-outcome="unchanged"' in jisoo and "Lee Jisoo" in jisoo and "<li" not in jisoo
    assert '<li data-field="score">score: <del>—</del> → <ins>55</ins></li>' in preview_row(html, 4)

    week2 = academy.weeks[1].order
    text = (f"student_id,session,presence,video_rate\n{academy.jisoo.student_id},{week2},late,\n"
            f"{academy.minji.student_id},1,,50\n")
    html = upload(client, f"{base}/activity", token, text).get_data(as_text=True)
    jisoo = preview_row(html, 2)
    assert "<td data-item>Session 2</td>" in jisoo
    assert '<li data-field="presence">presence: <del>—</del> → <ins>late</ins></li>' in jisoo
    minji = preview_row(html, 3)
    assert '<li data-field="video_rate">video_rate: <del>95</del> → <ins>50</ins></li>' in minji
    assert 'data-field="presence"' not in minji

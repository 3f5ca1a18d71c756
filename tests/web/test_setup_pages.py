"""The setup pages (/setup): lectures, sessions, the term generator, enrollments and students,
each through the real forms with their CSRF token, on both databases — validation at the field
(422, nothing saved), roles (teacher outside their lectures: 404; staff: no forms, 403 on POST),
htmx partials, and what the grid and the API show after a withdrawal and a re-enrollment.

Academy: tests/web/factories.build_academy (today 2026-04-01)."""
from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import func, select

from dashboard.errors import Invalid, describe
from dashboard.extensions import db
from dashboard.models import Enrollment, Lecture, LectureSession, ProgressPolicy, SessionProgress, Student

from tests.factories import bearer, build_academy
from .pages import HTMX, cell_statuses
from .test_clinic_pages import sign_in_with_form


@pytest.fixture
def academy(app):
    built = build_academy()
    # An assistant: staff assigned to Algebra, who enters its data but never changes its structure.
    from tests.factories import make_user

    built.users["assistant"] = make_user("assistant", "staff", (built.algebra,))
    db.session.commit()
    return built


def field_error(html: str, field_id: str) -> str | None:
    match = re.search(rf'id="{field_id}-error" class="error" role="alert">([^<]*)<', html)
    return match.group(1) if match else None


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def post(client, path: str, token: str, data: dict | None = None, htmx: bool = False):
    return client.post(path, data={**(data or {}), "csrf_token": token}, headers=HTMX if htmx else {})


def get(client, path: str, htmx: bool = False, headers: dict | None = None):
    return client.get(path, headers={**(HTMX if htmx else {}), **(headers or {})})


def session_orders(lecture_id: int) -> list[tuple[int, int]]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(
        select(LectureSession.id, LectureSession.order).where(LectureSession.lecture_id == lecture_id)
        .order_by(LectureSession.order))]


# ---------------------------------------------------------------- navigation and roles

@pytest.mark.parametrize("who, shown", [("admin", True), ("teacher_a", True), ("staff", False),
                                        ("assistant", False)])
def test_setup_in_the_navigation_for_admins_and_teachers(client, academy, who, shown):
    sign_in_with_form(client, academy.users[who])
    page = get(client, "/").get_data(as_text=True)
    assert ('href="/setup/"' in page) is shown
    if shown:
        assert 'href="/setup/" aria-current="page">Setup' in get(client, "/setup/").get_data(as_text=True)


def test_anonymous_visitors_go_to_the_login_form(client, academy):
    response = client.get("/setup/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_lecture_list_is_scoped_and_only_admins_get_the_create_form(client, academy):
    sign_in_with_form(client, academy.users["teacher_a"])
    page = get(client, "/setup/").get_data(as_text=True)
    assert "Algebra II" in page and "Geometry" not in page and 'id="lecture-create"' not in page
    assert get(client, f"/setup/lectures/{academy.geometry.id}/").status_code == 404
    assert get(client, f"/setup/lectures/{academy.geometry.id}/sessions").status_code == 404
    assert get(client, f"/setup/lectures/{academy.geometry.id}/enrollments").status_code == 404
    assert get(client, "/setup/lectures/99999/").status_code == 404


@pytest.mark.parametrize("who", ["teacher_a", "staff", "assistant"])
def test_lecture_writes_are_for_admins(client, academy, who):
    token = sign_in_with_form(client, academy.users[who])
    lecture_id = academy.algebra.id
    assert post(client, "/setup/lectures", token, {"title": "Mine"}).status_code == 403
    assert post(client, f"/setup/lectures/{lecture_id}/", token, {"title": "Renamed"}).status_code == 403
    assert post(client, f"/setup/lectures/{lecture_id}/archive", token).status_code == 403
    assert count(Lecture) == 2
    assert count(Lecture, Lecture.title == "Algebra II", Lecture.archived_at.is_(None)) == 1
    page = get(client, f"/setup/lectures/{lecture_id}/").get_data(as_text=True)
    assert "<form method=\"post\" action=\"/setup/lectures/" not in page


@pytest.mark.parametrize("who", ["staff", "assistant"])
def test_staff_read_sessions_and_enrollments_without_forms_and_cannot_post(client, academy, who):
    token = sign_in_with_form(client, academy.users[who])
    lecture_id = academy.algebra.id
    sessions = get(client, f"/setup/lectures/{lecture_id}/sessions").get_data(as_text=True)
    assert "Week 1" in sessions and 'id="session-add"' not in sessions and 'id="term-generate"' not in sessions
    enrollments = get(client, f"/setup/lectures/{lecture_id}/enrollments").get_data(as_text=True)
    assert "Kim Minji" in enrollments and 'data-action="withdraw"' not in enrollments
    assert 'id="enroll-new"' not in enrollments
    writes = {
        f"/setup/lectures/{lecture_id}/sessions": {"session-title": "x"},
        f"/setup/lectures/{lecture_id}/sessions/generate": {"term-start": "2026-05-04", "term-count": "2",
                                                            "term-weekdays": "0"},
        f"/setup/sessions/{academy.weeks[0].id}/down": {},
        f"/setup/sessions/{academy.weeks[0].id}/remove": {},
        f"/setup/sessions/{academy.weeks[0].id}/edit": {"session-order": "1"},
        f"/setup/lectures/{lecture_id}/enrollments": {"student": str(academy.minho.student_id)},
        f"/setup/lectures/{lecture_id}/enrollments/new": {"student-name": "New"},
        f"/setup/enrollments/{academy.minji.id}/withdraw": {},
        "/setup/students/": {"student-name": "New"},
        f"/setup/students/{academy.minji.student_id}/": {"student-name": "Renamed"},
    }
    for path, data in writes.items():
        assert post(client, path, token, data).status_code == 403, path
    assert count(LectureSession) == 5 and count(Enrollment) == 5 and count(Student) == 5
    assert count(Enrollment, Enrollment.withdrawn_at.is_not(None)) == 1


def test_a_teacher_cannot_touch_another_teachers_lecture(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_b"])
    assert post(client, f"/setup/lectures/{academy.algebra.id}/sessions", token, {"session-title": "x"}).status_code == 404
    assert post(client, f"/setup/sessions/{academy.weeks[0].id}/remove", token).status_code == 404
    assert post(client, f"/setup/enrollments/{academy.minji.id}/withdraw", token).status_code == 404
    assert get(client, f"/setup/students/{academy.minji.student_id}/").status_code == 404
    assert count(LectureSession) == 5 and count(Enrollment, Enrollment.withdrawn_at.is_not(None)) == 1


def test_a_post_without_the_csrf_token_is_refused(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    assert client.post("/setup/lectures", data={"title": "No token"}).status_code == 400
    assert count(Lecture) == 2


# ---------------------------------------------------------------- lectures

def test_admin_creates_a_lecture_with_its_policy_and_teacher(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    teacher = academy.users["teacher_b"]
    response = post(client, "/setup/lectures", token, {"title": "Calculus", "teachers": str(teacher.id)})
    assert response.status_code == 302
    lecture = db.session.execute(select(Lecture).where(Lecture.title == "Calculus")).scalar_one()
    assert response.headers["Location"].endswith(f"/setup/lectures/{lecture.id}/sessions")
    assert count(ProgressPolicy, ProgressPolicy.lecture_id == lecture.id) == 1
    page = get(client, f"/setup/lectures/{lecture.id}/").get_data(as_text=True)
    assert f'<input checked id="teachers-1" name="teachers" type="checkbox" value="{teacher.id}">' in page


def test_a_lecture_without_a_title_is_refused_at_the_field(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    response = post(client, "/setup/lectures", token, {"title": "   "})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "title") == "A value is required."
    response = post(client, f"/setup/lectures/{academy.algebra.id}/", token, {"title": "x" * 201})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "title") == "At most 200 characters."
    assert count(Lecture) == 2 and count(Lecture, Lecture.title == "Algebra II") == 1


def test_archiving_takes_the_lecture_off_the_lists_and_freezes_its_setup(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    lecture_id = academy.algebra.id
    assert post(client, f"/setup/lectures/{lecture_id}/archive", token).status_code == 302
    assert f'data-lecture="{lecture_id}"' not in get(client, "/setup/").get_data(as_text=True)
    assert "Algebra II" not in get(client, "/").get_data(as_text=True)
    assert f'data-lecture="{lecture_id}"' in get(client, "/setup/?archived=1").get_data(as_text=True)
    sessions = get(client, f"/setup/lectures/{lecture_id}/sessions").get_data(as_text=True)
    assert 'data-archived="true"' in sessions and 'id="session-add"' not in sessions
    response = post(client, f"/setup/lectures/{lecture_id}/sessions", token, {"session-title": "Extra"})
    assert response.status_code == 422 and count(LectureSession) == 5
    assert get(client, f"/lectures/{lecture_id}/").status_code == 200  # history stays readable
    assert post(client, f"/setup/lectures/{lecture_id}/restore", token).status_code == 302
    assert 'id="session-add"' in get(client, f"/setup/lectures/{lecture_id}/sessions").get_data(as_text=True)


# ---------------------------------------------------------------- sessions

def test_teacher_adds_a_session_with_htmx_and_the_lecture_is_recomputed(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    response = post(client, f"/setup/lectures/{academy.algebra.id}/sessions", token,
                    {"session-order": "", "session-title": "Review", "session-date": "2026-03-23"}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<div id="sessions" data-lecture="{academy.algebra.id}"')
    assert "Session 5 added." in html
    review = db.session.execute(select(LectureSession).where(LectureSession.title == "Review")).scalar_one()
    assert (review.order, review.date) == (5, date(2026, 3, 23))
    # Held and due: every active student got a row for it (Minji, Jisoo, Park), the withdrawn Choi did not.
    assert count(SessionProgress, SessionProgress.session_id == review.id) == 3


@pytest.mark.parametrize("data, field_id, message", [
    ({"session-order": "abc"}, "session-order", "A whole number is required."),
    ({"session-order": "0"}, "session-order", "An order is a whole number from 1 to 9999."),
    ({"session-order": "2"}, "session-order", "Another session of this lecture already has this order."),
    ({"session-date": "2026-02-30"}, "session-date", "This date does not exist."),
    ({"session-date": "03/02/2026"}, "session-date", "A date is written YYYY-MM-DD."),
    ({"session-title": "x" * 201}, "session-title", "At most 200 characters."),
])
def test_add_session_validation_at_the_field(client, academy, data, field_id, message):
    token = sign_in_with_form(client, academy.users["admin"])
    response = post(client, f"/setup/lectures/{academy.algebra.id}/sessions", token, data, htmx=True)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="sessions"')
    assert field_error(html, field_id) == message
    assert count(LectureSession) == 5


def test_generate_a_term_through_the_form(client, academy):
    """Geometry: 3 sessions from Monday 03-16 on Mon and Wed, 03-18 a holiday -> 03-16, 03-23, 03-25."""
    token = sign_in_with_form(client, academy.users["teacher_b"])
    response = client.post(f"/setup/lectures/{academy.geometry.id}/sessions/generate", data={
        "csrf_token": token, "term-start": "2026-03-16", "term-count": "3", "term-weekdays": ["0", "2"],
        "term-holidays": "2026-03-18", "term-title_prefix": "Week"})
    assert response.status_code == 302
    db.session.expire_all()
    sessions = db.session.execute(select(LectureSession.order, LectureSession.title, LectureSession.date)
                                  .where(LectureSession.lecture_id == academy.geometry.id)
                                  .order_by(LectureSession.order)).all()
    assert [tuple(s) for s in sessions[1:]] == [(2, "Week 2", date(2026, 3, 16)), (3, "Week 3", date(2026, 3, 23)),
                                                (4, "Week 4", date(2026, 3, 25))]
    assert count(SessionProgress, SessionProgress.enrollment_id == academy.minho.id) == 4
    assert "3 sessions added." in get(client, f"/setup/lectures/{academy.geometry.id}/sessions").get_data(as_text=True)


@pytest.mark.parametrize("data, field_id, message", [
    ({"term-count": "3"}, "term-weekdays", "Choose at least one weekday."),
    ({"term-count": "0", "term-weekdays": "0"}, "term-count", "From 1 to 200 sessions."),
    ({"term-count": "", "term-weekdays": "0"}, "term-count", "A value is required."),
    ({"term-count": "3", "term-weekdays": "0", "term-holidays": "2026-03-18, soon"}, "term-holidays",
     "A date is written YYYY-MM-DD."),
])
def test_term_generator_validation_at_the_field(client, academy, data, field_id, message):
    token = sign_in_with_form(client, academy.users["admin"])
    response = post(client, f"/setup/lectures/{academy.geometry.id}/sessions/generate", token,
                    {"term-start": "2026-03-16", **data}, htmx=True)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, field_id) == message, html[:3000]
    assert count(LectureSession) == 5


def test_reorder_swaps_two_sessions(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    week1, week2 = academy.weeks[0], academy.weeks[1]
    response = post(client, f"/setup/sessions/{week1.id}/down", token, htmx=True)
    assert response.status_code == 200
    assert session_orders(academy.algebra.id)[:2] == [(week2.id, 1), (week1.id, 2)]
    assert post(client, f"/setup/sessions/{week1.id}/up", token).status_code == 302
    assert session_orders(academy.algebra.id)[:2] == [(week1.id, 1), (week2.id, 2)]


def test_edit_session_page(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    week3 = academy.weeks[2]
    page = get(client, f"/setup/sessions/{week3.id}/edit").get_data(as_text=True)
    assert 'value="2026-03-16"' in page
    refused = post(client, f"/setup/sessions/{week3.id}/edit", token,
                   {"session-order": "1", "session-title": "Week 3", "session-date": "2026-03-16"})
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "session-order") == \
        "Another session of this lecture already has this order."
    saved = post(client, f"/setup/sessions/{week3.id}/edit", token,
                 {"session-order": "7", "session-title": "Week 3 (moved)", "session-date": "2026-04-10"})
    assert saved.status_code == 302
    db.session.expire_all()
    stored = db.session.get(LectureSession, week3.id)
    assert (stored.order, stored.title, stored.date) == (7, "Week 3 (moved)", date(2026, 4, 10))
    # No longer held: its rows are gone (Minji, Jisoo, Park had one each; Choi's frozen row stays).
    assert count(SessionProgress, SessionProgress.session_id == week3.id) == 1


def test_remove_session_asks_first_then_removes(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    week1_id, week2_id = academy.weeks[0].id, academy.weeks[1].id
    confirm = get(client, f"/setup/sessions/{week1_id}/remove").get_data(as_text=True)
    # Week 1: Minji's activity; rows for Minji, Jisoo, Park and (frozen) Choi; Jisoo, Park and Choi's AUTO_FAILED links.
    assert "1 attendance and video records" in confirm and "4 progress rows" in confirm
    assert count(LectureSession, LectureSession.id == week1_id) == 1
    assert post(client, f"/setup/sessions/{week1_id}/remove", token).status_code == 302
    assert count(LectureSession, LectureSession.id == week1_id) == 0
    refused = post(client, f"/setup/sessions/{week2_id}/remove", token)
    assert refused.status_code == 422 and "exam" in refused.get_data(as_text=True)
    assert count(LectureSession, LectureSession.id == week2_id) == 1


def test_refusals_of_the_importer_speak_the_readers_language(app, client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    week2, week3 = academy.weeks[1], academy.weeks[2]
    korean = {"Accept-Language": "ko"}
    refused = client.post(f"/setup/sessions/{week3.id}/edit", headers=korean, data={
        "csrf_token": token, "session-order": "1", "session-title": "Week 3", "session-date": "2026-03-16"})
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "session-order") == "이 강의의 다른 차시가 이미 이 순서를 쓰고 있습니다."
    refused = client.post(f"/setup/sessions/{week2.id}/remove", headers=korean, data={"csrf_token": token})
    assert refused.status_code == 422
    with app.test_request_context(headers=korean):
        text = describe(Invalid("session_needed_by_attempts"))
    assert text in unescape(refused.get_data(as_text=True)) and "exam" not in text


# ---------------------------------------------------------------- enrollments

def test_search_as_you_type_offers_students_not_active_in_the_lecture(client, academy):
    sign_in_with_form(client, academy.users["teacher_a"])
    path = f"/setup/lectures/{academy.algebra.id}/enrollments/candidates?q=kim"
    html = get(client, path, htmx=True).get_data(as_text=True)
    assert html.lstrip().startswith('<div id="candidates">')
    assert "Kim Minho" in html and "Kim Minji" not in html
    choi = get(client, f"/setup/lectures/{academy.algebra.id}/enrollments/candidates?q=choi", htmx=True)
    assert 'data-action="reenroll"' in choi.get_data(as_text=True)
    # Without JavaScript the search form reloads the page with the same list.
    page = get(client, f"/setup/lectures/{academy.algebra.id}/enrollments?q=kim").get_data(as_text=True)
    assert "<html" in page and f'data-student="{academy.minho.student_id}"' in page


def test_enroll_withdraw_and_reenroll_through_the_pages(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    lecture_id = academy.algebra.id
    response = post(client, f"/setup/lectures/{lecture_id}/enrollments", token,
                    {"student": str(academy.minho.student_id), "start_date": "2026-03-10"}, htmx=True)
    assert response.status_code == 200 and "Kim Minho is enrolled." in response.get_data(as_text=True)
    minho = db.session.execute(select(Enrollment).where(Enrollment.student_id == academy.minho.student_id,
                                                        Enrollment.lecture_id == lecture_id)).scalar_one()
    assert minho.start_date == date(2026, 3, 10)
    again = post(client, f"/setup/lectures/{lecture_id}/enrollments", token,
                 {"student": str(academy.minho.student_id)}, htmx=True)
    assert again.status_code == 422 and "already enrolled" in again.get_data(as_text=True)

    # Withdraw Jisoo: her rows stay, she leaves the grid and the API list.
    jisoo = academy.jisoo
    rows_before = count(SessionProgress, SessionProgress.enrollment_id == jisoo.id)
    assert post(client, f"/setup/enrollments/{jisoo.id}/withdraw", token).status_code == 302
    assert count(SessionProgress, SessionProgress.enrollment_id == jisoo.id) == rows_before == 3
    grid = get(client, f"/lectures/{lecture_id}/").get_data(as_text=True)
    assert jisoo.id not in {e for e, _ in cell_statuses(grid)}
    api = get(client, f"/api/progress/lecture-progress/?lecture={lecture_id}",
              headers=bearer(academy.tokens["admin"])).get_json()
    assert jisoo.id not in {row["enrollment_id"] for row in api["results"]}
    listed = get(client, f"/setup/lectures/{lecture_id}/enrollments").get_data(as_text=True)
    assert f'data-enrollment="{jisoo.id}"' not in listed
    shown = get(client, f"/setup/lectures/{lecture_id}/enrollments?withdrawn=1").get_data(as_text=True)
    assert f'<tr data-enrollment="{jisoo.id}" data-state="withdrawn">' in shown

    # Re-enroll: the same enrollment comes back to the grid with its history.
    assert post(client, f"/setup/enrollments/{jisoo.id}/reenroll", token).status_code == 302
    grid = get(client, f"/lectures/{lecture_id}/").get_data(as_text=True)
    assert jisoo.id in {e for e, _ in cell_statuses(grid)}
    assert count(Enrollment, Enrollment.student_id == jisoo.student_id) == 1


def test_new_student_enrolled_at_once_and_validated(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    path = f"/setup/lectures/{academy.algebra.id}/enrollments/new"
    refused = post(client, path, token, {"student-name": " ", "student-contact": "x" * 101}, htmx=True)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert field_error(html, "student-name") == "A value is required."
    assert field_error(html, "student-contact") == "At most 100 characters."
    assert count(Student) == 5
    created = post(client, path, token, {"student-name": "Han Seoyeon", "student-contact": "010-1111-2222"})
    assert created.status_code == 302
    student = db.session.execute(select(Student).where(Student.name == "Han Seoyeon")).scalar_one()
    assert (student.contact, student.guardian_contact) == ("010-1111-2222", None)  # guardians: the student's page
    assert count(Enrollment, Enrollment.student_id == student.id, Enrollment.lecture_id == academy.algebra.id) == 1


# ---------------------------------------------------------------- students

def test_a_teacher_sees_and_edits_only_their_students(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_b"])
    listed = get(client, "/setup/students/").get_data(as_text=True)
    assert "Kim Minho" in listed and "Kim Minji" not in listed and 'id="student-create"' not in listed
    assert post(client, "/setup/students/", token, {"student-name": "Nope"}).status_code == 403
    minho = academy.minho.student_id
    saved = post(client, f"/setup/students/{minho}/", token, {"student-name": "Kim Min-ho",
                                                               "student-contact": "010-2222-3333"})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Student, minho).name == "Kim Min-ho"


def test_admin_creates_students(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    refused = post(client, "/setup/students/", token, {"student-name": ""})
    assert refused.status_code == 422 and field_error(refused.get_data(as_text=True), "student-name")
    created = post(client, "/setup/students/", token, {"student-name": "Oh Jiwon"})
    assert created.status_code == 302 and count(Student, Student.name == "Oh Jiwon") == 1


def test_setup_pages_speak_korean(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    page = get(client, f"/setup/lectures/{academy.algebra.id}/sessions",
               headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "세션 추가" in page or "차시 추가" in page

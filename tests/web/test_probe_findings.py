"""Holes an outside probe found, each with the test that keeps it closed (docs/decisions.md, "Trust").

The academy is tests.factories.build_academy (today 2026-04-01): teacher_a teaches Algebra II,
teacher_b Geometry only.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.accounts.access import can_edit_exam, can_read_exam, shown_exam_lecture_ids
from dashboard.extensions import db
from dashboard.models import Attempt, ExamQuestion, ExamSession, TeacherLecture

from tests.factories import add_answer_key, build_academy, policy_of
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


# ---------------------------------------------------------------- numbers and times at the edges

def api(client, academy, method, path, body=None, who="admin", **kwargs):
    headers = {"Authorization": f"Bearer {academy.tokens[who]}"}
    if body is not None:
        kwargs["json"] = body
    return client.open(path, method=method, headers=headers, **kwargs)


@pytest.mark.parametrize("raw", ["1e-999999999", "1E+999999999", "1e-3"])
def test_a_policy_pass_score_with_an_extreme_exponent_is_400_naming_the_field(client, academy, raw):
    path = f"/api/progress/policies/{policy_of(academy.algebra).id}/"
    response = client.patch(path, data='{"exam_pass_score": %s}' % raw, headers={
        "Authorization": f"Bearer {academy.tokens['admin']}", "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["field"] == "exam_pass_score"
    db.session.expire_all()
    assert policy_of(academy.algebra).exam_pass_score == 60


@pytest.mark.parametrize("raw", ["1e-999999999", "1E+999999999"])
def test_an_imported_attempt_score_with_an_extreme_exponent_is_400_naming_the_item(client, academy, raw):
    body = ('{"attempts": [{"enrollment_id": %d, "exam_id": %d, "attempt_no": 5, "score": %s}]}'
            % (academy.park.id, academy.quiz.id, raw))
    response = client.post("/api/import", data=body, headers={
        "Authorization": f"Bearer {academy.tokens['admin']}", "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["field"] == "attempts[0].score"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:00-12:00", "0001-01-01T00:00"])
def test_an_imported_time_at_the_calendars_ends_is_400_naming_the_item(client, academy, when):
    body = {"attempts": [{"enrollment_id": academy.park.id, "exam_id": academy.quiz.id, "attempt_no": 5,
                          "score": 50, "submitted_at": when}]}
    response = api(client, academy, "POST", "/api/import", body)
    assert response.status_code == 400
    assert response.get_json()["field"] == "attempts[0].submitted_at"


def attempt_url(academy):
    return (f"/lectures/{academy.algebra.id}/cell/exams/{academy.quiz.id}/attempts"
            f"?enrollment={academy.jisoo.id}&session={academy.weeks[1].id}")


@pytest.mark.parametrize("score, time, message", [
    ("７２", "", "must be a number"),
    ("٧٢", "", "must be a number"),
    ("7_2", "", "must be a number"),
    ("1e-999999999", "", "must have at most 2 decimal places"),
    ("1E+999999999", "", "is too large"),
    ("50", "0001-01-01T00:00:00+14:00", "must be a date and time"),
    ("50", "9999-12-31T23:59:00-12:00", "must be a date and time"),
])
def test_the_attempt_form_refuses_foreign_digits_extreme_numbers_and_times(client, academy, score, time, message):
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    data = {f"exam{academy.quiz.id}-score": score}
    if time:
        data[f"exam{academy.quiz.id}-submitted_at"] = time
    response = client.post(attempt_url(academy), data=data, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.execute(select(func.count(Attempt.id))).scalar_one() == 2


# ---------------------------------------------------------------- CSV formula guard

@pytest.mark.parametrize("text, guarded", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"), ("\r=1+1", "'\r=1+1"), ("Kim", "Kim"), ("", ""), (" =1", " =1"),
])
def test_one_formula_guard_neutralises_tab_and_cr_too(text, guarded):
    from dashboard.text.spreadsheet import formula_safe, unguarded

    assert formula_safe(text) == guarded
    assert unguarded(guarded) == text
    assert formula_safe(-3) == -3  # numbers are numbers, not text


def test_every_export_guards_a_name_starting_with_tab_or_cr(client, academy):
    from tests.factories import make_manual_link

    from dashboard.models import Student

    db.session.get(Student, academy.park.student_id).name = "\t=HYPERLINK(\"http://x\")"
    make_manual_link(academy.park, academy.weeks[0], memo="\r=1+1")
    db.session.commit()
    sign_in(client, academy.users["admin"])
    grid = client.get(f"/lectures/{academy.algebra.id}/grid.csv").get_data().decode("utf-8-sig")
    assert "'\t=HYPERLINK" in grid and "\n\t=" not in grid and ",\t=" not in grid
    queue = client.get("/clinic/queue.csv").get_data().decode("utf-8-sig")
    assert "'\t=HYPERLINK" in queue and "'\r=1+1" in queue


# ---------------------------------------------------------------- sessions end on the server

def login(client, username, password, address="127.0.0.1"):
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def kim(app):
    from dashboard.accounts import users as accounts

    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"
    user = accounts.create_user("kim", "kim password", "staff")
    accounts.create_user("boss", "boss password", "admin")
    db.session.commit()
    return user


def copied_cookie_client(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    cookie = client.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_copied_session_cookie_stops_working_after_logout(app, client, kim):
    assert login(client, "kim", "kim password").status_code == 302
    thief = copied_cookie_client(app, client)
    assert thief.get("/").status_code == 200
    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/").status_code == 302
    # Signing in again works.
    assert login(client, "kim", "kim password").status_code == 302
    assert client.get("/").status_code == 200


def test_reactivating_a_user_does_not_revive_old_sessions(app, client, kim):
    from dashboard.accounts import users as accounts

    assert login(client, "kim", "kim password").status_code == 302
    accounts.deactivate(kim)
    db.session.commit()
    assert client.get("/").status_code == 302
    accounts.activate(kim)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_a_new_password_ends_other_sessions(app, client, kim):
    from dashboard.accounts import users as accounts

    assert login(client, "kim", "kim password").status_code == 302
    accounts.reset_password(kim, "another password")
    db.session.commit()
    assert client.get("/").status_code == 302


# ---------------------------------------------------------------- headers

def test_authenticated_pages_exports_and_api_answers_are_not_stored(client, academy):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    sign_in(client, academy.users["admin"])
    for path in ("/", f"/lectures/{academy.algebra.id}/grid.csv", "/clinic/queue.csv"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    api = client.get("/api/progress/policies/", headers={"Authorization": f"Bearer {academy.tokens['admin']}"})
    assert api.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in api.headers  # development


def test_production_answers_carry_hsts(app, client, academy):
    app.config["DASHBOARD_ENV"] = "production"
    response = client.get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# ---------------------------------------------------------------- DASHBOARD_ENV

@pytest.mark.parametrize("raw, expected", [("Production", "production"), (" DEVELOPMENT ", "development")])
def test_dashboard_env_is_read_in_any_case(raw, expected):
    from dashboard.config import normalise_environment

    config = {"DASHBOARD_ENV": raw}
    normalise_environment(config)
    assert config["DASHBOARD_ENV"] == expected


@pytest.mark.parametrize("raw", ["prod", "staging", "", "dev"])
def test_an_unknown_dashboard_env_stops_the_app_at_start(raw):
    from dashboard import create_app

    with pytest.raises(ValueError, match="DASHBOARD_ENV must be 'production' or 'development'"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "k", "DASHBOARD_ENV": raw})


# ---------------------------------------------------------------- unknown list parameters

@pytest.mark.parametrize("path, query", [
    ("session-progress", "enrollment=2011"),
    ("clinic-links", "resolved=true&approve=true"),
    ("policies", "lectures=1"),
])
def test_an_unknown_list_parameter_is_400_naming_it(client, academy, path, query):
    response = client.get(f"/api/progress/{path}/?{query}", headers={"Authorization": f"Bearer {academy.tokens['admin']}"})
    assert response.status_code == 400
    assert response.get_json()["field"] == query.split("&")[-1].split("=")[0]


@pytest.mark.parametrize("path, query", [
    ("session-progress", "enrollment_id=1&session=1&lecture=1&completed=true&search=x&ordering=id&page=1&page_size=5"),
    ("lecture-progress", "enrollment_id=1&lecture=1&risk_level=NORMAL&include_withdrawn=true"),
    ("clinic-links", "enrollment_id=1&session=1&lecture=1&reason=AUTO_FAILED&is_auto=true&approved=false&resolved=false"),
    ("risk-logs", "enrollment_id=1&session=1&lecture=1&risk_level=DANGER&rule=CONSECUTIVE_INCOMPLETE"),
    ("policies", "lecture=1&search=a"),
])
def test_every_filter_spec_names_stays_valid(client, academy, path, query):
    response = client.get(f"/api/progress/{path}/?{query}", headers={"Authorization": f"Bearer {academy.tokens['admin']}"})
    assert response.status_code == 200, response.get_json()


# ---------------------------------------------------------------- invisible names

INVISIBLE_NAMES = ["\u200b\u200b", "\u3164", "\ufeff", "\u2800\u200d", "\u00a0\u200c"]


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_name_of_invisible_characters_is_refused_by_the_import(client, academy, name):
    from dashboard.models import Student

    students = db.session.execute(select(func.count(Student.id))).scalar_one()
    response = api(client, academy, "POST", "/api/import", {"students": [{"id": 900, "name": name}]})
    assert response.status_code == 400 and response.get_json()["field"] == "students[0].name"
    assert db.session.execute(select(func.count(Student.id))).scalar_one() == students


@pytest.mark.parametrize("name", INVISIBLE_NAMES[:2])
def test_a_name_of_invisible_characters_is_refused_by_the_setup_form(client, academy, name):
    from .test_clinic_pages import sign_in_with_form
    from .test_setup_pages import field_error

    token = sign_in_with_form(client, academy.users["teacher_a"])
    path = f"/setup/lectures/{academy.algebra.id}/enrollments/new"
    refused = client.post(path, data={"student-name": name, "csrf_token": token}, headers=HTMX)
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "student-name") == "A name needs at least one visible character."


def test_names_with_visible_characters_stay_valid():
    from dashboard.text.visible import has_visible_character

    assert all(has_visible_character(name) for name in ("김민지", "Kim\u200bMinji", "O'Neil", "ㄱ", "é", "7"))
    assert not any(has_visible_character(name) for name in INVISIBLE_NAMES)


# ---------------------------------------------------------------- unlocking an account

def test_an_admin_unlocks_a_locked_account_on_the_users_page(app, client, kim):
    from dashboard.models import AuditLog, User

    for _ in range(5):
        assert login(client, "kim", "wrong").status_code == 401
    assert login(client, "kim", "kim password").status_code == 429
    boss = app.test_client()
    assert login(boss, "boss", "boss password", address="10.9.9.9").status_code == 302
    page = boss.get(f"/users/{kim.id}/").get_data(as_text=True)
    assert 'data-locked="true"' in page
    token = csrf_token(boss, f"/users/{kim.id}/")
    assert boss.post(f"/users/{kim.id}/unlock", data={"csrf_token": token}).status_code == 302
    assert 'data-locked="true"' not in boss.get(f"/users/{kim.id}/").get_data(as_text=True)
    assert login(client, "kim", "kim password").status_code == 302
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "user.unlock")).scalar_one()
    assert entry.object_id == str(db.session.get(User, kim.id).id)


# ---------------------------------------------------------------- logs as JSON, request id on the 500 page

def test_an_error_is_one_json_log_line_with_request_and_user_and_the_500_page_shows_the_request_id(
        app, client, academy, monkeypatch):
    import io
    import json
    import logging

    from dashboard import request_log
    from dashboard.lectures import grid

    def broken(visible):
        raise RuntimeError("boom")

    monkeypatch.setattr(grid, "lecture_summaries", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    stream = io.StringIO()
    handler = request_log._JsonRecordHandler()
    handler.setStream(stream)
    app_logger = logging.getLogger(request_log.APP_LOGGER_NAME)
    app_logger.addHandler(handler)
    try:
        sign_in(client, academy.users["teacher_a"])
        response = client.get("/", headers={"X-Request-ID": "req-500"})
    finally:
        app_logger.removeHandler(handler)
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-500"
    assert '<code data-request-id>req-500</code>' in response.get_data(as_text=True)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    # Flask's own "Exception on / [GET]" and the error page's record: both JSON, both with the request.
    assert [line["message"] for line in lines] == ["Exception on / [GET]", "unexpected error on a page"]
    assert all(line["request_id"] == "req-500" and line["ts"].startswith("20") for line in lines)
    line = lines[-1]
    assert (line["level"], line["logger"]) == ("ERROR", "dashboard")
    assert line["request_id"] == "req-500" and line["user_id"] == academy.users["teacher_a"].id
    assert "RuntimeError: boom" in line["exc_info"]


def test_configure_sends_the_apps_records_through_the_json_handler_once():
    import logging

    from flask.logging import default_handler

    from dashboard import request_log

    app_logger = logging.getLogger(request_log.APP_LOGGER_NAME)
    request_logger = logging.getLogger(request_log.LOGGER_NAME)
    saved = (list(app_logger.handlers), app_logger.propagate, list(request_logger.handlers),
             request_logger.propagate, request_logger.level)
    try:
        request_log.configure(True)
        request_log.configure(True)
        json_handlers = [h for h in app_logger.handlers if isinstance(h, request_log._JsonRecordHandler)]
        assert len(json_handlers) == 1 and default_handler not in app_logger.handlers
        assert app_logger.propagate is False
    finally:
        app_logger.handlers[:] = saved[0]
        app_logger.propagate = saved[1]
        request_logger.handlers[:] = saved[2]
        request_logger.propagate = saved[3]
        request_logger.setLevel(saved[4])


# ---------------------------------------------------------------- OMR: an unassigned scan of a shared exam

def test_a_teacher_of_one_lecture_may_not_correct_an_unassigned_scan_of_a_shared_exam(client, academy, shared_quiz):
    from tests.factories import ALL_RIGHT

    headers = {"Authorization": f"Bearer {academy.tokens['staff']}"}
    scan_id = client.post("/api/omr-scans", json={"exam_id": shared_quiz.id, "enrollment_id": None},
                          headers=headers).get_json()["id"]
    result = {"status": "DONE", "error": None, "result": {
        "version": "omr-2.1", "mode": "template", "meta_used": True, "answers": ALL_RIGHT,
        "identifier": {"status": "ambiguous", "enrollment_id": None}}}
    assert client.post(f"/api/omr-scans/{scan_id}/result", json=result, headers=headers).status_code == 200
    correction = {"answers": [{"question": 4, "detected": ["2"]}]}
    refused = api(client, academy, "POST", f"/api/omr-scans/{scan_id}/correct", correction, who="teacher_a")
    assert refused.status_code == 403
    # Once the scan is assigned to one of teacher_a's students, it is theirs to correct.
    assert api(client, academy, "POST", f"/api/omr-scans/{scan_id}/assign",
               {"enrollment_id": academy.park.id}, who="teacher_a").status_code == 200
    assert api(client, academy, "POST", f"/api/omr-scans/{scan_id}/correct", correction,
               who="teacher_a").status_code == 200

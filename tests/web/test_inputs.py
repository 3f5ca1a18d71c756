"""Editing a cell in the browser UI: CSRF, roles, the htmx answer (detail + row + clinic count out
of band), the no-JavaScript answer (redirect), and invalid input (422, nothing saved).

The academy is tests/web/factories.build_academy (today 2026-04-01, grace 7 days). Park_100% has
nothing at all: weeks 1-3 due and incomplete, DANGER (3 in a row), AUTO_FAILED on each week.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Activity, Attempt, AuditLog, HomeworkSubmission, LectureProgress, SessionProgress
from dashboard.progress.recompute import recompute_lecture

from tests.factories import build_academy, make_homework
from .pages import HTMX, cell_statuses, csrf_token, nav_count, row_html, sign_in


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def cell_query(academy, enrollment, session) -> str:
    return f"?enrollment={enrollment.id}&session={session.id}"


def activity_url(academy, enrollment, session) -> str:
    return f"/lectures/{academy.algebra.id}/cell/activity" + cell_query(academy, enrollment, session)


def progress_of(enrollment, session) -> SessionProgress:
    db.session.expire_all()
    return db.session.execute(
        select(SessionProgress).where(SessionProgress.enrollment_id == enrollment.id,
                                      SessionProgress.session_id == session.id)
    ).scalar_one()


def risk_of(enrollment) -> str:
    db.session.expire_all()
    return db.session.execute(
        select(LectureProgress.risk_level).where(LectureProgress.enrollment_id == enrollment.id)
    ).scalar_one()


def activity_count() -> int:
    return db.session.execute(select(func.count(Activity.id))).scalar_one()


# ---------------------------------------------------------------- the save that turns a cell completed

def test_htmx_save_recomputes_and_updates_cell_row_badge_and_clinic_count(client, academy):
    """Park's Week 3 with video 95 (>= 90): no exam or homework on Week 3 -> completed. Due
    sessions from the top: Week 3 completed stops the run -> 0 in a row -> NORMAL. Its
    AUTO_FAILED link resolves: the admin's open count goes from 8 to 7 (Jisoo 3 + AUTO_RISK 1,
    Park 3, Minho 1; withdrawn Choi's links are not counted)."""
    sign_in(client, academy.users["admin"])
    week3 = academy.weeks[2]
    grid_before = client.get(f"/lectures/{academy.algebra.id}/").get_data(as_text=True)
    assert nav_count(grid_before) == 8
    assert cell_statuses(grid_before)[(academy.park.id, week3.id)] == "incomplete"
    assert 'data-risk="DANGER"' in row_html(grid_before, academy.park.id)

    token = csrf_token(client)
    response = client.post(activity_url(academy, academy.park, week3),
                           data={"activity-attendance": "online", "activity-video_rate": "95"},
                           headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    row = progress_of(academy.park, week3)
    assert (row.video_progress_rate, row.video_completed, row.exam_passed, row.homework_passed, row.completed) == (
        95, True, True, True, True)
    assert row.completed_at is not None
    assert risk_of(academy.park) == "NORMAL"

    assert html.lstrip().startswith('<section id="cell-panel"')
    assert 'data-status="completed"' in html.split("</section>")[0]
    oob_row = row_html(html, academy.park.id)
    assert 'hx-swap-oob="true"' in oob_row
    assert 'data-risk="NORMAL"' in oob_row
    assert cell_statuses(oob_row)[(academy.park.id, week3.id)] == "completed"
    assert cell_statuses(oob_row)[(academy.park.id, academy.weeks[1].id)] == "incomplete"
    assert re.search(r'<span id="nav-clinic-count" class="nav-count" hx-swap-oob="true">', html)
    assert nav_count(html) == 7


def test_save_without_javascript_redirects_back_to_the_cell(client, academy):
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    week1 = academy.weeks[0]
    response = client.post(activity_url(academy, academy.jisoo, week1),
                           data={"csrf_token": token, "activity-attendance": "offline", "activity-video_rate": "0"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/lectures/{academy.algebra.id}/cell"
                                                 + cell_query(academy, academy.jisoo, week1))
    assert progress_of(academy.jisoo, week1).completed is True  # offline attendance counts as watched
    # Jisoo: Week 1 completed, Weeks 2-3 not -> 2 in a row -> WARNING.
    assert risk_of(academy.jisoo) == "WARNING"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved." in page


def test_the_change_is_audited(client, academy):
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    client.post(activity_url(academy, academy.park, academy.weeks[0]),
                data={"activity-attendance": "online", "activity-video_rate": "40"}, headers={**HTMX, "X-CSRFToken": token})
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "activity.set")).scalar_one()
    assert entry.username == "teacher_a"
    assert entry.before is None
    assert entry.after["video_rate"] == 40


# ---------------------------------------------------------------- CSRF and roles

def test_csrf_is_refused_without_token(client, academy):
    sign_in(client, academy.users["admin"])
    response = client.post(activity_url(academy, academy.park, academy.weeks[2]),
                           data={"activity-attendance": "online", "activity-video_rate": "95"}, headers=HTMX)
    assert response.status_code == 400
    assert activity_count() == 3  # Minji's three, from the academy
    assert progress_of(academy.park, academy.weeks[2]).completed is False


def test_staff_sees_no_edit_forms_and_cannot_post(client, academy):
    sign_in(client, academy.users["staff"])
    detail = client.get(f"/lectures/{academy.algebra.id}/cell" + cell_query(academy, academy.park, academy.weeks[2]),
                        headers=HTMX)
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    # The panel's inputs part has no form; its clinic part lets staff request a clinic (SPEC §6).
    inputs_part, clinic_part = html.split('id="student-clinic"')
    assert "<form" not in inputs_part and "<input" not in inputs_part
    assert 'data-action="request-clinic"' in clinic_part
    token = csrf_token(client)
    response = client.post(activity_url(academy, academy.park, academy.weeks[2]),
                           data={"activity-attendance": "online", "activity-video_rate": "95"},
                           headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 403
    assert activity_count() == 3


@pytest.mark.parametrize("who, status", [
    ("admin", 200), ("teacher_a", 200), ("assistant", 200),  # staff assigned to Algebra
    ("staff", 403), ("assistant_b", 403),  # unassigned staff, or assigned to Geometry only: read-only here
    ("teacher_b", 404),
])
def test_who_may_edit_a_cell(client, academy, who, status):
    """The cell panel's roll call and video: the lecture's teacher and its assistants edit like an
    admin; other staff read; another lecture's teacher does not even see it. Presence 'late' alone
    makes Park's Week 3 offline, so it completes."""
    from tests.factories import make_user

    users = {**academy.users, "assistant": make_user("assistant", "staff", (academy.algebra,)),
             "assistant_b": make_user("assistant_b", "staff", (academy.geometry,))}
    db.session.commit()
    sign_in(client, users[who])
    token = csrf_token(client)
    response = client.post(activity_url(academy, academy.park, academy.weeks[2]),
                           data={"activity-attendance": "online", "activity-video_rate": "0",
                                 "activity-presence": "late"},
                           headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == status
    if status == 200:
        assert progress_of(academy.park, academy.weeks[2]).completed is True
        stored = db.session.execute(select(Activity.attendance, Activity.presence)
                                    .where(Activity.enrollment_id == academy.park.id)).one()
        assert tuple(stored) == ("offline", "late")
        assert 'name="activity-presence"' in response.get_data(as_text=True)
    else:
        assert activity_count() == 3


def test_the_cell_panel_refuses_a_contradicting_pair_naming_the_roll_call(client, academy):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client)
    response = client.post(activity_url(academy, academy.minji, academy.weeks[0]),
                           data={"activity-attendance": "offline", "activity-video_rate": "95",
                                 "activity-presence": "absent"},
                           headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 422
    assert "contradicts the attendance" in response.get_data(as_text=True)
    assert db.session.execute(select(Activity.presence).where(Activity.enrollment_id == academy.minji.id,
                                                              Activity.session_id == academy.weeks[0].id)
                              ).scalar_one() is None


def test_teacher_of_another_lecture_gets_404_on_a_write(client, academy):
    sign_in(client, academy.users["teacher_b"])
    token = csrf_token(client)
    response = client.post(activity_url(academy, academy.park, academy.weeks[2]),
                           data={"activity-attendance": "online", "activity-video_rate": "95"},
                           headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 404
    assert activity_count() == 3


def test_detail_has_real_labelled_inputs_for_an_editor(client, academy):
    sign_in(client, academy.users["teacher_a"])
    html = client.get(f"/lectures/{academy.algebra.id}/cell" + cell_query(academy, academy.jisoo, academy.weeks[1]),
                      headers=HTMX).get_data(as_text=True)
    assert '<label for="activity-video_rate">Video rate (%)</label>' in html
    assert re.search(r'<input[^>]*id="activity-video_rate"[^>]*type="number"', html)
    assert '<label for="activity-attendance">Attendance</label>' in html
    # Jisoo's one quiz attempt (40) is editable; a new attempt can be added.
    assert re.search(r'<input[^>]*name="attempt\d+-score"[^>]*value="40"', html)
    assert f'/cell/exams/{academy.quiz.id}/attempts' in html
    assert html.count('<input type="hidden" name="csrf_token"') >= 3


# ---------------------------------------------------------------- invalid input saves nothing

@pytest.mark.parametrize("value, message", [
    ("101", "must be from 0 to 100"),
    ("-1", "must be a whole number from 0 to 100"),
    ("9.5", "must be a whole number from 0 to 100"),
    ("", "must be a whole number from 0 to 100"),
])
def test_invalid_video_rate_shows_the_error_at_the_field_and_saves_nothing(client, academy, value, message):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client)
    response = client.post(activity_url(academy, academy.park, academy.weeks[2]),
                           data={"activity-attendance": "online", "activity-video_rate": value},
                           headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="activity-video_rate"', html) or re.search(
        r'<input[^>]*id="activity-video_rate"[^>]*aria-invalid="true"', html)
    assert f'<small id="activity-video_rate-error" class="error" role="alert">{message}</small>' in html
    assert activity_count() == 3
    assert "hx-swap-oob" not in html


def test_invalid_attempt_score_saves_nothing(client, academy):
    """72.505 has a third decimal; 100.01 is over the quiz's maximum of 100."""
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    url = (f"/lectures/{academy.algebra.id}/cell/exams/{academy.quiz.id}/attempts"
           + cell_query(academy, academy.jisoo, academy.weeks[1]))
    for score, message in (("72.505", "must have at most 2 decimal places"), ("100.01", "must be at most 100"),
                           ("abc", "must be a number")):
        response = client.post(url, data={f"exam{academy.quiz.id}-score": score},
                               headers={**HTMX, "X-CSRFToken": token})
        assert response.status_code == 422, score
        assert message in response.get_data(as_text=True)
    attempts = db.session.execute(select(func.count(Attempt.id))).scalar_one()
    assert attempts == 2


# ---------------------------------------------------------------- attempts and homework through the forms

def test_adding_an_attempt_passes_the_exam(client, academy):
    """Jisoo's second attempt at the quiz: 75 >= 60, latest result (attempt 2, no time vs attempt 1
    with a time: the timed one is the latest!) — so give it a later time to make it the result."""
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    url = (f"/lectures/{academy.algebra.id}/cell/exams/{academy.quiz.id}/attempts"
           + cell_query(academy, academy.jisoo, academy.weeks[1]))
    response = client.post(url, data={f"exam{academy.quiz.id}-score": "75",
                                      f"exam{academy.quiz.id}-submitted_at": "2026-03-16T09:00"},
                           headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200
    attempt = db.session.execute(select(Attempt).where(Attempt.enrollment_id == academy.jisoo.id,
                                                       Attempt.attempt_no == 2)).scalar_one()
    assert attempt.score == Decimal("75.00") and attempt.source == "manual"
    row = progress_of(academy.jisoo, academy.weeks[1])
    assert row.exam_aggregate_score == Decimal("75") and row.exam_passed is True
    assert row.completed is False  # video still 0


def test_editing_and_deleting_an_attempt(client, academy):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client)
    attempt = db.session.execute(select(Attempt).where(Attempt.enrollment_id == academy.jisoo.id)).scalar_one()
    base = f"/lectures/{academy.algebra.id}/cell/attempts/{attempt.id}" + cell_query(academy, academy.jisoo,
                                                                                   academy.weeks[1])
    edited = client.post(base, data={f"attempt{attempt.id}-score": "60",
                                     f"attempt{attempt.id}-submitted_at": "2026-03-09T10:05"},
                         headers={**HTMX, "X-CSRFToken": token})
    assert edited.status_code == 200
    assert progress_of(academy.jisoo, academy.weeks[1]).exam_passed is True  # 60 >= 60, exactly on the line

    path = f"/lectures/{academy.algebra.id}/cell/attempts/{attempt.id}/delete" + cell_query(
        academy, academy.jisoo, academy.weeks[1])
    deleted = client.post(path, headers={**HTMX, "X-CSRFToken": token})
    assert deleted.status_code == 200
    row = progress_of(academy.jisoo, academy.weeks[1])
    assert (row.exam_attempted, row.exam_passed, row.exam_meta["note"]) == (False, False, "no_results")


def test_homework_approval_through_the_form(client, academy):
    """A homework on Week 3 (in range from order 2) under TEACHER_APPROVAL: Minji's Week 3 stops
    being completed until the teacher approves it."""
    homework = make_homework(academy.weeks[2])
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    assert progress_of(academy.minji, academy.weeks[2]).completed is False
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    url = (f"/lectures/{academy.algebra.id}/cell/homework/{homework.id}"
           + cell_query(academy, academy.minji, academy.weeks[2]))
    response = client.post(url, data={f"hw{homework.id}-submitted": "y", f"hw{homework.id}-score": "88.5",
                                      f"hw{homework.id}-approved": "y"},
                           headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200
    submission = db.session.execute(select(HomeworkSubmission)).scalar_one()
    assert (submission.submitted, submission.score, submission.approved) == (True, Decimal("88.5"), True)
    row = progress_of(academy.minji, academy.weeks[2])
    assert (row.homework_submitted, row.homework_passed, row.completed) == (True, True, True)

    over = client.post(url, data={f"hw{homework.id}-score": "100.5"}, headers={**HTMX, "X-CSRFToken": token})
    assert over.status_code == 422
    db.session.expire_all()
    assert db.session.execute(select(HomeworkSubmission.score)).scalar_one() == Decimal("88.5")

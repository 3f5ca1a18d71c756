"""The roll-call / column-entry page of one session (SPEC §12) through the test client: who sees
inputs, the form's hooks, one save through the column service, a refused save that marks the cell
and saves nothing, and the roll call shown on the grid and the student page.

Academy: tests/factories.build_academy (today 2026-04-01). Algebra Week 1..3 are due; Park has
nothing stored, Jisoo has only her quiz (40 on Week 2), Minji is completed everywhere."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Activity, Attempt

from tests.factories import build_academy, make_homework, make_user
from .pages import cell_statuses, csrf_token, row_html, sign_in


@pytest.fixture
def academy(app):
    built = build_academy()
    built.users["assistant"] = make_user("assistant", "staff", (built.algebra,))
    db.session.commit()
    return built


def entry_url(academy, session) -> str:
    return f"/lectures/{academy.algebra.id}/sessions/{session.id}/entry"


def presence_of(enrollment, session):
    return db.session.execute(select(Activity.attendance, Activity.presence).where(
        Activity.enrollment_id == enrollment.id, Activity.session_id == session.id)).one_or_none()


def test_the_page_lists_every_active_student_with_named_inputs(client, academy):
    homework = make_homework(academy.weeks[1])
    sign_in(client, academy.users["assistant"])
    html = client.get(entry_url(academy, academy.weeks[1])).get_data(as_text=True)
    assert f'data-entry-session="{academy.weeks[1].id}"' in html
    rows = re.findall(r'<tr data-enrollment="(\d+)"', html)
    assert sorted(map(int, rows)) == sorted([academy.minji.id, academy.jisoo.id, academy.park.id])  # not Choi
    e, quiz = academy.jisoo.id, academy.quiz.id
    for name in (f"presence-{e}", f"video-{e}", f"score-{quiz}-{e}", f"hw-submitted-{homework.id}-{e}",
                 f"hw-score-{homework.id}-{e}", f"hw-approved-{homework.id}-{e}"):
        assert f'name="{name}"' in html, name
    assert re.search(rf'name="score-{quiz}-{e}" value="40"', html)
    for word in ("present", "late", "absent", "excused"):
        assert f'name="presence-{e}" value="{word}"' in html
    assert "entry.js" in html and 'name="csrf_token"' in html


@pytest.mark.parametrize("who, get_status, post_status", [
    ("admin", 200, 200), ("teacher_a", 200, 200), ("assistant", 200, 200),
    ("staff", 200, 403), ("teacher_b", 404, 404),
])
def test_who_may_read_and_save(client, academy, who, get_status, post_status):
    sign_in(client, academy.users[who])
    page = client.get(entry_url(academy, academy.weeks[0]))
    assert page.status_code == get_status
    if get_status == 200:
        assert ('name="presence-' in page.get_data(as_text=True)) is (post_status == 200)
    token = csrf_token(client)
    response = client.post(entry_url(academy, academy.weeks[0]),
                           data={"csrf_token": token, f"presence-{academy.park.id}": "present"})
    assert response.status_code == post_status
    assert (presence_of(academy.park, academy.weeks[0]) is not None) is (post_status == 200)


def test_a_session_of_another_lecture_is_404(client, academy):
    sign_in(client, academy.users["admin"])
    assert client.get(f"/lectures/{academy.algebra.id}/sessions/{academy.geometry_week.id}/entry").status_code == 404


def test_a_save_without_csrf_token_is_refused(client, academy):
    sign_in(client, academy.users["admin"])
    response = client.post(entry_url(academy, academy.weeks[0]), data={f"presence-{academy.park.id}": "present"})
    assert response.status_code == 400
    assert presence_of(academy.park, academy.weeks[0]) is None


def test_a_save_lists_who_changed_in_words(client, academy):
    """Park present (offline) completes Week 1; Minji's unchanged values are not sent at all."""
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    response = client.post(entry_url(academy, academy.weeks[0]), data={
        "csrf_token": token, f"presence-{academy.park.id}": "present", f"video-{academy.minji.id}": "95",
        f"presence-{academy.minji.id}": ""})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    result = re.search(r'<section id="entry-result".*?</section>', html, re.S).group(0)
    assert "Rows saved: 1." in result
    assert "Park_100%" in result and "now completed" in result and "Kim Minji" not in result
    assert tuple(presence_of(academy.park, academy.weeks[0])) == ("offline", "present")
    assert presence_of(academy.minji, academy.weeks[0]) == ("online", None)


def test_a_refused_save_marks_the_cell_and_saves_nothing(client, academy):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client)
    quiz, jisoo = academy.quiz.id, academy.jisoo.id
    response = client.post(entry_url(academy, academy.weeks[1]), data={
        "csrf_token": token, f"presence-{academy.park.id}": "late", f"score-{quiz}-{jisoo}": "101",
        f"video-{academy.minji.id}": "abc"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'name="score-{quiz}-{jisoo}" value="101"[^>]*aria-invalid="true" '
                     rf'aria-describedby="err-score-{quiz}-{jisoo}"', html)
    assert re.search(rf'id="err-score-{quiz}-{jisoo}">The score must be at most 100.<', html)
    assert re.search(rf'name="video-{academy.minji.id}" value="abc"[^>]*aria-invalid="true"', html)
    assert "Cells to fix (marked below): 2." in html
    # The refused form keeps what was typed: Park's "late" is still chosen, but not stored.
    assert re.search(rf'name="presence-{academy.park.id}" value="late" checked', html)
    assert presence_of(academy.park, academy.weeks[1]) is None
    assert db.session.execute(select(Attempt.score).where(Attempt.enrollment_id == jisoo)).scalar_one() == Decimal(40)


def test_a_retake_from_the_page(client, academy):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client)
    quiz, jisoo = academy.quiz.id, academy.jisoo.id
    response = client.post(entry_url(academy, academy.weeks[1]), data={
        "csrf_token": token, f"score-{quiz}-{jisoo}": "75", "retake": "1"})
    assert response.status_code == 200
    assert db.session.execute(select(Attempt.attempt_no, Attempt.score).where(Attempt.enrollment_id == jisoo)
                              .order_by(Attempt.attempt_no)).all() == [(1, Decimal(40)), (2, Decimal(75))]


def test_the_grid_links_each_session_to_its_roll_call_and_shows_presence(client, academy):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client)
    client.post(entry_url(academy, academy.weeks[0]), data={"csrf_token": token,
                                                            f"presence-{academy.park.id}": "late"})
    html = client.get(f"/lectures/{academy.algebra.id}/").get_data(as_text=True)
    for week in academy.weeks:
        assert f'href="{entry_url(academy, week)}"' in html
    row = row_html(html, academy.park.id)
    assert re.search(rf'data-session="{academy.weeks[0].id}" data-status="completed">.*?'
                     r'data-presence="late" aria-hidden="true">L</span><span class="vh">Late</span>', row)
    assert cell_statuses(html)[(academy.park.id, academy.weeks[0].id)] == "completed"
    student = client.get(f"/lectures/{academy.algebra.id}/students/{academy.park.id}").get_data(as_text=True)
    counts = dict(re.findall(r'<li data-presence="(\w+)">.*?</span> (\d+)</li>', student))
    assert counts == {"present": "0", "late": "1", "absent": "0", "excused": "0"}


def test_the_scores_export_is_the_column_as_csv(client, academy):
    """Week 2: Minji 72.5 and Jisoo 40 on the Quiz, Park nothing; a name starting with = is quoted."""
    from dashboard.lectures import cells

    cells.set_activity(academy.users["admin"], academy.park.id, academy.weeks[1].id, presence="excused")
    from dashboard.models import Student

    db.session.get(Student, academy.jisoo.student_id).name = "=Lee Jisoo"
    db.session.commit()
    sign_in(client, academy.users["staff"])  # readers may export
    response = client.get(entry_url(academy, academy.weeks[1]) + ".csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data().decode("utf-8").lstrip("\ufeff").splitlines()
    assert lines[0] == f"enrollment_id,Student,Roll call,Video (%),{academy.quiz.title},Status"
    assert lines[1:] == [
        f"{academy.jisoo.id},'=Lee Jisoo,,0,40,incomplete",
        f"{academy.minji.id},Kim Minji,,95,72.5,completed",
        f"{academy.park.id},Park_100%,excused,0,,incomplete",
    ]
    sign_in(client, academy.users["teacher_b"])
    assert client.get(entry_url(academy, academy.weeks[1]) + ".csv").status_code == 404

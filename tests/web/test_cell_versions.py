"""No lost updates in the cell panel: every edit form carries the version of the stored values it
was filled from; a save based on an older one answers 409 with what was saved meanwhile beside
this form's values, changes nothing, and a second press (now based on the stored version)
overwrites on purpose. A form without a version applies, as before.

The academy is tests/factories.build_academy: Minji watched 95% of every week; Jisoo has attempt 1
of the quiz (40) on Week 2.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Activity, Attempt, HomeworkSubmission

from tests.factories import build_academy, make_homework
from .pages import HTMX, csrf_token, sign_in


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def cell_path(academy, enrollment, session, tail: str = "") -> str:
    return f"/lectures/{academy.algebra.id}/cell{tail}?enrollment={enrollment.id}&session={session.id}"


def version_in(html: str, prefix: str) -> str:
    match = re.search(rf'name="{prefix}-version" type="hidden" value="([0-9a-f]+)"', html)
    assert match, f"no {prefix}-version in the panel"
    return match.group(1)


def activity_of(enrollment, session) -> Activity:
    db.session.expire_all()
    return db.session.execute(select(Activity).where(Activity.enrollment_id == enrollment.id,
                                                     Activity.session_id == session.id)).scalar_one()


def test_a_stale_attendance_save_is_refused_with_what_changed_and_overwrites_on_purpose(client, academy):
    """Tab 1 and tab 2 open Minji's Week 1 (offline? no: online, 95%). Tab 2 saves "absent"; tab 1,
    still showing "not taken", saves video 50: 409, nothing of tab 1 saved, the roll call shown as
    saved meanwhile (Absent) beside tab 1's (Not taken). Tab 1 presses Save again: video 50 is saved."""
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    week, minji = academy.weeks[0], academy.minji
    panel = client.get(cell_path(academy, minji, week), headers=HTMX).get_data(as_text=True)
    base = version_in(panel, "activity")
    url = cell_path(academy, minji, week, "/activity")

    second = client.post(url, data={"activity-presence": "absent", "activity-attendance": "online",
                                    "activity-video_rate": "95", "activity-version": base},
                         headers={**HTMX, "X-CSRFToken": token})
    assert second.status_code == 200
    assert (activity_of(minji, week).presence, activity_of(minji, week).video_rate) == ("absent", 95)

    stale = {"activity-presence": "", "activity-attendance": "online", "activity-video_rate": "50",
             "activity-version": base}
    first = client.post(url, data=stale, headers={**HTMX, "X-CSRFToken": token})
    assert first.status_code == 409
    html = first.get_data(as_text=True)
    assert 'data-conflict="true"' in html
    roll_call = re.search(r"<tr><th scope=\"row\">Roll call</th><td data-stored>(.*?)</td><td data-yours>(.*?)</td>",
                          html)
    assert roll_call.groups() == ("Absent", "Not taken")
    assert re.search(r"Video rate \(%\)</th><td data-stored>95</td><td data-yours>50</td>", html)
    assert "Reload the saved values" in html
    assert (activity_of(minji, week).presence, activity_of(minji, week).video_rate) == ("absent", 95)

    again = client.post(url, data={**stale, "activity-version": version_in(html, "activity")},
                        headers={**HTMX, "X-CSRFToken": token})
    assert again.status_code == 200
    assert activity_of(minji, week).video_rate == 50


def test_a_save_without_a_version_applies_and_a_garbled_one_is_stale(client, academy):
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    url = cell_path(academy, academy.minji, academy.weeks[0], "/activity")
    form = {"activity-attendance": "online", "activity-video_rate": "60"}
    assert client.post(url, data=form, headers={**HTMX, "X-CSRFToken": token}).status_code == 200
    assert activity_of(academy.minji, academy.weeks[0]).video_rate == 60
    garbled = client.post(url, data={**form, "activity-video_rate": "70", "activity-version": "zzz"},
                          headers={**HTMX, "X-CSRFToken": token})
    assert garbled.status_code == 409
    assert activity_of(academy.minji, academy.weeks[0]).video_rate == 60


def test_an_unchanged_cell_saves_with_its_version_and_the_version_moves(client, academy):
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    panel = client.get(cell_path(academy, academy.minji, academy.weeks[0]), headers=HTMX).get_data(as_text=True)
    base = version_in(panel, "activity")
    saved = client.post(cell_path(academy, academy.minji, academy.weeks[0], "/activity"),
                        data={"activity-attendance": "offline", "activity-video_rate": "95",
                              "activity-version": base}, headers={**HTMX, "X-CSRFToken": token})
    assert saved.status_code == 200
    assert version_in(saved.get_data(as_text=True), "activity") != base


def test_a_stale_attempt_edit_and_a_stale_delete_change_nothing(client, academy):
    """Jisoo's attempt 1 (40): tab 2 edits it to 55; tab 1's edit to 70 and tab 1's delete, both
    based on 40, are refused; the attempt stays 55."""
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    jisoo, week = academy.jisoo, academy.weeks[1]
    attempt = db.session.execute(select(Attempt).where(Attempt.enrollment_id == jisoo.id)).scalar_one()
    panel = client.get(cell_path(academy, jisoo, week), headers=HTMX).get_data(as_text=True)
    base = version_in(panel, f"attempt{attempt.id}")
    assert version_in(panel, f"delete{attempt.id}") == base
    edit = cell_path(academy, jisoo, week, f"/attempts/{attempt.id}")
    prefix = f"attempt{attempt.id}"
    ok = client.post(edit, data={f"{prefix}-score": "55", f"{prefix}-submitted_at": "2026-03-09T10:05",
                                 f"{prefix}-version": base}, headers={**HTMX, "X-CSRFToken": token})
    assert ok.status_code == 200
    stale = client.post(edit, data={f"{prefix}-score": "70", f"{prefix}-submitted_at": "2026-03-09T10:05",
                                    f"{prefix}-version": base}, headers={**HTMX, "X-CSRFToken": token})
    assert stale.status_code == 409
    assert re.search(r"Score</th><td data-stored>55</td><td data-yours>70</td>", stale.get_data(as_text=True))
    delete = client.post(cell_path(academy, jisoo, week, f"/attempts/{attempt.id}/delete"),
                         data={f"delete{attempt.id}-version": base}, headers={**HTMX, "X-CSRFToken": token})
    assert delete.status_code == 409
    db.session.expire_all()
    assert db.session.execute(select(Attempt.score).where(Attempt.id == attempt.id)).scalar_one() == Decimal("55")


def test_two_tabs_adding_an_attempt_add_one_unless_the_second_presses_again(client, academy):
    """Both tabs show Jisoo with one attempt; tab 1 adds 75 (attempt 2). Tab 2's add, based on one
    attempt, is refused and shows attempt 2 now there; pressed again it adds attempt 3 on purpose."""
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    quiz, jisoo, week = academy.quiz, academy.jisoo, academy.weeks[1]
    panel = client.get(cell_path(academy, jisoo, week), headers=HTMX).get_data(as_text=True)
    base = version_in(panel, f"exam{quiz.id}")
    url = cell_path(academy, jisoo, week, f"/exams/{quiz.id}/attempts")
    form = {f"exam{quiz.id}-score": "75", f"exam{quiz.id}-version": base}
    assert client.post(url, data=form, headers={**HTMX, "X-CSRFToken": token}).status_code == 200
    stale = client.post(url, data={**form, f"exam{quiz.id}-score": "80"}, headers={**HTMX, "X-CSRFToken": token})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert re.search(r"Attempt 2</th><td data-stored>75</td>", html)
    count = select(func.count(Attempt.id)).where(Attempt.enrollment_id == jisoo.id)
    assert db.session.execute(count).scalar_one() == 2
    again = client.post(url, data={f"exam{quiz.id}-score": "80", f"exam{quiz.id}-version": version_in(html, f"exam{quiz.id}")},
                        headers={**HTMX, "X-CSRFToken": token})
    assert again.status_code == 200
    assert db.session.execute(count).scalar_one() == 3


def test_a_stale_homework_save_is_refused(client, academy):
    homework = make_homework(academy.weeks[2])
    db.session.commit()
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client)
    panel = client.get(cell_path(academy, academy.minji, academy.weeks[2]), headers=HTMX).get_data(as_text=True)
    base = version_in(panel, f"hw{homework.id}")
    url = cell_path(academy, academy.minji, academy.weeks[2], f"/homework/{homework.id}")
    first = {f"hw{homework.id}-submitted": "y", f"hw{homework.id}-score": "90", f"hw{homework.id}-version": base}
    assert client.post(url, data=first, headers={**HTMX, "X-CSRFToken": token}).status_code == 200
    stale = client.post(url, data={f"hw{homework.id}-approved": "y", f"hw{homework.id}-version": base},
                        headers={**HTMX, "X-CSRFToken": token})
    assert stale.status_code == 409
    assert re.search(r"Submitted</th><td data-stored>yes</td><td data-yours>no</td>", stale.get_data(as_text=True))
    db.session.expire_all()
    row = db.session.execute(select(HomeworkSubmission)).scalar_one()
    assert (row.submitted, row.score, row.approved) == (True, Decimal("90"), False)

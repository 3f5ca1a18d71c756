"""A student who joins a lecture mid-term: the enrollment form and the roster upload offer today as
the start date once sessions were held, so the sessions before they came put nothing in the clinic
queue; "from the first session" (someone entering past records) counts them all.

Worked by hand (today 2026-04-01, default policy: grace 7 days, video 90% required, exams from
session 2 but none exist, no homework). Lecture "Spring" has eight weekly sessions dated 02-25,
03-04, 03-11, 03-18, 03-25, 04-01, 04-08 and 04-15. A student with no activity who joins today
(week 6): sessions 1-5 are dated before the start and do not count, session 6 is held (dated today)
but not due (04-01 + 7 > today), 7-8 are upcoming -> one progress row, no clinic link. The same
student from the first session: sessions 1-6 are held (six rows); 1-5 are due (03-25 + 7 = 04-01
<= today) and not completed (video 0%) -> five AUTO_FAILED links.
"""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.academy.structure import default_start_date
from dashboard.extensions import db
from dashboard.models import ClinicLink, Enrollment, SessionProgress, Student

from tests.factories import make_lecture, make_session, make_student, make_user
from .pages import HTMX
from .test_clinic_pages import sign_in_with_form

TODAY = date(2026, 4, 1)


@pytest.fixture
def spring(app):
    lecture = make_lecture("Spring")
    for order in range(1, 9):
        make_session(lecture, order, date(2026, 2, 25) + timedelta(days=7 * (order - 1)))
    later = make_lecture("Summer")
    make_session(later, 1, date(2026, 7, 1))
    admin = make_user("admin", "admin")
    make_student("Yoon Dahye")
    make_student("Seo Jun")
    db.session.commit()
    return lecture, later, admin


def _counts(name: str, lecture_id: int) -> tuple[date | None, int, int]:
    """(start date, progress rows, open clinic links) of the student's enrollment."""
    db.session.expire_all()
    enrollment = db.session.execute(select(Enrollment).join(Student).where(
        Student.name == name, Enrollment.lecture_id == lecture_id)).scalar_one()
    rows = db.session.execute(select(func.count()).select_from(SessionProgress).where(
        SessionProgress.enrollment_id == enrollment.id)).scalar_one()
    links = db.session.execute(select(func.count()).select_from(ClinicLink).where(
        ClinicLink.enrollment_id == enrollment.id, ClinicLink.resolved_at.is_(None))).scalar_one()
    return enrollment.start_date, rows, links


def _student_id(name: str) -> int:
    return db.session.execute(select(Student.id).where(Student.name == name)).scalar_one()


def test_today_is_offered_only_once_sessions_were_held(spring):
    lecture, later, _admin = spring
    assert default_start_date(lecture.id) == TODAY
    assert default_start_date(later.id) is None


def test_the_enrollment_forms_offer_today_and_the_first_session(client, spring):
    lecture, later, admin = spring
    token = sign_in_with_form(client, admin)
    page = client.get(f"/setup/lectures/{lecture.id}/enrollments").get_data(as_text=True)
    assert re.search(r'id="student-start_date" name="student-start_date"[^>]*value="2026-04-01"', page)
    assert 'name="student-from_first"' in page
    found = client.get(f"/setup/lectures/{lecture.id}/enrollments/candidates?q=Yoon", headers=HTMX)
    assert 'name="start_date" value="2026-04-01"' in found.get_data(as_text=True)
    # A lecture whose first session is still to come offers no date (everything counts anyway).
    summer = client.get(f"/setup/lectures/{later.id}/enrollments").get_data(as_text=True)
    assert re.search(r'id="student-start_date" name="student-start_date"[^>]*value=""', summer)

    # Kept as offered: joins today, nothing of weeks 1-5 reaches the queue.
    posted = client.post(f"/setup/lectures/{lecture.id}/enrollments", headers=HTMX, data={
        "csrf_token": token, "student": str(_student_id("Yoon Dahye")), "start_date": "2026-04-01"})
    assert posted.status_code == 200
    assert _counts("Yoon Dahye", lecture.id) == (TODAY, 1, 0)
    # Someone entering past records: from the first session (the date left as offered is ignored).
    created = client.post(f"/setup/lectures/{lecture.id}/enrollments/new", headers=HTMX, data={
        "csrf_token": token, "student-name": "Baek Hana", "student-start_date": "2026-04-01",
        "student-from_first": "y"})
    assert created.status_code == 200
    assert _counts("Baek Hana", lecture.id) == (None, 6, 5)
    # A date typed by hand still counts from that day: 03-18 -> sessions 4-6 held, 4-5 due.
    client.post(f"/setup/lectures/{lecture.id}/enrollments", headers=HTMX, data={
        "csrf_token": token, "student": str(_student_id("Seo Jun")), "start_date": "2026-03-18"})
    assert _counts("Seo Jun", lecture.id) == (date(2026, 3, 18), 3, 2)


def _upload(client, token, lecture_id, text: str, **fields):
    data = {"csrf_token": token, "file": (io.BytesIO(text.encode()), "roster.csv"), **fields}
    return client.post(f"/setup/lectures/{lecture_id}/uploads/roster", data=data,
                       content_type="multipart/form-data")


def _apply(client, token, lecture_id, preview_html: str):
    payload = re.search(r'name="payload" value="([^"]+)"', preview_html).group(1)
    return client.post(f"/setup/lectures/{lecture_id}/uploads/roster/apply",
                       data={"csrf_token": token, "payload": payload})


def test_a_roster_upload_starts_new_students_on_the_date_offered(client, spring):
    lecture, _later, admin = spring
    token = sign_in_with_form(client, admin)
    index = client.get(f"/setup/lectures/{lecture.id}/uploads").get_data(as_text=True)
    assert 'id="roster-start" name="start_date" value="2026-04-01"' in index
    # Two new students: one with no start_date (takes the form's date), one with their own.
    roster = "name,start_date\nJang Mira,\nKo Eun,2026-03-18\n"
    preview = _upload(client, token, lecture.id, roster, start_date="2026-04-01")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-start="2026-04-01"' in html
    assert _apply(client, token, lecture.id, html).status_code == 302
    assert _counts("Jang Mira", lecture.id) == (TODAY, 1, 0)
    assert _counts("Ko Eun", lecture.id) == (date(2026, 3, 18), 3, 2)

    # The whole roster from the first session: history counts.
    preview = _upload(client, token, lecture.id, "name,start_date\nNam Gyu,\n", start_date="2026-04-01",
                      from_first="y")
    html = preview.get_data(as_text=True)
    assert 'data-start=""' in html
    _apply(client, token, lecture.id, html)
    assert _counts("Nam Gyu", lecture.id) == (None, 6, 5)

    # A date that is not one refuses the file before anything is read.
    refused = _upload(client, token, lecture.id, "name\nOh Sol\n", start_date="2026-02-30")
    assert refused.status_code == 422 and "This date does not exist." in refused.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(Student).where(Student.name == "Oh Sol")).scalar_one() == 0

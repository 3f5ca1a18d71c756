"""A clinic requested where the teacher is — the student page and the cell panel — and the
student's bookings shown there (SPEC §6, §13).

The academy is tests.factories.build_academy (today 2026-04-01). Open links a teacher of Algebra
sees: Lee Jisoo 4 (AUTO_FAILED on weeks 1-3, AUTO_RISK on week 2), Park 3 (AUTO_FAILED) -> the
navigation says 7; staff and admins also see Kim Minho's one Geometry link -> 8.
"""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select


from dashboard.extensions import db
from dashboard.models import ClinicBooking, ClinicLink, ClinicSession
from tests.factories import KST, build_academy

from .pages import HTMX, csrf_token, nav_count, sign_in

CODES = ("AUTO_FAILED", "AUTO_RISK", "MANUAL_REQUEST", "TEACHER_RECOMMEND", "LOW_SCORE")


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.commit()
    return academy


def clinic_session(capacity: int = 2, teacher=None, lecture=None, hour: int = 15) -> int:
    made = ClinicSession(starts_at=datetime(2026, 4, 2, hour, tzinfo=KST), ends_at=datetime(2026, 4, 2, hour + 1, tzinfo=KST),
                         room="B101", capacity=capacity, teacher_id=teacher.id if teacher else None,
                         lecture_id=lecture.id if lecture else None)
    db.session.add(made)
    db.session.commit()
    return made.id


def open_links(enrollment) -> list[ClinicLink]:
    db.session.expire_all()
    return list(db.session.execute(select(ClinicLink).where(
        ClinicLink.enrollment_id == enrollment.id, ClinicLink.resolved_at.is_(None)).order_by(ClinicLink.id)).scalars())


def visible_text(html: str) -> str:
    """The words a reader sees: tags (and so their attributes) removed."""
    return re.sub(r"<[^>]+>", " ", html)


def clinic_options(html: str, enrollment) -> list[str]:
    """The clinic sessions the request form offers to book into."""
    select_html = re.search(rf'<select id="ask{enrollment.id}-clinic_session".*?</select>', html, re.S)
    return re.findall(r'<option value="(\d+)"', select_html.group(0)) if select_html else []


def student_page(academy, enrollment) -> str:
    return f"/lectures/{academy.algebra.id}/students/{enrollment.id}"


def ask(client, token, enrollment, htmx=True, **fields):
    prefix = f"ask{enrollment.id}-"
    data = {"csrf_token": token, prefix + "enrollment": str(enrollment.id), prefix + "reason": "MANUAL_REQUEST",
            **{(name if name == "cell" else prefix + name): value for name, value in fields.items()}}
    return client.post(f"/clinic/enrollments/{enrollment.id}/request", data=data, headers=HTMX if htmx else {})


def test_the_student_page_shows_links_in_words_and_a_teacher_requests_a_clinic(client, academy):
    sign_in(client, academy.users["teacher_a"])
    page = client.get(student_page(academy, academy.jisoo)).get_data(as_text=True)
    assert 'id="student-clinic"' in page and 'data-open="4"' in page
    assert "Exam 40 (pass 60)" in page and "Not completed: video" in page
    assert not [code for code in CODES if code in visible_text(page)]
    assert nav_count(page) == 7
    # The teacher may also recommend (staff may not: below).
    assert 'value="TEACHER_RECOMMEND"' in page
    token = csrf_token(client, student_page(academy, academy.jisoo))

    answer = ask(client, token, academy.jisoo, session=str(academy.weeks[0].id), memo="어머니 요청")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Clinic requested." in html and 'data-open="5"' in html and "Requested: 어머니 요청" in html
    assert nav_count(html) == 8
    manual = [link for link in open_links(academy.jisoo) if link.reason == "MANUAL_REQUEST"]
    assert [(link.session_id, link.memo, link.created_by_id) for link in manual] == [
        (academy.weeks[0].id, "어머니 요청", academy.users["teacher_a"].id)]
    # Every count agrees: the page again, the to-do list and the queue.
    again = client.get(student_page(academy, academy.jisoo)).get_data(as_text=True)
    assert 'data-open="5"' in again and nav_count(again) == 8
    todo = client.get("/clinic/students/").get_data(as_text=True)
    assert re.search(rf'data-clinic-student="{academy.jisoo.id}" data-links="5"', todo)
    assert nav_count(todo) == 8


def test_a_request_without_memo_or_session_changes_nothing(client, academy):
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client, student_page(academy, academy.jisoo))
    refused = ask(client, token, academy.jisoo, session=str(academy.weeks[0].id), memo="  ")
    assert refused.status_code == 422
    assert "A memo is required for a clinic requested by a person." in refused.get_data(as_text=True)
    no_session = ask(client, token, academy.jisoo, session="", memo="why")
    assert no_session.status_code == 422 and "Choose one." in no_session.get_data(as_text=True)
    # Another lecture's session: refused at the session field.
    other = ask(client, token, academy.jisoo, session=str(academy.geometry_week.id), memo="why")
    assert other.status_code in (403, 422)
    assert len(open_links(academy.jisoo)) == 4
    # Without JavaScript: back to the student page with the reason.
    plain = ask(client, token, academy.jisoo, htmx=False, session=str(academy.weeks[0].id), memo="")
    assert plain.status_code == 302 and plain.headers["Location"].endswith(student_page(academy, academy.jisoo))
    assert len(open_links(academy.jisoo)) == 4


def test_roles_and_csrf(client, academy):
    # A teacher of another lecture: the student is not theirs.
    sign_in(client, academy.users["teacher_b"])
    token = csrf_token(client, "/")
    assert ask(client, token, academy.jisoo, session=str(academy.weeks[0].id), memo="x").status_code == 404
    # Staff request but do not recommend (SPEC §6).
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, "/")
    page = client.get(student_page(academy, academy.jisoo)).get_data(as_text=True)
    assert 'value="TEACHER_RECOMMEND"' not in page and 'value="MANUAL_REQUEST"' in page
    assert ask(client, token, academy.jisoo, session=str(academy.weeks[0].id), memo="x",
               reason="TEACHER_RECOMMEND").status_code == 403
    # No CSRF token: refused before anything.
    response = client.post(f"/clinic/enrollments/{academy.jisoo.id}/request", headers=HTMX, data={
        f"ask{academy.jisoo.id}-enrollment": str(academy.jisoo.id), f"ask{academy.jisoo.id}-session": str(academy.weeks[0].id),
        f"ask{academy.jisoo.id}-reason": "MANUAL_REQUEST", f"ask{academy.jisoo.id}-memo": "x"})
    assert response.status_code == 400
    assert len(open_links(academy.jisoo)) == 4
    # A withdrawn student's page offers no request.
    sign_in(client, academy.users["admin"])
    withdrawn = client.get(student_page(academy, academy.choi)).get_data(as_text=True)
    assert 'id="student-clinic"' in withdrawn and 'data-action="request-clinic"' not in withdrawn


def test_the_cell_panel_requests_for_its_session_and_books_at_once(client, academy):
    full = clinic_session(capacity=1, hour=13)
    free = clinic_session(capacity=2, hour=15)
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, "/")
    # Fill the small clinic with Park.
    client.post("/clinic/sessions/book", data={"csrf_token": token, "clinic_session": str(full),
                                               "link_ids": [str(open_links(academy.park)[0].id)]})
    week3 = academy.weeks[2]
    cell = f"/lectures/{academy.algebra.id}/cell?enrollment={academy.jisoo.id}&session={week3.id}"
    panel = client.get(cell, headers=HTMX).get_data(as_text=True)
    assert 'id="student-clinic"' in panel and f'name="cell" value="{week3.id}"' in panel
    assert clinic_options(panel, academy.jisoo) == [str(full), str(free)]
    # Week 3 only: its one AUTO_FAILED link, not the student's other three.
    assert len(re.findall(r'<tr data-link-id="\d+"', panel.split('id="student-clinic"')[1])) == 1

    refused = ask(client, token, academy.jisoo, cell=str(week3.id), memo="보충 필요", clinic_session=str(full))
    assert refused.status_code == 422
    assert "This clinic session is full" in refused.get_data(as_text=True)
    assert len(open_links(academy.jisoo)) == 4  # the refused booking took the request with it

    booked = ask(client, token, academy.jisoo, cell=str(week3.id), memo="보충 필요", clinic_session=str(free))
    html = booked.get_data(as_text=True)
    assert booked.status_code == 200 and "Clinic requested and booked." in html
    manual = [link for link in open_links(academy.jisoo) if link.reason == "MANUAL_REQUEST"][0]
    assert manual.session_id == week3.id and manual.approved and manual.approved_by_id == academy.users["staff"].id
    booking = db.session.execute(select(ClinicBooking).where(ClinicBooking.enrollment_id == academy.jisoo.id)).scalar_one()
    assert booking.clinic_session_id == free
    # The booking bar: booked, when and where, which session.
    assert re.search(rf'<li data-booking="{booking.id}" data-outcome="booked">', html)
    assert "2026-04-02 15:00" in html and "B101" in html and "sessions 3" in html
    assert nav_count(html) == 9

    # The roll call's outcome reaches the student page: attended resolves the link.
    client.post(f"/clinic/sessions/bookings/{booking.id}/attendance", data={"csrf_token": token, "attendance": "attended"})
    page = client.get(student_page(academy, academy.jisoo)).get_data(as_text=True)
    assert re.search(rf'<li data-booking="{booking.id}" data-outcome="attended">', page)
    assert re.search(rf'<tr data-link-id="{manual.id}" data-state="resolved"', page)


def test_a_teacher_books_only_into_a_clinic_session_they_teach(client, academy):
    theirs = clinic_session(teacher=academy.users["teacher_a"], lecture=academy.algebra, hour=15)
    other = clinic_session(hour=17)
    sign_in(client, academy.users["teacher_a"])
    page = client.get(student_page(academy, academy.jisoo)).get_data(as_text=True)
    assert clinic_options(page, academy.jisoo) == [str(theirs)]
    token = csrf_token(client, "/")
    assert ask(client, token, academy.jisoo, session=str(academy.weeks[1].id), memo="x",
               clinic_session=str(other)).status_code == 403
    assert len(open_links(academy.jisoo)) == 4
    done = ask(client, token, academy.jisoo, session=str(academy.weeks[1].id), memo="x", clinic_session=str(theirs))
    assert done.status_code == 200
    assert db.session.execute(select(func.count()).select_from(ClinicBooking)).scalar_one() == 1

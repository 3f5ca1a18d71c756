"""The clinic to-do list by student and the bulk actions (SPEC §6, §13).

The academy is tests.factories.build_academy (today 2026-04-01, grace 7 days): Lee Jisoo has
AUTO_FAILED on Weeks 1-3 (dated 03-02, 03-09, 03-16) and AUTO_RISK on Week 2 (quiz 40, pass
60); Park_100% AUTO_FAILED x3; Kim Minho (Geometry) AUTO_FAILED on its week (03-02). Both
Algebra students are DANGER (3 failed in a row).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dashboard.clinic import bulk
from dashboard.errors import Forbidden, NotFound
from dashboard.extensions import db
from dashboard.models import AuditLog, ClinicLink, Guardian
from tests.factories import build_academy, enroll, make_manual_link

from .pages import HTMX, csrf_token, nav_count, sign_in

GROUP = re.compile(r'data-clinic-student="(\d+)" data-links="(\d+)" data-booked="(\w+)"')


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.commit()
    return academy


def links_of(enrollment) -> list[int]:
    return list(db.session.execute(select(ClinicLink.id).where(ClinicLink.enrollment_id == enrollment.id)
                                   .order_by(ClinicLink.id)).scalars())


def group_html(html: str, enrollment_id: int) -> str:
    match = re.search(rf'<div class="todo-student" data-clinic-student="{enrollment_id}".*?</details>', html, re.DOTALL)
    assert match
    return match.group(0)


def test_each_student_shows_their_guardians_to_call_or_write(client, academy):
    db.session.add_all([
        Guardian(student_id=academy.jisoo.student_id, name="이지수 어머니", relation="모", phone="01000001234",
                 channel="sms", language="ko", consent=True),
        Guardian(student_id=academy.jisoo.student_id, name="Lee Father", relation="부", email="dad@example.com",
                 channel="email", language="en", consent=False),
    ])
    db.session.commit()
    sign_in(client, academy.users["staff"])
    html = client.get("/clinic/students/").get_data(as_text=True)
    jisoo = re.search(rf'data-clinic-student="{academy.jisoo.id}".*?(?=data-clinic-student=|$)', html, re.DOTALL).group(0)
    assert '<a href="tel:01000001234" class="contact-link">01000001234</a>' in jisoo
    assert '<a href="mailto:dad@example.com" class="contact-link">' in jisoo
    park = re.search(rf'data-clinic-student="{academy.park.id}".*?(?=data-clinic-student=|$)', html, re.DOTALL).group(0)
    assert "tel:" not in park and "Guardians:" not in park


def test_one_row_per_student_with_sessions_reasons_and_age(client, academy):
    sign_in(client, academy.users["staff"])
    html = client.get("/clinic/students/").get_data(as_text=True)
    groups = GROUP.findall(html)
    # DANGER first, then most links: Jisoo (4), Park (3), then Minho (NORMAL, 1).
    assert groups == [(str(academy.jisoo.id), "4", "no"), (str(academy.park.id), "3", "no"),
                      (str(academy.minho.id), "1", "no")]
    jisoo = group_html(html, academy.jisoo.id)
    assert 'data-risk="DANGER"' in jisoo
    assert re.search(r"Sessions to make up \(3\):\s*1 \(3/2\), 2 \(3/9\), 3 \(3/16\)", jisoo)
    assert "Exam 40 (pass 60)" in jisoo
    # Week 1 (03-02) was due on 03-09: 23 days before 2026-04-01.
    assert "Waiting 23 d since due" in jisoo
    assert len(re.findall(r'<tr data-link-id="\d+"', jisoo)) == 4
    assert "Students with open clinic links: 3" in html


def test_filters_in_the_url(client, academy):
    sign_in(client, academy.users["staff"])
    html = client.get(f"/clinic/students/?lecture={academy.geometry.id}").get_data(as_text=True)
    assert [g[0] for g in GROUP.findall(html)] == [str(academy.minho.id)]
    html = client.get("/clinic/students/?risk=DANGER&q=park").get_data(as_text=True)
    assert [g[0] for g in GROUP.findall(html)] == [str(academy.park.id)]
    partial = client.get("/clinic/students/?booked=yes", headers=HTMX).get_data(as_text=True)
    assert partial.strip().startswith('<div id="clinic-todo">') and GROUP.findall(partial) == []


def test_teacher_sees_own_students_without_actions(client, academy):
    sign_in(client, academy.users["teacher_b"])
    html = client.get("/clinic/students/").get_data(as_text=True)
    assert [g[0] for g in GROUP.findall(html)] == [str(academy.minho.id)]
    assert "data-action" not in html
    token = csrf_token(client, "/clinic/students/")
    response = client.post("/clinic/students/bulk", data={"csrf_token": token, "action": "approve",
                                                         "link_ids": [str(links_of(academy.minho)[0])]})
    assert response.status_code == 403


def test_bulk_approve_then_resolve_and_counts_agree(client, academy):
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, "/clinic/students/")
    chosen = links_of(academy.jisoo) + links_of(academy.park)[:1]
    response = client.post("/clinic/students/bulk", headers=HTMX, data={
        "csrf_token": token, "action": "approve", "link_ids": [str(i) for i in chosen], "next": "/clinic/students/"})
    assert response.headers["HX-Redirect"] == "/clinic/students/"
    html = client.get("/clinic/students/").get_data(as_text=True)
    assert "Approved 5 of 5 links." in html
    approved = db.session.execute(select(func.count()).select_from(ClinicLink).where(
        ClinicLink.approved.is_(True))).scalar_one()
    assert approved == 5
    client.post("/clinic/students/bulk", data={"csrf_token": token, "action": "resolve",
                                               "link_ids": [str(i) for i in links_of(academy.jisoo)]})
    html = client.get("/clinic/students/").get_data(as_text=True)
    assert [g[0] for g in GROUP.findall(html)] == [str(academy.park.id), str(academy.minho.id)]
    # 8 open links minus Jisoo's 4, on the list, the navigation and the queue alike.
    assert nav_count(html) == 4
    assert "Open links: 4" in client.get("/clinic/").get_data(as_text=True)
    one = links_of(academy.jisoo)[0]
    client.post("/clinic/students/bulk", data={"csrf_token": token, "single": f"reopen:{one}"})
    assert nav_count(client.get("/clinic/students/").get_data(as_text=True)) == 5


def test_bulk_over_100_links_is_a_handful_of_statements(app, count_queries):
    """Approve, then resolve, 120 links of two lectures: a fixed number of statements each."""
    academy = build_academy()
    extra = [make_manual_link(enroll(f"Student {n}", academy.algebra if n % 2 else academy.geometry),
                              academy.weeks[0] if n % 2 else academy.geometry_week) for n in range(120)]
    ids = [link.id for link in extra]
    staff = academy.users["staff"]
    with count_queries() as counter:
        result = bulk.bulk_act(staff, "approve", ids)
    assert (result.selected, result.changed) == (120, 120)
    # Read the links' lectures, lock two lectures, one UPDATE, one INSERT of 120 audit rows.
    assert counter.count <= 5, counter.statements
    with count_queries() as counter:
        assert bulk.bulk_act(staff, "resolve", ids).changed == 120
    assert counter.count <= 5
    # Nothing to change: nothing audited.
    before = db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    assert bulk.bulk_act(staff, "approve", ids).changed == 0
    assert db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one() == before
    assert before >= 240
    assert all(link.auto_managed is False and link.approved_by_id == staff.id
               for link in db.session.execute(select(ClinicLink).where(ClinicLink.id.in_(ids))).scalars())


def test_bulk_refuses_teachers_and_links_outside_scope(app):
    academy = build_academy()
    with pytest.raises(Forbidden):
        bulk.bulk_act(academy.users["teacher_a"], "approve", links_of(academy.jisoo))
    with pytest.raises(NotFound):
        bulk.bulk_act(academy.users["staff"], "approve", [*links_of(academy.jisoo), 999999])


def test_the_list_reads_a_fixed_number_of_statements(app, client, count_queries):
    """3 students or 23, one page costs the same number of statements."""
    academy = build_academy()
    db.session.commit()
    sign_in(client, academy.users["staff"])
    client.get("/clinic/students/")
    with count_queries() as small:
        assert len(GROUP.findall(client.get("/clinic/students/").get_data(as_text=True))) == 3
    for n in range(20):
        make_manual_link(enroll(f"Extra {n}", academy.algebra), academy.weeks[1])
    db.session.commit()
    client.get("/clinic/students/")  # as before the first count: the signed-in user is loaded again after the commit
    with count_queries() as large:
        assert len(GROUP.findall(client.get("/clinic/students/").get_data(as_text=True))) == 23
    assert large.count == small.count


def test_booking_and_its_roll_call_do_not_grow_with_the_links(app, count_queries):
    """Booking 5 or 50 links, marking attended and cancelling: the same statements each."""
    from dashboard.clinic import sessions

    academy = build_academy()
    staff = academy.users["staff"]
    counts = []
    for size, day in ((5, "02"), (50, "03")):
        clinic = sessions.create_clinic_session(staff, {"starts_at": f"2026-04-{day}T15:00",
                                                        "ends_at": f"2026-04-{day}T16:00", "capacity": 2})
        link_ids = [make_manual_link(academy.park, academy.weeks[0]).id for _ in range(size)]
        with count_queries() as booking:
            made = sessions.book(staff, clinic.id, {"enrollment_id": academy.park.id, "link_ids": link_ids})
        with count_queries() as marking:
            sessions.mark_attendance(staff, made.id, {"attendance": "attended"})
        with count_queries() as cancelling:
            sessions.cancel_booking(staff, made.id)
        counts.append((booking.count, marking.count, cancelling.count))
    assert counts[0] == counts[1]

"""The clinic to-do list at size: a page of students with hundreds of open links carries each
student's summary and reads their rows only when the row is opened, in the same number of
statements as a small page; a student's box selects all their links, read or not; the reason and
teacher filters. Figures for 300 students and ~13 000 links are in docs/performance.md
(bench/clinic_todo.py); here a smaller synthetic lecture keeps the test quick.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dashboard.clinic.todo import INLINE_LINKS, PAGE_SIZE
from dashboard.extensions import db
from dashboard.models import ClinicLink, Enrollment, TeacherLecture
from dashboard.progress.recompute import recompute_lecture
from dashboard.synthetic import build_lecture
from tests.factories import build_academy

from .pages import HTMX, csrf_token, nav_count, sign_in

GROUP = re.compile(r'data-clinic-student="(\d+)" data-links="(\d+)"')
ROW = re.compile(r'<tr data-link-id="(\d+)"')


def open_count(*where) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(ClinicLink).join(Enrollment).where(
        ClinicLink.resolved_at.is_(None), Enrollment.withdrawn_at.is_(None), *where)).scalar_one()


@pytest.fixture
def big(app):
    academy = build_academy()
    lecture_id = build_lecture(60, 16, 1, 1, seed=7)
    recompute_lecture(lecture_id)
    db.session.commit()
    return academy, lecture_id


def test_a_big_page_reads_rows_on_opening_in_the_same_statements(client, big, count_queries):
    academy, lecture_id = big
    sign_in(client, academy.users["staff"])
    small_path, large_path = f"/clinic/students/?lecture={academy.algebra.id}", f"/clinic/students/?lecture={lecture_id}"
    for path in (small_path, large_path):
        client.get(path)  # as measured below, once before: the first requests load what a session keeps
    with count_queries() as small:
        small_page = client.get(small_path).get_data(as_text=True)
    with count_queries() as large:
        response = client.get(large_path)
    html = response.get_data(as_text=True)
    groups = GROUP.findall(html)
    links = sum(int(count) for _id, count in groups)
    assert len(groups) == PAGE_SIZE and links > INLINE_LINKS  # the first page of the 60 students
    # The small page comes with its rows, the big one without; same statements either way.
    assert len(ROW.findall(small_page)) == 7 and ROW.findall(html) == []
    assert large.count == small.count <= 11, small.statements
    assert len(response.data) <= 300 * 1024
    # Every count agrees: the header, the groups, the database and the navigation.
    total = open_count(Enrollment.lecture_id == lecture_id)
    assert f'data-open-links="{total}"' in html
    assert nav_count(html) == open_count()

    # Opening a student's row reads their rows: as many as the group says, each with a checkbox.
    student, count = groups[0]
    rows = client.get(f"/clinic/students/{student}/links?next=/clinic/students/", headers=HTMX).get_data(as_text=True)
    assert len(ROW.findall(rows)) == int(count)
    assert len(re.findall(r'name="link_ids"', rows)) == int(count)
    # Without JavaScript, the same rows on the list itself, that student opened.
    plain = client.get(f"/clinic/students/{student}/links")
    assert plain.status_code == 302 and f"open={student}" in plain.headers["Location"]
    opened = client.get(plain.headers["Location"]).get_data(as_text=True)
    assert len(ROW.findall(opened)) == int(count)
    # Another teacher's student is not found.
    sign_in(client, academy.users["teacher_a"])
    assert client.get(f"/clinic/students/{student}/links", headers=HTMX).status_code == 404


def test_a_students_box_selects_all_their_links(client, big):
    academy, lecture_id = big
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, "/clinic/students/")
    html = client.get(f"/clinic/students/?lecture={lecture_id}").get_data(as_text=True)
    first, second = (int(student) for student, _count in GROUP.findall(html)[:2])
    one_link = db.session.execute(select(ClinicLink.id).where(ClinicLink.enrollment_id == second)
                                  .order_by(ClinicLink.id).limit(1)).scalar_one()
    before = open_count(ClinicLink.enrollment_id == first)
    client.post("/clinic/students/bulk", data={"csrf_token": token, "action": "resolve",
                                               "enrollment_ids": [str(first)], "link_ids": [str(one_link)]})
    assert open_count(ClinicLink.enrollment_id == first) == 0
    assert open_count(ClinicLink.enrollment_id == second) == len(
        db.session.execute(select(ClinicLink.id).where(ClinicLink.enrollment_id == second)).all()) - 1
    page = client.get("/clinic/students/").get_data(as_text=True)
    assert f"Resolved {before + 1} of {before + 1} links." in page
    # A teacher's box does nothing: teachers do not resolve (SPEC §6).
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client, "/clinic/students/")
    response = client.post("/clinic/students/bulk", data={"csrf_token": token, "action": "resolve",
                                                          "enrollment_ids": [str(academy.jisoo.id)]})
    assert response.status_code == 403 and open_count(ClinicLink.enrollment_id == academy.jisoo.id) == 4


def test_reason_and_teacher_filters(client, big):
    academy, lecture_id = big
    sign_in(client, academy.users["staff"])
    algebra = academy.algebra.id
    risk_only = {int(s) for s, _c in GROUP.findall(
        client.get(f"/clinic/students/?reason=AUTO_RISK&lecture={algebra}").get_data(as_text=True))}
    assert risk_only == {academy.jisoo.id}  # Park has failed sessions only
    big_risk = GROUP.findall(client.get(f"/clinic/students/?reason=AUTO_RISK&lecture={lecture_id}").get_data(as_text=True))
    assert big_risk and all(open_count(ClinicLink.enrollment_id == int(s), ClinicLink.reason == "AUTO_RISK")
                            for s, _c in big_risk)
    # teacher_b teaches Geometry only: Kim Minho is their one student with open links.
    teacher_b = academy.users["teacher_b"].id
    assert db.session.execute(select(TeacherLecture.lecture_id).where(TeacherLecture.user_id == teacher_b)).scalars().all() \
        == [academy.geometry.id]
    page = client.get(f"/clinic/students/?teacher={teacher_b}").get_data(as_text=True)
    assert [int(s) for s, _c in GROUP.findall(page)] == [academy.minho.id]
    assert f'<option value="{teacher_b}" selected>' in page

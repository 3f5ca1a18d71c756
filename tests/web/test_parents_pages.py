"""The parents' pages (SPEC §14): guardians on the student page, the cell panel and the setup page;
counselling notes and who sees them; the messages page; settings and templates; follow-ups at home."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import CounsellingNote, Guardian, Notification, Student
from dashboard.parents import notes, outbox
from tests.factories import build_academy, make_guardian
from tests.web.pages import csrf_token, sign_in


@pytest.fixture
def academy(app):
    academy = build_academy()
    minji = db.session.get(Student, academy.minji.student_id)
    make_guardian(minji, "Kim Mother", "모", phone="01011112222")
    make_guardian(minji, "Kim Father", "부", phone=None, email="dad@example.com", channel="email")
    outbox.queue_absence(academy.minji.id, academy.upcoming.id)
    db.session.commit()
    return academy


def student_page(academy) -> str:
    return f"/lectures/{academy.algebra.id}/students/{academy.minji.id}"


def test_student_page_shows_guardians_with_call_and_mail_links_and_message_states(client, academy):
    sign_in(client, academy.users["teacher_a"])

    html = client.get(student_page(academy)).get_data(as_text=True)

    assert len(re.findall(r'data-guardian="\d+"', html)) == 2
    assert 'href="tel:01011112222"' in html and 'href="mailto:dad@example.com"' in html
    states = re.findall(r'data-message="\d+" data-state="(\w+)"', html)
    assert states == ["review", "review"]
    assert "<td>Absence</td>" in html and "Awaiting review" in html
    assert ">absence<" not in html and ">review<" not in html  # codes stay in data- attributes


def test_cell_panel_shows_the_guardians(client, academy):
    sign_in(client, academy.users["teacher_a"])

    html = client.get(f"/lectures/{academy.algebra.id}/cell",
                      query_string={"enrollment": academy.minji.id, "session": academy.weeks[0].id}).get_data(True)

    assert 'id="guardian-contacts"' in html and 'href="tel:01011112222"' in html


def test_notes_are_for_the_lectures_teachers_and_admins_not_other_staff(client, academy):
    teacher = academy.users["teacher_a"]
    sign_in(client, teacher)
    token = csrf_token(client, student_page(academy))
    answer = client.post(f"/parents/enrollments/{academy.minji.id}/notes/",
                         data={"csrf_token": token, "text": "어머님과 통화: 숙제 확인 부탁", "follow_up_on": "2026-04-03"})
    assert answer.status_code == 302
    note = db.session.execute(select(CounsellingNote)).scalar_one()
    assert (note.author_id, note.follow_up_on) == (teacher.id, date(2026, 4, 3))

    html = client.get(student_page(academy)).get_data(as_text=True)
    assert f'data-note="{note.id}"' in html and "teacher_a" in html

    sign_in(client, academy.users["staff"])
    html = client.get(student_page(academy)).get_data(as_text=True)
    assert "data-note=" not in html and "어머님과 통화" not in html
    token = csrf_token(client, student_page(academy))
    assert client.post(f"/parents/enrollments/{academy.minji.id}/notes/",
                       data={"csrf_token": token, "text": "x"}).status_code == 404

    sign_in(client, academy.users["admin"])
    home = client.get("/").get_data(as_text=True)
    assert 'id="follow-ups"' in home and "2026-04-03" in home


def test_only_the_author_edits_a_note(client, academy):
    teacher = academy.users["teacher_a"]
    note = notes.add_note(teacher, academy.minji.id, "first")
    db.session.commit()
    sign_in(client, academy.users["admin"])
    token = csrf_token(client, student_page(academy))

    assert client.post(f"/parents/notes/{note.id}", data={"csrf_token": token, "text": "changed"}).status_code == 403

    sign_in(client, teacher)
    token = csrf_token(client, student_page(academy))
    assert client.post(f"/parents/notes/{note.id}", data={"csrf_token": token, "text": "second"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(CounsellingNote, note.id).text == "second"


def test_a_note_without_csrf_is_refused(client, academy):
    sign_in(client, academy.users["teacher_a"])
    assert client.post(f"/parents/enrollments/{academy.minji.id}/notes/", data={"text": "x"}).status_code == 400


def test_messages_page_edits_approves_and_cancels_in_bulk(client, academy):
    sign_in(client, academy.users["teacher_a"])
    html = client.get("/parents/messages/").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'data-message="(\d+)" data-state="review"', html)]
    assert len(ids) == 2
    token = csrf_token(client, "/parents/messages/")

    answer = client.post(f"/parents/messages/{ids[0]}", data={"csrf_token": token, "action": "save",
                                                                "text": "민지 어머님, 다음 수업 결석 예정 확인 부탁드립니다."})
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, ids[0]).text.startswith("민지 어머님")

    client.post("/parents/messages/bulk", data={"csrf_token": token, "action": "approve", "ids": ids})
    db.session.expire_all()
    assert {db.session.get(Notification, i).state for i in ids} == {"queued"}
    client.post("/parents/messages/bulk", data={"csrf_token": token, "action": "cancel", "ids": [ids[1]]})
    db.session.expire_all()
    assert db.session.get(Notification, ids[1]).state == "cancelled"

    html = client.get("/parents/messages/?state=cancelled").get_data(as_text=True)
    assert re.findall(r'data-message="(\d+)" data-state="(\w+)"', html) == [(str(ids[1]), "cancelled")]


def test_staff_see_messages_but_may_not_review_them(client, academy):
    sign_in(client, academy.users["staff"])
    html = client.get("/parents/messages/").get_data(as_text=True)
    ids = re.findall(r'data-message="(\d+)"', html)
    assert len(ids) == 2 and 'name="ids"' not in html
    token = csrf_token(client, "/parents/messages/")
    assert client.post(f"/parents/messages/{ids[0]}", data={"csrf_token": token, "action": "approve"}).status_code \
        == 403


def test_setup_student_page_adds_edits_and_removes_guardians(client, academy):
    sign_in(client, academy.users["admin"])
    student_id = academy.minji.student_id
    page = f"/setup/students/{student_id}/"
    html = client.get(page).get_data(as_text=True)
    assert len(re.findall(r'<li data-guardian="\d+"', html)) == 2
    token = csrf_token(client, page)

    client.post(f"/parents/students/{student_id}/guardians/", data={
        "csrf_token": token, "name": "Kim Grandma", "relation": "조모", "phone": "010-5555 66.77", "channel": "sms",
        "language": "en", "consent": "on"})
    grandma = db.session.execute(select(Guardian).where(Guardian.name == "Kim Grandma")).scalar_one()
    assert (grandma.phone, grandma.language, grandma.consent) == ("01055556677", "en", True)

    answer = client.post(f"/parents/students/{student_id}/guardians/{grandma.id}", data={
        "csrf_token": token, "name": "Kim Grandma", "relation": "조모", "phone": "010-12ab", "channel": "sms"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(Guardian, grandma.id).phone == "01055556677"  # refused, kept

    client.post(f"/parents/students/{student_id}/guardians/{grandma.id}", data={"csrf_token": token, "remove": "1"})
    db.session.expire_all()
    assert db.session.get(Guardian, grandma.id) is None

    sign_in(client, academy.users["staff"])
    assert client.post(f"/parents/students/{student_id}/guardians/",
                       data={"csrf_token": csrf_token(client, page), "name": "x"}).status_code == 403


def test_admin_sets_a_lectures_notification_settings(client, academy):
    sign_in(client, academy.users["admin"])
    path = f"/parents/lectures/{academy.algebra.id}/settings"
    token = csrf_token(client, path)

    client.post(path, data={"csrf_token": token, "events": ["absence", "booking"]})

    assert outbox.settings_of(academy.algebra.id).as_dict() == {"events": ["booking", "absence"], "review": False}
    sign_in(client, academy.users["teacher_a"])
    assert client.get(path).status_code == 403


def test_templates_page_previews_and_refuses_an_unknown_placeholder(client, academy):
    sign_in(client, academy.users["admin"])
    html = client.get("/parents/templates/").get_data(as_text=True)
    assert "김민지" in html  # the preview fills the example student's name
    token = csrf_token(client, "/parents/templates/")

    bad = client.post("/parents/templates/", data={"csrf_token": token, "absence-ko": "{student} {grade}"})
    assert bad.status_code == 422 and "{grade}" in bad.get_data(as_text=True)

    good = client.post("/parents/templates/", data={"csrf_token": token, "absence-ko": "{student} 결석 {date}"})
    assert good.status_code == 302
    assert "김민지 결석 2026-03-16" in client.get("/parents/templates/").get_data(as_text=True)


def test_pages_need_sign_in(client, academy):
    assert client.get("/parents/messages/").status_code == 302


def test_templates_page_links_each_lectures_settings(client, academy):
    sign_in(client, academy.users["admin"])
    html = client.get("/parents/templates/").get_data(as_text=True)
    assert f'/parents/lectures/{academy.algebra.id}/settings' in html
    assert f'/parents/lectures/{academy.geometry.id}/settings' in html


def test_the_student_forms_edit_guardians_not_a_single_guardian_contact(client, academy):
    sign_in(client, academy.users["admin"])
    student_id = academy.minji.student_id
    page = f"/setup/students/{student_id}/"
    html = client.get(page).get_data(as_text=True)
    assert 'name="student-guardian_contact"' not in html and 'id="guardians"' in html
    listed = client.get("/setup/students/").get_data(as_text=True)
    assert 'name="student-guardian_contact"' not in listed
    row = re.search(rf'<tr data-student="{student_id}">.*?</tr>', listed, re.S).group(0)
    assert "Kim Mother (모) 01011112222" in row and "Kim Father (부) dad@example.com" in row

    token = csrf_token(client, page)
    saved = client.post(page, data={"csrf_token": token, "student-name": "Kim Minji", "student-contact": "010-0"})
    assert saved.status_code == 302
    assert len(db.session.execute(select(Guardian).where(Guardian.student_id == student_id)).all()) == 2


def test_a_guardian_contact_given_by_an_import_is_offered_as_a_guardian(client, academy):
    student_id = academy.jisoo.student_id
    sign_in(client, academy.users["admin"])
    imported = client.post("/api/import", json={"students": [{"id": student_id, "guardian_contact": "010-7777-8888"}]},
                           headers={"Authorization": f"Bearer {academy.tokens['admin']}"})
    assert imported.status_code == 200, imported.get_json()
    page = f"/setup/students/{student_id}/"
    html = client.get(page).get_data(as_text=True)
    assert 'id="imported-contact"' in html and "010-7777-8888" in html

    answer = client.post(f"/parents/students/{student_id}/guardians/from-contact",
                         data={"csrf_token": csrf_token(client, page)})
    assert answer.status_code == 302
    guardian = db.session.execute(select(Guardian).where(Guardian.student_id == student_id)).scalar_one()
    assert (guardian.name, guardian.relation, guardian.phone, guardian.channel, guardian.consent) == (
        "보호자", "", "01077778888", "sms", False)  # nobody agreed to messages: a person ticks consent
    assert 'id="imported-contact"' not in client.get(page).get_data(as_text=True)
    again = client.post(f"/parents/students/{student_id}/guardians/from-contact",
                        data={"csrf_token": csrf_token(client, page)})
    assert again.status_code == 302
    assert len(db.session.execute(select(Guardian).where(Guardian.student_id == student_id)).all()) == 1

    sign_in(client, academy.users["staff"])
    assert client.post(f"/parents/students/{student_id}/guardians/from-contact",
                       data={"csrf_token": csrf_token(client, page)}).status_code == 403

"""One-time forms: a page form that must not be posted twice (a retake, a bulk action, anything
that creates) carries a one-time key stored with its first answer; the same form posted again —
a double click, a re-sent page, a second tab — answers the first answer and changes nothing.

Academy: tests/factories.build_academy (today 2026-04-01): Jisoo has attempt 1 of the quiz (40) on
Week 2, open AUTO_FAILED links on Weeks 1-3 and AUTO_RISK on Week 2.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Attempt, ClinicLink, IdempotencyKey, Notification, Student
from dashboard.parents import outbox
from tests.factories import build_academy, make_guardian

from .pages import HTMX, csrf_token, sign_in

ONCE = re.compile(r'<input type="hidden" name="once" value="([^"]+)">')


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def once_key(html: str, after: str = "") -> str:
    """The one-time key of the first form after the text `after`."""
    match = ONCE.search(html, html.index(after) if after else 0)
    assert match, "the form carries no one-time key"
    return match.group(1)


def attempts_of(enrollment) -> list[tuple[int, Decimal]]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(
        select(Attempt.attempt_no, Attempt.score).where(Attempt.enrollment_id == enrollment.id)
        .order_by(Attempt.attempt_no))]


def test_a_retake_posted_twice_makes_one_attempt_and_answers_the_first_page(client, academy):
    sign_in(client, academy.users["teacher_a"])
    url = f"/lectures/{academy.algebra.id}/sessions/{academy.weeks[1].id}/entry"
    page = client.get(url).get_data(as_text=True)
    key = once_key(page, 'id="entry-form"')
    form = {"csrf_token": csrf_token(client), "once": key, f"score-{academy.quiz.id}-{academy.jisoo.id}": "75",
            "retake": "1"}
    first = client.post(url, data=form)
    assert first.status_code == 200
    again = client.post(url, data=form)
    assert again.status_code == 200
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert attempts_of(academy.jisoo) == [(1, Decimal(40)), (2, Decimal(75))]
    # The answer's own form has a new key: a further retake on purpose is a new attempt.
    fresh = once_key(first.get_data(as_text=True), 'id="entry-form"')
    assert fresh != key
    assert client.post(url, data={**form, "once": fresh, f"score-{academy.quiz.id}-{academy.jisoo.id}": "80"}
                       ).status_code == 200
    assert attempts_of(academy.jisoo) == [(1, Decimal(40)), (2, Decimal(75)), (3, Decimal(80))]


def test_a_replayed_bulk_action_changes_nothing_done_since(client, academy):
    """Staff resolve Jisoo's four links with key K; one is then reopened by another form. The same
    bulk form posted again answers its first redirect and leaves the reopened link open."""
    sign_in(client, academy.users["staff"])
    page = client.get("/clinic/students/").get_data(as_text=True)
    key = once_key(page, 'id="clinic-bulk"')
    links = list(db.session.execute(select(ClinicLink.id).where(ClinicLink.enrollment_id == academy.jisoo.id)
                                    .order_by(ClinicLink.id)).scalars())
    token = csrf_token(client, "/clinic/students/")
    form = {"csrf_token": token, "once": key, "action": "resolve", "link_ids": [str(i) for i in links],
            "next": "/clinic/students/"}
    first = client.post("/clinic/students/bulk", data=form, headers=HTMX)
    assert first.headers["HX-Redirect"] == "/clinic/students/"
    reopen = client.post("/clinic/students/bulk", data={"csrf_token": token, "single": f"reopen:{links[0]}",
                                                        "once": "another-form"})
    assert reopen.status_code == 303
    again = client.post("/clinic/students/bulk", data=form, headers=HTMX)
    assert again.status_code == 200 and again.headers["HX-Redirect"] == "/clinic/students/"
    assert "This request was already made; nothing was done again." in client.get("/clinic/students/").get_data(
        as_text=True)
    db.session.expire_all()
    assert db.session.get(ClinicLink, links[0]).resolved_at is None
    assert all(db.session.get(ClinicLink, i).resolved_at is not None for i in links[1:])


def test_a_replayed_notification_bulk_review_changes_nothing(client, academy):
    minji = db.session.get(Student, academy.minji.student_id)
    make_guardian(minji, "Kim Mother", "모", phone="01011112222")
    outbox.queue_absence(academy.minji.id, academy.upcoming.id)
    db.session.commit()
    sign_in(client, academy.users["teacher_a"])
    page = client.get("/parents/messages/").get_data(as_text=True)
    key = once_key(page, 'id="bulk-form"')
    message_id = int(re.search(r'data-message="(\d+)" data-state="review"', page).group(1))
    token = csrf_token(client, "/parents/messages/")
    form = {"csrf_token": token, "once": key, "action": "approve", "ids": [message_id]}
    assert client.post("/parents/messages/bulk", data=form).status_code == 302
    assert client.post("/parents/messages/bulk", data={"csrf_token": token, "once": "k2", "action": "cancel",
                                                       "ids": [message_id]}).status_code == 302
    assert client.post("/parents/messages/bulk", data=form).status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, message_id).state == "cancelled"  # not approved again


def test_a_clinic_request_sent_twice_makes_one_link_and_a_refused_one_can_be_corrected(client, academy):
    sign_in(client, academy.users["teacher_a"])
    page = client.get("/clinic/").get_data(as_text=True)
    key = once_key(page, 'id="clinic-request"')
    token = csrf_token(client, "/clinic/")
    form = {"csrf_token": token, "once": key, "request-enrollment": str(academy.minji.id),
            "request-session": str(academy.weeks[1].id), "request-reason": "MANUAL_REQUEST", "request-memo": ""}
    assert client.post("/clinic/requests", data=form, headers=HTMX).status_code == 422  # no memo: nothing kept
    form["request-memo"] = "asked for help"
    first = client.post("/clinic/requests", data=form, headers=HTMX)
    again = client.post("/clinic/requests", data=form, headers=HTMX)
    assert first.status_code == again.status_code == 200
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    manual = select(func.count()).select_from(ClinicLink).where(ClinicLink.reason == "MANUAL_REQUEST")
    assert db.session.execute(manual).scalar_one() == 1


def test_a_key_is_the_users_own_and_names_one_form(app, client, academy):
    """Another user's post with the same key is theirs alone; the same key on another form is a 409."""
    sign_in(client, academy.users["admin"])
    token = csrf_token(client, "/clinic/")
    request = {"csrf_token": token, "once": "shared-key", "request-enrollment": str(academy.minji.id),
               "request-session": str(academy.weeks[1].id), "request-reason": "MANUAL_REQUEST",
               "request-memo": "asked"}
    assert client.post("/clinic/requests", data=request, headers=HTMX).status_code == 200
    assert client.post("/clinic/students/bulk", data={"csrf_token": token, "once": "shared-key",
                                                      "action": "approve", "link_ids": ["1"]}).status_code == 409
    other = app.test_client()
    sign_in(other, academy.users["teacher_a"])
    assert other.post("/clinic/requests", data={**request, "csrf_token": csrf_token(other, "/clinic/")},
                      headers=HTMX).status_code == 200
    manual = select(func.count()).select_from(ClinicLink).where(ClinicLink.reason == "MANUAL_REQUEST")
    assert db.session.execute(manual).scalar_one() == 2
    assert db.session.execute(select(func.count()).select_from(IdempotencyKey)).scalar_one() == 2

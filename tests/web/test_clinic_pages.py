"""The clinic queue page: roles, full page vs htmx partial, filters and search, row actions with
the navigation's count, the idempotent approve, memo edits, manual requests, history, CSV.

The academy is tests/web/factories.build_academy (today 2026-04-01). Its open links, worked by
hand: Lee Jisoo AUTO_FAILED on weeks 1-3 and AUTO_RISK on week 2 (quiz 40 < pass 60); Park_100%
AUTO_FAILED on weeks 1-3; Kim Minho (Geometry) AUTO_FAILED on week 1; Choi Yuna's three are
hidden (withdrawn). So admin and staff see 8, teacher_a (Algebra) 7, teacher_b (Geometry) 1.

Users sign in through the real login form with its CSRF token (sign_in_with_form).
"""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from dashboard.accounts import users as accounts
from dashboard.extensions import db
from dashboard.models import AuditLog, ClinicLink

from tests.factories import build_academy, enroll, make_manual_link
from .pages import HTMX, csrf_token, nav_count
from .test_auth import post_login

PASSWORD = "correct horse"
LINK_ROW = re.compile(r'<tr id="link-(\d+)" data-link-id="\d+" data-state="(\w+)" data-reason="(\w+)"')


def sign_in_with_form(client, user) -> str:
    """Give the user a password, sign in through /login (CSRF included); answers the page's token."""
    accounts.reset_password(user, PASSWORD)
    db.session.commit()
    response = post_login(client, user.username, PASSWORD)
    assert response.status_code == 302, response.status_code
    return csrf_token(client, "/")


def link_rows(html: str) -> dict[int, tuple[str, str]]:
    """link id -> (state, reason) for every queue row in the HTML."""
    return {int(link_id): (state, reason) for link_id, state, reason in LINK_ROW.findall(html)}


def links_of(enrollment, reason: str | None = None) -> list[ClinicLink]:
    statement = select(ClinicLink).where(ClinicLink.enrollment_id == enrollment.id).order_by(ClinicLink.id)
    if reason:
        statement = statement.where(ClinicLink.reason == reason)
    return list(db.session.execute(statement).scalars())


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def risk_link(academy) -> ClinicLink:
    return links_of(academy.jisoo, "AUTO_RISK")[0]


# ---------------------------------------------------------------- who sees what

def test_anonymous_visitor_is_sent_to_login(client, academy):
    response = client.get("/clinic/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("who,expected", [("admin", 8), ("staff", 8), ("teacher_a", 7), ("teacher_b", 1)])
def test_each_role_sees_its_links_and_the_nav_count(client, academy, who, expected):
    sign_in_with_form(client, academy.users[who])
    page = client.get("/clinic/").get_data(as_text=True)
    rows = link_rows(page)
    assert len(rows) == expected
    assert nav_count(page) == expected
    choi = {link.id for link in links_of(academy.choi)}
    assert choi and not choi & rows.keys()  # withdrawn: hidden
    if who == "teacher_b":
        assert {link.id for link in links_of(academy.minho)} == rows.keys()
        assert "Algebra II" not in page  # not even in the filters or the request form


@pytest.mark.parametrize("who,buttons", [("admin", True), ("staff", True), ("teacher_a", False)])
def test_only_admin_and_staff_get_action_buttons(client, academy, who, buttons):
    sign_in_with_form(client, academy.users[who])
    page = client.get("/clinic/").get_data(as_text=True)
    assert ('data-action="approve"' in page) is buttons
    assert ('data-action="resolve"' in page) is buttons
    assert "Edit memo" in page  # every role edits memos


def test_full_page_and_htmx_partial(client, academy):
    sign_in_with_form(client, academy.users["staff"])
    full = client.get("/clinic/")
    assert full.status_code == 200
    body = full.get_data(as_text=True)
    assert "<html" in body and 'id="clinic-filters"' in body and 'id="clinic-request"' in body
    assert "HX-Request" in full.headers["Vary"]
    partial = client.get("/clinic/?lecture=%d" % academy.geometry.id, headers=HTMX)
    text = partial.get_data(as_text=True)
    assert partial.status_code == 200
    assert "<html" not in text and text.lstrip().startswith('<div id="clinic-queue"')
    assert len(link_rows(text)) == 1
    restore = client.get("/clinic/", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


# ---------------------------------------------------------------- filters and search

def test_filters_and_search(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    week1 = academy.weeks[0]
    manual = make_manual_link(academy.minji, week1, memo="parent asked", created_by=academy.users["teacher_a"])
    db.session.commit()

    def ids(query: str) -> set[int]:
        return set(link_rows(client.get("/clinic/?" + query, headers=HTMX).get_data(as_text=True)))

    jisoo = {link.id for link in links_of(academy.jisoo)}
    park = {link.id for link in links_of(academy.park)}
    minho = {link.id for link in links_of(academy.minho)}
    assert ids(f"lecture={academy.geometry.id}") == minho
    assert ids(f"session={week1.id}") == {links_of(academy.jisoo)[0].id, links_of(academy.park)[0].id, manual.id}
    assert ids("reason=AUTO_RISK") == {risk_link(academy).id}
    assert ids("kind=manual") == {manual.id}
    assert ids("kind=auto") == jisoo | park | minho
    assert ids("approved=true") == set()
    # What the controls cannot have sent is ignored, numbers beyond any id included (no 500).
    everyone = ids("")
    assert ids("lecture=99999999999999999999") == ids("session=2147483648") == ids("lecture=x") == everyone
    assert ids("page=99999999999999999999") == everyone
    assert ids("q=jisoo") == jisoo  # case-insensitive, by student name
    assert ids("q=_100%25") == park  # % and _ are literal
    assert ids("q=parent") == set()  # the search is by student, not memo
    assert ids(f"lecture={academy.algebra.id}&reason=AUTO_FAILED&q=lee") == {
        link.id for link in links_of(academy.jisoo, "AUTO_FAILED")}


def test_exam_reason_figures_are_shown(client, academy):
    sign_in_with_form(client, academy.users["staff"])
    text = client.get("/clinic/?reason=AUTO_RISK", headers=HTMX).get_data(as_text=True)
    assert "Exam 40 (pass 60)" in text and "LOW_SCORE" not in text
    failed = client.get(f"/clinic/?reason=AUTO_FAILED&q=jisoo&session={academy.weeks[1].id}",
                        headers=HTMX).get_data(as_text=True)
    assert "missed: video, exam" in failed  # week 2: video 0 and quiz 40 < 60


# ---------------------------------------------------------------- actions

def post_action(client, token, link_id, action, htmx=True):
    headers = {**HTMX, "X-CSRFToken": token} if htmx else {}
    data = {} if htmx else {"csrf_token": token, "next": "/clinic/?reason=AUTO_RISK"}
    return client.post(f"/clinic/{link_id}/{action}", headers=headers, data=data)


def test_approve_resolve_reopen_swap_the_row_and_the_count(client, academy):
    token = sign_in_with_form(client, academy.users["staff"])
    link = risk_link(academy)

    approved = post_action(client, token, link.id, "approve")
    text = approved.get_data(as_text=True)
    assert approved.status_code == 200
    assert text.lstrip().startswith(f'<tr id="link-{link.id}"')
    assert link_rows(text) == {link.id: ("approved", "AUTO_RISK")}
    assert 'data-action="approve"' not in text and 'data-action="resolve"' in text
    assert 'id="nav-clinic-count" class="nav-count" hx-swap-oob="true"' in text
    assert nav_count(text) == 8  # an approved link stays open

    resolved = post_action(client, token, link.id, "resolve").get_data(as_text=True)
    assert link_rows(resolved) == {link.id: ("resolved", "AUTO_RISK")}
    assert 'data-action="reopen"' in resolved and 'data-action="resolve"' not in resolved
    assert nav_count(resolved) == 7

    db.session.expire_all()
    stored = db.session.get(ClinicLink, link.id)
    assert stored.resolved_at is not None and stored.resolved_by_id == academy.users["staff"].id
    assert stored.auto_managed is False

    history = client.get("/clinic/?tab=resolved").get_data(as_text=True)
    assert set(link_rows(history)) == {link.id}
    assert link.id not in link_rows(client.get("/clinic/").get_data(as_text=True))

    reopened = post_action(client, token, link.id, "reopen").get_data(as_text=True)
    assert link_rows(reopened) == {link.id: ("approved", "AUTO_RISK")}
    assert nav_count(reopened) == 8


def test_approve_twice_succeeds_and_records_once(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    link = risk_link(academy)
    assert post_action(client, token, link.id, "approve").status_code == 200
    db.session.expire_all()
    first_at = db.session.get(ClinicLink, link.id).approved_at
    again = post_action(client, token, link.id, "approve")
    assert again.status_code == 200
    assert link_rows(again.get_data(as_text=True)) == {link.id: ("approved", "AUTO_RISK")}
    db.session.expire_all()
    assert db.session.get(ClinicLink, link.id).approved_at == first_at
    audits = db.session.execute(select(func.count(AuditLog.id)).where(
        AuditLog.action == "clinic_link.approve", AuditLog.object_id == str(link.id))).scalar_one()
    assert audits == 1


def test_plain_form_action_redirects_back_to_the_queue(client, academy):
    token = sign_in_with_form(client, academy.users["staff"])
    link = risk_link(academy)
    response = post_action(client, token, link.id, "approve", htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/clinic/?reason=AUTO_RISK"
    assert "Clinic link approved." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_teacher_may_not_act_and_another_lectures_link_is_404(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    own = risk_link(academy)
    geometry = links_of(academy.minho)[0]
    for action in ("approve", "resolve", "reopen"):
        assert post_action(client, token, own.id, action).status_code == 403
    assert post_action(client, token, geometry.id, "approve").status_code == 404
    assert client.post(f"/clinic/{geometry.id}/memo", headers={**HTMX, "X-CSRFToken": token},
                       data={f"memo{geometry.id}-memo": "x"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(ClinicLink, own.id).approved is False
    assert db.session.get(ClinicLink, geometry.id).memo is None


def test_action_without_csrf_token_is_refused(client, academy):
    sign_in_with_form(client, academy.users["staff"])
    link = risk_link(academy)
    response = client.post(f"/clinic/{link.id}/resolve", headers=HTMX)
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(ClinicLink, link.id).resolved_at is None


# ---------------------------------------------------------------- memo

def test_memo_edit_swaps_the_row_and_is_escaped(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    link = risk_link(academy)
    response = client.post(f"/clinic/{link.id}/memo", headers={**HTMX, "X-CSRFToken": token},
                           data={f"memo{link.id}-memo": "<script>alert(1)</script>"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert link_rows(text) == {link.id: ("open", "AUTO_RISK")}
    db.session.expire_all()
    stored = db.session.get(ClinicLink, link.id)
    assert stored.memo == "<script>alert(1)</script>"
    assert stored.auto_managed is True  # a memo edit keeps the link automatic-managed
    page = client.get("/clinic/").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page


def test_a_manual_links_memo_cannot_be_emptied(client, academy):
    token = sign_in_with_form(client, academy.users["staff"])
    manual = make_manual_link(academy.minji, academy.weeks[0], memo="parent asked")
    db.session.commit()
    response = client.post(f"/clinic/{manual.id}/memo", headers={**HTMX, "X-CSRFToken": token},
                           data={f"memo{manual.id}-memo": "   "})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "A memo is required" in text and "<details open>" in text
    db.session.expire_all()
    assert db.session.get(ClinicLink, manual.id).memo == "parent asked"


# ---------------------------------------------------------------- manual requests

def request_data(enrollment, session, reason="MANUAL_REQUEST", memo="asked for help with week 2"):
    return {"request-enrollment": str(enrollment.id), "request-session": str(session.id),
            "request-reason": reason, "request-memo": memo}


def test_teacher_requests_a_clinic_and_the_queue_follows(client, academy):
    token = sign_in_with_form(client, academy.users["teacher_a"])
    response = client.post("/clinic/requests", headers={**HTMX, "X-CSRFToken": token},
                           data={**request_data(academy.minji, academy.weeks[1], "TEACHER_RECOMMEND"),
                                 "lecture": str(academy.algebra.id), "q": "minji"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.lstrip().startswith('<section id="clinic-request"') and "Clinic requested." in text
    created = links_of(academy.minji)
    assert [(link.reason, link.is_auto, link.memo, link.created_by_id) for link in created] == [
        ("TEACHER_RECOMMEND", False, "asked for help with week 2", academy.users["teacher_a"].id)]
    # The queue comes back out of band with the page's filters (Algebra, "minji"): just the new link.
    assert '<div id="clinic-queue" hx-swap-oob="true">' in text
    assert link_rows(text) == {created[0].id: ("open", "TEACHER_RECOMMEND")}
    assert nav_count(text) == 8


@pytest.mark.parametrize("memo", ["", "   "])
def test_a_request_needs_a_memo(client, academy, memo):
    token = sign_in_with_form(client, academy.users["staff"])
    response = client.post("/clinic/requests", headers={**HTMX, "X-CSRFToken": token},
                           data=request_data(academy.minji, academy.weeks[0], memo=memo))
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="request-memo-error" class="error" role="alert">A memo is required', text)
    assert links_of(academy.minji) == []


def test_a_session_of_another_lecture_is_refused_at_the_field(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post("/clinic/requests", headers={**HTMX, "X-CSRFToken": token},
                           data=request_data(academy.minji, academy.geometry_week))
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="request-session-error" class="error" role="alert">The session does not belong', text)
    assert links_of(academy.minji) == []


def test_request_refusals_by_role_and_lecture(client, academy):
    staff_token = sign_in_with_form(client, academy.users["staff"])
    page = client.get("/clinic/").get_data(as_text=True)
    reasons = re.search(r'<select id="request-reason".*?</select>', page, re.S).group(0)
    assert 'value="MANUAL_REQUEST"' in reasons
    assert 'value="TEACHER_RECOMMEND"' not in reasons  # staff may request, not recommend
    refused = client.post("/clinic/requests", headers={**HTMX, "X-CSRFToken": staff_token},
                          data=request_data(academy.minji, academy.weeks[0], "TEACHER_RECOMMEND"))
    assert refused.status_code == 403

    other = client.application.test_client()
    teacher_token = sign_in_with_form(other, academy.users["teacher_a"])
    response = other.post("/clinic/requests", headers={**HTMX, "X-CSRFToken": teacher_token},
                          data=request_data(academy.minho, academy.geometry_week))
    assert response.status_code == 403
    assert links_of(academy.minho, "MANUAL_REQUEST") == [] and links_of(academy.minji) == []


def test_plain_form_request_redirects_with_a_message(client, academy):
    token = sign_in_with_form(client, academy.users["staff"])
    response = client.post("/clinic/requests", data={**request_data(academy.park, academy.weeks[2]),
                                                     "csrf_token": token})
    assert response.status_code == 302
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Clinic requested." in follow
    assert len(links_of(academy.park, "MANUAL_REQUEST")) == 1


# ---------------------------------------------------------------- CSV

def test_csv_export_has_a_bom_and_follows_the_filters(client, academy):
    korean = enroll("김민지", academy.algebra)
    make_manual_link(korean, academy.weeks[0], memo="=1+1 보충 요청")
    db.session.commit()
    sign_in_with_form(client, academy.users["teacher_a"])
    response = client.get(f"/clinic/queue.csv?lecture={academy.algebra.id}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Link", "Student", "Lecture"]
    assert len(rows) == 1 + 8  # Jisoo 4, Park 3, 김민지 1
    korean_row = next(row for row in rows if row[1] == "김민지")
    assert korean_row[5] == "MANUAL_REQUEST" and korean_row[-1] == "'=1+1 보충 요청"  # no formula
    risk_row = next(row for row in rows if row[5] == "AUTO_RISK")
    assert risk_row[6] == "Exam 40 (pass 60)"
    assert all(row[2] == "Algebra II" for row in rows[1:])


def test_the_queues_own_count_agrees_with_the_navigation_after_an_action(client, academy):
    """8 open links (Jisoo 4, Park 3, 김민지 1); resolving one from a filtered page redraws that
    page's count (Jisoo's AUTO_FAILED: 3 -> 2) and the navigation's (8 -> 7) in the same answer."""
    token = sign_in_with_form(client, academy.users["staff"])
    page = client.get("/clinic/?reason=AUTO_FAILED&q=lee").get_data(as_text=True)
    assert '<span id="clinic-queue-count">Open links: 3</span>' in page
    link = links_of(academy.jisoo, "AUTO_FAILED")[0]
    answer = client.post(f"/clinic/{link.id}/resolve", headers={**HTMX, "X-CSRFToken": token},
                         data={"next": "/clinic/?reason=AUTO_FAILED&q=lee"}).get_data(as_text=True)
    assert '<span id="clinic-queue-count" hx-swap-oob="true">Open links: 2</span>' in answer
    assert nav_count(answer) == 7

"""The OMR review pages (/omr/): the queue with its filters and the navigation's count, a scan's
answers next to the key, a correction and an assignment (regrade, audit, recompute, the partial
swapped with the counts out of band), refusals at the field with nothing saved, roles and scope.

The academy is tests.factories.build_academy (today 2026-04-01) with a key on the quiz
(Algebra II, week 2, max 100, pass 60): 1:"1", 2:"2", 3:"3", 4:"24", 25 points each. Two scans,
worked by hand:
- `unsure`: registered for Park_100%; question 2 read "2" at confidence 0.61 < 0.70, so it is
  flagged and wrong (LOW_CONFIDENCE): 75, reasons [ANSWER_LOW_CONFIDENCE], graded as attempt 1.
- `nameless`: nobody registered, the identifier box blank; every answer right, but the student is
  unknown: needs_review, [IDENTIFIER_NOT_OK], no attempt.
Both need review, so admin, staff and teacher_a count 2; teacher_b (Geometry) sees neither.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from dashboard.omr import intake as omr
from dashboard.extensions import db
from dashboard.models import AuditLog, OmrScan, SessionProgress

from tests.factories import ALL_RIGHT, UNSURE, Academy, add_answer_key, build_academy, enroll, make_exam, read_scan
from .pages import HTMX, csrf_token, sign_in

SCAN_ROW = re.compile(r'<tr id="scan-(\d+)" data-scan-id="\d+" data-status="(\w+)" data-reasons="([A-Z_ ]*)"')


@dataclass
class Scans:
    academy: Academy
    unsure: int
    nameless: int


@pytest.fixture
def scans(app) -> Scans:
    academy = build_academy()
    add_answer_key(academy.quiz)
    unsure = read_scan(academy.quiz, academy.park, UNSURE)
    nameless = read_scan(academy.quiz, None, ALL_RIGHT, {"status": "blank", "enrollment_id": None})
    db.session.commit()
    return Scans(academy, unsure, nameless)


def scan_rows(html: str) -> dict[int, tuple[str, str]]:
    return {int(scan_id): (status, reasons) for scan_id, status, reasons in SCAN_ROW.findall(html)}


def omr_count(html: str) -> str:
    match = re.search(r'<span id="nav-omr-count" class="nav-count"[^>]*>(.*?)</span>\s*(?:</a>|$)', html, re.S)
    assert match, "no OMR review count in the answer"
    return re.sub(r"<[^>]+>[^<]*</span>\s*", "", match.group(1)).strip()


def stored(scan_id: int) -> dict:
    db.session.expire_all()
    return omr.describe(omr.scan_row(scan_id))


def exam_score(academy, enrollment) -> Decimal:
    db.session.expire_all()
    return db.session.execute(select(SessionProgress.exam_aggregate_score).where(
        SessionProgress.enrollment_id == enrollment.id,
        SessionProgress.session_id == academy.weeks[1].id)).scalar_one()


def post(client, path, data, htmx=True, token=None):
    token = token if token is not None else csrf_token(client, "/")
    return client.post(path, data={"csrf_token": token, **data}, headers=HTMX if htmx else {})


# ---------------------------------------------------------------- the queue

def test_anonymous_visitor_is_sent_to_login(client, scans):
    response = client.get("/omr/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("who", ["admin", "staff", "teacher_a"])
def test_the_queue_lists_scans_needing_review_with_their_reasons(client, scans, who):
    sign_in(client, scans.academy.users[who])
    html = client.get("/omr/").get_data(as_text=True)
    assert scan_rows(html) == {scans.unsure: ("graded", "ANSWER_LOW_CONFIDENCE"),
                               scans.nameless: ("needs_review", "IDENTIFIER_NOT_OK")}
    assert "Low confidence" in html and "Student not identified" in html
    assert omr_count(html) == "2"
    assert '<a href="/omr/" aria-current="page">OMR review' in html


def test_a_teacher_of_another_lecture_sees_no_scan_and_none_counted(client, scans):
    sign_in(client, scans.academy.users["teacher_b"])
    html = client.get("/omr/").get_data(as_text=True)
    assert scan_rows(html) == {} and "No scan matches." in html
    assert omr_count(html) == ""
    assert client.get(f"/omr/{scans.unsure}/").status_code == 404
    assert client.get(f"/omr/{scans.nameless}/").status_code == 404
    assert client.get(f"/omr/{scans.nameless}/students?q=Kim").status_code == 404


def test_filters_answer_the_partial(client, scans):
    academy = scans.academy
    clean = read_scan(academy.quiz, academy.minji, ALL_RIGHT)
    other = make_exam([academy.geometry_week], title="Geometry quiz")
    add_answer_key(other, {1: "2"}, 10)
    geometry = read_scan(other, academy.minho, [{"question": 1, "detected": [], "marking": "blank",
                                                 "confidence": 0.9, "status": "ok"}])
    db.session.commit()
    sign_in(client, academy.users["admin"])

    response = client.get("/omr/?needs_review=all", headers=HTMX)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="omr-queue">')
    assert set(scan_rows(html)) == {scans.unsure, scans.nameless, clean, geometry}
    assert set(scan_rows(client.get("/omr/?needs_review=false", headers=HTMX).get_data(as_text=True))) == {clean}
    assert set(scan_rows(client.get(f"/omr/?exam={other.id}", headers=HTMX).get_data(as_text=True))) == {geometry}
    # The lecture filter: a scan with a known student belongs to that student's lecture; an
    # unidentified one to every lecture of its exam.
    by_lecture = client.get(f"/omr/?needs_review=all&lecture={academy.algebra.id}", headers=HTMX)
    assert set(scan_rows(by_lecture.get_data(as_text=True))) == {scans.unsure, scans.nameless, clean}
    assert set(scan_rows(client.get(f"/omr/?lecture={academy.geometry.id}", headers=HTMX)
                         .get_data(as_text=True))) == {geometry}
    # Values the page cannot read are ignored, not an error.
    assert client.get("/omr/?needs_review=maybe&exam=x&page=-1").status_code == 200


def test_text_from_the_database_is_escaped(client, scans):
    scans.academy.quiz.title = "<script>alert(1)</script>"
    db.session.commit()
    sign_in(client, scans.academy.users["admin"])
    for path in ("/omr/", f"/omr/{scans.unsure}/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ---------------------------------------------------------------- a scan's page

def test_a_scan_shows_its_answers_next_to_the_key(client, scans):
    sign_in(client, scans.academy.users["teacher_a"])
    html = client.get(f"/omr/{scans.unsure}/").get_data(as_text=True)
    assert 'data-status="graded" data-score="75"' in html
    assert "75 of 100 (attempt 1)" in html
    q2 = re.search(r'<tr data-question="2" data-flags="([A-Z_ ]*)" data-correct="(\w+)">(.*?)</tr>', html, re.S)
    assert q2.group(1, 2) == ("ANSWER_LOW_CONFIDENCE", "false")
    assert "0.61" in q2.group(3) and 'value="2"' in q2.group(3)
    q4 = re.search(r'<tr data-question="4" data-flags="" data-correct="true">(.*?)</tr>', html, re.S)
    assert "24" in q4.group(1) and "multi" in q4.group(1)
    assert f'href="/exams/{scans.academy.quiz.id}/answer-key"' in html
    assert "Whose sheet is it?" not in html  # the student is known


# ---------------------------------------------------------------- correcting an answer

def test_correcting_a_flagged_answer_regrades_audits_and_recomputes(client, scans):
    """Question 2 read by a person as "2": right, unflagged -> 100, no reason left; Park's week-2
    exam score follows (75 -> 100) and the scan leaves the queue (count 2 -> 1)."""
    academy = scans.academy
    assert exam_score(academy, academy.park) == Decimal(75)
    sign_in(client, academy.users["teacher_a"])
    response = post(client, f"/omr/{scans.unsure}/correct", {"question": "2", "detected": "2"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="omr-scan"')
    assert 'data-status="graded" data-score="100" data-reasons=""' in html
    assert "Question 2 corrected; the attempt is regraded." in html
    assert 'id="nav-clinic-count" class="nav-count" hx-swap-oob="true"' in html
    assert re.search(r'<span id="nav-omr-count" class="nav-count" hx-swap-oob="true">.*?1</span>', html, re.S)
    assert "(corrected)" in html

    assert (stored(scans.unsure)["score"], stored(scans.unsure)["review_reasons"]) == (100, [])
    assert exam_score(academy, academy.park) == Decimal(100)
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "omr_scan.correct")).scalar_one()
    assert entry.username == "teacher_a"
    assert entry.after["corrections"] == [{"question": 2, "detected": ["2"]}]


def test_without_javascript_a_correction_redirects_to_the_scan(client, scans):
    sign_in(client, scans.academy.users["staff"])
    response = post(client, f"/omr/{scans.unsure}/correct", {"question": "2", "detected": "3"}, htmx=False)
    assert response.status_code == 302 and response.headers["Location"] == f"/omr/{scans.unsure}/"
    # "3" is a wrong answer to question 2: still 75, but no longer flagged.
    assert (stored(scans.unsure)["score"], stored(scans.unsure)["review_reasons"]) == (75, [])
    assert "Question 2 corrected" in client.get(f"/omr/{scans.unsure}/").get_data(as_text=True)


def test_a_refused_correction_answers_422_at_the_field_and_saves_nothing(client, scans):
    sign_in(client, scans.academy.users["admin"])
    too_many = "".join(chr(ord("A") + i) for i in range(26)) + "abcdefg"  # 33 distinct marks
    response = post(client, f"/omr/{scans.unsure}/correct", {"question": "2", "detected": too_many})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field = f"correct-{scans.unsure}-2"
    assert f'<small id="{field}-error" class="error" role="alert">at most 32 marks</small>' in html
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html)
    assert f'value="{too_many}"' in html  # what was typed stays in the box

    response = post(client, f"/omr/{scans.unsure}/correct", {"question": "9", "detected": "1"})
    assert response.status_code == 422  # not in the key (a forged form)
    assert stored(scans.unsure)["score"] == 75
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "omr_scan.correct")).first() is None


def test_a_pending_scan_has_nothing_to_correct(client, scans):
    pending = omr.register_scan(None, {"exam_id": scans.academy.quiz.id, "enrollment_id": scans.academy.minji.id})
    db.session.commit()
    sign_in(client, scans.academy.users["admin"])
    html = client.get(f"/omr/{pending.id}/").get_data(as_text=True)
    assert "No reading yet." in html and 'name="detected"' not in html
    response = post(client, f"/omr/{pending.id}/correct", {"question": "1", "detected": "1"})
    assert response.status_code == 422
    assert "This scan has no reading to correct" in response.get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused(client, scans):
    sign_in(client, scans.academy.users["admin"])
    response = client.post(f"/omr/{scans.unsure}/correct", data={"question": "2", "detected": "2"}, headers=HTMX)
    assert response.status_code == 400
    assert stored(scans.unsure)["score"] == 75


# ---------------------------------------------------------------- assigning the student

def test_the_assign_control_offers_the_exams_active_students_and_searches(client, scans):
    academy = scans.academy
    sign_in(client, academy.users["teacher_a"])
    html = client.get(f"/omr/{scans.nameless}/").get_data(as_text=True)
    assert "Whose sheet is it?" in html
    select_html = re.search(r'<select id="assign-enrollment-\d+" name="enrollment".*?</select>', html, re.S).group(0)
    offered = set(re.findall(r'<option value="(\d+)"', select_html))
    # Algebra II's active students; not Choi Yuna (withdrawn), not Kim Minho (Geometry).
    assert offered == {str(academy.minji.id), str(academy.jisoo.id), str(academy.park.id)}
    options = client.get(f"/omr/{scans.nameless}/students?q=kim", headers=HTMX).get_data(as_text=True)
    assert re.findall(r'<option value="(\d+)"', options) == [str(academy.minji.id)]
    assert '<optgroup label="Algebra II">' in options
    # Without JavaScript the search reloads the page with the select narrowed.
    page = client.get(f"/omr/{scans.nameless}/?q=kim").get_data(as_text=True)
    select_html = re.search(r'<select id="assign-enrollment-\d+" name="enrollment".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="(\d+)"', select_html) == [str(academy.minji.id)]


def test_assigning_the_student_grades_the_sheet_as_their_next_attempt(client, scans):
    """Every answer right: 100. Park has the unsure scan as attempt 1, so this is attempt 2; the
    exam counts the best attempt (MAX), so week 2's score goes 75 -> 100."""
    academy = scans.academy
    sign_in(client, academy.users["teacher_a"])
    response = post(client, f"/omr/{scans.nameless}/assign", {"enrollment": str(academy.park.id)})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-status="graded" data-score="100" data-reasons=""' in html
    assert "100 of 100 (attempt 2)" in html and "Park_100%" in html
    assert "Whose sheet is it?" not in html
    assert re.search(r'<span id="nav-omr-count" class="nav-count" hx-swap-oob="true">.*?1</span>', html, re.S)
    assert stored(scans.nameless) == {"id": scans.nameless, "exam_id": academy.quiz.id,
                                      "enrollment_id": academy.park.id, "status": "graded", "review_reasons": [],
                                      "attempt_no": 2, "score": 100, "error": None}
    assert exam_score(academy, academy.park) == Decimal(100)
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "omr_scan.assign")).scalar_one()
    assert entry.username == "teacher_a"


def test_assigning_refusals(client, scans):
    academy = scans.academy
    newcomer = enroll("Yoon Seo", academy.geometry)
    db.session.commit()
    sign_in(client, academy.users["admin"])
    # Nobody chosen; a student of a lecture the exam is not linked to: 422 at the select.
    response = post(client, f"/omr/{scans.nameless}/assign", {"enrollment": ""})
    assert response.status_code == 422 and "Choose the student." in response.get_data(as_text=True)
    response = post(client, f"/omr/{scans.nameless}/assign", {"enrollment": str(newcomer.id)})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'<small id="assign-error-\d+" class="error" role="alert">Choose an active student of a '
                     r'lecture this exam is linked to.</small>', html)
    assert 'aria-invalid="true" aria-describedby="assign-error-' in html
    # A teacher naming another teacher's student: 403.
    sign_in(client, academy.users["teacher_a"])
    assert post(client, f"/omr/{scans.nameless}/assign", {"enrollment": str(academy.minho.id)}).status_code == 403
    assert stored(scans.nameless)["status"] == "needs_review"
    # A graded scan offers no assign control; assigning it to someone else is refused.
    response = post(client, f"/omr/{scans.unsure}/assign", {"enrollment": str(academy.minji.id)})
    assert response.status_code == 422
    assert "The scan is already graded for another student." in response.get_data(as_text=True)
    assert db.session.get(OmrScan, scans.unsure).enrollment_id == academy.park.id

"""`/api/omr-scans` over HTTP (SPEC §8, §10): shapes, status codes, roles and scope, refusals that
change nothing, the list's filters and pagination.

The academy is tests.factories.build_academy (Algebra II with the quiz on week 2; Geometry
apart), plus an answer key on the quiz: 1:"1", 2:"2", 3:"3", 4:"24", 25 points each.
"""
from __future__ import annotations


import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Attempt, AuditLog, OmrScan
from tests.factories import ALL_RIGHT, add_answer_key, bearer, build_academy, make_exam

def done(answers=ALL_RIGHT, identifier=None):
    result = {"version": "omr-2.1", "mode": "template", "meta_used": True, "answers": answers}
    if identifier is not None:
        result["identifier"] = identifier
    return {"status": "DONE", "error": None, "result": result}


@pytest.fixture
def academy(app):
    academy = build_academy()
    add_answer_key(academy.quiz)
    db.session.commit()
    return academy


def post(client, academy, who, path, body):
    headers = bearer(academy.tokens[who]) if who else {}
    return client.post(path, json=body, headers=headers)


def get(client, academy, who, path):
    headers = bearer(academy.tokens[who]) if who else {}
    return client.get(path, headers=headers)


def register(client, academy, enrollment=None, who="staff"):
    response = post(client, academy, who, "/api/omr-scans",
                    {"exam_id": academy.quiz.id, "enrollment_id": enrollment.id if enrollment else None})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def scan_count() -> int:
    return db.session.execute(select(func.count()).select_from(OmrScan)).scalar_one()


# ---------------------------------------------------------------- the flow

def test_register_then_result_grades_the_next_attempt(client, academy):
    response = post(client, academy, "staff", "/api/omr-scans/", {"exam_id": academy.quiz.id,
                                                                  "enrollment_id": academy.minji.id})
    assert response.status_code == 201
    scan_id = response.get_json()["id"]
    assert response.get_json() == {"id": scan_id, "exam_id": academy.quiz.id, "enrollment_id": academy.minji.id,
                                   "status": "pending", "review_reasons": [], "attempt_no": None, "score": None,
                                   "error": None}
    # Minji's manual attempt 1 scored 72.5; the scan is attempt 2 with 100.
    response = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", done())
    assert response.status_code == 200
    assert response.get_json() == {"id": scan_id, "exam_id": academy.quiz.id, "enrollment_id": academy.minji.id,
                                   "status": "graded", "review_reasons": [], "attempt_no": 2, "score": 100,
                                   "error": None}
    assert get(client, academy, "teacher_a", f"/api/omr-scans/{scan_id}/").get_json() == response.get_json()
    progress = get(client, academy, "admin",
                   f"/api/progress/session-progress/?enrollment_id={academy.minji.id}&session={academy.weeks[1].id}")
    assert progress.get_json()["results"][0]["exam_aggregate_score"] == 100


def test_a_bad_identifier_is_assigned_by_the_lectures_teacher(client, academy):
    scan_id = register(client, academy)
    body = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result",
                done(identifier={"status": "ambiguous", "enrollment_id": None})).get_json()
    assert (body["status"], body["enrollment_id"], body["review_reasons"]) == ("needs_review", None,
                                                                               ["IDENTIFIER_NOT_OK"])
    queue = get(client, academy, "teacher_a", "/api/omr-scans?needs_review=true").get_json()
    assert [row["id"] for row in queue["results"]] == [scan_id]
    assert get(client, academy, "teacher_b", "/api/omr-scans?needs_review=true").get_json()["count"] == 0

    response = post(client, academy, "teacher_a", f"/api/omr-scans/{scan_id}/assign/",
                    {"enrollment_id": academy.park.id})
    assert response.status_code == 200
    assert response.get_json() == {"id": scan_id, "exam_id": academy.quiz.id, "enrollment_id": academy.park.id,
                                   "status": "graded", "review_reasons": [], "attempt_no": 1, "score": 100,
                                   "error": None}
    assert get(client, academy, "teacher_a", "/api/omr-scans?needs_review=true").get_json()["count"] == 0


def test_correction_over_http_regrades(client, academy):
    scan_id = register(client, academy, academy.park)
    unsure = [dict(a, confidence=0.4) if a["question"] == 4 else a for a in ALL_RIGHT]
    body = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", done(unsure)).get_json()
    assert (body["score"], body["review_reasons"]) == (75, ["ANSWER_LOW_CONFIDENCE"])
    response = post(client, academy, "teacher_a", f"/api/omr-scans/{scan_id}/correct",
                    {"answers": [{"question": 4, "detected": ["2", "4"]}]})
    assert response.status_code == 200
    assert (response.get_json()["score"], response.get_json()["review_reasons"]) == (100, [])
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "omr_scan.correct")).scalar_one()
    assert entry.username == "teacher_a"


def test_the_same_payload_twice_answers_the_same_and_adds_no_attempt(client, academy):
    scan_id = register(client, academy, academy.park)
    first = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", done())
    second = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", done())
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    count = db.session.execute(select(func.count()).select_from(Attempt)
                               .where(Attempt.enrollment_id == academy.park.id)).scalar_one()
    assert count == 1


# ---------------------------------------------------------------- refusals

def test_failed_then_conflicts(client, academy):
    scan_id = register(client, academy, academy.park)
    body = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result",
                {"status": "FAILED", "error": "page folded"}).get_json()
    assert (body["status"], body["error"]) == ("failed", "page folded")
    post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", done())
    response = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", {"status": "FAILED"})
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
    response = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result",
                    done(identifier={"status": "ok", "enrollment_id": academy.jisoo.id}))
    assert response.status_code == 409
    assert get(client, academy, "staff", f"/api/omr-scans/{scan_id}").get_json()["status"] == "graded"


@pytest.mark.parametrize("payload, field", [
    (done(ALL_RIGHT + [{"question": 9, "detected": ["1"]}]), "result.answers[4].question"),
    (done([{"question": 1, "detected": "1"}]), "result.answers[0].detected"),
    (done([{"question": "1"}]), "result.answers[0].question"),
    (done(identifier={"status": "ok", "enrollment_id": 1.5}), "result.identifier.enrollment_id"),
    ({"status": "PROCESSING"}, "status"),
    ({"status": "DONE"}, "result"),
    ([1, 2], None),
])
def test_malformed_payloads_are_400_naming_the_field_and_change_nothing(client, academy, payload, field):
    scan_id = register(client, academy, academy.park)
    audits = db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    response = post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", payload)
    assert response.status_code == 400
    assert response.get_json()["error"] == "validation"
    assert response.get_json()["field"] == field
    after = get(client, academy, "staff", f"/api/omr-scans/{scan_id}").get_json()
    assert (after["status"], after["attempt_no"]) == ("pending", None)
    assert db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one() == audits


def test_bad_json_is_400(client, academy):
    scan_id = register(client, academy, academy.park)
    response = client.post(f"/api/omr-scans/{scan_id}/result", data="{nope",
                           headers={**bearer(academy.tokens["staff"]), "Content-Type": "application/json"})
    assert response.status_code == 400


def test_registration_refusals(client, academy):
    keyless = make_exam([academy.weeks[2]])
    db.session.commit()
    for body, field in [
        ({"exam_id": keyless.id}, "exam_id"),
        ({"exam_id": 424242}, "exam_id"),
        ({"exam_id": academy.quiz.id, "enrollment_id": 424242}, "enrollment_id"),
        ({"exam_id": academy.quiz.id, "enrollment_id": academy.minho.id}, "enrollment_id"),
    ]:
        response = post(client, academy, "admin", "/api/omr-scans", body)
        assert response.status_code == 400, body
        assert response.get_json()["field"] == field
    assert scan_count() == 0


# ---------------------------------------------------------------- roles and scope

@pytest.mark.parametrize("who, status", [("admin", 201), ("staff", 201), ("teacher_a", 403), ("teacher_b", 403),
                                         (None, 401)])
def test_who_may_register(client, academy, who, status):
    response = post(client, academy, who, "/api/omr-scans", {"exam_id": academy.quiz.id, "enrollment_id": None})
    assert response.status_code == status
    assert scan_count() == (1 if status == 201 else 0)


@pytest.mark.parametrize("who, status", [("admin", 200), ("staff", 200), ("teacher_a", 403), ("teacher_b", 404),
                                         (None, 401)])
def test_who_may_post_results(client, academy, who, status):
    scan_id = register(client, academy, academy.park)
    response = post(client, academy, who, f"/api/omr-scans/{scan_id}/result", done())
    assert response.status_code == status
    stored = get(client, academy, "staff", f"/api/omr-scans/{scan_id}").get_json()["status"]
    assert stored == ("graded" if status == 200 else "pending")


@pytest.mark.parametrize("who, status", [("admin", 200), ("staff", 200), ("teacher_a", 200), ("teacher_b", 404),
                                         (None, 401)])
def test_who_may_assign_and_correct(client, academy, who, status):
    scan_id = register(client, academy)
    post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", done(identifier={"status": "blank"}))
    correct = post(client, academy, who, f"/api/omr-scans/{scan_id}/correct",
                   {"answers": [{"question": 1, "detected": ["2"]}]})
    assert correct.status_code == status
    assign = post(client, academy, who, f"/api/omr-scans/{scan_id}/assign", {"enrollment_id": academy.park.id})
    assert assign.status_code == status
    body = get(client, academy, "staff", f"/api/omr-scans/{scan_id}").get_json()
    assert body["score"] == (75 if status == 200 else None)


def test_a_teacher_cannot_assign_another_lectures_enrollment(client, academy):
    scan_id = register(client, academy)
    post(client, academy, "staff", f"/api/omr-scans/{scan_id}/result", done(identifier={"status": "error"}))
    response = post(client, academy, "teacher_a", f"/api/omr-scans/{scan_id}/assign",
                    {"enrollment_id": academy.minho.id})
    assert response.status_code == 403
    response = post(client, academy, "teacher_a", f"/api/omr-scans/{scan_id}/assign", {"enrollment_id": "x"})
    assert response.status_code == 400 and response.get_json()["field"] == "enrollment_id"


@pytest.mark.parametrize("who, visible", [("admin", True), ("staff", True), ("teacher_a", True),
                                          ("teacher_b", False)])
def test_reads_are_scoped(client, academy, who, visible):
    scan_id = register(client, academy, academy.park)
    detail = get(client, academy, who, f"/api/omr-scans/{scan_id}")
    assert detail.status_code == (200 if visible else 404)
    listing = get(client, academy, who, "/api/omr-scans").get_json()
    assert [row["id"] for row in listing["results"]] == ([scan_id] if visible else [])
    assert get(client, academy, None, "/api/omr-scans").status_code == 401


def test_unknown_scan_and_unlisted_methods(client, academy):
    assert post(client, academy, "staff", "/api/omr-scans/999/result", done()).status_code == 404
    assert get(client, academy, "staff", "/api/omr-scans/999").status_code == 404
    assert client.delete("/api/omr-scans/1", headers=bearer(academy.tokens["admin"])).status_code == 405
    assert client.put("/api/omr-scans", headers=bearer(academy.tokens["admin"])).status_code == 405


# ---------------------------------------------------------------- the list

def test_the_list_paginates_and_filters(client, academy):
    ids = [register(client, academy) for _ in range(3)]
    post(client, academy, "staff", f"/api/omr-scans/{ids[1]}/result", done(identifier={"status": "blank"}))
    page = get(client, academy, "staff", "/api/omr-scans?page_size=2").get_json()
    assert page["count"] == 3
    assert [row["id"] for row in page["results"]] == ids[:2]
    assert page["next"] == "http://localhost/api/omr-scans?page_size=2&page=2"
    assert page["previous"] is None
    second = get(client, academy, "staff", "/api/omr-scans?page_size=2&page=2").get_json()
    assert [row["id"] for row in second["results"]] == ids[2:]
    assert second["previous"] == "http://localhost/api/omr-scans?page_size=2"
    assert get(client, academy, "staff", "/api/omr-scans?page=3&page_size=2").status_code == 404
    flagged = get(client, academy, "staff", f"/api/omr-scans?needs_review=true&exam_id={academy.quiz.id}").get_json()
    assert [row["id"] for row in flagged["results"]] == [ids[1]]
    unflagged = get(client, academy, "staff", "/api/omr-scans?needs_review=false").get_json()
    assert [row["id"] for row in unflagged["results"]] == [ids[0], ids[2]]
    for query, field in [("needs_review=maybe", "needs_review"), ("exam_id=x", "exam_id"), ("page=x", "page")]:
        response = get(client, academy, "staff", f"/api/omr-scans?{query}")
        assert response.status_code == 400 and response.get_json()["field"] == field

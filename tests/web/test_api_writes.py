"""Writes through the API (SPEC §2, §6, §8, §9): policy PATCH, clinic requests and actions,
snapshot import, the audit trail — who may, what is refused, and that a refusal changes nothing."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import AuditLog, ClinicLink, LectureProgress, ProgressPolicy, SessionProgress, Student
from dashboard.progress.recompute import recompute_lecture

from tests.factories import bearer, build_academy, make_activity, make_manual_link, make_token, make_user, policy_of

BASE = "/api/progress"


@pytest.fixture
def academy(app):
    academy = build_academy()
    # An assistant: staff assigned to Algebra. They enter its inputs, never its policy, imports or users.
    academy.users["assistant"] = make_user("assistant", "staff", (academy.algebra,))
    academy.tokens["assistant"] = make_token(academy.users["assistant"])
    # Committed: the client shares this session, and a refused request rolls back what is not.
    db.session.commit()
    return academy


def call(client, academy, method, path, who="admin", body=None):
    headers = bearer(academy.tokens[who]) if who else {}
    return client.open(path, method=method, headers=headers, json=body)


def audit_count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one()


def table_state():
    """Everything a refused write could touch, to compare before and after."""
    db.session.expire_all()
    policies = [
        tuple(getattr(policy, name) for name in ("id", "video_required_rate", "exam_pass_score", "updated_at"))
        for policy in db.session.execute(select(ProgressPolicy).order_by(ProgressPolicy.id)).scalars()
    ]
    links = [
        (link.id, link.approved, link.resolved_at, link.memo, link.auto_managed, link.updated_at)
        for link in db.session.execute(select(ClinicLink).order_by(ClinicLink.id)).scalars()
    ]
    cells = db.session.execute(
        select(SessionProgress.id, SessionProgress.completed).order_by(SessionProgress.id)).all()
    students = db.session.execute(select(Student.id, Student.name).order_by(Student.id)).all()
    return policies, links, cells, students, audit_count()


def algebra_policy_path(academy):
    return f"{BASE}/policies/{policy_of(academy.algebra).id}/"


def auto_link(academy, enrollment, session, reason="AUTO_FAILED") -> ClinicLink:
    return db.session.execute(select(ClinicLink).where(
        ClinicLink.enrollment_id == enrollment.id, ClinicLink.session_id == session.id,
        ClinicLink.reason == reason)).scalar_one()


# ---------------------------------------------------------------- policy PATCH

def test_policy_patch_saves_recomputes_and_audits(client, academy):
    # Minji watched 95% of every session: at a required rate of 96 she completes nothing.
    response = call(client, academy, "PATCH", algebra_policy_path(academy), body={"video_required_rate": 96})
    assert response.status_code == 200
    assert response.get_json()["video_required_rate"] == 96
    db.session.expire_all()
    minji = db.session.execute(
        select(LectureProgress).where(LectureProgress.enrollment_id == academy.minji.id)).scalar_one()
    assert (minji.completed_sessions, minji.failed_sessions, minji.risk_level) == (0, 3, "DANGER")
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "policy.update")).scalar_one()
    assert (entry.username, entry.before, entry.after) == ("admin", {"video_required_rate": 90},
                                                           {"video_required_rate": 96})
    assert entry.lecture_id == academy.algebra.id


def test_policy_patch_keeps_exact_scores(client, academy):
    # Jisoo's 40 passes at 40.00 and fails at 40.01 under POLICY.
    path = algebra_policy_path(academy)
    response = call(client, academy, "PATCH", path,
                    body={"exam_pass_source": "POLICY", "exam_pass_score": 40.01, "video_required_rate": 0})
    assert response.status_code == 200 and response.get_json()["exam_pass_score"] == 40.01
    db.session.expire_all()
    assert db.session.execute(select(SessionProgress.exam_passed).where(
        SessionProgress.enrollment_id == academy.jisoo.id,
        SessionProgress.session_id == academy.weeks[1].id)).scalar_one() is False
    assert call(client, academy, "PATCH", path, body={"exam_pass_score": 40}).status_code == 200
    db.session.expire_all()
    assert db.session.execute(select(SessionProgress.completed).where(
        SessionProgress.enrollment_id == academy.jisoo.id,
        SessionProgress.session_id == academy.weeks[1].id)).scalar_one() is True


@pytest.mark.parametrize("change", [
    {"video_required_rate": 0}, {"video_required_rate": 100},
    {"exam_start_session_order": 9999}, {"exam_end_session_order": 2},
    {"exam_pass_score": 0}, {"exam_pass_score": 72.5}, {"exam_pass_score": 72.50},
    {"exam_aggregate_strategy": "AVG"}, {"exam_aggregate_strategy": "LATEST"}, {"exam_pass_source": "POLICY"},
    {"homework_start_session_order": 1}, {"homework_end_session_order": 2},
    {"homework_pass_type": "SUBMIT"}, {"homework_pass_type": "SCORE"},
    {"homework_cutline_percent": 0}, {"homework_cutline_percent": 100},
    {"homework_round_unit": 1}, {"homework_round_unit": 100},
    {"completion_grace_days": 0}, {"completion_grace_days": 365},
    {"risk_warning_consecutive": 3},                       # equal to danger: WARNING never shows
    {"risk_warning_consecutive": 1, "risk_danger_consecutive": 1},
    {"exam_start_session_order": 50, "exam_end_session_order": 50},  # beyond the last session
    {},
])
def test_valid_policy_edges_are_saved(client, academy, change):
    response = call(client, academy, "PATCH", algebra_policy_path(academy), body=change)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    for name, value in change.items():
        assert body[name] == value


@pytest.mark.parametrize("change, field", [
    ({"video_required_rate": -1}, "video_required_rate"),
    ({"video_required_rate": 101}, "video_required_rate"),
    ({"video_required_rate": True}, "video_required_rate"),
    ({"video_required_rate": "90"}, "video_required_rate"),
    ({"video_required_rate": 1.5}, "video_required_rate"),
    ({"video_required_rate": 90.0}, "video_required_rate"),
    ({"video_required_rate": None}, "video_required_rate"),
    ({"exam_start_session_order": 0}, "exam_start_session_order"),
    ({"exam_start_session_order": "3"}, "exam_start_session_order"),
    ({"exam_end_session_order": 1}, "exam_end_session_order"),          # below the stored start (2)
    ({"exam_start_session_order": 10000}, "exam_start_session_order"),  # above the stored end (9999)
    ({"exam_start_session_order": 10, "exam_end_session_order": 5}, "exam_end_session_order"),
    ({"exam_pass_score": -1}, "exam_pass_score"),
    ({"exam_pass_score": -0.01}, "exam_pass_score"),
    ({"exam_pass_score": 60.555}, "exam_pass_score"),
    ({"exam_pass_score": "60"}, "exam_pass_score"),
    ({"exam_pass_score": True}, "exam_pass_score"),
    ({"exam_aggregate_strategy": "max"}, "exam_aggregate_strategy"),
    ({"exam_aggregate_strategy": "MEDIAN"}, "exam_aggregate_strategy"),
    ({"exam_pass_source": "exam"}, "exam_pass_source"),
    ({"exam_pass_source": 1}, "exam_pass_source"),
    ({"homework_start_session_order": 0}, "homework_start_session_order"),
    ({"homework_end_session_order": 1}, "homework_end_session_order"),
    ({"homework_pass_type": "APPROVAL"}, "homework_pass_type"),
    ({"homework_cutline_percent": -1}, "homework_cutline_percent"),
    ({"homework_cutline_percent": 101}, "homework_cutline_percent"),
    ({"homework_round_unit": 0}, "homework_round_unit"),
    ({"homework_round_unit": 101}, "homework_round_unit"),
    ({"completion_grace_days": -1}, "completion_grace_days"),
    ({"completion_grace_days": 366}, "completion_grace_days"),
    ({"completion_grace_days": 7.0}, "completion_grace_days"),
    ({"risk_warning_consecutive": 0}, "risk_warning_consecutive"),
    ({"risk_warning_consecutive": 4}, "risk_warning_consecutive"),      # above the stored danger (3)
    ({"risk_danger_consecutive": 1}, "risk_danger_consecutive"),        # below the stored warning (2)
    ({"colour": "blue"}, "colour"),
    ({"id": 7}, "id"),
    ({"lecture": 2}, "lecture"),
    ({"created_at": "2026-01-01T00:00:00+09:00"}, "created_at"),
    ({"updated_at": None}, "updated_at"),
])
def test_invalid_policy_change_is_400_naming_the_field_and_saves_nothing(client, academy, change, field):
    before = table_state()
    # A valid change alongside the bad one is refused with it.
    response = call(client, academy, "PATCH", algebra_policy_path(academy),
                    body={"homework_pass_type": "SUBMIT", **change})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "validation"
    assert body["field"] == field
    assert field in body["message"]
    assert body["errors"][0]["field"] == field
    assert table_state() == before


def test_every_problem_of_a_policy_change_is_listed(client, academy):
    response = call(client, academy, "PATCH", algebra_policy_path(academy),
                    body={"video_required_rate": 101, "colour": "blue", "completion_grace_days": -1})
    assert {error["field"] for error in response.get_json()["errors"]} == {
        "video_required_rate", "colour", "completion_grace_days"}


@pytest.mark.parametrize("raw", [b"[]", b"42", b"\"text\"", b"{not json", b"", b"null"])
def test_policy_body_must_be_a_json_object(client, academy, raw):
    before = table_state()
    response = client.patch(algebra_policy_path(academy), data=raw, content_type="application/json",
                            headers=bearer(academy.tokens["admin"]))
    assert response.status_code == 400 and response.get_json()["error"] == "validation"
    assert table_state() == before


@pytest.mark.parametrize("who, status", [
    ("staff", 403), ("assistant", 403), ("teacher_a", 403), ("teacher_b", 404), (None, 401),
])
def test_only_admins_edit_policies_checked_before_validation(client, academy, who, status):
    before = table_state()
    for body in ({"video_required_rate": 50}, {"video_required_rate": 500}):
        response = call(client, academy, "PATCH", algebra_policy_path(academy), who=who, body=body)
        assert response.status_code == status
    assert table_state() == before


def test_patch_of_a_missing_policy_is_404(client, academy):
    assert call(client, academy, "PATCH", f"{BASE}/policies/99999/", body={}).status_code == 404


# ---------------------------------------------------------------- clinic requests

def request_body(academy, **overrides):
    body = {"enrollment_id": academy.jisoo.id, "session": academy.weeks[1].id,
            "reason": "MANUAL_REQUEST", "memo": "Parent asked for extra help"}
    body.update(overrides)
    return body


@pytest.mark.parametrize("who, reason", [
    ("admin", "MANUAL_REQUEST"), ("staff", "MANUAL_REQUEST"), ("teacher_a", "MANUAL_REQUEST"),
    ("admin", "TEACHER_RECOMMEND"), ("teacher_a", "TEACHER_RECOMMEND"),
])
def test_people_request_clinics(client, academy, who, reason):
    response = call(client, academy, "POST", f"{BASE}/clinic-links/", who=who,
                    body=request_body(academy, reason=reason))
    assert response.status_code == 201
    link = response.get_json()
    assert (link["reason"], link["is_auto"], link["approved"], link["resolved_at"]) == (reason, False, False, None)
    assert link["created_by"] == who and link["enrollment_id"] == academy.jisoo.id
    assert link["session"] == academy.weeks[1].id and link["memo"] == "Parent asked for extra help"
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "clinic_link.create")).scalar_one()
    assert entry.object_id == str(link["id"]) and entry.username == who


def test_manual_links_repeat_freely(client, academy):
    for _ in range(2):
        assert call(client, academy, "POST", f"{BASE}/clinic-links", body=request_body(academy)).status_code == 201
    assert db.session.execute(select(func.count()).select_from(ClinicLink).where(
        ClinicLink.reason == "MANUAL_REQUEST")).scalar_one() == 2


@pytest.mark.parametrize("who, overrides, status, field", [
    ("staff", {"reason": "TEACHER_RECOMMEND"}, 403, None),
    ("assistant", {"reason": "TEACHER_RECOMMEND"}, 403, None),         # an assistant is staff, not a teacher
    ("teacher_b", {}, 403, None),                                     # another lecture's enrollment
    ("teacher_b", {"memo": None}, 403, None),                         # authorization before validation
    ("teacher_a", {"session": "GEOMETRY_WEEK"}, 403, None),           # another lecture's session
    (None, {}, 401, None),
    ("admin", {"reason": "AUTO_FAILED"}, 400, "reason"),
    ("admin", {"reason": "AUTO_RISK"}, 400, "reason"),
    ("admin", {"reason": "OTHER"}, 400, "reason"),
    ("admin", {"reason": None}, 400, "reason"),
    ("admin", {"memo": None}, 400, "memo"),
    ("admin", {"memo": "   "}, 400, "memo"),
    ("admin", {"memo": 42}, 400, "memo"),
    ("admin", {"memo": "x" * 5001}, 400, "memo"),
    ("admin", {"enrollment_id": 99999}, 400, "enrollment_id"),
    ("admin", {"enrollment_id": None}, 400, "enrollment_id"),
    ("admin", {"enrollment_id": "1"}, 400, "enrollment_id"),
    ("admin", {"enrollment_id": True}, 400, "enrollment_id"),
    ("admin", {"session": 99999}, 400, "session"),
    ("admin", {"session": None}, 400, "session"),
    ("admin", {"session": "GEOMETRY_WEEK"}, 400, "session"),          # not the enrollment's lecture
    ("admin", {"approved": True}, 400, "approved"),
    ("admin", {"is_auto": True}, 400, "is_auto"),
])
def test_refused_clinic_requests_change_nothing(client, academy, who, overrides, status, field):
    overrides = {key: (academy.geometry_week.id if value == "GEOMETRY_WEEK" else value)
                 for key, value in overrides.items()}
    before = table_state()
    response = call(client, academy, "POST", f"{BASE}/clinic-links/", who=who, body=request_body(academy, **overrides))
    assert response.status_code == status
    assert response.get_json()["field"] == field
    assert table_state() == before


def test_session_id_is_accepted_as_the_session_key(client, academy):
    body = request_body(academy)
    body["session_id"] = body.pop("session")
    response = call(client, academy, "POST", f"{BASE}/clinic-links/", body=body)
    assert response.status_code == 201 and response.get_json()["session"] == academy.weeks[1].id


# ---------------------------------------------------------------- clinic actions

def test_approve_resolve_reopen_lifecycle(client, academy):
    link = auto_link(academy, academy.jisoo, academy.weeks[1], "AUTO_RISK")
    path = f"{BASE}/clinic-links/{link.id}"

    response = call(client, academy, "POST", f"{path}/approve/")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["approved"], body["approved_by"], body["auto_managed"]) == (True, "admin", False)
    approved_at = body["approved_at"]
    assert approved_at.endswith("+09:00")
    audits = audit_count()

    again = call(client, academy, "POST", f"{path}/approve", who="staff").get_json()
    assert (again["approved_by"], again["approved_at"]) == ("admin", approved_at)
    assert audit_count() == audits

    resolved = call(client, academy, "POST", f"{path}/resolve/", who="staff").get_json()
    assert resolved["resolved_at"] is not None and resolved["resolved_by"] == "staff"
    assert call(client, academy, "POST", f"{path}/resolve/").get_json()["resolved_by"] == "staff"
    assert audit_count() == audits + 1

    reopened = call(client, academy, "POST", f"{path}/reopen/", who="staff").get_json()
    assert reopened["resolved_at"] is None and reopened["reopened_by"] == "staff"
    assert reopened["reopened_at"] is not None and reopened["approved"] is True
    assert call(client, academy, "POST", f"{path}/reopen/").get_json()["reopened_by"] == "staff"
    assert audit_count() == audits + 2
    actions = db.session.execute(select(AuditLog.action).where(AuditLog.object_type == "clinic_link")
                                 .order_by(AuditLog.id)).scalars().all()
    assert actions == ["clinic_link.approve", "clinic_link.resolve", "clinic_link.reopen"]


def test_reopening_an_auto_resolved_link_takes_it_from_the_recompute(client, academy):
    # Park watches Week 1 fully: its cause is gone, so the recompute auto-resolves the link.
    make_activity(academy.park, academy.weeks[0], video_rate=100)
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    link = auto_link(academy, academy.park, academy.weeks[0])
    assert link.resolved_at is not None and link.meta["auto_resolved"] is True

    body = call(client, academy, "POST", f"{BASE}/clinic-links/{link.id}/reopen/", who="staff").get_json()
    assert body["resolved_at"] is None and body["meta"]["auto_resolved"] is False
    assert body["auto_managed"] is False
    # The cause is still gone, but a person acted: the recompute leaves the link open.
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(ClinicLink, link.id).resolved_at is None


@pytest.mark.parametrize("action", ["approve", "resolve", "reopen"])
def test_teachers_do_not_act_on_links(client, academy, action):
    link = auto_link(academy, academy.jisoo, academy.weeks[0])
    link.resolved_at = datetime(2026, 3, 20, tzinfo=link.created_at.tzinfo)  # so reopen would change it
    db.session.commit()
    before = table_state()
    path = f"{BASE}/clinic-links/{link.id}/{action}/"
    assert call(client, academy, "POST", path, who="teacher_a").status_code == 403
    assert call(client, academy, "POST", path, who="teacher_b").status_code == 404
    assert call(client, academy, "POST", path, who=None).status_code == 401
    assert call(client, academy, "POST", f"{BASE}/clinic-links/99999/{action}/").status_code == 404
    assert table_state() == before


def test_memo_edits_by_the_lectures_teacher_keep_automatic_management(client, academy):
    link = auto_link(academy, academy.jisoo, academy.weeks[0])
    hostile = "<script>alert('x')</script> 100% _done_ \"ok\""
    response = call(client, academy, "PATCH", f"{BASE}/clinic-links/{link.id}/", who="teacher_a",
                    body={"memo": hostile})
    assert response.status_code == 200
    body = response.get_json()
    assert body["memo"] == hostile and body["auto_managed"] is True
    assert json.loads(response.get_data(as_text=True))["memo"] == hostile
    audits = audit_count()
    assert call(client, academy, "PATCH", f"{BASE}/clinic-links/{link.id}", who="staff",
                body={"memo": hostile}).status_code == 200
    assert audit_count() == audits  # the same memo changes nothing
    assert call(client, academy, "PATCH", f"{BASE}/clinic-links/{link.id}", body={"memo": None}).status_code == 200


@pytest.mark.parametrize("who, body, status, field", [
    ("teacher_b", {"memo": "x"}, 404, None),
    (None, {"memo": "x"}, 401, None),
    ("admin", {"memo": "x", "approved": True}, 400, "approved"),
    ("admin", {"reason": "MANUAL_REQUEST"}, 400, "reason"),
    ("admin", {}, 400, "memo"),
    ("admin", {"memo": 5}, 400, "memo"),
    ("admin", {"memo": ""}, 400, "memo"),   # a manual link keeps its memo
])
def test_refused_memo_edits_change_nothing(client, academy, who, body, status, field):
    link = make_manual_link(academy.jisoo, academy.weeks[0])
    db.session.commit()
    before = table_state()
    response = call(client, academy, "PATCH", f"{BASE}/clinic-links/{link.id}/", who=who, body=body)
    assert response.status_code == status
    assert response.get_json()["field"] == field
    assert table_state() == before


# ---------------------------------------------------------------- import and audit

SNAPSHOT = {
    "students": [{"id": 900, "name": "Jung Hana"}],
    "enrollments": [{"id": 9000, "student_id": 900, "lecture_id": "ALGEBRA"}],
}


def snapshot_for(academy):
    data = json.loads(json.dumps(SNAPSHOT))
    data["enrollments"][0]["lecture_id"] = academy.algebra.id
    return data


def test_import_creates_recomputes_and_a_reimport_changes_nothing(client, academy):
    response = call(client, academy, "POST", "/api/import", body=snapshot_for(academy))
    assert response.status_code == 200
    body = response.get_json()
    assert body["created"]["students"] == 1 and body["created"]["enrollments"] == 1
    assert set(body) == {"created", "updated", "deleted", "recomputed"}
    # Hana's 3 held sessions of Algebra II get rows (Week 4 is upcoming).
    assert body["recomputed"] >= 3
    assert db.session.execute(select(func.count()).select_from(SessionProgress).where(
        SessionProgress.enrollment_id == 9000)).scalar_one() == 3
    again = call(client, academy, "POST", "/api/import/", body=snapshot_for(academy)).get_json()
    assert again["recomputed"] == 0
    assert all(count == 0 for kind in ("created", "updated", "deleted") for count in again[kind].values())


def test_a_rejected_snapshot_names_its_items_and_writes_nothing(client, academy):
    data = snapshot_for(academy)
    data["students"].append({"id": 901})                  # no name
    data["enrollments"][0]["lecture_id"] = 99999          # unknown lecture
    before = table_state()
    response = call(client, academy, "POST", "/api/import", body=data)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "validation"
    assert body["field"] == body["errors"][0]["field"]
    fields = {error["field"] for error in body["errors"]}
    assert "students[1].name" in fields and any(field.startswith("enrollments[0]") for field in fields)
    assert table_state() == before


@pytest.mark.parametrize("who, status", [("staff", 403), ("assistant", 403), ("teacher_a", 403), (None, 401)])
def test_only_admins_import(client, academy, who, status):
    before = table_state()
    assert call(client, academy, "POST", "/api/import", who=who, body=snapshot_for(academy)).status_code == status
    assert table_state() == before


def test_import_takes_bodies_beyond_the_ordinary_limit(client, academy):
    # 3 MB of JSON whitespace around a small snapshot: over the other endpoints' limit, under 64 MB.
    raw = json.dumps(snapshot_for(academy)) + " " * (3 * 1024 * 1024)
    response = client.post("/api/import", data=raw, content_type="application/json",
                           headers=bearer(academy.tokens["admin"]))
    assert response.status_code == 200


@pytest.mark.parametrize("who, status", [("admin", 200), ("staff", 403), ("assistant", 403), ("teacher_a", 403),
                                         (None, 401)])
def test_audit_trail_is_for_admins(client, academy, who, status):
    call(client, academy, "PATCH", algebra_policy_path(academy), body={"completion_grace_days": 3})
    response = call(client, academy, "GET", "/api/audit", who=who)
    assert response.status_code == status
    if status == 200:
        body = response.get_json()
        entry = body["results"][0]
        assert (entry["action"], entry["user"], entry["before"], entry["after"]) == (
            "policy.update", "admin", {"completion_grace_days": 7}, {"completion_grace_days": 3})
        detail = call(client, academy, "GET", f"/api/audit/{entry['id']}/").get_json()
        assert detail == entry

"""How the API refuses (SPEC §8 errors): 401, the role matrix, 404/405 JSON, paths with and
without the final slash, bad bodies, 413, 503 and 500 without a trace."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard import create_app
from dashboard.accounts.users import deactivate, revoke_tokens_of
from dashboard.extensions import db
from dashboard.models import ClinicLink, LectureProgress, RiskLog, SessionProgress

from tests.factories import bearer, build_academy, policy_of

BASE = "/api/progress"
ERROR_KEYS = {"error", "message", "field"}


@pytest.fixture
def academy(app):
    academy = build_academy()
    # Committed: the client shares this session, and a refused request rolls back what is not.
    db.session.commit()
    return academy


def assert_error(response, status, code, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert ERROR_KEYS <= set(body) and set(body) <= ERROR_KEYS | {"errors"}
    assert (body["error"], body["field"]) == (code, field)
    assert isinstance(body["message"], str) and body["message"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "SELECT" not in text


# ---------------------------------------------------------------- 401

@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer not-a-token",
                                    "Token abc"])
def test_no_or_bad_token_is_401(client, academy, header):
    headers = {} if header is None else {"Authorization": header}
    assert_error(client.get(f"{BASE}/policies/", headers=headers), 401, "unauthorized")


def test_revoked_tokens_and_deactivated_users_are_401(client, academy):
    revoke_tokens_of(academy.users["staff"])
    deactivate(academy.users["teacher_a"])
    db.session.commit()
    assert_error(client.get(f"{BASE}/policies/", headers=bearer(academy.tokens["staff"])), 401, "unauthorized")
    assert_error(client.get(f"{BASE}/policies/", headers=bearer(academy.tokens["teacher_a"])), 401, "unauthorized")
    assert client.get(f"{BASE}/policies/", headers=bearer(academy.tokens["teacher_b"])).status_code == 200


def test_the_scheme_is_case_insensitive(client, academy):
    response = client.get(f"{BASE}/policies/", headers={"Authorization": "bearer " + academy.tokens["admin"]})
    assert response.status_code == 200


# ---------------------------------------------------------------- the role x endpoint matrix

def _endpoints(academy):
    link = db.session.execute(select(ClinicLink.id).where(ClinicLink.reason == "AUTO_RISK")).scalar_one()
    other_link = db.session.execute(select(ClinicLink.id).where(
        ClinicLink.enrollment_id == academy.minho.id)).scalar_one()
    progress = db.session.execute(select(SessionProgress.id).where(
        SessionProgress.enrollment_id == academy.minji.id)).scalars().first()
    lecture_row = db.session.execute(select(LectureProgress.id).where(
        LectureProgress.enrollment_id == academy.minji.id)).scalar_one()
    risk = db.session.execute(select(RiskLog.id).where(RiskLog.enrollment_id == academy.jisoo.id)).scalar_one()
    policy = policy_of(academy.algebra).id
    request = {"enrollment_id": academy.jisoo.id, "session": academy.weeks[1].id,
               "reason": "MANUAL_REQUEST", "memo": "asked"}
    recommend = dict(request, reason="TEACHER_RECOMMEND")
    # (method, path, body): expected status for admin, staff, teacher_a (Algebra), teacher_b (Geometry)
    return [
        ("GET", f"{BASE}/policies/", None, (200, 200, 200, 200)),
        ("GET", f"{BASE}/policies/{policy}/", None, (200, 200, 200, 404)),
        ("PATCH", f"{BASE}/policies/{policy}/", {"completion_grace_days": 6}, (200, 403, 403, 404)),
        ("GET", f"{BASE}/session-progress/", None, (200, 200, 200, 200)),
        ("GET", f"{BASE}/session-progress/{progress}/", None, (200, 200, 200, 404)),
        ("GET", f"{BASE}/lecture-progress/", None, (200, 200, 200, 200)),
        ("GET", f"{BASE}/lecture-progress/{lecture_row}/", None, (200, 200, 200, 404)),
        ("GET", f"{BASE}/risk-logs/", None, (200, 200, 200, 200)),
        ("GET", f"{BASE}/risk-logs/{risk}/", None, (200, 200, 200, 404)),
        ("GET", f"{BASE}/clinic-links/", None, (200, 200, 200, 200)),
        ("GET", f"{BASE}/clinic-links/{link}/", None, (200, 200, 200, 404)),
        ("GET", f"{BASE}/clinic-links/{other_link}/", None, (200, 200, 404, 200)),
        ("POST", f"{BASE}/clinic-links/", request, (201, 201, 201, 403)),
        ("POST", f"{BASE}/clinic-links/", recommend, (201, 403, 201, 403)),
        ("PATCH", f"{BASE}/clinic-links/{link}/", {"memo": "note"}, (200, 200, 200, 404)),
        ("POST", f"{BASE}/clinic-links/{link}/approve/", None, (200, 200, 403, 404)),
        ("POST", f"{BASE}/clinic-links/{link}/resolve/", None, (200, 200, 403, 404)),
        ("POST", f"{BASE}/clinic-links/{link}/reopen/", None, (200, 200, 403, 404)),
        ("POST", "/api/import", {}, (200, 403, 403, 403)),
        ("GET", "/api/audit", None, (200, 403, 403, 403)),
    ]


@pytest.mark.parametrize("role_index, who", [(0, "admin"), (1, "staff"), (2, "teacher_a"), (3, "teacher_b")])
def test_role_endpoint_matrix(client, academy, role_index, who):
    for method, path, body, statuses in _endpoints(academy):
        expected = statuses[role_index]
        response = client.open(path, method=method, json=body, headers=bearer(academy.tokens[who]))
        assert response.status_code == expected, (who, method, path, response.get_json())
        if expected >= 400:
            assert_error(response, expected, {403: "forbidden", 404: "not_found"}[expected])
        unauthenticated = client.open(path, method=method, json=body)
        assert_error(unauthenticated, 401, "unauthorized")


# ---------------------------------------------------------------- 404, 405 and paths

@pytest.mark.parametrize("path", ["/api/nothing", "/api/progress/", "/api/progress/policies/abc/",
                                  "/api/progress/students/", "/api/progress/clinic-links/1/cancel/"])
def test_unknown_paths_are_json_404(client, academy, path):
    assert_error(client.get(path, headers=bearer(academy.tokens["admin"])), 404, "not_found")


@pytest.mark.parametrize("method, path", [
    ("POST", "session-progress/"), ("PUT", "session-progress/ID/"), ("PATCH", "session-progress/ID/"),
    ("DELETE", "session-progress/ID/"), ("DELETE", "session-progress/ID"),
    ("POST", "lecture-progress/"), ("PATCH", "lecture-progress/ID/"), ("DELETE", "lecture-progress/ID/"),
    ("POST", "risk-logs/"), ("PUT", "risk-logs/ID/"), ("DELETE", "risk-logs/ID"),
    ("POST", "policies/"), ("PUT", "policies/ID/"), ("DELETE", "policies/ID/"),
    ("PUT", "clinic-links/ID/"), ("DELETE", "clinic-links/ID/"), ("GET", "clinic-links/ID/approve/"),
    ("DELETE", "clinic-links/"), ("PUT", "clinic-links"),
])
def test_methods_not_listed_are_json_405(client, academy, method, path):
    path = f"{BASE}/{path}".replace("ID", "1")
    response = client.open(path, method=method, json={}, headers=bearer(academy.tokens["admin"]))
    assert_error(response, 405, "method_not_allowed")
    assert "Allow" in response.headers


def test_import_and_audit_refuse_other_methods(client, academy):
    headers = bearer(academy.tokens["admin"])
    assert_error(client.get("/api/import", headers=headers), 405, "method_not_allowed")
    assert_error(client.delete("/api/audit/", headers=headers), 405, "method_not_allowed")


def test_every_path_works_with_and_without_the_final_slash(client, academy):
    for method, path, body, statuses in _endpoints(academy):
        for variant in (path, path.rstrip("/") if path.endswith("/") else path + "/"):
            response = client.open(variant, method=method, json=body, headers=bearer(academy.tokens["admin"]))
            assert response.status_code not in (301, 302, 307, 308), variant
            assert response.status_code < 400, (method, variant, response.get_json())


# ---------------------------------------------------------------- bodies

@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"", b"\xff\xfe", b"null", b'{"memo": NaN}', b'{"memo": Infinity}'])
def test_bad_bodies_are_400(client, academy, raw):
    response = client.post(f"{BASE}/clinic-links/", data=raw, content_type="application/json",
                           headers=bearer(academy.tokens["admin"]))
    assert_error(response, 400, "validation")


def test_oversized_bodies_are_413_outside_the_import(client, academy):
    raw = b'{"memo": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = client.post(f"{BASE}/clinic-links/", data=raw, content_type="application/json",
                           headers=bearer(academy.tokens["admin"]))
    assert_error(response, 413, "too_large")
    link = db.session.execute(select(ClinicLink.id)).scalars().first()
    response = client.patch(f"{BASE}/clinic-links/{link}/", data=raw, content_type="application/json",
                            headers=bearer(academy.tokens["admin"]))
    assert_error(response, 413, "too_large")


def test_ordinary_bodies_of_a_megabyte_are_taken(client, academy):
    memo = "x" * 4000
    padding = " " * (1024 * 1024)
    raw = '{"memo": "%s"}%s' % (memo, padding)
    link = db.session.execute(select(ClinicLink.id)).scalars().first()
    response = client.patch(f"{BASE}/clinic-links/{link}/", data=raw, content_type="application/json",
                            headers=bearer(academy.tokens["admin"]))
    assert response.status_code == 200


# ---------------------------------------------------------------- 503 and 500

def test_an_unreachable_database_is_503(tmp_path):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "missing" / "dir" / "db.sqlite3"),
    })
    with app.app_context():
        response = app.test_client().get(f"{BASE}/policies/", headers={"Authorization": "Bearer anything"})
        assert_error(response, 503, "unavailable")
        db.session.remove()
        db.engine.dispose()


def test_an_unexpected_error_is_500_without_a_trace(client, academy, monkeypatch):
    from dashboard import listing as queries

    def broken(plan):
        raise RuntimeError("SELECT secret FROM somewhere")

    monkeypatch.setattr(queries, "fetch_page", broken)
    response = client.get(f"{BASE}/risk-logs/", headers=bearer(academy.tokens["admin"]))
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "internal_error" and "secret" not in response.get_data(as_text=True)

"""SPEC §8's optional client guarantees: object versions (If-Match / `version`), Idempotency-Key,
JSON bodies only (415), API_RATE_LIMIT (429), DASHBOARD_BASE_URL in list links, deep JSON refused."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import ApiRateWindow, ClinicLink, IdempotencyKey
from dashboard.progress.recompute import recompute_lecture

from tests.factories import bearer, build_academy, make_activity, policy_of

BASE = "/api/progress"


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.commit()
    return academy


def call(client, academy, method, path, who="admin", body=None, headers=None, **kwargs):
    all_headers = {**bearer(academy.tokens[who]), **(headers or {})}
    if body is not None:
        kwargs["json"] = body
    return client.open(path, method=method, headers=all_headers, **kwargs)


def policy_path(academy):
    return f"{BASE}/policies/{policy_of(academy.algebra).id}/"


def stored_rate(academy) -> int:
    db.session.expire_all()
    return policy_of(academy.algebra).video_required_rate


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def request_body(academy):
    return {"enrollment_id": academy.jisoo.id, "session": academy.weeks[1].id,
            "reason": "MANUAL_REQUEST", "memo": "Parent asked for extra help"}


# ---------------------------------------------------------------- versions

def test_policy_version_rises_on_each_write_and_a_stale_one_is_409(client, academy):
    path = policy_path(academy)
    assert call(client, academy, "GET", path).get_json()["version"] == 1

    # Without a version the write applies.
    first = call(client, academy, "PATCH", path, body={"video_required_rate": 80})
    assert first.status_code == 200 and first.get_json()["version"] == 2

    # Based on version 1 (someone else saved version 2 meanwhile): refused, nothing changed.
    stale = call(client, academy, "PATCH", path, body={"video_required_rate": 70}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.get_json()["error"] == "conflict" and stale.get_json()["field"] == "version"
    assert stored_rate(academy) == 80

    stale_in_body = call(client, academy, "PATCH", path, body={"video_required_rate": 70, "version": 1})
    assert stale_in_body.status_code == 409 and stored_rate(academy) == 80

    fresh = call(client, academy, "PATCH", path, body={"video_required_rate": 70, "version": 2})
    assert fresh.status_code == 200 and fresh.get_json()["version"] == 3 and stored_rate(academy) == 70
    fresh_header = call(client, academy, "PATCH", path, body={"video_required_rate": 75},
                        headers={"If-Match": 'W/"3"'})
    assert fresh_header.status_code == 200 and fresh_header.get_json()["version"] == 4


def test_recomputes_and_derived_writes_leave_the_policy_version_alone(client, academy):
    path = policy_path(academy)
    make_activity(academy.jisoo, academy.weeks[0], video_rate=100)
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    assert call(client, academy, "GET", path).get_json()["version"] == 1
    # A save that changes no value recomputes the lecture (SPEC §2) but writes no policy row.
    same = call(client, academy, "PATCH", path, body={"video_required_rate": 90, "version": 1})
    assert same.status_code == 200 and same.get_json()["version"] == 1


@pytest.mark.parametrize("header", ['"abc"', '"-1"', '"1.5"'])
def test_a_malformed_version_is_400(client, academy, header):
    response = call(client, academy, "PATCH", policy_path(academy), body={"video_required_rate": 80},
                    headers={"If-Match": header})
    assert response.status_code == 400 and response.get_json()["field"] == "If-Match"
    assert stored_rate(academy) == 90


def test_clinic_link_versions_guard_actions_and_memo(client, academy):
    link = db.session.execute(select(ClinicLink).where(
        ClinicLink.enrollment_id == academy.jisoo.id, ClinicLink.reason == "AUTO_RISK")).scalar_one()
    path = f"{BASE}/clinic-links/{link.id}/"
    assert call(client, academy, "GET", path).get_json()["version"] == 1

    approved = call(client, academy, "POST", path + "approve/", headers={"If-Match": '"1"'})
    assert approved.status_code == 200 and approved.get_json()["version"] == 2

    stale = call(client, academy, "POST", path + "resolve/", headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    db.session.expire_all()
    assert db.session.get(ClinicLink, link.id).resolved_at is None

    stale_memo = call(client, academy, "PATCH", path, body={"memo": "new", "version": 1})
    assert stale_memo.status_code == 409
    memo = call(client, academy, "PATCH", path, body={"memo": "new", "version": 2})
    assert memo.status_code == 200 and memo.get_json()["version"] == 3 and memo.get_json()["memo"] == "new"


def test_a_recompute_that_changes_an_automatic_link_raises_its_version(client, academy):
    link = db.session.execute(select(ClinicLink).where(
        ClinicLink.enrollment_id == academy.jisoo.id, ClinicLink.session_id == academy.weeks[0].id,
        ClinicLink.reason == "AUTO_FAILED")).scalar_one()
    assert link.version == 1
    # Jisoo now completes Week 1: the recompute resolves her AUTO_FAILED link by itself.
    make_activity(academy.jisoo, academy.weeks[0], video_rate=100)
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    db.session.expire_all()
    link = db.session.get(ClinicLink, link.id)
    assert link.resolved_at is not None and link.version == 2


# ---------------------------------------------------------------- Idempotency-Key

def test_the_same_idempotency_key_answers_the_first_answer_and_changes_nothing(client, academy):
    links = count(ClinicLink)
    headers = {"Idempotency-Key": "request-7f3a"}
    first = call(client, academy, "POST", f"{BASE}/clinic-links/", body=request_body(academy), headers=headers)
    assert first.status_code == 201
    again = call(client, academy, "POST", f"{BASE}/clinic-links/", body=request_body(academy), headers=headers)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(ClinicLink) == links + 1
    assert count(IdempotencyKey) == 1

    # The path without its final slash is the same request.
    same = call(client, academy, "POST", f"{BASE}/clinic-links", body=request_body(academy), headers=headers)
    assert same.status_code == 201 and same.get_json() == first.get_json()
    assert count(ClinicLink) == links + 1

    # Another user's key of the same spelling is theirs alone.
    staff = call(client, academy, "POST", f"{BASE}/clinic-links/", who="staff", body=request_body(academy),
                 headers=headers)
    assert staff.status_code == 201 and staff.get_json()["id"] != first.get_json()["id"]
    assert count(ClinicLink) == links + 2

    # Without a key, the same body makes another link (manual links repeat freely).
    assert call(client, academy, "POST", f"{BASE}/clinic-links/", body=request_body(academy)).status_code == 201
    assert count(ClinicLink) == links + 3


def test_an_idempotency_key_reused_on_another_path_is_409(client, academy):
    headers = {"Idempotency-Key": "k1"}
    assert call(client, academy, "POST", f"{BASE}/clinic-links/", body=request_body(academy),
                headers=headers).status_code == 201
    link = db.session.execute(select(ClinicLink.id).where(ClinicLink.reason == "AUTO_RISK")).scalar_one()
    response = call(client, academy, "POST", f"{BASE}/clinic-links/{link}/approve/", headers=headers)
    assert response.status_code == 409 and response.get_json()["field"] == "Idempotency-Key"
    db.session.expire_all()
    assert db.session.get(ClinicLink, link).approved is False


def test_a_refused_request_stores_no_answer_so_its_key_may_be_sent_again(client, academy):
    headers = {"Idempotency-Key": "retry-me"}
    bad = {**request_body(academy), "memo": ""}
    assert call(client, academy, "POST", f"{BASE}/clinic-links/", body=bad, headers=headers).status_code == 400
    assert count(IdempotencyKey) == 0
    good = call(client, academy, "POST", f"{BASE}/clinic-links/", body=request_body(academy), headers=headers)
    assert good.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tkey", "한글"])
def test_a_malformed_idempotency_key_is_400(client, academy, key):
    links = count(ClinicLink)
    response = call(client, academy, "POST", f"{BASE}/clinic-links/", body=request_body(academy),
                    headers={"Idempotency-Key": key})
    assert response.status_code == 400 and response.get_json()["field"] == "Idempotency-Key"
    assert count(ClinicLink) == links


def test_an_import_with_the_same_key_is_not_run_again(client, academy):
    snapshot = {"students": [{"id": 900, "name": "Han Seo"}]}
    headers = {"Idempotency-Key": "import-1"}
    first = call(client, academy, "POST", "/api/import", body=snapshot, headers=headers)
    assert first.get_json()["created"]["students"] == 1
    again = call(client, academy, "POST", "/api/import", body=snapshot, headers=headers)
    # A plain re-import would answer zeros; the replay answers the first answer.
    assert again.get_json() == first.get_json()


# ---------------------------------------------------------------- media types

def test_a_json_body_sent_as_text_is_415_and_changes_nothing(client, academy):
    response = call(client, academy, "PATCH", policy_path(academy), data=json.dumps({"video_required_rate": 80}),
                    headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.get_json() == {"error": "unsupported_media_type", "field": "Content-Type",
                                   "message": response.get_json()["message"]}
    assert stored_rate(academy) == 90


def test_an_action_with_a_form_body_is_415_but_without_a_body_needs_no_content_type(client, academy):
    link = db.session.execute(select(ClinicLink.id).where(ClinicLink.reason == "AUTO_RISK")).scalar_one()
    path = f"{BASE}/clinic-links/{link}/approve/"
    refused = call(client, academy, "POST", path, data="version=1",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 415
    db.session.expire_all()
    assert db.session.get(ClinicLink, link).approved is False
    done = call(client, academy, "POST", path)
    assert done.status_code == 200 and done.get_json()["approved"] is True


def test_the_role_is_checked_before_the_media_type(client, academy):
    response = call(client, academy, "PATCH", policy_path(academy), who="teacher_a", data="{}",
                    headers={"Content-Type": "text/plain"})
    assert response.status_code == 403


# ---------------------------------------------------------------- deep JSON

@pytest.mark.parametrize("depth", [65, 100_000])
def test_deeply_nested_json_is_400(client, academy, depth):
    body = "[" * depth + "]" * depth
    response = call(client, academy, "POST", "/api/import", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.get_json()["error"] == "validation"


def test_brackets_inside_strings_do_not_count_as_nesting(client, academy):
    memo = "[" * 500
    response = call(client, academy, "POST", f"{BASE}/clinic-links/", body={**request_body(academy), "memo": memo})
    assert response.status_code == 201 and response.get_json()["memo"] == memo


# ---------------------------------------------------------------- rate limit

def test_over_the_rate_limit_is_429_with_retry_after_per_token(app, client, academy):
    app.config["API_RATE_LIMIT"] = "3/minute"
    for _ in range(3):
        assert call(client, academy, "GET", f"{BASE}/policies/").status_code == 200
    refused = call(client, academy, "GET", f"{BASE}/policies/")
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another token has its own count.
    assert call(client, academy, "GET", f"{BASE}/policies/", who="staff").status_code == 200
    # The count lives in the database (every worker shares it): one row per token and window.
    rows = db.session.execute(select(ApiRateWindow.hits).order_by(ApiRateWindow.hits)).scalars().all()
    assert rows == [1, 4]


def test_a_refused_write_over_the_limit_changes_nothing(app, client, academy):
    app.config["API_RATE_LIMIT"] = "1/hour"
    assert call(client, academy, "GET", policy_path(academy)).status_code == 200
    response = call(client, academy, "PATCH", policy_path(academy), body={"video_required_rate": 80})
    assert response.status_code == 429 and stored_rate(academy) == 90


def test_rate_limit_defaults_by_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("API_RATE_LIMIT", raising=False)
    base = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "k"}
    assert create_app({**base, "DASHBOARD_ENV": "development"}).config["API_RATE_LIMIT"] is None
    assert create_app({**base, "DASHBOARD_ENV": "production"}).config["API_RATE_LIMIT"] == "600/minute"
    with pytest.raises(ValueError, match="API_RATE_LIMIT"):
        create_app({**base, "API_RATE_LIMIT": "lots"})


# ---------------------------------------------------------------- DASHBOARD_BASE_URL

def test_list_links_use_the_base_url_not_the_host_header(app, client, academy):
    app.config["DASHBOARD_BASE_URL"] = "https://academy.example"
    response = call(client, academy, "GET", f"{BASE}/lecture-progress/?page_size=1&lecture={academy.algebra.id}",
                    headers={"Host": "evil.example"})
    body = response.get_json()
    assert body["next"] == (f"https://academy.example/api/progress/lecture-progress/"
                            f"?page_size=1&lecture={academy.algebra.id}&page=2")
    app.config["DASHBOARD_BASE_URL"] = None
    body = call(client, academy, "GET", f"{BASE}/lecture-progress/?page_size=1",
                headers={"Host": "self.example"}).get_json()
    assert body["next"].startswith("http://self.example/api/progress/lecture-progress/")


def test_a_token_answered_again_by_its_key_is_not_kept_readable_in_the_database(client, academy):
    """A new API token is shown once; its answer is stored for a replay, sealed: the row holds
    neither the token nor its JSON, and the replay answers the same token."""
    admin = academy.users["admin"]
    headers = {"Idempotency-Key": "token-once-1"}
    path = f"/api/users/{admin.id}/tokens/"
    first = call(client, academy, "POST", path, body={"name": "scanner"}, headers=headers)
    assert first.status_code == 201
    raw = first.get_json()["token"]
    again = call(client, academy, "POST", path, body={"name": "scanner"}, headers=headers)
    assert again.status_code == 201 and again.get_json()["token"] == raw
    assert again.headers["Idempotent-Replayed"] == "true"
    (stored,) = db.session.execute(select(IdempotencyKey.body)).scalars().all()
    assert raw not in stored and "scanner" not in stored and stored.startswith("sealed1:")

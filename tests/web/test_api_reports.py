"""Parent links through the JSON API (SPEC §15): create and revoke, roles before validation.

The academy is tests/factories.build_academy: teacher_a teaches Algebra II (Kim Minji's lecture),
teacher_b Geometry. Today is 2026-04-01, but expiry follows the real clock.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditLog, ReportLink
from tests.factories import bearer, build_academy


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def post(client, academy, path, who="teacher_a", body=None, raw=None):
    headers = bearer(academy.tokens[who])
    if raw is not None:
        return client.post(path, data=raw, headers={**headers, "Content-Type": "application/json"})
    if body is None:
        return client.post(path, headers=headers)
    return client.post(path, json=body, headers=headers)


def links_path(enrollment) -> str:
    return f"/api/reports/{enrollment.id}/links/"


def test_create_a_link_with_the_defaults(client, academy):
    before = datetime.now(UTC)
    response = post(client, academy, links_path(academy.minji))
    after = datetime.now(UTC)
    assert response.status_code == 201
    body = response.get_json()
    assert list(body) == ["id", "url", "expires_at"]
    assert body["url"].startswith("http://localhost/reports/shared/")
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() == timedelta(hours=9)  # the academy's offset (Asia/Seoul)
    assert before + timedelta(days=14) - timedelta(seconds=1) <= expires <= after + timedelta(days=14)
    link = db.session.get(ReportLink, body["id"])
    assert (link.enrollment_id, link.month) == (academy.minji.id, "2026-04")  # today's month
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "report_link.create")).scalar_one()
    assert (entry.username, entry.object_id) == ("teacher_a", str(link.id))

    opened = client.get(body["url"])
    assert opened.status_code == 200 and 'data-report-month="2026-04"' in opened.get_data(as_text=True)


def test_days_month_and_the_base_url(app, client, academy):
    app.config["DASHBOARD_BASE_URL"] = "https://academy.example/dashboard/"
    before = datetime.now(UTC)
    response = post(client, academy, links_path(academy.minji), "admin", {"days": 3, "month": "2026-03"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["url"].startswith("https://academy.example/dashboard/reports/shared/")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=3) - timedelta(seconds=1) <= expires - before <= timedelta(days=3, seconds=5)
    assert db.session.get(ReportLink, body["id"]).month == "2026-03"
    token = body["url"].rsplit("/", 1)[1]
    assert client.get(f"/reports/shared/{token}").status_code == 200


@pytest.mark.parametrize("body,field", [
    ({"days": "3"}, "days"), ({"days": 1.5}, "days"), ({"days": True}, "days"), ({"days": 0}, "days"),
    ({"days": 366}, "days"), ({"month": "2026-13"}, "month"), ({"month": "2026/03"}, "month"),
    ({"month": 202603}, "month"), ({"colour": "red"}, "colour"),
])
def test_invalid_bodies_are_400_naming_the_field_and_create_nothing(client, academy, body, field):
    response = post(client, academy, links_path(academy.minji), "admin", body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "validation" and response.get_json()["field"] == field
    assert db.session.execute(select(ReportLink)).first() is None


@pytest.mark.parametrize("who,enrollment,status", [
    ("staff", "minji", 403), ("teacher_b", "minji", 404), ("teacher_a", "minho", 404), ("admin", "minho", 201),
])
def test_roles(client, academy, who, enrollment, status):
    assert post(client, academy, links_path(getattr(academy, enrollment)), who).status_code == status


def test_roles_are_checked_before_the_body(client, academy):
    assert post(client, academy, links_path(academy.minji), "staff", raw="{not json").status_code == 403
    assert post(client, academy, links_path(academy.minji), "teacher_b", {"days": "x"}).status_code == 404
    assert post(client, academy, "/api/reports/999999/links/", "admin").status_code == 404
    assert post(client, academy, links_path(academy.minji), raw="{not json").status_code == 400


def test_revoke(client, academy):
    created = post(client, academy, links_path(academy.minji), "teacher_a", {"month": "2026-03"}).get_json()
    revoke = f"/api/report-links/{created['id']}/revoke/"
    assert post(client, academy, revoke, "staff").status_code == 403
    assert post(client, academy, revoke, "teacher_b").status_code == 404
    response = post(client, academy, revoke)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["enrollment_id"], body["month"]) == (created["id"], academy.minji.id, "2026-03")
    assert body["revoked_at"] is not None
    assert client.get(created["url"]).status_code == 404
    again = post(client, academy, revoke.rstrip("/"))
    assert again.status_code == 200 and again.get_json()["revoked_at"] == body["revoked_at"]
    actions = db.session.execute(select(AuditLog.action).where(AuditLog.action == "report_link.revoke")).all()
    assert len(actions) == 1
    assert post(client, academy, "/api/report-links/999999/revoke/", "admin").status_code == 404

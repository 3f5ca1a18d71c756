"""The Audit page: admins only; filters by person, lecture, kind and dates; before → after as the
fields that changed, in words."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dashboard.accounts import audit
from dashboard.accounts.audit_trail import changes
from dashboard.extensions import db
from tests.factories import build_academy
from tests.web.pages import HTMX, sign_in


def test_changes_lists_only_the_fields_that_differ():
    assert [(c.field, c.before, c.after) for c in changes({"score": 60, "note": "x"}, {"score": 72.5, "note": "x"})] \
        == [("score", 60, 72.5)]
    assert [(c.field, c.before, c.after) for c in changes(None, {"title": "Week 1"})] == [("title", None, "Week 1")]
    assert changes({"a": 1}, {"a": 1}) == []
    assert [(c.field, c.before, c.after) for c in changes(3, 4)] == [("", 3, 4)]


@pytest.fixture
def trail(app):
    academy = build_academy()
    admin = academy.users["admin"]
    teacher = academy.users["teacher_a"]
    lecture = academy.algebra
    audit.record("attempt.update", "attempt", 1, {"score": 60}, {"score": 72.5}, teacher, lecture.id)
    audit.record("activity.set", "activity", 2, {"video_rate": 10}, {"video_rate": 95}, admin, lecture.id)
    old = audit.record("lecture.create", "lecture", lecture.id, None, {"title": "Old"}, admin, lecture.id)
    old.created_at = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)
    db.session.flush()
    return academy


def rows(html: str) -> list[str]:
    import re
    return re.findall(r'data-action="([\w.]+)"', html)


def test_only_admins_read_the_audit_page(client, trail):
    for role in ("teacher_a", "staff"):
        sign_in(client, trail.users[role])
        assert client.get("/audit/").status_code == 403


def test_filters_and_words(client, trail):
    sign_in(client, trail.users["admin"])
    html = client.get("/audit/").get_data(as_text=True)
    assert rows(html) == ["activity.set", "attempt.update", "lecture.create"]  # newest first
    assert "Exam attempt changed" in html and "attempt.update</td>" not in html
    assert "score:</span> 60 → 72.5" in html

    by_teacher = client.get("/audit/?user=teacher_a", headers=HTMX).get_data(as_text=True)
    assert rows(by_teacher) == ["attempt.update"]
    assert by_teacher.lstrip().startswith('<div id="audit-trail">')

    by_kind = client.get("/audit/?kind=activity").get_data(as_text=True)
    assert rows(by_kind) == ["activity.set"]

    in_january = client.get("/audit/?since=2026-01-01&until=2026-01-31").get_data(as_text=True)
    assert rows(in_january) == ["lecture.create"]
    assert client.get("/audit/?page=99").status_code == 404


def test_unreadable_filters_are_ignored(client, trail):
    sign_in(client, trail.users["admin"])
    count = len(rows(client.get("/audit/").get_data(as_text=True)))
    assert len(rows(client.get("/audit/?kind=nope&since=yesterday&lecture=x").get_data(as_text=True))) == count

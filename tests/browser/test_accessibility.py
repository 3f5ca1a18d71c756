"""Accessibility: axe-core (WCAG 2.1 A and AA rules) finds no serious or critical violation on any
page of the demo academy, signed out and signed in as an admin, on a laptop and on a phone.

axe-core is vendored from the npm registry into tests/browser/vendor/ (package.json `vendor`) and
injected only here; the test browser context bypasses the site's Content-Security-Policy to run it.
Every GET page of the app is visited: a new page is checked without anyone listing it, its ids
taken from the demo academy.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard.demo import DEMO_PASSWORD, create_demo
from dashboard.extensions import db
from dashboard.models import Enrollment, Exam, ExamQuestion, Homework, LectureSession, OmrScan, User

from .conftest import sign_in

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
SKIP_ENDPOINTS = {"static", "health.healthz", "auth.login", "lectures.cell_closed"}
VIEWPORTS = {"laptop": {"width": 1366, "height": 820}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def demo(filled):
    create_demo()
    db.session.commit()


def _ids() -> dict[str, int | None]:
    """An id from the demo academy for every kind of URL parameter."""
    first = lambda statement: db.session.execute(statement.limit(1)).scalar()  # noqa: E731
    enrollment = db.session.execute(select(Enrollment).order_by(Enrollment.id).limit(1)).scalar_one()
    return {
        "lecture_id": enrollment.lecture_id,
        "enrollment_id": enrollment.id,
        "session_id": first(select(LectureSession.id).where(LectureSession.lecture_id == enrollment.lecture_id)
                            .order_by(LectureSession.order)),
        "exam_id": first(select(ExamQuestion.exam_id).order_by(ExamQuestion.exam_id)) or first(select(Exam.id)),
        "homework_id": first(select(func.min(Homework.id))),
        "student_id": enrollment.student_id,
        "scan_id": first(select(OmrScan.id).order_by(OmrScan.id)),
        "user_id": first(select(User.id).order_by(User.id)),
    }


def _page_paths(app) -> list[str]:
    ids = _ids()
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS or rule.rule.startswith("/api"):
            continue
        if rule.rule.endswith((".csv", ".pdf", ".xlsx", ".json")) or "<kind>" in rule.rule:
            continue
        names = re.findall(r"<(?:\w+:)?(\w+)>", rule.rule)
        if any(ids.get(name) is None for name in names):
            continue
        paths.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule))
    return sorted(set(paths))


def _serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("options => axe.run(document, options)", RULES)
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_no_serious_violation_on_any_page(browser, live_url, served_app, demo, viewport):
    context = browser.new_context(bypass_csp=True, viewport=VIEWPORTS[viewport])
    page = context.new_page()
    try:
        page.goto(live_url + "/login")
        found = {"/login": _serious_violations(page)}
        sign_in(page, live_url, "admin", DEMO_PASSWORD)
        with served_app.app_context():
            paths = _page_paths(served_app)
        assert len(paths) >= 20
        for path in paths:
            response = page.goto(live_url + path)
            if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
                continue
            found[path] = _serious_violations(page)
        assert {path: problems for path, problems in found.items() if problems} == {}
    finally:
        context.close()

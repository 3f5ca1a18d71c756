"""End to end in real Chromium: a cell edit puts a student in DANGER, the teacher approves the
queued text message on the Messages page, `send-notifications` delivers it to a local SMS provider
once, and a second run sends nothing.

Today is 2026-04-01; the lecture's grace is 0, so its sessions of 03-29, 03-30 and 03-31 are due.
Sessions 1 and 2 have no activity (failed); session 3 has video 95 (completed), which ends the run:
NORMAL. Video 0 on session 3 makes three failed in a row: DANGER, one message to the mother.
"""
from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from dashboard.accounts import users as accounts
from dashboard.extensions import db
from dashboard.models import Student
from dashboard.parents import delivery
from dashboard.progress.recompute import recompute_lecture
from tests.factories import (
    enroll,
    make_activity,
    make_guardian,
    make_lecture,
    make_session,
    make_user,
)

from .conftest import PASSWORD, shot, sign_in


@pytest.fixture
def provider(filled):
    calls: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    saved = {name: filled.config.get(name) for name in ("SMS_WEBHOOK_URL", "SMS_WEBHOOK_TOKEN", "NOTIFY_QUIET_HOURS")}
    filled.config.update(SMS_WEBHOOK_URL=f"http://127.0.0.1:{server.server_address[1]}/",
                         SMS_WEBHOOK_TOKEN="t", NOTIFY_QUIET_HOURS="")
    yield calls
    filled.config.update(saved)
    server.shutdown()
    server.server_close()


def test_danger_after_a_cell_edit_sends_one_approved_text_message(page, live_url, filled, provider):
    lecture = make_lecture("수학 II", completion_grace_days=0)
    sessions = [make_session(lecture, order, date(2026, 3, 28 + order)) for order in (1, 2, 3)]
    minji = enroll("김민지", lecture)
    make_activity(minji, sessions[2], video_rate=95)
    make_guardian(db.session.get(Student, minji.student_id), "김영희", "모", phone="01000001234")
    teacher = make_user("teacher_a", "teacher", (lecture,))
    accounts.reset_password(teacher, PASSWORD)
    recompute_lecture(lecture.id)
    db.session.commit()

    sign_in(page, live_url, "teacher_a")
    page.goto(live_url + f"/lectures/{lecture.id}/")
    badge = page.locator(f"#row-{minji.id} [data-risk]")
    expect(badge).to_have_attribute("data-risk", "NORMAL")
    page.locator(f'td[data-enrollment="{minji.id}"][data-session="{sessions[2].id}"] a').click()
    video = page.get_by_label("Video")
    video.fill("0")
    video.press("Enter")
    expect(page.locator("#cell-panel .saved")).to_be_visible()
    expect(badge).to_have_attribute("data-risk", "DANGER")

    page.get_by_role("link", name="Messages").click()
    message = page.locator("[data-message]")
    expect(message).to_have_count(1)
    expect(message).to_have_attribute("data-state", "review")
    expect(message).to_contain_text("김민지")
    shot(page, "messages-review")
    message.get_by_role("button", name="Approve").click()
    expect(page.locator("[data-message]")).to_have_attribute("data-state", "queued")

    assert delivery.send_due().sent == 1
    assert [(call["to"], "김민지" in call["text"]) for call in provider] == [("01000001234", True)]
    assert delivery.send_due().sent == 0
    assert len(provider) == 1

    page.reload()
    expect(page.locator("[data-message]")).to_have_attribute("data-state", "sent")
    page.goto(live_url + f"/lectures/{lecture.id}/students/{minji.id}")
    expect(page.locator("[data-guardian] a[href='tel:01000001234']")).to_be_visible()
    expect(page.locator("[data-message]")).to_have_attribute("data-state", "sent")

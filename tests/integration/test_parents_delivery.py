"""`send-notifications` (SPEC §14) against a real SMTP server (aiosmtpd) and a local HTTP stand-in
for the SMS provider that answers 200, 500 or nothing in time."""
from __future__ import annotations

import base64
import json
import socket
import threading
import time as clock
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from dashboard.extensions import db
from dashboard.models import Notification, Student
from dashboard.parents import delivery
from tests.factories import enroll, make_guardian, make_lecture
from tests.parallel import at_once

NOON = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
NIGHT = datetime(2026, 4, 1, 13, 0, tzinfo=UTC)  # 22:00 in Seoul


class SmsStandIn:
    """Answers every POST with `status` (or, with status None, after `delay` seconds); records the calls."""

    def __init__(self) -> None:
        self.status: int | None = 200
        self.delay = 0.0
        self.calls: list[tuple[dict, str]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.calls.append((body, self.headers.get("Authorization")))
                if stand_in.status is None:
                    clock.sleep(stand_in.delay)
                self.send_response(stand_in.status or 200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sms(app):
    stand_in = SmsStandIn()
    app.config.update(SMS_WEBHOOK_URL=stand_in.url, SMS_WEBHOOK_TOKEN="secret-token", SMS_WEBHOOK_TIMEOUT="0.5",
                      NOTIFY_QUIET_HOURS="")
    yield stand_in
    stand_in.close()


@pytest.fixture
def mailbox(app):
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port), MAIL_FROM="academy@example.com",
                      NOTIFY_QUIET_HOURS="")
    yield box
    controller.stop()


@pytest.fixture
def student(app):
    enrollment = enroll("김민지", make_lecture("수학 II"))
    return enrollment, db.session.get(Student, enrollment.student_id)


def message(student, channel="sms", state="queued", text="[수학 II] 김민지 학생이 결석했습니다.", key="absence:1:1"):
    enrollment, person = student
    guardian = make_guardian(person, f"G{key}{channel}", phone="01011112222", email="mom@example.com",
                             channel=channel)
    notification = Notification(event="absence", event_key=key, enrollment_id=enrollment.id,
                                guardian_id=guardian.id, channel=channel,
                                to="01011112222" if channel == "sms" else "mom@example.com", text=text, state=state)
    db.session.add(notification)
    db.session.commit()
    return notification.id


def state_of(message_id: int) -> tuple:
    db.session.expire_all()
    n = db.session.get(Notification, message_id)
    return n.state, n.attempts, n.last_error


def test_sms_is_posted_once_with_the_token_and_a_second_run_sends_nothing(sms, student):
    message_id = message(student)

    report = delivery.send_due(NOON)

    assert (report.sent, state_of(message_id)) == (1, ("sent", 1, None))
    assert sms.calls == [({"to": "01011112222", "text": "[수학 II] 김민지 학생이 결석했습니다.", "id": message_id},
                          "Bearer secret-token")]
    assert delivery.send_due(NOON).sent == 0
    assert len(sms.calls) == 1


def test_messages_awaiting_review_or_cancelled_are_not_sent(sms, student):
    message(student, state="review", key="a")
    message(student, state="cancelled", key="b")

    assert delivery.send_due(NOON).sent == 0
    assert sms.calls == []


def test_a_refusal_is_retried_with_back_off_then_fails_with_the_reason(sms, student):
    sms.status = 500
    message_id = message(student)

    delivery.send_due(NOON)
    assert state_of(message_id) == ("queued", 1, "SMS provider answered HTTP 500")
    delivery.send_due(NOON + timedelta(seconds=59))  # not due before a minute has passed
    assert len(sms.calls) == 1

    moment = NOON
    for wait in delivery.BACKOFF:
        moment += wait
        delivery.send_due(moment)

    assert len(sms.calls) == delivery.MAX_ATTEMPTS == 5
    assert state_of(message_id) == ("failed", 5, "SMS provider answered HTTP 500")
    delivery.send_due(moment + timedelta(days=1))
    assert len(sms.calls) == 5


def test_a_provider_that_does_not_answer_in_time_is_a_failure_to_retry(sms, student):
    sms.status, sms.delay = None, 2.0
    message_id = message(student)

    report = delivery.send_due(NOON)

    assert report.retrying == 1
    state, attempts, error = state_of(message_id)
    assert (state, attempts) == ("queued", 1)
    assert error.startswith("SMS provider unreachable")


def test_email_goes_over_smtp_with_the_korean_text_base64(mailbox, student):
    message_id = message(student, channel="email")

    assert delivery.send_due(NOON).sent == 1

    assert state_of(message_id)[0] == "sent"
    [(recipients, content)] = mailbox.messages
    assert recipients == ["mom@example.com"]
    head, _, body = content.replace(b"\r\n", b"\n").partition(b"\n\n")
    assert b"Content-Transfer-Encoding: base64" in head
    assert base64.b64decode(body).decode() == "[수학 II] 김민지 학생이 결석했습니다.\n"


def test_an_unreachable_mail_server_is_retried(app, student):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(free_port()), NOTIFY_QUIET_HOURS="")
    message_id = message(student, channel="email")

    delivery.send_due(NOON)

    state, attempts, error = state_of(message_id)
    assert (state, attempts) == ("queued", 1) and error.startswith("mail server")


def test_quiet_hours_hold_sms_but_not_email(sms, mailbox, student, app):
    app.config["NOTIFY_QUIET_HOURS"] = "21:00-08:00"
    sms_id = message(student, key="s")
    email_id = message(student, channel="email", key="e")

    report = delivery.send_due(NIGHT)

    assert (report.held, report.sent) == (1, 1)
    assert (state_of(sms_id)[0], state_of(email_id)[0]) == ("queued", "sent")
    assert delivery.send_due(NOON).sent == 1


@pytest.mark.parametrize("hours, local, quiet", [
    ("21:00-08:00", "20:59", False), ("21:00-08:00", "21:00", True), ("21:00-08:00", "07:59", True),
    ("21:00-08:00", "08:00", False), ("12:00-13:00", "12:30", True), ("", "23:00", False),
])
def test_quiet_hours_rule(hours, local, quiet):
    from datetime import time

    assert delivery.is_quiet(time.fromisoformat(local), delivery.parse_quiet_hours(hours)) is quiet


def test_a_message_left_sending_shows_as_failed_after_ten_minutes_and_is_not_resent(sms, student):
    message_id = message(student)
    db.session.get(Notification, message_id).state = "sending"
    db.session.get(Notification, message_id).claimed_at = NOON - timedelta(minutes=9)
    db.session.commit()

    delivery.send_due(NOON)
    assert state_of(message_id)[0] == "sending"
    delivery.send_due(NOON + timedelta(minutes=2))

    assert state_of(message_id) == ("failed", 0, "outcome unknown")
    assert sms.calls == []


def test_the_command_exits_0_when_deliveries_fail_and_1_when_it_cannot_run(sms, student, runner, app):
    sms.status = 500
    message(student)

    result = runner.invoke(args=["send-notifications"])
    assert result.exit_code == 0, result.output
    assert "to retry 1" in result.output

    app.config["NOTIFY_QUIET_HOURS"] = "late"
    assert runner.invoke(args=["send-notifications"]).exit_code == 1
    app.config.update(NOTIFY_QUIET_HOURS="", SMS_WEBHOOK_URL="")
    assert runner.invoke(args=["send-notifications"]).exit_code == 1


def test_two_runs_at_once_send_each_message_once(app, backend, sms, student):
    if backend != "postgresql":
        pytest.skip("parallel writers are what this tests; SQLite serialises the whole file")
    ids = [message(student, key=f"k{n}") for n in range(6)]
    at_once(app, lambda: delivery.send_due(NOON), 2)

    assert sorted(call[0]["id"] for call in sms.calls) == ids
    assert {state_of(i)[0] for i in ids} == {"sent"}


def test_a_guardian_who_withdrew_consent_gets_nothing(sms, student):
    from dashboard.models import Guardian

    message_id = message(student)
    guardian_id = db.session.get(Notification, message_id).guardian_id
    db.session.get(Guardian, guardian_id).consent = False
    db.session.commit()

    report = delivery.send_due(NOON)

    assert (report.sent, report.withdrawn, sms.calls) == (0, 1, [])
    assert state_of(message_id) == ("cancelled", 0, delivery.NO_CONSENT)


def test_two_send_notifications_processes_at_once_send_each_message_once(app, backend, sms, student):
    """The command as the scheduler runs it: two processes started together on one PostgreSQL."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    if backend != "postgresql":
        pytest.skip("parallel processes are what this tests; SQLite serialises the whole file")
    ids = [message(student, key=f"p{n}") for n in range(6)]
    sms.status, sms.delay = None, 0.2  # a slow provider: the two runs overlap while sending
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "DASHBOARD_ENV": "development", "SECRET_KEY": "test",
           "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
           "SMS_WEBHOOK_URL": sms.url, "SMS_WEBHOOK_TOKEN": "secret-token", "NOTIFY_QUIET_HOURS": ""}
    runs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "send-notifications"], cwd=root,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted(call[0]["id"] for call in sms.calls) == ids
    assert {state_of(i)[0] for i in ids} == {"sent"}
    sent = sorted(int(out.split("sent ")[1].split(",")[0]) for out, _ in outputs)
    assert sum(sent) == 6

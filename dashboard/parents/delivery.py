"""Delivering the outbox: `flask --app wsgi send-notifications` (SPEC §14).

At most once: each message is *claimed* first — a conditional UPDATE from `queued` to `sending`,
committed — and only the run whose claim succeeded calls the provider. Two runs at once cannot
both claim a message (the second UPDATE finds it no longer queued). A message left `sending` by a
crash is never sent again by itself: after STALE_AFTER it is marked failed with "outcome unknown",
for a person to approve again (a resend).

A provider's refusal or silence is retried with back-off (BACKOFF), then the message fails with
the reason. SMS waits during quiet hours (NOTIFY_QUIET_HOURS, academy time; e-mail does not).

Settings (the app's config, else the environment): MAIL_SERVER, MAIL_PORT (25), MAIL_USERNAME,
MAIL_PASSWORD, MAIL_USE_TLS (STARTTLS), MAIL_FROM; SMS_WEBHOOK_URL, SMS_WEBHOOK_TOKEN,
SMS_WEBHOOK_TIMEOUT (seconds, 10); NOTIFY_QUIET_HOURS (``21:00-08:00``; empty: none).
"""
from __future__ import annotations

import json
import os
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, update

from dashboard.clock import academy_timezone, now
from dashboard.extensions import db
from dashboard.models import Guardian, Notification

STALE_AFTER = timedelta(minutes=10)
# Wait before attempt 2, 3, 4, 5; after the fifth failure the message fails for good.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1
OUTCOME_UNKNOWN = "outcome unknown"
NO_CONSENT = "the guardian has not agreed to messages"
SUBJECTS = {"ko": "[학원 안내] 자녀의 학습 소식", "en": "News from the academy"}
DEFAULT_QUIET_HOURS = "21:00-08:00"


class CannotRun(Exception):
    """The command cannot work at all (bad configuration): it exits non-zero."""


class DeliveryFailed(Exception):
    """The provider did not take the message; the text is the reason kept on the message."""


@dataclass
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    skipped: int = 0
    marked_unknown: int = 0
    withdrawn: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"sent {self.sent}, to retry {self.retrying}, failed {self.failed}, held for quiet hours "
                f"{self.held}, no provider {self.skipped}, outcome unknown {self.marked_unknown}, "
                f"cancelled without consent {self.withdrawn}")


def setting(name: str, default: Any = None) -> Any:
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name, default)
    return value


# ---------------------------------------------------------------- pure rules

def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """``21:00-08:00`` -> (21:00, 08:00); empty -> None (no quiet hours). Raises CannotRun when malformed."""
    if text is None or not text.strip():
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise CannotRun(f"NOTIFY_QUIET_HOURS must look like 21:00-08:00, not {text!r}") from None
    return start, end


def is_quiet(moment: time, hours: tuple[time, time] | None) -> bool:
    """Whether a local time of day falls in the quiet hours (which may run past midnight)."""
    if hours is None:
        return False
    start, end = hours
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def next_attempt(attempts: int, moment: datetime) -> datetime | None:
    """When to try again after `attempts` failed tries, or None when they are used up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return moment + BACKOFF[attempts - 1]


# ---------------------------------------------------------------- providers

def send_sms(message_id: int, to: str, text: str) -> None:
    url = setting("SMS_WEBHOOK_URL")
    body = json.dumps({"to": to, "text": text, "id": message_id}, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "Authorization": f"Bearer {setting('SMS_WEBHOOK_TOKEN', '')}",
    })
    try:
        with urllib.request.urlopen(request, timeout=float(setting("SMS_WEBHOOK_TIMEOUT", 10))) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        raise DeliveryFailed(f"SMS provider answered HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryFailed(f"SMS provider unreachable: {reason}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"SMS provider answered HTTP {status}")


def send_email(to: str, text: str, language: str) -> None:
    message = EmailMessage()
    message["Subject"] = SUBJECTS.get(language, SUBJECTS["ko"])
    message["From"] = setting("MAIL_FROM") or setting("MAIL_USERNAME") or "academy@localhost"
    message["To"] = to
    # Korean text travels base64-encoded: a server without SMTPUTF8 takes it as plain ASCII.
    message.set_content(text, cte="base64")
    try:
        with smtplib.SMTP(setting("MAIL_SERVER"), int(setting("MAIL_PORT", 25)), timeout=30) as smtp:
            if str(setting("MAIL_USE_TLS", "")).lower() in ("1", "true", "yes", "on"):
                smtp.starttls()
            if setting("MAIL_USERNAME"):
                smtp.login(setting("MAIL_USERNAME"), setting("MAIL_PASSWORD", ""))
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"mail server refused or unreachable: {error}") from None


# ---------------------------------------------------------------- the run

def send_due(moment: datetime | None = None) -> Report:
    """Deliver every approved message that is due; commits per message. Raises CannotRun on bad settings."""
    moment = moment or now()
    quiet = parse_quiet_hours(setting("NOTIFY_QUIET_HOURS", DEFAULT_QUIET_HOURS))
    channels = {"sms": bool(setting("SMS_WEBHOOK_URL")), "email": bool(setting("MAIL_SERVER"))}
    if not any(channels.values()):
        raise CannotRun("no provider configured: set SMS_WEBHOOK_URL and/or MAIL_SERVER")
    report = Report()
    report.marked_unknown = _mark_stale(moment)
    report.withdrawn = _cancel_without_consent(moment)
    db.session.commit()
    due = db.session.execute(
        select(Notification.id, Notification.channel)
        .where(Notification.state == "queued",
               or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= moment))
        .order_by(Notification.id)).all()
    db.session.commit()
    sms_held = is_quiet(moment.astimezone(academy_timezone()).time(), quiet)
    for message_id, channel in due:
        if not channels[channel]:
            report.skipped += 1
            continue
        if channel == "sms" and sms_held:
            report.held += 1
            continue
        _deliver_one(message_id, moment, report)
    return report


def _mark_stale(moment: datetime) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.state == "sending", Notification.claimed_at < moment - STALE_AFTER)
        .values(state="failed", last_error=OUTCOME_UNKNOWN, updated_at=moment)
        .execution_options(synchronize_session=False))
    return result.rowcount


def _consenting_guardians():
    return select(Guardian.id).where(Guardian.consent.is_(True))


def _cancel_without_consent(moment: datetime) -> int:
    """Nothing is ever sent without consent: a queued message whose guardian withdrew it (or was
    removed) is cancelled rather than sent."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.state == "queued",
               or_(Notification.guardian_id.is_(None), Notification.guardian_id.not_in(_consenting_guardians())))
        .values(state="cancelled", last_error=NO_CONSENT, updated_at=moment)
        .execution_options(synchronize_session=False))
    return result.rowcount


def _deliver_one(message_id: int, moment: datetime, report: Report) -> None:
    claimed = db.session.execute(
        update(Notification)
        .where(Notification.id == message_id, Notification.state == "queued",
               or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= moment),
               Notification.guardian_id.in_(_consenting_guardians()))
        .values(state="sending", claimed_at=now(), attempts=Notification.attempts + 1, updated_at=now())
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if claimed != 1:
        return  # another run took it
    message = db.session.execute(
        select(Notification.channel, Notification.to, Notification.text, Notification.attempts,
               func.coalesce(Guardian.language, "ko").label("language"))
        .outerjoin(Guardian, Guardian.id == Notification.guardian_id)
        .where(Notification.id == message_id)).one()
    db.session.commit()
    try:
        if message.channel == "sms":
            send_sms(message_id, message.to, message.text)
        else:
            send_email(message.to, message.text, message.language)
    except DeliveryFailed as failure:
        retry_at = next_attempt(message.attempts, moment)
        values: dict[str, Any] = {"last_error": str(failure), "updated_at": now()}
        if retry_at is None:
            values["state"] = "failed"
            report.failed += 1
        else:
            values.update(state="queued", next_attempt_at=retry_at)
            report.retrying += 1
        report.problems.append(f"message {message_id}: {failure}")
    else:
        values = {"state": "sent", "sent_at": now(), "last_error": None, "updated_at": now()}
        report.sent += 1
    db.session.execute(update(Notification).where(Notification.id == message_id, Notification.state == "sending")
                       .values(**values).execution_options(synchronize_session=False))
    db.session.commit()

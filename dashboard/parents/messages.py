"""The texts of guardians' messages: built-in templates per event and language, the academy's own
edits of them, and how a template is filled in. Pure apart from `template_bodies`.

Placeholders: {student}, {lecture}, {session}, {date}, {time}, {room}. A value the event does not
have (a risk has no room) is filled with a dash.
"""
from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from dashboard.errors import Invalid
from dashboard.extensions import db
from dashboard.models import (
    GUARDIAN_LANGUAGES,
    NOTIFICATION_EVENTS,
    NotificationTemplate,
)

PLACEHOLDERS = ("student", "lecture", "session", "date", "time", "room")
MAX_LENGTH = 1000

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "risk_warning": {
        "ko": "[{lecture}] {student} 학생이 최근 차시({session}, {date})를 연속으로 완료하지 못해 주의가 "
              "필요합니다. 자세한 내용은 학원으로 문의해 주세요.",
        "en": "[{lecture}] {student} has not completed recent sessions ({session}, {date}) and needs attention. "
              "Please contact the academy for details.",
    },
    "risk_danger": {
        "ko": "[{lecture}] {student} 학생이 여러 차시를 연속으로 완료하지 못했습니다(최근: {session}, {date}). "
              "상담을 권해 드립니다.",
        "en": "[{lecture}] {student} has missed several sessions in a row (latest: {session}, {date}). "
              "We recommend a counselling talk.",
    },
    "booking": {
        "ko": "[{lecture}] {student} 학생의 보충 수업이 {date} {time}, {room}에 예약되었습니다.",
        "en": "[{lecture}] A clinic class for {student} is booked on {date} at {time}, {room}.",
    },
    "absence": {
        "ko": "[{lecture}] {student} 학생이 {date} {session} 수업에 결석했습니다.",
        "en": "[{lecture}] {student} was absent from {session} on {date}.",
    },
}


def session_words(order: int | None, title: str | None, language: str) -> str:
    """How a message names a session: its title, else its number (3차시, session 3)."""
    if title:
        return title
    if order is None:
        return "-"
    return f"{order}차시" if language == "ko" else f"session {order}"


def fill(body: str, values: Mapping[str, Any]) -> str:
    """The template with its placeholders filled; dates as YYYY-MM-DD, times as HH:MM."""
    shown: dict[str, str] = {}
    for name in PLACEHOLDERS:
        value = values.get(name)
        if value is None or value == "":
            shown[name] = "-"
        elif isinstance(value, datetime):
            shown[name] = value.strftime("%H:%M")
        elif isinstance(value, date):
            shown[name] = value.isoformat()
        else:
            shown[name] = str(value)
    return body.format_map(shown)


def check_body(body: Any, field: str = "body") -> str:
    """A template body: text, at most MAX_LENGTH characters, only known {placeholders}."""
    if not isinstance(body, str) or not body.strip():
        raise Invalid("required", field)
    body = body.strip()
    if len(body) > MAX_LENGTH:
        raise Invalid("too_long", field, max=MAX_LENGTH)
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError:
        raise Invalid("unknown_placeholder", field, name="{", choices=_choices()) from None
    for _, name, spec, conversion in parsed:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            raise Invalid("unknown_placeholder", field, name="{" + name + "}", choices=_choices())
    return body


def _choices() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)


# ---------------------------------------------------------------- stored templates

def template_bodies() -> dict[tuple[str, str], str]:
    """(event, language) -> the body in use: the academy's edit, else the built-in one."""
    bodies = {(event, language): DEFAULT_TEMPLATES[event][language]
              for event in NOTIFICATION_EVENTS for language in GUARDIAN_LANGUAGES}
    for event, language, body in db.session.execute(
            select(NotificationTemplate.event, NotificationTemplate.language, NotificationTemplate.body)):
        bodies[(event, language)] = body
    return bodies


def save_template(event: str, language: str, body: str) -> str:
    """Store the academy's text for one event and language (admins only: the caller checked);
    the built-in text again removes the edit."""
    if event not in NOTIFICATION_EVENTS:
        raise Invalid("not_a_choice", "event", choices=", ".join(NOTIFICATION_EVENTS))
    if language not in GUARDIAN_LANGUAGES:
        raise Invalid("not_a_choice", "language", choices=", ".join(GUARDIAN_LANGUAGES))
    body = check_body(body)
    stored = db.session.execute(select(NotificationTemplate).where(
        NotificationTemplate.event == event, NotificationTemplate.language == language)).scalar_one_or_none()
    if body == DEFAULT_TEMPLATES[event][language]:
        if stored is not None:
            db.session.delete(stored)
    elif stored is None:
        db.session.add(NotificationTemplate(event=event, language=language, body=body))
    else:
        stored.body = body
    db.session.flush()
    return body


EXAMPLE_VALUES = {"student": "김민지", "lecture": "수학 II", "session": "3차시", "date": date(2026, 3, 16),
                  "time": datetime(2026, 3, 16, 16, 0), "room": "201호"}

"""Guardians of a student: the pure checks of their fields, the services that change them, the reads.

A phone number is kept as entered once spaces, hyphens and dots are gone: digits with an
optional leading ``+`` (no country code is added or removed). A guardian is told things only
with `consent` and a contact for their `channel` (a phone for sms, an address for e-mail).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from dashboard.errors import Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import GUARDIAN_CHANNELS, GUARDIAN_LANGUAGES, Guardian

FIELDS = ("name", "relation", "phone", "email", "channel", "language", "consent")
DEFAULTS: dict[str, Any] = {"relation": "", "phone": None, "email": None, "channel": "sms", "language": "ko",
                            "consent": False}
_SEPARATORS = re.compile(r"[ .\-]")
_PHONE = re.compile(r"\+?[0-9]{3,19}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# ---------------------------------------------------------------- pure rules

def normalise_phone(raw: str, field: str = "phone") -> str:
    """``010-1234 5678`` -> ``01012345678``; ``+82 10.1234.5678`` -> ``+821012345678``."""
    phone = _SEPARATORS.sub("", raw)
    if not _PHONE.fullmatch(phone):
        raise Invalid("bad_phone", field)
    return phone


def _text(values: Mapping[str, Any], name: str, max_length: int, field: str, required: bool = False) -> str | None:
    value = values.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid("required", field)
        return None
    if not isinstance(value, str):
        raise Invalid("not_text", field)
    value = value.strip()
    if len(value) > max_length:
        raise Invalid("too_long", field, max=max_length)
    return value


def clean(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every field of a guardian checked and normalised (missing ones take DEFAULTS); raises Invalid
    naming `prefix + field`."""
    for name in values:
        if name not in FIELDS and name != "id":
            raise Invalid("unknown_field", prefix + name)
    merged = {**DEFAULTS, **values}
    cleaned: dict[str, Any] = {
        "name": _text(merged, "name", 100, prefix + "name", required=True),
        "relation": _text(merged, "relation", 30, prefix + "relation") or "",
    }
    phone = _text(merged, "phone", 40, prefix + "phone")
    cleaned["phone"] = normalise_phone(phone, prefix + "phone") if phone else None
    email = _text(merged, "email", 254, prefix + "email")
    if email is not None and not _EMAIL.fullmatch(email):
        raise Invalid("bad_email", prefix + "email")
    cleaned["email"] = email
    for name, choices in (("channel", GUARDIAN_CHANNELS), ("language", GUARDIAN_LANGUAGES)):
        if merged[name] not in choices:
            raise Invalid("not_a_choice", prefix + name, choices=", ".join(choices))
        cleaned[name] = merged[name]
    if not isinstance(merged["consent"], bool):
        raise Invalid("not_boolean", prefix + "consent")
    cleaned["consent"] = merged["consent"]
    return cleaned


def contact_for(channel: str, phone: str | None, email: str | None) -> str | None:
    """Where a message on this channel goes, or None when the guardian gave no such contact."""
    return phone if channel == "sms" else email


def reachable(guardian: Guardian) -> bool:
    """Whether anything may be sent to this guardian: consent and a contact for their channel."""
    return guardian.consent and contact_for(guardian.channel, guardian.phone, guardian.email) is not None


IMPORTED_NAME = "보호자"


def from_contact(text: str | None) -> dict[str, Any] | None:
    """The guardian an old single "guardian contact" stands for, as the upgrade turned each one into
    a guardian: named 보호자, no relation, sms for a phone number, e-mail for an address, Korean, and no
    consent (nobody agreed to messages under the old field). None for text that is neither."""
    if not text or not text.strip():
        return None
    try:
        phone = normalise_phone(text.strip())
    except Invalid:
        phone = None
    if phone:
        values = {"phone": phone, "email": None, "channel": "sms"}
    elif _EMAIL.fullmatch(text.strip()) and len(text.strip()) <= 254:
        values = {"phone": None, "email": text.strip(), "channel": "email"}
    else:
        return None
    return {"name": IMPORTED_NAME, "relation": "", "language": "ko", "consent": False, **values}


def unadopted_contact(student_id: int, guardian_contact: str | None) -> str | None:
    """The student's old guardian contact (still written by imports that give `guardian_contact`)
    when it is a phone or an address no guardian of theirs holds yet; else None."""
    values = from_contact(guardian_contact)
    if values is None:
        return None
    held = db.session.execute(select(Guardian.id).where(
        Guardian.student_id == student_id,
        Guardian.phone == values["phone"] if values["phone"] else Guardian.email == values["email"])).first()
    return None if held else guardian_contact


# ---------------------------------------------------------------- services (the caller checked access)

def adopt_contact(student_id: int, guardian_contact: str | None) -> Guardian:
    """Turn the student's old guardian contact into a guardian (see `from_contact`)."""
    if unadopted_contact(student_id, guardian_contact) is None:
        raise Invalid("required", "guardian_contact")
    return add_guardian(student_id, from_contact(guardian_contact))


def add_guardian(student_id: int, values: Mapping[str, Any]) -> Guardian:
    cleaned = clean(values)
    _refuse_same_name(student_id, cleaned, None)
    guardian = Guardian(student_id=student_id, **cleaned)
    db.session.add(guardian)
    db.session.flush()
    return guardian


def update_guardian(student_id: int, guardian_id: int, values: Mapping[str, Any]) -> Guardian:
    guardian = _guardian_of(student_id, guardian_id)
    stored = {name: getattr(guardian, name) for name in FIELDS}
    cleaned = clean({**stored, **values})
    _refuse_same_name(student_id, cleaned, guardian.id)
    for name, value in cleaned.items():
        setattr(guardian, name, value)
    db.session.flush()
    return guardian


def remove_guardian(student_id: int, guardian_id: int) -> None:
    db.session.delete(_guardian_of(student_id, guardian_id))
    db.session.flush()


def _guardian_of(student_id: int, guardian_id: int) -> Guardian:
    guardian = db.session.get(Guardian, guardian_id)
    if guardian is None or guardian.student_id != student_id:
        raise NotFound()
    return guardian


def _refuse_same_name(student_id: int, cleaned: Mapping[str, Any], own_id: int | None) -> None:
    other = db.session.execute(select(Guardian.id).where(
        Guardian.student_id == student_id, Guardian.name == cleaned["name"],
        Guardian.relation == cleaned["relation"])).scalar_one_or_none()
    if other is not None and other != own_id:
        raise Invalid("guardian_twice", "name")


# ---------------------------------------------------------------- reads

def guardians_of(student_id: int) -> list[Guardian]:
    return list(db.session.execute(
        select(Guardian).where(Guardian.student_id == student_id).order_by(Guardian.id)).scalars())



def guardians_by_student(student_ids: list[int]) -> dict[int, list[Guardian]]:
    """Each listed student's guardians, in one query (a page of students)."""
    found: dict[int, list[Guardian]] = {student_id: [] for student_id in student_ids}
    if student_ids:
        for guardian in db.session.execute(select(Guardian).where(Guardian.student_id.in_(student_ids))
                                           .order_by(Guardian.student_id, Guardian.id)).scalars():
            found[guardian.student_id].append(guardian)
    return found

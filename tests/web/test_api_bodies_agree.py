"""The bodies the API documents but its services check (a policy change, clinic requests, clinic
sessions and bookings, notification settings: docs/decisions.md §17) refuse what their description
refuses.

For every such operation a body the service takes is broken one field at a time, in each way the
description forbids: an unknown field, a value of another type, a number past its bounds, a text
past its length, a word outside its choices, a null where none is documented. Each broken body
must answer 400 naming that field, and change nothing. A field added to a description without
its check in the service, or a limit changed on one side only, fails here.
"""
from __future__ import annotations

from typing import Any

import pytest

from dashboard.extensions import db
from dashboard.models import AuditLog
from dashboard.web.api import resources
from tests.factories import build_academy

from .test_openapi import call


@pytest.fixture
def academy(app):
    academy = build_academy()
    db.session.commit()
    return academy


def _broken_values(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """(what is wrong, value) for each way the property's schema refuses a value."""
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    broken: list[tuple[str, Any]] = []
    if "integer" in kinds:
        broken += [("text for a number", "12"), ("a fraction", 1.5)]
        if "minimum" in schema:
            broken.append(("below the minimum", schema["minimum"] - 1))
        if "maximum" in schema:
            broken.append(("above the maximum", schema["maximum"] + 1))
    if "string" in kinds:
        broken.append(("a number for a text", 12))
        if "maxLength" in schema:
            broken.append(("too long", "가" * (schema["maxLength"] + 1)))
        if "enum" in schema:
            broken.append(("not one of the choices", "NOT_A_CHOICE"))
    if "boolean" in kinds:
        broken.append(("text for true or false", "yes"))
    if "array" in kinds:
        broken.append(("a single value for a list", 1))
        items = schema.get("items", {})
        if items.get("type") == "integer":
            broken.append(("text in a list of ids", ["12"]))
        if "enum" in items:
            broken.append(("a word outside the choices in the list", ["NOT_A_CHOICE"]))
    if "null" not in kinds and not any(option.get("type") == "null" for option in schema.get("anyOf", ())):
        broken.append(("null", None))
    return broken


def _properties(doc, name: str) -> dict[str, dict[str, Any]]:
    schema = doc["components"]["schemas"][name]
    return {key: _resolved(doc, value) for key, value in schema["properties"].items()}


def _resolved(doc, schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolved(doc, doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def _operations(client, academy, admin) -> list[tuple[str, str, dict[str, int], dict[str, Any], str]]:
    """(method, path, path ids, a body the service takes, the body's schema name) for every
    operation whose body a service checks."""
    lecture, week = academy.algebra, academy.weeks[0]
    new_session = {"starts_at": "2026-04-02T15:00:00+09:00", "ends_at": "2026-04-02T16:00:00+09:00",
                   "capacity": 3, "room": "B101", "lecture": lecture.id, "teacher": "teacher_a", "note": None}
    clinic = call(client, admin, "post", "/api/clinic/sessions/", new_session)
    assert clinic.status_code == 201, clinic.get_json()
    clinic_id = clinic.get_json()["id"]
    links = call(client, admin, "get", "/api/progress/clinic-links/",
                 query={"enrollment_id": academy.jisoo.id}).get_json()["results"]
    booking = call(client, admin, "post", "/api/clinic/sessions/{clinic_session_id}/bookings/",
                   {"enrollment_id": academy.jisoo.id, "link_ids": [links[0]["id"]]}, clinic_session_id=clinic_id)
    assert booking.status_code == 201, booking.get_json()
    policy_id = call(client, admin, "get", "/api/progress/policies/").get_json()["results"][0]["id"]
    db.session.commit()
    return [
        ("patch", "/api/progress/policies/{object_id}/", {"object_id": policy_id},
         {"video_required_rate": 80}, "PolicyChange"),
        ("post", "/api/progress/clinic-links/", {},
         {"enrollment_id": academy.minji.id, "session": week.id, "reason": "MANUAL_REQUEST", "memo": "extra help"},
         "ClinicLinkRequest"),
        ("patch", "/api/progress/clinic-links/{object_id}/", {"object_id": links[1]["id"]},
         {"memo": "call the parents"}, "ClinicLinkMemo"),
        ("post", "/api/clinic/sessions/", {}, new_session, "ClinicSessionCreate"),
        ("patch", "/api/clinic/sessions/{clinic_session_id}/", {"clinic_session_id": clinic_id},
         {"capacity": 4}, "ClinicSessionChange"),
        ("post", "/api/clinic/sessions/{clinic_session_id}/bookings/", {"clinic_session_id": clinic_id},
         {"enrollment_id": academy.jisoo.id, "link_ids": [links[1]["id"]]}, "ClinicBookingCreate"),
        ("patch", "/api/clinic/bookings/{booking_id}/", {"booking_id": booking.get_json()["id"]},
         {"attendance": "attended"}, "ClinicBookingMark"),
        ("patch", "/api/lectures/{lecture_id}/notification-settings/", {"lecture_id": lecture.id},
         {"review": True}, "NotificationSettingsChange"),
    ]


def test_every_service_checked_body_is_covered_here(client, doc, academy):
    covered = {name for *_, name in _operations(client, academy, academy.tokens["admin"])}
    assert covered == {body.name for body in resources.BODIES if body.checked_by_service}


def test_a_body_broken_as_its_description_forbids_is_refused_naming_the_field(client, doc, academy):
    admin = academy.tokens["admin"]
    failures = []
    for method, path, ids, valid, name in _operations(client, academy, admin):
        broken_bodies = [("an unknown field", {**valid, "nickname": "x"}, "nickname")]
        for field, schema in _properties(doc, name).items():
            if field == "version":
                continue  # optional, compared with the stored version: its refusal is a 409 (SPEC §8)
            for what, value in _broken_values(schema):
                broken_bodies.append((f"{field}: {what}", {**valid, field: value}, field))
        for what, body, field in broken_bodies:
            audited = db.session.query(AuditLog).count()
            response = call(client, admin, method, path, body, **ids)
            answer = response.get_json() or {}
            named = answer.get("field") or ""
            if response.status_code != 400 or not (named == field or named.startswith(field + "[")):
                failures.append(f"{method.upper()} {path} {name} — {what} {body!r}: {response.status_code} {answer}")
            elif db.session.query(AuditLog).count() != audited:
                failures.append(f"{method.upper()} {path} {name} — {what}: refused but something was recorded")
            db.session.rollback()
    assert not failures, "\n".join(failures)

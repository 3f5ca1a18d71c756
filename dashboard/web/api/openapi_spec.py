"""The OpenAPI 3.1 description of the JSON API (SPEC §8, §10), served at `GET /api/openapi.json`.

Object and request schemas are written out here by hand (field names, types, nullability, as
dashboard.serializers and the API modules produce and accept them). The list parameters —
filters, ordering values, `include_withdrawn` — are generated from dashboard.listing.RESOURCES,
the same table the lists run on, so a new filter or ordering field is documented by adding it.
tests/web/test_openapi.py checks the document against the app's route table and validates real
answers against it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from dashboard.clinic.links import MANUAL_REASONS, MEMO_MAX_LENGTH
from dashboard.clinic.sessions import ATTENDANCE_CHOICES, NOTE_MAX_LENGTH, ROOM_MAX_LENGTH
from dashboard.importer.snapshot import KINDS as IMPORT_KINDS
from dashboard.models import (
    ATTENDANCE_TYPES,
    CLINIC_REASONS,
    GUARDIAN_CHANNELS,
    GUARDIAN_LANGUAGES,
    INVALID_REASONS,
    NOTIFICATION_EVENTS,
    NOTIFICATION_STATES,
    OMR_STATUSES,
    PRESENCE_VALUES,
    RISK_LEVELS,
    RISK_RULES,
    ROLES,
)
from dashboard.omr.grading import REVIEW_REASONS
from dashboard.progress.rules import GRID_STATUSES
from dashboard.progress.policy_validation import (
    EXAM_AGGREGATE_STRATEGIES,
    EXAM_PASS_SOURCES,
    HOMEWORK_PASS_TYPES,
)
from dashboard.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, RESOURCES, ListSpec

Schema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

DESCRIPTION = """\
The academy progress dashboard's JSON API (SPEC §8): progress read endpoints, policy and
clinic-link writes, snapshot import, the audit trail, users and tokens, OMR scan intake.

**Paths.** Every path is listed once, in its canonical spelling; the same path with or
without the final slash works too, for every method, without a redirect.

**Authentication.** `Authorization: Bearer TOKEN` on every request except this document.
Tokens are made with `flask --app wsgi create-token USERNAME` or `POST /api/users/{id}/tokens/`.
Checks run in this order: authentication (401), authorization (403, or 404 for an object
outside the caller's lectures), validation (400).

**Errors.** Every refused request answers `{"error": CODE, "message": "...", "field": NAME|null}`
(more problems in `errors`, same shape) and changes nothing: 400 `validation`, 401
`unauthorized`, 403 `forbidden`, 404 `not_found`, 405 `method_not_allowed` (any method not
listed here for a path), 409 `conflict`, 413 `too_large` (bodies over 2 MB, 64 MB for
`POST /api/import`), 503 `unavailable` (the database cannot be reached).

**Values.** Scores are JSON numbers with at most 2 decimals; integers must be JSON integers;
times are ISO 8601 with the academy's offset (`2026-03-09T10:00:00+09:00`).
"""


# ---------------------------------------------------------------- small schema helpers

def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null (JSON Schema 2020-12 style, as OpenAPI 3.1 writes it)."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    result = dict(schema)
    kind = result["type"]
    result["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in result:
        result["enum"] = [*result["enum"], None]
    return result


def obj(properties: dict[str, Schema], required: list[str] | None = None, *, closed: bool = True,
        description: str | None = None) -> Schema:
    """An object schema; answers list every field (`required` defaults to all of them)."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


# Ids are INTEGER columns (the importer refuses larger ones too).
ID_MAX = 2_147_483_647
ID = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
COUNT = {"type": "integer", "minimum": 0}
TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with the academy's offset"}
DATE = {"type": "string", "format": "date"}
SCORE = {"type": "number", "minimum": 0, "description": "exact, at most 2 decimals"}
TEXT = {"type": "string"}
BOOL = {"type": "boolean"}
USERNAME = nullable({"type": "string", "description": "a username; null when nobody (or a deleted user)"})
STAMPS = {"created_at": TIME, "updated_at": TIME}
VERSION = {"type": "integer", "minimum": 1,
           "description": "Raised by one on every change of the object; send it back as If-Match (or `version`) "
                          "to refuse (409) a write based on an older one."}
VERSION_GIVEN = {"type": "integer", "minimum": 1, "maximum": 2_147_483_647,
                 "description": "The version this write was based on (optional; stale: 409)."}


def enum(values: tuple[str, ...] | list[str], description: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


def int_range(lowest: int, highest: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "minimum": lowest}
    if highest is not None:
        schema["maximum"] = highest
    return schema


# ---------------------------------------------------------------- object schemas

POLICY_FIELD_SCHEMAS: dict[str, Schema] = {
    "video_required_rate": int_range(0, 100),
    "exam_start_session_order": int_range(1),
    "exam_end_session_order": {**int_range(1), "description": ">= exam_start_session_order"},
    "exam_pass_score": SCORE,
    "exam_aggregate_strategy": enum(EXAM_AGGREGATE_STRATEGIES),
    "exam_pass_source": enum(EXAM_PASS_SOURCES),
    "homework_start_session_order": int_range(1),
    "homework_end_session_order": {**int_range(1), "description": ">= homework_start_session_order"},
    "homework_pass_type": enum(HOMEWORK_PASS_TYPES),
    "homework_cutline_percent": int_range(0, 100),
    "homework_round_unit": int_range(1, 100),
    "completion_grace_days": int_range(0, 365),
    "risk_warning_consecutive": int_range(1),
    "risk_danger_consecutive": {**int_range(1), "description": ">= risk_warning_consecutive"},
}

EXAM_META = nullable(obj(
    {
        "strategy": enum(EXAM_AGGREGATE_STRATEGIES),
        "pass_source": enum(EXAM_PASS_SOURCES),
        "note": nullable(enum(("out_of_exam_range", "no_exams_in_session", "no_results"))),
        "aggregate_pass_score": nullable(SCORE),
        "exams": {"type": "array", "items": obj({
            "exam_id": ID,
            "score": nullable(SCORE),
            "max_score": SCORE,
            "pass_score": SCORE,
            "passed": nullable(BOOL),
            "submitted_at": nullable(TIME),
            "attempt_count": COUNT,
        }, closed=False)},
    },
    required=[], closed=False,
    description="How the exam part was decided: the strategy, the pass line, each linked exam's result.",
))

EXAM_RISK = obj(
    {
        "LOW_SCORE": obj({"score": SCORE, "pass_score": SCORE}, closed=False),
        "LOW_CONFIDENCE_OMR": obj({"count": COUNT, "threshold": COUNT}, closed=False),
        "REPEATED_WRONG": obj({"questions": {"type": "array", "items": ID}}, closed=False),
    },
    required=[], closed=False,
)

SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": enum(("validation", "unauthorized", "forbidden", "not_found", "method_not_allowed",
                           "conflict", "too_large", "unsupported_media_type", "rate_limited", "unavailable",
                           "internal_error")),
            "message": TEXT,
            "field": nullable({"type": "string", "description": "the field or item at fault, e.g. attempts[3].score"}),
            "errors": {"type": "array", "items": ref("ErrorItem"),
                       "description": "every problem found, when there are several"},
        },
        required=["error", "message", "field"],
    ),
    "ErrorItem": obj({
        "error": TEXT,
        "message": TEXT,
        "field": nullable(TEXT),
    }),
    "Policy": obj(
        {"id": ID, "lecture": ID, **POLICY_FIELD_SCHEMAS, "version": VERSION, **STAMPS},
        description="A lecture's pass policy (SPEC §2).",
    ),
    "PolicyChange": obj(
        {**POLICY_FIELD_SCHEMAS, "version": VERSION_GIVEN}, required=[],
        description="Only the fields to change; validated on the merged policy (stored values plus the change). "
                    "Any other field is refused with 400. `version` (optional): the version this change was "
                    "based on; a stale one answers 409 and changes nothing.",
    ),
    "SessionProgress": obj(
        {
            "id": ID,
            "enrollment_id": ID,
            "session": ID,
            "lecture": ID,
            "student_name": TEXT,
            "attendance_type": enum(ATTENDANCE_TYPES),
            "presence": nullable(enum(PRESENCE_VALUES, "the roll call (SPEC §12); null when not taken")),
            "video_progress_rate": int_range(0, 100),
            "video_completed": BOOL,
            "exam_attempted": BOOL,
            "exam_aggregate_score": nullable(SCORE),
            "exam_passed": BOOL,
            "exam_meta": EXAM_META,
            "homework_submitted": BOOL,
            "homework_passed": BOOL,
            "completed": BOOL,
            "completed_at": nullable(TIME),
            "calculated_at": nullable(TIME),
            "meta": nullable({"type": "object"}),
            **STAMPS,
        },
        description="One (enrollment, held session) (SPEC §3). Derived: read only.",
    ),
    "LectureProgress": obj(
        {
            "id": ID,
            "enrollment_id": ID,
            "lecture": ID,
            "student_name": TEXT,
            "total_sessions": COUNT,
            "completed_sessions": COUNT,
            "failed_sessions": COUNT,
            "consecutive_failed_sessions": COUNT,
            "risk_level": enum(RISK_LEVELS),
            "last_session": nullable({**ID, "description": "the latest due session, null when none is due"}),
            "last_updated": nullable(TIME),
            "meta": nullable(obj({
                "low_score_consecutive": COUNT,
                "incomplete_level": enum(RISK_LEVELS),
                "low_score_level": enum(RISK_LEVELS),
            }, required=[], closed=False)),
            **STAMPS,
        },
        description="One enrollment's progress in its lecture (SPEC §4). Derived: read only.",
    ),
    "RiskLog": obj(
        {
            "id": ID,
            "enrollment_id": ID,
            "session": nullable({**ID, "description": "null once the session is deleted"}),
            "lecture": ID,
            "student_name": TEXT,
            "risk_level": enum(("WARNING", "DANGER")),
            "rule": enum(RISK_RULES),
            "reason": nullable(TEXT),
            "meta": nullable(obj({"count": COUNT}, required=[], closed=False)),
            **STAMPS,
        },
        description="History: one row per (enrollment, session, level, rule) found (SPEC §5). Derived: read only.",
    ),
    "ClinicLink": obj(
        {
            "id": ID,
            "enrollment_id": ID,
            "session": ID,
            "lecture": ID,
            "student_name": TEXT,
            "reason": enum(CLINIC_REASONS),
            "is_auto": BOOL,
            "approved": BOOL,
            "resolved_at": nullable(TIME),
            "memo": nullable(TEXT),
            "meta": nullable(obj(
                {
                    "video_completed": BOOL,
                    "exam_passed": BOOL,
                    "homework_passed": BOOL,
                    "exam_reasons": {"type": "object", "additionalProperties": EXAM_RISK,
                                     "description": "exam id -> its risk reasons (AUTO_RISK)"},
                    "auto_resolved": BOOL,
                },
                required=[], closed=False,
                description="AUTO_FAILED: which parts failed; AUTO_RISK: exam_reasons; null for a person's request.",
            )),
            "auto_managed": {**BOOL, "description": "false once a person approved, resolved or reopened it"},
            "created_by": USERNAME,
            "approved_by": USERNAME,
            "approved_at": nullable(TIME),
            "resolved_by": USERNAME,
            "reopened_by": USERNAME,
            "reopened_at": nullable(TIME),
            "booking": {**nullable(ID), "description": "the active booking covering this link (SPEC §13), or null"},
            "version": VERSION,
            **STAMPS,
        },
        description="A clinic (remedial class) queue entry (SPEC §6).",
    ),
    "ClinicLinkRequest": obj(
        {
            "enrollment_id": ID,
            "session": {**ID, "description": "a session of the enrollment's lecture"},
            "session_id": {**ID, "description": "accepted for `session`"},
            "reason": enum(MANUAL_REASONS, "TEACHER_RECOMMEND: admin or the lecture's teacher only"),
            "memo": {"type": "string", "minLength": 1, "maxLength": MEMO_MAX_LENGTH},
        },
        required=["enrollment_id", "reason", "memo"],
        description="A person's clinic request; `session` (or `session_id`) is required too.",
    ),
    "ClinicLinkMemo": obj(
        {"memo": nullable({"type": "string", "maxLength": MEMO_MAX_LENGTH,
                           "description": "required (not blank) on a person's request; "
                                          "may be null on an automatic link"}),
         "version": VERSION_GIVEN},
        required=["memo"],
        description="The memo is the only field a person edits directly (`version`, optional: the version "
                    "this edit was based on; stale: 409).",
    ),
    "AuditEntry": obj(
        {
            "id": ID,
            "user": USERNAME,
            "action": {"type": "string", "examples": ["policy.update", "clinic_link.approve", "import_snapshot"]},
            "object_type": TEXT,
            "object_id": nullable(TEXT),
            "lecture": nullable(ID),
            "before": {"description": "the values before (any JSON, null for a creation)"},
            "after": {"description": "the values after (any JSON)"},
            "created_at": TIME,
        },
        description="One change made through the API or the UI.",
    ),
    "Notification": obj(
        {
            "id": ID,
            "event": enum(NOTIFICATION_EVENTS),
            "enrollment_id": ID,
            "guardian": nullable({**ID, "description": "the guardian's id; null once the guardian was removed"}),
            "channel": enum(GUARDIAN_CHANNELS),
            "to": {"type": "string", "description": "the phone number or e-mail address"},
            "text": TEXT,
            "state": enum(NOTIFICATION_STATES),
            "attempts": COUNT,
            "last_error": nullable(TEXT),
            "created_at": TIME,
            "sent_at": nullable(TIME),
        },
        description="A message to a guardian in the outbox (SPEC §14).",
    ),
    "NotificationSettings": obj(
        {"events": {"type": "array", "items": enum(NOTIFICATION_EVENTS), "uniqueItems": True},
         "review": {**BOOL, "description": "true: a person approves each message before it is sent"}},
        description="Which events of a lecture notify guardians; by default all four, reviewed.",
    ),
    "NotificationSettingsChange": obj(
        {"events": {"type": "array", "items": enum(NOTIFICATION_EVENTS)}, "review": BOOL}, required=[],
        description="Any of the settings' fields; those left out keep their value.",
    ),
    "ImportCounts": obj({kind: COUNT for kind in IMPORT_KINDS}, description="How many items, per snapshot kind."),
    "ImportResult": obj({
        "created": ref("ImportCounts"),
        "updated": ref("ImportCounts"),
        "deleted": ref("ImportCounts"),
        "recomputed": {**COUNT, "description": "session-progress rows recomputed"},
    }),
    "Snapshot": {
        "type": "object",
        "description": "SPEC §9: every key optional; items upsert by their key; `\"delete\": true` removes one. "
                       "Fields needed to create an item are marked in their descriptions.",
        "additionalProperties": False,
        "properties": {
            "lectures": {"type": "array", "items": obj({
                "id": ID, "title": {"type": "string", "maxLength": 200, "description": "needed to create"},
                "policy": ref("PolicyChange"), "delete": BOOL}, required=["id"])},
            "sessions": {"type": "array", "items": obj({
                "id": ID, "lecture_id": {**ID, "description": "needed to create; cannot change"},
                "order": {**int_range(1, 9999), "description": "needed to create"},
                "title": nullable({"type": "string", "maxLength": 200}), "date": nullable(DATE),
                "delete": BOOL}, required=["id"])},
            "students": {"type": "array", "items": obj({
                "id": ID, "name": {"type": "string", "maxLength": 200, "description": "needed to create"},
                "contact": nullable({"type": "string", "maxLength": 100}),
                "guardian_contact": nullable({"type": "string", "maxLength": 100}),
                "guardians": {"type": "array", "description": "the whole list (SPEC §14): an item is the stored "
                              "guardian with its id, else the one with its name and relation", "items": obj({
                                  "id": ID, "name": {"type": "string", "minLength": 1, "maxLength": 100},
                                  "relation": nullable({"type": "string", "maxLength": 30}),
                                  "phone": nullable({"type": "string", "maxLength": 40,
                                                     "description": "digits, optional leading +; spaces, "
                                                                    "hyphens and dots are removed"}),
                                  "email": nullable({"type": "string", "maxLength": 254}),
                                  "channel": enum(GUARDIAN_CHANNELS), "language": enum(GUARDIAN_LANGUAGES),
                                  "consent": BOOL}, required=["name"])},
                "delete": BOOL}, required=["id"])},
            "enrollments": {"type": "array", "items": obj({
                "id": ID, "student_id": {**ID, "description": "needed to create; cannot change"},
                "lecture_id": {**ID, "description": "needed to create; cannot change"},
                "start_date": nullable(DATE), "withdrawn_at": nullable(TIME),
                "delete": BOOL}, required=["id"])},
            "exams": {"type": "array", "items": obj({
                "id": ID, "title": {"type": "string", "maxLength": 200, "description": "needed to create"},
                "pass_score": nullable(SCORE), "max_score": {**SCORE, "exclusiveMinimum": 0},
                "session_ids": {"type": "array", "items": ID, "uniqueItems": True},
                "questions": {"type": "array", "items": obj({
                    "number": ID,
                    "answer": {"type": "string", "minLength": 1, "maxLength": 32,
                               "description": "the right marks, each once (\"3\", \"24\")"},
                    "points": SCORE}, required=["number", "answer"])},
                "delete": BOOL}, required=["id"])},
            "attempts": {"type": "array", "items": obj({
                "enrollment_id": ID, "exam_id": ID, "attempt_no": ID,
                "score": {**SCORE, "description": "needed to create; 0 <= score <= the exam's max_score"},
                "submitted_at": nullable(TIME),
                "answers": {"type": "array", "items": obj({
                    "question": ID, "is_correct": BOOL,
                    "invalid_reason": nullable(enum(INVALID_REASONS))}, required=["question", "is_correct"])},
                "delete": BOOL}, required=["enrollment_id", "exam_id", "attempt_no"])},
            "homeworks": {"type": "array", "items": obj({
                "id": ID, "session_id": {**ID, "description": "needed to create"},
                "title": nullable({"type": "string", "maxLength": 200}),
                "max_score": {**SCORE, "exclusiveMinimum": 0},
                "delete": BOOL}, required=["id"])},
            "homework_submissions": {"type": "array", "items": obj({
                "enrollment_id": ID, "homework_id": ID, "submitted": BOOL, "score": nullable(SCORE),
                "approved": BOOL, "delete": BOOL}, required=["enrollment_id", "homework_id"])},
            "activities": {"type": "array", "items": obj({
                "enrollment_id": ID, "session_id": ID, "attendance": enum(ATTENDANCE_TYPES),
                "video_rate": int_range(0, 100),
                "presence": nullable(enum(PRESENCE_VALUES, "the roll call; sets attendance (present, late: offline; "
                                                           "absent, excused: online); null clears it")),
                "delete": BOOL}, required=["enrollment_id", "session_id"])},
        },
    },
    "User": obj({
        "id": ID,
        "username": TEXT,
        "role": enum(ROLES),
        "is_active": BOOL,
        "lectures": {"type": "array", "items": ID, "description": "lectures assigned: a teacher's, or an assistant's "
                                                                  "(staff who enter those lectures' inputs)"},
        **STAMPS,
    }),
    "UserCreate": obj(
        {"username": TEXT, "password": TEXT, "role": enum(ROLES), "lectures": {"type": "array", "items": ID}},
        required=["username", "password", "role"],
    ),
    "UserChange": obj(
        {
            "role": enum(ROLES),
            "lectures": {"type": "array", "items": ID},
            "is_active": {**BOOL, "description": "false deactivates: sessions and tokens stop at once"},
            "password": {"type": "string", "description": "a reset"},
        },
        required=[],
    ),
    "Token": obj({
        "id": ID,
        "name": nullable(TEXT),
        "is_active": {**BOOL, "description": "false once revoked"},
        "created_at": TIME,
        "last_used_at": nullable(TIME),
        "revoked_at": nullable(TIME),
    }),
    "NewToken": obj({
        "id": ID,
        "name": nullable(TEXT),
        "is_active": BOOL,
        "created_at": TIME,
        "last_used_at": nullable(TIME),
        "revoked_at": nullable(TIME),
        "token": {"type": "string", "description": "the bearer token; shown only in this answer"},
    }),
    "TokenCreate": obj({"name": nullable({"type": "string", "description": "a label"})}, required=[]),
}

# Column entry (SPEC §12): one session's roll call, video, scores and homework for many students.
GRID_WORD = enum(GRID_STATUSES, "the grid's word for a cell: none (before the start), upcoming (not held), "
                                "pending (held, not due, not completed), incomplete (due, not completed), completed")
SCHEMAS.update({
    "ColumnEntryHomework": obj(
        {"submitted": BOOL, "score": nullable(SCORE), "approved": BOOL}, required=[],
        description="A key left out keeps its value; a null score clears it.",
    ),
    "ColumnEntryRow": obj(
        {
            "enrollment_id": ID,
            "presence": nullable(enum(PRESENCE_VALUES, "sets attendance (present, late: offline; absent, excused: "
                                                       "online); null clears the roll call and leaves attendance")),
            "video_rate": int_range(0, 100),
            "scores": {"type": "object", "additionalProperties": SCORE,
                       "description": "exam id (of an exam linked to the session) -> score: replaces the result's "
                                      "score (hand-entered from then on), or creates attempt 1; with `retake`, a "
                                      "new attempt. A score cannot be deleted here."},
            "homework": {"type": "object", "additionalProperties": ref("ColumnEntryHomework"),
                         "description": "homework id (of the session) -> its submission"},
        },
        required=["enrollment_id"],
        description="Every key but `enrollment_id` is optional; a key left out changes nothing.",
    ),
    "ColumnEntry": obj(
        {"retake": {"type": "boolean", "default": False},
         "rows": {"type": "array", "items": ref("ColumnEntryRow")}},
        required=["rows"],
    ),
    "ColumnEntryResult": obj({
        "saved": COUNT,
        "changed": {"type": "array", "items": obj({"enrollment_id": ID, "session": ID, "before": GRID_WORD,
                                                   "after": GRID_WORD})},
    }, description="`changed` lists the cells whose grid word changed, by session order then enrollment."),
})


def page_of(item: str, description: str) -> Schema:
    """A list answer: `{"count", "next", "previous", "results"}` (SPEC §8)."""
    link = nullable({"type": "string", "format": "uri",
                     "description": "absolute URL of the other page, keeping every other parameter"})
    return obj(
        {"count": COUNT, "next": link, "previous": link, "results": {"type": "array", "items": ref(item)}},
        description=description,
    )


LIST_SCHEMAS: dict[str, Schema] = {
    "PolicyPage": page_of("Policy", "A page of policies."),
    "SessionProgressPage": page_of("SessionProgress", "A page of session progress."),
    "LectureProgressPage": page_of("LectureProgress", "A page of lecture progress."),
    "ClinicLinkPage": page_of("ClinicLink", "A page of clinic links."),
    "RiskLogPage": page_of("RiskLog", "A page of risk logs."),
    "ClinicSessionPage": page_of("ClinicSession", "A page of clinic sessions."),
    "AuditPage": page_of("AuditEntry", "A page of the audit trail."),
    "NotificationPage": page_of("Notification", "A page of messages to guardians."),
    "UserList": page_of("User", "Every user (not paginated: next and previous are always null)."),
    "TokenList": page_of("Token", "A user's tokens, revoked ones included (not paginated)."),
}


# ---------------------------------------------------------------- OMR scans (SPEC §10)

MARK = {"type": "string", "minLength": 1, "maxLength": 1, "description": "one mark, as in the answer key"}

OMR_SCHEMAS: dict[str, Schema] = {
    "OmrScan": obj(
        {
            "id": ID,
            "exam_id": ID,
            "enrollment_id": nullable({**ID, "description": "the scan's student once known"}),
            "status": enum(OMR_STATUSES),
            "review_reasons": {"type": "array", "items": enum(REVIEW_REASONS), "description": "sorted codes"},
            "attempt_no": nullable({**ID, "description": "null until graded"}),
            "score": nullable({**SCORE, "description": "null until graded"}),
            "error": nullable({"type": "string", "description": "the worker's error of a failed scan"}),
        },
        description="A scanned exam sheet (SPEC §10).",
    ),
    "OmrScanPage": page_of("OmrScan", "A page of OMR scans, oldest first."),
    "OmrScanCreate": obj({"exam_id": ID, "enrollment_id": nullable(ID)}, required=["exam_id"]),
    "OmrResult": obj(
        {
            "status": {"type": "string", "description": "DONE or FAILED (any case)"},
            "error": nullable(TEXT),
            "result": obj(
                {
                    "version": nullable({"type": "string", "maxLength": 64}),
                    "mode": nullable({"type": "string", "maxLength": 64}),
                    "meta_used": nullable(BOOL),
                    "identifier": nullable(obj({
                        "status": nullable({"type": "string", "description": "ok, blank, ambiguous or error"}),
                        "enrollment_id": nullable(ID),
                    }, required=[], closed=False)),
                    "answers": nullable({"type": "array", "items": obj({
                        "question": ID,
                        "detected": nullable({"type": "array", "items": MARK}),
                        "marking": nullable({"type": "string", "description": "single, blank or multi"}),
                        "confidence": nullable({"type": "number", "minimum": 0, "maximum": 1}),
                        "status": nullable({"type": "string", "description": "ok, or anything else (flagged)"}),
                    }, required=["question"], closed=False)}),
                },
                required=[], closed=False,
                description="Needed for DONE. An answer to a question not in the key refuses the payload.",
            ),
        },
        required=["status"], closed=False,
        description="The OMR worker's payload (the seed's shape); unknown keys are kept and ignored.",
    ),
    "OmrAssign": obj({"enrollment_id": ID}),
    "OmrCorrect": obj({"answers": {"type": "array", "minItems": 1, "items": obj({
        "question": {**ID, "description": "a question of the answer key"},
        "detected": nullable({"type": "array", "items": MARK, "description": "empty or null for a blank"}),
    })}}),
}


# ---------------------------------------------------------------- responses and parameters

ERROR_RESPONSES: dict[int, tuple[str, str, str]] = {
    400: ("Validation", "validation", "The request is invalid (a field, a query parameter or the JSON body); "
                                      "`field` names it."),
    401: ("Unauthorized", "unauthorized", "No token, or an unknown or revoked one, or a deactivated user."),
    403: ("Forbidden", "forbidden", "The caller's role may not do this, or the write names another lecture's "
                                    "enrollment or session."),
    404: ("NotFound", "not_found", "No such object, or it is outside the caller's lectures; for a list, a page "
                                   "past the last one."),
    405: ("MethodNotAllowed", "method_not_allowed", "A method not listed for this path (every path; the Allow "
                                                     "header lists the allowed ones)."),
    409: ("Conflict", "conflict", "The change conflicts with the stored data (or with a person's correction), "
                                  "the If-Match version is stale, or the Idempotency-Key was used for another "
                                  "request."),
    413: ("TooLarge", "too_large", "The body is over its limit (2 MB; 64 MB for the import)."),
    415: ("UnsupportedMediaType", "unsupported_media_type", "A body that is not sent as application/json."),
    429: ("RateLimited", "rate_limited", "More requests with this token than API_RATE_LIMIT allows; the "
                                        "Retry-After header says in how many seconds to try again."),
    503: ("Unavailable", "unavailable", "The database cannot be reached, or a conflict persisted after retries."),
}


def _error_response(code: str, description: str) -> Schema:
    schema = {"allOf": [ref("Error"), {"properties": {"error": {"const": code}}}]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> dict[str, Schema]:
    """References to the shared error responses; 401, 429 and 503 can answer any authenticated call,
    415 any call that may carry a body."""
    always = {401, 429, 503}
    if 413 in statuses:
        always.add(415)
    return {str(status): {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
            for status in sorted(always | set(statuses))}


def ok(schema_name: str, description: str, status: int = 200) -> dict[str, Schema]:
    return {str(status): {"description": description,
                          "content": {"application/json": {"schema": ref(schema_name)}}}}


def body(schema_name: str, description: str | None = None) -> Schema:
    request_body: Schema = {"required": True, "content": {"application/json": {"schema": ref(schema_name)}}}
    if description:
        request_body["description"] = description
    return request_body


def path_id(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": ID}


IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
            "description": "The object's `version` this write was based on, quoted (`\"3\"`); stale: 409, "
                           "nothing changes. Without it the write applies.",
            "schema": {"type": "string", "pattern": "^(W/)?\"[1-9][0-9]{0,8}\"$"}}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "Any 1..255 visible ASCII characters. The same key again (same user) answers "
                                  "the first answer and changes nothing; a refused request stores nothing.",
                   "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"}}


COMMON_PARAMETERS: dict[str, Schema] = {
    "page": {"name": "page", "in": "query", "required": False,
             "description": "From 1. Past the last page: 404; page 1 of an empty list: 200.",
             "schema": {"type": "integer", "minimum": 1, "default": 1}},
    "page_size": {"name": "page_size", "in": "query", "required": False,
                  "description": f"Default {DEFAULT_PAGE_SIZE}; larger values than {MAX_PAGE_SIZE} are capped.",
                  "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_PAGE_SIZE}},
    "search": {"name": "search", "in": "query", "required": False,
               "description": "Case-insensitive substring; `%` and `_` are ordinary characters.",
               "schema": {"type": "string"}},
    "include_withdrawn": {"name": "include_withdrawn", "in": "query", "required": False,
                          "description": "true to include withdrawn enrollments' rows (hidden by default).",
                          "schema": {"type": "boolean", "default": False}},
}

# Filters whose values are one of a fixed set (others take any id, boolean or text).
FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "risk_level": RISK_LEVELS,
    "rule": RISK_RULES,
    "reason": CLINIC_REASONS,
    "state": NOTIFICATION_STATES,
    "event": NOTIFICATION_EVENTS,
}
FILTER_DESCRIPTIONS: dict[str, str] = {
    "lecture": "Only this lecture's rows.",
    "enrollment_id": "Only this enrollment's rows.",
    "session": "Only this session's rows.",
    "completed": "Completed sessions only, or incomplete ones only.",
    "risk_level": "Only this risk level.",
    "rule": "Only this rule.",
    "reason": "Only this reason.",
    "is_auto": "Automatic links only, or people's requests only.",
    "approved": "Approved links only, or unapproved ones only.",
    "resolved": "Resolved links only (resolved_at set), or open ones only.",
    "object_type": "Only entries about this kind of object (policy, clinic_link, user, ...).",
    "object_id": "Only entries about this object id.",
    "action": "Only this action (policy.update, clinic_link.approve, ...).",
    "username": "Only entries made by this user.",
    "teacher": "Only clinic sessions taught by this user (username).",
    "cancelled": "Cancelled clinic sessions only, or scheduled ones only.",
    "state": "Only messages in this state.",
    "event": "Only messages about this event.",
}
SEARCH_FIELDS: dict[str, str] = {
    "policies": "lecture title",
    "session-progress": "student name, session title, lecture title",
    "lecture-progress": "student name, last session title, lecture title",
    "clinic-links": "student name, session title, lecture title, memo",
    "risk-logs": "student name, reason",
    "audit": "username, action, object type",
    "clinic-sessions": "room, note",
    "notifications": "student name, text",
}


def list_parameters(spec: ListSpec) -> list[Schema]:
    """The query parameters of one list, read from the resource table the list runs on."""
    parameters: list[Schema] = []
    for name, list_filter in spec.filters.items():
        if list_filter.kind == "int":
            schema: Schema = dict(ID)
        elif list_filter.kind == "bool":
            schema = {"type": "boolean"}
        elif name in FILTER_CHOICES:
            schema = enum(FILTER_CHOICES[name])
        else:
            schema = {"type": "string"}
        parameters.append({"name": name, "in": "query", "required": False,
                           "description": FILTER_DESCRIPTIONS[name], "schema": schema})
    search = dict(COMMON_PARAMETERS["search"])
    search["description"] = f"{search['description']} Over: {SEARCH_FIELDS[spec.name]}."
    parameters.append(search)
    fields = sorted(spec.ordering)
    default = spec.default_ordering[0]
    parameters.append({
        "name": "ordering", "in": "query", "required": False,
        "description": f"One field, `-` for descending; anything else is 400. Default `{default}`; `id` breaks "
                       "ties." + (" `risk_level` sorts by severity (NORMAL < WARNING < DANGER)."
                                  if "risk_level" in spec.ordering else ""),
        "schema": {"type": "string", "enum": [*fields, *(f"-{name}" for name in fields)], "default": default},
    })
    if spec.withdrawn_column is not None:
        parameters.append({"$ref": "#/components/parameters/include_withdrawn"})
    parameters += [{"$ref": "#/components/parameters/page"}, {"$ref": "#/components/parameters/page_size"}]
    return parameters


# ---------------------------------------------------------------- paths

PROGRESS_RESOURCES: dict[str, tuple[str, str, str]] = {
    # path segment -> (endpoint prefix, object schema, what one object is)
    "policies": ("policies", "Policy", "policy"),
    "session-progress": ("session_progress", "SessionProgress", "session-progress row"),
    "lecture-progress": ("lecture_progress", "LectureProgress", "lecture-progress row"),
    "clinic-links": ("clinic_links", "ClinicLink", "clinic link"),
    "risk-logs": ("risk_logs", "RiskLog", "risk log"),
}
DERIVED_NOTE = (" Lectures whose derived rows were computed for an earlier day are recomputed first "
                "(SPEC §7).")


def _progress_paths() -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    for segment, (endpoint, schema_name, noun) in PROGRESS_RESOURCES.items():
        spec = RESOURCES[segment]
        note = DERIVED_NOTE if spec.derived else ""
        paths[f"/api/progress/{segment}/"] = {"get": {
            "operationId": f"{endpoint}_list",
            "tags": ["progress"],
            "summary": f"List {segment.replace('-', ' ')}",
            "description": "Scoped to the caller's lectures (teachers: their own; admin and staff: all)." + note,
            "parameters": list_parameters(spec),
            "responses": {**ok(f"{schema_name}Page", f"A page of {noun}s."), **errors(400, 404)},
        }}
        paths[f"/api/progress/{segment}/{{object_id}}/"] = {
            "parameters": [path_id("object_id", f"the {noun}'s id")],
            "get": {
                "operationId": f"{endpoint}_detail",
                "tags": ["progress"],
                "summary": f"One {noun}",
                "description": f"404 when it does not exist or is outside the caller's lectures.{note}",
                "responses": {**ok(schema_name, f"The {noun}."), **errors(404)},
            },
        }
    paths["/api/progress/policies/{object_id}/"]["patch"] = {
        "operationId": "policy_update",
        "tags": ["progress"],
        "summary": "Change a policy (admin)",
        "description": "Validated on the merged policy by the same function as the policy form (SPEC §2); "
                       "an unknown or read-only field or any invalid value refuses the whole change (400 naming "
                       "the field, every problem in `errors`). A valid save recomputes the whole lecture.",
        "parameters": [IF_MATCH],
        "requestBody": body("PolicyChange"),
        "responses": {**ok("Policy", "The saved policy."), **errors(400, 403, 404, 409, 413)},
    }
    links = "/api/progress/clinic-links/"
    paths[links]["post"] = {
        "operationId": "clinic_link_create",
        "tags": ["clinic links"],
        "summary": "Request a clinic",
        "description": "MANUAL_REQUEST (admin, staff, the lecture's teacher) or TEACHER_RECOMMEND (admin, the "
                       "lecture's teacher); automatic reasons are 400. The session must belong to the "
                       "enrollment's lecture (400); unknown ids are 400; another lecture's enrollment or "
                       "session is 403.",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": body("ClinicLinkRequest"),
        "responses": {**ok("ClinicLink", "The new link.", 201), **errors(400, 403, 409, 413)},
    }
    paths[f"{links}{{object_id}}/"]["patch"] = {
        "operationId": "clinic_link_memo",
        "tags": ["clinic links"],
        "summary": "Edit a clinic link's memo",
        "description": "Admin, staff or the lecture's teacher. Any field but `memo` is 400. A memo edit keeps "
                       "the link under automatic management.",
        "parameters": [IF_MATCH],
        "requestBody": body("ClinicLinkMemo"),
        "responses": {**ok("ClinicLink", "The link."), **errors(400, 403, 404, 409, 413)},
    }
    what = {
        "approve": "A clinic slot is arranged.",
        "resolve": "The clinic took place, or the booking is closed.",
        "reopen": "Open a resolved link again.",
    }
    for action, meaning in what.items():
        paths[f"{links}{{link_id}}/{action}/"] = {
            "parameters": [path_id("link_id", "the clinic link's id")],
            "post": {
                "operationId": f"clinic_link_{action}",
                "tags": ["clinic links"],
                "summary": f"{action.capitalize()} a clinic link (admin, staff)",
                "description": f"{meaning} Records who and when, and takes the link out of automatic "
                               "management. An action that would change nothing answers 200 and records "
                               "nothing. A teacher gets 403 (404 outside their lectures). No body needed; "
                               "If-Match (or a JSON body `{\"version\": n}`) refuses a stale one with 409.",
                "parameters": [IF_MATCH, IDEMPOTENCY_KEY],
                "responses": {**ok("ClinicLink", "The link."), **errors(400, 403, 404, 409, 415)},
            },
        }
    return paths


def _other_paths() -> dict[str, Schema]:
    audit = RESOURCES["audit"]
    user_id = path_id("user_id", "the user's id")
    token_id = path_id("token_id", "the token's id")
    revoke_description = "Revoking a revoked token changes nothing and answers 200."
    return {
        "/api/import": {"post": {
            "operationId": "import_snapshot",
            "tags": ["import"],
            "summary": "Import a snapshot (admin)",
            "description": "SPEC §9, the same code as `flask import-snapshot`, in one transaction. A rejected "
                           "snapshot is 400 with `field` naming the first bad item (`attempts[3].score`) and "
                           "`errors` listing all; nothing is written. Body limit 64 MB.",
            "requestBody": body("Snapshot"),
            "responses": {**ok("ImportResult", "What was created, updated and deleted (all zeros for a "
                                               "re-import)."), **errors(400, 403, 409, 413)},
        }},
        "/api/lectures/{lecture_id}/sessions/{session_id}/entry": {
            "parameters": [path_id("lecture_id", "the lecture's id"), path_id("session_id", "a session of the lecture")],
            "put": {
                "operationId": "column_entry",
                "tags": ["entry"],
                "summary": "Save one session's column for many students (admin, the lecture's teacher or assistant)",
                "description": "SPEC §12. A session not in the lecture is 404 before any role check; staff not "
                               "assigned to the lecture get 403. One transaction and one recompute of the cells "
                               "the changes feed. Any invalid value refuses the whole request (400 naming "
                               "`rows[i].presence`, `rows[i].video_rate`, `rows[i].scores.<exam_id>`, "
                               "`rows[i].homework.<homework_id>.score`, every problem in `errors`); an "
                               "`enrollment_id` not of the lecture is a 400.",
                "requestBody": body("ColumnEntry"),
                "responses": {**ok("ColumnEntryResult", "How many rows were saved and which cells changed their "
                                                        "grid word."), **errors(400, 403, 404, 413)},
            },
        },
        "/api/audit": {"get": {
            "operationId": "audit_list",
            "tags": ["audit"],
            "summary": "The audit trail (admin)",
            "description": "Every change made through the API or the UI, newest first.",
            "parameters": list_parameters(audit),
            "responses": {**ok("AuditPage", "A page of audit entries."), **errors(400, 403, 404)},
        }},
        "/api/audit/{entry_id}": {
            "parameters": [path_id("entry_id", "the audit entry's id")],
            "get": {
                "operationId": "audit_detail",
                "tags": ["audit"],
                "summary": "One audit entry (admin)",
                "responses": {**ok("AuditEntry", "The entry."), **errors(403, 404)},
            },
        },
        "/api/users/": {
            "get": {
                "operationId": "list_users",
                "tags": ["users"],
                "summary": "Every user (admin)",
                "responses": {**ok("UserList", "Every user, by username."), **errors(403)},
            },
            "post": {
                "operationId": "create_user",
                "tags": ["users"],
                "summary": "Add a user (admin)",
                "description": "An existing username is 409; an unknown lecture id is 400.",
                "requestBody": body("UserCreate"),
                "responses": {
                    "201": {"description": "The new user.",
                            "headers": {"Location": {"description": "the user's URL",
                                                     "schema": {"type": "string"}}},
                            "content": {"application/json": {"schema": ref("User")}}},
                    **errors(400, 403, 409, 413),
                },
            },
        },
        "/api/users/{user_id}/": {
            "parameters": [user_id],
            "get": {
                "operationId": "user_detail",
                "tags": ["users"],
                "summary": "One user (admin)",
                "responses": {**ok("User", "The user."), **errors(403, 404)},
            },
            "patch": {
                "operationId": "update_user",
                "tags": ["users"],
                "summary": "Change a user (admin)",
                "description": "Role, lectures, active or not (deactivating stops their sessions and tokens "
                               "at once), or a password reset.",
                "requestBody": body("UserChange"),
                "responses": {**ok("User", "The user."), **errors(400, 403, 404, 409, 413)},
            },
        },
        "/api/users/{user_id}/tokens/": {
            "parameters": [user_id],
            "get": {
                "operationId": "list_user_tokens",
                "tags": ["users"],
                "summary": "A user's API tokens (admin)",
                "description": "Never the token itself.",
                "responses": {**ok("TokenList", "The tokens."), **errors(403, 404)},
            },
            "post": {
                "operationId": "create_user_token",
                "tags": ["users"],
                "summary": "Issue a token (admin)",
                "description": "The answer is the only time the token is shown.",
                "requestBody": body("TokenCreate"),
                "responses": {**ok("NewToken", "The token, with its secret.", 201),
                              **errors(400, 403, 404, 409, 413)},
            },
        },
        "/api/users/{user_id}/tokens/{token_id}/": {
            "parameters": [user_id, token_id],
            "delete": {
                "operationId": "revoke_user_token",
                "tags": ["users"],
                "summary": "Revoke a token (admin)",
                "description": revoke_description,
                "responses": {**ok("Token", "The revoked token."), **errors(403, 404)},
            },
        },
        "/api/users/{user_id}/tokens/{token_id}/revoke/": {
            "parameters": [user_id, token_id],
            "post": {
                "operationId": "revoke_user_token_post",
                "tags": ["users"],
                "summary": "Revoke a token (admin; the same as DELETE on the token)",
                "description": revoke_description,
                "responses": {**ok("Token", "The revoked token."), **errors(403, 404)},
            },
        },
        "/api/openapi.json": {"get": {
            "operationId": "openapi_document",
            "tags": ["meta"],
            "summary": "This document",
            "description": "Public: no token needed.",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
    }


def _notification_paths() -> dict[str, Schema]:
    message_id = path_id("notification_id", "the message's id")
    lecture_id = path_id("lecture_id", "the lecture's id")
    actions = {
        "approve": "A message awaiting review is queued for sending; a failed one is queued again (a resend). "
                   "Approving a queued message changes nothing. A message sent, being sent or cancelled is 409.",
        "cancel": "A message not yet sent (or failed) is cancelled; cancelling a cancelled one changes nothing. "
                  "A sent or sending message is 409.",
    }
    paths: dict[str, Schema] = {
        "/api/notifications/": {"get": {
            "operationId": "notification_list",
            "tags": ["notifications"],
            "summary": "Messages to guardians",
            "description": "Scoped to the caller's lectures (teachers: their own), newest first.",
            "parameters": list_parameters(RESOURCES["notifications"]),
            "responses": {**ok("NotificationPage", "A page of messages."), **errors(400, 404)},
        }},
        "/api/lectures/{lecture_id}/notification-settings/": {
            "parameters": [lecture_id],
            "get": {
                "operationId": "notification_settings",
                "tags": ["notifications"],
                "summary": "A lecture's notification settings (admin)",
                "responses": {**ok("NotificationSettings", "The settings."), **errors(403, 404)},
            },
            "patch": {
                "operationId": "notification_settings_update",
                "tags": ["notifications"],
                "summary": "Change a lecture's notification settings (admin)",
                "description": "Messages already created are left as they are. An unknown field or event is 400.",
                "requestBody": body("NotificationSettingsChange"),
                "responses": {**ok("NotificationSettings", "The saved settings."),
                              **errors(400, 403, 404, 409, 413)},
            },
        },
    }
    for action, description in actions.items():
        paths[f"/api/notifications/{{notification_id}}/{action}/"] = {
            "parameters": [message_id],
            "post": {
                "operationId": f"notification_{action}",
                "tags": ["notifications"],
                "summary": f"{action.capitalize()} a message (admin, the lecture's teacher)",
                "description": description + " Staff get 403; a message outside the caller's lectures is 404. "
                                             "No body.",
                "responses": {**ok("Notification", "The message."), **errors(403, 404, 409)},
            },
        }
    return paths


def _omr_paths() -> dict[str, Schema]:
    scans = "/api/omr-scans/"
    scan_id = path_id("scan_id", "the scan's id")
    roles = " Admin and staff; the lecture's teacher too. A scan outside the caller's lectures is 404."

    def review(action: str, summary: str, description: str, schema_name: str) -> Schema:
        return {
            "parameters": [scan_id],
            "post": {
                "operationId": f"omr_scan_{action}",
                "tags": ["omr"],
                "summary": summary,
                "description": description,
                "requestBody": body(schema_name),
                "responses": {**ok("OmrScan", "The scan."), **errors(400, 403, 404, 409, 413)},
            },
        }

    return {
        scans: {
            "get": {
                "operationId": "omr_scan_list",
                "tags": ["omr"],
                "summary": "List OMR scans (the review queue)",
                "description": "The scans the caller may see, oldest first.",
                "parameters": [
                    {"name": "needs_review", "in": "query", "required": False,
                     "description": "Scans waiting for a person (needs_review, or graded with flagged "
                                    "answers), or the others.",
                     "schema": {"type": "boolean"}},
                    {"name": "exam_id", "in": "query", "required": False, "description": "Only this exam's scans.",
                     "schema": ID},
                    {"name": "enrollment_id", "in": "query", "required": False,
                     "description": "Only this enrollment's scans.", "schema": ID},
                    {"name": "status", "in": "query", "required": False, "description": "Only this status.",
                     "schema": enum(OMR_STATUSES)},
                    {"$ref": "#/components/parameters/page"},
                    {"$ref": "#/components/parameters/page_size"},
                ],
                "responses": {**ok("OmrScanPage", "A page of scans."), **errors(400, 404)},
            },
            "post": {
                "operationId": "omr_scan_register",
                "tags": ["omr"],
                "summary": "Register a scan (admin, staff)",
                "description": "An unknown exam, an exam without an answer key or an enrollment that does not "
                               "sit the exam is 400.",
                "requestBody": body("OmrScanCreate"),
                "responses": {**ok("OmrScan", "The registered scan (pending).", 201),
                              **errors(400, 403, 409, 413)},
            },
        },
        f"{scans}{{scan_id}}/": {
            "parameters": [scan_id],
            "get": {
                "operationId": "omr_scan_detail",
                "tags": ["omr"],
                "summary": "One scan with its status, reasons and attempt",
                "description": roles,
                "responses": {**ok("OmrScan", "The scan."), **errors(404)},
            },
        },
        f"{scans}{{scan_id}}/result/": review(
            "result", "The OMR worker's result (admin, staff)",
            "The same payload twice changes nothing; a different one regrades the attempt unless a person "
            "corrected the scan (409). FAILED fails a pending or needs-review scan; a graded scan cannot "
            "fail nor change student (409).", "OmrResult"),
        f"{scans}{{scan_id}}/assign/": review(
            "assign", "Assign the scan's student",
            "For a scan waiting for review: it becomes that enrollment's next attempt and recomputes. "
            "Assigning a graded scan to another student is 409." + roles, "OmrAssign"),
        f"{scans}{{scan_id}}/correct/": review(
            "correct", "Correct answers as read by a person",
            "Those answers count as read (unflagged); the attempt is regraded and recomputed." + roles,
            "OmrCorrect"),
    }


# ---------------------------------------------------------------- clinic sessions and bookings (SPEC §13)

CLINIC_SESSION_INPUT: dict[str, Schema] = {
    "starts_at": {"type": "string", "description": "ISO 8601; without an offset it is read in the academy's timezone"},
    "ends_at": {"type": "string", "description": "ISO 8601, after starts_at"},
    "room": nullable({"type": "string", "maxLength": ROOM_MAX_LENGTH}),
    "capacity": int_range(1, 10_000),
    "lecture": {**nullable(ID), "description": "null: open to every lecture"},
    "lecture_id": {**nullable(ID), "description": "accepted for `lecture`"},
    "teacher": {"anyOf": [{"type": "string"}, ID, {"type": "null"}],
                "description": "the teaching user's username (or id)"},
    "teacher_id": {**nullable(ID), "description": "accepted for `teacher`"},
    "note": nullable({"type": "string", "maxLength": NOTE_MAX_LENGTH}),
}

CLINIC_SCHEMAS: dict[str, Schema] = {
    "ClinicSession": obj(
        {
            "id": ID,
            "starts_at": TIME,
            "ends_at": TIME,
            "room": nullable(TEXT),
            "capacity": int_range(1),
            "lecture": nullable(ID),
            "teacher": USERNAME,
            "note": nullable(TEXT),
            "booked": {**COUNT, "description": "active bookings (not cancelled, not no-show)"},
            "cancelled_at": nullable(TIME),
            "created_by": USERNAME,
            **STAMPS,
        },
        description="A scheduled remedial class (SPEC §13).",
    ),
    "ClinicSessionCreate": obj(CLINIC_SESSION_INPUT, required=["starts_at", "ends_at", "capacity"],
                               description="A new clinic session."),
    "ClinicSessionChange": obj(CLINIC_SESSION_INPUT, required=[],
                               description="The fields to change; the others keep their values."),
    "ClinicBooking": obj(
        {
            "id": ID,
            "clinic_session": ID,
            "enrollment_id": ID,
            "link_ids": {"type": "array", "items": ID},
            "attendance": nullable(enum(ATTENDANCE_CHOICES)),
            "cancelled_at": nullable(TIME),
            "created_at": TIME,
            "created_by": USERNAME,
            "updated_at": TIME,
        },
        description="One enrollment booked into one clinic session for some of its open clinic links.",
    ),
    "ClinicBookingCreate": obj(
        {"enrollment_id": ID,
         "link_ids": {"type": "array", "items": ID, "minItems": 1,
                      "description": "open clinic links of that enrollment"}},
        description="Whom to book and which of their links the clinic covers.",
    ),
    "ClinicBookingMark": obj({"attendance": enum(ATTENDANCE_CHOICES)}, description="The roll call."),
}


def _clinic_paths() -> dict[str, Schema]:
    sessions = "/api/clinic/sessions/"
    session_id = path_id("clinic_session_id", "the clinic session's id")
    booking_id = path_id("booking_id", "the booking's id")
    managers = " Admins and staff; a teacher gets 403 (404 for a clinic session they cannot see)."
    return {
        sessions: {
            "get": {
                "operationId": "clinic_session_list",
                "tags": ["clinic sessions"],
                "summary": "List clinic sessions",
                "description": "Soonest first. A teacher sees their lectures' clinic sessions and the open ones.",
                "parameters": list_parameters(RESOURCES["clinic-sessions"]),
                "responses": {**ok("ClinicSessionPage", "A page of clinic sessions."), **errors(400, 404)},
            },
            "post": {
                "operationId": "clinic_session_create",
                "tags": ["clinic sessions"],
                "summary": "Schedule a clinic session",
                "description": "ends_at after starts_at, capacity >= 1; an unknown lecture or teacher is 400."
                               + managers,
                "requestBody": body("ClinicSessionCreate"),
                "responses": {**ok("ClinicSession", "The new clinic session.", 201), **errors(400, 403, 413)},
            },
        },
        f"{sessions}{{clinic_session_id}}/": {
            "parameters": [session_id],
            "get": {
                "operationId": "clinic_session_detail",
                "tags": ["clinic sessions"],
                "summary": "One clinic session",
                "description": "404 when it does not exist or the caller cannot see it.",
                "responses": {**ok("ClinicSession", "The clinic session."), **errors(404)},
            },
            "patch": {
                "operationId": "clinic_session_edit",
                "tags": ["clinic sessions"],
                "summary": "Change a clinic session",
                "description": "A capacity below its active bookings, or a time that makes a booked student "
                               "overlap another of their clinics, is 409; so is changing a cancelled one."
                               + managers,
                "requestBody": body("ClinicSessionChange"),
                "responses": {**ok("ClinicSession", "The clinic session."), **errors(400, 403, 404, 409, 413)},
            },
        },
        f"{sessions}{{clinic_session_id}}/cancel/": {
            "parameters": [session_id],
            "post": {
                "operationId": "clinic_session_cancel",
                "tags": ["clinic sessions"],
                "summary": "Cancel a clinic session",
                "description": "Cancels its active bookings too (their links go back to open and not "
                               "approved). Cancelling again changes nothing. No body." + managers,
                "responses": {**ok("ClinicSession", "The clinic session."), **errors(403, 404)},
            },
        },
        f"{sessions}{{clinic_session_id}}/bookings/": {
            "parameters": [session_id],
            "post": {
                "operationId": "clinic_booking_create",
                "tags": ["clinic sessions"],
                "summary": "Book a student into a clinic session",
                "description": "Approves the booked links. Admins and staff; a teacher into a clinic session "
                               "they teach, for their own lectures' students (403 otherwise). An enrollment of "
                               "another lecture than the clinic session's, or link_ids that are not open links "
                               "of that enrollment, are 400. A full clinic session, the student already booked "
                               "there or elsewhere at an overlapping time, a link already booked, or a "
                               "cancelled clinic session is 409.",
                "requestBody": body("ClinicBookingCreate"),
                "responses": {**ok("ClinicBooking", "The new booking.", 201),
                              **errors(400, 403, 404, 409, 413)},
            },
        },
        "/api/clinic/bookings/{booking_id}/": {
            "parameters": [booking_id],
            "patch": {
                "operationId": "clinic_booking_mark",
                "tags": ["clinic sessions"],
                "summary": "Take a booking's roll call",
                "description": "`attended` resolves the booked links; `no_show` puts them back to open and not "
                               "approved. A cancelled or no-show booking cannot be marked again (409). Admins, "
                               "staff, or the clinic session's teacher.",
                "requestBody": body("ClinicBookingMark"),
                "responses": {**ok("ClinicBooking", "The booking."), **errors(400, 403, 404, 409, 413)},
            },
        },
        "/api/clinic/bookings/{booking_id}/cancel/": {
            "parameters": [booking_id],
            "post": {
                "operationId": "clinic_booking_cancel",
                "tags": ["clinic sessions"],
                "summary": "Cancel a booking",
                "description": "Its links go back to open and not approved; the booking stays as history. "
                               "Cancelling again changes nothing. Admins, staff, or the clinic session's "
                               "teacher. No body.",
                "responses": {**ok("ClinicBooking", "The booking."), **errors(403, 404)},
            },
        },
    }


# ---------------------------------------------------------------- reports (SPEC §15)

MONTH = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "description": "YYYY-MM"}

REPORT_SCHEMAS: dict[str, Schema] = {
    "ReportLinkCreate": obj({
        "days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 14,
                 "description": "days until the link expires"},
        "month": nullable({**MONTH, "description": "the report's month (YYYY-MM); default: the academy's current month"}),
    }, required=[]),
    "ReportLinkCreated": obj({
        "id": ID,
        "url": {"type": "string", "format": "uri",
                "description": "the absolute address (DASHBOARD_BASE_URL when set); shown only in this answer"},
        "expires_at": {**TIME, "description": "the real clock's now + days"},
    }, description="A new parent link."),
    "ReportLink": obj({
        "id": ID,
        "enrollment_id": ID,
        "month": MONTH,
        "expires_at": TIME,
        "revoked_at": nullable(TIME),
        "created_at": TIME,
    }, description="A parent link (never its address: only a hash of its token is stored)."),
}


def _report_paths() -> dict[str, Schema]:
    roles = " Admins and the lecture's teacher; other roles 403 (before the body is read); outside the caller's lectures 404."
    return {
        "/api/reports/{enrollment_id}/links/": {
            "parameters": [path_id("enrollment_id", "the enrollment whose report the link opens")],
            "post": {
                "operationId": "create_report_link",
                "tags": ["reports"],
                "summary": "Create a parent link to a student's monthly report",
                "description": "A signed, expiring, revocable address that opens that one report without an "
                               "account; a tampered, expired or revoked link answers 404. The body is optional."
                               + roles,
                "requestBody": {**body("ReportLinkCreate"), "required": False},
                "responses": {**ok("ReportLinkCreated", "The new link.", 201), **errors(400, 403, 404, 413)},
            },
        },
        "/api/report-links/{report_link_id}/revoke/": {
            "parameters": [path_id("report_link_id", "the parent link's id")],
            "post": {
                "operationId": "revoke_report_link",
                "tags": ["reports"],
                "summary": "Revoke a parent link",
                "description": "It answers 404 from now on; revoking a revoked link changes nothing." + roles,
                "responses": {**ok("ReportLink", "The revoked link."), **errors(403, 404)},
            },
        },
    }


def _every_post_takes_an_idempotency_key(paths: dict[str, Schema]) -> None:
    """SPEC §8: any POST may carry Idempotency-Key; a body not sent as JSON answers 415."""
    for item in paths.values():
        post = item.get("post")
        if post is None or post.get("security") == []:
            continue
        parameters = post.setdefault("parameters", [])
        if IDEMPOTENCY_KEY not in parameters:
            parameters.append(IDEMPOTENCY_KEY)
        post["responses"].setdefault("415", {"$ref": "#/components/responses/UnsupportedMediaType"})
        post["responses"].setdefault("409", {"$ref": "#/components/responses/Conflict"})
        post["responses"].setdefault("400", {"$ref": "#/components/responses/Validation"})


@lru_cache(maxsize=1)
def build_document() -> dict[str, Any]:
    """The whole document."""
    paths = {**_progress_paths(), **_other_paths(), **_clinic_paths(), **_notification_paths(), **_report_paths(),
             **_omr_paths()}
    schemas = {**SCHEMAS, **LIST_SCHEMAS, **CLINIC_SCHEMAS, **REPORT_SCHEMAS, **OMR_SCHEMAS}
    tags = ["progress", "clinic links", "clinic sessions", "entry", "import", "audit", "users", "notifications",
            "reports", "omr", "meta"]
    _every_post_takes_an_idempotency_key(paths)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Academy progress dashboard API", "version": API_VERSION, "description": DESCRIPTION},
        "tags": [{"name": name} for name in tags],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "A token from `flask --app wsgi create-token USERNAME`; it carries its user's role.",
            }},
            "schemas": schemas,
            "parameters": {name: COMMON_PARAMETERS[name] for name in ("page", "page_size", "include_withdrawn")},
            "responses": {name: _error_response(code, description)
                          for name, code, description in ERROR_RESPONSES.values()},
        },
    }

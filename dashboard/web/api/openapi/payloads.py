"""Schemas of the documents whose rules live in their own service and that the API only passes on:
the snapshot (dashboard.importer, SPEC §9) and its import counts, a session's column entry
(dashboard.lectures.entry, SPEC §12) and the OMR worker's result (dashboard.omr, SPEC §10).
tests/web/test_openapi.py checks the snapshot's items against the importer's own field lists."""
from __future__ import annotations

from dashboard.importer.snapshot import KINDS as IMPORT_KINDS
from dashboard.models import ATTENDANCE_TYPES, GUARDIAN_CHANNELS, GUARDIAN_LANGUAGES, INVALID_REASONS, PRESENCE_VALUES
from dashboard.progress.rules import GRID_STATUSES
from dashboard.web.api.fields import BOOL as _BOOL, DATE as _DATE, SCORE as _SCORE, TIME as _TIME, nullable, obj
from dashboard.web.api.openapi.parts import COUNT, ID, Schema, enum, ref

BOOL, DATE, SCORE, TIME, TEXT = _BOOL.schema, _DATE.schema, _SCORE.schema, _TIME.schema, {"type": "string"}


def int_range(lowest: int, highest: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "minimum": lowest}
    if highest is not None:
        schema["maximum"] = highest
    return schema


MARK = {"type": "string", "minLength": 1, "maxLength": 1, "description": "one mark, as in the answer key"}

PAYLOADS: dict[str, Schema] = {
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
}

# Column entry (SPEC §12): one session's roll call, video, scores and homework for many students.
GRID_WORD = enum(GRID_STATUSES, "the grid's word for a cell: none (before the start), upcoming (not held), "
                                "pending (held, not due, not completed), incomplete (due, not completed), completed")
PAYLOADS.update({
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

PAYLOADS["OmrResult"] = obj(
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
)
PAYLOADS.update({
    "OmrScanCreate": obj({"exam_id": ID, "enrollment_id": nullable(ID)}, required=["exam_id"]),
    "OmrAssign": obj({"enrollment_id": ID}),
    "OmrCorrect": obj({"answers": {"type": "array", "minItems": 1, "items": obj({
        "question": {**ID, "description": "a question of the answer key"},
        "detected": nullable({"type": "array", "items": MARK, "description": "empty or null for a blank"}),
    })}}),
})

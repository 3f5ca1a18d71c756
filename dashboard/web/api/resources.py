"""What each API object is made of: one description per resource (SPEC §8, §10, §13–15).

Each `Shape` below is both the serializer and the OpenAPI schema of an object the API answers;
each `Body` is both the input check (where the API itself checks) and the OpenAPI schema of an
object it takes. To add a field to an answer, add one `field(...)` line to its shape (and the
value to the row the list query selects, if it is a joined one): the JSON and the document
follow. See docs/architecture.md, "a new API field".

Field order is the order of the JSON object. Times are answered with the academy's offset,
scores as exact JSON numbers (SPEC §1, §8); foreign keys as integer ids, people as usernames.
"""
from __future__ import annotations

from collections import namedtuple

from dashboard.accounts.users import MAX_TOKEN_DAYS, TOKEN_HINT_LENGTH
from dashboard.clinic.links import MANUAL_REASONS, MEMO_MAX_LENGTH
from dashboard.clinic.sessions import ATTENDANCE_CHOICES, NOTE_MAX_LENGTH, ROOM_MAX_LENGTH
from dashboard.models import (
    ATTENDANCE_TYPES,
    CLINIC_REASONS,
    GUARDIAN_CHANNELS,
    NOTIFICATION_EVENTS,
    NOTIFICATION_STATES,
    OMR_STATUSES,
    PRESENCE_VALUES,
    RISK_LEVELS,
    RISK_RULES,
    ROLES,
)
from dashboard.omr.grading import REVIEW_REASONS
from dashboard.progress.policy_validation import EXAM_AGGREGATE_STRATEGIES, EXAM_PASS_SOURCES, HOMEWORK_PASS_TYPES
from dashboard.reports.figures import Month
from dashboard.reports.links import DEFAULT_DAYS, MAX_DAYS
from dashboard.web.api.fields import (
    BOOL,
    COUNT,
    ID,
    SCORE,
    TEXT,
    TIME,
    USERNAME,
    VERSION,
    VERSION_GIVEN,
    Body,
    Field,
    Kind,
    Shape,
    choice,
    field,
    integer,
    json_value,
    list_of,
    nullable,
    obj,
    stamps,
    text,
)

# ---------------------------------------------------------------- policies (SPEC §2)

POLICY_FIELDS: list[Field] = [
    field("video_required_rate", integer(0, 100)),
    field("exam_start_session_order", integer(1)),
    field("exam_end_session_order", integer(1), ">= exam_start_session_order"),
    field("exam_pass_score", SCORE),
    field("exam_aggregate_strategy", choice(EXAM_AGGREGATE_STRATEGIES)),
    field("exam_pass_source", choice(EXAM_PASS_SOURCES)),
    field("homework_start_session_order", integer(1)),
    field("homework_end_session_order", integer(1), ">= homework_start_session_order"),
    field("homework_pass_type", choice(HOMEWORK_PASS_TYPES)),
    field("homework_cutline_percent", integer(0, 100)),
    field("homework_round_unit", integer(1, 100)),
    field("completion_grace_days", integer(0, 365)),
    field("risk_warning_consecutive", integer(1)),
    field("risk_danger_consecutive", integer(1), ">= risk_warning_consecutive"),
]

POLICY = Shape("Policy", "A lecture's pass policy (SPEC §2).", [
    field("id", ID), field("lecture", ID, source="lecture_id"), *POLICY_FIELDS, field("version", VERSION),
    *stamps(),
])

POLICY_CHANGE = Body(
    "PolicyChange",
    "Only the fields to change; validated on the merged policy (stored values plus the change). Any other field "
    "is refused with 400. `version` (optional): the version this change was based on; a stale one answers 409 "
    "and changes nothing.",
    [*POLICY_FIELDS, field("version", VERSION_GIVEN)], checked_by_service=True,
)

# ---------------------------------------------------------------- derived rows (SPEC §3–5)

def _about_a_cell() -> list[Field]:
    """The (enrollment, session) a row is about, with its lecture and the student's name joined."""
    return [
        field("enrollment_id", ID),
        field("session", ID, source="session_id"),
        field("lecture", ID, source="row.lecture_id"),
        field("student_name", TEXT, source="row.student_name"),
    ]


EXAM_META = json_value(obj(
    {
        "strategy": choice(EXAM_AGGREGATE_STRATEGIES).schema,
        "pass_source": choice(EXAM_PASS_SOURCES).schema,
        "note": nullable(choice(("out_of_exam_range", "no_exams_in_session", "no_results")).schema),
        "aggregate_pass_score": nullable(SCORE.schema),
        "exams": {"type": "array", "items": obj({
            "exam_id": ID.schema,
            "score": nullable(SCORE.schema),
            "max_score": SCORE.schema,
            "pass_score": SCORE.schema,
            "passed": nullable(BOOL.schema),
            "submitted_at": nullable(TIME.schema),
            "attempt_count": COUNT.schema,
        }, closed=False)},
    },
    required=[], closed=False,
    description="How the exam part was decided: the strategy, the pass line, each linked exam's result.",
))

SESSION_PROGRESS = Shape("SessionProgress", "One (enrollment, held session) (SPEC §3). Derived: read only.", [
    field("id", ID),
    *_about_a_cell(),
    field("attendance_type", choice(ATTENDANCE_TYPES)),
    field("presence", choice(PRESENCE_VALUES), "the roll call (SPEC §12); null when not taken", null=True,
          source="row.presence"),
    field("video_progress_rate", integer(0, 100)),
    field("video_completed", BOOL),
    field("exam_attempted", BOOL),
    field("exam_aggregate_score", SCORE, null=True),
    field("exam_passed", BOOL),
    field("exam_meta", EXAM_META, null=True),
    field("homework_submitted", BOOL),
    field("homework_passed", BOOL),
    field("completed", BOOL),
    field("completed_at", TIME, null=True),
    field("calculated_at", TIME, null=True),
    field("meta", json_value({"type": "object"}), null=True),
    *stamps(),
])

LECTURE_PROGRESS = Shape(
    "LectureProgress", "One enrollment's progress in its lecture (SPEC §4). Derived: read only.", [
        field("id", ID),
        field("enrollment_id", ID),
        field("lecture", ID, source="lecture_id"),
        field("student_name", TEXT, source="row.student_name"),
        field("total_sessions", COUNT),
        field("completed_sessions", COUNT),
        field("failed_sessions", COUNT),
        field("consecutive_failed_sessions", COUNT),
        field("risk_level", choice(RISK_LEVELS)),
        field("last_session", ID, "the latest due session, null when none is due", null=True,
              source="last_session_id"),
        field("last_updated", TIME, null=True),
        field("meta", json_value(obj({
            "low_score_consecutive": COUNT.schema,
            "incomplete_level": choice(RISK_LEVELS).schema,
            "low_score_level": choice(RISK_LEVELS).schema,
        }, required=[], closed=False)), null=True),
        *stamps(),
    ])

RISK_LOG = Shape(
    "RiskLog", "History: one row per (enrollment, session, level, rule) found (SPEC §5). Derived: read only.", [
        field("id", ID),
        field("enrollment_id", ID),
        field("session", ID, "null once the session is deleted", null=True, source="session_id"),
        field("lecture", ID, source="row.lecture_id"),
        field("student_name", TEXT, source="row.student_name"),
        field("risk_level", choice(("WARNING", "DANGER"))),
        field("rule", choice(RISK_RULES)),
        field("reason", TEXT, null=True),
        field("meta", json_value(obj({"count": COUNT.schema}, required=[], closed=False)), null=True),
        *stamps(),
    ])

# ---------------------------------------------------------------- clinic links (SPEC §6)

EXAM_RISK = obj(
    {
        "LOW_SCORE": obj({"score": SCORE.schema, "pass_score": SCORE.schema}, closed=False),
        "LOW_CONFIDENCE_OMR": obj({"count": COUNT.schema, "threshold": COUNT.schema}, closed=False),
        "REPEATED_WRONG": obj({"questions": {"type": "array", "items": ID.schema}}, closed=False),
    },
    required=[], closed=False,
)

CLINIC_LINK = Shape("ClinicLink", "A clinic (remedial class) queue entry (SPEC §6).", [
    field("id", ID),
    *_about_a_cell(),
    field("reason", choice(CLINIC_REASONS)),
    field("is_auto", BOOL),
    field("approved", BOOL),
    field("resolved_at", TIME, null=True),
    field("memo", TEXT, null=True),
    field("meta", json_value(obj(
        {
            "video_completed": BOOL.schema,
            "exam_passed": BOOL.schema,
            "homework_passed": BOOL.schema,
            "exam_reasons": {"type": "object", "additionalProperties": EXAM_RISK,
                             "description": "exam id -> its risk reasons (AUTO_RISK)"},
            "auto_resolved": BOOL.schema,
        },
        required=[], closed=False,
        description="AUTO_FAILED: which parts failed; AUTO_RISK: exam_reasons; null for a person's request.",
    )), null=True),
    field("auto_managed", BOOL, "false once a person approved, resolved or reopened it"),
    field("created_by", USERNAME, null=True, source="row.created_by"),
    field("approved_by", USERNAME, null=True, source="row.approved_by"),
    field("approved_at", TIME, null=True),
    field("resolved_by", USERNAME, null=True, source="row.resolved_by"),
    field("reopened_by", USERNAME, null=True, source="row.reopened_by"),
    field("reopened_at", TIME, null=True),
    field("booking", ID, "the active booking covering this link (SPEC §13), or null", null=True,
          source="row.booking_id"),
    field("version", VERSION),
    *stamps(),
])

CLINIC_LINK_REQUEST = Body(
    "ClinicLinkRequest", "A person's clinic request; `session` (or `session_id`) is required too.", [
        field("enrollment_id", ID),
        field("session", ID, "a session of the enrollment's lecture"),
        field("session_id", ID, "accepted for `session` (both, with different values, is refused)"),
        field("reason", choice(MANUAL_REASONS), "TEACHER_RECOMMEND: admin or the lecture's teacher only"),
        field("memo", text(MEMO_MAX_LENGTH, min_length=1)),
    ], required=("enrollment_id", "reason", "memo"), checked_by_service=True)

CLINIC_LINK_MEMO = Body(
    "ClinicLinkMemo", "The memo is the only field a person edits directly (`version`, optional: the version this "
                      "edit was based on; stale: 409).", [
        field("memo", text(MEMO_MAX_LENGTH), "required (not blank) on a person's request; may be null on an "
                                             "automatic link", null=True),
        field("version", VERSION_GIVEN),
    ], required=("memo",), checked_by_service=True)

# ---------------------------------------------------------------- clinic sessions and bookings (SPEC §13)

CLINIC_SESSION = Shape("ClinicSession", "A scheduled remedial class (SPEC §13).", [
    field("id", ID),
    field("starts_at", TIME),
    field("ends_at", TIME),
    field("room", TEXT, null=True),
    field("capacity", integer(1)),
    field("lecture", ID, null=True, source="lecture_id"),
    field("teacher", USERNAME, null=True, source="row.teacher"),
    field("note", TEXT, null=True),
    field("booked", COUNT, "active bookings (not cancelled, not no-show)", source="row.booked"),
    field("cancelled_at", TIME, null=True),
    field("created_by", USERNAME, null=True, source="row.created_by"),
    *stamps(),
])

_CLINIC_SESSION_INPUT = [
    field("starts_at", TEXT, "ISO 8601; without an offset it is read in the academy's timezone"),
    field("ends_at", TEXT, "ISO 8601, after starts_at"),
    field("room", text(ROOM_MAX_LENGTH), null=True),
    field("capacity", integer(1, 10_000)),
    field("lecture", ID, "null: open to every lecture", null=True),
    field("lecture_id", ID, "accepted for `lecture` (both, with different values, is refused)", null=True),
    field("teacher", json_value({"anyOf": [{"type": "string"}, ID.schema, {"type": "null"}]}),
          "the teaching user's username (or id)"),
    field("teacher_id", ID, "accepted for `teacher` (both, with different values, is refused)", null=True),
    field("note", text(NOTE_MAX_LENGTH), null=True),
]
CLINIC_SESSION_CREATE = Body("ClinicSessionCreate", "A new clinic session.", _CLINIC_SESSION_INPUT,
                             required=("starts_at", "ends_at", "capacity"), checked_by_service=True)
CLINIC_SESSION_CHANGE = Body("ClinicSessionChange", "The fields to change; the others keep their values.",
                             _CLINIC_SESSION_INPUT, checked_by_service=True)

# A booking is answered with the ids of the links it covers and who made it.
BookingRow = namedtuple("BookingRow", "booking link_ids created_by")

CLINIC_BOOKING = Shape(
    "ClinicBooking", "One enrollment booked into one clinic session for some of its open clinic links.", [
        field("id", ID),
        field("clinic_session", ID, source="clinic_session_id"),
        field("enrollment_id", ID),
        field("link_ids", list_of(ID), source="row.link_ids"),
        field("attendance", choice(ATTENDANCE_CHOICES), null=True),
        field("cancelled_at", TIME, null=True),
        field("created_at", TIME),
        field("created_by", USERNAME, null=True, source="row.created_by"),
        field("updated_at", TIME),
    ])

CLINIC_BOOKING_CREATE = Body("ClinicBookingCreate", "Whom to book and which of their links the clinic covers.", [
    field("enrollment_id", ID),
    field("link_ids", list_of(ID, min_items=1), "open clinic links of that enrollment"),
], required=("enrollment_id", "link_ids"), checked_by_service=True)

CLINIC_BOOKING_MARK = Body("ClinicBookingMark", "The roll call.", [field("attendance", choice(ATTENDANCE_CHOICES))],
                           required=("attendance",), checked_by_service=True)

# ---------------------------------------------------------------- the audit trail

AUDIT_ENTRY = Shape("AuditEntry", "One change made through the API or the UI.", [
    field("id", ID),
    field("user", USERNAME, null=True, source="username"),
    field("action", json_value({"type": "string",
                                "examples": ["policy.update", "clinic_link.approve", "import_snapshot"]})),
    field("object_type", TEXT),
    field("object_id", TEXT, null=True),
    field("lecture", ID, null=True, source="lecture_id"),
    field("before", json_value({"description": "the values before (any JSON, null for a creation)"})),
    field("after", json_value({"description": "the values after (any JSON)"})),
    field("created_at", TIME),
])

# ---------------------------------------------------------------- messages to guardians (SPEC §14)

NOTIFICATION = Shape("Notification", "A message to a guardian in the outbox (SPEC §14).", [
    field("id", ID),
    field("event", choice(NOTIFICATION_EVENTS)),
    field("enrollment_id", ID),
    field("guardian", ID, "the guardian's id; null once the guardian was removed", null=True, source="guardian_id"),
    field("channel", choice(GUARDIAN_CHANNELS)),
    field("to", TEXT, "the phone number or e-mail address"),
    field("text", TEXT),
    field("state", choice(NOTIFICATION_STATES)),
    field("attempts", COUNT),
    field("last_error", TEXT, null=True),
    field("created_at", TIME),
    field("sent_at", TIME, null=True),
])

NOTIFICATION_SETTINGS = Shape(
    "NotificationSettings", "Which events of a lecture notify guardians; by default all four, reviewed.", [
        field("events", list_of(choice(NOTIFICATION_EVENTS), unique=True), convert=list),
        field("review", BOOL, "true: a person approves each message before it is sent"),
    ])

NOTIFICATION_SETTINGS_CHANGE = Body(
    "NotificationSettingsChange", "Any of the settings' fields; those left out keep their value.", [
        field("events", list_of(choice(NOTIFICATION_EVENTS))),
        field("review", BOOL),
    ], checked_by_service=True)

# ---------------------------------------------------------------- users and tokens

# A user is answered with the lectures assigned to them.
UserRow = namedtuple("UserRow", "user lectures")

USER = Shape("User", None, [
    field("id", ID),
    field("username", TEXT),
    field("role", choice(ROLES)),
    field("is_active", BOOL),
    field("lectures", list_of(ID), "lectures assigned: a teacher's, or an assistant's (staff who enter those "
                                   "lectures' inputs)", source="row.lectures"),
    *stamps(),
])

USER_CREATE = Body("UserCreate", None, [
    field("username", TEXT), field("password", TEXT), field("role", choice(ROLES)), field("lectures", list_of(ID)),
], required=("username", "password", "role"))

USER_CHANGE = Body("UserChange", None, [
    field("role", choice(ROLES)),
    field("lectures", list_of(ID)),
    field("is_active", BOOL, "false deactivates: sessions and tokens stop at once"),
    field("password", TEXT, "a reset"),
])


def _not_revoked(revoked_at: object) -> bool:
    return revoked_at is None


_TOKEN_FIELDS = [
    field("id", ID),
    field("name", TEXT, null=True),
    field("is_active", BOOL, "false once revoked", source="revoked_at", convert=_not_revoked),
    field("created_at", TIME),
    field("last_used_at", TIME, null=True),
    field("revoked_at", TIME, null=True),
    field("expires_at", TIME, "refused from then on; null: until revoked", null=True),
    field("hint", TEXT, f"the token's first {TOKEN_HINT_LENGTH} characters, to tell it apart (null for a token "
                        "issued before hints were kept)", null=True),
]
# A token as listed: never the token itself.
TOKEN = Shape("Token", None, _TOKEN_FIELDS)
NewTokenRow = namedtuple("NewTokenRow", "token secret")
NEW_TOKEN = Shape("NewToken", None, [
    *_TOKEN_FIELDS, field("token", TEXT, "the bearer token; shown only in this answer", source="row.secret"),
])
TOKEN_CREATE = Body("TokenCreate", None, [
    field("name", TEXT, "a label", null=True),
    field("days", integer(1, MAX_TOKEN_DAYS), "days until the token is refused; omitted or null: valid until "
                                              "revoked", null=True),
])

# ---------------------------------------------------------------- OMR scans (SPEC §10)

OMR_SCAN = Shape("OmrScan", "A scanned exam sheet (SPEC §10).", [
    field("id", ID),
    field("exam_id", ID),
    field("enrollment_id", ID, "the scan's student once known", null=True),
    field("status", choice(OMR_STATUSES)),
    field("review_reasons", list_of(choice(REVIEW_REASONS)), "sorted codes", convert=lambda codes: list(codes or [])),
    field("attempt_no", ID, "null until graded", null=True, source="row.attempt_no"),
    field("score", SCORE, "null until graded", null=True, source="row.score"),
    field("error", TEXT, "the worker's error of a failed scan", null=True),
])

# ---------------------------------------------------------------- parent links to reports (SPEC §15)

MONTH = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "description": "YYYY-MM"}


def _parse_month(value: object, name: str) -> str:
    Month.parse(value, name)
    return value



REPORT_LINK_CREATE = Body("ReportLinkCreate", None, [
    field("month", Kind(MONTH, parse=_parse_month), "the report's month (YYYY-MM); default: the academy's current "
                                                    "month", null=True),
    field("days", integer(1, MAX_DAYS), f"days until the link expires; default {DEFAULT_DAYS}", null=True),
])

NewLinkRow = namedtuple("NewLinkRow", "link url")
REPORT_LINK_CREATED = Shape("ReportLinkCreated", "A new parent link.", [
    field("id", ID),
    field("url", json_value({"type": "string", "format": "uri"}),
          "the absolute address (DASHBOARD_BASE_URL when set); shown only in this answer", source="row.url"),
    field("expires_at", TIME, "the real clock's now + days"),
])
REPORT_LINK = Shape("ReportLink", "A parent link (never its address: only a hash of its token is stored).", [
    field("id", ID),
    field("enrollment_id", ID),
    field("month", json_value(MONTH)),
    field("expires_at", TIME),
    field("revoked_at", TIME, null=True),
    field("created_at", TIME),
])

# ---------------------------------------------------------------- indexes

# The lists of dashboard.listing, by resource name, and the shape of each row.
LISTED: dict[str, Shape] = {
    "policies": POLICY,
    "session-progress": SESSION_PROGRESS,
    "lecture-progress": LECTURE_PROGRESS,
    "clinic-links": CLINIC_LINK,
    "risk-logs": RISK_LOG,
    "clinic-sessions": CLINIC_SESSION,
    "audit": AUDIT_ENTRY,
    "notifications": NOTIFICATION,
}

SHAPES: list[Shape] = [value for value in globals().values() if isinstance(value, Shape)]
BODIES: list[Body] = [value for value in globals().values() if isinstance(value, Body)]

"""The OpenAPI 3.1 document of the JSON API (SPEC §8, §10, §13–15), served at `GET /api/openapi.json`.

The object schemas are not written here: each comes from its resource's description in
dashboard.web.api.resources — the same fields that serialise the answers and check the bodies.
The documents that only pass through to a service (snapshot, column entry, OMR result) are in
`payloads`; the paths, by area, in the `paths_*` modules (a new area adds its module to PATHS).
tests/web/test_openapi.py checks the document against the app's route table and validates real
answers against it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from dashboard.web.api import resources
from dashboard.web.api.errors import ERROR_CODES
from dashboard.web.api.fields import nullable, obj
from dashboard.web.api.openapi import paths_admin, paths_clinic, paths_omr, paths_parents, paths_progress
from dashboard.web.api.openapi.parts import (
    COMMON_PARAMETERS,
    ERROR_RESPONSES,
    IDEMPOTENCY_KEY,
    Schema,
    enum,
    error_response,
    page_of,
    ref,
)
from dashboard.web.api.openapi.payloads import PAYLOADS

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
PATHS = (paths_progress, paths_admin, paths_clinic, paths_parents, paths_omr)
TAGS = ("progress", "clinic links", "clinic sessions", "entry", "import", "audit", "users", "notifications",
        "reports", "omr", "meta")

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


ERROR_SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": enum(tuple(ERROR_CODES.values())),
            "message": {"type": "string"},
            "field": nullable({"type": "string", "description": "the field or item at fault, e.g. attempts[3].score"}),
            "errors": {"type": "array", "items": ref("ErrorItem"),
                       "description": "every problem found, when there are several"},
        },
        required=["error", "message", "field"],
    ),
    "ErrorItem": obj({"error": {"type": "string"}, "message": {"type": "string"},
                      "field": nullable({"type": "string"})}),
}

# page schema -> (the listed object's schema, what the page is)
PAGES: dict[str, tuple[str, str]] = {
    "PolicyPage": ("Policy", "A page of policies."),
    "SessionProgressPage": ("SessionProgress", "A page of session progress."),
    "LectureProgressPage": ("LectureProgress", "A page of lecture progress."),
    "ClinicLinkPage": ("ClinicLink", "A page of clinic links."),
    "RiskLogPage": ("RiskLog", "A page of risk logs."),
    "ClinicSessionPage": ("ClinicSession", "A page of clinic sessions."),
    "AuditPage": ("AuditEntry", "A page of the audit trail."),
    "NotificationPage": ("Notification", "A page of messages to guardians."),
    "UserList": ("User", "Every user (not paginated: next and previous are always null)."),
    "TokenList": ("Token", "A user's tokens, revoked ones included (not paginated)."),
    "OmrScanPage": ("OmrScan", "A page of OMR scans, oldest first."),
}


def schemas() -> dict[str, Schema]:
    """Every component schema: errors, the resources' objects and bodies, their pages, the payloads."""
    found: dict[str, Schema] = dict(ERROR_SCHEMAS)
    for description in (*resources.SHAPES, *resources.BODIES):
        found[description.name] = description.schema()
    found.update({name: page_of(item, text) for name, (item, text) in PAGES.items()})
    found.update(PAYLOADS)
    return found


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
    """The whole document (built once per process)."""
    paths: dict[str, Schema] = {}
    for area in PATHS:
        paths.update(area.paths())
    _every_post_takes_an_idempotency_key(paths)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Academy progress dashboard API", "version": API_VERSION, "description": DESCRIPTION},
        "tags": [{"name": name} for name in TAGS],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "A token from `flask --app wsgi create-token USERNAME`; it carries its user's role.",
            }},
            "schemas": schemas(),
            "parameters": {name: COMMON_PARAMETERS[name] for name in ("page", "page_size", "include_withdrawn")},
            "responses": {name: error_response(code, description)
                          for name, code, description in ERROR_RESPONSES.values()},
        },
    }

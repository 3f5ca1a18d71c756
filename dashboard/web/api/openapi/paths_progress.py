"""Paths of the progress lists and details, the policy change, and the clinic-link requests and
actions (SPEC §2–§6, §8)."""
from __future__ import annotations

from dashboard.listing import RESOURCES
from dashboard.web.api.openapi.parts import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    Schema,
    body,
    errors,
    list_operation,
    ok,
    path_id,
)


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


def paths() -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    for segment, (endpoint, schema_name, noun) in PROGRESS_RESOURCES.items():
        spec = RESOURCES[segment]
        note = DERIVED_NOTE if spec.derived else ""
        paths[f"/api/progress/{segment}/"] = {"get": list_operation(
            f"{endpoint}_list", "progress", f"List {segment.replace('-', ' ')}",
            "Scoped to the caller's lectures (teachers: their own; admin and staff: all)." + note,
            segment, (f"{schema_name}Page", f"A page of {noun}s."))}
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


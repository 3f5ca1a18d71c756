"""Paths of OMR scan intake and review (SPEC §10)."""
from __future__ import annotations

from dashboard.models import OMR_STATUSES
from dashboard.web.api.openapi.parts import ID, Schema, body, enum, errors, ok, path_id


def paths() -> dict[str, Schema]:
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


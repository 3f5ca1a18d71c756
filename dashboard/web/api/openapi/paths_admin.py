"""Paths of the snapshot import, the column entry, the audit trail, users and tokens, and this document."""
from __future__ import annotations

from dashboard.web.api.openapi.parts import Schema, body, errors, list_operation, ok, path_id, ref


def paths() -> dict[str, Schema]:
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
            "parameters": [path_id("lecture_id", "the lecture's id"),
                           path_id("session_id", "a session of the lecture")],
            "put": {
                "operationId": "column_entry",
                "tags": ["entry"],
                "summary": "Save one session's column for many students "
                           "(admin, the lecture's teacher or assistant)",
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
        "/api/audit": {"get": list_operation(
            "audit_list", "audit", "The audit trail (admin)",
            "Every change made through the API or the UI, newest first.", "audit",
            ("AuditPage", "A page of audit entries."), 403)},
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


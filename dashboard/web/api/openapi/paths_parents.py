"""Paths of the messages to guardians and their settings (SPEC §14) and the parent links to reports (SPEC §15)."""
from __future__ import annotations

from dashboard.web.api.openapi.parts import Schema, body, errors, list_operation, ok, path_id


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
        "/api/notifications/": {"get": list_operation(
            "notification_list", "notifications", "Messages to guardians",
            "Scoped to the caller's lectures (teachers: their own), newest first.",
            "notifications", ("NotificationPage", "A page of messages."))},
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


def _report_paths() -> dict[str, Schema]:
    roles = (" Admins and the lecture's teacher; other roles 403 (before the body is read); outside the caller's "
             "lectures 404.")
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



def paths() -> dict[str, Schema]:
    return {**_notification_paths(), **_report_paths()}

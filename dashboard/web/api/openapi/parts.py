"""Pieces every part of the OpenAPI document uses: references, answers, error responses, path and
header parameters, and the query parameters of a list — read from dashboard.listing.RESOURCES,
the same table the lists run on, so a new filter or ordering field is documented by adding it."""
from __future__ import annotations

from typing import Any

from dashboard.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, RESOURCES, ListSpec
from dashboard.models import CLINIC_REASONS, NOTIFICATION_EVENTS, NOTIFICATION_STATES, RISK_LEVELS, RISK_RULES
from dashboard.web.api import fields

Schema = dict[str, Any]

# Schemas (not kinds) of the values the paths' parameters take.
ID = fields.ID.schema
COUNT = fields.COUNT.schema


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def enum(values: tuple[str, ...] | list[str], description: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


def page_of(item: str, description: str) -> Schema:
    """A list answer: `{"count", "next", "previous", "results"}` (SPEC §8)."""
    link = fields.nullable({"type": "string", "format": "uri",
                            "description": "absolute URL of the other page, keeping every other parameter"})
    return fields.obj(
        {"count": COUNT, "next": link, "previous": link, "results": {"type": "array", "items": ref(item)}},
        description=description,
    )


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



def error_response(code: str, description: str) -> Schema:
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



def list_operation(operation_id: str, tag: str, summary: str, description: str, resource: str,
                   page: tuple[str, str], *refusals: int) -> Schema:
    """The GET of one of dashboard.listing's lists: its query parameters and a page of its objects
    (`page`: the page schema and what it holds); 400 for a bad parameter, 404 past the last page."""
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "parameters": list_parameters(RESOURCES[resource]),
        "responses": {**ok(*page), **errors(400, 404, *refusals)},
    }

"""The OpenAPI document at /api/openapi.json against the app itself: every API route is documented
and every documented path and method is served; real answers — reads, writes and errors — are
listed for their operation and validate (jsonschema, 2020-12) against the documented schema;
schemathesis, bounded, finds no server error nor undocumented answer."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dashboard.extensions import db
from dashboard.parents import outbox

from tests.factories import bearer, build_academy, policy_of

DOC_URI = "urn:dashboard-openapi"
METHODS = ("get", "post", "put", "patch", "delete")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_offset_time(value: object) -> bool:
    """ISO 8601 with an explicit offset, as every time the API answers (SPEC §1)."""
    return not isinstance(value, str) or datetime.fromisoformat(value).utcoffset() is not None


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(datetime.strptime(value, "%Y-%m-%d"))


@pytest.fixture
def academy(app):
    academy = build_academy()
    # Committed: the client shares this session, and a refused request rolls back what is not.
    db.session.commit()
    return academy


# ---------------------------------------------------------------- helpers

def shape(path: str) -> str:
    """A path with its parameters blanked: Flask's `<int:object_id>` and OpenAPI's `{object_id}` alike."""
    return re.sub(r"<(?:\w+:)?\w+>|\{\w+\}", "{}", path)


def api_routes(app) -> dict[tuple[str, str], str]:
    """(path shape without the final slash, method) -> endpoint, for every rule under /api but the
    documentation page itself (an HTML page for people, not an operation)."""
    routes: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        if (rule.rule == "/api" or rule.rule.startswith("/api/")) and not rule.endpoint.startswith("api_docs."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes[(shape(rule.rule).rstrip("/"), method.lower())] = rule.endpoint.removeprefix("api.")
    return routes


def operations(doc) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, item[method]) for path, item in doc["paths"].items() for method in METHODS
            if method in item]


def validator(doc, pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` in the document, its $refs resolved in the document."""
    registry = Registry().with_resource(DOC_URI, Resource(contents=doc, specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{DOC_URI}#{quote(pointer, safe='/~')}"}, registry=registry,
                                format_checker=FORMATS)


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def documented_response(doc, template: str, method: str, status: int) -> str:
    """The pointer of the documented JSON schema of that answer; fails when the status is not documented."""
    responses = doc["paths"][template][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {template} answered {status}, not documented"
    answer = responses[str(status)]
    if "$ref" in answer:
        pointer = answer["$ref"].removeprefix("#")
    else:
        pointer = f"/paths/{escape(template)}/{method}/responses/{status}"
    return f"{pointer}/content/{escape('application/json')}/schema"


def check(doc, template: str, method: str, response, request_body: Any = None) -> Any:
    """The answer's status is documented for the operation and its body validates; so does the request's."""
    if request_body is not None:
        content = f"/paths/{escape(template)}/{method}/requestBody/content"
        validator(doc, f"{content}/{escape('application/json')}/schema").validate(request_body)
    pointer = documented_response(doc, template, method, response.status_code)
    body = response.get_json()
    problems = [f"{list(error.absolute_path)}: {error.message}"
                for error in validator(doc, pointer).iter_errors(body)]
    assert not problems, f"{method.upper()} {template} -> {response.status_code}: {problems}"
    return body


def fill(template: str, **values: int) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: str(values[match.group(1)]), template)


def call(client, token: str | None, method: str, template: str, body: Any = None, query: Any = None, **ids: int):
    headers = bearer(token) if token else {}
    return client.open(fill(template, **ids), method=method.upper(), headers=headers, json=body,
                       query_string=query)


# ---------------------------------------------------------------- the document and the route table

def test_the_document_is_public_and_every_schema_is_valid(client, doc):
    assert doc["openapi"] == "3.1.0"
    bearer_scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer_scheme["type"], bearer_scheme["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/api/openapi.json"]["get"]["security"] == []
    assert client.get("/api/openapi.json/").get_json() == doc
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    # Every reference points at something that exists.
    for reference in references(doc):
        kind, name = reference.removeprefix("#/components/").split("/")
        assert name in doc["components"][kind], reference


def references(value: Any) -> list[str]:
    """Every `$ref` in a part of the document."""
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


def test_every_api_route_is_documented_and_every_documented_operation_is_served(app, doc):
    routes = api_routes(app)
    documented = {(shape(path).rstrip("/"), method): operation["operationId"]
                  for path, method, operation in operations(doc)}
    assert documented == routes
    # Each path is listed in one of the two spellings the app serves, once.
    served = {shape(rule.rule) for rule in app.url_map.iter_rules()}
    assert all(shape(path) in served for path in doc["paths"])
    assert len({shape(path).rstrip("/") for path in doc["paths"]}) == len(doc["paths"])


def test_path_parameters_are_declared_exactly(doc):
    for path, item in doc["paths"].items():
        in_path = re.findall(r"\{(\w+)\}", path)
        for method in METHODS:
            if method not in item:
                continue
            declared = [p["name"] for p in item.get("parameters", []) + item[method].get("parameters", [])
                        if p.get("in") == "path"]
            assert sorted(declared) == sorted(in_path), (path, method)


def test_every_operation_documents_its_errors(doc):
    for path, method, operation in operations(doc):
        responses = operation["responses"]
        successes = [status for status in responses if status.startswith("2")]
        assert len(successes) == 1, (path, method)
        if operation.get("security") == []:
            continue
        assert {"401", "503"} <= set(responses), (path, method)
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), (path, method)
        if "{" in path:
            assert "404" in responses, (path, method)


def test_the_snapshot_schema_has_the_importers_fields(doc):
    """Each documented snapshot item lists exactly the key, the fields and `delete` the importer reads."""
    from dashboard.importer.snapshot import _KINDS

    items = doc["components"]["schemas"]["Snapshot"]["properties"]
    assert set(items) == set(_KINDS)
    for name, kind in _KINDS.items():
        assert set(items[name]["items"]["properties"]) == {*kind.key, *kind.fields, "delete"}, name
        assert set(items[name]["items"]["required"]) == set(kind.key), name


# ---------------------------------------------------------------- real answers

OMR_QUIZ = 9300


def omr_quiz_snapshot(academy) -> dict[str, Any]:
    """A new student in Algebra and an exam with an answer key (question 1: "3", question 2: "2" and "4",
    50 points each) on Week 3, so OMR scans can be registered."""
    return {
        "students": [{"id": 9100, "name": "Jung Hana"}],
        "enrollments": [{"id": 9200, "student_id": 9100, "lecture_id": academy.algebra.id, "start_date": None}],
        "exams": [{"id": OMR_QUIZ, "title": "OMR quiz", "session_ids": [academy.weeks[2].id], "pass_score": 60,
                   "max_score": 100, "questions": [{"number": 1, "answer": "3", "points": 50},
                                                   {"number": 2, "answer": "24", "points": 50}]}],
        "activities": [{"enrollment_id": 9200, "session_id": academy.weeks[0].id, "attendance": "offline",
                        "video_rate": 100}],
    }


def test_writes_validate_against_the_document(client, doc, academy):
    admin = academy.tokens["admin"]
    policy_id = policy_of(academy.algebra).id
    change = {"video_required_rate": 96, "exam_pass_score": 65.5}
    response = call(client, admin, "patch", "/api/progress/policies/{object_id}/", change, object_id=policy_id)
    assert response.status_code == 200
    assert check(doc, "/api/progress/policies/{object_id}/", "patch", response, change)["exam_pass_score"] == 65.5

    links = "/api/progress/clinic-links/"
    request = {"enrollment_id": academy.minji.id, "session": academy.weeks[0].id, "reason": "MANUAL_REQUEST",
               "memo": "Parent asked for help"}
    response = call(client, admin, "post", links, request)
    assert response.status_code == 201
    link = check(doc, links, "post", response, request)
    assert (link["created_by"], link["approved_by"], link["meta"]) == ("admin", None, None)
    for action in ("approve", "resolve", "reopen"):
        template = links + "{link_id}/" + action + "/"
        response = call(client, academy.tokens["staff"], "post", template, link_id=link["id"])
        assert response.status_code == 200
        check(doc, template, "post", response)
    memo = {"memo": "Booked for Thursday"}
    response = call(client, admin, "patch", links + "{object_id}/", memo, object_id=link["id"])
    assert check(doc, links + "{object_id}/", "patch", response, memo)["reopened_by"] == "staff"

    snapshot = omr_quiz_snapshot(academy)
    response = call(client, admin, "post", "/api/import", snapshot)
    assert response.status_code == 200
    result = check(doc, "/api/import", "post", response, snapshot)
    assert (result["created"]["students"], result["created"]["exams"]) == (1, 1)

    _notification_writes(client, doc, academy)

    new_user = {"username": "kim", "password": "a long passphrase", "role": "teacher",
                "lectures": [academy.algebra.id]}
    response = call(client, admin, "post", "/api/users/", new_user)
    assert response.status_code == 201
    user = check(doc, "/api/users/", "post", response, new_user)
    tokens = "/api/users/{user_id}/tokens/"
    response = call(client, admin, "post", tokens, {"name": "laptop"}, user_id=user["id"])
    assert response.status_code == 201
    token = check(doc, tokens, "post", response, {"name": "laptop"})
    patch = {"role": "staff", "lectures": []}
    response = call(client, admin, "patch", "/api/users/{user_id}/", patch, user_id=user["id"])
    assert check(doc, "/api/users/{user_id}/", "patch", response, patch)["role"] == "staff"
    response = call(client, admin, "delete", tokens + "{token_id}/", user_id=user["id"], token_id=token["id"])
    assert check(doc, tokens + "{token_id}/", "delete", response)["is_active"] is False
    response = call(client, admin, "post", tokens + "{token_id}/revoke/", user_id=user["id"], token_id=token["id"])
    assert check(doc, tokens + "{token_id}/revoke/", "post", response)["revoked_at"] is not None

    if "/api/omr-scans/" in doc["paths"]:
        _omr_writes(client, doc, academy, admin)
    _clinic_writes(client, doc, academy, admin)


def _clinic_writes(client, doc, academy, admin) -> dict[str, int]:
    """A clinic session booked and taken roll call of; another booked, then cancelled with its booking."""
    sessions = "/api/clinic/sessions/"
    new = {"starts_at": "2026-04-02T15:00:00+09:00", "ends_at": "2026-04-02T16:00:00+09:00", "capacity": 2,
           "room": "B101", "lecture": academy.algebra.id, "teacher": "teacher_a", "note": None}
    response = call(client, admin, "post", sessions, new)
    assert response.status_code == 201
    clinic = check(doc, sessions, "post", response, new)
    change = {"capacity": 3, "room": "B102"}
    response = call(client, admin, "patch", sessions + "{clinic_session_id}/", change, clinic_session_id=clinic["id"])
    assert check(doc, sessions + "{clinic_session_id}/", "patch", response, change)["capacity"] == 3
    link_ids = [link["id"] for link in call(client, admin, "get", "/api/progress/clinic-links/",
                                            query={"enrollment_id": academy.jisoo.id}).get_json()["results"]]
    booking_body = {"enrollment_id": academy.jisoo.id, "link_ids": link_ids[:2]}
    bookings = sessions + "{clinic_session_id}/bookings/"
    response = call(client, admin, "post", bookings, booking_body, clinic_session_id=clinic["id"])
    assert response.status_code == 201
    booking = check(doc, bookings, "post", response, booking_body)
    mark = {"attendance": "attended"}
    response = call(client, admin, "patch", "/api/clinic/bookings/{booking_id}/", mark, booking_id=booking["id"])
    assert check(doc, "/api/clinic/bookings/{booking_id}/", "patch", response, mark)["attendance"] == "attended"

    later = {**new, "starts_at": "2026-04-09T15:00:00", "ends_at": "2026-04-09T16:00:00", "lecture": None}
    other = check(doc, sessions, "post", call(client, admin, "post", sessions, later), later)
    park = call(client, admin, "get", "/api/progress/clinic-links/",
                query={"enrollment_id": academy.park.id}).get_json()["results"][0]["id"]
    second_body = {"enrollment_id": academy.park.id, "link_ids": [park]}
    second = check(doc, bookings, "post", call(client, admin, "post", bookings, second_body,
                                               clinic_session_id=other["id"]), second_body)
    response = call(client, admin, "post", "/api/clinic/bookings/{booking_id}/cancel/", booking_id=second["id"])
    assert check(doc, "/api/clinic/bookings/{booking_id}/cancel/", "post", response)["cancelled_at"] is not None
    response = call(client, admin, "post", sessions + "{clinic_session_id}/cancel/", clinic_session_id=other["id"])
    assert check(doc, sessions + "{clinic_session_id}/cancel/", "post", response)["booked"] == 0
    return {"clinic_session_id": clinic["id"], "booking_id": booking["id"]}


def _omr_writes(client, doc, academy, admin):
    """A scan graded at once, and one that waits for its student, is assigned and corrected."""
    scans = "/api/omr-scans/"
    register = {"exam_id": OMR_QUIZ, "enrollment_id": academy.minji.id}
    response = call(client, admin, "post", scans, register)
    assert response.status_code == 201
    scan = check(doc, scans, "post", response, register)
    assert (scan["status"], scan["attempt_no"], scan["score"]) == ("pending", None, None)
    answers = [{"question": 1, "detected": ["3"], "marking": "single", "confidence": 0.93, "status": "ok"},
               {"question": 2, "detected": ["2", "4"], "marking": "multi", "confidence": 0.9, "status": "ok"}]
    payload = {"status": "DONE", "result": {"version": "2.1", "mode": "fast", "meta_used": False,
                                            "identifier": {"status": "ok", "enrollment_id": academy.minji.id},
                                            "answers": answers}}
    response = call(client, academy.tokens["staff"], "post", scans + "{scan_id}/result/", payload,
                    scan_id=scan["id"])
    graded = check(doc, scans + "{scan_id}/result/", "post", response, payload)
    # Both answers match the key (3; 2 and 4): 50 + 50.
    assert (graded["status"], graded["attempt_no"], graded["score"]) == ("graded", 1, 100)

    response = call(client, admin, "post", scans, {"exam_id": OMR_QUIZ})
    waiting = check(doc, scans, "post", response, {"exam_id": OMR_QUIZ})
    blank = {"status": "DONE", "result": {"identifier": {"status": "blank"}, "answers": answers}}
    response = call(client, admin, "post", scans + "{scan_id}/result/", blank, scan_id=waiting["id"])
    assert check(doc, scans + "{scan_id}/result/", "post", response, blank)["review_reasons"] == ["IDENTIFIER_NOT_OK"]
    assign = {"enrollment_id": academy.jisoo.id}
    response = call(client, academy.tokens["teacher_a"], "post", scans + "{scan_id}/assign/", assign,
                    scan_id=waiting["id"])
    assert check(doc, scans + "{scan_id}/assign/", "post", response, assign)["status"] == "graded"
    correct = {"answers": [{"question": 1, "detected": ["2"]}]}
    response = call(client, admin, "post", scans + "{scan_id}/correct/", correct, scan_id=waiting["id"])
    # Question 1 is now wrong: only question 2's 50 points.
    assert check(doc, scans + "{scan_id}/correct/", "post", response, correct)["score"] == 50


def _notification_writes(client, doc, academy) -> None:
    """Guardians through a snapshot, one absence message for each, the settings, approve and cancel."""
    admin = academy.tokens["admin"]
    guardians = {"students": [{"id": academy.minji.student_id, "guardians": [
        {"name": "Kim Mother", "relation": "모", "phone": "010-1111-2222", "consent": True},
        {"name": "Kim Father", "relation": "부", "email": "dad@example.com", "channel": "email", "consent": True}]}]}
    response = call(client, admin, "post", "/api/import", guardians)
    assert check(doc, "/api/import", "post", response, guardians)["updated"]["students"] == 1
    settings = "/api/lectures/{lecture_id}/notification-settings/"
    change = {"events": ["booking", "absence"], "review": True}
    response = call(client, admin, "patch", settings, change, lecture_id=academy.algebra.id)
    assert check(doc, settings, "patch", response, change) == change
    assert outbox.queue_absence(academy.minji.id, academy.upcoming.id) == 2  # weeks 1-3 are history
    db.session.commit()
    listed = check(doc, "/api/notifications/", "get", call(client, admin, "get", "/api/notifications/"))
    first, second = sorted(message["id"] for message in listed["results"])
    for action, message_id, state in (("approve", first, "queued"), ("cancel", second, "cancelled")):
        template = "/api/notifications/{notification_id}/" + action + "/"
        response = call(client, academy.tokens["teacher_a"], "post", template, notification_id=message_id)
        assert check(doc, template, "post", response)["state"] == state


def test_every_read_validates_against_the_document(client, doc, academy):
    """Every GET of the document on the small academy (after some writes, so the audit trail and
    the people fields are filled): lists must be non-empty, details take the first listed id."""
    test_writes_validate_against_the_document(client, doc, academy)
    admin = academy.tokens["admin"]
    first_ids: dict[str, int] = {}
    first_ids["/api/lectures"] = academy.algebra.id  # no list of lectures in the API
    reads = [(path, operation) for path, method, operation in operations(doc) if method == "get"]
    for path, _ in sorted(reads, key=lambda read: read[0].count("{")):
        ids = {}
        for name in re.findall(r"\{(\w+)\}", path):
            parent = path[:path.index("{" + name + "}")].rstrip("/")
            ids[name] = first_ids[parent]
        response = call(client, admin, "get", path, **ids)
        assert response.status_code == 200, (path, response.get_json())
        body = check(doc, path, "get", response)
        if "results" in body:
            assert body["results"], f"{path} is empty: its item schema would go unchecked"
            first_ids[path.rstrip("/")] = body["results"][0]["id"]
    assert len(first_ids) >= 8


def test_list_parameters_are_the_ones_the_lists_read(client, doc, academy):
    """Each documented value of an enum parameter is accepted (and validates); each documented
    integer or boolean parameter is really read: a bad value is a 400 naming it."""
    admin = academy.tokens["admin"]
    for path, method, operation in operations(doc):
        if method != "get" or "parameters" not in operation:
            continue
        for parameter in operation["parameters"]:
            if "$ref" in parameter:
                parameter = doc["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
            name, schema = parameter["name"], parameter["schema"]
            for value in schema.get("enum", []):
                response = call(client, admin, "get", path, query={name: value, "include_withdrawn": "true"})
                assert response.status_code == 200, (path, name, value, response.get_json())
                check(doc, path, "get", response)
            bad = {"integer": "x1", "boolean": "yes"}.get(schema["type"])
            if bad is not None:
                response = call(client, admin, "get", path, query={name: bad})
                assert response.status_code == 400, (path, name)
                assert check(doc, path, "get", response)["field"] == name
            if name == "ordering":
                response = call(client, admin, "get", path, query={"ordering": "student_name"})
                assert check(doc, path, "get", response)["field"] == "ordering"


def test_a_paginated_list_links_its_pages(client, doc, academy):
    path = "/api/progress/session-progress/"
    response = call(client, academy.tokens["admin"], "get", path, query={"page_size": 3, "page": 2})
    body = check(doc, path, "get", response)
    # 10 visible rows in pages of 3: page 2 has both neighbours.
    assert body["count"] == 10
    assert body["previous"].startswith("http://") and "page=3" in body["next"]
    response = call(client, academy.tokens["admin"], "get", path, query={"page_size": 3, "page": 5})
    assert check(doc, path, "get", response)["error"] == "not_found"


# ---------------------------------------------------------------- errors

def test_every_operation_answers_401_as_documented(client, doc, academy):
    for path, method, operation in operations(doc):
        if operation.get("security") == []:
            continue
        response = call(client, None, method, path, body={}, **dict.fromkeys(re.findall(r"\{(\w+)\}", path), 1))
        assert response.status_code == 401, (method, path)
        assert check(doc, path, method, response)["error"] == "unauthorized"
        response = call(client, "not-a-token", method, path, body={},
                        **dict.fromkeys(re.findall(r"\{(\w+)\}", path), 1))
        assert check(doc, path, method, response)["error"] == "unauthorized"


def test_every_detail_answers_404_as_documented(client, doc, academy):
    admin = academy.tokens["admin"]
    for path, method, _ in operations(doc):
        if "{" not in path or method not in ("get", "patch"):
            continue
        ids = dict.fromkeys(re.findall(r"\{(\w+)\}", path), 987654)
        response = call(client, admin, method, path, body={}, **ids)
        assert response.status_code == 404, (method, path)
        assert check(doc, path, method, response)["error"] == "not_found"


def test_unlisted_methods_answer_405_in_the_documented_shape(client, doc, academy):
    admin = academy.tokens["admin"]
    method_not_allowed = "/components/responses/MethodNotAllowed/content/application~1json/schema"
    for path, item in doc["paths"].items():
        listed = [method for method in METHODS if method in item]
        for method in METHODS:
            if method in listed:
                continue
            ids = dict.fromkeys(re.findall(r"\{(\w+)\}", path), 1)
            for spelling in (path, path.rstrip("/") if path.endswith("/") else path + "/"):
                response = call(client, admin, method, spelling, **ids)
                assert response.status_code == 405, (method, spelling)
                validator(doc, method_not_allowed).validate(response.get_json())
                assert set(response.headers["Allow"].lower().replace(" ", "").split(",")) >= set(listed)


def test_refusals_validate_against_the_document(client, doc, academy):
    admin, teacher = academy.tokens["admin"], academy.tokens["teacher_a"]
    policy = "/api/progress/policies/{object_id}/"
    policy_id = policy_of(academy.algebra).id

    bad = {"video_required_rate": 101, "exam_aggregate_strategy": "max"}
    body = check(doc, policy, "patch", call(client, admin, "patch", policy, bad, object_id=policy_id))
    assert body["error"] == "validation"
    assert body["field"] == body["errors"][0]["field"]
    assert {item["field"] for item in body["errors"]} == {"video_required_rate", "exam_aggregate_strategy"}

    body = check(doc, policy, "patch", call(client, teacher, "patch", policy, {"video_required_rate": 50},
                                            object_id=policy_id))
    assert body["error"] == "forbidden"

    response = client.patch(fill(policy, object_id=policy_id), headers={**bearer(admin),
                            "Content-Type": "application/json"}, data=b" " * (3 * 1024 * 1024))
    assert check(doc, policy, "patch", response)["error"] == "too_large"

    snapshot = {"attempts": [{"enrollment_id": academy.minji.id, "exam_id": academy.quiz.id, "attempt_no": 2,
                              "score": 72.505}]}
    body = check(doc, "/api/import", "post", call(client, admin, "post", "/api/import", snapshot))
    assert (body["error"], body["field"]) == ("validation", "attempts[0].score")
    assert check(doc, "/api/import", "post",
                 call(client, academy.tokens["staff"], "post", "/api/import", {}))["error"] == "forbidden"

    request = {"enrollment_id": academy.minho.id, "session": academy.geometry_week.id,
               "reason": "TEACHER_RECOMMEND", "memo": "needs help"}
    body = check(doc, "/api/progress/clinic-links/", "post",
                 call(client, teacher, "post", "/api/progress/clinic-links/", request))
    assert body["error"] == "forbidden"

    duplicate = {"username": "staff", "password": "a long passphrase", "role": "staff"}
    body = check(doc, "/api/users/", "post", call(client, admin, "post", "/api/users/", duplicate))
    assert body["error"] == "conflict"
    assert check(doc, "/api/users/", "get", call(client, teacher, "get", "/api/users/"))["error"] == "forbidden"


# ---------------------------------------------------------------- schemathesis

# NUL characters are generated too: the app refuses them with 400 (PostgreSQL text cannot hold them).
SCHEMATHESIS_CONFIG = schemathesis.Config.from_dict({"generation": {"allow-x00": True}})
CONFORMANCE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                      response_schema_conformance, response_headers_conformance]


def test_generated_requests_get_documented_answers_and_no_server_error(app, client, doc, academy):
    """Schemathesis, bounded and derandomized: for every operation, requests generated from the
    document (positive data) — once with generated ids, once with ids of real rows — answer a
    documented status with a conforming body, never a 5xx."""
    admin = academy.tokens["admin"]
    assert call(client, admin, "post", "/api/import", omr_quiz_snapshot(academy)).status_code == 200
    scan = call(client, admin, "post", "/api/omr-scans/", {"exam_id": OMR_QUIZ}).get_json()
    # Random user changes go to a user of their own, never to the admin making the calls.
    probe = call(client, admin, "post", "/api/users/", {"username": "probe", "password": "a long passphrase",
                                                         "role": "staff"}).get_json()
    probe_token = call(client, admin, "post", "/api/users/{user_id}/tokens/", {"name": "probe"},
                       user_id=probe["id"]).get_json()
    real_ids = {"scan_id": scan["id"], "user_id": probe["id"], "token_id": probe_token["id"]}
    for resource in ("policies", "session-progress", "lecture-progress", "clinic-links", "risk-logs"):
        real_ids[resource] = call(client, admin, "get", f"/api/progress/{resource}/").get_json()["results"][0]["id"]
    real_ids["entry_id"] = call(client, admin, "get", "/api/audit").get_json()["results"][0]["id"]
    real_ids.update(_clinic_writes(client, doc, academy, admin))
    real_ids["lecture_id"] = academy.algebra.id
    call(client, admin, "post", "/api/import", {"students": [{"id": academy.minji.student_id, "guardians": [
        {"name": "Kim Mother", "phone": "01011112222", "consent": True}]}]})
    outbox.queue_absence(academy.minji.id, academy.upcoming.id)
    db.session.commit()
    real_ids["notification_id"] = call(client, admin, "get", "/api/notifications/").get_json()["results"][0]["id"]
    real_ids["enrollment_id"] = academy.minji.id
    real_ids["report_link_id"] = call(client, admin, "post", "/api/reports/{enrollment_id}/links/", {},
                                      enrollment_id=academy.minji.id).get_json()["id"]
    real_ids["session_id"] = academy.weeks[0].id

    def ids_for(path: str) -> dict[str, int]:
        ids = {}
        for name in re.findall(r"\{(\w+)\}", path):
            ids[name] = real_ids[path.split("/")[3]] if name in ("object_id", "link_id") else real_ids[name]
        return ids

    # Schemathesis asks for gzip but reads a WSGI answer without decoding it: plain bodies here
    # (tests/web/test_compression.py covers the gzipped ones).
    app.config["COMPRESS_RESPONSES"] = False
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=SCHEMATHESIS_CONFIG)
    headers = bearer(admin)
    failures = []
    # The import last: a generated snapshot may delete the rows the other operations use.
    targets = sorted((result.ok() for result in schema.get_all_operations()),
                     key=lambda operation: (operation.path == "/api/import", operation.label))
    # Schemathesis leaves out the operation that serves the document it loaded.
    assert {operation.label for operation in targets} == {
        f"{method.upper()} {path}" for path, method, _ in operations(doc) if path != "/api/openapi.json"}
    for operation in targets:
        rounds = [{}] + ([ids_for(operation.path)] if "{" in operation.path else [])
        for path_parameters in rounds:
            @settings(max_examples=15, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @given(case=operation.as_strategy(path_parameters=path_parameters))
            def exercise(case):
                case.call_and_validate(headers=headers, checks=CONFORMANCE_CHECKS)

            try:
                exercise()
            # One failure is an AssertionError, several a FailureGroup; every operation is tried either way.
            except (AssertionError, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} {path_parameters}: {exc}")
    assert not failures, "\n\n".join(failures)


# ---------------------------------------------------------------- limits schemathesis once found broken

HUGE_ID = 10**20

OUT_OF_RANGE_IDS = [
    ("get", "/api/progress/policies/{object_id}/", None, None, {"object_id": HUGE_ID}),
    ("get", "/api/progress/session-progress/", None, {"lecture": HUGE_ID}, {}),
    ("patch", "/api/progress/clinic-links/{object_id}/", {"memo": "x"}, None, {"object_id": HUGE_ID}),
    ("post", "/api/progress/clinic-links/", {"enrollment_id": HUGE_ID, "session": 1, "reason": "MANUAL_REQUEST",
                                             "memo": "x"}, None, {}),
    ("get", "/api/users/{user_id}/", None, None, {"user_id": HUGE_ID}),
]


@pytest.mark.parametrize("method, path, body, query, ids", OUT_OF_RANGE_IDS)
def test_ids_beyond_the_integer_range_are_refused_as_documented(client, doc, academy, method, path, body, query,
                                                                ids):
    response = call(client, academy.tokens["admin"], method, path, body, query, **ids)
    assert response.status_code < 500
    check(doc, path, method, response)


NUL_TEXTS = [
    ("get", "/api/progress/clinic-links/", None, {"search": "Kim\x00"}),
    ("get", "/api/audit", None, {"action": "policy.update\x00"}),
    ("post", "/api/import", {"students": [{"id": 9100, "name": "Jung\x00Hana"}]}, None),
]


@pytest.mark.parametrize("method, path, body, query", NUL_TEXTS)
def test_nul_characters_in_text_are_refused_as_documented(client, doc, academy, method, path, body, query):
    response = call(client, academy.tokens["admin"], method, path, body, query)
    assert response.status_code < 500
    check(doc, path, method, response)

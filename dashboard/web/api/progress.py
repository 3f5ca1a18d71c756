"""`/api/progress/...`: policies, session and lecture progress, clinic links, risk logs (SPEC §8).

Lists and details for all five; writes only where SPEC §8 lists them (policy PATCH, clinic
requests and actions). Derived rows have GET routes only, so any other method answers 405.
"""
from __future__ import annotations

from flask import jsonify, request

from dashboard.clinic import links as clinic
from dashboard import listing as queries
from dashboard.models import versions as versioning
from dashboard.accounts.access import visible_lecture_ids
from dashboard.models import ProgressPolicy
from dashboard.progress.policy import PolicyRejected, describe, save_policy
from dashboard.extensions import db
from dashboard.web.api import (
    ApiError,
    bp,
    current_api_user,
    detail_response,
    forbidden,
    has_body,
    json_object,
    list_response,
    not_found,
)
from dashboard.web.api.resources import CLINIC_LINK, POLICY

READ_ONLY_RESOURCES = ("session-progress", "lecture-progress", "risk-logs")


def _visible():
    return visible_lecture_ids(current_api_user())


def _add_read_routes(resource: str) -> None:
    endpoint = resource.replace("-", "_")

    def list_view():
        return list_response(resource, _visible())

    def detail_view(object_id: int):
        return detail_response(resource, object_id, _visible())

    bp.add_url_rule(f"/progress/{resource}/", f"{endpoint}_list", list_view, methods=["GET"])
    bp.add_url_rule(f"/progress/{resource}/<int:object_id>/", f"{endpoint}_detail", detail_view, methods=["GET"])


for _resource in (*READ_ONLY_RESOURCES, "policies", "clinic-links"):
    _add_read_routes(_resource)


# ---------------------------------------------------------------- policies

@bp.patch("/progress/policies/<int:policy_id>/")
def policy_update(policy_id: int):
    """Admin only; validated on the merged policy (SPEC §2); recomputes the lecture."""
    user = current_api_user()
    policy = db.session.get(ProgressPolicy, policy_id)
    visible = visible_lecture_ids(user)
    if policy is None or (visible is not None and policy.lecture_id not in visible):
        raise not_found()
    if user.role != "admin":
        raise forbidden("Only admins edit policies.")
    change = json_object()
    expected = versioning.take(request.headers.get("If-Match"), change)
    try:
        result = save_policy(policy.lecture_id, change, user, expected)
    except PolicyRejected as exc:
        errors = [{"error": "validation", "message": describe(name, message), "field": name}
                  for name, message in exc.errors]
        raise ApiError(400, errors[0]["message"], exc.field, errors) from None
    return jsonify(POLICY.dump(queries.get_row("policies", result.policy.id, None)))


# ---------------------------------------------------------------- clinic links

def _clinic_answer(link_id: int, status: int = 200):
    row = queries.get_row("clinic-links", link_id, None)
    response = jsonify(CLINIC_LINK.dump(row))
    response.status_code = status
    return response


@bp.post("/progress/clinic-links/")
def clinic_link_create():
    """A person's clinic request (MANUAL_REQUEST or TEACHER_RECOMMEND, memo required)."""
    data = json_object()
    link = clinic.request_clinic(current_api_user(), data)
    return _clinic_answer(link.id, 201)


@bp.patch("/progress/clinic-links/<int:link_id>/")
def clinic_link_memo(link_id: int):
    """Edit the memo (the only field a person edits directly)."""
    user = current_api_user()
    clinic.link_for(user, link_id)
    data = json_object()
    expected = versioning.take(request.headers.get("If-Match"), data)
    link, _ = clinic.edit_memo(user, link_id, data, expected)
    return _clinic_answer(link.id)


def _add_action_route(action: str) -> None:
    service = getattr(clinic, action)

    def view(link_id: int):
        user = current_api_user()
        clinic.link_for(user, link_id)
        data = json_object() if has_body() else None
        expected = versioning.take(request.headers.get("If-Match"), data)
        link, _ = service(user, link_id, expected)
        return _clinic_answer(link.id)

    bp.add_url_rule(f"/progress/clinic-links/<int:link_id>/{action}/", f"clinic_link_{action}", view,
                    methods=["POST"])


for _action in ("approve", "resolve", "reopen"):
    _add_action_route(_action)

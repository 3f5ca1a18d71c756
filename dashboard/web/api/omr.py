"""`/api/omr-scans`: OMR scan intake and the review queue's API (SPEC §10).

POST registers a scan (admin, staff); POST .../result takes the worker's payload (admin, staff);
POST .../assign and .../correct are a person's review (admin, staff, the lecture's teacher);
GET lists and shows scans within the caller's lectures. The rules live in dashboard.omr.intake.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import jsonify, request

from dashboard.omr import intake as omr
from dashboard.listing import InvalidQuery, PageOutOfRange
from dashboard.web.api import (
    bp,
    conflict,
    current_api_user,
    forbidden,
    json_body,
    not_found,
    validation_error,
)
from dashboard.web.api.lists import page_of
from dashboard.web.api.resources import OMR_SCAN


def _call(action: Callable[..., Any], *args: Any) -> Any:
    """Run a service, turning its refusals into API errors."""
    try:
        return action(*args)
    except omr.OmrNotFound as exc:
        raise not_found(exc.message) from None
    except omr.OmrForbidden as exc:
        raise forbidden(exc.message) from None
    except omr.OmrInvalid as exc:
        raise validation_error(exc.message, exc.field) from None
    except omr.OmrConflict as exc:
        raise conflict(exc.message, exc.field) from None


def _answer(scan_id: int, status: int = 200):
    response = jsonify(OMR_SCAN.dump(omr.scan_row(scan_id)))
    response.status_code = status
    return response


@bp.post("/omr-scans/")
def omr_scan_register():
    """Register a scanned sheet: `{"exam_id": E, "enrollment_id": N or null}` -> 201."""
    user = current_api_user()
    if user.role not in omr.INTAKE_ROLES:
        raise forbidden("Only admins and staff register OMR scans.")
    scan = _call(omr.register_scan, user, json_body())
    return _answer(scan.id, 201)


@bp.get("/omr-scans/")
def omr_scan_list():
    """Scans the caller may see; `needs_review`, `exam_id`, `enrollment_id`, `status`, `page`, `page_size`."""
    try:
        page = omr.list_scans(current_api_user(), request.args)
    except InvalidQuery as exc:
        raise validation_error(str(exc), exc.field) from None
    except PageOutOfRange:
        raise not_found("Invalid page.") from None
    return jsonify(page_of(page, OMR_SCAN.dump))


@bp.get("/omr-scans/<int:scan_id>/")
def omr_scan_detail(scan_id: int):
    scan = _call(omr.scan_for, current_api_user(), scan_id)
    return _answer(scan.id)


@bp.post("/omr-scans/<int:scan_id>/result/")
def omr_scan_result(scan_id: int):
    """The OMR worker's payload; the same payload twice changes nothing."""
    user = current_api_user()
    _call(omr.scan_for, user, scan_id)
    if user.role not in omr.INTAKE_ROLES:
        raise forbidden("Only admins and staff (the OMR worker) post OMR results.")
    scan, _ = _call(omr.record_result, user, scan_id, json_body())
    return _answer(scan.id)


@bp.post("/omr-scans/<int:scan_id>/assign/")
def omr_scan_assign(scan_id: int):
    """`{"enrollment_id": N}`: whose sheet it is, for a scan waiting for review."""
    user = current_api_user()
    _call(omr.scan_for, user, scan_id)
    scan, _ = _call(omr.assign_student, user, scan_id, json_body())
    return _answer(scan.id)


@bp.post("/omr-scans/<int:scan_id>/correct/")
def omr_scan_correct(scan_id: int):
    """`{"answers": [{"question": 3, "detected": ["2"]}]}`: answers read by a person; regrades."""
    user = current_api_user()
    _call(omr.scan_for, user, scan_id)
    scan, _ = _call(omr.correct_answers, user, scan_id, json_body())
    return _answer(scan.id)

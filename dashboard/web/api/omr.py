"""`/api/omr-scans`: OMR scan intake and the review queue's API (SPEC §10).

POST registers a scan (admin, staff); POST .../result takes the worker's payload (admin, staff);
POST .../assign and .../correct are a person's review (admin, staff, the lecture's teacher);
GET lists and shows scans within the caller's lectures. The rules live in dashboard.omr.intake.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import jsonify, request

from dashboard.errors import Forbidden
from dashboard.omr import intake as omr
from dashboard.web.api import bp, current_api_user, json_body
from dashboard.web.api.lists import page_of
from dashboard.web.api.resources import OMR_SCAN


def _answer(scan_id: int, status: int = 200):
    response = jsonify(OMR_SCAN.dump(omr.scan_row(scan_id)))
    response.status_code = status
    return response


@bp.post("/omr-scans/")
def omr_scan_register():
    """Register a scanned sheet: `{"exam_id": E, "enrollment_id": N or null}` -> 201."""
    user = current_api_user()
    if user.role not in omr.INTAKE_ROLES:
        raise Forbidden("omr_register_forbidden")
    scan = omr.register_scan(user, json_body())
    return _answer(scan.id, 201)


@bp.get("/omr-scans/")
def omr_scan_list():
    """Scans the caller may see; `needs_review`, `exam_id`, `enrollment_id`, `status`, `page`, `page_size`."""
    page = omr.list_scans(current_api_user(), request.args)
    return jsonify(page_of(page, OMR_SCAN.dump))


@bp.get("/omr-scans/<int:scan_id>/")
def omr_scan_detail(scan_id: int):
    scan = omr.scan_for(current_api_user(), scan_id)
    return _answer(scan.id)


@bp.post("/omr-scans/<int:scan_id>/result/")
def omr_scan_result(scan_id: int):
    """The OMR worker's payload; the same payload twice changes nothing."""
    user = current_api_user()
    omr.scan_for(user, scan_id)
    if user.role not in omr.INTAKE_ROLES:
        raise Forbidden("omr_result_forbidden")
    scan, _ = omr.record_result(user, scan_id, json_body())
    return _answer(scan.id)


def _review(scan_id: int, action: Callable[..., tuple[Any, bool]]):
    """A person's review of a scan the caller may see (404 otherwise): `action` with the request's
    JSON body; answers the scan as it stands after."""
    user = current_api_user()
    omr.scan_for(user, scan_id)
    scan, _ = action(user, scan_id, json_body())
    return _answer(scan.id)


@bp.post("/omr-scans/<int:scan_id>/assign/")
def omr_scan_assign(scan_id: int):
    """`{"enrollment_id": N}`: whose sheet it is, for a scan waiting for review."""
    return _review(scan_id, omr.assign_student)


@bp.post("/omr-scans/<int:scan_id>/correct/")
def omr_scan_correct(scan_id: int):
    """`{"answers": [{"question": 3, "detected": ["2"]}]}`: answers read by a person; regrades."""
    return _review(scan_id, omr.correct_answers)

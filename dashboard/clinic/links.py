"""Clinic links changed by people (SPEC §6): manual requests, approve, resolve, reopen, memo.

Who may do what lives here, so the API and the pages share it: admin and staff act on any
link; a teacher sees their lectures' links, requests clinics (MANUAL_REQUEST, and
TEACHER_RECOMMEND which staff may not) and edits memos, but never approves, resolves or
reopens. Approve, resolve and reopen take the link out of automatic management; a memo edit
does not. An action that would change nothing changes and records nothing.

Services only flush; the request or command boundary commits. Refusals are dashboard.errors:
Forbidden (the role may not, or the lecture is another's), NotFound (missing or outside the
caller's lectures) and Invalid (a bad value, naming the field).
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import select

from dashboard.models import versions as versioning
from dashboard.accounts import audit
from dashboard.accounts.access import visible_lecture_ids
from dashboard.clock import now
from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import MAX_ID, ClinicLink, Enrollment, LectureSession, User
from dashboard.progress.recompute import lock_lecture

MANUAL_REASONS = ("MANUAL_REQUEST", "TEACHER_RECOMMEND")
# Which roles may request a clinic for each manual reason (a teacher only in their lectures).
REQUEST_ROLES = {"MANUAL_REQUEST": ("admin", "staff", "teacher"), "TEACHER_RECOMMEND": ("admin", "teacher")}
ACTION_ROLES = ("admin", "staff")
MEMO_ROLES = ("admin", "staff", "teacher")
MEMO_MAX_LENGTH = 5000
REQUEST_FIELDS = ("enrollment_id", "session", "session_id", "reason", "memo")


def _in_scope(user: User, lecture_id: int) -> bool:
    visible = visible_lecture_ids(user)
    return visible is None or lecture_id in visible


def link_for(user: User, link_id: int) -> ClinicLink:
    """The link with this id, if the caller may see it (NotFound otherwise)."""
    row = db.session.execute(
        select(ClinicLink, Enrollment.lecture_id)
        .join(Enrollment, Enrollment.id == ClinicLink.enrollment_id)
        .where(ClinicLink.id == link_id)
    ).first()
    if row is None or not _in_scope(user, row.lecture_id):
        raise NotFound("no_clinic_link")
    return row[0]


def _lecture_id_of(link: ClinicLink) -> int:
    return db.session.execute(
        select(Enrollment.lecture_id).where(Enrollment.id == link.enrollment_id)
    ).scalar_one()


def _state(link: ClinicLink) -> dict[str, Any]:
    """The values a person's action can change, for the audit trail."""
    return {
        "approved": link.approved,
        "approved_by_id": link.approved_by_id,
        "approved_at": link.approved_at,
        "resolved_at": link.resolved_at,
        "resolved_by_id": link.resolved_by_id,
        "reopened_by_id": link.reopened_by_id,
        "reopened_at": link.reopened_at,
        "auto_managed": link.auto_managed,
        "memo": link.memo,
        "meta": link.meta,
    }


def _id_value(data: Mapping[str, Any], name: str) -> int | None:
    """An id given as a JSON integer; None when absent (Invalid when of the wrong type)."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid("not_an_id", name, name=name)
    return value


def _clean_memo(value: Any, required: bool) -> str | None:
    if value is None:
        if required:
            raise Invalid("memo_required", "memo")
        return None
    if not isinstance(value, str):
        raise Invalid("memo_not_text", "memo")
    if len(value) > MEMO_MAX_LENGTH:
        raise Invalid("memo_too_long", "memo", max=MEMO_MAX_LENGTH)
    if required and not value.strip():
        raise Invalid("memo_required", "memo")
    return value


def key_given(data: Mapping[str, Any], name: str, alias: str) -> str:
    """Which of a field's two accepted names a body uses (`name` when it uses neither). Both, with
    different values, is refused naming the alias: which one was meant cannot be told."""
    if name in data and alias in data and data[name] != data[alias]:
        raise Invalid("alias_conflict", alias, name=name, alias=alias)
    return name if name in data or alias not in data else alias


def request_clinic(user: User, data: Mapping[str, Any]) -> ClinicLink:
    """A person's clinic request: `{"enrollment_id", "session", "reason", "memo"}` (SPEC §6).

    Checks in order: the role may request this reason at all, the enrollment and session
    are in the caller's lectures (403), then the values (400).
    """
    reason = data.get("reason")
    if reason in REQUEST_ROLES and user.role not in REQUEST_ROLES[reason]:
        raise Forbidden("clinic_reason_forbidden", choice=reason)
    if reason not in REQUEST_ROLES and user.role not in REQUEST_ROLES["MANUAL_REQUEST"]:
        raise Forbidden("clinic_request_forbidden")
    session_key = key_given(data, "session", "session_id")
    enrollment_id = _id_value(data, "enrollment_id")
    session_id = _id_value(data, session_key)
    enrollment = db.session.get(Enrollment, enrollment_id) if enrollment_id is not None else None
    session = db.session.get(LectureSession, session_id) if session_id is not None else None
    if enrollment is not None and not _in_scope(user, enrollment.lecture_id):
        raise Forbidden("enrollment_not_taught")
    if session is not None and not _in_scope(user, session.lecture_id):
        raise Forbidden("session_not_taught")

    for name in data:
        if name not in REQUEST_FIELDS:
            raise Invalid("clinic_request_field", name, name=name)
    if reason not in MANUAL_REASONS:
        raise Invalid("clinic_manual_reason", "reason")
    if enrollment_id is None:
        raise Invalid("name_required", "enrollment_id", name="enrollment_id")
    if enrollment is None:
        raise Invalid("no_enrollment", "enrollment_id", id=enrollment_id)
    if session_id is None:
        raise Invalid("name_required", session_key, name="session")
    if session is None:
        raise Invalid("no_session", session_key, id=session_id)
    if session.lecture_id != enrollment.lecture_id:
        raise Invalid("session_of_other_lecture", session_key)
    memo = _clean_memo(data.get("memo"), required=True)

    lock_lecture(enrollment.lecture_id)
    link = ClinicLink(
        enrollment_id=enrollment.id,
        session_id=session.id,
        reason=reason,
        is_auto=False,
        approved=False,
        memo=memo,
        auto_managed=False,
        created_by_id=user.id,
    )
    db.session.add(link)
    db.session.flush()
    audit.record("clinic_link.create", "clinic_link", link.id, None,
                 {"enrollment_id": link.enrollment_id, "session_id": link.session_id,
                  "reason": reason, "memo": memo},
                 user=user, lecture_id=enrollment.lecture_id)
    return link


def _act(user: User, link_id: int, action: str, expected_version: int | None) -> tuple[ClinicLink, bool]:
    link = link_for(user, link_id)
    if user.role not in ACTION_ROLES:
        raise Forbidden("clinic_action_forbidden", action=action)
    lecture_id = _lecture_id_of(link)
    lock_lecture(lecture_id)
    db.session.refresh(link)
    versioning.check(link, expected_version)
    before = _state(link)
    moment = now()
    if action == "approve":
        if link.approved:
            return link, False
        link.approved = True
        link.approved_by_id = user.id
        link.approved_at = moment
    elif action == "resolve":
        if link.resolved_at is not None:
            return link, False
        link.resolved_at = moment
        link.resolved_by_id = user.id
    else:
        if link.resolved_at is None:
            return link, False
        link.resolved_at = None
        link.resolved_by_id = None
        link.reopened_by_id = user.id
        link.reopened_at = moment
        if isinstance(link.meta, dict) and "auto_resolved" in link.meta:
            # A new dict: the JSON column notices reassignment, not mutation in place.
            link.meta = {**link.meta, "auto_resolved": False}
    # From now on only people change this link (SPEC §6 lifecycle, rule 5).
    link.auto_managed = False
    db.session.flush()
    audit.record(f"clinic_link.{action}", "clinic_link", link.id, before, _state(link),
                 user=user, lecture_id=lecture_id)
    return link, True


def approve(user: User, link_id: int, expected_version: int | None = None) -> tuple[ClinicLink, bool]:
    """A clinic slot is arranged. Returns the link and whether anything changed.

    With `expected_version` (SPEC §8), a link changed since that version is refused (Conflict)."""
    return _act(user, link_id, "approve", expected_version)


def resolve(user: User, link_id: int, expected_version: int | None = None) -> tuple[ClinicLink, bool]:
    """The clinic took place or the booking is closed. Returns the link and whether anything changed."""
    return _act(user, link_id, "resolve", expected_version)


def reopen(user: User, link_id: int, expected_version: int | None = None) -> tuple[ClinicLink, bool]:
    """Open a resolved link again. Returns the link and whether anything changed."""
    return _act(user, link_id, "reopen", expected_version)


def edit_memo(user: User, link_id: int, data: Mapping[str, Any],
              expected_version: int | None = None) -> tuple[ClinicLink, bool]:
    """Change a link's memo (`{"memo": ...}` only); admin, staff or the lecture's teacher."""
    link = link_for(user, link_id)
    if user.role not in MEMO_ROLES:
        raise Forbidden("clinic_memo_forbidden")
    lock_lecture(_lecture_id_of(link))
    db.session.refresh(link)
    versioning.check(link, expected_version)
    for name in data:
        if name != "memo":
            raise Invalid("clinic_memo_only", name, name=name)
    if "memo" not in data:
        raise Invalid("name_required", "memo", name="memo")
    memo = _clean_memo(data["memo"], required=link.reason in MANUAL_REASONS)
    if memo == link.memo:
        return link, False
    lecture_id = _lecture_id_of(link)
    before = link.memo
    link.memo = memo
    db.session.flush()
    audit.record("clinic_link.memo", "clinic_link", link.id, {"memo": before}, {"memo": memo},
                 user=user, lecture_id=lecture_id)
    return link, True

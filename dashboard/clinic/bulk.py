"""People's actions on many clinic links at once (SPEC §6): approve, resolve or reopen every
selected link in one request and one transaction, with the same rules as one link at a time
(dashboard.clinic.links): admins and staff only, a link outside the caller's lectures is
NotFound, a link the action would not change is left alone and not audited, and every changed
link leaves automatic management.

Set-based: a handful of statements whatever the number of links — read the links and their
lectures, lock those lectures, one UPDATE, one INSERT of the audit entries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm.util import identity_key

from dashboard.accounts.access import visible_lecture_ids
from dashboard.accounts.audit import json_safe
from dashboard.clock import now
from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import AuditLog, ClinicLink, Enrollment, Lecture, User

ACTIONS = ("approve", "resolve", "reopen")
ACTION_ROLES = ("admin", "staff")
MAX_LINKS = 1000


@dataclass(frozen=True)
class BulkResult:
    """How many links were selected and how many the action changed."""

    selected: int
    changed: int


def bulk_act(user: User, action: str, link_ids: list[int]) -> BulkResult:
    """Approve, resolve or reopen every link in `link_ids` (ids the caller cannot see: NotFound)."""
    if user.role not in ACTION_ROLES:
        raise Forbidden()
    if action not in ACTIONS:
        raise Invalid("not_a_choice", "action", choices=", ".join(ACTIONS))
    ids = sorted(set(link_ids))
    if not ids:
        raise Invalid("required", "link_ids")
    if len(ids) > MAX_LINKS:
        raise Invalid("too_large", "link_ids", max=MAX_LINKS)
    rows = db.session.execute(
        select(ClinicLink.id, Enrollment.lecture_id)
        .join(Enrollment, Enrollment.id == ClinicLink.enrollment_id)
        .where(ClinicLink.id.in_(ids))
    ).all()
    visible = visible_lecture_ids(user)
    lecture_of = {link_id: lecture_id for link_id, lecture_id in rows
                  if visible is None or lecture_id in visible}
    if len(lecture_of) != len(ids):
        raise NotFound()
    lectures = sorted(set(lecture_of.values()))
    # The recompute writes links under the lecture lock too (dashboard.progress.recompute.lock_lecture).
    db.session.execute(select(Lecture.id).where(Lecture.id.in_(lectures)).order_by(Lecture.id).with_for_update())
    moment = now()
    if action == "approve":
        condition = ClinicLink.approved.is_(False)
        values: dict[str, Any] = {"approved": True, "approved_by_id": user.id, "approved_at": moment}
    elif action == "resolve":
        condition = ClinicLink.resolved_at.is_(None)
        values = {"resolved_at": moment, "resolved_by_id": user.id}
    else:
        condition = ClinicLink.resolved_at.is_not(None)
        values = {"resolved_at": None, "resolved_by_id": None, "reopened_by_id": user.id, "reopened_at": moment}
    changed = list(db.session.execute(
        update(ClinicLink).where(ClinicLink.id.in_(ids), condition)
        .values(version=ClinicLink.version + 1, **values, auto_managed=False, updated_at=moment)
        .returning(ClinicLink.id)
        .execution_options(synchronize_session=False)
    ).scalars())
    if not changed:
        return BulkResult(len(ids), 0)
    for link_id in changed:
        loaded = db.session.identity_map.get(identity_key(ClinicLink, link_id))
        if loaded is not None:
            db.session.expire(loaded)
    if action == "reopen":
        # As one at a time: a link the recompute had resolved is no longer marked so.
        for link in db.session.execute(select(ClinicLink).where(ClinicLink.id.in_(changed))).scalars():
            if isinstance(link.meta, dict) and link.meta.get("auto_resolved"):
                link.meta = {**link.meta, "auto_resolved": False}
        db.session.flush()
    after = json_safe({**values, "auto_managed": False})
    db.session.execute(insert(AuditLog), [
        {"user_id": user.id, "username": user.username, "action": f"clinic_link.{action}",
         "object_type": "clinic_link", "object_id": str(link_id), "lecture_id": lecture_of[link_id],
         "before": None, "after": after, "created_at": moment}
        for link_id in changed
    ])
    return BulkResult(len(ids), len(changed))

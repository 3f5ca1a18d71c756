"""Parent links: a signed, expiring, revocable address of one student's report for one month.

The address carries a random token signed with the app's SECRET_KEY; only the token's SHA-256 is
stored, so the database alone cannot rebuild a link. A link opens without an account and shows
that one report; a tampered signature, an unknown token, a revoked or an expired link are all
the same NotFound. Creating, revoking and every view are written to the audit trail.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import select

from dashboard.accounts import audit
from dashboard.clock import now
from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import Enrollment, ReportLink, User
from dashboard.reports.access import can_write_reports, writable_enrollment
from dashboard.reports.figures import Month

DEFAULT_DAYS = 14
MAX_DAYS = 365
SALT = "report-link"


@dataclass(frozen=True)
class NewLink:
    """A link just created, with its token: the only time the token exists outside the address."""

    link: ReportLink
    token: str


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt=SALT)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_days(value: object) -> int:
    """Days until the link expires: an integer 1..365 (SPEC §1: true, 1.5 or "3" are not integers)."""
    if value is None:
        return DEFAULT_DAYS
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("not_integer", "days")
    if not 1 <= value <= MAX_DAYS:
        raise Invalid("out_of_range", "days", min=1, max=MAX_DAYS)
    return value


def create_link(user: User, enrollment_id: int, month: Month, days: int = DEFAULT_DAYS) -> NewLink:
    """A new parent link, expiring `days` after the real clock's now (roles: access.writable_enrollment)."""
    lecture_id = writable_enrollment(user, enrollment_id)
    days = parse_days(days)
    raw = secrets.token_urlsafe(32)
    link = ReportLink(enrollment_id=enrollment_id, month=str(month), token_hash=token_hash(raw),
                      expires_at=now() + timedelta(days=days), created_by_id=user.id)
    db.session.add(link)
    db.session.flush()
    audit.record("report_link.create", "report_link", link.id, None,
                 {"enrollment_id": enrollment_id, "month": str(month), "expires_at": link.expires_at},
                 user=user, lecture_id=lecture_id)
    return NewLink(link, _signer().sign(raw).decode())


def link_for_writer(user: User, link_id: int) -> ReportLink:
    """A link the user may revoke: Forbidden for staff (role first), NotFound outside their lectures."""
    if user.role not in ("admin", "teacher"):
        raise Forbidden()
    found = db.session.execute(
        select(ReportLink, Enrollment.lecture_id).join(Enrollment, Enrollment.id == ReportLink.enrollment_id)
        .where(ReportLink.id == link_id)).first()
    if found is None or not can_write_reports(user, found[1]):
        raise NotFound()
    return found[0]


def revoke_link(user: User, link_id: int) -> ReportLink:
    """Revoke a link; revoking a revoked one changes and records nothing."""
    link = link_for_writer(user, link_id)
    if link.revoked_at is None:
        link.revoked_at = now()
        link.revoked_by_id = user.id
        db.session.flush()
        audit.record("report_link.revoke", "report_link", link.id, None, {"revoked_at": link.revoked_at},
                     user=user, lecture_id=_lecture_id(link))
    return link


def open_link(token: str) -> ReportLink:
    """The live link behind a token, its view audited; NotFound for anything else."""
    try:
        raw = _signer().unsign(token).decode()
    except (BadSignature, UnicodeDecodeError):
        raise NotFound() from None
    link = db.session.execute(
        select(ReportLink).where(ReportLink.token_hash == token_hash(raw))).scalar_one_or_none()
    if link is None or link.revoked_at is not None or link.expires_at <= now():
        raise NotFound()
    audit.record("report_link.view", "report_link", link.id, None,
                 {"enrollment_id": link.enrollment_id, "month": link.month}, lecture_id=_lecture_id(link))
    return link


def active_links(enrollment_id: int) -> list[ReportLink]:
    """The enrollment's links that still open (not revoked, not expired), newest first."""
    return list(db.session.execute(
        select(ReportLink).where(ReportLink.enrollment_id == enrollment_id, ReportLink.revoked_at.is_(None),
                                 ReportLink.expires_at > now())
        .order_by(ReportLink.created_at.desc(), ReportLink.id.desc())).scalars())


def _lecture_id(link: ReportLink) -> int | None:
    return db.session.execute(
        select(Enrollment.lecture_id).where(Enrollment.id == link.enrollment_id)).scalar_one_or_none()

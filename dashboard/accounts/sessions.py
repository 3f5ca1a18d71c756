"""Signed-in browsers, kept on the server so that they can be listed and ended.

Signing in starts a session: a random key goes into the signed session cookie, its SHA-256 into
`user_session`. Every page request finds its session by that key and refuses one that ended —
signed out, ended from "My account" on another device, or by a password change or a
deactivation (`end_all`) — or that ran out: SESSION_IDLE_HOURS (default 8) without a request,
for the shared staff-room PC left signed in, or SESSION_MAX_HOURS (default 24) after signing in,
however busy. A copy of the cookie is refused as soon as its session has ended.

`last_seen_at` is written at most once a minute, so a page read is still a read.
Functions only flush; the request commits.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from dashboard.clock import now
from dashboard.extensions import db
from dashboard.models import MAX_ID, User, UserSession

DEFAULT_IDLE_HOURS = 8
DEFAULT_MAX_HOURS = 24
SEEN_RESOLUTION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def idle_limit() -> timedelta:
    return timedelta(hours=float(current_app.config.get("SESSION_IDLE_HOURS") or DEFAULT_IDLE_HOURS))


def max_age() -> timedelta:
    return timedelta(hours=float(current_app.config.get("SESSION_MAX_HOURS") or DEFAULT_MAX_HOURS))


def start(user: User, user_agent: str | None = None, address: str | None = None) -> str:
    """A new session of this user; answers its key, to be kept in the session cookie only."""
    key = secrets.token_urlsafe(32)
    moment = now()
    db.session.add(UserSession(user_id=user.id, key_hash=_hash(key), created_at=moment, last_seen_at=moment,
                               user_agent=(user_agent or "")[:200] or None, address=(address or "")[:64] or None))
    db.session.flush()
    return key


def _ran_out(row: UserSession, moment: datetime) -> bool:
    return moment - row.last_seen_at > idle_limit() or moment - row.created_at > max_age()


def live(user_id: int, key: str | None) -> UserSession | None:
    """The user's session with this key, if it has neither ended nor run out (then it is marked
    ended); its last-seen time moves on."""
    if not key or not isinstance(key, str) or len(key) > 100:
        return None
    row = db.session.execute(
        select(UserSession).where(UserSession.key_hash == _hash(key), UserSession.user_id == user_id)
    ).scalar_one_or_none()
    if row is None or row.ended_at is not None:
        return None
    moment = now()
    if _ran_out(row, moment):
        row.ended_at = moment
        return None
    if moment - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = moment
    return row


def of_user(user: User) -> list[UserSession]:
    """The user's sessions that are still live, most recently seen first."""
    moment = now()
    rows = db.session.execute(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).scalars()
    return [row for row in rows if not _ran_out(row, moment)]


def end(user: User, session_id: int) -> bool:
    """End one of the user's own sessions (another device); False when there is no such live one."""
    if not 0 < session_id <= MAX_ID:
        return False
    result = db.session.execute(
        update(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id,
                                  UserSession.ended_at.is_(None)).values(ended_at=now())
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)


def end_key(key: str | None) -> None:
    """End the session with this key (signing out)."""
    if key and isinstance(key, str):
        db.session.execute(update(UserSession).where(UserSession.key_hash == _hash(key),
                                                     UserSession.ended_at.is_(None)).values(ended_at=now())
                           .execution_options(synchronize_session=False))


def end_all(user: User, keep: int | None = None) -> int:
    """End every live session of the user, but `keep` (an id) when given; answers how many ended."""
    condition = [UserSession.user_id == user.id, UserSession.ended_at.is_(None)]
    if keep is not None:
        condition.append(UserSession.id != keep)
    result = db.session.execute(update(UserSession).where(*condition).values(ended_at=now())
                                .execution_options(synchronize_session=False))
    return result.rowcount or 0


def find(user: User, key: str | None) -> UserSession | None:
    """This browser's session row (by its key), without touching it."""
    if not key or not isinstance(key, str):
        return None
    return db.session.execute(
        select(UserSession).where(UserSession.key_hash == _hash(key), UserSession.user_id == user.id)
    ).scalar_one_or_none()

"""Accounts: users and their roles, lecture assignments, passwords, API tokens and login throttling.

Service functions only flush; the request or CLI command that calls them commits once.
Only teachers carry lecture assignments (admin and staff see every lecture), so assigning
lectures to another role is refused and leaving the teacher role drops them.
"""
from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.accounts import passwords, sessions
from dashboard.clock import now
from dashboard.errors import Conflict, Invalid, NotFound, describe
from dashboard.extensions import db
from dashboard.models import MAX_ID, ROLES, ApiToken, Lecture, LoginFailure, TeacherLecture, User

USERNAME_MAX_LENGTH = 150
TOKEN_NAME_MAX_LENGTH = 100

# Throttling: this many failures within the window block further attempts on the same key until
# the window has passed since the last of them. The tight limit is per (address, account): a
# teacher mistyping at the academy's shared address locks only their own name there, not every
# account behind that address, nor their own account elsewhere. Much higher ceilings per address
# (one machine guessing many names) and per account (many machines guessing one name) stop
# wider guessing; an admin can lift an account's block at once (unlock_account).
MAX_LOGIN_FAILURES = 5
MAX_ADDRESS_FAILURES = 50
MAX_ACCOUNT_FAILURES = 50
THROTTLE_WINDOW = timedelta(minutes=15)

# A token's last_used_at is refreshed at most this often, so reads stay reads.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
# Tokens start with this, so a token pasted where it should not be is recognised (and found by
# secret scanners); only its first characters (TOKEN_HINT_LENGTH) are kept to tell tokens apart.
TOKEN_PREFIX = "acd_"
TOKEN_HINT_LENGTH = 8
MAX_TOKEN_DAYS = 3650


class LoginRefused(Exception):
    """A login that did not succeed: why (a reason of errors.TEXTS, worded in the reader's
    language by `message`), and whether it was a block (`throttled`) rather than bad credentials."""

    def __init__(self, reason: str, throttled: bool = False, **params) -> None:
        self.reason = reason
        self.params = params
        self.throttled = throttled
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return describe(Invalid(self.reason, **self.params))


# ---------------------------------------------------------------- users

def get_user(user_id: int) -> User | None:
    """The user with this id, or None."""
    return db.session.get(User, user_id)


def user_by_username(username: str) -> User | None:
    """The user with exactly this username, or None."""
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def list_users() -> list[User]:
    """Every user, by username."""
    return list(db.session.execute(select(User).order_by(User.username, User.id)).scalars())


def lecture_ids_of(user: User) -> list[int]:
    """The ids of the lectures assigned to a user, ascending."""
    return list(db.session.execute(
        select(TeacherLecture.lecture_id).where(TeacherLecture.user_id == user.id).order_by(TeacherLecture.lecture_id)
    ).scalars())


def check_new_user(username: str, role: str, lecture_ids: Iterable[int] = ()) -> tuple[str, list[int]]:
    """Refuse a new user's name, role or lectures before anything is asked or written.

    Answers the cleaned username and the distinct lecture ids.
    """
    username = _clean_username(username)
    _check_role(role)
    lecture_ids = _check_lectures(role, lecture_ids)
    if user_by_username(username) is not None:
        raise Conflict("username_taken", "username")
    return username, lecture_ids


def create_user(username: str, password: str, role: str, lecture_ids: Iterable[int] = (),
                check_policy: bool = True) -> User:
    """Add a user with a hashed password; a teacher may be assigned lectures at once. The password
    follows the password rule (passwords.problem) unless `check_policy` is false (the console's
    create-user, which warns instead)."""
    username, lecture_ids = check_new_user(username, role, lecture_ids)
    _check_password(password, username if check_policy else None, check_policy)
    user = User(username=username, password_hash=_hash(password), role=role, is_active=True)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Another request took the name between the check and the insert; the unique
        # constraint is the real guard, and the caller's boundary rolls back.
        raise Conflict("username_taken", "username") from exc
    _replace_lectures(user, lecture_ids)
    return user


def set_role(user: User, role: str) -> None:
    """Change a user's role; a role that takes no lectures (admin) drops the lecture assignments,
    and so does a change between teacher and staff (teaching a lecture is not assisting in it)."""
    _check_role(role)
    if role == user.role:
        return
    if user.role == "admin":
        _keep_an_admin(user)
    _replace_lectures(user, [])
    user.role = role
    db.session.flush()


def assign_lectures(user: User, lecture_ids: Iterable[int]) -> None:
    """Replace a teacher's (or an assistant's) assigned lectures with exactly these."""
    _replace_lectures(user, _check_lectures(user.role, lecture_ids))


def deactivate(user: User) -> None:
    """Stop a user at once: their browser sessions and API tokens are refused from the next request."""
    if user.is_active and user.role == "admin":
        _keep_an_admin(user)
    user.is_active = False
    end_sessions(user)


def activate(user: User) -> None:
    """Let a deactivated user sign in (and use their unrevoked tokens) again. Sessions from before
    the deactivation stay ended: the user signs in anew."""
    user.is_active = True
    db.session.flush()


def reset_password(user: User, password: str) -> None:
    """Give a user a new password (an admin's reset); every browser session of the user ends.
    API tokens are credentials of their own and stay until revoked."""
    _check_password(password, user.username)
    user.password_hash = _hash(password)
    end_sessions(user)


def change_own_password(user: User, current: str, new: str) -> None:
    """A user's change of their own password: the current one must be right; every session of
    theirs ends (the caller signs the browser that asked in again)."""
    if not check_password(user, current or ""):
        raise Invalid("password_current_wrong", "current_password")
    reset_password(user, new)


def end_sessions(user: User) -> None:
    """End every browser session of the user, on every device (a new password, deactivation):
    their server-side sessions end, and the generation kept in each cookie no longer matches."""
    user.session_generation = (user.session_generation or 0) + 1
    sessions.end_all(user)
    db.session.flush()


def user_for_session(session_id: str, key: str | None) -> User | None:
    """The active user a browser session belongs to: Flask-Login's id (`user id:generation`)
    names the user, and the session's key must name a live session of theirs (accounts.sessions)."""
    raw_id, _, rest = session_id.partition(":")
    generation = rest.partition(":")[0]
    if not (raw_id.isascii() and raw_id.isdigit()) or not 0 < int(raw_id) <= MAX_ID:
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or not user.is_active or generation != str(user.session_generation):
        return None
    if sessions.live(user.id, key) is None:
        return None
    return user


def check_password(user: User, password: str) -> bool:
    """Whether the password is the user's."""
    return check_password_hash(user.password_hash, password)


def _hash(password: str) -> str:
    # PASSWORD_HASH_METHOD exists so test suites can use cheaper scrypt parameters.
    return generate_password_hash(password, method=passwords.method())


def _clean_username(username: str) -> str:
    username = (username or "").strip()
    if not username:
        raise Invalid("username_required", "username")
    if len(username) > USERNAME_MAX_LENGTH:
        raise Invalid("username_too_long", "username", max=USERNAME_MAX_LENGTH)
    if any(ch.isspace() or not ch.isprintable() for ch in username):
        raise Invalid("username_spaces", "username")
    return username


# Roles that may be assigned lectures: teachers teach them, staff assist in them (조교).
LECTURE_ROLES = ("teacher", "staff")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid("role_choice", "role", choices=", ".join(ROLES))


def _check_password(password: str, username: str | None, check_policy: bool = True) -> None:
    reason = passwords.problem(password, username)
    if reason == "password_required" or (reason is not None and check_policy):
        raise passwords.refusal(reason)


def _check_lectures(role: str, lecture_ids: Iterable[int]) -> list[int]:
    """The distinct lecture ids, each existing; only a teacher or a staff member (an assistant, who then
    edits those lectures' inputs) may be given any."""
    wanted = sorted(set(lecture_ids))
    if not wanted:
        return []
    if role not in LECTURE_ROLES:
        raise Invalid("lectures_for_teachers_only", "lectures")
    found = set(db.session.execute(select(Lecture.id).where(Lecture.id.in_(wanted))).scalars())
    missing = [str(lecture_id) for lecture_id in wanted if lecture_id not in found]
    if missing:
        raise Invalid("unknown_lectures", "lectures", ids=", ".join(missing))
    return wanted


def _replace_lectures(user: User, lecture_ids: list[int]) -> None:
    db.session.execute(delete(TeacherLecture).where(TeacherLecture.user_id == user.id))
    db.session.add_all(TeacherLecture(user_id=user.id, lecture_id=lecture_id) for lecture_id in lecture_ids)
    db.session.flush()


def _keep_an_admin(user: User) -> None:
    """Refuse a change that would leave nobody able to manage users."""
    others = db.session.execute(
        select(User.id).where(User.role == "admin", User.is_active.is_(True), User.id != user.id).limit(1)
    ).first()
    if others is None:
        raise Conflict("last_active_admin")


# ---------------------------------------------------------------- API tokens

def create_token(user: User, name: str | None = None, days: int | None = None) -> str:
    """Issue a bearer token for a user; the raw token is returned once and only its SHA-256 is kept."""
    return issue_token(user, name, days)[1]


def issue_token(user: User, name: str | None = None, days: int | None = None) -> tuple[ApiToken, str]:
    """Like create_token, answering the stored row too (for its id). The token starts with
    TOKEN_PREFIX; with `days` it is refused from that many days on (None: until revoked)."""
    if not user.is_active:
        raise Conflict("user_deactivated", "username", username=user.username)
    if name is not None:
        name = name.strip() or None
        if name is not None and len(name) > TOKEN_NAME_MAX_LENGTH:
            raise Invalid("token_name_too_long", "name", max=TOKEN_NAME_MAX_LENGTH)
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS):
        raise Invalid("token_days", "days", max=MAX_TOKEN_DAYS)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    moment = now()
    token = ApiToken(user_id=user.id, token_hash=_token_hash(raw), name=name, hint=raw[:TOKEN_HINT_LENGTH],
                     created_at=moment, expires_at=moment + timedelta(days=days) if days else None)
    db.session.add(token)
    db.session.flush()
    return token, raw


def user_for_token(raw: str | None) -> User | None:
    """The active user a live token belongs to, or None (unknown, revoked, or the user deactivated)."""
    if not raw:
        return None
    row = db.session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(raw), ApiToken.revoked_at.is_(None), User.is_active.is_(True))
    ).first()
    if row is None:
        return None
    token, user = row
    moment = now()
    if token.expires_at is not None and token.expires_at <= moment:
        return None
    if token.last_used_at is None or moment - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = moment
    return user


def revoke_token(token_id: int) -> ApiToken:
    """Revoke a token by id (revoking a revoked token changes nothing)."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("no_token", "token", id=token_id)
    if token.revoked_at is None:
        token.revoked_at = now()
        db.session.flush()
    return token


def token_of(user: User, token_id: int) -> ApiToken:
    """One of the user's own tokens (another's answers not found)."""
    token = db.session.get(ApiToken, token_id) if 0 < token_id <= MAX_ID else None
    if token is None or token.user_id != user.id:
        raise NotFound("no_token", "token", id=token_id)
    return token


def revoke_own_token(user: User, token_id: int) -> ApiToken:
    """A user revokes one of their own tokens (another's answers not found)."""
    return revoke_token(token_of(user, token_id).id)


def revoke_tokens_of(user: User) -> list[ApiToken]:
    """Revoke every live token of a user; answers the tokens revoked."""
    live = [token for token in list_tokens(user) if token.revoked_at is None]
    moment = now()
    for token in live:
        token.revoked_at = moment
    db.session.flush()
    return live


def list_tokens(user: User) -> list[ApiToken]:
    """A user's tokens, revoked ones included, oldest first."""
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    ).scalars())


def token_hash(raw: str) -> str:
    """The SHA-256 a token is stored and counted under."""
    return _token_hash(raw)


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- login and throttling

def authenticate(username: str, password: str, address: str | None) -> User:
    """The user these credentials belong to, or LoginRefused.

    A refused attempt is recorded (flushed) against the account name and the address; the
    caller commits even on refusal so every worker sees the throttle.
    """
    username = (username or "").strip()[:USERNAME_MAX_LENGTH]
    limits = {_pair_key(username, address): MAX_LOGIN_FAILURES, _address_key(address): MAX_ADDRESS_FAILURES,
              _account_key(username): MAX_ACCOUNT_FAILURES}
    keys = list(limits)
    moment = now()
    _one_attempt_at_a_time(keys, moment)
    wait = max(_throttled_for(key, moment, limit) for key, limit in limits.items())
    if wait:
        minutes = math.ceil(wait.total_seconds() / 60)
        raise LoginRefused("login_throttled_one" if minutes == 1 else "login_throttled", throttled=True, n=minutes)
    user = user_by_username(username) if username else None
    # Hash even for an unknown name, so the response time does not reveal which names exist.
    valid = check_password(user, password or "") if user else check_password_hash(_decoy_hash(), password or "")
    if not valid:
        _record_failure(keys, moment)
        raise LoginRefused("login_invalid")
    if not user.is_active:
        raise LoginRefused("login_deactivated")
    db.session.execute(delete(LoginFailure).where(LoginFailure.key.in_([keys[0], _account_key(username)])))
    if passwords.needs_rehash(user.password_hash):
        # The one moment the password is known: re-make its hash with today's parameters.
        user.password_hash = _hash(password)
    return user


def is_locked(user: User) -> bool:
    """Whether sign-in for this account is blocked now, from some address or from every one."""
    moment = now()
    prefix = _pair_prefix(user.username)
    pair_keys = set(db.session.execute(
        select(LoginFailure.key).where(LoginFailure.key.startswith(prefix, autoescape=True))).scalars())
    return bool(_throttled_for(_account_key(user.username), moment, MAX_ACCOUNT_FAILURES)) or any(
        _throttled_for(key, moment, MAX_LOGIN_FAILURES) for key in pair_keys)


def unlock_account(user: User) -> int:
    """Lift every sign-in block of this account (an admin's action): its failures are forgotten,
    from every address. Answers how many failures were dropped."""
    prefix = _pair_prefix(user.username)
    result = db.session.execute(delete(LoginFailure).where(or_(
        LoginFailure.key.startswith(prefix, autoescape=True), LoginFailure.key == _account_key(user.username))))
    db.session.flush()
    return result.rowcount or 0


def _throttled_for(key: str, moment: datetime, limit: int = MAX_LOGIN_FAILURES) -> timedelta:
    """How long this key is still blocked (zero when it is not)."""
    recent = list(db.session.execute(
        select(LoginFailure.failed_at)
        .where(LoginFailure.key == key)
        .order_by(LoginFailure.failed_at.desc())
        .limit(limit)
    ).scalars())
    if len(recent) < limit or recent[0] - recent[-1] > THROTTLE_WINDOW:
        return timedelta(0)
    return max(recent[0] + THROTTLE_WINDOW - moment, timedelta(0))


def _one_attempt_at_a_time(keys: list[str], moment: datetime) -> None:
    """Attempts on one account, or from one address, run one after the other until the request
    commits, so each counts the failures of those before it: counting first and recording after
    would let parallel guesses past the limit. PostgreSQL: transaction-scoped advisory locks on
    the keys (in one order, so two attempts cannot deadlock); SQLite: the cleanup below is the
    transaction's first write, and takes the database's one write lock until the commit."""
    if db.session.get_bind().dialect.name == "postgresql":
        for key in sorted(set(keys)):
            db.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    # Rows older than two windows can no longer matter, so the table stays small.
    db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at < moment - 2 * THROTTLE_WINDOW))


def _record_failure(keys: list[str], moment: datetime) -> None:
    db.session.add_all(LoginFailure(key=key, failed_at=moment) for key in keys)
    db.session.flush()


def _account_key(username: str) -> str:
    return "user:" + username.casefold()


def _address_key(address: str | None) -> str:
    return "addr:" + (address or "unknown")[:190]


def _pair_key(username: str, address: str | None) -> str:
    """One account from one address; "pair:<name>|" starts every address's key of that account."""
    return _pair_prefix(username) + (address or "unknown")[:44]


def _pair_prefix(username: str) -> str:
    return "pair:" + username.casefold()[:150] + "|"


def _decoy_hash() -> str:
    """A hash of nothing anyone knows, made with the same method as real ones (so it costs the same)."""
    return _decoy_hash_for(passwords.method())


@cache
def _decoy_hash_for(method: str) -> str:
    return generate_password_hash(secrets.token_hex(16), method=method)

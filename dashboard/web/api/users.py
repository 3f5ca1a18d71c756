"""User and API-token management under /api/users (admin only, SPEC §8).

The list is not paginated: an academy has a handful of accounts. Every change is recorded
in the audit trail (never a password or a token, only that one was set or issued).
"""
from __future__ import annotations

from typing import Any

from flask import url_for

from dashboard.accounts import users as accounts, audit
from dashboard.models import ApiToken, User
from dashboard.web.api import ApiError, bp, current_api_user, json_object, not_found
from dashboard.web.api.resources import (
    NEW_TOKEN,
    TOKEN,
    TOKEN_CREATE,
    USER,
    USER_CHANGE,
    USER_CREATE,
    NewTokenRow,
    UserRow,
)



@bp.get("/users/")
def list_users():
    """Every user, by username."""
    _require_admin()
    users = accounts.list_users()
    return {"count": len(users), "next": None, "previous": None, "results": [_user_json(user) for user in users]}


@bp.post("/users/")
def create_user():
    """Add a user: {"username", "password", "role", "lectures": [lecture ids]}."""
    admin = _require_admin()
    data = USER_CREATE.check(json_object())
    user = accounts.create_user(data["username"], data["password"], data["role"], data.get("lectures", []))
    after = _user_json(user)
    audit.record("user.create", "user", user.id, None, _audited(after), user=admin)
    return after, 201, {"Location": url_for("api.user_detail", user_id=user.id)}


@bp.get("/users/<int:user_id>/")
def user_detail(user_id: int):
    """One user."""
    _require_admin()
    return _user_json(_user_or_404(user_id))


@bp.patch("/users/<int:user_id>/")
def update_user(user_id: int):
    """Change a user: any of "role", "lectures", "is_active", "password" (a reset)."""
    admin = _require_admin()
    user = _user_or_404(user_id)
    data = USER_CHANGE.check(json_object())
    role, lecture_ids = data.get("role"), data.get("lectures")
    password, is_active = data.get("password"), data.get("is_active")
    before = _user_json(user)
    # Role first, so one request can make someone a teacher and assign their lectures.
    if role is not None:
        accounts.set_role(user, role)
    if lecture_ids is not None:
        accounts.assign_lectures(user, lecture_ids)
    if is_active is False:
        accounts.deactivate(user)
    elif is_active is True:
        accounts.activate(user)
    if password is not None:
        accounts.reset_password(user, password)
    after = _user_json(user)
    if password is not None:
        audit.record("user.password_reset", "user", user.id, None, None, user=admin)
    if _audited(before) != _audited(after):
        audit.record("user.update", "user", user.id, _audited(before), _audited(after), user=admin)
    return after


@bp.get("/users/<int:user_id>/tokens/")
def list_user_tokens(user_id: int):
    """A user's API tokens, revoked ones included (never the token itself)."""
    _require_admin()
    tokens = accounts.list_tokens(_user_or_404(user_id))
    return {"count": len(tokens), "next": None, "previous": None, "results": [_token_json(token) for token in tokens]}


@bp.post("/users/<int:user_id>/tokens/")
def create_user_token(user_id: int):
    """Issue a token ({"name": optional label, "days": optional validity}); the answer is the only
    time the token is shown."""
    admin = _require_admin()
    user = _user_or_404(user_id)
    data = TOKEN_CREATE.check(json_object())
    token, raw = accounts.issue_token(user, data.get("name"), data.get("days"))
    audit.record("token.create", "api_token", token.id, None,
                 {"user": user.username, "name": token.name, "expires_at": token.expires_at}, user=admin)
    return NEW_TOKEN.dump(NewTokenRow(token, raw)), 201


@bp.delete("/users/<int:user_id>/tokens/<int:token_id>/")
@bp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke/", endpoint="revoke_user_token_post")
def revoke_user_token(user_id: int, token_id: int):
    """Revoke one of a user's tokens (revoking a revoked one changes nothing)."""
    admin = _require_admin()
    user = _user_or_404(user_id)
    token = _token_of(user, token_id)
    was_live = token.revoked_at is None
    accounts.revoke_token(token.id)
    if was_live:
        audit.record("token.revoke", "api_token", token.id, {"revoked_at": None},
                     {"revoked_at": token.revoked_at}, user=admin)
    return _token_json(token)


# ---------------------------------------------------------------- helpers

def _require_admin() -> User:
    """Only an admin manages users; checked before anything in the request is looked at."""
    user = current_api_user()
    if user.role != "admin":
        raise ApiError(403, "Only an admin manages users and tokens.")
    return user


def _user_or_404(user_id: int) -> User:
    user = accounts.get_user(user_id)
    if user is None:
        raise not_found(f"No user with id {user_id}.")
    return user


def _token_of(user: User, token_id: int) -> ApiToken:
    for token in accounts.list_tokens(user):
        if token.id == token_id:
            return token
    raise not_found(f"User {user.username} has no token with id {token_id}.")


def _user_json(user: User) -> dict[str, Any]:
    return USER.dump(UserRow(user, accounts.lecture_ids_of(user)))


def _audited(user_json: dict[str, Any]) -> dict[str, Any]:
    """The parts of a user worth a before/after in the audit trail."""
    return {key: user_json[key] for key in ("username", "role", "is_active", "lectures")}


def _token_json(token: ApiToken) -> dict[str, Any]:
    return TOKEN.dump((token,))

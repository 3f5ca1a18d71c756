"""The Users page (admins only): the accounts, a form for a new one, and per user the role, the
assigned lectures, a password reset, deactivation and the API tokens (seen and revoked).

Every change goes through `dashboard.accounts.users` (which refuses, for instance, to leave the
academy without an active admin) and is recorded in the audit trail as the users API records
it (never a password or a token). A deactivated user's browser session ends on their next
request (the login loader refuses inactive users) and their tokens stop working.

htmx: the user page's forms answer `_detail.html` (#user-detail) in place, 422 with the error
at its field; without JavaScript they redirect back to the user page with a flash (PRG).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dashboard.accounts import users as accounts, audit
from dashboard.accounts.access import role_required
from dashboard.errors import Refused, describe
from dashboard.extensions import db
from dashboard.models import Lecture, User
from dashboard.web import auth
from dashboard.web.admin_forms import ROLE_LABELS, LecturesForm, NewUserForm, PasswordResetForm, RoleForm
from dashboard.web.ui import is_htmx

bp = Blueprint("users", __name__, url_prefix="/users")


def _lectures() -> list[tuple[int, str]]:
    rows = db.session.execute(select(Lecture.id, Lecture.title).order_by(Lecture.title, Lecture.id))
    return [(lecture_id, title) for lecture_id, title in rows]


def _snapshot(user: User) -> dict[str, Any]:
    """The parts of a user worth a before/after in the audit trail (as the users API records them)."""
    return {"username": user.username, "role": user.role, "is_active": user.is_active,
            "lectures": accounts.lecture_ids_of(user)}


def _user_or_404(user_id: int) -> User:
    user = accounts.get_user(user_id)
    if user is None:
        abort(404)
    return user


# ---------------------------------------------------------------- list and create

def _new_user_form() -> NewUserForm:
    form = NewUserForm()
    form.lectures.choices = _lectures()
    return form


def _render_index(form: NewUserForm, status: int = 200):
    users = accounts.list_users()
    lecture_titles = dict(_lectures())
    assigned = {user.id: [lecture_titles.get(i, str(i)) for i in accounts.lecture_ids_of(user)] for user in users}
    return render_template("users/index.html", users=users, assigned=assigned, form=form,
                           roles=ROLE_LABELS), status


@bp.get("/")
@role_required("admin")
def index():
    """Every account and the form for a new one."""
    return _render_index(_new_user_form())


@bp.post("/")
@role_required("admin")
def create():
    """Add an account; a teacher may be given lectures at once."""
    form = _new_user_form()
    if not form.validate_on_submit():
        return _render_index(form, 422)
    try:
        user = accounts.create_user(form.username.data, form.password.data, form.role.data, form.lectures.data or [])
    except Refused as error:
        target = getattr(form, error.field or "", None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, describe(error)]
        else:
            form.form_errors.append(describe(error))
        return _render_index(form, 422)
    audit.record("user.create", "user", user.id, None, _snapshot(user), user=current_user)
    flash(_("User %(name)s created.", name=user.username), "success")
    return redirect(url_for(".detail", user_id=user.id))


# ---------------------------------------------------------------- one user

def _detail_forms(user: User) -> dict[str, Any]:
    forms = {
        "role": RoleForm(formdata=None, prefix="role", data={"role": user.role}),
        "lectures": LecturesForm(formdata=None, prefix="lectures", data={"lectures": accounts.lecture_ids_of(user)}),
        "password": PasswordResetForm(formdata=None, prefix="password"),
    }
    forms["lectures"].lectures.choices = _lectures()
    return forms


def _render_detail(user: User, bound: dict[str, Any] | None = None, status: int = 200, saved: str | None = None,
                   problem: str | None = None):
    forms = _detail_forms(user)
    forms.update(bound or {})
    context = dict(user=user, forms=forms, tokens=accounts.list_tokens(user), roles=ROLE_LABELS, saved=saved,
                   problem=problem, assigned=accounts.lecture_ids_of(user), lectures=_lectures(),
                   locked=accounts.is_locked(user))
    if is_htmx():
        return render_template("users/_detail.html", **context), status
    return render_template("users/detail.html", **context), status


@bp.get("/<int:user_id>/")
@role_required("admin")
def detail(user_id: int):
    """One account: role, lectures, password, activity and API tokens."""
    return _render_detail(_user_or_404(user_id))


def _done(user: User, message: str):
    """After a change: the refreshed user card (htmx) or a redirect to the user page."""
    if is_htmx():
        return _render_detail(user, saved=message)
    flash(message, "success")
    return redirect(url_for(".detail", user_id=user.id))


def _refused(user: User, key: str | None, form: Any, error: Refused):
    message = describe(error)
    if form is not None:
        form.form_errors.append(message)
        return _render_detail(user, {key: form}, 422)
    return _render_detail(user, status=422, problem=message)


def _audit_update(user: User, before: dict[str, Any]) -> None:
    after = _snapshot(user)
    if after != before:
        audit.record("user.update", "user", user.id, before, after, user=current_user)


def _change_user(user: User, key: str | None, form: Any, change: Callable[[], object], message: str):
    """One change to an account from the user page: the form (`key` in the page's forms; None
    for a plain button) is validated, `change` made, and the account's before and after recorded
    in the audit trail as one update; a refusal is shown at the form, 422."""
    if form is not None and not form.validate():
        return _render_detail(user, {key: form}, 422)
    before = _snapshot(user)
    try:
        change()
    except Refused as error:
        return _refused(user, key, form, error)
    _audit_update(user, before)
    return _done(user, message)


@bp.post("/<int:user_id>/role")
@role_required("admin")
def change_role(user_id: int):
    user = _user_or_404(user_id)
    form = RoleForm(prefix="role")
    return _change_user(user, "role", form, lambda: accounts.set_role(user, form.role.data), _("Role saved."))


@bp.post("/<int:user_id>/lectures")
@role_required("admin")
def assign_lectures(user_id: int):
    user = _user_or_404(user_id)
    form = LecturesForm(prefix="lectures")
    form.lectures.choices = _lectures()
    return _change_user(user, "lectures", form, lambda: accounts.assign_lectures(user, form.lectures.data or []),
                        _("Lectures saved."))


@bp.post("/<int:user_id>/password")
@role_required("admin")
def reset_password(user_id: int):
    user = _user_or_404(user_id)
    form = PasswordResetForm(prefix="password")
    if not form.validate():
        return _render_detail(user, {"password": form}, 422)
    try:
        accounts.reset_password(user, form.password.data)
    except Refused as error:
        return _refused(user, "password", form, error)
    if user.id == current_user.id:
        auth.stay_signed_in(user)  # an admin's own new password ends their other sessions, not this one
    audit.record("user.password_reset", "user", user.id, None, None, user=current_user)
    return _done(user, _("Password reset."))


@bp.post("/<int:user_id>/deactivate")
@role_required("admin")
def deactivate(user_id: int):
    """Stop the account at once: its browser sessions and API tokens are refused from the next request."""
    user = _user_or_404(user_id)
    return _change_user(user, None, None, lambda: accounts.deactivate(user), _("User deactivated."))


@bp.post("/<int:user_id>/activate")
@role_required("admin")
def activate(user_id: int):
    user = _user_or_404(user_id)
    before = _snapshot(user)
    accounts.activate(user)
    _audit_update(user, before)
    return _done(user, _("User activated."))


@bp.post("/<int:user_id>/unlock")
@role_required("admin")
def unlock(user_id: int):
    """Lift the sign-in block of an account locked by failed attempts (from every address)."""
    user = _user_or_404(user_id)
    dropped = accounts.unlock_account(user)
    if dropped:
        audit.record("user.unlock", "user", user.id, {"failed_attempts": dropped}, {"failed_attempts": 0},
                     user=current_user)
    return _done(user, _("Sign-in unlocked."))


@bp.post("/<int:user_id>/tokens/<int:token_id>/revoke")
@role_required("admin")
def revoke_token(user_id: int, token_id: int):
    """Revoke one of the user's tokens (revoking a revoked one changes nothing)."""
    user = _user_or_404(user_id)
    token = next((token for token in accounts.list_tokens(user) if token.id == token_id), None)
    if token is None:
        abort(404)
    if token.revoked_at is None:
        accounts.revoke_token(token.id)
        audit.record("token.revoke", "api_token", token.id, {"revoked_at": None},
                     {"revoked_at": token.revoked_at}, user=current_user)
    return _done(user, _("Token revoked."))

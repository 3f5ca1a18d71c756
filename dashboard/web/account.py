"""My account: every signed-in person's own page — a new password (with the current one), the
language of the pages, the browsers where they are signed in (ending the others), and their own
API tokens (issued with an expiry, listed, revoked).

Everything goes through `dashboard.accounts` (users, sessions, passwords) and is recorded in the
audit trail without a password or a token. A new password ends every session of the user; this
browser goes on in a new one. A new token is shown once, on the answer to its form, never in a
flash message (the session cookie is signed, not encrypted).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from dashboard.accounts import audit, passwords, sessions
from dashboard.accounts import users as accounts
from dashboard.errors import Conflict, Invalid, describe
from dashboard.extensions import db
from dashboard.models import User
from dashboard.web import auth, idempotency

bp = Blueprint("account", __name__, url_prefix="/account")

TOKEN_DAYS = (30, 90, 365)


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language of the pages"), choices=[
        SelectChoice("", _l("The browser's language")), SelectChoice("ko", "한국어"), SelectChoice("en", "English")])


class OwnPasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[InputRequired()])
    new_password = PasswordField(_l("New password"), validators=[InputRequired()])
    confirm = PasswordField(_l("New password again"), validators=[InputRequired()])

    def validate_confirm(self, field) -> None:
        if field.data != self.new_password.data:
            raise ValidationError(_("The two new passwords differ."))


class TokenForm(FlaskForm):
    name = StringField(_l("Name (to recognise it by)"), validators=[Length(max=accounts.TOKEN_NAME_MAX_LENGTH)])
    days = SelectField(_l("Valid for"), default="90", choices=[
        SelectChoice(str(days), _l("%(n)s days", n=days)) for days in TOKEN_DAYS])


def _me() -> User:
    return db.session.get(User, current_user.id)


def _render(status: int = 200, *, language: LanguageForm | None = None, password: OwnPasswordForm | None = None,
            token: TokenForm | None = None, new_token: str | None = None):
    user = _me()
    this = sessions.find(user, auth.current_session_key())
    return render_template(
        "account/index.html", user=user,
        language=language or LanguageForm(formdata=None, data={"locale": user.locale or ""}),
        password=password or OwnPasswordForm(formdata=None), token=token or TokenForm(formdata=None),
        new_token=new_token, sessions=sessions.of_user(user), this_session=this.id if this else None,
        tokens=accounts.list_tokens(user), min_length=passwords.MIN_LENGTH), status


@bp.get("/")
@login_required
def index():
    """The page, for every role."""
    return _render()


@bp.post("/language")
@login_required
def language():
    form = LanguageForm()
    if not form.validate_on_submit():
        return _render(422, language=form)
    user = _me()
    user.locale = form.locale.data or None
    db.session.flush()
    flash(_("Language saved."), "success")
    return redirect(url_for(".index"))


@bp.post("/password")
@login_required
def password():
    """A new password; every other browser of this user is signed out."""
    form = OwnPasswordForm()
    if not form.validate_on_submit():
        return _render(422, password=form)
    user = _me()
    try:
        accounts.change_own_password(user, form.current_password.data, form.new_password.data)
    except Invalid as refused:
        target = form.current_password if refused.field == "current_password" else form.new_password
        target.errors = [describe(refused)]
        return _render(422, password=form)
    audit.record("user.password_change", "user", user.id, None, None, user=user)
    auth.stay_signed_in(user)
    flash(_("Password changed. Your other sessions are signed out."), "success")
    return redirect(url_for(".index"))


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    """Sign out one of this user's other browsers."""
    this = sessions.find(_me(), auth.current_session_key())
    if this is not None and this.id == session_id:
        abort(400)  # this browser signs out with "Sign out"
    if not sessions.end(_me(), session_id):
        abort(404)
    flash(_("That session is signed out."), "success")
    return redirect(url_for(".index"))


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions():
    user = _me()
    this = sessions.find(user, auth.current_session_key())
    count = sessions.end_all(user, keep=this.id if this else None)
    flash(_("Signed out elsewhere: %(n)s sessions.", n=count), "success")
    return redirect(url_for(".index"))


@bp.post("/tokens")
@login_required
def create_token():
    """Issue a token of one's own; its value is shown on this answer only.

    The form is sent once: reloading the answer re-sends the same form (with its one-time key),
    which creates nothing and comes back to the page, the token listed there without its value.
    Not `@one_time`, which would keep the rendered answer — the token itself — in the database:
    only the token's id is kept with the key."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _render(422, token=form)
    user = _me()
    created: dict[str, str] = {}

    def issue() -> idempotency.Answer:
        token, raw = accounts.issue_token(user, form.name.data, int(form.days.data))
        audit.record("token.create", "api_token", token.id, None,
                     {"user": user.username, "name": token.name, "expires_at": token.expires_at}, user=user)
        created["raw"] = raw
        return idempotency.Answer(201, str(token.id), "api_token")

    key = request.form.get(idempotency.FORM_FIELD, "")
    if not key:  # a post from a page served before the form carried a key
        issue()
        return _render(201, new_token=created["raw"])
    try:
        replayed = idempotency.answer_once(user.id, "page:" + key, "POST", request.path, issue)[1]
    except Invalid:
        abort(400)
    except Conflict:
        abort(409)
    if replayed:
        flash(_("That form was already sent: its token is listed below, and its value was shown only once. "
                "If you did not copy it, revoke it and create a new one."), "info")
        return redirect(url_for(".index"))
    return _render(201, new_token=created["raw"])


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    user = _me()
    was_live = accounts.token_of(user, token_id).revoked_at is None
    token = accounts.revoke_own_token(user, token_id)
    if was_live:
        audit.record("token.revoke", "api_token", token.id, {"revoked_at": None}, {"revoked_at": token.revoked_at},
                     user=user)
    flash(_("Token revoked."), "success")
    return redirect(url_for(".index"))

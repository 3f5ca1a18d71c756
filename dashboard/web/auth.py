"""Signing in and out of the browser UI, and the rule that every page needs a signed-in user.

Flask-Login keeps the user id in the session cookie, beside the key of the server-side session
(accounts.sessions, `SESSION_KEY`); the user is loaded again on every request and the session
must still be live, so a deactivated user, a session ended from another device, and one idle or
old past its limits are signed out at once. Failed logins are throttled through
`accounts.authenticate` (stored in the database, so every worker sees them).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from dashboard.accounts import sessions as user_sessions
from dashboard.accounts import users as accounts
from dashboard.extensions import db, login_manager
from dashboard.models import User
from dashboard.web.api import is_api_request

bp = Blueprint("auth", __name__)

# Endpoints an anonymous visitor may reach; the API answers 401 itself.
OPEN_ENDPOINTS = {"auth.login", "static"}
# Where the session cookie keeps the server-side session's key.
SESSION_KEY = "sid"


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=accounts.USERNAME_MAX_LENGTH)])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a success goes to `next` when it is a path on this site, else home."""
    target = request.values.get("next", "")
    if current_user.is_authenticated:
        return redirect(_safe_target(target))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.username.data, form.password.data, request.remote_addr)
        except accounts.LoginRefused as refused:
            # The failure just recorded must survive this refused request.
            db.session.commit()
            form.form_errors.append(refused.message)
            status = 429 if refused.throttled else 401
        else:
            sign_in(user)
            db.session.commit()
            return redirect(_safe_target(target))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, next=target if _is_local_path(target) else ""), status


@bp.post("/logout")
def logout():
    """Sign out (a POST, so it carries the CSRF token) and return to the login form. This session
    ends on the server too: a copy of the cookie no longer signs anyone in. The user's sessions on
    other devices go on (My account ends them)."""
    user_sessions.end_key(session.get(SESSION_KEY))
    logout_user()
    _fresh_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


def sign_in(user: User) -> None:
    """Start a new browser session for the user in this response: a fresh cookie, a new
    server-side session, Flask-Login's id. Only flushes."""
    _fresh_session()
    login_user(user)
    session[SESSION_KEY] = user_sessions.start(user, request.user_agent.string, request.remote_addr)


def stay_signed_in(user: User) -> None:
    """After the user's sessions were ended by their own request (a new password), carry on in a
    new server-side session in this browser, without clearing the cookie (its CSRF token stays
    valid for the page already open)."""
    login_user(user)
    session[SESSION_KEY] = user_sessions.start(user, request.user_agent.string, request.remote_addr)


def current_session_key() -> str | None:
    """The key of this browser's server-side session."""
    return session.get(SESSION_KEY)


def _fresh_session() -> None:
    """Start a new session (so nothing planted before sign-in survives it), CSRF token included."""
    session.clear()
    # Flask-WTF caches this request's CSRF token on g; drop it with the session it came from.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _safe_target(target: str) -> str:
    return target if _is_local_path(target) else url_for("home.index")


def _is_local_path(target: str) -> bool:
    """Whether `target` is a path on this site (no scheme, no host, nothing a browser reads as one)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    # Browsers treat "\" like "/" and drop tabs and newlines, so "/\evil" or "/\t/evil" lead off-site.
    if "\\" in target or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # None for a deactivated user or a changed password signs the session out on its next request.
    return accounts.user_for_session(user_id, session.get(SESSION_KEY))


@login_manager.unauthorized_handler
def _unauthorized():
    """Send an anonymous visitor to the login form, keeping where they were going."""
    login_url = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        # An htmx swap would put the login page inside a fragment; make the browser navigate.
        return "", 401, {"HX-Redirect": login_url}
    flash(_("Please sign in to see this page."), "info")
    return redirect(login_url)


def _require_login():
    """Every page except the login form, static files and views marked public needs a signed-in user."""
    if current_user.is_authenticated or is_api_request() or request.endpoint in OPEN_ENDPOINTS:
        return None
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "is_public", False):
        return None
    return login_manager.unauthorized()


def init_app(app: Flask) -> None:
    """Register the blueprint and the sign-in rule for every page."""
    from dashboard.web import account, idempotency

    login_manager.login_view = "auth.login"
    app.register_blueprint(bp)
    app.register_blueprint(account.bp)
    # Signed-in people's forms that must not be posted twice carry a one-time key.
    app.jinja_env.globals["one_time_field"] = idempotency.one_time_field
    app.before_request(_require_login)

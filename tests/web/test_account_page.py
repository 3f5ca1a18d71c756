"""My account and the accounts rules behind it: a new password with the current one (the password
rule; other browsers signed out), the language, the browsers signed in (ending another one),
idle and absolute session limits, own API tokens (prefix, expiry, revoke), re-hashing old hashes
at sign-in, and the CLI's token expiry."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from dashboard.accounts import users as accounts
from dashboard.clock import now
from dashboard.errors import Invalid
from dashboard.extensions import db
from dashboard.models import ApiToken, AuditLog, IdempotencyKey, User, UserSession
from dashboard.web.idempotency import unseal

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
PASSWORD = "kim's own password"


def csrf(client, path: str = "/account/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return CSRF_FIELD.search(page.get_data(as_text=True)).group(1)


def login(client, username: str = "kim", password: str = PASSWORD, agent: str = "Chromium test"):
    token = csrf(client, "/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       headers={"User-Agent": agent})


@pytest.fixture
def kim(app):
    user = accounts.create_user("kim", PASSWORD, "teacher")
    accounts.create_user("lee", "lee's own password", "staff")
    db.session.commit()
    return user


def stored(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


# ---------------------------------------------------------------- password

@pytest.mark.parametrize(("new", "message"), [
    ("short1", "A password has at least 10 characters."),
    ("KIM", "A password has at least 10 characters."),
    ("qwertyuiop", "This password is on the list of passwords everyone tries first"),
    ("Password123", "This password is on the list of passwords everyone tries first"),
])
def test_a_weak_new_password_is_refused_at_its_field(client, kim, new, message):
    assert login(client).status_code == 302
    before = stored(kim.id).password_hash
    response = client.post("/account/password", data={"csrf_token": csrf(client), "current_password": PASSWORD,
                                                      "new_password": new, "confirm": new})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stored(kim.id).password_hash == before


def test_the_username_is_not_a_password(app):
    with pytest.raises(Invalid) as refused:
        accounts.create_user("kimteacher1", "KimTeacher1", "staff")
    assert (refused.value.field, refused.value.reason) == ("password", "password_is_username")


def test_the_current_password_must_be_right(client, kim):
    assert login(client).status_code == 302
    response = client.post("/account/password", data={
        "csrf_token": csrf(client), "current_password": "not my password", "new_password": "a brand new secret",
        "confirm": "a brand new secret"})
    assert response.status_code == 422
    assert "The current password is not right." in response.get_data(as_text=True)
    assert accounts.check_password(stored(kim.id), PASSWORD)


def test_a_new_password_signs_out_the_other_browsers_and_keeps_this_one(app, client, kim):
    other = app.test_client()
    assert login(client).status_code == 302
    assert login(other).status_code == 302
    response = client.post("/account/password", data={
        "csrf_token": csrf(client), "current_password": PASSWORD, "new_password": "a brand new secret",
        "confirm": "a brand new secret"})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302
    assert accounts.check_password(stored(kim.id), "a brand new secret")
    assert db.session.execute(select(AuditLog.action).where(AuditLog.object_id == str(kim.id))).scalars().all() == [
        "user.password_change"]
    assert "a brand new secret" not in str(db.session.execute(select(AuditLog.before, AuditLog.after)).all())


def test_an_old_hash_is_made_again_with_todays_parameters_at_sign_in(app, client, kim):
    assert stored(kim.id).password_hash.startswith("scrypt:1024:8:1$")
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:2048:8:1"
    assert login(client).status_code == 302
    rehashed = stored(kim.id).password_hash
    assert rehashed.startswith("scrypt:2048:8:1$")
    assert accounts.check_password(stored(kim.id), PASSWORD)
    assert client.get("/").status_code == 200  # the session survives its own re-hash


# ---------------------------------------------------------------- language

def test_the_language_is_chosen_on_the_page(client, kim):
    assert login(client).status_code == 302
    response = client.post("/account/language", data={"csrf_token": csrf(client), "locale": "ko"})
    assert response.status_code == 302
    assert stored(kim.id).locale == "ko"
    assert '<html lang="ko"' in client.get("/account/").get_data(as_text=True)
    refused = client.post("/account/language", data={"csrf_token": csrf(client), "locale": "fr"})
    assert refused.status_code == 422
    assert stored(kim.id).locale == "ko"


# ---------------------------------------------------------------- sessions

def test_another_browser_is_listed_and_signed_out_from_here(app, client, kim):
    phone = app.test_client()
    assert login(client, agent="Office PC").status_code == 302
    assert login(phone, agent="Kim phone").status_code == 302
    page = client.get("/account/").get_data(as_text=True)
    assert "Office PC" in page and "Kim phone" in page
    phone_session = db.session.execute(select(UserSession.id).where(
        UserSession.user_agent == "Kim phone")).scalar_one()
    this_session = db.session.execute(select(UserSession.id).where(UserSession.user_agent == "Office PC")).scalar_one()
    assert client.post(f"/account/sessions/{this_session}/end", data={"csrf_token": csrf(client)}).status_code == 400
    assert client.post(f"/account/sessions/{phone_session}/end", data={"csrf_token": csrf(client)}).status_code == 302
    assert phone.get("/").status_code == 302
    assert client.get("/").status_code == 200
    assert "Kim phone" not in client.get("/account/").get_data(as_text=True)


def test_a_session_of_someone_else_cannot_be_ended(app, client, kim):
    lee = app.test_client()
    assert login(lee, "lee", "lee's own password").status_code == 302
    assert login(client).status_code == 302
    lee_session = db.session.execute(select(UserSession.id).join(User).where(User.username == "lee")).scalar_one()
    assert client.post(f"/account/sessions/{lee_session}/end", data={"csrf_token": csrf(client)}).status_code == 404
    assert client.post("/account/sessions/end-others", data={"csrf_token": csrf(client)}).status_code == 302
    assert lee.get("/").status_code == 200


def test_sign_out_ends_this_session_only(app, client, kim):
    phone = app.test_client()
    assert login(client).status_code == 302
    assert login(phone).status_code == 302
    cookie = client.get_cookie("session").value
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 302
    copy = app.test_client()
    copy.set_cookie("session", cookie)
    assert copy.get("/").status_code == 302
    assert phone.get("/").status_code == 200


def test_an_idle_session_ends_after_the_idle_limit(app, client, kim):
    """Idle limit 8 hours (the default): seen 7 h 59 min ago still works, 8 h 1 min ago does not."""
    assert login(client).status_code == 302
    db.session.execute(update(UserSession).values(last_seen_at=now() - timedelta(hours=7, minutes=59)))
    db.session.commit()
    assert client.get("/").status_code == 200
    db.session.execute(update(UserSession).values(last_seen_at=now() - timedelta(hours=8, minutes=1)))
    db.session.commit()
    assert client.get("/").status_code == 302


def test_the_idle_limit_is_configurable_and_a_busy_session_still_ends_at_the_absolute_limit(app, client, kim):
    app.config["SESSION_IDLE_HOURS"] = 1
    app.config["SESSION_MAX_HOURS"] = 12
    assert login(client).status_code == 302
    db.session.execute(update(UserSession).values(last_seen_at=now() - timedelta(minutes=61)))
    db.session.commit()
    assert client.get("/").status_code == 302
    assert login(client).status_code == 302
    db.session.execute(update(UserSession).where(UserSession.ended_at.is_(None)).values(
        created_at=now() - timedelta(hours=12, minutes=1), last_seen_at=now()))
    db.session.commit()
    assert client.get("/").status_code == 302


def test_a_page_read_writes_the_last_seen_time_at_most_once_a_minute(client, kim):
    assert login(client).status_code == 302
    seen = now() - timedelta(seconds=30)
    db.session.execute(update(UserSession).values(last_seen_at=seen))
    db.session.commit()
    client.get("/")
    db.session.expire_all()
    assert db.session.execute(select(UserSession.last_seen_at)).scalar_one() == seen.replace(microsecond=seen.microsecond)
    db.session.execute(update(UserSession).values(last_seen_at=now() - timedelta(minutes=2)))
    db.session.commit()
    client.get("/")
    db.session.expire_all()
    assert now() - db.session.execute(select(UserSession.last_seen_at)).scalar_one() < timedelta(minutes=1)


# ---------------------------------------------------------------- API tokens

def test_own_token_is_created_with_an_expiry_used_and_revoked(client, kim):
    assert login(client).status_code == 302
    response = client.post("/account/tokens", data={"csrf_token": csrf(client), "name": "my laptop", "days": "30"})
    assert response.status_code == 201
    raw = re.search(r"<code data-token>([^<]+)</code>", response.get_data(as_text=True)).group(1)
    assert raw.startswith("acd_") and len(raw) > 40
    token = db.session.execute(select(ApiToken)).scalar_one()
    assert token.hint == raw[:8] and token.token_hash != raw
    assert timedelta(days=29, hours=23) < token.expires_at - now() <= timedelta(days=30)
    api = client.get("/api/progress/policies/", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 200
    assert raw not in client.get("/account/").get_data(as_text=True)  # shown once only
    assert client.post(f"/account/tokens/{token.id}/revoke", data={"csrf_token": csrf(client)}).status_code == 302
    assert client.get("/api/progress/policies/", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


ONCE_FIELD = re.compile(r'name="once" value="([^"]+)"')


def test_reloading_the_answer_to_a_new_token_creates_nothing_and_shows_it_no_more(client, kim):
    """A reload of the page that showed the new token re-sends the same form, one-time key and all."""
    assert login(client).status_code == 302
    page = client.get("/account/").get_data(as_text=True)
    form = {"csrf_token": csrf(client), "once": ONCE_FIELD.search(page).group(1), "name": "my laptop", "days": "30"}
    first = client.post("/account/tokens", data=form)
    assert first.status_code == 201
    raw = re.search(r"<code data-token>([^<]+)</code>", first.get_data(as_text=True)).group(1)

    again = client.post("/account/tokens", data=form)
    assert again.status_code == 302 and again.headers["Location"].endswith("/account/")
    assert db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one() == 1
    assert db.session.execute(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "token.create")).scalar_one() == 1
    shown = client.get("/account/").get_data(as_text=True)
    assert "already sent" in shown and raw not in shown and "my laptop" in shown
    # Only the token's id is kept with the key, never the token.
    kept = db.session.execute(select(IdempotencyKey.user_id, IdempotencyKey.key, IdempotencyKey.body)).all()
    assert [unseal(user_id, key, body) for user_id, key, body in kept] == [
        str(db.session.execute(select(ApiToken.id)).scalar_one())]

    # A fresh form (a new key) makes a second token.
    page = client.get("/account/").get_data(as_text=True)
    form["once"] = ONCE_FIELD.search(page).group(1)
    assert client.post("/account/tokens", data=form).status_code == 201
    assert db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one() == 2


def test_an_expired_token_is_refused(app, kim):
    raw = accounts.create_token(kim, "worker", days=1)
    db.session.commit()
    assert accounts.user_for_token(raw) is not None
    db.session.execute(update(ApiToken).values(expires_at=now() - timedelta(seconds=1)))
    assert accounts.user_for_token(raw) is None


def test_a_token_validity_outside_the_choices_is_refused_and_anothers_token_is_not_found(client, kim):
    lee = accounts.user_by_username("lee")
    lee_token = accounts.issue_token(lee, "lee's")[0]
    db.session.commit()
    assert login(client).status_code == 302
    assert client.post("/account/tokens", data={"csrf_token": csrf(client), "days": "9999"}).status_code == 422
    assert client.post(f"/account/tokens/{lee_token.id}/revoke", data={"csrf_token": csrf(client)}).status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, lee_token.id).revoked_at is None


def test_the_cli_issues_tokens_with_the_prefix_and_an_optional_expiry(runner, kim):
    result = runner.invoke(args=["create-token", "kim", "--days", "7"])
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    assert raw.startswith("acd_")
    token = db.session.execute(select(ApiToken)).scalar_one()
    assert timedelta(days=6, hours=23) < token.expires_at - now() <= timedelta(days=7)
    assert runner.invoke(args=["create-token", "kim", "--days", "0"]).exit_code != 0


def test_the_cli_creates_a_user_with_a_weak_password_and_warns(runner, app):
    result = runner.invoke(args=["create-user", "park", "--role", "staff"], env={"DASHBOARD_PASSWORD": "short"})
    assert result.exit_code == 0
    assert "Warning: A password has at least 10 characters." in result.output
    assert accounts.user_by_username("park") is not None


def test_the_account_page_needs_a_sign_in_and_its_forms_a_csrf_token(client, kim):
    assert client.get("/account/").status_code == 302
    assert login(client).status_code == 302
    assert client.post("/account/language", data={"locale": "ko"}).status_code == 400
    assert stored(kim.id).locale is None

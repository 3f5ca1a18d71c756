"""/api/users: admin only; list, create, change, deactivate, reset passwords, list and revoke tokens."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from dashboard.accounts import users as accounts
from dashboard.extensions import db
from dashboard.models import ApiToken, AuditLog, Lecture, LectureSession, TeacherLecture, User


@pytest.fixture(autouse=True)
def cheap_hashing(app):
    """Cheaper scrypt parameters: a real-strength hash takes 0.2 s."""
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"


@pytest.fixture
def people(app):
    """An admin, a teacher of one lecture and a staff member, each with a token; the lecture's id."""
    lecture = Lecture(title="Algebra")
    db.session.add(lecture)
    db.session.flush()
    tokens = {}
    for username, role, lectures in (("boss", "admin", []), ("kim", "teacher", [lecture.id]),
                                     ("desk", "staff", [])):
        user = accounts.create_user(username, f"{username} password", role, lectures)
        tokens[username] = accounts.create_token(user)
    db.session.commit()
    return {"tokens": tokens, "lecture_id": lecture.id}


def auth(people, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {people['tokens'][username]}"}


def user_id(username: str) -> int:
    return accounts.user_by_username(username).id


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def assert_error(response, status: int, code: str, field=None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code
    assert body["field"] == field
    assert isinstance(body["message"], str) and body["message"]
    return body


# ---------------------------------------------------------------- who may call it

@pytest.mark.parametrize("method,path", [
    ("get", "/api/users/"), ("post", "/api/users/"), ("get", "/api/users/1/"), ("patch", "/api/users/1/"),
    ("get", "/api/users/1/tokens/"), ("post", "/api/users/1/tokens/"), ("delete", "/api/users/1/tokens/1/"),
    ("post", "/api/users/1/tokens/1/revoke/"),
])
def test_no_token_or_a_bad_one_is_401(client, people, method, path):
    assert_error(getattr(client, method)(path, json={}), 401, "unauthorized")
    assert_error(getattr(client, method)(path, json={}, headers={"Authorization": "Bearer nope"}),
                 401, "unauthorized")


@pytest.mark.parametrize("username", ["kim", "desk"])
@pytest.mark.parametrize("method,path", [
    ("get", "/api/users/"), ("post", "/api/users/"), ("get", "/api/users/{boss}/"), ("patch", "/api/users/{boss}/"),
    ("patch", "/api/users/99999/"), ("get", "/api/users/{boss}/tokens/"), ("post", "/api/users/{boss}/tokens/"),
    ("delete", "/api/users/{boss}/tokens/1/"), ("post", "/api/users/{boss}/tokens/1/revoke/"),
])
def test_teacher_and_staff_get_403_and_nothing_changes(client, people, username, method, path):
    path = path.format(boss=user_id("boss"))
    body = {"username": "intruder", "password": "x", "role": "admin"} if method == "post" else {"role": "staff"}
    assert_error(getattr(client, method)(path, json=body, headers=auth(people, username)), 403, "forbidden")
    db.session.expire_all()
    assert count(User) == 3
    assert accounts.user_by_username("boss").role == "admin"
    assert count(ApiToken) == 3
    assert db.session.execute(select(ApiToken).where(ApiToken.revoked_at.is_not(None))).first() is None


# ---------------------------------------------------------------- users

def test_admin_lists_users(client, people):
    response = client.get("/api/users", headers=auth(people, "boss"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 3
    assert (body["next"], body["previous"]) == (None, None)
    by_name = {user["username"]: user for user in body["results"]}
    assert [user["username"] for user in body["results"]] == ["boss", "desk", "kim"]
    assert by_name["kim"]["role"] == "teacher"
    assert by_name["kim"]["lectures"] == [people["lecture_id"]]
    assert by_name["boss"]["is_active"] is True
    assert by_name["boss"]["created_at"].endswith("+09:00")
    assert all("password" not in key for user in body["results"] for key in user)


def test_admin_assigns_staff_as_an_assistant(client, people):
    """A staff user with lectures is their assistant: they may then save that lecture's column."""
    lecture_id = people["lecture_id"]
    response = client.patch(f"/api/users/{user_id('desk')}/", headers=auth(people, "boss"),
                            json={"lectures": [lecture_id]})
    assert response.status_code == 200
    assert (response.get_json()["role"], response.get_json()["lectures"]) == ("staff", [lecture_id])
    session = LectureSession(lecture_id=lecture_id, order=1)
    db.session.add(session)
    db.session.commit()
    saved = client.put(f"/api/lectures/{lecture_id}/sessions/{session.id}/entry", headers=auth(people, "desk"),
                       json={"rows": []})
    assert saved.status_code == 200 and saved.get_json() == {"saved": 0, "changed": []}


def test_admin_creates_a_teacher(client, people):
    lecture_id = people["lecture_id"]
    response = client.post("/api/users/", headers=auth(people, "boss"),
                           json={"username": "lee", "password": "lee password", "role": "teacher",
                                 "lectures": [lecture_id]})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["username"], body["role"], body["lectures"], body["is_active"]) == (
        "lee", "teacher", [lecture_id], True)
    assert response.headers["Location"].endswith(f"/api/users/{body['id']}/")
    lee = accounts.user_by_username("lee")
    assert lee.password_hash.startswith("scrypt:")
    assert accounts.check_password(lee, "lee password")
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "user.create")).scalar_one()
    assert (entry.username, entry.object_id) == ("boss", str(lee.id))
    assert entry.after == {"username": "lee", "role": "teacher", "is_active": True, "lectures": [lecture_id]}


def test_creating_an_existing_username_is_409(client, people):
    response = client.post("/api/users/", headers=auth(people, "boss"),
                           json={"username": "kim", "password": "x", "role": "staff"})
    assert_error(response, 409, "conflict", "username")
    assert count(User) == 3


@pytest.mark.parametrize("body,field", [
    ({"password": "x", "role": "staff"}, "username"),
    ({"username": "lee", "role": "staff"}, "password"),
    ({"username": "lee", "password": "x"}, "role"),
    ({"username": "lee", "password": "x", "role": "owner"}, "role"),
    ({"username": 5, "password": "x", "role": "staff"}, "username"),
    ({"username": "lee", "password": "x", "role": "teacher", "lectures": [99999]}, "lectures"),
    ({"username": "lee", "password": "x", "role": "teacher", "lectures": [True]}, "lectures[0]"),
    ({"username": "lee", "password": "x", "role": "teacher", "lectures": "1"}, "lectures"),
    ({"username": "lee", "password": "x", "role": "staff", "is_admin": True}, "is_admin"),
    ({"username": "lee", "password": "x", "role": "admin", "lectures": [1]}, "lectures"),  # admins take none
])
def test_invalid_new_user_is_400_and_nothing_is_written(client, people, body, field):
    response = client.post("/api/users/", headers=auth(people, "boss"), json=body)
    assert_error(response, 400, "validation", field)
    assert count(User) == 3
    assert count(AuditLog) == 0


def test_admin_changes_role_and_lectures_in_one_request(client, people):
    lecture_id = people["lecture_id"]
    desk_id = user_id("desk")
    response = client.patch(f"/api/users/{desk_id}/", headers=auth(people, "boss"),
                            json={"role": "teacher", "lectures": [lecture_id]})
    assert response.status_code == 200
    assert (response.get_json()["role"], response.get_json()["lectures"]) == ("teacher", [lecture_id])
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "user.update")).scalar_one()
    assert entry.before["role"] == "staff" and entry.after["role"] == "teacher"
    assert entry.before["lectures"] == [] and entry.after["lectures"] == [lecture_id]


def test_a_refused_patch_changes_nothing(client, people):
    desk_id = user_id("desk")
    # The role change is valid, the lecture is not: neither may stick.
    response = client.patch(f"/api/users/{desk_id}/", headers=auth(people, "boss"),
                            json={"role": "teacher", "lectures": [99999]})
    assert_error(response, 400, "validation", "lectures")
    db.session.expire_all()
    assert accounts.user_by_username("desk").role == "staff"
    assert count(TeacherLecture) == 1
    assert count(AuditLog) == 0


def test_deactivation_stops_the_users_token_at_once(client, people):
    kim_id = user_id("kim")
    assert client.get("/api/users/", headers=auth(people, "kim")).status_code == 403
    response = client.patch(f"/api/users/{kim_id}", headers=auth(people, "boss"), json={"is_active": False})
    assert response.status_code == 200
    assert response.get_json()["is_active"] is False
    assert_error(client.get("/api/users/", headers=auth(people, "kim")), 401, "unauthorized")
    client.patch(f"/api/users/{kim_id}", headers=auth(people, "boss"), json={"is_active": True})
    assert client.get("/api/users/", headers=auth(people, "kim")).status_code == 403


def test_is_active_must_be_a_boolean(client, people):
    response = client.patch(f"/api/users/{user_id('kim')}/", headers=auth(people, "boss"), json={"is_active": 0})
    assert_error(response, 400, "validation", "is_active")


def test_the_last_admin_cannot_deactivate_themselves(client, people):
    response = client.patch(f"/api/users/{user_id('boss')}/", headers=auth(people, "boss"),
                            json={"is_active": False})
    assert_error(response, 409, "conflict")
    assert client.get("/api/users/", headers=auth(people, "boss")).status_code == 200


def test_password_reset_is_audited_without_the_password(client, people):
    kim_id = user_id("kim")
    response = client.patch(f"/api/users/{kim_id}/", headers=auth(people, "boss"), json={"password": "new secret"})
    assert response.status_code == 200
    db.session.expire_all()
    kim = accounts.user_by_username("kim")
    assert accounts.check_password(kim, "new secret")
    assert not accounts.check_password(kim, "kim password")
    entries = db.session.execute(select(AuditLog)).scalars().all()
    assert [(entry.action, entry.before, entry.after) for entry in entries] == [("user.password_reset", None, None)]


def test_unknown_user_is_404(client, people):
    assert_error(client.get("/api/users/99999/", headers=auth(people, "boss")), 404, "not_found")
    assert_error(client.patch("/api/users/99999/", headers=auth(people, "boss"), json={"role": "staff"}),
                 404, "not_found")


# ---------------------------------------------------------------- tokens

def test_admin_lists_a_users_tokens_without_the_secret(client, people):
    response = client.get(f"/api/users/{user_id('kim')}/tokens/", headers=auth(people, "boss"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 1
    token = body["results"][0]
    assert token["is_active"] is True and token["revoked_at"] is None
    assert people["tokens"]["kim"] not in response.get_data(as_text=True)
    assert set(token) == {"id", "name", "is_active", "created_at", "last_used_at", "revoked_at", "expires_at", "hint"}
    assert token["expires_at"] is None  # issued without days: until revoked
    assert token["hint"] == people["tokens"]["kim"][:8] and token["hint"].startswith("acd_")


@pytest.mark.parametrize("method,suffix", [("delete", ""), ("post", "revoke/")])
def test_admin_revokes_a_token(client, people, method, suffix):
    kim_id = user_id("kim")
    token_id = client.get(f"/api/users/{kim_id}/tokens/", headers=auth(people, "boss")).get_json()["results"][0]["id"]
    response = getattr(client, method)(f"/api/users/{kim_id}/tokens/{token_id}/{suffix}", headers=auth(people, "boss"))
    assert response.status_code == 200
    assert response.get_json()["is_active"] is False
    assert response.get_json()["revoked_at"] is not None
    assert_error(client.get("/api/users/", headers=auth(people, "kim")), 401, "unauthorized")
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "token.revoke")).scalar_one()
    assert (entry.username, entry.object_id) == ("boss", str(token_id))


def test_a_token_of_another_user_is_404(client, people):
    boss_token = client.get(f"/api/users/{user_id('boss')}/tokens/", headers=auth(people, "boss")).get_json()
    boss_token_id = boss_token["results"][0]["id"]
    response = client.delete(f"/api/users/{user_id('kim')}/tokens/{boss_token_id}/", headers=auth(people, "boss"))
    assert_error(response, 404, "not_found")
    assert client.get("/api/users/", headers=auth(people, "boss")).status_code == 200


def test_admin_issues_a_token_shown_once(client, people):
    desk_id = user_id("desk")
    response = client.post(f"/api/users/{desk_id}/tokens/", headers=auth(people, "boss"), json={"name": "scanner"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "scanner"
    assert client.get(f"/api/users/{desk_id}/", headers={"Authorization": f"Bearer {body['token']}"}).status_code == 403
    listed = client.get(f"/api/users/{desk_id}/tokens/", headers=auth(people, "boss")).get_json()
    assert body["token"] not in str(listed)
    assert listed["count"] == 2


def test_a_token_issued_for_days_shows_its_expiry_and_is_refused_after_it(client, people):
    desk_id = user_id("desk")
    response = client.post(f"/api/users/{desk_id}/tokens/", headers=auth(people, "boss"),
                           json={"name": "scanner", "days": 30})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    created, expires = datetime.fromisoformat(body["created_at"]), datetime.fromisoformat(body["expires_at"])
    assert expires - created == timedelta(days=30)
    assert body["expires_at"].endswith("+09:00")  # the academy's offset, like every time
    assert body["hint"] == body["token"][:8] and body["hint"].startswith("acd_")
    listed = client.get(f"/api/users/{desk_id}/tokens/", headers=auth(people, "boss")).get_json()["results"]
    assert [(row["hint"], row["expires_at"]) for row in listed if row["id"] == body["id"]] == [
        (body["hint"], body["expires_at"])]
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "token.create")).scalar_one()
    assert entry.after["expires_at"] is not None and body["token"] not in str(entry.after)

    desk = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/users/", headers=desk).status_code == 403  # known: a staff member, not an admin
    db.session.execute(update(ApiToken).where(ApiToken.id == body["id"])
                       .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    db.session.commit()
    assert_error(client.get("/api/users/", headers=desk), 401, "unauthorized")
    assert client.get("/api/users/", headers=auth(people, "boss")).status_code == 200


def test_a_token_without_days_or_with_null_lasts_until_revoked(client, people):
    for payload in ({}, {"days": None}):
        response = client.post(f"/api/users/{user_id('desk')}/tokens/", headers=auth(people, "boss"), json=payload)
        assert response.status_code == 201
        assert response.get_json()["expires_at"] is None


@pytest.mark.parametrize("days,bounds", [
    (0, True), (-5, True), (3651, True), (30.5, False), ("30", False), (True, False),
])
def test_a_token_validity_out_of_bounds_is_refused_naming_days(client, people, days, bounds):
    before = count(ApiToken)
    response = client.post(f"/api/users/{user_id('desk')}/tokens/", headers=auth(people, "boss"),
                           json={"name": "scanner", "days": days})
    body = assert_error(response, 400, "validation", "days")
    assert ("1" in body["message"] and "3650" in body["message"]) == bounds
    assert count(ApiToken) == before


def test_the_longest_token_validity_is_taken(client, people):
    response = client.post(f"/api/users/{user_id('desk')}/tokens/", headers=auth(people, "boss"), json={"days": 3650})
    body = response.get_json()
    assert response.status_code == 201
    assert datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"]) == timedelta(days=3650)


# The username case is not tried as kim's reset: "kim" is too short to be a password anyway.
@pytest.mark.parametrize("password,also_reset", [("short1", True), ("qwertyuiop", True), ("Lee_Academy", False)])
def test_the_password_rule_holds_for_users_made_and_reset_through_the_api(client, people, password, also_reset):
    """At least 10 characters, not the username, not a password everyone tries first."""
    response = client.post("/api/users/", headers=auth(people, "boss"),
                           json={"username": "lee_academy", "password": password, "role": "staff"})
    assert_error(response, 400, "validation", "password")
    assert count(User) == 3
    if not also_reset:
        return
    kim = accounts.user_by_username("kim")
    before = kim.password_hash
    response = client.patch(f"/api/users/{kim.id}/", headers=auth(people, "boss"), json={"password": password})
    assert_error(response, 400, "validation", "password")
    db.session.expire_all()
    assert accounts.user_by_username("kim").password_hash == before
    assert count(AuditLog) == 0

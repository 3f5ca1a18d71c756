"""The Users page (admins only): list, create, role, lectures, password reset, deactivation and
API tokens, each through the real forms with their CSRF token, on both databases."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dashboard.accounts import users as accounts
from dashboard.extensions import db
from dashboard.models import ApiToken, AuditLog, User

from tests.factories import bearer, build_academy
from .pages import HTMX
from .test_auth import post_login
from .test_clinic_pages import PASSWORD, sign_in_with_form


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def user_named(username: str) -> User | None:
    db.session.expire_all()
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def field_error(html: str, field_id: str) -> str | None:
    match = re.search(rf'id="{field_id}-error" class="error" role="alert">([^<]*)<', html)
    return match.group(1) if match else None


def api_status(client, token: str) -> int:
    return client.get("/api/progress/policies/", headers=bearer(token)).status_code


# ---------------------------------------------------------------- roles

@pytest.mark.parametrize("who", ["staff", "teacher_a"])
def test_only_admins_manage_users(client, academy, who):
    token = sign_in_with_form(client, academy.users[who])
    target = academy.users["teacher_b"]
    assert client.get("/users/").status_code == 403
    assert client.get(f"/users/{target.id}/").status_code == 403
    posts = {
        "/users/": {"username": "mallory", "password": "x", "role": "admin"},
        f"/users/{target.id}/role": {"role-role": "admin"},
        f"/users/{target.id}/deactivate": {},
        f"/users/{target.id}/password": {"password-password": "new"},
    }
    for path, data in posts.items():
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert user_named("mallory") is None
    stored = user_named("teacher_b")
    assert stored.role == "teacher" and stored.is_active
    assert 'href="/users/"' not in client.get("/").get_data(as_text=True)


def test_admin_sees_every_account(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    page = client.get("/users/").get_data(as_text=True)
    for user in academy.users.values():
        assert f'<a href="/users/{user.id}/">{user.username}</a>' in page
    row = re.search(rf'<tr data-user-id="{academy.users["teacher_a"].id}".*?</tr>', page, re.S).group(0)
    assert "Algebra II" in row and "Geometry" not in row
    assert 'aria-current="page">Users' in page
    assert client.get("/users/9999/").status_code == 404


def test_user_page_answers_a_partial_to_htmx(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    teacher = academy.users["teacher_a"]
    assert "<html" in client.get(f"/users/{teacher.id}/").get_data(as_text=True)
    partial = client.get(f"/users/{teacher.id}/", headers=HTMX).get_data(as_text=True)
    assert partial.lstrip().startswith(f'<div id="user-detail" data-user-id="{teacher.id}"')
    assert "<html" not in partial


# ---------------------------------------------------------------- create

def test_create_a_teacher_who_can_then_sign_in(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post("/users/", data={
        "csrf_token": token, "username": "kim_t", "password": "kim's password", "role": "teacher",
        "lectures": [str(academy.geometry.id)]})
    assert response.status_code == 302
    created = user_named("kim_t")
    assert response.headers["Location"] == f"/users/{created.id}/"
    assert created.role == "teacher" and accounts.lecture_ids_of(created) == [academy.geometry.id]
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "user.create")).scalar_one()
    assert entry.username == "admin" and entry.after["lectures"] == [academy.geometry.id]
    assert "password" not in str(entry.after)

    other = client.application.test_client()
    assert post_login(other, "kim_t", "kim's password").status_code == 302
    home = other.get("/").get_data(as_text=True)
    assert "Geometry" in home and "Algebra II" not in home


@pytest.mark.parametrize("data,field,message", [
    ({"username": "admin", "password": "p", "role": "staff"}, "username", "A user with this name already exists."),
    ({"username": "", "password": "p", "role": "staff"}, "username", "This field is required."),
    ({"username": "newbie", "password": "   ", "role": "staff"}, "password", "A password is required."),
    ({"username": "newbie", "password": "p", "role": "owner"}, "role", "Not a valid choice."),
    ({"username": "newbie", "password": "short1", "role": "staff"}, "password",
     "A password has at least 10 characters."),
    ({"username": "newbie", "password": "qwertyuiop", "role": "staff"}, "password",
     "This password is on the list of passwords everyone tries first; choose another."),
])
def test_create_refusals_at_the_field(client, academy, data, field, message):
    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post("/users/", data={**data, "csrf_token": token})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field) == message
    assert user_named("newbie") is None
    assert len(accounts.list_users()) == 4


def test_admins_get_no_lectures(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post("/users/", data={"csrf_token": token, "username": "boss2", "password": "p",
                                            "role": "admin", "lectures": [str(academy.algebra.id)]})
    assert response.status_code == 422
    assert "Only teachers and staff (as assistants) are assigned lectures" in response.get_data(as_text=True)
    assert user_named("boss2") is None


def test_staff_get_lectures_as_assistants(client, academy):
    """The Users page assigns an assistant: staff with lectures, shown on the list and the detail."""
    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post("/users/", data={"csrf_token": token, "username": "desk2", "password": "desk2 password",
                                            "role": "staff", "lectures": [str(academy.algebra.id)]})
    assert response.status_code == 302
    assistant = user_named("desk2")
    assert accounts.lecture_ids_of(assistant) == [academy.algebra.id]
    page = client.get(f"/users/{assistant.id}/").get_data(as_text=True)
    assert "Lectures this assistant enters data for" in page
    response = client.post(f"/users/{assistant.id}/lectures",
                           data={"csrf_token": token, "lectures-lectures": [str(academy.geometry.id)]})
    assert response.status_code in (200, 302)
    assert accounts.lecture_ids_of(assistant) == [academy.geometry.id]


def test_create_without_csrf_token_is_refused(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    response = client.post("/users/", data={"username": "sneaky", "password": "p", "role": "admin"})
    assert response.status_code == 400
    assert user_named("sneaky") is None


def test_usernames_are_escaped(client, academy):
    accounts.create_user("<i>odd</i>", "a fine password", "staff")
    db.session.commit()
    sign_in_with_form(client, academy.users["admin"])
    page = client.get("/users/").get_data(as_text=True)
    assert "<i>odd</i>" not in page and "&lt;i&gt;odd&lt;/i&gt;" in page


# ---------------------------------------------------------------- change

def test_role_change_drops_lectures_and_is_audited(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    teacher = academy.users["teacher_a"]
    response = client.post(f"/users/{teacher.id}/role", headers={**HTMX, "X-CSRFToken": token},
                           data={"role-role": "staff"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.lstrip().startswith('<div id="user-detail"') and "Role saved." in text
    stored = user_named("teacher_a")
    assert stored.role == "staff" and accounts.lecture_ids_of(stored) == []
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "user.update")).scalar_one()
    assert (entry.before["role"], entry.after["role"]) == ("teacher", "staff")
    assert (entry.before["lectures"], entry.after["lectures"]) == ([academy.algebra.id], [])


def test_assign_lectures(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    teacher = academy.users["teacher_a"]
    response = client.post(f"/users/{teacher.id}/lectures", data={
        "csrf_token": token, "lectures-lectures": [str(academy.algebra.id), str(academy.geometry.id)]})
    assert response.status_code == 302 and response.headers["Location"] == f"/users/{teacher.id}/"
    assert "Lectures saved." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert accounts.lecture_ids_of(user_named("teacher_a")) == sorted([academy.algebra.id, academy.geometry.id])


def test_the_last_admin_stays(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    admin = academy.users["admin"]
    for path, data in ((f"/users/{admin.id}/role", {"role-role": "staff"}), (f"/users/{admin.id}/deactivate", {})):
        response = client.post(path, headers={**HTMX, "X-CSRFToken": token}, data=data)
        assert response.status_code == 422
        assert "The last active admin cannot" in response.get_data(as_text=True)
    stored = user_named("admin")
    assert stored.role == "admin" and stored.is_active


def test_password_reset(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    staff = academy.users["staff"]
    accounts.reset_password(staff, "old password")
    db.session.commit()
    empty = client.post(f"/users/{staff.id}/password", headers={**HTMX, "X-CSRFToken": token},
                        data={"password-password": ""})
    assert empty.status_code == 422 and field_error(empty.get_data(as_text=True), "password-password")
    response = client.post(f"/users/{staff.id}/password", headers={**HTMX, "X-CSRFToken": token},
                           data={"password-password": "new password"})
    assert response.status_code == 200 and "Password reset." in response.get_data(as_text=True)
    other = client.application.test_client()
    assert post_login(other, "staff", "old password").status_code == 401
    assert post_login(other, "staff", "new password").status_code == 302


def test_a_password_reset_ends_the_sessions_signed_in_with_the_old_password(client, academy):
    staff = academy.users["staff"]
    staff_client = client.application.test_client()
    sign_in_with_form(staff_client, staff)
    assert staff_client.get("/clinic/").status_code == 200
    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post(f"/users/{staff.id}/password", headers={**HTMX, "X-CSRFToken": token},
                           data={"password-password": "a brand new password"})
    assert response.status_code == 200

    after = staff_client.get("/clinic/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    # Their API token is a credential of its own: it stays until revoked.
    assert api_status(client, academy.tokens["staff"]) == 200
    assert post_login(staff_client, "staff", "a brand new password").status_code == 302
    assert staff_client.get("/clinic/").status_code == 200


def test_an_admin_resetting_their_own_password_stays_signed_in_here_only(client, academy):
    admin = academy.users["admin"]
    elsewhere = client.application.test_client()
    sign_in_with_form(elsewhere, admin)
    token = sign_in_with_form(client, admin)
    response = client.post(f"/users/{admin.id}/password", headers={**HTMX, "X-CSRFToken": token},
                           data={"password-password": "my own new password"})
    assert response.status_code == 200
    assert client.get("/users/").status_code == 200
    assert elsewhere.get("/users/").status_code == 302


def test_deactivated_users_session_and_tokens_stop(client, academy):
    teacher = academy.users["teacher_a"]
    teacher_client = client.application.test_client()
    sign_in_with_form(teacher_client, teacher)
    assert teacher_client.get("/clinic/").status_code == 200
    assert api_status(client, academy.tokens["teacher_a"]) == 200

    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post(f"/users/{teacher.id}/deactivate", headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200 and "User deactivated." in response.get_data(as_text=True)
    assert user_named("teacher_a").is_active is False

    after = teacher_client.get("/clinic/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    assert api_status(client, academy.tokens["teacher_a"]) == 401
    assert post_login(teacher_client, "teacher_a", PASSWORD).status_code == 401

    client.post(f"/users/{teacher.id}/activate", headers={**HTMX, "X-CSRFToken": token})
    assert user_named("teacher_a").is_active is True


def test_tokens_are_listed_and_revoked(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    staff = academy.users["staff"]
    stored = db.session.execute(select(ApiToken).where(ApiToken.user_id == staff.id)).scalar_one()
    page = client.get(f"/users/{staff.id}/").get_data(as_text=True)
    assert f'<tr data-token-id="{stored.id}">' in page and academy.tokens["staff"] not in page
    assert api_status(client, academy.tokens["staff"]) == 200

    response = client.post(f"/users/{staff.id}/tokens/{stored.id}/revoke", headers={**HTMX, "X-CSRFToken": token})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Token revoked." in text
    assert "revoked " in re.search(rf'<tr data-token-id="{stored.id}">.*?</tr>', text, re.S).group(0)
    assert api_status(client, academy.tokens["staff"]) == 401
    db.session.expire_all()
    assert db.session.get(ApiToken, stored.id).revoked_at is not None
    other_users_token = db.session.execute(
        select(ApiToken.id).where(ApiToken.user_id == academy.users["teacher_a"].id)).scalar_one()
    assert client.post(f"/users/{staff.id}/tokens/{other_users_token}/revoke",
                       headers={**HTMX, "X-CSRFToken": token}).status_code == 404

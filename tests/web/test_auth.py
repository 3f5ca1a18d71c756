"""Browser sign-in with CSRF on: login, logout, throttling per account and address, redirects, CLI."""
from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Blueprint
from sqlalchemy import func, select

from dashboard.accounts import users as accounts
from dashboard import create_app
from dashboard.accounts.access import public, role_required
from dashboard.extensions import db
from dashboard.models import ApiToken, Lecture, LoginFailure, TeacherLecture, User

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


@pytest.fixture(autouse=True)
def cheap_hashing(app):
    """Cheaper scrypt parameters: a real-strength hash takes 0.2 s."""
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"


def csrf_from(client, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = CSRF_FIELD.search(page.get_data(as_text=True))
    assert match, "the page carries no CSRF token"
    return match.group(1)


def post_login(client, username: str, password: str, address: str = "127.0.0.1", next_url: str | None = None):
    token = csrf_from(client)
    path = "/login" if next_url is None else "/login?" + "next=" + next_url
    return client.post(path, data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def make_user(username: str, password: str, role: str = "staff", lecture_ids=()) -> User:
    user = accounts.create_user(username, password, role, lecture_ids)
    db.session.commit()
    return user


def make_lecture(title: str) -> Lecture:
    lecture = Lecture(title=title)
    db.session.add(lecture)
    db.session.commit()
    return lecture


# ---------------------------------------------------------------- anonymous visitors

def test_anonymous_visitor_is_sent_to_the_login_form(client):
    response = client.get("/")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/"]


def test_anonymous_visitor_to_an_unknown_page_is_sent_to_the_login_form(client):
    response = client.get("/lectures/7?tab=grid")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/lectures/7?tab=grid"]


def test_anonymous_htmx_request_gets_a_client_redirect(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_api_is_not_redirected_to_the_login_form(client):
    response = client.get("/api/users/")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


@pytest.fixture
def app_with_pages(app):
    """A second app on the same database, with a public page and an admin-only page added."""
    other = create_app({key: app.config[key] for key in (
        "TESTING", "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "DASHBOARD_TODAY", "WTF_CSRF_ENABLED",
        "PASSWORD_HASH_METHOD")})
    pages = Blueprint("pages", __name__)

    @pages.get("/health")
    @public
    def health():
        return "ok"

    @pages.get("/admin-only")
    @role_required("admin")
    def admin_only():
        return "admin page"

    other.register_blueprint(pages)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_public_pages_and_role_required_pages(app_with_pages):
    make_user("boss", "boss password", "admin")
    make_user("desk", "desk password", "staff")
    anonymous = app_with_pages.test_client()
    assert anonymous.get("/health").get_data(as_text=True) == "ok"
    assert urlsplit(anonymous.get("/admin-only").headers["Location"]).path == "/login"

    staff = app_with_pages.test_client()
    post_login(staff, "desk", "desk password")
    assert staff.get("/admin-only").status_code == 403

    admin = app_with_pages.test_client()
    post_login(admin, "boss", "boss password")
    assert admin.get("/admin-only").get_data(as_text=True) == "admin page"


# ---------------------------------------------------------------- login and logout

def test_login_without_csrf_token_is_refused(client):
    make_user("alice", "right password")
    response = client.post("/login", data={"username": "alice", "password": "right password"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_login_page_escapes_what_it_echoes(client):
    token = csrf_from(client)
    response = client.post("/login", data={"username": "<script>x</script>", "password": "p", "csrf_token": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "<script>x</script>" not in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body


def test_login_shows_the_lectures_the_user_may_see_and_logout_ends_it(client):
    mine, other = make_lecture("Algebra <A>"), make_lecture("Geometry")
    make_user("kim", "kim password", "teacher", [mine.id])
    response = post_login(client, "kim", "kim password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Algebra &lt;A&gt;" in home
    assert "Geometry" not in home
    assert "kim" in home

    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_from(client, "/")})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_staff_sees_every_lecture(client):
    make_lecture("Algebra")
    make_lecture("Geometry")
    make_user("desk", "desk password", "staff")
    post_login(client, "desk", "desk password")
    home = client.get("/").get_data(as_text=True)
    assert "Algebra" in home and "Geometry" in home


def test_wrong_password_is_refused_with_a_message(client):
    make_user("alice", "right password")
    response = post_login(client, "alice", "wrong password")
    assert response.status_code == 401
    assert "Invalid username or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_a_refused_sign_in_is_worded_in_the_readers_language(client):
    make_user("alice", "right password")
    token = csrf_from(client)
    response = client.post("/login", data={"username": "alice", "password": "wrong", "csrf_token": token},
                           headers={"Accept-Language": "ko"})
    assert response.status_code == 401
    assert "아이디 또는 비밀번호가 올바르지 않습니다." in response.get_data(as_text=True)


def test_deactivated_users_session_stops_at_once(client):
    make_user("boss", "boss password", "admin")
    alice = make_user("alice", "right password")
    post_login(client, "alice", "right password")
    assert client.get("/").status_code == 200
    accounts.deactivate(alice)
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


@pytest.mark.parametrize("next_url,expected", [
    ("/lectures/5?tab=grid", "/lectures/5?tab=grid"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example/", "/"),
    ("/%09/evil.example/", "/"),
    ("javascript:alert(1)", "/"),
    ("evil.example", "/"),
])
def test_next_is_followed_only_to_a_local_path(client, next_url, expected):
    make_user("alice", "right password")
    response = post_login(client, "alice", "right password", next_url=next_url)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


# ---------------------------------------------------------------- throttling

def test_five_failures_block_that_account_from_that_address_only(client):
    """The academy's computers share one address: one teacher's five typos lock only that
    teacher's name there, not every colleague behind the same address."""
    make_user("alice", "right password")
    make_user("bob", "bob password")
    for _ in range(5):
        assert post_login(client, "alice", "wrong", address="10.0.0.1").status_code == 401
    response = post_login(client, "alice", "right password", address="10.0.0.1")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert post_login(client, "bob", "bob password", address="10.0.0.1").status_code == 302


def test_fifty_failures_from_an_address_block_that_address(client):
    make_user("alice", "right password")
    for index in range(50):
        assert post_login(client, f"guess{index}", "wrong", address="10.0.0.7").status_code == 401
    assert post_login(client, "alice", "right password", address="10.0.0.7").status_code == 429
    response = post_login(client, "alice", "right password", address="10.0.0.8")
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_failures_survive_the_refused_request(client):
    make_user("alice", "right password")
    post_login(client, "alice", "wrong", address="10.0.0.1")
    # A rollback discards anything uncommitted: the failures must have been committed.
    db.session.rollback()
    stored = sorted(db.session.execute(select(LoginFailure.key)).scalars())
    assert stored == ["addr:10.0.0.1", "pair:alice|10.0.0.1", "user:alice"]


# ---------------------------------------------------------------- CLI

def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_create_user_command(runner):
    lecture = make_lecture("Algebra")
    result = runner.invoke(args=["create-user", "kim", "--role", "teacher", "--lecture", str(lecture.id)],
                           env={"DASHBOARD_PASSWORD": "kim password"})
    assert result.exit_code == 0, result.output
    user = accounts.user_by_username("kim")
    assert user.role == "teacher"
    assert user.password_hash.startswith("scrypt:")
    assert accounts.check_password(user, "kim password")
    assert accounts.lecture_ids_of(user) == [lecture.id]


def test_create_user_command_assigns_an_assistant(runner):
    """`--lecture` with `--role staff` makes an assistant (SPEC §12): staff who enter that lecture's data."""
    from dashboard.accounts.access import can_edit_inputs, can_edit_structure

    algebra, geometry = make_lecture("Algebra"), make_lecture("Geometry")
    result = runner.invoke(args=["create-user", "jo", "--role", "staff", "--lecture", str(algebra.id)],
                           env={"DASHBOARD_PASSWORD": "jo password"})
    assert result.exit_code == 0, result.output
    user = accounts.user_by_username("jo")
    assert (user.role, accounts.lecture_ids_of(user)) == ("staff", [algebra.id])
    assert can_edit_inputs(user, algebra.id) and not can_edit_inputs(user, geometry.id)
    assert not can_edit_structure(user, algebra.id)


def test_create_user_command_refuses_lectures_for_an_admin(runner):
    lecture = make_lecture("Algebra")
    result = runner.invoke(args=["create-user", "boss", "--role", "admin", "--lecture", str(lecture.id)],
                           env={"DASHBOARD_PASSWORD": "boss password"})
    assert result.exit_code != 0
    assert count(User) == 0


def test_create_user_command_prompts_for_the_password(runner):
    result = runner.invoke(args=["create-user", "desk", "--role", "staff"], input="desk pass\ndesk pass\n",
                           env={"DASHBOARD_PASSWORD": ""})
    assert result.exit_code == 0, result.output
    assert accounts.check_password(accounts.user_by_username("desk"), "desk pass")


def test_create_user_command_refuses_an_existing_name(runner):
    make_user("kim", "first password", "staff")
    result = runner.invoke(args=["create-user", "kim", "--role", "admin"], env={"DASHBOARD_PASSWORD": "other"})
    assert result.exit_code != 0
    assert "a user named 'kim' already exists" in result.output
    db.session.expire_all()
    assert count(User) == 1
    assert accounts.user_by_username("kim").role == "staff"


def test_create_user_command_refuses_an_unknown_lecture(runner):
    lecture = make_lecture("Algebra")
    result = runner.invoke(
        args=["create-user", "kim", "--role", "teacher", "--lecture", str(lecture.id), "--lecture", "999"],
        env={"DASHBOARD_PASSWORD": "kim password"},
    )
    assert result.exit_code != 0
    assert "unknown lecture id: 999" in result.output
    assert count(User) == 0
    assert count(TeacherLecture) == 0


def test_create_token_command_prints_a_working_token_last(runner, client):
    make_user("boss", "boss password", "admin")
    result = runner.invoke(args=["create-token", "boss", "--name", "laptop"])
    assert result.exit_code == 0, result.output
    raw = result.output.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", raw)
    stored = db.session.execute(select(ApiToken.token_hash)).scalar_one()
    assert stored == hashlib.sha256(raw.encode()).hexdigest()
    response = client.get("/api/users/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert [user["username"] for user in response.get_json()["results"]] == ["boss"]


def test_create_token_command_refuses_an_unknown_user(runner):
    result = runner.invoke(args=["create-token", "nobody"])
    assert result.exit_code != 0
    assert "no user named 'nobody'" in result.output
    assert count(ApiToken) == 0


def test_revoke_token_command_by_id_and_by_username(runner, client):
    boss = make_user("boss", "boss password", "admin")
    first, first_raw = accounts.issue_token(boss)
    second_raw = accounts.create_token(boss)
    third_raw = accounts.create_token(boss)
    db.session.commit()

    result = runner.invoke(args=["revoke-token", str(first.id)])
    assert result.exit_code == 0, result.output
    assert client.get("/api/users/", headers={"Authorization": f"Bearer {first_raw}"}).status_code == 401
    assert client.get("/api/users/", headers={"Authorization": f"Bearer {second_raw}"}).status_code == 200

    result = runner.invoke(args=["revoke-token", "boss"])
    assert result.exit_code == 0, result.output
    assert "Revoked 2 token(s)" in result.output
    for raw in (second_raw, third_raw):
        assert client.get("/api/users/", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_revoke_token_command_refuses_unknown_targets(runner):
    assert "no API token with id 42" in runner.invoke(args=["revoke-token", "42"]).output
    result = runner.invoke(args=["revoke-token", "nobody"])
    assert result.exit_code != 0
    assert "neither a token id nor a username" in result.output

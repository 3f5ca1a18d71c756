"""Accounts, tokens, throttling, role scoping and the audit trail, on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.accounts import sessions
from dashboard.accounts import access, users as accounts, audit
from dashboard.clock import now
from dashboard.errors import Conflict, Invalid, NotFound, Refused, describe
from dashboard.extensions import db
from dashboard.models import ApiToken, AuditLog, Lecture, LoginFailure, TeacherLecture, User


@pytest.fixture(autouse=True)
def cheap_hashing(app):
    """Cheaper scrypt parameters: a real-strength hash takes 0.2 s and these tests make many."""
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"


def make_lecture(title: str = "Algebra") -> Lecture:
    lecture = Lecture(title=title)
    db.session.add(lecture)
    db.session.flush()
    return lecture


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


# ---------------------------------------------------------------- users and passwords

def test_password_is_stored_as_a_scrypt_hash(app):
    del app.config["PASSWORD_HASH_METHOD"]  # the production default
    user = accounts.create_user("alice", "correct horse", "admin")
    stored = db.session.execute(select(User.password_hash).where(User.id == user.id)).scalar_one()
    assert stored.startswith("scrypt:65536:8:1$")  # stronger than werkzeug's default N = 2**15
    assert "correct horse" not in stored
    assert accounts.check_password(user, "correct horse")
    assert not accounts.check_password(user, "correct hors")


def test_teacher_is_created_with_lectures(app):
    algebra, geometry = make_lecture("Algebra"), make_lecture("Geometry")
    user = accounts.create_user("kim", "pw-kim-long-enough", "teacher", [geometry.id, algebra.id, algebra.id])
    assert accounts.lecture_ids_of(user) == sorted([algebra.id, geometry.id])


def test_existing_username_is_refused_as_a_conflict(app):
    accounts.create_user("alice", "pw-1-long-enough", "admin")
    with pytest.raises(Conflict) as refused:
        accounts.create_user("alice", "pw-2-long-enough", "staff")
    assert refused.value.kind == "conflict"
    assert refused.value.field == "username"
    assert "already exists" in describe(refused.value)
    assert count(User) == 1


def test_unknown_lecture_is_refused_and_nothing_is_written(app):
    lecture = make_lecture()
    with pytest.raises(Refused) as refused:
        accounts.create_user("kim", "pw-kim-long-enough", "teacher", [lecture.id, lecture.id + 100])
    assert refused.value.field == "lectures"
    assert str(lecture.id + 100) in describe(refused.value)
    assert count(User) == 0
    assert count(TeacherLecture) == 0


def test_admins_are_not_assigned_lectures(app):
    lecture = make_lecture()
    with pytest.raises(Invalid) as refused:
        accounts.create_user("lee", "pw-lee-long-enough", "admin", [lecture.id])
    assert refused.value.reason == "lectures_for_teachers_only"


def test_staff_are_assigned_lectures_as_assistants(app):
    """An assistant (staff with lectures) edits those lectures' inputs, not their structure."""
    from dashboard.accounts.access import can_edit_inputs, can_edit_structure, can_read_lecture

    first, second = make_lecture("Algebra"), make_lecture("Geometry")
    assistant = accounts.create_user("lee", "pw-lee-long-enough", "staff", [first.id])
    assert accounts.lecture_ids_of(assistant) == [first.id]
    assert can_edit_inputs(assistant, first.id) and not can_edit_inputs(assistant, second.id)
    assert not can_edit_structure(assistant, first.id)
    assert can_read_lecture(assistant, second.id)  # staff still read every lecture
    accounts.set_role(assistant, "teacher")  # teaching a lecture is not assisting in it
    assert accounts.lecture_ids_of(assistant) == []


@pytest.mark.parametrize("username,password,role,field", [
    ("", "pw-long-enough", "admin", "username"),
    ("two words", "pw-long-enough", "admin", "username"),
    ("x" * 151, "pw-long-enough", "admin", "username"),
    ("alice", "", "admin", "password"),
    ("alice", "   ", "admin", "password"),
    ("alice", "pw-long-enough", "owner", "role"),
])
def test_bad_user_input_names_its_field(app, username, password, role, field):
    with pytest.raises(Refused) as refused:
        accounts.create_user(username, password, role)
    assert refused.value.field == field
    assert count(User) == 0


def test_leaving_the_teacher_role_drops_lecture_assignments(app):
    lecture = make_lecture()
    accounts.create_user("boss", "pw-long-enough", "admin")
    kim = accounts.create_user("kim", "pw-kim-long-enough", "teacher", [lecture.id])
    accounts.set_role(kim, "staff")
    assert kim.role == "staff"
    assert accounts.lecture_ids_of(kim) == []


def test_assign_lectures_replaces_the_assignment(app):
    first, second, third = make_lecture("A"), make_lecture("B"), make_lecture("C")
    kim = accounts.create_user("kim", "pw-kim-long-enough", "teacher", [first.id, second.id])
    accounts.assign_lectures(kim, [third.id])
    assert accounts.lecture_ids_of(kim) == [third.id]


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(app):
    boss = accounts.create_user("boss", "pw-long-enough", "admin")
    with pytest.raises(Conflict) as refused:
        accounts.deactivate(boss)
    assert refused.value.reason == "last_active_admin"
    with pytest.raises(Conflict) as refused:
        accounts.set_role(boss, "staff")
    assert refused.value.reason == "last_active_admin"
    accounts.create_user("second", "pw-long-enough", "admin")
    accounts.deactivate(boss)
    assert boss.is_active is False


def test_reset_password_replaces_the_hash(app):
    user = accounts.create_user("alice", "old-password", "staff")
    old_hash = user.password_hash
    accounts.reset_password(user, "new-password")
    assert user.password_hash != old_hash
    assert accounts.check_password(user, "new-password")
    assert not accounts.check_password(user, "old-password")


# ---------------------------------------------------------------- API tokens

def test_a_session_belongs_to_its_user_only_while_it_is_live_and_the_password_the_same(app):
    user = accounts.create_user("kim", "first password", "staff")
    key = sessions.start(user)
    session_id = user.get_id()
    assert session_id == f"{user.id}:{user.session_generation}" and user.password_hash not in session_id
    assert accounts.user_for_session(session_id, key) is user
    assert accounts.user_for_session(session_id, None) is None  # no server-side session
    assert accounts.user_for_session(session_id, key + "x") is None
    accounts.reset_password(user, "second password")
    assert accounts.user_for_session(session_id, key) is None
    assert accounts.user_for_session(user.get_id(), key) is None  # the password change ended it
    fresh = sessions.start(user)
    assert accounts.user_for_session(user.get_id(), fresh) is user
    for forged in (str(user.id), f"{user.id}:", f"{user.id + 1}:{user.session_generation}", "x:1", "²:1",
                   f"-{user.id}:1", "99999999999:1", ""):
        assert accounts.user_for_session(forged, fresh) is None, forged
    other = accounts.create_user("lee", "lee's password", "staff")
    assert accounts.user_for_session(other.get_id(), fresh) is None  # kim's key is not lee's session
    accounts.deactivate(user)
    assert accounts.user_for_session(user.get_id(), fresh) is None


def test_token_is_stored_only_as_its_sha256(app):
    user = accounts.create_user("alice", "pw-long-enough", "staff")
    raw = accounts.create_token(user, "omr-worker")
    row = db.session.execute(select(ApiToken)).scalar_one()
    assert len(raw) >= 43  # 32 random bytes in URL-safe base64
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in (row.token_hash, row.name)
    assert row.name == "omr-worker"


def test_token_lookup_finds_its_user_and_nothing_else(app):
    alice = accounts.create_user("alice", "pw-long-enough", "staff")
    bob = accounts.create_user("bob", "pw-long-enough", "admin")
    alice_token = accounts.create_token(alice)
    bob_token = accounts.create_token(bob)
    assert alice_token != bob_token
    assert accounts.user_for_token(alice_token).id == alice.id
    assert accounts.user_for_token(bob_token).id == bob.id
    assert accounts.user_for_token(alice_token + "x") is None
    assert accounts.user_for_token("") is None
    assert accounts.user_for_token(None) is None


def test_revoked_token_is_refused(app):
    alice = accounts.create_user("alice", "pw-long-enough", "staff")
    token, raw = accounts.issue_token(alice)
    accounts.revoke_token(token.id)
    assert token.revoked_at is not None
    assert accounts.user_for_token(raw) is None


def test_deactivated_users_token_is_refused_until_reactivated(app):
    accounts.create_user("boss", "pw-long-enough", "admin")
    alice = accounts.create_user("alice", "pw-long-enough", "staff")
    raw = accounts.create_token(alice)
    accounts.deactivate(alice)
    assert accounts.user_for_token(raw) is None
    accounts.activate(alice)
    assert accounts.user_for_token(raw).id == alice.id


def test_no_token_for_a_deactivated_user(app):
    alice = accounts.create_user("alice", "pw-long-enough", "staff")
    alice.is_active = False
    with pytest.raises(Conflict) as refused:
        accounts.create_token(alice)
    assert refused.value.reason == "user_deactivated"


def test_revoking_an_unknown_token_is_not_found(app):
    with pytest.raises(NotFound):
        accounts.revoke_token(12345)


def test_revoke_tokens_of_a_user_leaves_other_users_alone(app):
    alice = accounts.create_user("alice", "pw-long-enough", "staff")
    bob = accounts.create_user("bob", "pw-long-enough", "staff")
    alice_raw = [accounts.create_token(alice) for _ in range(2)]
    bob_raw = accounts.create_token(bob)
    assert len(accounts.revoke_tokens_of(alice)) == 2
    assert [accounts.user_for_token(raw) for raw in alice_raw] == [None, None]
    assert accounts.user_for_token(bob_raw).id == bob.id
    assert len(accounts.list_tokens(alice)) == 2


def test_last_used_at_is_written_at_most_once_a_minute(app):
    alice = accounts.create_user("alice", "pw-long-enough", "staff")
    token, raw = accounts.issue_token(alice)
    assert token.last_used_at is None
    accounts.user_for_token(raw)
    first_use = token.last_used_at
    assert first_use is not None
    recent = now() - timedelta(seconds=30)
    token.last_used_at = recent
    accounts.user_for_token(raw)
    assert token.last_used_at == recent
    stale = now() - timedelta(minutes=2)
    token.last_used_at = stale
    accounts.user_for_token(raw)
    assert token.last_used_at > stale + timedelta(minutes=1)


# ---------------------------------------------------------------- login and throttling

def fail_login(username: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(accounts.LoginRefused) as refused:
            accounts.authenticate(username, "wrong password", address)
        assert not refused.value.throttled


def test_authenticate_checks_the_password(app):
    alice = accounts.create_user("alice", "right password", "staff")
    assert accounts.authenticate("alice", "right password", "10.0.0.1").id == alice.id
    with pytest.raises(accounts.LoginRefused, match="Invalid username or password"):
        accounts.authenticate("alice", "wrong password", "10.0.0.1")
    with pytest.raises(accounts.LoginRefused, match="Invalid username or password"):
        accounts.authenticate("nobody", "right password", "10.0.0.1")


def test_deactivated_user_cannot_sign_in(app):
    alice = accounts.create_user("alice", "right password", "staff")
    alice.is_active = False
    with pytest.raises(accounts.LoginRefused, match="deactivated"):
        accounts.authenticate("alice", "right password", "10.0.0.1")


def test_five_failures_block_the_account_from_that_address_only(app):
    accounts.create_user("alice", "right password", "staff")
    accounts.create_user("bob", "bob password", "staff")
    fail_login("alice", "10.0.1.1", times=5)
    with pytest.raises(accounts.LoginRefused) as refused:
        accounts.authenticate("alice", "right password", "10.0.1.1")
    assert refused.value.throttled
    assert "Try again in 15 minutes" in refused.value.message
    # Another account from the same address, and the same account from elsewhere, still sign in.
    assert accounts.authenticate("bob", "bob password", "10.0.1.1").username == "bob"
    assert accounts.authenticate("alice", "right password", "10.0.2.1").username == "alice"


def test_fifty_failures_for_an_account_from_many_addresses_block_it_everywhere(app):
    accounts.create_user("alice", "right password", "staff")
    for index in range(50):
        fail_login("alice", f"10.0.{index // 4}.{index % 4}")
    with pytest.raises(accounts.LoginRefused) as refused:
        accounts.authenticate("alice", "right password", "10.0.200.1")
    assert refused.value.throttled


def test_an_admin_unlocks_a_locked_account(app):
    alice = accounts.create_user("alice", "right password", "staff")
    fail_login("alice", "10.0.1.1", times=5)
    assert accounts.is_locked(alice)
    assert accounts.unlock_account(alice) == 5 * 2  # the pair's and the account's failures
    assert not accounts.is_locked(alice)
    assert accounts.authenticate("alice", "right password", "10.0.1.1").username == "alice"


def test_four_failures_do_not_block(app):
    accounts.create_user("alice", "right password", "staff")
    fail_login("alice", "10.0.0.1", times=4)
    assert accounts.authenticate("alice", "right password", "10.0.0.1").username == "alice"


def test_fifty_failures_from_an_address_block_that_address_only(app):
    accounts.create_user("alice", "right password", "staff")
    for index in range(50):
        fail_login(f"guess{index}", "10.0.0.7")
    with pytest.raises(accounts.LoginRefused) as refused:
        accounts.authenticate("alice", "right password", "10.0.0.7")
    assert refused.value.throttled
    assert accounts.authenticate("alice", "right password", "10.0.0.8").username == "alice"


def test_success_clears_the_accounts_failures(app):
    accounts.create_user("alice", "right password", "staff")
    fail_login("alice", "10.0.0.1", times=4)
    accounts.authenticate("alice", "right password", "10.0.0.1")
    fail_login("alice", "10.0.0.1", times=4)
    # 8 failures in all, but only 4 since the success: still allowed.
    assert accounts.authenticate("alice", "right password", "10.0.0.1").username == "alice"


@pytest.mark.parametrize("address_varies", [False, True])
def test_parallel_guesses_cannot_slip_past_the_limit(app, backend, address_varies):
    """Four failures recorded, then six wrong guesses at the same instant (separate connections):
    one is checked and fails, the other five find the account blocked. Counting the failures
    first and recording after, without serialising attempts, let all six through."""
    if backend != "postgresql":
        pytest.skip("parallel connections are what this tests; SQLite serialises writers on its own")
    accounts.create_user("alice", "right password", "staff")
    if address_varies:
        # One failure short of the account's ceiling, from as many addresses.
        add_failures("user:alice", [1] * (accounts.MAX_ACCOUNT_FAILURES - 1))
    else:
        fail_login("alice", "10.0.9.9", times=4)
    db.session.commit()
    before = count(LoginFailure)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def guess(index: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                accounts.authenticate("alice", "wrong password", f"10.0.9.{index}" if address_varies else "10.0.9.9")
            except accounts.LoginRefused as refused:
                outcomes.append("throttled" if refused.throttled else "invalid")
                db.session.commit()  # as the login page does: the failure must survive the refusal
            except Exception as error:  # surfaced in the test thread below
                outcomes.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=guess, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["invalid"] + ["throttled"] * 5, outcomes
    assert count(LoginFailure) == before + 3  # one failure, under its three keys


def add_failures(key: str, minutes_ago: list[float]) -> None:
    moment = now()
    db.session.add_all(LoginFailure(key=key, failed_at=moment - timedelta(minutes=m)) for m in minutes_ago)
    db.session.flush()


def test_block_lasts_fifteen_minutes_after_the_fifth_failure(app):
    accounts.create_user("alice", "right password", "staff")
    # Five failures 20..16 minutes ago: the block ended a minute ago.
    add_failures("pair:alice|10.0.0.1", [20, 19, 18, 17, 16])
    assert accounts.authenticate("alice", "right password", "10.0.0.1").username == "alice"


def test_block_reports_the_minutes_left(app):
    accounts.create_user("alice", "right password", "staff")
    # The fifth failure was 12.5 minutes ago: 2.5 minutes left, shown rounded up as 3.
    add_failures("pair:alice|10.0.0.1", [20, 18, 16, 14, 12.5])
    with pytest.raises(accounts.LoginRefused, match="Try again in 3 minutes"):
        accounts.authenticate("alice", "right password", "10.0.0.1")


def test_failures_spread_over_more_than_the_window_do_not_block(app):
    accounts.create_user("alice", "right password", "staff")
    # Five failures, but the oldest is 16 minutes before the newest: never 5 within 15 minutes.
    add_failures("pair:alice|10.0.0.1", [17, 10, 5, 3, 1])
    assert accounts.authenticate("alice", "right password", "10.0.0.1").username == "alice"


def test_blocked_attempts_are_not_recorded(app):
    accounts.create_user("alice", "right password", "staff")
    fail_login("alice", "10.0.0.1", times=5)
    before = count(LoginFailure)
    for _ in range(3):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate("alice", "wrong password", "10.0.0.1")
    assert count(LoginFailure) == before == 15  # 5 each per (address, account), address and account


# ---------------------------------------------------------------- role scoping

def test_visible_lectures_and_edit_rights_per_role(app):
    mine, other = make_lecture("Mine"), make_lecture("Other")
    admin = accounts.create_user("boss", "pw-long-enough", "admin")
    staff = accounts.create_user("desk", "pw-long-enough", "staff")
    teacher = accounts.create_user("kim", "pw-long-enough", "teacher", [mine.id])
    idle = accounts.create_user("park", "pw-long-enough", "teacher")
    assert access.visible_lecture_ids(admin) is None
    assert access.visible_lecture_ids(staff) is None
    assert access.visible_lecture_ids(teacher) == {mine.id}
    assert access.visible_lecture_ids(idle) == set()
    assert access.can_read_lecture(staff, other.id)
    assert access.can_read_lecture(teacher, mine.id)
    assert not access.can_read_lecture(teacher, other.id)
    assert access.can_edit_inputs(admin, other.id)
    assert access.can_edit_inputs(teacher, mine.id)
    assert not access.can_edit_inputs(teacher, other.id)
    assert not access.can_edit_inputs(staff, mine.id)


def test_has_role_refuses_inactive_users(app):
    accounts.create_user("boss", "pw-long-enough", "admin")
    staff = accounts.create_user("desk", "pw-long-enough", "staff")
    assert access.has_role(staff, "staff", "admin")
    assert not access.has_role(staff, "admin")
    staff.is_active = False
    assert not access.has_role(staff, "staff")
    assert not access.has_role(None, "staff")


# ---------------------------------------------------------------- audit trail

def test_audit_record_stores_json_safe_values(app):
    user = accounts.create_user("boss", "pw-long-enough", "admin")
    lecture = make_lecture()
    moment = datetime(2026, 3, 31, 15, 30, tzinfo=timezone.utc)
    entry = audit.record(
        "policy.update", "policy", 7,
        {"pass_score": Decimal("72.50"), "days": 2},
        {"pass_score": Decimal("80.00"), "when": moment, "day": date(2026, 4, 1), "ids": {3, 1}},
        user=user, lecture_id=lecture.id,
    )
    assert entry.id is not None
    db.session.expire_all()
    row = db.session.execute(select(AuditLog)).scalar_one()
    assert (row.user_id, row.username, row.action, row.object_type, row.object_id, row.lecture_id) == (
        user.id, "boss", "policy.update", "policy", "7", lecture.id)
    assert row.before == {"pass_score": 72.5, "days": 2}
    # 15:30 UTC is 00:30 the next day in Seoul (+09:00).
    assert row.after == {"pass_score": 80, "when": "2026-04-01T00:30:00+09:00", "day": "2026-04-01", "ids": [1, 3]}
    assert row.created_at is not None


def test_audit_record_without_a_user_is_the_system(app):
    entry = audit.record("import", "snapshot", None, None, {"created": {"students": 3}})
    assert (entry.user_id, entry.username, entry.object_id) == (None, None, None)


def test_audit_refuses_values_json_cannot_hold(app):
    with pytest.raises(TypeError):
        audit.record("x", "y", 1, None, {"bad": object()})

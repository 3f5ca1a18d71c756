"""Many requests on one lecture at once, through the real HTTP layer (PostgreSQL).

Each worker thread has its own Flask test client; every request pushes its own app context and
so gets its own session and connection, as in a gunicorn worker. Barriers force the dangerous
interleavings: every writer has done its reads (authentication, the import's plan, the policy's
validation, the cell's detail) and waits at the point where it takes the lecture lock, so they
all race for it at once. The final derived state must then equal a fresh full recompute
(helpers of tests/integration/test_concurrency.py), with no duplicate clinic link or risk log
and no lost input edit.

Also the bounded retry of dashboard/transactions.py: a real deadlock between two transactions,
and serialization failures / deadlocks injected into a request (raised by PostgreSQL itself,
from a DO block) — retried, then answered 503 with nothing written.
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from dashboard.extensions import db
from dashboard.models import Activity, AuditLog, ClinicLink, Lecture, ProgressPolicy, RiskLog
from dashboard.progress.recompute import recompute_lecture
from dashboard.transactions import MAX_ATTEMPTS, TransactionConflict, run_in_transaction
from tests.integration.test_concurrency import _build, _derived_values
from tests.integration.test_faults import stored_state
from tests.factories import bearer, build_academy, make_token, make_user, policy_of
from tests.web.pages import HTMX, csrf_token, sign_in

JOIN_SECONDS = 30
BARRIER_SECONDS = 10


@pytest.fixture
def postgresql(backend):
    if backend != "postgresql":
        pytest.skip("parallel writers and row locks are what this tests; SQLite serialises the whole file")


def run_parallel(*workers: Callable[[], Any]) -> list[Any]:
    """Run each worker in its own thread; answer their results in order, or raise the first error."""
    results: list[Any] = [None] * len(workers)
    errors: list[BaseException] = []

    def run(index: int, work: Callable[[], Any]) -> None:
        try:
            results[index] = work()
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a worker is still running (deadlocked?)"
    if errors:
        raise errors[0]
    return results


def meet_at_the_lock(monkeypatch, barrier: threading.Barrier, *modules) -> None:
    """Make each thread's first `lock_lecture` call wait until every party has reached its own."""
    seen = threading.local()
    for module in modules:
        original = module.lock_lecture

        def waiting(lecture_id: int, _original=original) -> None:
            if not getattr(seen, "met", False):
                seen.met = True
                barrier.wait(timeout=BARRIER_SECONDS)
            _original(lecture_id)

        monkeypatch.setattr(module, "lock_lecture", waiting)


def duplicate_counts() -> tuple[int, int]:
    """(automatic links sharing (enrollment, session, reason), risk logs sharing their four keys)."""
    links = db.session.execute(
        select(func.count()).select_from(
            select(ClinicLink.enrollment_id).where(ClinicLink.is_auto.is_(True))
            .group_by(ClinicLink.enrollment_id, ClinicLink.session_id, ClinicLink.reason)
            .having(func.count() > 1).subquery())
    ).scalar_one()
    logs = db.session.execute(
        select(func.count()).select_from(
            select(RiskLog.enrollment_id)
            .group_by(RiskLog.enrollment_id, RiskLog.session_id, RiskLog.risk_level, RiskLog.rule)
            .having(func.count() > 1).subquery())
    ).scalar_one()
    return links, logs


def audit_actions() -> Counter:
    return Counter(db.session.execute(select(AuditLog.action)).scalars())


# ---------------------------------------------------------------- clinic actions on one link

@pytest.mark.parametrize("actions, audited", [
    (("approve", "approve"), {"clinic_link.approve": 1}),
    (("resolve", "resolve"), {"clinic_link.resolve": 1}),
    (("approve", "resolve"), {"clinic_link.approve": 1, "clinic_link.resolve": 1}),
])
def test_two_clinic_actions_on_one_link_at_once(app, postgresql, monkeypatch, actions, audited):
    import dashboard.clinic.links

    academy = build_academy()
    link_id = db.session.execute(select(ClinicLink.id).where(
        ClinicLink.enrollment_id == academy.jisoo.id, ClinicLink.session_id == academy.weeks[0].id,
        ClinicLink.reason == "AUTO_FAILED")).scalar_one()
    db.session.commit()
    # Both requests have read the link (still open, not approved) before either takes the lock.
    meet_at_the_lock(monkeypatch, threading.Barrier(2), dashboard.clinic.links)

    def act(who: str, action: str) -> Callable[[], Any]:
        def work():
            response = app.test_client().post(f"/api/progress/clinic-links/{link_id}/{action}/",
                                              headers=bearer(academy.tokens[who]))
            return response.status_code, response.get_json()
        return work

    (status_a, body_a), (status_b, body_b) = run_parallel(act("admin", actions[0]), act("staff", actions[1]))
    assert (status_a, status_b) == (200, 200), (body_a, body_b)
    db.session.rollback()
    link = db.session.get(ClinicLink, link_id)
    assert audit_actions() == Counter(audited)
    assert link.auto_managed is False
    if "approve" in actions:
        approver = db.session.execute(select(AuditLog.username).where(
            AuditLog.action == "clinic_link.approve")).scalar_one()
        assert link.approved is True
        assert link.approved_by_id == academy.users[approver].id
    if "resolve" in actions:
        resolver = db.session.execute(select(AuditLog.username).where(
            AuditLog.action == "clinic_link.resolve")).scalar_one()
        assert link.resolved_at is not None
        assert link.resolved_by_id == academy.users[resolver].id


# ---------------------------------------------------------------- a lecture under fire

ROUNDS = 3


def test_policy_saves_imports_cell_edits_and_recomputes_at_once_end_as_a_fresh_recompute(
        app, postgresql, monkeypatch):
    import dashboard.importer.snapshot
    import dashboard.lectures.cells
    import dashboard.progress.policy

    lecture_id, enrollments, sessions = _build(students=8, sessions=5)
    lecture = db.session.get(Lecture, lecture_id)
    policy_id = policy_of(lecture).id
    admin = make_user("admin", "admin")
    teacher = make_user("teacher", "teacher", (lecture,))
    # One token per API worker, as separate people or systems would have.
    tokens = [make_token(admin) for _ in range(4)]
    db.session.commit()
    browser = app.test_client()
    sign_in(browser, teacher)
    csrf = csrf_token(browser, f"/lectures/{lecture_id}/")
    # Stale: the first read of the lecture recomputes it (SPEC §7), racing with the writers.
    db.session.execute(update(Lecture).where(Lecture.id == lecture_id).values(recomputed_for=None))
    db.session.commit()

    imported, edited = enrollments[:4], enrollments[4:]
    writers = threading.Barrier(5)
    meet_at_the_lock(monkeypatch, writers, dashboard.progress.policy, dashboard.importer.snapshot, dashboard.lectures.cells)

    def api(method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        response = app.test_client().open(path, method=method, headers=bearer(token), json=body)
        return response.status_code, response.get_json()

    def video_rates() -> list[tuple[int, Any]]:
        return [api("PATCH", f"/api/progress/policies/{policy_id}/", tokens[0], {"video_required_rate": 70 + r})
                for r in range(ROUNDS)]

    def pass_scores() -> list[tuple[int, Any]]:
        return [api("PATCH", f"/api/progress/policies/{policy_id}/", tokens[1], {"exam_pass_score": 55 + 5 * r})
                for r in range(ROUNDS)]

    def imports() -> list[tuple[int, Any]]:
        return [api("POST", "/api/import", tokens[2], {"activities": [
            {"enrollment_id": e, "session_id": s, "attendance": "online", "video_rate": 60 + 10 * r + i}
            for i, e in enumerate(imported) for s in sessions]}) for r in range(ROUNDS)]

    def cell_edits() -> list[int]:
        statuses = []
        for r in range(ROUNDS):
            for i, enrollment_id in enumerate(edited):
                response = browser.post(
                    f"/lectures/{lecture_id}/cell/activity?enrollment={enrollment_id}&session={sessions[i]}",
                    data={"activity-attendance": "online", "activity-video_rate": str(65 + 10 * r + i)},
                    headers={**HTMX, "X-CSRFToken": csrf})
                statuses.append(response.status_code)
        return statuses

    def daily_recompute() -> int:
        # What `flask recompute --lecture ID` does, in its own app context and transaction.
        with app.app_context():
            try:
                writers.wait(timeout=BARRIER_SECONDS)
                for _ in range(ROUNDS):
                    recompute_lecture(lecture_id)
                    db.session.commit()
                return ROUNDS
            finally:
                db.session.remove()

    def reads() -> list[int]:
        return [api("GET", f"/api/progress/session-progress/?lecture={lecture_id}&page_size=1000", tokens[3])[0]
                for _ in range(ROUNDS)]

    rates, scores, import_answers, cell_statuses, _, read_statuses = run_parallel(
        video_rates, pass_scores, imports, cell_edits, daily_recompute, reads)
    assert [status for status, _ in rates + scores + import_answers] == [200] * (3 * ROUNDS), \
        [body for status, body in rates + scores + import_answers if status != 200]
    assert cell_statuses == [200] * (ROUNDS * len(edited))
    assert read_statuses == [200] * ROUNDS

    db.session.rollback()
    # No lost input edit: each field and each cell holds its last writer's last value.
    policy = db.session.get(ProgressPolicy, policy_id)
    assert (policy.video_required_rate, policy.exam_pass_score) == (70 + ROUNDS - 1, 55 + 5 * (ROUNDS - 1))
    rates_now = dict(((a.enrollment_id, a.session_id), a.video_rate)
                     for a in db.session.execute(select(Activity)).scalars())
    last = ROUNDS - 1
    for i, enrollment_id in enumerate(imported):
        assert all(rates_now[(enrollment_id, s)] == 60 + 10 * last + i for s in sessions)
    for i, enrollment_id in enumerate(edited):
        assert rates_now[(enrollment_id, sessions[i])] == 65 + 10 * last + i
    assert audit_actions()["policy.update"] == 2 * ROUNDS

    # The derived rows are exactly what a fresh full recompute from the stored facts gives.
    after_race = _derived_values()
    recompute_lecture(lecture_id)
    db.session.commit()
    assert _derived_values() == after_race
    assert duplicate_counts() == (0, 0)
    assert db.session.execute(select(func.count(ClinicLink.id))).scalar_one() > 0


def test_a_policy_save_lingering_before_commit_and_a_cell_edit_end_as_a_fresh_recompute(
        app, postgresql, monkeypatch):
    """The interleaving that loses an edit without the lecture lock: the policy save has
    recomputed the lecture but not committed; the cell edit then recomputes its cell against the
    old policy. With the lock the cell edit waits for the commit instead."""
    import dashboard.lectures.cells
    import dashboard.progress.policy

    lecture_id, enrollments, sessions = _build(students=3, sessions=3)
    lecture = db.session.get(Lecture, lecture_id)
    policy_id = policy_of(lecture).id
    token = make_token(make_user("admin", "admin"))
    teacher = make_user("teacher", "teacher", (lecture,))
    db.session.commit()
    browser = app.test_client()
    sign_in(browser, teacher)
    csrf = csrf_token(browser, f"/lectures/{lecture_id}/")
    meet_at_the_lock(monkeypatch, threading.Barrier(2), dashboard.progress.policy, dashboard.lectures.cells)

    cell_recomputed = threading.Event()
    recompute_lecture_first, recompute_cell_first = dashboard.progress.policy.recompute_lecture, dashboard.lectures.cells.recompute

    def recompute_then_linger(lecture_id: int) -> int:
        count = recompute_lecture_first(lecture_id)
        # Give an unlocked cell edit every chance to run now (with the lock it cannot: 1 s lost).
        cell_recomputed.wait(timeout=1)
        return count

    def recompute_and_tell(scope):
        result = recompute_cell_first(scope)
        cell_recomputed.set()
        return result

    monkeypatch.setattr(dashboard.progress.policy, "recompute_lecture", recompute_then_linger)
    monkeypatch.setattr(dashboard.lectures.cells, "recompute", recompute_and_tell)

    def save_policy() -> int:
        # Every activity is at 50%: at 48 the videos count as watched.
        return app.test_client().patch(f"/api/progress/policies/{policy_id}/", json={"video_required_rate": 48},
                                       headers=bearer(token)).status_code

    def edit_cell() -> int:
        # 60% fails the old 90% rule and passes the new 48% one.
        return browser.post(f"/lectures/{lecture_id}/cell/activity?enrollment={enrollments[0]}&session={sessions[0]}",
                            data={"activity-attendance": "online", "activity-video_rate": "60"},
                            headers={**HTMX, "X-CSRFToken": csrf}).status_code

    assert run_parallel(save_policy, edit_cell) == [200, 200]
    db.session.rollback()
    after_race = _derived_values()
    recompute_lecture(lecture_id)
    db.session.commit()
    assert _derived_values() == after_race


# ---------------------------------------------------------------- bounded retries

def test_a_real_deadlock_is_retried_and_both_transactions_land(app, postgresql):
    """Two transactions lock two lecture rows in opposite order; PostgreSQL aborts one (40P01),
    which runs again after the other commits."""
    first = Lecture(title="A")
    second = Lecture(title="B")
    db.session.add_all([first, second])
    db.session.commit()
    ids = (first.id, second.id)
    barrier = threading.Barrier(2)
    calls: Counter = Counter()

    def transfer(name: str, order: tuple[int, int]) -> Callable[[], int]:
        def work() -> int:
            calls[name] += 1
            db.session.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
            db.session.execute(select(Lecture.id).where(Lecture.id == order[0]).with_for_update())
            if calls[name] == 1:
                barrier.wait(timeout=BARRIER_SECONDS)  # both hold their first row now
            db.session.execute(select(Lecture.id).where(Lecture.id == order[1]).with_for_update())
            db.session.execute(update(Lecture).where(Lecture.id.in_(ids)).values(title=Lecture.title + name))
            return calls[name]

        def in_context() -> int:
            with app.app_context():
                try:
                    return run_in_transaction(work)
                finally:
                    db.session.remove()
        return in_context

    attempts = run_parallel(transfer("x", ids), transfer("y", ids[::-1]))
    assert sorted(attempts) == [1, 2]  # exactly one deadlock victim, which succeeded on its second try
    db.session.expire_all()
    titles = {db.session.get(Lecture, i).title for i in ids}
    # Each transaction appended its letter once, the survivor's first: "Axy"/"Bxy" or "Ayx"/"Byx".
    assert titles in ({"Axy", "Bxy"}, {"Ayx", "Byx"})


class _InjectedConflict(Exception):
    """SQLite has no deadlocks: a driver error carrying PostgreSQL's SQLSTATE stands in for one."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"injected SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def raise_conflict(sqlstate: str) -> None:
    """Make the database abort the current transaction with this SQLSTATE."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'injected conflict' USING ERRCODE = '{sqlstate}'; END $$"))
    raise OperationalError("injected", {}, _InjectedConflict(sqlstate))


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
def test_a_conflict_in_a_request_is_retried_once_and_recorded_once(app, client, sqlstate, monkeypatch):
    import dashboard.progress.policy

    academy = build_academy()
    db.session.commit()
    original = dashboard.progress.policy.recompute_lecture
    calls = []

    def conflicting_once(lecture_id: int) -> int:
        calls.append(lecture_id)
        count = original(lecture_id)
        if len(calls) == 1:
            raise_conflict(sqlstate)
        return count

    monkeypatch.setattr(dashboard.progress.policy, "recompute_lecture", conflicting_once)
    response = client.patch(f"/api/progress/policies/{policy_of(academy.algebra).id}/",
                            json={"video_required_rate": 96}, headers=bearer(academy.tokens["admin"]))
    assert response.status_code == 200, response.get_json()
    assert len(calls) == 2
    db.session.rollback()
    assert policy_of(academy.algebra).video_required_rate == 96
    assert audit_actions() == Counter({"policy.update": 1})  # the first attempt's entry was rolled back


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
def test_a_conflict_that_persists_is_503_after_the_bound_with_nothing_written(app, client, sqlstate, monkeypatch):
    import dashboard.progress.policy

    academy = build_academy()
    db.session.commit()
    before = stored_state()
    original = dashboard.progress.policy.recompute_lecture
    calls = []

    def always_conflicting(lecture_id: int) -> int:
        calls.append(lecture_id)
        original(lecture_id)
        raise_conflict(sqlstate)

    monkeypatch.setattr(dashboard.progress.policy, "recompute_lecture", always_conflicting)
    response = client.patch(f"/api/progress/policies/{policy_of(academy.algebra).id}/",
                            json={"video_required_rate": 96}, headers=bearer(academy.tokens["admin"]))
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "unavailable" and "nothing was saved" in body["message"]
    assert len(calls) == MAX_ATTEMPTS == 3
    assert stored_state() == before


def test_other_errors_are_not_retried(app):
    calls = []

    def refused() -> None:
        calls.append(1)
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        run_in_transaction(refused)
    assert calls == [1]
    with pytest.raises(TransactionConflict) as raised:
        run_in_transaction(lambda: raise_conflict("40001"), attempts=2)
    assert (raised.value.attempts, raised.value.sqlstate) == (2, "40001")


@pytest.mark.parametrize("failures, status", [(1, 200), (MAX_ATTEMPTS, 503)])
def test_a_conflict_in_a_page_request_is_retried_then_503(app, client, monkeypatch, failures, status):
    """The grid's cell form: retried like the API; past the bound a 503 page and nothing saved."""
    import dashboard.lectures.cells

    academy = build_academy()
    sign_in(client, academy.users["teacher_a"])
    token = csrf_token(client, f"/lectures/{academy.algebra.id}/")
    before = stored_state()
    original = dashboard.lectures.cells.recompute
    calls = []

    def conflicting(scope):
        calls.append(scope)
        result = original(scope)
        if len(calls) <= failures:
            raise_conflict("40P01")
        return result

    monkeypatch.setattr(dashboard.lectures.cells, "recompute", conflicting)
    response = client.post(
        f"/lectures/{academy.algebra.id}/cell/activity?enrollment={academy.jisoo.id}&session={academy.weeks[0].id}",
        data={"activity-attendance": "online", "activity-video_rate": "100"}, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == status
    assert len(calls) == min(failures + 1, MAX_ATTEMPTS)
    db.session.rollback()
    rate = db.session.execute(select(Activity.video_rate).where(
        Activity.enrollment_id == academy.jisoo.id, Activity.session_id == academy.weeks[0].id)).scalar_one_or_none()
    if status == 200:
        assert rate == 100
        assert audit_actions() == Counter({"activity.set": 1})
    else:
        assert "nothing was saved" in response.get_data(as_text=True)
        assert stored_state() == before

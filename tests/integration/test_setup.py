"""The setup service (dashboard/academy/structure.py) on both databases: lectures, sessions, the term
generator, students and enrollments — permissions, validation that writes nothing, the
recompute after each change (derived rows worked by hand) and the audit trail.

Academy: tests/web/factories.build_academy, today 2026-04-01, grace 7 days. Algebra II has
Week 1..3 dated 03-02/03-09/03-16 (due), Week 4 on 04-20 (upcoming), a quiz on Week 2 with
attempts by Minji (72.5) and Jisoo (40); Minji completed Weeks 1-3; Choi is withdrawn.
Geometry has one due session (03-02) and Kim Minho with nothing done."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from dashboard.academy import structure as setup
from dashboard.errors import Forbidden, Invalid, NotFound, describe
from dashboard.extensions import db
from dashboard.models import (
    AuditLog,
    Enrollment,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    SessionProgress,
    Student,
    TeacherLecture,
)
from dashboard.progress.rules import POLICY_DEFAULTS

from tests.factories import build_academy

MON, WED = 0, 2


@pytest.fixture
def academy(app):
    return build_academy()


def lecture_progress(enrollment) -> LectureProgress:
    return db.session.execute(select(LectureProgress).where(LectureProgress.enrollment_id == enrollment.id)
                              .execution_options(populate_existing=True)).scalar_one()


def rows_of(enrollment) -> dict[int, bool]:
    """session id -> completed, for the enrollment's session-progress rows."""
    return dict(db.session.execute(select(SessionProgress.session_id, SessionProgress.completed)
                                   .where(SessionProgress.enrollment_id == enrollment.id)).all())


def actions() -> list[str]:
    return list(db.session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


def problems(refused: Invalid) -> list[tuple[str | None, str]]:
    """A refusal's problems as the setup forms show them: (field, text)."""
    return [(problem.field, describe(problem)) for problem in (refused, *refused.also)]


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


# ---------------------------------------------------------------- lectures

def test_create_lecture_makes_its_default_policy_and_assigns_teachers(academy):
    admin, teacher = academy.users["admin"], academy.users["teacher_b"]
    lecture = setup.create_lecture(admin, "  Calculus  ", [teacher.id])
    assert lecture.title == "Calculus"
    policy = db.session.execute(select(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture.id)).scalar_one()
    assert {name: getattr(policy, name) for name in POLICY_DEFAULTS} == dict(POLICY_DEFAULTS)
    assert set(setup.teacher_ids_of(lecture.id)) == {teacher.id}
    # teacher_b keeps Geometry as well.
    assert db.session.execute(select(func.count()).select_from(TeacherLecture)
                              .where(TeacherLecture.user_id == teacher.id)).scalar_one() == 2
    # One audit row for the change: the snapshot import underneath records none of its own.
    assert "import_snapshot" not in actions()
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "lecture.create")).scalar_one()
    assert entry.after == {"title": "Calculus", "teachers": [teacher.id], "archived_at": None}
    assert (entry.username, entry.lecture_id) == ("admin", lecture.id)


def test_a_new_lecture_id_never_collides_with_the_next_one(academy):
    first = setup.create_lecture(academy.users["admin"], "A")
    second = setup.create_lecture(academy.users["admin"], "B")
    assert second.id > first.id > academy.geometry.id


@pytest.mark.parametrize("who", ["teacher_a", "staff"])
def test_only_admins_create_edit_or_archive_lectures(academy, who):
    user = academy.users[who]
    with pytest.raises(Forbidden):
        setup.create_lecture(user, "Mine")
    with pytest.raises(Forbidden):
        setup.update_lecture(user, academy.algebra.id, "Renamed", [])
    with pytest.raises(Forbidden):
        setup.archive_lecture(user, academy.algebra.id)
    assert count(Lecture) == 2 and academy.algebra.title == "Algebra II"


def test_a_teacher_never_learns_of_another_lecture(academy):
    teacher = academy.users["teacher_b"]
    for call in (lambda: setup.update_lecture(teacher, academy.algebra.id, "x", []),
                 lambda: setup.add_session(teacher, academy.algebra.id, None, "x", None),
                 lambda: setup.withdraw(teacher, academy.minji.id),
                 lambda: setup.readable_student(teacher, academy.minji.student_id)):
        with pytest.raises(NotFound):
            call()


@pytest.mark.parametrize("title, problem", [("   ", "A value is required."), ("x" * 201, "At most 200 characters.")])
def test_lecture_title_is_validated_and_nothing_is_written(academy, title, problem):
    with pytest.raises(Invalid) as refused:
        setup.create_lecture(academy.users["admin"], title)
    assert problems(refused.value) == [("title", problem)]
    assert count(Lecture) == 2 and count(ProgressPolicy) == 2


def test_update_lecture_title_and_teachers(academy):
    admin, a, b = academy.users["admin"], academy.users["teacher_a"], academy.users["teacher_b"]
    setup.update_lecture(admin, academy.algebra.id, "Algebra 2", [b.id])
    assert academy.algebra.title == "Algebra 2"
    assert setup.teacher_ids_of(academy.algebra.id) == [b.id]
    assert setup.lectures_for(a) == []  # teacher_a lost Algebra, their only lecture
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "lecture.update")).scalar_one()
    assert entry.before["teachers"] == [a.id] and entry.after["teachers"] == [b.id]
    with pytest.raises(Invalid) as refused:
        setup.update_lecture(admin, academy.algebra.id, "Algebra 2", [academy.users["staff"].id])
    assert problems(refused.value) == [("teachers", "Only teachers are assigned lectures.")]


def test_archiving_hides_the_lecture_and_blocks_structural_changes(academy):
    admin = academy.users["admin"]
    setup.archive_lecture(admin, academy.algebra.id)
    assert [lecture.title for lecture in setup.lectures_for(admin)] == ["Geometry"]
    assert [lecture.title for lecture in setup.lectures_for(admin, archived=True)] == ["Algebra II"]
    sessions_before = count(LectureSession)
    for call in (lambda: setup.add_session(admin, academy.algebra.id, None, "Extra", None),
                 lambda: setup.withdraw(admin, academy.minji.id),
                 lambda: setup.move_session(admin, academy.weeks[0].id, +1)):
        with pytest.raises(Invalid):
            call()
    assert count(LectureSession) == sessions_before and academy.minji.withdrawn_at is None
    setup.archive_lecture(admin, academy.algebra.id, archived=False)
    assert academy.algebra.archived_at is None
    assert actions()[-2:] == ["lecture.archive", "lecture.restore"]


# ---------------------------------------------------------------- sessions

def test_adding_a_due_session_recomputes_the_whole_lecture(academy):
    """Order 5 on 03-23 (due: 03-30 <= 04-01), no exam, no homework, nobody watched it.
    Minji: completed 3, failed 1, consecutive 1 (Week 3 completed stops it) -> NORMAL.
    Park: failed 4 in a row -> DANGER. Choi (withdrawn) is frozen: no new row, totals unchanged."""
    teacher = academy.users["teacher_a"]
    choi_rows = rows_of(academy.choi)
    session = setup.add_session(teacher, academy.algebra.id, 5, "Review", date(2026, 3, 23))
    minji = lecture_progress(academy.minji)
    assert (minji.total_sessions, minji.completed_sessions, minji.failed_sessions,
            minji.consecutive_failed_sessions, minji.risk_level, minji.last_session_id) == (
        5, 3, 1, 1, "NORMAL", session.id)
    assert rows_of(academy.minji)[session.id] is False
    park = lecture_progress(academy.park)
    assert (park.failed_sessions, park.consecutive_failed_sessions, park.risk_level) == (4, 4, "DANGER")
    assert rows_of(academy.choi) == choi_rows and lecture_progress(academy.choi).total_sessions == 4
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "session.create")).scalar_one()
    assert entry.after == {"lecture_id": academy.algebra.id, "order": 5, "title": "Review", "date": "2026-03-23"}


def test_a_session_without_an_order_goes_last(academy):
    session = setup.add_session(academy.users["admin"], academy.algebra.id, None, None, None)
    assert session.order == 5 and session.title is None


@pytest.mark.parametrize("order, field", [(0, "order"), (10000, "order"), (3, "order")])
def test_session_orders_are_validated_and_nothing_is_written(academy, order, field):
    with pytest.raises(Invalid) as refused:
        setup.add_session(academy.users["admin"], academy.algebra.id, order, "x", None)
    assert refused.value.field == field
    assert count(LectureSession) == 5


def test_importer_problems_keep_their_code_and_parameters_or_else_their_message(academy):
    admin, session = academy.users["admin"], {"id": 9000, "lecture_id": academy.algebra.id, "order": 0}
    with pytest.raises(Invalid) as refused:
        setup.apply_snapshot({"sessions": [session]}, admin)
    assert problems(refused.value) == [("order", "Must be between 1 and 9999.")]
    # The same item twice: no setup page sends it, so the problem has no code of its own.
    with pytest.raises(Invalid) as refused:
        setup.apply_snapshot({"sessions": [{**session, "order": 50}, {**session, "order": 51}]}, admin)
    assert (refused.value.reason, refused.value.field) == ("import_problem", None)
    assert "appears twice" in describe(refused.value)
    assert count(LectureSession) == 5


def test_editing_to_a_taken_order_is_refused_at_the_order_field(academy):
    week1 = academy.weeks[0]
    with pytest.raises(Invalid) as refused:
        setup.update_session(academy.users["admin"], week1.id, 2, "Week 1", week1.date)
    assert problems(refused.value) == [("order", "Another session of this lecture already has this order.")]
    db.session.expire_all()
    assert db.session.get(LectureSession, week1.id).order == 1


def test_swapping_two_orders_recomputes_the_lecture(academy):
    """Week 2 and Week 3 swap orders (2 <-> 3). Minji's last due session (highest order) becomes
    Week 2, which now has order 3; both stay in exam range (from order 2), so nothing else changes."""
    week2, week3 = academy.weeks[1], academy.weeks[2]
    assert lecture_progress(academy.minji).last_session_id == week3.id
    setup.move_session(academy.users["teacher_a"], week2.id, +1)
    assert [s.id for s in setup.sessions_of(academy.algebra.id)] == [
        academy.weeks[0].id, week3.id, week2.id, academy.upcoming.id]
    assert (week2.order, week3.order) == (3, 2)
    assert lecture_progress(academy.minji).last_session_id == week2.id
    assert lecture_progress(academy.minji).completed_sessions == 3
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "session.reorder")).scalar_one()
    assert entry.before == {str(week2.id): 2, str(week3.id): 3}
    assert entry.after == {str(week2.id): 3, str(week3.id): 2}
    # At the end there is no neighbour: nothing changes.
    setup.move_session(academy.users["teacher_a"], academy.upcoming.id, +1)
    assert academy.upcoming.order == 4


def test_redating_a_session_recomputes(academy):
    """Week 3 moved to 04-10 (not held): Minji's row for it goes, total stays 4, completed 2."""
    week3 = academy.weeks[2]
    setup.update_session(academy.users["admin"], week3.id, 3, "Week 3", date(2026, 4, 10))
    assert week3.id not in rows_of(academy.minji)
    progress = lecture_progress(academy.minji)
    assert (progress.total_sessions, progress.completed_sessions, progress.last_session_id) == (
        4, 2, academy.weeks[1].id)


def test_removing_a_session_recomputes_and_an_exam_needing_it_refuses(academy):
    admin = academy.users["admin"]
    setup.remove_session(admin, academy.upcoming.id)
    assert lecture_progress(academy.minji).total_sessions == 3
    # Week 2 carries the quiz that Minji and Jisoo sat: removing it would strand their attempts.
    with pytest.raises(Invalid) as refused:
        setup.remove_session(admin, academy.weeks[1].id)
    assert (refused.value.reason, refused.value.field) == ("session_needed_by_attempts", None)
    assert "exam" in describe(refused.value)
    assert db.session.get(LectureSession, academy.weeks[1].id) is not None
    assert "session.delete" in actions()


def test_generating_a_term(academy):
    """Geometry (one session, order 1 on 03-02): 3 sessions from Monday 03-16 on Mon/Wed, 03-18
    closed -> 03-16, 03-23, 03-25 as orders 2..4, all due by 04-01 (03-25 + 7 = 04-01).
    Minho did nothing: 4 failed in a row -> DANGER."""
    teacher = academy.users["teacher_b"]
    created = setup.generate_term(teacher, academy.geometry.id, date(2026, 3, 16), 3, {MON, WED},
                                  [date(2026, 3, 18)], "Week")
    assert [(s.order, s.title, s.date) for s in created] == [
        (2, "Week 2", date(2026, 3, 16)), (3, "Week 3", date(2026, 3, 23)), (4, "Week 4", date(2026, 3, 25))]
    progress = lecture_progress(academy.minho)
    assert (progress.total_sessions, progress.failed_sessions, progress.consecutive_failed_sessions,
            progress.risk_level) == (4, 4, 4, "DANGER")
    assert len(rows_of(academy.minho)) == 4
    # A session created later gets an id past the generated ones.
    later = setup.add_session(teacher, academy.geometry.id, None, None, None)
    assert later.id > max(s.id for s in created)


@pytest.mark.parametrize("count_, weekdays, field", [(0, {MON}, "count"), (201, {MON}, "count"), (3, set(), "weekdays")])
def test_term_generator_input_is_validated(academy, count_, weekdays, field):
    with pytest.raises(Invalid) as refused:
        setup.generate_term(academy.users["admin"], academy.geometry.id, date(2026, 3, 16), count_, weekdays)
    assert refused.value.field == field
    assert count(LectureSession) == 5


def test_staff_and_teachers_of_other_lectures_change_no_session(academy):
    with pytest.raises(Forbidden):
        setup.add_session(academy.users["staff"], academy.algebra.id, None, None, None)
    with pytest.raises(NotFound):
        setup.remove_session(academy.users["teacher_b"], academy.weeks[0].id)
    assert count(LectureSession) == 5


# ---------------------------------------------------------------- students and enrollments

def test_withdrawal_keeps_history_and_reenrolling_restores_the_same_enrollment(academy):
    teacher = academy.users["teacher_a"]
    jisoo = academy.jisoo
    history = rows_of(jisoo)
    assert len(history) == 3
    setup.withdraw(teacher, jisoo.id)
    assert jisoo.withdrawn_at is not None
    assert rows_of(jisoo) == history and lecture_progress(jisoo).risk_level == "DANGER"
    assert jisoo.id not in {row.id for row in setup.enrollments_of(academy.algebra.id)}
    assert jisoo.id in {row.id for row in setup.enrollments_of(academy.algebra.id, include_withdrawn=True)}
    # Frozen: a session added while she is away gets no row of hers.
    review = setup.add_session(teacher, academy.algebra.id, 5, "Review", date(2026, 3, 23))
    assert review.id not in rows_of(jisoo)
    # Re-enrolling: the same enrollment, recomputed with the new session (4 due, none completed).
    again = setup.enroll(teacher, academy.algebra.id, jisoo.student_id)
    assert again.id == jisoo.id and again.withdrawn_at is None
    assert set(rows_of(jisoo)) == set(history) | {review.id}
    assert lecture_progress(jisoo).failed_sessions == 4
    assert count(Enrollment) == 5
    assert [a for a in actions() if a.startswith("enrollment.")] == ["enrollment.withdraw", "enrollment.reenroll"]


def test_enrolling_an_active_student_again_is_refused(academy):
    with pytest.raises(Invalid) as refused:
        setup.enroll(academy.users["admin"], academy.algebra.id, academy.minji.student_id)
    assert problems(refused.value) == [("student", "This student is already enrolled in this lecture.")]


def test_enrolling_mid_term_counts_sessions_from_the_start_date(academy):
    """Minho joins Algebra on 03-10: Weeks 1 (03-02) and 2 (03-09) are before it and do not count;
    Week 3 (03-16) is his only held session, failed."""
    enrollment = setup.enroll(academy.users["admin"], academy.algebra.id, academy.minho.student_id, date(2026, 3, 10))
    assert enrollment.start_date == date(2026, 3, 10)
    assert set(rows_of(enrollment)) == {academy.weeks[2].id}
    progress = lecture_progress(enrollment)
    assert (progress.failed_sessions, progress.risk_level) == (1, "NORMAL")


def test_a_teacher_creates_a_student_into_their_lecture(academy):
    """A new student in Algebra: three due sessions, none completed -> DANGER at once."""
    student = setup.create_student(academy.users["teacher_a"], "Han Seoyeon", "010-1234-5678", None,
                                   lecture_id=academy.algebra.id)
    enrollment = db.session.execute(select(Enrollment).where(Enrollment.student_id == student.id)).scalar_one()
    assert (student.contact, student.guardian_contact) == ("010-1234-5678", None)
    assert lecture_progress(enrollment).risk_level == "DANGER" and len(rows_of(enrollment)) == 3
    with pytest.raises(Forbidden):
        setup.create_student(academy.users["teacher_a"], "Alone")


def test_student_fields_are_validated_and_nothing_is_written(academy):
    with pytest.raises(Invalid) as refused:
        setup.create_student(academy.users["admin"], " ", "x" * 101, None)
    assert problems(refused.value) == [("name", "A value is required."), ("contact", "At most 100 characters.")]
    assert count(Student) == 5


def test_editing_a_student(academy):
    student_id = academy.minji.student_id
    setup.update_student(academy.users["teacher_a"], student_id, "Kim Min-ji", None, "010-9999-0000")
    student = db.session.get(Student, student_id)
    assert (student.name, student.guardian_contact) == ("Kim Min-ji", "010-9999-0000")
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "student.update")).scalar_one()
    assert entry.before["name"] == "Kim Minji" and entry.after["name"] == "Kim Min-ji"
    with pytest.raises(Forbidden):
        setup.update_student(academy.users["staff"], student_id, "x", None, None)


def test_candidate_search_leaves_out_active_students_and_offers_withdrawn_ones(academy):
    candidates = setup.enrollment_candidates(academy.algebra.id, "kim")
    assert [(s.name, e) for s, e in candidates] == [("Kim Minho", None)]
    choi = setup.enrollment_candidates(academy.algebra.id, "CHOI")
    assert [(s.name, e.id) for s, e in choi] == [("Choi Yuna", academy.choi.id)]
    assert setup.enrollment_candidates(academy.algebra.id, "%") == []  # taken literally
    assert [s.name for s, _ in setup.enrollment_candidates(academy.algebra.id, "_100%")] == []  # Park is active

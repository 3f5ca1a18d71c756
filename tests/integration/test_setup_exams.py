"""The exam and homework setup service (dashboard/academy/exams.py) on both databases: permissions,
validation that writes nothing, the recompute after each change (worked by hand) and the audit.

Academy: tests/web/factories.build_academy, today 2026-04-01, default policy (exams and homework
count from order 2, pass source EXAM, homework by teacher approval). Algebra II: Week 1..3 due,
Week 4 upcoming; the quiz on Week 2 (pass 60) with Minji 72.5 and Jisoo 40; Minji has video 95
everywhere, so she completed Weeks 1-3; Jisoo has video 0 (nothing completed)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.academy import exams as setup_exams
from dashboard.errors import Forbidden, Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import Attempt, AuditLog, Exam, ExamSession, Homework, SessionProgress

from tests.factories import build_academy, make_exam


@pytest.fixture
def academy(app):
    return build_academy()


def row(enrollment, session) -> SessionProgress:
    return db.session.execute(
        select(SessionProgress).where(SessionProgress.enrollment_id == enrollment.id,
                                      SessionProgress.session_id == session.id)
        .execution_options(populate_existing=True)).scalar_one()


def actions() -> list[str]:
    return list(db.session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


def fields(refused: Invalid) -> list[str | None]:
    """The form fields a refusal names, one a problem."""
    return [problem.field for problem in (refused, *refused.also)]


def count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_a_new_exam_on_week_3_makes_minji_fail_it_until_she_has_a_result(academy):
    admin, week3 = academy.users["admin"], academy.weeks[2]
    assert row(academy.minji, week3).completed
    exam = setup_exams.create_exam(admin, academy.algebra.id, " Unit test ", [week3.id], "80", "100")
    assert (exam.title, exam.pass_score, exam.max_score) == ("Unit test", Decimal(80), Decimal(100))
    assert setup_exams.linked_session_ids(exam.id) == {week3.id}
    minji = row(academy.minji, week3)
    assert (minji.exam_passed, minji.completed, minji.exam_meta["note"]) == (False, False, "no_results")
    assert actions()[-1] == "exam.create"
    listed = {e.id: e for e in setup_exams.exams_of(academy.algebra.id)}
    assert listed[exam.id].session_orders == [3] and listed[academy.quiz.id].attempts == 2


def test_raising_the_pass_score_above_minjis_725_fails_her_week_2(academy):
    admin, week2 = academy.users["admin"], academy.weeks[1]
    setup_exams.update_exam(admin, academy.algebra.id, academy.quiz.id, "Quiz", [week2.id], "75", "100")
    minji = row(academy.minji, week2)
    assert (minji.exam_aggregate_score, minji.exam_passed, minji.completed) == (Decimal("72.5"), False, False)
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "exam.update")).scalar_one()
    assert entry.before["pass_score"] in ("60", "60.00", 60) and entry.after["pass_score"] in ("75", "75.00", 75)


def test_moving_the_quiz_to_week_3_recomputes_both_sessions(academy):
    admin, week2, week3 = academy.users["admin"], academy.weeks[1], academy.weeks[2]
    setup_exams.update_exam(admin, academy.algebra.id, academy.quiz.id, "Quiz", [week3.id], "60", "100")
    # Week 2 has no exam now (passed), Week 3 has the quiz: Minji 72.5 >= 60, Jisoo 40 < 60.
    assert row(academy.jisoo, week2).exam_meta["note"] == "no_exams_in_session"
    assert row(academy.jisoo, week2).exam_passed
    assert row(academy.minji, week3).exam_aggregate_score == Decimal("72.5") and row(academy.minji, week3).completed
    assert not row(academy.jisoo, week3).exam_passed


def test_a_max_score_below_stored_scores_or_a_pass_above_the_max_is_refused_and_nothing_changes(academy):
    admin = academy.users["admin"]
    with pytest.raises(Invalid) as refused:
        setup_exams.update_exam(admin, academy.algebra.id, academy.quiz.id, "Quiz", [academy.weeks[1].id], "30", "50")
    assert fields(refused.value) == ["max_score"]
    with pytest.raises(Invalid) as refused:
        setup_exams.create_exam(admin, academy.algebra.id, "", [], "120", "100")
    assert set(fields(refused.value)) == {"title", "session_ids", "pass_score"}
    with pytest.raises(Invalid) as refused:
        setup_exams.create_exam(admin, academy.algebra.id, "Other lecture", [academy.geometry_week.id], "", "100")
    assert fields(refused.value) == ["session_ids"]
    db.session.expire_all()
    assert academy.quiz.max_score == Decimal(100) and count(Exam) == 1
    assert not [a for a in actions() if a.startswith("exam.")]


def test_removing_the_quiz_deletes_its_attempts_and_recomputes(academy):
    admin, week2 = academy.users["admin"], academy.weeks[1]
    assert setup_exams.exam_impact(academy.quiz.id) == setup_exams.ExamImpact(attempts=2, lectures=1)
    setup_exams.remove_exam(admin, academy.algebra.id, academy.quiz.id)
    assert count(Exam) == 0 and count(Attempt) == 0
    assert row(academy.jisoo, week2).exam_passed and row(academy.minji, week2).completed
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "exam.delete")).scalar_one()
    assert entry.before["attempts"] == 2 and entry.after is None


def test_an_exam_linked_to_two_lectures_keeps_the_other_link_and_only_admins_change_it(academy):
    admin, teacher = academy.users["admin"], academy.users["teacher_a"]
    shared = make_exam([academy.weeks[2], academy.geometry_week], pass_score=50)
    with pytest.raises(Forbidden):
        setup_exams.update_exam(teacher, academy.algebra.id, shared.id, "Shared", [academy.weeks[2].id], "50", "100")
    assert not setup_exams.may_edit_exam(teacher, shared.id) and setup_exams.may_edit_exam(teacher, academy.quiz.id)
    setup_exams.update_exam(admin, academy.algebra.id, shared.id, "Shared", [academy.weeks[0].id], "50", "100")
    assert setup_exams.linked_session_ids(shared.id) == {academy.weeks[0].id, academy.geometry_week.id}


def test_teachers_and_staff(academy):
    teacher_b, staff, teacher_a = academy.users["teacher_b"], academy.users["staff"], academy.users["teacher_a"]
    with pytest.raises(NotFound):
        setup_exams.create_exam(teacher_b, academy.algebra.id, "X", [academy.weeks[0].id], "", "100")
    with pytest.raises(NotFound):
        setup_exams.readable_exam(teacher_b, academy.algebra.id, academy.quiz.id)
    with pytest.raises(Forbidden):
        setup_exams.create_homework(staff, academy.algebra.id, academy.weeks[0].id, "X", "100")
    homework = setup_exams.create_homework(teacher_a, academy.algebra.id, academy.weeks[0].id, "Sheet", "20")
    assert homework.max_score == Decimal(20)


def test_homework_on_week_2_awaits_approval_and_its_removal_restores_completion(academy):
    admin, week2 = academy.users["admin"], academy.weeks[1]
    homework = setup_exams.create_homework(admin, academy.algebra.id, week2.id, "Worksheet", "100")
    minji = row(academy.minji, week2)
    assert (minji.homework_passed, minji.completed) == (False, False)
    setup_exams.update_homework(admin, homework.id, week2.id, "Worksheet 2", "50")
    assert db.session.get(Homework, homework.id).title == "Worksheet 2"
    assert setup_exams.homework_impact(homework.id) == 0
    setup_exams.remove_homework(admin, homework.id)
    assert count(Homework) == 0 and row(academy.minji, week2).completed
    assert actions()[-3:] == ["homework.create", "homework.update", "homework.delete"]


def test_homework_validation_writes_nothing(academy):
    admin = academy.users["admin"]
    with pytest.raises(Invalid) as refused:
        setup_exams.create_homework(admin, academy.algebra.id, academy.geometry_week.id, "x" * 201, "0")
    assert set(fields(refused.value)) == {"session_id", "title", "max_score"}
    with pytest.raises(Invalid) as refused:
        setup_exams.create_homework(admin, academy.algebra.id, academy.weeks[0].id, None, "12.345")
    assert fields(refused.value) == ["max_score"]
    assert count(Homework) == 0 and count(ExamSession) == 1

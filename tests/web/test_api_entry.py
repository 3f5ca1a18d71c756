"""`PUT /api/lectures/L/sessions/S/entry` (SPEC §12) through the test client, on both databases.

Academy: tests/factories.build_academy — today 2026-04-01, grace 7 days, video required 90,
exams count from order 2. Algebra Week 1..3 (03-02, 03-09, 03-16) are all due; the Quiz (pass 60)
is on Week 2. Minji: video 95 everywhere, quiz 72.5 -> every week completed. Jisoo: no
activity, quiz 40 -> nothing completed. Park: nothing at all. Choi: withdrawn.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Activity, Attempt, AuditLog, HomeworkSubmission, SessionProgress

from tests.factories import (
    ALL_RIGHT,
    add_answer_key,
    bearer,
    build_academy,
    make_homework,
    make_token,
    make_user,
    read_scan,
)


@pytest.fixture
def academy(app):
    academy = build_academy()
    academy.users["assistant"] = make_user("assistant", "staff", (academy.algebra,))
    academy.tokens["assistant"] = make_token(academy.users["assistant"])
    db.session.commit()
    return academy


def put(client, academy, body, who="admin", session=None, lecture=None):
    lecture_id = (lecture or academy.algebra).id
    session_id = (session or academy.weeks[0]).id
    return client.put(f"/api/lectures/{lecture_id}/sessions/{session_id}/entry", json=body,
                      headers=bearer(academy.tokens[who]))


def activity(enrollment, session):
    row = db.session.execute(
        select(Activity.attendance, Activity.video_rate, Activity.presence)
        .where(Activity.enrollment_id == enrollment.id, Activity.session_id == session.id)
    ).one_or_none()
    return None if row is None else tuple(row)


def attempts(enrollment, exam):
    return [tuple(row) for row in db.session.execute(
        select(Attempt.attempt_no, Attempt.score, Attempt.source)
        .where(Attempt.enrollment_id == enrollment.id, Attempt.exam_id == exam.id).order_by(Attempt.attempt_no)
    )]


def completed(enrollment, session) -> bool:
    return db.session.execute(
        select(SessionProgress.completed).where(SessionProgress.enrollment_id == enrollment.id,
                                                SessionProgress.session_id == session.id)
        .execution_options(populate_existing=True)
    ).scalar_one()


# ---------------------------------------------------------------- saving

def test_the_roll_call_of_week_1_completes_two_students(client, academy):
    """Park present (offline) and Jisoo absent but 95% watched both complete Week 1 (no exam in range,
    no homework); Minji late was completed already: no change for her."""
    response = put(client, academy, {"rows": [
        {"enrollment_id": academy.minji.id, "presence": "late"},
        {"enrollment_id": academy.park.id, "presence": "present"},
        {"enrollment_id": academy.jisoo.id, "presence": "absent", "video_rate": 95},
    ]})
    assert response.status_code == 200, response.get_json()
    week1 = academy.weeks[0].id
    assert response.get_json() == {"saved": 3, "changed": [
        {"enrollment_id": academy.jisoo.id, "session": week1, "before": "incomplete", "after": "completed"},
        {"enrollment_id": academy.park.id, "session": week1, "before": "incomplete", "after": "completed"},
    ]}
    assert activity(academy.minji, academy.weeks[0]) == ("offline", 95, "late")
    assert activity(academy.park, academy.weeks[0]) == ("offline", 0, "present")
    assert activity(academy.jisoo, academy.weeks[0]) == ("online", 95, "absent")
    assert db.session.execute(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "column_entry.save")).scalar_one() == 1


def test_a_typed_score_replaces_the_result_and_makes_it_hand_entered(client, academy):
    """Jisoo's quiz 40 -> 65 (attempt 1 still, passed now); with video 100 Week 2 completes. Park has
    no attempt: 70 creates attempt 1 (video 0: still incomplete, so no change is listed)."""
    quiz = academy.quiz.id
    response = put(client, academy, {"rows": [
        {"enrollment_id": academy.jisoo.id, "video_rate": 100, "scores": {str(quiz): 65}},
        {"enrollment_id": academy.park.id, "scores": {str(quiz): 70.5}},
    ]}, session=academy.weeks[1])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["changed"] == [
        {"enrollment_id": academy.jisoo.id, "session": academy.weeks[1].id, "before": "incomplete",
         "after": "completed"}]
    assert attempts(academy.jisoo, academy.quiz) == [(1, Decimal(65), "manual")]
    assert attempts(academy.park, academy.quiz) == [(1, Decimal("70.5"), "manual")]
    assert completed(academy.park, academy.weeks[1]) is False


def test_a_retake_adds_the_next_attempt_submitted_now(client, academy):
    before = datetime.now(timezone.utc)
    response = put(client, academy, {"retake": True, "rows": [
        {"enrollment_id": academy.jisoo.id, "scores": {str(academy.quiz.id): 80}}]}, session=academy.weeks[1])
    assert response.status_code == 200
    assert attempts(academy.jisoo, academy.quiz) == [(1, Decimal(40), "manual"), (2, Decimal(80), "manual")]
    submitted = db.session.execute(select(Attempt.submitted_at).where(Attempt.attempt_no == 2)).scalar_one()
    assert submitted >= before.replace(microsecond=0)


def test_a_score_equal_to_the_result_changes_nothing(client, academy):
    response = put(client, academy, {"rows": [{"enrollment_id": academy.minji.id,
                                                "scores": {str(academy.quiz.id): 72.5}}]}, session=academy.weeks[1])
    assert response.get_json() == {"saved": 1, "changed": []}
    assert attempts(academy.minji, academy.quiz) == [(1, Decimal("72.5"), "manual")]


def test_homework_submission_score_and_approval(client, academy):
    """A homework on Week 3 (default policy: TEACHER_APPROVAL) — Minji loses Week 3 until approved."""
    homework = make_homework(academy.weeks[2])
    from dashboard.progress.recompute import recompute_lecture

    recompute_lecture(academy.algebra.id)
    db.session.commit()
    assert completed(academy.minji, academy.weeks[2]) is False
    response = put(client, academy, {"rows": [{"enrollment_id": academy.minji.id, "homework": {
        str(homework.id): {"submitted": True, "score": 80, "approved": True}}}]}, session=academy.weeks[2])
    assert response.get_json()["changed"] == [
        {"enrollment_id": academy.minji.id, "session": academy.weeks[2].id, "before": "incomplete",
         "after": "completed"}]
    row = db.session.execute(select(HomeworkSubmission.submitted, HomeworkSubmission.score,
                                    HomeworkSubmission.approved)).one()
    assert tuple(row) == (True, Decimal(80), True)
    # A key left out keeps its value; a null score clears it.
    put(client, academy, {"rows": [{"enrollment_id": academy.minji.id, "homework": {
        str(homework.id): {"score": None}}}]}, session=academy.weeks[2])
    row = db.session.execute(select(HomeworkSubmission.submitted, HomeworkSubmission.score,
                                    HomeworkSubmission.approved)).one()
    assert tuple(row) == (True, None, True)


def test_presence_null_clears_the_roll_call_and_leaves_attendance(client, academy):
    put(client, academy, {"rows": [{"enrollment_id": academy.park.id, "presence": "late"}]})
    response = put(client, academy, {"rows": [{"enrollment_id": academy.park.id, "presence": None}]})
    assert response.get_json() == {"saved": 1, "changed": []}
    assert activity(academy.park, academy.weeks[0]) == ("offline", 0, None)


def test_an_answer_key_regrade_leaves_a_typed_score_alone(client, academy):
    """Park's scan is graded 100 (4 x 25); the assistant types 55; a key at 10 points each would
    regrade an OMR attempt to 40, but this one is hand-entered now."""
    add_answer_key(academy.quiz)
    read_scan(academy.quiz, academy.park, ALL_RIGHT)
    db.session.commit()
    assert attempts(academy.park, academy.quiz) == [(1, Decimal(100), "omr")]
    put(client, academy, {"rows": [{"enrollment_id": academy.park.id, "scores": {str(academy.quiz.id): 55}}]},
        session=academy.weeks[1])
    from dashboard.omr.answer_keys import save_answer_key

    save_answer_key(academy.users["admin"], academy.quiz.id,
                    [{"number": n, "answer": a, "points": 10} for n, a in {1: "1", 2: "2", 3: "3", 4: "24"}.items()])
    assert attempts(academy.park, academy.quiz) == [(1, Decimal(55), "manual")]


# ---------------------------------------------------------------- refusals

def test_one_bad_cell_refuses_everything_and_names_every_problem(client, academy):
    quiz = academy.quiz.id
    response = put(client, academy, {"rows": [
        {"enrollment_id": academy.park.id, "presence": "present", "video_rate": 100},
        {"enrollment_id": academy.jisoo.id, "scores": {str(quiz): 101}},
        {"enrollment_id": academy.minji.id, "presence": "here", "video_rate": 101},
    ]}, session=academy.weeks[1])
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "validation" and body["field"] == f"rows[1].scores.{quiz}"
    assert [error["field"] for error in body["errors"]] == [
        f"rows[1].scores.{quiz}", "rows[2].presence", "rows[2].video_rate"]
    assert activity(academy.park, academy.weeks[1]) is None
    assert attempts(academy.jisoo, academy.quiz) == [(1, Decimal(40), "manual")]


@pytest.mark.parametrize("row, field", [
    ({"enrollment_id": "x"}, "rows[0].enrollment_id"),
    ({"presence": "late"}, "rows[0].enrollment_id"),
    ({"enrollment_id": 1, "video_rate": 1.5}, "rows[0].video_rate"),
    ({"enrollment_id": 1, "video_rate": True}, "rows[0].video_rate"),
    ({"enrollment_id": 1, "scores": {"999": 50}}, "rows[0].scores.999"),
    ({"enrollment_id": 1, "scores": {"QUIZ": 50.505}}, "rows[0].scores.QUIZ"),
    ({"enrollment_id": 1, "homework": {"999": {"submitted": True}}}, "rows[0].homework.999"),
    ({"enrollment_id": 1, "attendance": "online"}, "rows[0].attendance"),
])
def test_bad_rows_are_named(client, academy, row, field):
    if row.get("enrollment_id") == 1:
        row = dict(row, enrollment_id=academy.minji.id)
    if "scores" in row and "QUIZ" in row["scores"]:
        row = dict(row, scores={str(academy.quiz.id): row["scores"]["QUIZ"]})
        field = f"rows[0].scores.{academy.quiz.id}"
    response = put(client, academy, {"rows": [row]}, session=academy.weeks[1])
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_a_homework_score_above_its_max_is_named(client, academy):
    homework = make_homework(academy.weeks[0], max_score=20)
    db.session.commit()
    response = put(client, academy, {"rows": [{"enrollment_id": academy.minji.id,
                                                "homework": {str(homework.id): {"score": 21}}}]})
    assert response.status_code == 400
    assert response.get_json()["field"] == f"rows[0].homework.{homework.id}.score"


def test_enrollments_of_another_lecture_or_withdrawn_or_twice_are_refused(client, academy):
    for rows, field in [
        ([{"enrollment_id": academy.minho.id}], "rows[0].enrollment_id"),
        ([{"enrollment_id": academy.choi.id, "presence": "present"}], "rows[0].enrollment_id"),
        ([{"enrollment_id": academy.park.id}, {"enrollment_id": academy.park.id}], "rows[1].enrollment_id"),
    ]:
        response = put(client, academy, {"rows": rows})
        assert (response.status_code, response.get_json()["field"]) == (400, field)


@pytest.mark.parametrize("body, field", [
    ({}, "rows"), ({"rows": {}}, "rows"), ({"rows": [], "retake": "yes"}, "retake"),
    ({"rows": [], "extra": 1}, "extra"), ([], None),
])
def test_bad_bodies(client, academy, body, field):
    response = put(client, academy, body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field


# ---------------------------------------------------------------- who may

@pytest.mark.parametrize("who, status", [
    ("admin", 200), ("teacher_a", 200), ("assistant", 200),
    ("staff", 403),  # unassigned staff read every lecture but enter nothing
    ("teacher_b", 404),  # Algebra is not theirs: they cannot see it
])
def test_roles(client, academy, who, status):
    response = put(client, academy, {"rows": [{"enrollment_id": academy.park.id, "presence": "present"}]}, who=who)
    assert response.status_code == status
    assert (activity(academy.park, academy.weeks[0]) is not None) == (status == 200)


@pytest.mark.parametrize("who", ["admin", "staff", "teacher_b", "assistant"])
def test_a_session_of_another_lecture_is_404_before_any_role_check(client, academy, who):
    response = put(client, academy, {"rows": "not even checked"}, who=who, session=academy.geometry_week)
    assert response.status_code == 404
    response = client.put(f"/api/lectures/{academy.algebra.id}/sessions/99999999999/entry", json={"rows": []},
                          headers=bearer(academy.tokens[who]))
    assert response.status_code == 404


def test_the_role_check_comes_before_the_body(client, academy):
    assert put(client, academy, {"rows": "bad"}, who="staff").status_code == 403


def test_only_put(client, academy):
    response = client.get(f"/api/lectures/{academy.algebra.id}/sessions/{academy.weeks[0].id}/entry",
                          headers=bearer(academy.tokens["admin"]))
    assert response.status_code == 405

"""Snapshot import (SPEC §9) on SQLite and PostgreSQL: validation, upserts, deletes, recompute, CLI.

The base academy (today is 2026-04-01, grace 7 days):
lecture 1 has sessions 11 (order 1, 03-02), 12 (order 2, 03-09), 13 (order 3, 04-20, upcoming)
and enrollments 1000 and 1001; lecture 2 has session 21 (03-03) and enrollment 2000.
Held cells: lecture 1 -> 2 sessions x 2 enrollments = 4, lecture 2 -> 1, so 5 in all.
"""
from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.importer import KINDS, ImportRejected, import_snapshot, preview_snapshot
from dashboard.models import (
    Activity,
    AnswerFact,
    Attempt,
    AuditLog,
    Enrollment,
    Exam,
    ExamQuestion,
    ExamSession,
    Homework,
    HomeworkSubmission,
    Lecture,
    LectureSession,
    ProgressPolicy,
    RiskLog,
    SessionProgress,
    Student,
)

D = Decimal

BASE = {
    "lectures": [
        {"id": 1, "title": "Algebra II", "policy": {"exam_aggregate_strategy": "AVG"}},
        {"id": 2, "title": "English Reading"},
    ],
    "sessions": [
        {"id": 11, "lecture_id": 1, "order": 1, "title": "Week 1", "date": "2026-03-02"},
        {"id": 12, "lecture_id": 1, "order": 2, "title": "Week 2", "date": "2026-03-09"},
        {"id": 13, "lecture_id": 1, "order": 3, "title": "Week 3", "date": "2026-04-20"},
        {"id": 21, "lecture_id": 2, "order": 1, "title": "Unit 1", "date": "2026-03-03"},
    ],
    "students": [{"id": 100, "name": "Kim Minji"}, {"id": 101, "name": "Lee Jiho"}],
    "enrollments": [
        {"id": 1000, "student_id": 100, "lecture_id": 1, "start_date": None},
        {"id": 1001, "student_id": 101, "lecture_id": 1},
        {"id": 2000, "student_id": 100, "lecture_id": 2},
    ],
    "exams": [{"id": 500, "title": "Quiz 1", "session_ids": [12], "pass_score": 60, "max_score": 100,
               "questions": [{"number": 1, "answer": "3", "points": 5}, {"number": 2, "answer": "24", "points": 5}]}],
    "attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1, "score": 72.5,
                  "submitted_at": "2026-03-09T10:00:00+09:00",
                  "answers": [{"question": 1, "is_correct": False, "invalid_reason": "LOW_CONFIDENCE"},
                              {"question": 2, "is_correct": True}]}],
    "homeworks": [{"id": 700, "session_id": 12, "title": "Worksheet 2", "max_score": 100}],
    "homework_submissions": [{"enrollment_id": 1000, "homework_id": 700, "submitted": True, "score": 85,
                              "approved": False}],
    "activities": [{"enrollment_id": 1000, "session_id": 12, "attendance": "offline", "video_rate": 40}],
}


def base() -> dict:
    return copy.deepcopy(BASE)


def zeros(**counts: int) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in KINDS}


def count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def writes(counter) -> list[str]:
    return [s for s in counter.statements if s.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]


def fields_of(excinfo) -> list[str | None]:
    return [problem.field for problem in excinfo.value.errors]


# ---------------------------------------------------------------- creating and re-importing


def test_import_creates_every_kind_and_recomputes_held_cells(app):
    result = import_snapshot(base())

    assert result.created == zeros(lectures=2, sessions=4, students=2, enrollments=3, exams=1, attempts=1,
                                   homeworks=1, homework_submissions=1, activities=1)
    assert result.updated == zeros() and result.deleted == zeros()
    assert result.recomputed == 5
    assert count(SessionProgress) == 5
    # Ids given became primary keys.
    assert db.session.get(Enrollment, 1001).student_id == 101
    # A new lecture gets the default policy, then the snapshot's change.
    policy = db.session.execute(select(ProgressPolicy).where(ProgressPolicy.lecture_id == 1)).scalar_one()
    assert (policy.exam_aggregate_strategy, policy.video_required_rate, policy.exam_pass_score) == ("AVG", 90, D(60))
    assert db.session.execute(select(ProgressPolicy.exam_aggregate_strategy)
                              .where(ProgressPolicy.lecture_id == 2)).scalar_one() == "MAX"
    attempt = db.session.execute(select(Attempt)).scalar_one()
    assert (attempt.score, attempt.source) == (D("72.50"), "import")
    assert attempt.submitted_at == datetime(2026, 3, 9, 1, 0, tzinfo=timezone.utc)
    answers = db.session.execute(select(AnswerFact.question, AnswerFact.is_correct, AnswerFact.invalid_reason)
                                 .order_by(AnswerFact.question)).all()
    assert [tuple(a) for a in answers] == [(1, False, "LOW_CONFIDENCE"), (2, True, None)]
    questions = db.session.execute(select(ExamQuestion.number, ExamQuestion.answer, ExamQuestion.points)
                                   .order_by(ExamQuestion.number)).all()
    assert [tuple(q) for q in questions] == [(1, "3", D(5)), (2, "24", D(5))]
    assert db.session.execute(select(ExamSession.session_id)).scalars().all() == [12]
    activity = db.session.execute(select(Activity)).scalar_one()
    assert (activity.attendance, activity.video_rate) == ("offline", 40)
    assert count(AuditLog, AuditLog.action == "import_snapshot") == 1


def test_reimport_changes_nothing_and_writes_nothing(app, count_queries):
    import_snapshot(base())
    db.session.commit()

    with count_queries() as counter:
        result = import_snapshot(base())

    assert result.as_dict() == {"created": zeros(), "updated": zeros(), "deleted": zeros(), "recomputed": 0}
    assert writes(counter) == []
    assert count(AuditLog, AuditLog.action == "import_snapshot") == 1


def test_time_without_offset_is_read_in_the_academy_timezone(app):
    snapshot = base()
    snapshot["attempts"][0]["submitted_at"] = "2026-03-09T10:00:00"
    import_snapshot(snapshot)
    assert db.session.execute(select(Attempt.submitted_at)).scalar_one() == datetime(2026, 3, 9, 1, 0,
                                                                                     tzinfo=timezone.utc)


def test_preview_plans_without_writing(app, count_queries):
    with count_queries() as counter:
        plan = preview_snapshot(base())
    assert writes(counter) == []
    assert plan.counts().created["sessions"] == 4
    attempt = plan.changes["attempts"][0]
    assert (attempt.action, attempt.key, attempt.after["score"]) == ("create", (1000, 500, 1), D("72.50"))

    import_snapshot(base())
    change = {"sessions": [{"id": 11, "title": "Week one"}, {"id": 12, "title": "Week 2"}]}
    plan = preview_snapshot(change)
    # Only the item whose value really changes is an update.
    assert [(c.key, c.before, c.after) for c in plan.changes["sessions"]] == [
        ((11,), {"title": "Week 1"}, {"title": "Week one"})]


def test_progress_is_reported(app):
    calls = []
    import_snapshot(base(), progress=lambda step, done, total: calls.append((step, done, total)))
    assert calls[0] == ("validate", 0, 16)  # 2+4+2+3+1+1+1+1+1 items
    steps = {step for step, _, _ in calls}
    assert steps == {"validate", "apply", "recompute"}
    assert ("recompute", 2, 2) in calls


# ---------------------------------------------------------------- upsert semantics


def test_omitted_keeps_null_clears_list_replaces(app):
    import_snapshot(base())
    result = import_snapshot({
        "sessions": [{"id": 11, "date": None}],
        "exams": [{"id": 500, "session_ids": [11, 12], "questions": [{"number": 1, "answer": "2", "points": 10}]}],
        "attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1, "submitted_at": None,
                      "answers": [{"question": 3, "is_correct": False}]}],
    })

    assert result.updated == zeros(sessions=1, exams=1, attempts=1)
    assert result.created == zeros() and result.deleted == zeros()
    session = db.session.get(LectureSession, 11)
    assert (session.title, session.date, session.order) == ("Week 1", None, 1)
    exam = db.session.get(Exam, 500)
    assert (exam.title, exam.pass_score, exam.max_score) == ("Quiz 1", D(60), D(100))
    assert sorted(db.session.execute(select(ExamSession.session_id)).scalars()) == [11, 12]
    assert [tuple(q) for q in db.session.execute(
        select(ExamQuestion.number, ExamQuestion.answer, ExamQuestion.points))] == [(1, "2", D(10))]
    attempt = db.session.execute(select(Attempt)).scalar_one()
    assert (attempt.score, attempt.submitted_at) == (D("72.5"), None)
    assert [tuple(a) for a in db.session.execute(
        select(AnswerFact.question, AnswerFact.is_correct, AnswerFact.invalid_reason))] == [(3, False, None)]


def test_lists_given_in_another_order_are_no_change(app):
    import_snapshot(base())
    snapshot = base()
    snapshot["exams"][0]["questions"].reverse()
    snapshot["attempts"][0]["answers"].reverse()
    snapshot["attempts"][0]["score"] = 72.50
    assert import_snapshot(snapshot).as_dict()["updated"] == zeros()


# ---------------------------------------------------------------- recompute exactly what changed


@pytest.mark.parametrize("change, updated, recomputed", [
    # One attempt: enrollment 1000 x the exam's session 12.
    ({"attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1, "score": 50}]}, "attempts", 1),
    ({"activities": [{"enrollment_id": 1000, "session_id": 12, "video_rate": 95}]}, "activities", 1),
    ({"homework_submissions": [{"enrollment_id": 1000, "homework_id": 700, "approved": True}]},
     "homework_submissions", 1),
    # Homework max score: every enrollment of lecture 1 x session 12 = 2.
    ({"homeworks": [{"id": 700, "max_score": 90}]}, "homeworks", 2),
    # A title alone changes no derived row.
    ({"sessions": [{"id": 11, "title": "Intro"}]}, "sessions", 0),
    ({"students": [{"id": 100, "name": "Kim Min-ji"}]}, "students", 0),
    # Structure: the whole lecture 1 (4 held cells).
    ({"sessions": [{"id": 13, "date": "2026-03-30"}]}, "sessions", 6),
    ({"lectures": [{"id": 1, "policy": {"video_required_rate": 50}}]}, "lectures", 4),
    ({"enrollments": [{"id": 1001, "start_date": "2026-03-05"}]}, "enrollments", 3),
    ({"exams": [{"id": 500, "pass_score": 80}]}, "exams", 4),
])
def test_recompute_covers_exactly_the_changed_cells(app, change, updated, recomputed):
    import_snapshot(base())
    result = import_snapshot(change)
    assert result.updated == zeros(**{updated: 1})
    assert result.recomputed == recomputed


def test_changes_in_one_lecture_recompute_their_cells(app):
    import_snapshot(base())
    result = import_snapshot({
        "attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 2, "score": 90}],
        "activities": [{"enrollment_id": 1001, "session_id": 12, "video_rate": 100},
                       {"enrollment_id": 2000, "session_id": 21, "video_rate": 100}],
    })
    # Lecture 1: {1000, 1001} x {12} = 2; lecture 2: 2000 x 21 = 1.
    assert result.created == zeros(attempts=1, activities=2)
    assert result.recomputed == 3


def test_scattered_cells_are_recomputed_exactly_not_as_a_block(app):
    import_snapshot(base())
    db.session.commit()
    before = {(e, s): at for e, s, at in db.session.execute(select(
        SessionProgress.enrollment_id, SessionProgress.session_id, SessionProgress.calculated_at))}
    result = import_snapshot({
        "activities": [{"enrollment_id": 1000, "session_id": 11, "video_rate": 95},
                       {"enrollment_id": 1001, "session_id": 12, "video_rate": 95}],
        # A homework's max score: every enrollment's cell of session 12.
        "homeworks": [{"id": 700, "max_score": 90}],
    })
    # Session 12 for 1000 and 1001 (the homework), and (1000, 11): 3 of the 4 held cells of
    # lecture 1; the block {1000, 1001} x {11, 12} would have been 4. (1001, 11) is untouched.
    assert result.recomputed == 3
    after = {(e, s): at for e, s, at in db.session.execute(select(
        SessionProgress.enrollment_id, SessionProgress.session_id, SessionProgress.calculated_at))}
    assert {cell for cell in after if after[cell] != before[cell]} == {(1000, 11), (1000, 12), (1001, 12)}


def assert_flat_query_count(count_queries, academy) -> None:
    """Importing `academy(first_id, 3)` and then `academy(other_id, 60)` takes as many statements."""
    with count_queries() as small:
        import_snapshot(academy(10_000, 3))
    db.session.rollback()
    with count_queries() as large:
        import_snapshot(academy(20_000, 60))
    assert large.count == small.count


def test_query_count_does_not_grow_with_the_items(app, count_queries):
    def academy(first_student: int, students: int) -> dict:
        snapshot = base()
        for n in range(students):
            sid = first_student + n
            snapshot["students"].append({"id": sid, "name": f"Student {sid}"})
            snapshot["enrollments"].append({"id": sid, "student_id": sid, "lecture_id": 1})
            snapshot["activities"].append({"enrollment_id": sid, "session_id": 11, "video_rate": n % 101})
            snapshot["attempts"].append({"enrollment_id": sid, "exam_id": 500, "attempt_no": 1, "score": n % 100,
                                         "answers": [{"question": 1, "is_correct": n % 2 == 0}]})
        return snapshot

    assert_flat_query_count(count_queries, academy)


def test_query_count_does_not_grow_with_items_that_leave_fields_null(app, count_queries):
    """Rows where some fields are null and others not, alternating, are still inserted together."""
    def academy(first_id: int, students: int) -> dict:
        snapshot = base()
        for n in range(students):
            sid = first_id + n
            snapshot["students"].append({"id": sid, "name": f"Student {sid}", "contact": None if n % 2 else "010"})
            snapshot["enrollments"].append({"id": sid, "student_id": sid, "lecture_id": 1})
            snapshot["exams"].append({"id": sid, "title": f"Quiz {sid}", "session_ids": [12],
                                      "pass_score": None if n % 3 else 50})
            snapshot["attempts"].append({
                "enrollment_id": sid, "exam_id": 500, "attempt_no": 1, "score": n % 100,
                "submitted_at": None if n % 2 else "2026-03-09T10:00:00+09:00",
                "answers": [{"question": q, "is_correct": False, "invalid_reason": "BLANK" if (n + q) % 2 else None}
                            for q in (1, 2, 3)]})
        return snapshot

    assert_flat_query_count(count_queries, academy)
    reasons = db.session.execute(select(AnswerFact.invalid_reason, func.count())
                                 .group_by(AnswerFact.invalid_reason)).all()
    assert dict(reasons) == {"BLANK": 90, "LOW_CONFIDENCE": 1, None: 91}


# ---------------------------------------------------------------- validated once, against what is written


def spy_on_validation(monkeypatch) -> list[int]:
    """Count the validations of a snapshot (the real one runs)."""
    import dashboard.importer.snapshot

    calls: list[int] = []
    original = dashboard.importer.snapshot._validate

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(dashboard.importer.snapshot, "_validate", counting)
    return calls


def test_a_snapshot_is_validated_once_when_nothing_changes_meanwhile(app, monkeypatch):
    calls = spy_on_validation(monkeypatch)
    import_snapshot(base())
    db.session.commit()
    assert len(calls) == 1  # a first import locks no stored lecture
    result = import_snapshot({"attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1, "score": 60}]})
    assert result.updated == zeros(attempts=1) and result.recomputed == 1
    # Lecture 1 was locked and, on PostgreSQL, its rows read again: the same, so one validation.
    assert len(calls) == 2


def a_writer_commits_before_the_first_lock(monkeypatch, *statements) -> list[int]:
    """PostgreSQL only: after the base snapshot, another connection commits `statements` just before
    the importer takes its first lecture lock. Answers the lectures locked, in order."""
    import dashboard.importer.snapshot

    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("lock_lecture takes no row lock on SQLite: the whole file is locked on write instead")
    import_snapshot(base())
    db.session.commit()
    original = dashboard.importer.snapshot.lock_lecture
    locked: list[int] = []

    def writer_commits_first(lecture_id: int) -> None:
        if not locked:
            with db.engine.begin() as other:
                for statement in statements:
                    other.execute(statement)
        locked.append(lecture_id)
        original(lecture_id)

    monkeypatch.setattr(dashboard.importer.snapshot, "lock_lecture", writer_commits_first)
    return locked


def test_a_change_committed_before_the_lock_is_validated_against(app, monkeypatch):
    """PostgreSQL: a writer commits between the first read and the lock; the snapshot is checked again."""
    a_writer_commits_before_the_first_lock(monkeypatch, Attempt.__table__.update().values(score=D("90")))
    calls = spy_on_validation(monkeypatch)
    with pytest.raises(ImportRejected) as excinfo:
        import_snapshot({"exams": [{"id": 500, "max_score": 80}]})
    assert [str(p) for p in excinfo.value.errors] == [
        "exams[0].max_score: is below stored scores (enrollment 1000 attempt 1: 90.00)"]
    assert len(calls) == 2


def test_a_lecture_a_concurrent_change_brings_into_the_import_is_locked_too(app, monkeypatch):
    """PostgreSQL: while the import waits for lecture 1, a writer links its exam to a new session of
    lecture 2; the plan made again under the lock recomputes lecture 2 too, so lecture 2 is locked
    (and the rows read once more) before anything is written."""
    locked = a_writer_commits_before_the_first_lock(
        monkeypatch,
        LectureSession.__table__.insert().values(id=22, lecture_id=2, order=2, title="Unit 2", date=date(2026, 3, 10)),
        ExamSession.__table__.insert().values(exam_id=500, session_id=22),
    )
    calls = spy_on_validation(monkeypatch)
    result = import_snapshot({"exams": [{"id": 500, "pass_score": 50}]})
    assert locked[:2] == [1, 2]
    assert len(calls) == 2  # the first plan, then the plan under the locks; the third read found no change
    cell = db.session.execute(select(SessionProgress).where(SessionProgress.enrollment_id == 2000,
                                                            SessionProgress.session_id == 22)).scalar_one()
    assert [exam["exam_id"] for exam in cell.exam_meta["exams"]] == [500]
    assert result.updated["exams"] == 1


# ---------------------------------------------------------------- refusals of a snapshot on its own


def _mutate(path: str, value):
    """A change to the base snapshot: 'kind.index.field' set to value (DELETE removes the field)."""
    def apply(snapshot):
        kind, index, name = path.split(".")
        if value == "DELETE":
            del snapshot[kind][int(index)][name]
        else:
            snapshot[kind][int(index)][name] = value
        return snapshot
    return apply


REFUSED_ALONE = [
    ("not-an-object", lambda s: [s], None, "JSON object"),
    ("unknown-kind", lambda s: {**s, "teachers": []}, "teachers", "unknown key"),
    ("kind-not-a-list", lambda s: {**s, "students": {"id": 1}}, "students", "must be a list"),
    ("item-not-an-object", lambda s: {**s, "students": [5]}, "students[0]", "must be an object"),
    ("unknown-field", _mutate("students.0.nickname", "MJ"), "students[0].nickname", "unknown field"),
    ("integer-bool", _mutate("sessions.0.order", True), "sessions[0].order", "integer"),
    ("integer-float", _mutate("sessions.0.order", 1.5), "sessions[0].order", "integer"),
    ("integer-float-whole", _mutate("sessions.0.order", 1.0), "sessions[0].order", "integer"),
    ("integer-string", _mutate("sessions.0.order", "3"), "sessions[0].order", "integer"),
    ("id-string", _mutate("lectures.0.id", "1"), "lectures[0].id", "integer"),
    ("id-zero", _mutate("students.1.id", 0), "students[1].id", "between 1"),
    ("order-range", _mutate("sessions.0.order", 10000), "sessions[0].order", "between 1 and 9999"),
    ("score-3-decimals", _mutate("attempts.0.score", 72.505), "attempts[0].score", "2 decimal"),
    ("score-string", _mutate("attempts.0.score", "72.5"), "attempts[0].score", "number"),
    ("score-bool", _mutate("attempts.0.score", True), "attempts[0].score", "number"),
    ("score-negative", _mutate("attempts.0.score", -1), "attempts[0].score", "at least 0"),
    ("score-above-max", _mutate("attempts.0.score", 100.01), "attempts[0].score", "max score 100"),
    ("pass-above-max", _mutate("exams.0.pass_score", 100.5), "exams[0].pass_score", "above the max"),
    ("max-zero", _mutate("exams.0.max_score", 0), "exams[0].max_score", "greater than 0"),
    ("homework-score-above-max", _mutate("homework_submissions.0.score", 101), "homework_submissions[0].score",
     "max score"),
    ("points-3-decimals", lambda s: (s["exams"][0]["questions"][0].update(points=0.125), s)[1],
     "exams[0].questions[0].points", "2 decimal"),
    ("question-twice", lambda s: (s["exams"][0]["questions"][1].update(number=1), s)[1],
     "exams[0].questions[1].number", "twice"),
    ("answer-reason", lambda s: (s["attempts"][0]["answers"][0].update(invalid_reason="LOW"), s)[1],
     "attempts[0].answers[0].invalid_reason", "LOW_CONFIDENCE"),
    ("answer-missing-is-correct", lambda s: (s["attempts"][0]["answers"][1].pop("is_correct"), s)[1],
     "attempts[0].answers[1].is_correct", "required"),
    ("date-format", _mutate("sessions.0.date", "2026-3-2"), "sessions[0].date", "YYYY-MM-DD"),
    ("date-impossible", _mutate("sessions.0.date", "2026-02-30"), "sessions[0].date", "valid date"),
    ("time-format", _mutate("attempts.0.submitted_at", "yesterday"), "attempts[0].submitted_at", "ISO 8601"),
    ("attendance", _mutate("activities.0.attendance", "ONLINE"), "activities[0].attendance", "online, offline"),
    ("video-rate", _mutate("activities.0.video_rate", 101), "activities[0].video_rate", "between 0 and 100"),
    ("submitted-not-bool", _mutate("homework_submissions.0.submitted", 1), "homework_submissions[0].submitted",
     "true or false"),
    ("delete-not-bool", _mutate("students.0.delete", "yes"), "students[0].delete", "true or false"),
    ("null-not-allowed", _mutate("lectures.0.title", None), "lectures[0].title", "cannot be null"),
    ("blank-title", _mutate("lectures.1.title", "  "), "lectures[1].title", "blank"),
    ("lecture-needs-title", _mutate("lectures.1.title", "DELETE"), "lectures[1].title", "required"),
    ("session-needs-order", _mutate("sessions.2.order", "DELETE"), "sessions[2].order", "required"),
    ("student-needs-name", _mutate("students.1.name", "DELETE"), "students[1].name", "required"),
    ("enrollment-needs-lecture", _mutate("enrollments.2.lecture_id", "DELETE"), "enrollments[2].lecture_id",
     "required"),
    ("exam-needs-title", _mutate("exams.0.title", "DELETE"), "exams[0].title", "required"),
    ("attempt-needs-score", _mutate("attempts.0.score", "DELETE"), "attempts[0].score", "required"),
    ("attempt-needs-key", _mutate("attempts.0.attempt_no", "DELETE"), "attempts[0].attempt_no", "required"),
    ("homework-needs-session", _mutate("homeworks.0.session_id", "DELETE"), "homeworks[0].session_id",
     "required"),
    ("same-id-twice", lambda s: (s["students"].append({"id": 100, "name": "Kim again"}), s)[1], "students[2]",
     "appears twice (also students[0])"),
    ("same-composite-key-twice", lambda s: (s["attempts"].append(dict(s["attempts"][0], score=10)), s)[1],
     "attempts[1]", "appears twice"),
    ("unknown-lecture", _mutate("enrollments.2.lecture_id", 9), "enrollments[2].lecture_id",
     "lecture 9 does not exist"),
    ("unknown-session-link", _mutate("exams.0.session_ids", [12, 99]), "exams[0].session_ids",
     "session 99 does not exist"),
    ("session-listed-twice", _mutate("exams.0.session_ids", [12, 12]), "exams[0].session_ids[1]", "twice"),
    ("attempt-exam-unlinked", _mutate("exams.0.session_ids", [21]), "attempts[0].exam_id",
     "not linked to a session of lecture 1"),
    ("activity-other-lecture", _mutate("activities.0.session_id", 21), "activities[0].session_id",
     "does not belong to lecture 1"),
    ("submission-other-lecture", _mutate("homeworks.0.session_id", 21), "homework_submissions[0].homework_id",
     "does not belong to lecture 1"),
    ("same-order-twice", _mutate("sessions.1.order", 1), "sessions[1].order", "order 1 is already used"),
    ("same-enrollment-pair", lambda s: (s["enrollments"].append({"id": 1002, "student_id": 100, "lecture_id": 1}),
                                        s)[1], "enrollments[3]", "already enrolled"),
    ("policy-unknown", _mutate("lectures.0.policy", {"colour": "red"}), "lectures[0].policy.colour",
     "not a policy field"),
    ("policy-read-only", _mutate("lectures.0.policy", {"lecture_id": 2}), "lectures[0].policy.lecture_id",
     "read-only"),
    ("policy-lower-case", _mutate("lectures.0.policy", {"exam_aggregate_strategy": "avg"}),
     "lectures[0].policy.exam_aggregate_strategy", "MAX, AVG, LATEST"),
    ("policy-end-before-start", _mutate("lectures.0.policy", {"exam_end_session_order": 1}),
     "lectures[0].policy.exam_end_session_order", "at least exam_start_session_order"),
    ("policy-not-object", _mutate("lectures.0.policy", ["AVG"]), "lectures[0].policy", "object"),
]


@pytest.mark.parametrize("mutate, field, message", [r[1:] for r in REFUSED_ALONE],
                         ids=[r[0] for r in REFUSED_ALONE])
def test_bad_snapshot_is_refused_whole(app, count_queries, mutate, field, message):
    with count_queries() as counter, pytest.raises(ImportRejected) as excinfo:
        import_snapshot(mutate(base()))
    assert writes(counter) == []
    matching = [p for p in excinfo.value.errors if p.field == field]
    assert matching, [str(p) for p in excinfo.value.errors]
    assert message in matching[0].message
    assert count(Lecture) == 0


def test_every_problem_is_collected(app):
    snapshot = base()
    snapshot["sessions"][0]["order"] = "1"
    snapshot["attempts"][0]["score"] = 1000
    snapshot["students"][1]["nickname"] = "J"
    with pytest.raises(ImportRejected) as excinfo:
        import_snapshot(snapshot)
    assert sorted(fields_of(excinfo)) == ["attempts[0].score", "sessions[0].order", "students[1].nickname"]
    assert str(excinfo.value.errors[0]).startswith(excinfo.value.errors[0].field + ": ")
    assert excinfo.value.errors[0].as_dict().keys() == {"field", "message"}


# ---------------------------------------------------------------- refusals against the stored state


REFUSED_STORED = [
    ("session-lecture-immutable", {"sessions": [{"id": 11, "lecture_id": 2}]}, "sessions[0].lecture_id",
     "cannot change"),
    ("enrollment-student-immutable", {"enrollments": [{"id": 1000, "student_id": 101}]},
     "enrollments[0].student_id", "cannot change"),
    ("enrollment-lecture-immutable", {"enrollments": [{"id": 2000, "lecture_id": 1}]},
     "enrollments[0].lecture_id", "cannot change"),
    ("exam-max-below-stored-score", {"exams": [{"id": 500, "max_score": 70}]}, "exams[0].max_score",
     "below stored scores (enrollment 1000 attempt 1: 72.50)"),
    ("exam-pass-above-stored-max", {"exams": [{"id": 500, "pass_score": 101}]}, "exams[0].pass_score",
     "above the max score 100"),
    ("homework-max-below-stored-score", {"homeworks": [{"id": 700, "max_score": 80}]}, "homeworks[0].max_score",
     "below stored scores"),
    ("exam-unlinked-from-needed-session", {"exams": [{"id": 500, "session_ids": [21]}]},
     "exams[0].session_ids", "no longer be linked to a session of lecture 1"),
    ("session-delete-unlinks-exam", {"sessions": [{"id": 12, "delete": True}]}, "sessions[0].delete",
     "no longer be linked to a session of lecture 1"),
    ("enrollment-pair-taken", {"enrollments": [{"id": 1002, "student_id": 100, "lecture_id": 1}]}, "enrollments[0]",
     "already enrolled in lecture 1 (enrollment 1000)"),
    ("reference-deleted-in-snapshot",
     {"enrollments": [{"id": 1000, "delete": True}],
      "attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1, "score": 80}]},
     "attempts[0].enrollment_id", "enrollment 1000 does not exist"),
    ("update-under-deleted-lecture", {"lectures": [{"id": 1, "delete": True}], "sessions": [{"id": 11, "title": "x"}]},
     "sessions[0]", "belongs to an item this snapshot deletes"),
    ("order-taken-by-stored-session", {"sessions": [{"id": 14, "lecture_id": 1, "order": 1}]}, "sessions[0].order",
     "order 1 is already used in lecture 1 by session 11"),
    ("policy-merged-with-stored", {"lectures": [{"id": 1, "policy": {"exam_end_session_order": 1}}]},
     "lectures[0].policy.exam_end_session_order", "at least exam_start_session_order (2)"),
    ("attempt-exam-not-in-lecture", {"attempts": [{"enrollment_id": 2000, "exam_id": 500, "attempt_no": 1,
                                                   "score": 50}]}, "attempts[0].exam_id", "lecture 2"),
    ("attempt-rescored-above-max", {"attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1,
                                                  "score": 100.5}]}, "attempts[0].score", "above the exam's max"),
    ("unknown-enrollment", {"activities": [{"enrollment_id": 4242, "session_id": 12}]},
     "activities[0].enrollment_id", "enrollment 4242 does not exist"),
]


@pytest.mark.parametrize("snapshot, field, message", [r[1:] for r in REFUSED_STORED],
                         ids=[r[0] for r in REFUSED_STORED])
def test_refused_against_the_stored_state(app, count_queries, snapshot, field, message):
    import_snapshot(base())
    db.session.commit()
    with count_queries() as counter, pytest.raises(ImportRejected) as excinfo:
        import_snapshot(snapshot)
    assert writes(counter) == []
    matching = [p for p in excinfo.value.errors if p.field == field]
    assert matching, [str(p) for p in excinfo.value.errors]
    assert message in matching[0].message


def test_an_exam_shared_by_two_lectures_keeps_the_links_its_attempts_need(app):
    import_snapshot(base())
    import_snapshot({"exams": [{"id": 500, "session_ids": [12, 21]}],
                     "attempts": [{"enrollment_id": 2000, "exam_id": 500, "attempt_no": 1, "score": 50}]})
    db.session.commit()

    with pytest.raises(ImportRejected) as excinfo:
        import_snapshot({"exams": [{"id": 500, "session_ids": [12]}]})
    assert [str(p) for p in excinfo.value.errors] == [
        "exams[0].session_ids: exam 500 would no longer be linked to a session of lecture 2, "
        "which attempts of enrollment 2000 need"]
    with pytest.raises(ImportRejected) as excinfo:
        import_snapshot({"sessions": [{"id": 21, "delete": True}]})
    assert fields_of(excinfo) == ["sessions[0].delete"]
    # The same links are no change; without its attempt, lecture 2 may lose the exam.
    assert import_snapshot({"exams": [{"id": 500, "session_ids": [21, 12]}]}).updated == zeros()
    result = import_snapshot({"exams": [{"id": 500, "session_ids": [12]}],
                              "attempts": [{"enrollment_id": 2000, "exam_id": 500, "attempt_no": 1, "delete": True}]})
    assert result.updated == zeros(exams=1) and result.deleted == zeros(attempts=1)


def test_state_changes_that_stay_consistent_are_accepted(app):
    import_snapshot(base())
    result = import_snapshot({
        # The exam moves to session 11, still in lecture 1 where its attempt was made...
        "exams": [{"id": 500, "session_ids": [11]}],
        # ...so session 12 can go, and the max score can fall to the stored 72.5 exactly.
        "sessions": [{"id": 12, "delete": True}],
        "homeworks": [{"id": 701, "session_id": 11}],
    })
    assert result.updated == zeros(exams=1)
    assert result.deleted == zeros(sessions=1)
    assert result.created == zeros(homeworks=1)
    assert import_snapshot({"exams": [{"id": 500, "max_score": 72.5}]}).updated == zeros(exams=1)


# ---------------------------------------------------------------- session orders


def test_swapped_and_rotated_session_orders_are_accepted(app):
    import_snapshot(base())
    result = import_snapshot({"sessions": [
        {"id": 11, "order": 2}, {"id": 12, "order": 3}, {"id": 13, "order": 4},
        {"id": 14, "lecture_id": 1, "order": 1, "title": "Orientation"},
    ]})
    assert result.updated == zeros(sessions=3) and result.created == zeros(sessions=1)
    orders = dict(db.session.execute(select(LectureSession.id, LectureSession.order)
                                     .where(LectureSession.lecture_id == 1)).all())
    assert orders == {11: 2, 12: 3, 13: 4, 14: 1}
    # A plain swap back.
    import_snapshot({"sessions": [{"id": 11, "order": 1}, {"id": 14, "order": 2}]})
    assert db.session.get(LectureSession, 14).order == 2 and db.session.get(LectureSession, 11).order == 1


# ---------------------------------------------------------------- deletes


def test_deletes_remove_what_hangs_off_them(app):
    import_snapshot(base())
    log = RiskLog(enrollment_id=1000, session_id=11, risk_level="DANGER", rule="CONSECUTIVE_LOW_SCORE",
                  reason="inserted by the test", meta={"count": 3})
    db.session.add(log)
    db.session.commit()
    log_id = log.id

    result = import_snapshot({
        "sessions": [{"id": 11, "delete": True}],
        "homeworks": [{"id": 700, "delete": True}],
        "students": [{"id": 101, "delete": True}, {"id": 999, "delete": True}],
    })

    assert result.deleted == zeros(sessions=1, homeworks=1, students=1)
    assert result.created == zeros() and result.updated == zeros()
    # Lecture 1 recomputed whole: only session 12 is held now, for enrollment 1000 alone.
    assert result.recomputed == 1
    db.session.expire_all()
    assert db.session.get(RiskLog, log_id).session_id is None  # SPEC §5
    assert count(HomeworkSubmission) == 0
    assert db.session.get(Enrollment, 1001) is None
    assert count(SessionProgress, SessionProgress.enrollment_id == 1001) == 0
    assert count(SessionProgress, SessionProgress.session_id == 11) == 0
    assert count(Activity) == 1


def test_deleting_an_exam_and_a_lecture(app):
    import_snapshot(base())
    result = import_snapshot({"exams": [{"id": 500, "delete": True}], "lectures": [{"id": 2, "delete": True}]})
    assert result.deleted == zeros(exams=1, lectures=1)
    assert result.recomputed == 4  # lecture 1 whole; lecture 2 is gone
    assert count(Attempt) == 0 and count(AnswerFact) == 0 and count(ExamSession) == 0
    assert count(Enrollment) == 2 and count(LectureSession, LectureSession.lecture_id == 2) == 0
    assert count(ProgressPolicy) == 1
    # Deleting what is already gone does nothing.
    assert import_snapshot({"lectures": [{"id": 2, "delete": True}]}).deleted == zeros()


def test_delete_and_recreate_in_one_snapshot(app):
    import_snapshot(base())
    result = import_snapshot({"enrollments": [{"id": 1001, "delete": True},
                                              {"id": 1003, "student_id": 101, "lecture_id": 1}]})
    assert result.deleted == zeros(enrollments=1) and result.created == zeros(enrollments=1)
    assert db.session.execute(select(Enrollment.id).where(Enrollment.student_id == 101,
                                                          Enrollment.lecture_id == 1)).scalar_one() == 1003


# ---------------------------------------------------------------- ids


def test_later_automatic_ids_never_collide_with_imported_ones(app):
    import_snapshot(base())
    db.session.commit()
    lecture = Lecture(title="Made in the app")
    student = Student(name="New Student")
    db.session.add_all([lecture, student])
    db.session.flush()
    session = LectureSession(lecture_id=lecture.id, order=1)
    exam = Exam(title="Made in the app")
    enrollment = Enrollment(student_id=student.id, lecture_id=lecture.id)
    db.session.add_all([session, exam, enrollment])
    db.session.flush()
    homework = Homework(session_id=session.id)
    db.session.add(homework)
    db.session.flush()
    assert lecture.id > 2 and student.id > 101 and session.id > 21
    assert exam.id > 500 and enrollment.id > 2000 and homework.id > 700


# ---------------------------------------------------------------- the CLI


def test_cli_imports_a_file(app, runner, tmp_path):
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(base()), encoding="utf-8")
    result = runner.invoke(args=["import-snapshot", str(path)])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["created"]["sessions"] == 4 and answer["recomputed"] == 5
    db.session.rollback()
    assert count(LectureSession) == 4  # committed

    again = runner.invoke(args=["import-snapshot", str(path)])
    assert json.loads(again.stdout) == {"created": zeros(), "updated": zeros(), "deleted": zeros(), "recomputed": 0}


def test_cli_reads_stdin(app, runner):
    result = runner.invoke(args=["import-snapshot", "-"], input=json.dumps({"students": [{"id": 5, "name": "Park"}]}))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"]["students"] == 1
    db.session.rollback()
    assert db.session.get(Student, 5).name == "Park"


def test_cli_refuses_a_bad_snapshot_and_writes_nothing(app, runner):
    snapshot = base()
    snapshot["attempts"][0]["score"] = 72.505
    snapshot["sessions"][1]["order"] = "2"
    result = runner.invoke(args=["import-snapshot", "-"], input=json.dumps(snapshot))
    assert result.exit_code != 0
    assert "attempts[0].score: must have at most 2 decimal places" in result.stderr
    assert "sessions[1].order: must be an integer" in result.stderr
    assert result.stdout == ""
    db.session.rollback()
    assert count(Lecture) == 0 and count(Student) == 0


def test_cli_shows_progress_for_large_files(app, runner):
    snapshot = {"students": [{"id": n, "name": f"Student {n}"} for n in range(1, 1001)]}
    result = runner.invoke(args=["import-snapshot", "-"], input=json.dumps(snapshot))
    assert result.exit_code == 0, result.output
    assert "import validate: 0/1000" in result.stderr
    assert "import apply:" in result.stderr
    assert json.loads(result.stdout)["created"]["students"] == 1000
    small = runner.invoke(args=["import-snapshot", "-"], input=json.dumps({"students": [{"id": 1, "name": "Kim"}]}))
    assert small.stderr == ""


def test_cli_refuses_invalid_json(app, runner):
    result = runner.invoke(args=["import-snapshot", "-"], input="{not json")
    assert result.exit_code != 0
    assert "not valid JSON" in result.stderr

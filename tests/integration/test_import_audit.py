"""Imports and uploads in the audit trail row by row: each item a snapshot or a spreadsheet
creates, changes or deletes is one audit row with the values before and after and its lecture,
beside the import's own summary row; a re-import records nothing. The Audit page shows them.

Snapshot worked by hand: lecture 1 "Algebra II" with sessions 11 (order 1) and 12 (order 2),
student 100, enrollment 1000, exam 500 on session 12, attempt (1000, 500, 1) scored 72.5 and an
activity (1000, 11): 9 creates. Then the attempt becomes 80 and the activity is deleted.
"""
from __future__ import annotations

from sqlalchemy import select

from dashboard.academy import uploads
from dashboard.extensions import db
from dashboard.importer.snapshot import import_snapshot
from dashboard.models import AuditLog
from tests.factories import build_academy
from tests.web.pages import sign_in

SNAPSHOT = {
    "lectures": [{"id": 1, "title": "Algebra II"}],
    "sessions": [{"id": 11, "lecture_id": 1, "order": 1}, {"id": 12, "lecture_id": 1, "order": 2}],
    "students": [{"id": 100, "name": "Kim Minji"}],
    "enrollments": [{"id": 1000, "student_id": 100, "lecture_id": 1}],
    "exams": [{"id": 500, "title": "Quiz 1", "session_ids": [12]}],
    "attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1, "score": 72.5}],
    "activities": [{"enrollment_id": 1000, "session_id": 11, "attendance": "offline", "video_rate": 40}],
}


def trail() -> list[tuple]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(
        select(AuditLog.action, AuditLog.object_id, AuditLog.lecture_id, AuditLog.before, AuditLog.after)
        .where(AuditLog.action.startswith("import.")).order_by(AuditLog.id))]


def test_each_imported_row_is_recorded_with_before_and_after_and_its_lecture(app):
    import_snapshot(SNAPSHOT)
    created = trail()
    assert [(action, key, lecture) for action, key, lecture, _b, _a in created] == [
        ("import.lecture.create", "1", 1), ("import.session.create", "11", 1), ("import.session.create", "12", 1),
        ("import.student.create", "100", None), ("import.enrollment.create", "1000", 1),
        ("import.exam.create", "500", None), ("import.attempt.create", "1000/500/1", 1),
        ("import.activity.create", "1000/11", 1)]
    attempt = created[6]
    assert attempt[3] is None and attempt[4]["score"] == 72.5
    db.session.commit()

    import_snapshot(SNAPSHOT)  # the same snapshot again changes nothing and records nothing
    assert len(trail()) == 8

    import_snapshot({"attempts": [{"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1, "score": 80}],
                     "activities": [{"enrollment_id": 1000, "session_id": 11, "delete": True}]})
    later = trail()[8:]
    assert [(action, key, lecture) for action, key, lecture, _b, _a in later] == [
        ("import.attempt.update", "1000/500/1", 1), ("import.activity.delete", "1000/11", 1)]
    assert (later[0][3], later[0][4]) == ({"score": 72.5}, {"score": 80})
    assert later[1][3]["video_rate"] == 40 and later[1][4] is None


def test_an_upload_records_each_changed_row_under_its_user(app):
    academy = build_academy()
    admin, quiz, jisoo = academy.users["admin"], academy.quiz, academy.jisoo
    text = (f"student_id,exam_id,score,attempt_no,submitted_at\n"
            f"{jisoo.student_id},{quiz.id},65,2,2026-03-10T10:00:00+09:00\n"
            f"{academy.minji.student_id},{quiz.id},72.5,1,2026-03-09T10:00:00+09:00\n").encode()
    uploads.apply(admin, academy.algebra.id, "scores", text)
    rows = db.session.execute(select(AuditLog.action, AuditLog.username, AuditLog.lecture_id, AuditLog.after)
                              .where(AuditLog.action.startswith("import."))).all()
    # Minji's line is unchanged: only Jisoo's new attempt 2 is a row.
    assert len(rows) == 1
    action, username, lecture, after = rows[0]
    assert (action, username, lecture, after["attempt_no"], after["score"]) == (
        "import.attempt.create", "admin", academy.algebra.id, 2, 65)
    assert db.session.execute(select(AuditLog.action).where(AuditLog.action == "upload.scores")).scalar_one()


def test_the_audit_page_shows_imported_rows_by_lecture(app, client):
    academy = build_academy()
    import_snapshot({"attempts": [{"enrollment_id": academy.jisoo.id, "exam_id": academy.quiz.id,
                                   "attempt_no": 1, "score": 55}]}, user=academy.users["admin"])
    sign_in(client, academy.users["admin"])
    html = client.get(f"/audit/?lecture={academy.algebra.id}&kind=attempt").get_data(as_text=True)
    assert 'data-action="import.attempt.update"' in html
    assert "Exam attempt changed by an import or upload" in html
    assert "40 → 55" in html

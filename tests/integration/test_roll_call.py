"""The roll call (SPEC §12) wherever inputs are written: the cell service, the snapshot importer,
activity uploads; and the session-progress API objects that show it. On SQLite and PostgreSQL.

Academy: tests/factories.build_academy (today 2026-04-01, video required 90). Minji watched 95%
of every Algebra week online; Park has no activity at all.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.academy import uploads
from dashboard.errors import Invalid
from dashboard.extensions import db
from dashboard.importer import ImportRejected, import_snapshot
from dashboard.lectures import cells
from dashboard.models import Activity, SessionProgress

from tests.factories import bearer, build_academy


@pytest.fixture
def academy(app):
    return build_academy()


def activity(enrollment, session) -> tuple[str, int, str | None] | None:
    row = db.session.execute(
        select(Activity.attendance, Activity.video_rate, Activity.presence)
        .where(Activity.enrollment_id == enrollment.id, Activity.session_id == session.id)
    ).one_or_none()
    return None if row is None else tuple(row)


def completed(enrollment, session) -> bool:
    return db.session.execute(
        select(SessionProgress.completed).where(SessionProgress.enrollment_id == enrollment.id,
                                                SessionProgress.session_id == session.id)
        .execution_options(populate_existing=True)
    ).scalar_one()


# ---------------------------------------------------------------- the cell service

def test_a_late_student_attended_in_person(academy):
    """Park, nothing stored: 'late' makes Week 1 offline, so its video part is met -> completed."""
    week1 = academy.weeks[0]
    cells.set_activity(academy.users["teacher_a"], academy.park.id, week1.id, presence="late")
    assert activity(academy.park, week1) == ("offline", 0, "late")
    assert completed(academy.park, week1) is True


def test_attendance_alone_clears_a_contradicting_roll_call(academy):
    week1 = academy.weeks[0]
    admin = academy.users["admin"]
    cells.set_activity(admin, academy.park.id, week1.id, presence="present")
    cells.set_activity(admin, academy.park.id, week1.id, attendance="online", video_rate=30)
    assert activity(academy.park, week1) == ("online", 30, None)
    assert completed(academy.park, week1) is False
    cells.set_activity(admin, academy.park.id, week1.id, presence="excused")
    cells.set_activity(admin, academy.park.id, week1.id, attendance="online", video_rate=95)
    assert activity(academy.park, week1) == ("online", 95, "excused")  # agrees: kept


def test_presence_null_clears_the_roll_call_and_leaves_attendance(academy):
    week1 = academy.weeks[0]
    admin = academy.users["admin"]
    cells.set_activity(admin, academy.park.id, week1.id, presence="present")
    cells.set_activity(admin, academy.park.id, week1.id, presence=None)
    assert activity(academy.park, week1) == ("offline", 0, None)


def test_a_contradicting_pair_is_refused_naming_presence(academy):
    week1 = academy.weeks[0]
    with pytest.raises(Invalid) as refused:
        cells.set_activity(academy.users["admin"], academy.minji.id, week1.id, attendance="online", presence="late")
    assert refused.value.field == "presence"
    assert activity(academy.minji, week1) == ("online", 95, None)


def test_an_unknown_presence_is_refused(academy):
    with pytest.raises(Invalid) as refused:
        cells.set_activity(academy.users["admin"], academy.minji.id, academy.weeks[0].id, presence="asleep")
    assert refused.value.field == "presence"


# ---------------------------------------------------------------- the snapshot importer

def _activity_snapshot(academy, **values) -> dict:
    return {"activities": [{"enrollment_id": academy.park.id, "session_id": academy.weeks[0].id, **values}]}


def test_import_presence_sets_attendance_and_a_reimport_changes_nothing(academy):
    first = import_snapshot(_activity_snapshot(academy, presence="present", video_rate=10))
    assert first.created["activities"] == 1
    assert activity(academy.park, academy.weeks[0]) == ("offline", 10, "present")
    again = import_snapshot(_activity_snapshot(academy, presence="present", video_rate=10))
    assert (again.created["activities"], again.updated["activities"], again.recomputed) == (0, 0, 0)


def test_import_attendance_alone_clears_a_contradicting_presence(academy):
    import_snapshot(_activity_snapshot(academy, presence="late"))
    result = import_snapshot(_activity_snapshot(academy, attendance="online"))
    assert result.updated["activities"] == 1
    assert activity(academy.park, academy.weeks[0]) == ("online", 0, None)
    again = import_snapshot(_activity_snapshot(academy, attendance="online"))
    assert again.updated["activities"] == 0


def test_import_omitted_presence_keeps_the_stored_one(academy):
    import_snapshot(_activity_snapshot(academy, presence="absent"))
    import_snapshot(_activity_snapshot(academy, video_rate=80))
    assert activity(academy.park, academy.weeks[0]) == ("online", 80, "absent")


def test_import_presence_null_clears_it_and_keeps_attendance(academy):
    import_snapshot(_activity_snapshot(academy, presence="late"))
    result = import_snapshot(_activity_snapshot(academy, presence=None))
    assert activity(academy.park, academy.weeks[0]) == ("offline", 0, None)
    assert result.recomputed == 0  # the roll call alone changes no derived row


def test_import_contradicting_pair_is_refused_naming_presence(academy):
    with pytest.raises(ImportRejected) as refused:
        import_snapshot(_activity_snapshot(academy, presence="absent", attendance="offline"))
    assert [problem.field for problem in refused.value.errors] == ["activities[0].presence"]
    assert activity(academy.park, academy.weeks[0]) is None


def test_import_unknown_presence_is_refused(academy):
    with pytest.raises(ImportRejected) as refused:
        import_snapshot(_activity_snapshot(academy, presence="Present"))
    assert [problem.field for problem in refused.value.errors] == ["activities[0].presence"]


# ---------------------------------------------------------------- uploads

def test_an_activity_upload_takes_presence(academy):
    text = (f"student_id,session,presence\n{academy.park.student_id},1,late\n"
            f"{academy.minji.student_id},1,absent\n").encode()
    uploads.apply(academy.users["admin"], academy.algebra.id, "activity", text)
    assert activity(academy.park, academy.weeks[0]) == ("offline", 0, "late")
    assert activity(academy.minji, academy.weeks[0]) == ("online", 95, "absent")


def test_an_upload_with_a_contradicting_pair_points_at_its_line(academy):
    text = f"student_id,session,attendance,presence\n{academy.park.student_id},1,online,present\n".encode()
    preview = uploads.preview(academy.users["admin"], academy.algebra.id, "activity", text)
    assert [line for line, _message in preview.problems] == [2]
    assert "presence" in preview.problems[0][1]


# ---------------------------------------------------------------- the API's session progress

def test_session_progress_objects_carry_presence(academy, client):
    cells.set_activity(academy.users["admin"], academy.minji.id, academy.weeks[0].id, presence="late")
    db.session.commit()
    body = client.get("/api/progress/session-progress/", headers=bearer(academy.tokens["admin"]),
                      query_string={"enrollment_id": academy.minji.id}).get_json()
    by_session = {row["session"]: row["presence"] for row in body["results"]}
    assert by_session == {academy.weeks[0].id: "late", academy.weeks[1].id: None, academy.weeks[2].id: None}

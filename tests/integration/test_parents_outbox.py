"""Messages to guardians queued in the outbox (SPEC §14): risk rising and falling through the
recompute, absences, bookings, the lecture's settings, and one message per occurrence and guardian.

Today is 2026-04-01. The lectures here use grace 0, so a session dated on or before today is due;
with no exam, homework or activity a due session is failed. Warning at 2 failed in a row, danger at 3.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import LectureProgress, Notification, Student
from dashboard.parents import messages, outbox
from dashboard.progress.recompute import recompute_lecture
from tests.factories import (
    enroll,
    make_activity,
    make_guardian,
    make_lecture,
    make_session,
)
from tests.parallel import at_once


def messages_of(enrollment_id: int | None = None) -> list[tuple]:
    query = select(Notification).order_by(Notification.id)
    if enrollment_id is not None:
        query = query.where(Notification.enrollment_id == enrollment_id)
    return [(n.event, n.state, n.to) for n in db.session.execute(query).scalars()]


def risk_of(enrollment) -> str:
    return db.session.execute(
        select(LectureProgress.risk_level).where(LectureProgress.enrollment_id == enrollment.id)).scalar_one()


@pytest.fixture
def lecture(app):
    return make_lecture("수학 II", completion_grace_days=0)


@pytest.fixture
def minji(lecture):
    enrollment = enroll("김민지", lecture)
    student = db.session.get(Student, enrollment.student_id)
    make_guardian(student, "Kim Mother", "모", phone="01011112222")
    make_guardian(student, "Kim Father", "부", phone="01033334444", consent=False)
    make_guardian(student, "Kim Aunt", "이모", phone=None, channel="sms")  # consent, but no phone
    make_guardian(student, "Kim Grandpa", "조부", phone=None, email="grandpa@example.com", channel="email",
                  language="en")
    return enrollment


def sessions(lecture, *days: int):
    return [make_session(lecture, order, date(2026, 3, day)) for order, day in enumerate(days, start=1)]


def test_normal_to_danger_queues_one_danger_message_per_reachable_guardian(lecture, minji):
    sessions(lecture, 29, 30, 31)

    recompute_lecture(lecture.id)

    assert risk_of(minji) == "DANGER"
    assert messages_of() == [("risk_danger", "review", "01011112222"), ("risk_danger", "review", "grandpa@example.com")]
    texts = [n.text for n in db.session.execute(select(Notification).order_by(Notification.id)).scalars()]
    assert texts[0] == ("[수학 II] 김민지 학생이 여러 차시를 연속으로 완료하지 못했습니다(최근: Week 3, 2026-03-31). "
                        "상담을 권해 드립니다.")
    assert texts[1].startswith("[수학 II] 김민지 has missed several sessions in a row (latest: Week 3, 2026-03-31)")


def test_recomputing_again_queues_nothing_more(lecture, minji):
    sessions(lecture, 29, 30, 31)
    recompute_lecture(lecture.id)

    recompute_lecture(lecture.id)

    assert len(messages_of()) == 2


def test_warning_then_danger_notifies_each_level_once(lecture, minji):
    sessions(lecture, 29, 30)
    recompute_lecture(lecture.id)
    assert [m[0] for m in messages_of()] == ["risk_warning", "risk_warning"]

    make_session(lecture, 3, date(2026, 3, 31))
    recompute_lecture(lecture.id)

    assert [m[0] for m in messages_of()] == ["risk_warning", "risk_warning", "risk_danger", "risk_danger"]


def test_a_fall_cancels_the_unsent_message_and_a_new_rise_notifies_again(lecture, minji):
    *_, s3 = sessions(lecture, 29, 30, 31)
    recompute_lecture(lecture.id)
    activity = make_activity(minji, s3, attendance="offline")

    recompute_lecture(lecture.id)  # session 3 completed: nothing failed in a row

    assert risk_of(minji) == "NORMAL"
    assert [m[1] for m in messages_of()] == ["cancelled", "cancelled"]

    activity.attendance = "online"
    db.session.flush()
    recompute_lecture(lecture.id)

    assert [m[:2] for m in messages_of()] == [("risk_danger", "cancelled")] * 2 + [("risk_danger", "review")] * 2


def test_danger_falling_to_warning_cancels_only_the_danger_message(lecture, minji):
    s1, s2, _ = sessions(lecture, 29, 30, 31)
    make_session(lecture, 4, date(2026, 4, 1))
    make_activity(minji, s1, attendance="offline")
    recompute_lecture(lecture.id)  # sessions 2, 3 and 4 failed: danger
    assert [m[0] for m in messages_of()] == ["risk_danger", "risk_danger"]

    make_activity(minji, s2, attendance="offline")
    recompute_lecture(lecture.id)  # 3 and 4 failed: warning

    assert risk_of(minji) == "WARNING"
    assert [m[:2] for m in messages_of()] == [("risk_danger", "cancelled")] * 2


def test_a_sent_message_is_not_cancelled_by_a_fall(lecture, minji):
    *_, s3 = sessions(lecture, 29, 30, 31)
    recompute_lecture(lecture.id)
    for notification in db.session.execute(select(Notification)).scalars():
        notification.state = "sent"
    make_activity(minji, s3, attendance="offline")

    recompute_lecture(lecture.id)

    assert [m[1] for m in messages_of()] == ["sent", "sent"]


def test_history_does_not_notify(lecture, minji):
    sessions(lecture, 20, 21, 24)  # the newest failed session is 8 days old

    recompute_lecture(lecture.id)

    assert risk_of(minji) == "DANGER"
    assert messages_of() == []


def test_a_rise_seven_days_after_the_newest_failed_session_still_notifies(lecture, minji):
    sessions(lecture, 20, 21, 25)

    recompute_lecture(lecture.id)

    assert len(messages_of()) == 2


def test_settings_choose_events_and_review(lecture, minji):
    outbox.save_settings(lecture.id, {"events": ["risk_warning", "absence"], "review": False})
    sessions(lecture, 29, 30)
    recompute_lecture(lecture.id)
    assert [m[:2] for m in messages_of()] == [("risk_warning", "queued")] * 2

    make_session(lecture, 3, date(2026, 3, 31))
    recompute_lecture(lecture.id)  # danger is not enabled

    assert len(messages_of()) == 2


def test_settings_are_validated(lecture):
    from dashboard.errors import Invalid

    with pytest.raises(Invalid) as refused:
        outbox.save_settings(lecture.id, {"events": ["risk_danger", "birthday"]})
    assert refused.value.field == "events[1]"
    assert outbox.settings_of(lecture.id).as_dict() == {
        "events": ["risk_warning", "risk_danger", "booking", "absence"], "review": True}


def test_absence_queues_once_is_cancelled_when_corrected_and_comes_back(lecture, minji):
    session = make_session(lecture, 1, date(2026, 3, 31), title=None)
    session.title = None
    db.session.flush()

    assert outbox.queue_absence(minji.id, session.id) == 2
    assert outbox.queue_absence(minji.id, session.id) == 2
    texts = sorted(n.text for n in db.session.execute(select(Notification)).scalars())
    assert texts == ["[수학 II] 김민지 was absent from session 1 on 2026-03-31.",
                     "[수학 II] 김민지 학생이 2026-03-31 1차시 수업에 결석했습니다."]

    assert outbox.cancel_absence(minji.id, session.id) == 2
    assert [m[1] for m in messages_of()] == ["cancelled", "cancelled"]

    outbox.queue_absence(minji.id, session.id)
    assert [m[1] for m in messages_of()] == ["review", "review"]


def test_absence_in_an_old_session_or_not_enabled_creates_nothing(lecture, minji):
    old = make_session(lecture, 1, date(2026, 3, 24))
    recent = make_session(lecture, 2, date(2026, 3, 31))

    assert outbox.queue_absence(minji.id, old.id) == 0
    outbox.save_settings(lecture.id, {"events": ["booking"]})
    assert outbox.queue_absence(minji.id, recent.id) == 0
    assert messages_of() == []


def test_a_person_cancelled_absence_is_not_revived(lecture, minji):
    from tests.factories import make_user

    session = make_session(lecture, 1, date(2026, 3, 31))
    outbox.queue_absence(minji.id, session.id)
    admin = make_user("admin", "admin")
    for notification in db.session.execute(select(Notification)).scalars():
        outbox.cancel(notification, admin)

    outbox.queue_absence(minji.id, session.id)

    assert [m[1] for m in messages_of()] == ["cancelled", "cancelled"]


def test_booking_names_the_clinic_time_and_room_and_cancelling_it_cancels_the_message(lecture, minji):
    starts = datetime(2026, 4, 2, 7, 0, tzinfo=UTC)  # 16:00 in Seoul

    assert outbox.queue_booking(77, minji.id, starts, "201호") == 2
    texts = sorted(n.text for n in db.session.execute(select(Notification)).scalars())
    assert texts == ["[수학 II] A clinic class for 김민지 is booked on 2026-04-02 at 16:00, 201호.",
                     "[수학 II] 김민지 학생의 보충 수업이 2026-04-02 16:00, 201호에 예약되었습니다."]

    assert outbox.cancel_booking(77) == 2
    assert [m[1] for m in messages_of()] == ["cancelled", "cancelled"]


def test_an_edited_template_is_used_in_the_guardians_language(lecture, minji):
    messages.save_template("absence", "ko", "{student} 결석 ({date})")
    session = make_session(lecture, 1, date(2026, 3, 31))

    outbox.queue_absence(minji.id, session.id)

    texts = sorted(n.text for n in db.session.execute(select(Notification)).scalars())
    assert texts[1] == "김민지 결석 (2026-03-31)"
    assert texts[0].startswith("[수학 II] 김민지 was absent")


def test_a_template_with_an_unknown_placeholder_is_refused():
    from dashboard.errors import Invalid

    with pytest.raises(Invalid) as refused:
        messages.check_body("{student} {grade}")
    assert (refused.value.reason, refused.value.params["name"]) == ("unknown_placeholder", "{grade}")


def test_concurrent_writers_queue_an_occurrence_once(app, backend, lecture, minji):
    if backend != "postgresql":
        pytest.skip("parallel writers are what this tests; SQLite serialises the whole file")
    enrollment_id, session_id = minji.id, make_session(lecture, 1, date(2026, 3, 31)).id
    db.session.commit()

    def writer() -> None:
        outbox.queue_absence(enrollment_id, session_id)
        db.session.commit()

    at_once(app, writer, 4)
    assert len(messages_of()) == 2

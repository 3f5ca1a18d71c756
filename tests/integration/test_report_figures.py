"""The monthly report's figures (SPEC §15) against a small academy worked by hand.

Today is 2026-04-01 (tests/conftest.py), grace 7 days, default policy (exams and homework count
from order 2, homework passes by teacher approval). Lecture "Reports", sessions by order:
1: 02-23 (February), 2: 03-03, 3: 03-10, 4: 03-17, 5: 03-26, 6: 04-07 (upcoming).
March's report is counted on 03-31: sessions 2..5 are listed; 2, 3, 4 are due (date + 7 <= 03-31),
5 is not (04-02).

- Kim Minji: roll call 2 present, 3 late, 4 absent, 5 not taken. 2 and 3 are completed
  (attended, quiz 1 passed), 4 is not (absent, no video) -> 2 of 3 due completed.
  Quiz 1 (session 3, pass 60): attempts 50 then 72.5 -> result 72.5.
  Quiz 2 (session 5, no pass score -> the policy's 60): 45.5.
  Homework: session 4's approved (done), session 5's submitted, not approved (not done) -> 1 of 2.
- Lee Jisoo joined on 03-12: only sessions 4 and 5 count; quiz 1 40 (not in her report), quiz 2 30.25.
- Park: quiz 1 55.25, excused at session 2.
- Choi (withdrawn): quiz 1 100 -> left out of the class average.
Class averages: quiz 1 (72.5 + 40 + 55.25) / 3 = 55.91666.. -> 55.92; quiz 2 (45.5 + 30.25) / 2 = 37.875 -> 37.88.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.errors import Invalid
from dashboard.extensions import db
from dashboard.models import Activity, ClinicBooking, ClinicSession, ReportComment, RiskLog
from dashboard.progress.recompute import recompute_lecture
from dashboard.reports import figures
from dashboard.reports.figures import Month, RiskEntry
from tests.factories import (
    KST,
    enroll,
    make_attempt,
    make_exam,
    make_homework,
    make_lecture,
    make_session,
    make_submission,
)

MARCH = Month(2026, 3)
TODAY = date(2026, 4, 1)


def _presence(enrollment, session, presence):
    attendance = "offline" if presence in ("present", "late") else "online"
    db.session.add(Activity(enrollment_id=enrollment.id, session_id=session.id, presence=presence,
                            attendance=attendance, video_rate=0))
    db.session.flush()


def _risk_log(enrollment, session, level, at, rule="CONSECUTIVE_INCOMPLETE"):
    db.session.add(RiskLog(enrollment_id=enrollment.id, session_id=session.id if session else None,
                           risk_level=level, rule=rule, reason="test", meta={"count": 3}, created_at=at))
    db.session.flush()


@pytest.fixture
def academy(app):
    lecture = make_lecture("Reports")
    s = {order: make_session(lecture, order, on) for order, on in (
        (1, date(2026, 2, 23)), (2, date(2026, 3, 3)), (3, date(2026, 3, 10)), (4, date(2026, 3, 17)),
        (5, date(2026, 3, 26)), (6, date(2026, 4, 7)))}
    minji = enroll("Kim Minji", lecture)
    jisoo = enroll("Lee Jisoo", lecture)
    jisoo.start_date = date(2026, 3, 12)
    park = enroll("Park Jimin", lecture)
    choi = enroll("Choi Yuna", lecture)
    _presence(minji, s[2], "present")
    _presence(minji, s[3], "late")
    _presence(minji, s[4], "absent")
    _presence(park, s[2], "excused")
    quiz1 = make_exam([s[3]], pass_score=60, title="Quiz 1")
    quiz2 = make_exam([s[5]], pass_score=None, title="Quiz 2")
    february = make_exam([s[1]], title="February quiz")
    april = make_exam([s[6]], title="April quiz")
    make_attempt(minji, quiz1, 50, 1, datetime(2026, 3, 10, 10, tzinfo=KST))
    make_attempt(minji, quiz1, "72.5", 2, datetime(2026, 3, 11, 10, tzinfo=KST))
    make_attempt(jisoo, quiz1, 40)
    make_attempt(park, quiz1, "55.25")
    make_attempt(choi, quiz1, 100)
    make_attempt(minji, quiz2, "45.5")
    make_attempt(jisoo, quiz2, "30.25")
    make_attempt(minji, february, 10)
    make_attempt(minji, april, 10)
    make_submission(minji, make_homework(s[4]), submitted=False, approved=True)
    make_submission(minji, make_homework(s[5]), submitted=True, approved=False)
    recompute_lecture(lecture.id)
    choi.withdrawn_at = datetime(2026, 3, 20, tzinfo=KST)
    db.session.flush()
    return {"lecture": lecture, "s": s, "minji": minji, "jisoo": jisoo, "park": park, "choi": choi,
            "quiz1": quiz1, "quiz2": quiz2}


def _report(enrollment, month=MARCH):
    report = figures.load_report(enrollment.id, month, TODAY)
    assert report is not None
    return report


def test_minji_march_figures_as_worked_by_hand(academy):
    report = _report(academy["minji"])
    assert report.student_name == "Kim Minji" and report.lecture_title == "Reports"
    assert report.as_of == date(2026, 3, 31)
    assert [s.order for s in report.sessions] == [2, 3, 4, 5]
    assert report.attendance == {"present": 1, "late": 1, "absent": 1, "excused": 0, "not_taken": 1}
    assert (report.completed, report.due) == (2, 3)
    assert [(e.title, e.score, e.class_average, e.pass_line, e.passed) for e in report.exams] == [
        ("Quiz 1", Decimal("72.5"), Decimal("55.92"), Decimal(60), True),
        ("Quiz 2", Decimal("45.5"), Decimal("37.88"), Decimal(60), False),
    ]
    assert [(h.session_order, h.done) for h in report.homework] == [(4, True), (5, False)]
    assert report.homework_done == 1
    assert report.sessions_later == 0


def test_a_student_who_joined_mid_month_counts_only_her_sessions(academy):
    report = _report(academy["jisoo"])
    assert [s.order for s in report.sessions] == [4, 5]
    assert report.attendance == {"present": 0, "late": 0, "absent": 0, "excused": 0, "not_taken": 2}
    assert (report.completed, report.due) == (0, 1)
    # Quiz 1 sits on session 3, before she joined: not in her report, though her 40 is in its average.
    assert [(e.title, e.score, e.class_average) for e in report.exams] == [
        ("Quiz 2", Decimal("30.25"), Decimal("37.88"))]


def test_excused_and_a_student_without_results(academy):
    report = _report(academy["park"])
    assert report.attendance["excused"] == 1 and report.attendance["not_taken"] == 3
    assert [(e.title, e.score, e.passed) for e in report.exams] == [
        ("Quiz 1", Decimal("55.25"), False), ("Quiz 2", None, None)]


def test_the_current_month_counts_as_of_today(academy):
    report = _report(academy["minji"], Month(2026, 4))
    assert report.as_of == TODAY
    assert report.sessions == [] and (report.completed, report.due) == (0, 0)
    assert report.exams == [] and report.sessions_later == 1


def test_an_earlier_grace_makes_the_last_session_due(academy):
    from tests.factories import policy_of

    policy_of(academy["lecture"]).completion_grace_days = 5  # 03-26 + 5 = 03-31
    db.session.flush()
    report = _report(academy["minji"])
    assert (report.completed, report.due) == (2, 4)


def test_risk_history_of_the_month_and_its_level(academy):
    minji, s = academy["minji"], academy["s"]
    _risk_log(minji, s[4], "WARNING", datetime(2026, 4, 2, 9, tzinfo=KST))  # about a March session
    _risk_log(minji, s[1], "DANGER", datetime(2026, 3, 2, 9, tzinfo=KST))  # about February's session
    # Without a session, the academy date it was recorded on decides: 03-01 01:00 in Seoul is March ...
    _risk_log(minji, None, "DANGER", datetime(2026, 2, 28, 16, 0, tzinfo=UTC), "CONSECUTIVE_LOW_SCORE")
    # ... and 02-28 23:59 is not.
    _risk_log(minji, None, "WARNING", datetime(2026, 2, 28, 14, 59, tzinfo=UTC), "CONSECUTIVE_LOW_SCORE")
    report = _report(minji)
    assert [(e.risk_level, e.rule, e.session_order) for e in report.risk_history] == [
        ("DANGER", "CONSECUTIVE_LOW_SCORE", None), ("WARNING", "CONSECUTIVE_INCOMPLETE", 4)]
    assert report.risk_level == "DANGER"  # a past month: the highest level it recorded
    assert _report(minji, Month(2026, 4)).risk_level == "NORMAL"  # the current month: the level now


def test_clinic_summary_counts_the_months_bookings_and_attendance(academy):
    """Bookings not cancelled whose clinic session starts in the month (academy time), and those
    attended: March has 03-05 attended, 03-12 no-show, 03-31 23:30 KST attended = 3 booked,
    2 attended; the cancelled 03-19 booking and the 04-01 00:30 KST one are not March's."""
    minji = academy["minji"]

    def booking(starts_at, attendance=None, cancelled=False):
        session = ClinicSession(starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), capacity=5)
        db.session.add(session)
        db.session.flush()
        db.session.add(ClinicBooking(clinic_session_id=session.id, enrollment_id=minji.id, attendance=attendance,
                                     cancelled_at=starts_at if cancelled else None))
        db.session.flush()

    booking(datetime(2026, 3, 5, 15, tzinfo=KST), "attended")
    booking(datetime(2026, 3, 12, 15, tzinfo=KST), "no_show")
    booking(datetime(2026, 3, 19, 15, tzinfo=KST), cancelled=True)
    booking(datetime(2026, 3, 31, 23, 30, tzinfo=KST), "attended")
    booking(datetime(2026, 4, 1, 0, 30, tzinfo=KST))
    assert figures.clinic_summary(minji.id, MARCH.first_day, MARCH.last_day) == figures.ClinicSummary(3, 2)
    assert _report(minji).clinic == figures.ClinicSummary(3, 2)
    assert _report(minji, Month(2026, 4)).clinic == figures.ClinicSummary(1, 0)


def test_the_months_comment(academy):
    minji = academy["minji"]
    db.session.add(ReportComment(enrollment_id=minji.id, month="2026-03", text="꾸준히 성장하고 있어요."))
    db.session.flush()
    assert _report(minji).comment == "꾸준히 성장하고 있어요."
    assert _report(minji, Month(2026, 2)).comment == ""


def test_a_whole_lectures_reports_cost_the_same_queries_as_a_few(academy, count_queries):
    lecture = academy["lecture"]
    figures.load_reports(lecture.id, MARCH, TODAY)  # the lecture is fresh from here on
    with count_queries() as few:
        reports = figures.load_reports(lecture.id, MARCH, TODAY)
    assert [r.student_name for r in reports] == ["Kim Minji", "Lee Jisoo", "Park Jimin"]  # not the withdrawn
    for number in range(20):
        enroll(f"Student {number:02d}", lecture)
    with count_queries() as many:
        assert len(figures.load_reports(lecture.id, MARCH, TODAY)) == 23
    assert many.count == few.count


# ---------------------------------------------------------------- pure parts

@pytest.mark.parametrize("text", ["2026-3", "2026-13", "2026-00", "26-03", "2026-03-01", "", None, 202603, "1899-12"])
def test_month_refuses_anything_but_yyyy_mm(text):
    with pytest.raises(Invalid) as caught:
        Month.parse(text)
    assert caught.value.reason == "bad_month" and caught.value.field == "month"


def test_month_days():
    assert Month.parse("2028-02").last_day == date(2028, 2, 29)
    assert str(Month.parse("2026-12")) == "2026-12"
    assert Month(2026, 3).as_of(date(2026, 3, 15)) == date(2026, 3, 15)
    assert Month(2026, 3).as_of(date(2026, 5, 1)) == date(2026, 3, 31)


def test_class_average_rounds_half_up_once():
    assert figures.class_average([Decimal("0.01"), Decimal("0.02")]) == Decimal("0.02")  # 0.015
    assert figures.class_average([Decimal(1), Decimal(1), Decimal(2)]) == Decimal("1.33")
    assert figures.class_average([]) is None


def test_month_risk_level_of_a_past_month_is_its_highest_log():
    at = datetime(2026, 3, 1, tzinfo=UTC)
    warning = RiskEntry(at, "WARNING", "CONSECUTIVE_INCOMPLETE", 2, 2)
    assert figures.month_risk_level("DANGER", [], MARCH, TODAY) == "NORMAL"
    assert figures.month_risk_level("NORMAL", [warning], MARCH, TODAY) == "WARNING"
    assert figures.month_risk_level("DANGER", [warning], Month(2026, 4), TODAY) == "DANGER"


@settings(deadline=None)
@given(
    days=st.lists(st.tuples(st.integers(0, 70), st.sampled_from([None, "present", "late", "absent", "excused"]),
                            st.booleans()), max_size=20),
    start_offset=st.none() | st.integers(0, 70),
    today_offset=st.integers(0, 90),
    grace=st.integers(0, 30),
)
def test_month_figures_hold_together(days, start_offset, today_offset, grace):
    """Whatever the sessions: listed ones lie in the month, on or before the as-of day and not before the
    start date; attendance counts add up to them; completed <= due <= listed."""
    from datetime import timedelta

    base = date(2026, 2, 20)
    sessions = [figures.SessionFacts(index + 1, index + 1, None, base + timedelta(days=offset), presence, done)
                for index, (offset, presence, done) in enumerate(days)]
    start = None if start_offset is None else base + timedelta(days=start_offset)
    as_of = MARCH.as_of(base + timedelta(days=today_offset))
    listed = figures.month_sessions(sessions, start, MARCH, as_of)
    assert all(MARCH.first_day <= s.date <= as_of and (start is None or s.date >= start) for s in listed)
    assert len(listed) == sum(1 for s in sessions if MARCH.first_day <= s.date <= as_of
                              and (start is None or s.date >= start))
    assert sum(figures.attendance_counts(listed).values()) == len(listed)
    completed, due = figures.completion(listed, as_of, grace)
    assert completed <= due <= len(listed)
    assert due == sum(1 for s in listed if (as_of - s.date).days >= grace)

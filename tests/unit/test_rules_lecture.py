"""SPEC §4 (lecture progress, the two risk rules) and §5 (which risk-log rows a recompute records).

Pure rules only: no app, no database. Today is 2026-04-01; the grace is the default 7 days unless said.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from dashboard.progress.rules import (
    ActivityInfo,
    EnrollmentInfo,
    ExamInfo,
    ExamResult,
    LectureOutcome,
    Policy,
    SessionInfo,
    SessionOutcome,
    higher_level,
    lecture_outcome,
    risk_findings,
    risk_level_for,
    session_calendar,
    session_outcome,
)

TODAY = date(2026, 4, 1)
DEFAULT = Policy()  # exam range 2..9999, pass 60, grace 7, warning 2, danger 3
NO_START = EnrollmentInfo(id=1)


def progress(policy: Policy, session: SessionInfo, *, video: bool = True, exam: str | None = None) -> SessionOutcome:
    """A real session-progress row for `session`.

    video: watched to 100% (else 0%). exam: None (the session has no exam), "pass" (70 against 60),
    "fail" (50 against 60) or "missing" (an exam without a result). No homework.
    """
    exam_id = session.id * 10
    exams = [] if exam is None else [ExamInfo(id=exam_id, pass_score=D(60))]
    scores = {"pass": D(70), "fail": D(50)}
    results = {exam_id: ExamResult(exam_id, scores[exam], None, 1)} if exam in scores else {}
    activity = ActivityInfo("online", 100 if video else 0)
    return session_outcome(policy, session, exams, results, [], {}, activity)


def undated(*orders: int) -> list[SessionInfo]:
    return [SessionInfo(id=100 + order, order=order) for order in orders]


def lecture(policy: Policy, plan: dict[int, dict], enrollment: EnrollmentInfo = NO_START,
            sessions: list[SessionInfo] | None = None) -> LectureOutcome:
    """lecture_outcome over undated sessions (held and due) given as {order: progress kwargs}."""
    sessions = sessions or undated(*plan)
    by_order = {s.order: s for s in sessions}
    outcomes = {by_order[order].id: progress(policy, by_order[order], **kwargs) for order, kwargs in plan.items()}
    return lecture_outcome(policy, enrollment, sessions, outcomes, TODAY)


def lecture_outcome_for_video(watched: dict[int, bool], policy: Policy = DEFAULT) -> LectureOutcome:
    """Undated sessions without exams, completed exactly when their video was watched."""
    return lecture(policy, {order: {"video": done} for order, done in watched.items()})


# ---------------------------------------------------------------- counts over held, due, upcoming, not counted

def test_counts_over_a_mix_of_held_due_upcoming_and_not_counted_sessions():
    sessions = [
        SessionInfo(1, 1, date(2026, 3, 2)),   # before the start date: not counted
        SessionInfo(2, 2, date(2026, 3, 9)),   # due (9 + 7 = 16 March)
        SessionInfo(3, 3, date(2026, 3, 16)),  # due
        SessionInfo(4, 4, date(2026, 3, 25)),  # due: 25 March + 7 = 1 April = today
        SessionInfo(5, 5, date(2026, 3, 30)),  # held, not due: 30 March + 7 = 6 April
        SessionInfo(6, 6, date(2026, 4, 8)),   # upcoming
        SessionInfo(7, 7, None),               # undated: held and due
    ]
    enrollment = EnrollmentInfo(id=1, start_date=date(2026, 3, 5))
    # Rows exist only for held sessions (2, 3, 4, 5, 7); the rule must not ask for the others.
    completed = {2: True, 3: False, 4: False, 5: True, 7: False}
    outcomes = {sid: progress(DEFAULT, sessions[sid - 1], video=done) for sid, done in completed.items()}
    result = lecture_outcome(DEFAULT, enrollment, sessions, outcomes, TODAY)
    assert result.total_sessions == 7                # every session of the lecture
    assert result.completed_sessions == 2            # held and completed: 2, 5
    assert result.failed_sessions == 3               # due and not completed: 3, 4, 7 (5 is still in its grace)
    assert result.consecutive_failed_sessions == 3   # due, from the top: 7 no, 4 no, 3 no, 2 yes -> stop
    assert result.last_session_id == 7               # due with the highest order (undated)
    assert result.low_score_consecutive == 0         # no exams anywhere
    assert (result.incomplete_level, result.low_score_level, result.risk_level) == ("DANGER", "NORMAL", "DANGER")


def test_a_completed_session_in_its_grace_window_counts_as_completed_but_does_not_stop_the_walk():
    sessions = [SessionInfo(1, 1, date(2026, 3, 2)), SessionInfo(2, 2, date(2026, 3, 3)),
                SessionInfo(3, 3, date(2026, 3, 30))]
    # 1 and 2 due and incomplete; 3 held (30 March + 7 > today), completed, not due.
    outcomes = {1: progress(DEFAULT, sessions[0], video=False), 2: progress(DEFAULT, sessions[1], video=False),
                3: progress(DEFAULT, sessions[2], video=True)}
    result = lecture_outcome(DEFAULT, NO_START, sessions, outcomes, TODAY)
    # completed 1 (session 3); failed 2; the walk over due sessions is 2, 1: both incomplete -> 2.
    assert (result.completed_sessions, result.failed_sessions, result.consecutive_failed_sessions) == (1, 2, 2)
    assert result.last_session_id == 2
    assert result.risk_level == "WARNING"


def test_session_calendar_holds_and_dues_by_date_start_and_grace():
    # Today 1 April, grace 7. Enrolled from 20 March: the 1 March session is before the start (not
    # counted), 22 March is held and due (22 + 7 = 29 March), 28 March held but due only on 4 April,
    # 5 April not held yet; the undated session (order 5) is always held and due.
    sessions = [SessionInfo(1, 1, date(2026, 3, 1)), SessionInfo(2, 2, date(2026, 3, 22)),
                SessionInfo(3, 3, date(2026, 3, 28)), SessionInfo(4, 4, date(2026, 4, 5)), SessionInfo(5, 5)]
    calendar = session_calendar(DEFAULT, EnrollmentInfo(1, date(2026, 3, 20)), sessions, TODAY)
    assert [s.id for s in calendar.held] == [2, 3, 5]
    assert [s.id for s in calendar.due_latest_first] == [5, 2]


def test_grace_days_decide_what_is_due():
    sessions = [SessionInfo(1, 1, date(2026, 3, 29))]  # held 3 days ago, not completed
    outcomes = {1: progress(DEFAULT, sessions[0], video=False)}
    # Grace 3: 29 March + 3 = 1 April -> due and failed. Grace 4: 2 April -> not yet.
    due = lecture_outcome(replace(DEFAULT, completion_grace_days=3), NO_START, sessions, outcomes, TODAY)
    assert (due.failed_sessions, due.consecutive_failed_sessions, due.last_session_id) == (1, 1, 1)
    waiting = lecture_outcome(replace(DEFAULT, completion_grace_days=4), NO_START, sessions, outcomes, TODAY)
    assert (waiting.failed_sessions, waiting.consecutive_failed_sessions, waiting.last_session_id) == (0, 0, None)
    assert waiting.completed_sessions == 0


@pytest.mark.parametrize("sessions", [[], [SessionInfo(1, 1, date(2026, 4, 2)), SessionInfo(2, 2, date(2026, 5, 1))]])
def test_nothing_held_gives_zeros_and_normal(sessions):
    result = lecture_outcome(DEFAULT, NO_START, sessions, {}, TODAY)
    assert result == LectureOutcome(
        total_sessions=len(sessions), completed_sessions=0, failed_sessions=0, consecutive_failed_sessions=0,
        low_score_consecutive=0, last_session_id=None, risk_level="NORMAL", incomplete_level="NORMAL",
        low_score_level="NORMAL",
    )


def test_enrollment_starting_after_every_session_has_nothing_held():
    sessions = [SessionInfo(1, 1, date(2026, 3, 2)), SessionInfo(2, 2, date(2026, 3, 9))]
    late = EnrollmentInfo(id=1, start_date=date(2026, 3, 10))
    result = lecture_outcome(DEFAULT, late, sessions, {}, TODAY)
    assert (result.total_sessions, result.completed_sessions, result.failed_sessions) == (2, 0, 0)
    assert (result.last_session_id, result.risk_level) == (None, "NORMAL")


def test_consecutive_stops_at_the_first_completed_due_session():
    # Top down: 5 no, 4 no, 3 yes -> stop; 2 and 1 incomplete are failed but not consecutive.
    result = lecture_outcome_for_video({1: False, 2: False, 3: True, 4: False, 5: False})
    assert (result.failed_sessions, result.consecutive_failed_sessions, result.completed_sessions) == (4, 2, 1)
    assert result.last_session_id == 105


def test_latest_due_session_completed_resets_consecutive():
    result = lecture_outcome_for_video({1: False, 2: False, 3: False, 4: True})
    assert (result.failed_sessions, result.consecutive_failed_sessions, result.risk_level) == (3, 0, "NORMAL")


# ---------------------------------------------------------------- the low-score rule

def test_low_score_skips_sessions_without_exams_and_stops_at_a_passed_exam():
    plan = {
        1: {"exam": "fail"},   # out of exam range (start 2): skipped (and below the stop anyway)
        2: {"exam": "fail"},   # below the stop: not counted
        3: {"exam": "pass"},   # stop
        4: {"exam": "fail"},   # 2
        5: {},                 # no exams: skipped, does not stop
        6: {"exam": "fail"},   # 1
    }
    result = lecture(DEFAULT, plan)
    assert result.low_score_consecutive == 2
    # Incomplete walk: 6 no (exam), 5 yes -> 1, NORMAL; the low-score rule alone makes it WARNING.
    assert result.consecutive_failed_sessions == 1
    assert (result.incomplete_level, result.low_score_level, result.risk_level) == ("NORMAL", "WARNING", "WARNING")


def test_low_score_stops_at_a_session_without_a_result():
    # 4 fail -> 1; 3 has an exam but no result (not attempted) -> stop; 2 fail is not counted.
    result = lecture(DEFAULT, {2: {"exam": "fail"}, 3: {"exam": "missing"}, 4: {"exam": "fail"}})
    assert result.low_score_consecutive == 1
    # Meanwhile all three are incomplete (no result fails the exam part too): 3 consecutive -> DANGER.
    assert result.consecutive_failed_sessions == 3
    assert result.risk_level == "DANGER"


def test_low_score_skips_sessions_out_of_exam_range():
    # Exam range 2..4: session 5 is out of range (its exam does not count, progress passes) -> skipped.
    # 4 fail, 3 fail, 2 fail -> 3 -> DANGER; had session 5 stopped the walk it would be 0.
    policy = replace(DEFAULT, exam_end_session_order=4)
    result = lecture(policy, {2: {"exam": "fail"}, 3: {"exam": "fail"}, 4: {"exam": "fail"}, 5: {"exam": "fail"}})
    assert result.low_score_consecutive == 3
    assert result.low_score_level == "DANGER"


def test_low_score_walks_due_sessions_only():
    # Session 3 failed its exam but is inside its grace window (30 March + 7 > today): not walked.
    sessions = [SessionInfo(1, 2, date(2026, 3, 2)), SessionInfo(2, 3, date(2026, 3, 30))]
    outcomes = {1: progress(DEFAULT, sessions[0], exam="fail"), 2: progress(DEFAULT, sessions[1], exam="fail")}
    result = lecture_outcome(DEFAULT, NO_START, sessions, outcomes, TODAY)
    assert result.low_score_consecutive == 1
    assert result.last_session_id == 1


# ---------------------------------------------------------------- thresholds and risk level

@pytest.mark.parametrize(
    ("warning", "danger", "levels"),
    [
        (2, 3, ["NORMAL", "NORMAL", "WARNING", "DANGER", "DANGER"]),   # the defaults, counts 0..4
        (1, 4, ["NORMAL", "WARNING", "WARNING", "WARNING", "DANGER"]),
        (2, 2, ["NORMAL", "NORMAL", "DANGER", "DANGER", "DANGER"]),    # equal: WARNING never shows
        (1, 1, ["NORMAL", "DANGER", "DANGER", "DANGER", "DANGER"]),
    ],
)
def test_risk_level_for_counts(warning, danger, levels):
    policy = Policy(risk_warning_consecutive=warning, risk_danger_consecutive=danger)
    assert [risk_level_for(count, policy) for count in range(5)] == levels


def test_custom_thresholds_apply_to_the_lecture_row():
    # 3 consecutive incomplete sessions: DANGER by default; with warning 3 / danger 5 only WARNING.
    watched = {1: False, 2: False, 3: False}
    assert lecture_outcome_for_video(watched).risk_level == "DANGER"
    custom = replace(DEFAULT, risk_warning_consecutive=3, risk_danger_consecutive=5)
    assert lecture_outcome_for_video(watched, custom).risk_level == "WARNING"
    # warning == danger == 4: 3 is NORMAL, never WARNING.
    equal = replace(DEFAULT, risk_warning_consecutive=4, risk_danger_consecutive=4)
    assert lecture_outcome_for_video(watched, equal).risk_level == "NORMAL"
    assert lecture_outcome_for_video({**watched, 4: False}, equal).risk_level == "DANGER"


@pytest.mark.parametrize(
    ("a", "b", "higher"),
    [("NORMAL", "WARNING", "WARNING"), ("DANGER", "WARNING", "DANGER"), ("NORMAL", "NORMAL", "NORMAL"),
     ("WARNING", "DANGER", "DANGER")],
)
def test_higher_level(a, b, higher):
    assert higher_level(a, b) == higher


def test_risk_level_is_the_higher_of_the_two_rules():
    # Exams fail in 4, 3, 2 -> low score 3 (DANGER); video watched in 5 which has no exam -> the
    # incomplete walk stops at 5 at once (0, NORMAL). Risk: DANGER from the low-score rule.
    result = lecture(DEFAULT, {2: {"exam": "fail"}, 3: {"exam": "fail"}, 4: {"exam": "fail"}, 5: {}})
    assert (result.consecutive_failed_sessions, result.low_score_consecutive) == (0, 3)
    assert (result.incomplete_level, result.low_score_level, result.risk_level) == ("NORMAL", "DANGER", "DANGER")


# ---------------------------------------------------------------- §5 risk findings

def test_one_finding_per_rule_at_its_own_level():
    # Incomplete: 4 (video, no exam), 3 fail, 2 fail -> 3, DANGER. Low score: 4 skipped, 3, 2 -> 2, WARNING.
    result = lecture(DEFAULT, {2: {"exam": "fail"}, 3: {"exam": "fail"}, 4: {"video": False}})
    assert (result.consecutive_failed_sessions, result.low_score_consecutive) == (3, 2)
    findings = risk_findings(result)
    assert [(f.rule, f.risk_level, f.session_id, f.meta) for f in findings] == [
        ("CONSECUTIVE_INCOMPLETE", "DANGER", 104, {"count": 3}),
        ("CONSECUTIVE_LOW_SCORE", "WARNING", 104, {"count": 2}),   # session = last_session, not the exam's
    ]
    assert all(f.reason for f in findings)


def test_no_finding_when_both_rules_are_normal():
    result = lecture_outcome_for_video({1: False, 2: True})
    assert result.risk_level == "NORMAL"
    assert risk_findings(result) == []


def test_only_the_rule_at_warning_or_danger_is_recorded():
    # Incomplete 2 -> WARNING; no exams -> low score NORMAL.
    findings = risk_findings(lecture_outcome_for_video({1: False, 2: False}))
    assert [(f.rule, f.risk_level, f.session_id, f.meta) for f in findings] == [
        ("CONSECUTIVE_INCOMPLETE", "WARNING", 102, {"count": 2}),
    ]

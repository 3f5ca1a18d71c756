"""Properties of the pure progress rules (SPEC §1, §3-6) over random inputs, with hypothesis.

Example counts follow the active hypothesis profile (100 by default); no test sets its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from dashboard.progress.rules import (
    ActivityInfo,
    AnswerFactInfo,
    AttemptInfo,
    EnrollmentInfo,
    ExamInfo,
    ExamResult,
    HomeworkInfo,
    LinkState,
    Policy,
    SessionInfo,
    SubmissionInfo,
    exam_risk_reasons,
    homework_passes,
    homework_percent_rounded,
    is_due,
    is_held,
    latest_attempt,
    lecture_outcome,
    link_transition,
    risk_findings,
    risk_level_for,
    session_outcome,
)

TODAY = date(2026, 4, 1)
KST = timezone(timedelta(hours=9))
SEVERITY = {"NORMAL": 0, "WARNING": 1, "DANGER": 2}

cents = st.integers(0, 10_000).map(lambda c: D(c).scaleb(-2))           # 0.00 .. 100.00, 2 decimals
positive_cents = st.integers(1, 20_000).map(lambda c: D(c).scaleb(-2))  # 0.01 .. 200.00
# A few hours of one morning, so that equal submitted_at values (ties) are common.
moments = st.one_of(st.none(), st.integers(0, 4).map(lambda h: datetime(2026, 3, 9, 8 + h, tzinfo=KST)))


@st.composite
def policies(draw) -> Policy:
    exam_start = draw(st.integers(1, 4))
    homework_start = draw(st.integers(1, 4))
    warning = draw(st.integers(1, 4))
    return Policy(
        video_required_rate=draw(st.integers(0, 100)),
        exam_start_session_order=exam_start,
        exam_end_session_order=draw(st.integers(exam_start, 8)),
        exam_pass_score=draw(cents),
        exam_aggregate_strategy=draw(st.sampled_from(["MAX", "AVG", "LATEST"])),
        exam_pass_source=draw(st.sampled_from(["EXAM", "POLICY"])),
        homework_start_session_order=homework_start,
        homework_end_session_order=draw(st.integers(homework_start, 8)),
        homework_pass_type=draw(st.sampled_from(["SUBMIT", "SCORE", "TEACHER_APPROVAL"])),
        homework_cutline_percent=draw(st.integers(0, 100)),
        homework_round_unit=draw(st.integers(1, 100)),
        completion_grace_days=draw(st.integers(0, 10)),
        risk_warning_consecutive=warning,
        risk_danger_consecutive=draw(st.integers(warning, 5)),
    )


@dataclass(frozen=True)
class SessionInputs:
    exams: list[ExamInfo]
    results: dict[int, ExamResult]
    homeworks: list[HomeworkInfo]
    submissions: dict[int, SubmissionInfo]
    activity: ActivityInfo | None


@st.composite
def session_inputs(draw, exam_ids=st.lists(st.integers(1, 30), max_size=4, unique=True)) -> SessionInputs:
    exams, results = [], {}
    for exam_id in draw(exam_ids):
        max_score = draw(positive_cents)
        pass_score = draw(st.one_of(st.none(), cents.filter(lambda s: s <= max_score)))
        exams.append(ExamInfo(exam_id, max_score, pass_score))
        if draw(st.booleans()):
            score = draw(cents.filter(lambda s: s <= max_score))
            results[exam_id] = ExamResult(exam_id, score, draw(moments), draw(st.integers(1, 4)))
    homeworks, submissions = [], {}
    for homework_id in draw(st.lists(st.integers(1, 30), max_size=3, unique=True)):
        max_score = draw(positive_cents)
        homeworks.append(HomeworkInfo(homework_id, max_score))
        if draw(st.booleans()):
            score = draw(st.one_of(st.none(), cents.filter(lambda s: s <= max_score)))
            submissions[homework_id] = SubmissionInfo(draw(st.booleans()), score, draw(st.booleans()))
    activity = draw(st.one_of(st.none(), st.builds(ActivityInfo, st.sampled_from(["online", "offline"]),
                                                     st.integers(0, 100))))
    return SessionInputs(exams, results, homeworks, submissions, activity)


def outcome_of(policy: Policy, session: SessionInfo, inputs: SessionInputs):
    return session_outcome(policy, session, inputs.exams, inputs.results, inputs.homeworks,
                           inputs.submissions, inputs.activity)


# ---------------------------------------------------------------- §1

@given(st.lists(st.tuples(moments, cents), max_size=6), st.randoms(use_true_random=False))
def test_latest_attempt_is_the_maximum_whatever_the_order(sittings, rnd):
    attempts = [AttemptInfo(n, score, at) for n, (at, score) in enumerate(sittings, start=1)]
    shuffled = list(attempts)
    rnd.shuffle(shuffled)
    chosen = latest_attempt(shuffled)
    if not attempts:
        assert chosen is None
        return
    dated = [a for a in attempts if a.submitted_at is not None]
    if dated:
        latest = max(a.submitted_at for a in dated)
        expected = max((a for a in dated if a.submitted_at == latest), key=lambda a: a.attempt_no)
    else:
        expected = max(attempts, key=lambda a: a.attempt_no)
    assert chosen is expected


@given(st.one_of(st.none(), st.integers(-30, 10).map(lambda d: TODAY + timedelta(days=d))),
       st.one_of(st.none(), st.integers(-30, 10).map(lambda d: TODAY + timedelta(days=d))),
       st.integers(0, 10))
def test_due_implies_held_and_more_grace_never_makes_a_session_due(day, start, grace):
    session, enrollment = SessionInfo(1, 1, day), EnrollmentInfo(1, start)
    if is_due(session, enrollment, TODAY, grace):
        assert is_held(session, enrollment, TODAY)
        assert is_due(session, enrollment, TODAY, max(grace - 1, 0))
    if not is_due(session, enrollment, TODAY, grace):
        assert not is_due(session, enrollment, TODAY, grace + 1)


# ---------------------------------------------------------------- §3

@given(policies(), st.integers(1, 8), session_inputs())
def test_completed_is_video_and_exam_and_homework(policy, order, inputs):
    outcome = outcome_of(policy, SessionInfo(1, order), inputs)
    activity = inputs.activity or ActivityInfo()
    assert outcome.video_completed == (activity.attendance == "offline"
                                       or activity.video_rate >= policy.video_required_rate)
    assert outcome.completed == (outcome.video_completed and outcome.exam_passed and outcome.homework_passed)
    assert outcome.homework_submitted == (bool(inputs.homeworks) and all(
        inputs.submissions.get(h.id, SubmissionInfo()).submitted for h in inputs.homeworks))


@given(policies(), st.integers(1, 8), session_inputs())
def test_exam_part_shape_and_aggregate_bounds(policy, order, inputs):
    outcome = outcome_of(policy, SessionInfo(1, order), inputs)
    meta = outcome.exam_meta
    in_range = policy.exam_start_session_order <= order <= policy.exam_end_session_order
    assert set(meta) >= {"strategy", "pass_source", "note", "aggregate_pass_score", "exams"}
    rows = meta["exams"]
    if not in_range:
        assert rows == [] and outcome.exam_passed and not outcome.exam_attempted
        return
    assert [row["exam_id"] for row in rows] == sorted(e.id for e in inputs.exams)
    for row in rows:
        assert (row["attempt_count"] == 0) == (row["exam_id"] not in inputs.results)
    scores = [r.score for r in inputs.results.values()]
    assert outcome.exam_attempted == bool(scores)
    if not scores:
        assert outcome.exam_aggregate_score is None and meta["aggregate_pass_score"] is None
        assert outcome.exam_passed == (not inputs.exams)
        return
    aggregate = outcome.exam_aggregate_score
    if policy.exam_aggregate_strategy == "MAX":
        assert aggregate == max(scores)
    elif policy.exam_aggregate_strategy == "AVG":
        assert min(scores) <= aggregate <= max(scores)
        assert aggregate == aggregate.quantize(D("0.01"))
    else:
        assert aggregate in scores
    assert outcome.exam_passed == (aggregate >= meta["aggregate_pass_score"])


@given(policies(), session_inputs(exam_ids=st.lists(st.integers(1, 30), min_size=1, max_size=4, unique=True)))
def test_raising_every_score_by_a_cent_raises_the_aggregate_by_a_cent(policy, inputs):
    # MAX and LATEST keep the same exam; AVG's mean moves by exactly 0.01 before the single rounding.
    session = SessionInfo(1, policy.exam_start_session_order)
    outcome = outcome_of(policy, session, inputs)
    raised = {
        exam_id: ExamResult(r.exam_id, r.score + D("0.01"), r.submitted_at, r.attempt_count)
        for exam_id, r in inputs.results.items()
    }
    bumped = outcome_of(policy, session, SessionInputs(inputs.exams, raised, [], {}, None))
    if outcome.exam_attempted:
        assert bumped.exam_aggregate_score == outcome.exam_aggregate_score + D("0.01")
        assert bumped.exam_meta["aggregate_pass_score"] == outcome.exam_meta["aggregate_pass_score"]


def fraction_rounded(score: D, max_score: D, unit: int) -> Fraction:
    """The exact reference: score / max * 100 as a fraction, rounded half-up to a multiple of `unit`."""
    steps = Fraction(score) * 100 / (Fraction(max_score) * unit)
    return (steps + Fraction(1, 2)).__floor__() * unit


@given(positive_cents, st.integers(0, 20_000), st.integers(1, 100))
def test_homework_percentage_rounding_is_exact(max_score, score_cents, unit):
    score = min(D(score_cents).scaleb(-2), max_score)
    assert homework_percent_rounded(score, max_score, unit) == fraction_rounded(score, max_score, unit)


@given(policies(), positive_cents, st.integers(0, 20_000), st.integers(0, 20_000))
def test_a_higher_homework_score_never_fails_where_a_lower_passes(policy, max_score, low_cents, high_cents):
    low, high = sorted(min(D(c).scaleb(-2), max_score) for c in (low_cents, high_cents))
    homework = HomeworkInfo(1, max_score)
    if homework_passes(policy, homework, SubmissionInfo(True, low, False)):
        assert homework_passes(policy, homework, SubmissionInfo(True, high, False))


# ---------------------------------------------------------------- §4 and §5

@given(
    policies(),
    st.one_of(st.none(), st.integers(-30, 0).map(lambda d: TODAY + timedelta(days=d))),
    st.lists(
        st.tuples(st.one_of(st.none(), st.integers(-30, 10).map(lambda d: TODAY + timedelta(days=d))),
                  session_inputs()),
        max_size=8,
    ),
)
def test_lecture_counts_hang_together(policy, start, plan):
    enrollment = EnrollmentInfo(1, start)
    sessions = [SessionInfo(100 + order, order, day) for order, (day, _) in enumerate(plan, start=1)]
    held = [s for s in sessions if is_held(s, enrollment, TODAY)]
    due = [s for s in held if is_due(s, enrollment, TODAY, policy.completion_grace_days)]
    outcomes = {s.id: outcome_of(policy, s, plan[s.order - 1][1]) for s in held}
    result = lecture_outcome(policy, enrollment, sessions, outcomes, TODAY)

    due_completed = sum(1 for s in due if outcomes[s.id].completed)
    held_not_due_completed = sum(1 for s in held if s not in due and outcomes[s.id].completed)
    assert result.total_sessions == len(sessions)
    assert result.completed_sessions == due_completed + held_not_due_completed
    assert result.failed_sessions + due_completed == len(due)
    assert result.completed_sessions + result.failed_sessions <= len(held)
    assert result.consecutive_failed_sessions <= result.failed_sessions
    if due_completed == 0:
        assert result.consecutive_failed_sessions == result.failed_sessions
    assert result.low_score_consecutive <= sum(1 for s in due if outcomes[s.id].exam_attempted)
    assert result.last_session_id == (max(due, key=lambda s: s.order).id if due else None)
    assert result.risk_level == max(result.incomplete_level, result.low_score_level, key=SEVERITY.get)
    if not held:
        assert (result.completed_sessions, result.failed_sessions, result.risk_level) == (0, 0, "NORMAL")

    findings = risk_findings(result)
    levels = {"CONSECUTIVE_INCOMPLETE": result.incomplete_level, "CONSECUTIVE_LOW_SCORE": result.low_score_level}
    assert {f.rule for f in findings} == {rule for rule, level in levels.items() if level != "NORMAL"}
    for finding in findings:
        assert finding.risk_level == levels[finding.rule]
        assert finding.session_id == result.last_session_id


@given(policies(), st.integers(0, 8), st.integers(0, 8))
def test_risk_level_grows_with_the_count_and_equal_thresholds_never_warn(policy, a, b):
    low, high = sorted((a, b))
    assert SEVERITY[risk_level_for(low, policy)] <= SEVERITY[risk_level_for(high, policy)]
    if policy.risk_warning_consecutive == policy.risk_danger_consecutive:
        assert risk_level_for(low, policy) != "WARNING"


# ---------------------------------------------------------------- §6

answer_sheets = st.lists(  # one attempt: (question, is_correct, invalid_reason) per distinct question
    st.lists(st.tuples(st.integers(1, 6), st.booleans(),
                       st.sampled_from([None, "LOW_CONFIDENCE", "BLANK", "MULTI"])),
             max_size=6, unique_by=lambda t: t[0]),
    min_size=1, max_size=4,
)


def sheets_to_facts(sheets) -> list[AnswerFactInfo]:
    return [AnswerFactInfo(n, q, ok, why) for n, sheet in enumerate(sheets, start=1) for q, ok, why in sheet]


@given(policies(), cents, cents, answer_sheets, answer_sheets)
def test_another_attempt_never_clears_low_confidence_or_repeated_wrong(policy, score, new_score, before, extra):
    exam = ExamInfo(1)
    facts = sheets_to_facts(before)
    reasons = exam_risk_reasons(policy, exam, ExamResult(1, score, None, len(before)), facts)
    more = sheets_to_facts(before + extra)
    later = exam_risk_reasons(policy, exam, ExamResult(1, new_score, None, len(before) + len(extra)), more)
    if "LOW_CONFIDENCE_OMR" in reasons:
        assert later["LOW_CONFIDENCE_OMR"]["count"] >= reasons["LOW_CONFIDENCE_OMR"]["count"]
    if "REPEATED_WRONG" in reasons:
        assert set(later["REPEATED_WRONG"]["questions"]) >= set(reasons["REPEATED_WRONG"]["questions"])
    assert exam_risk_reasons(policy, exam, None, more) == {}


causes = st.one_of(st.none(), st.sampled_from([{"a": 1}, {"a": 2}, {"b": [1, 2]}]))
link_states = st.one_of(st.none(), st.builds(LinkState, st.booleans(), st.booleans(),
                                             st.sampled_from([{}, {"a": 1}, {"a": 1, "auto_resolved": True},
                                                              {"b": [1, 2], "auto_resolved": False}])))


def apply_step(step: str, link: LinkState | None, cause: dict | None) -> LinkState | None:
    """What the recompute writes for each step (SPEC §6 steps 1-4)."""
    if step in ("create", "refresh"):
        return LinkState(False, True, dict(cause))
    if step == "reopen":
        return LinkState(False, True, {**cause, "auto_resolved": False})
    if step == "resolve":
        return LinkState(True, True, {**link.meta, "auto_resolved": True})
    return link


@given(causes, link_states)
def test_link_transition_settles_after_one_step_and_spares_links_people_touched(cause, link):
    step = link_transition(cause is not None, link, cause)
    if link is not None and not link.auto_managed:
        assert step == "none"
    after = apply_step(step, link, cause)
    # Running the same recompute again changes nothing (idempotence).
    assert link_transition(cause is not None, after, cause) == "none"
    if after is not None and after.auto_managed:
        assert after.resolved == (cause is None)

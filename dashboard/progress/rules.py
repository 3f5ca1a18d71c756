"""The progress rules of SPEC §1–6 as pure functions over plain data.

No Flask, no ORM: frozen dataclasses in, dataclasses out. The recompute
(progress/recompute.py) loads facts set-based, calls these, and writes the results.
All arithmetic is exact Decimal; averages are rounded half-up to 2 places once.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Hashable, Iterable, Mapping, NamedTuple, Sequence

CENT = Decimal("0.01")
HUNDRED = Decimal(100)

# The largest whole number the database stores (an INTEGER column): ids, orders, counts.
INTEGER_MAX = 2_147_483_647

LOW_CONFIDENCE_THRESHOLD = 2  # answer facts with LOW_CONFIDENCE over all attempts (SPEC §6)
REPEATED_WRONG_THRESHOLD = 2  # distinct attempts in which a question was answered wrong


# ---------------------------------------------------------------- inputs

@dataclass(frozen=True)
class Policy:
    video_required_rate: int = 90
    exam_start_session_order: int = 2
    exam_end_session_order: int = 9999
    exam_pass_score: Decimal = Decimal(60)
    exam_aggregate_strategy: str = "MAX"
    exam_pass_source: str = "EXAM"
    homework_start_session_order: int = 2
    homework_end_session_order: int = 9999
    homework_pass_type: str = "TEACHER_APPROVAL"
    homework_cutline_percent: int = 80
    homework_round_unit: int = 5
    completion_grace_days: int = 7
    risk_warning_consecutive: int = 2
    risk_danger_consecutive: int = 3


# SPEC §2's defaults, read off the dataclass so they are written once.
POLICY_DEFAULTS: dict[str, Any] = {field.name: field.default for field in fields(Policy)}
POLICY_FIELDS: tuple[str, ...] = tuple(POLICY_DEFAULTS)


@dataclass(frozen=True)
class SessionInfo:
    id: int
    order: int
    date: date | None = None


@dataclass(frozen=True)
class EnrollmentInfo:
    id: int
    start_date: date | None = None


@dataclass(frozen=True)
class ExamInfo:
    id: int
    max_score: Decimal = Decimal(100)
    pass_score: Decimal | None = None


@dataclass(frozen=True)
class AttemptInfo:
    attempt_no: int
    score: Decimal
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class ExamResult:
    """The result (latest attempt) of one exam for one enrollment, with its attempt count."""

    exam_id: int
    score: Decimal
    submitted_at: datetime | None
    attempt_count: int


@dataclass(frozen=True)
class HomeworkInfo:
    id: int
    max_score: Decimal = Decimal(100)


@dataclass(frozen=True)
class SubmissionInfo:
    submitted: bool = False
    score: Decimal | None = None
    approved: bool = False


@dataclass(frozen=True)
class ActivityInfo:
    attendance: str = "online"
    video_rate: int = 0


@dataclass(frozen=True)
class AnswerFactInfo:
    attempt_no: int
    question: int
    is_correct: bool
    invalid_reason: str | None = None


# ---------------------------------------------------------------- outputs

@dataclass(frozen=True)
class SessionOutcome:
    """The derived fields of one session-progress row (SPEC §3), timestamps aside."""

    attendance_type: str
    video_progress_rate: int
    video_completed: bool
    exam_attempted: bool
    exam_aggregate_score: Decimal | None
    exam_passed: bool
    exam_meta: dict
    homework_submitted: bool
    homework_passed: bool
    completed: bool


@dataclass(frozen=True)
class LectureOutcome:
    """The derived fields of one lecture-progress row (SPEC §4)."""

    total_sessions: int
    completed_sessions: int
    failed_sessions: int
    consecutive_failed_sessions: int
    low_score_consecutive: int
    last_session_id: int | None
    risk_level: str
    incomplete_level: str
    low_score_level: str


@dataclass(frozen=True)
class RiskFinding:
    """One risk-log row a recompute records unless it exists already (SPEC §5)."""

    session_id: int | None
    risk_level: str
    rule: str
    reason: str
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------- §1 dates

def is_counted(session: SessionInfo, enrollment: EnrollmentInfo) -> bool:
    """Not dated before the enrollment's start date."""
    if session.date is None or enrollment.start_date is None:
        return True
    return session.date >= enrollment.start_date


def is_held(session: SessionInfo, enrollment: EnrollmentInfo, today: date) -> bool:
    return is_counted(session, enrollment) and (session.date is None or session.date <= today)


def is_due(session: SessionInfo, enrollment: EnrollmentInfo, today: date, grace_days: int) -> bool:
    if not is_held(session, enrollment, today):
        return False
    return session.date is None or session.date + timedelta(days=grace_days) <= today


def held_or_due_changed(session_date: date, grace_days: int, since: date, today: date) -> bool:
    """Whether a dated session becomes held (its date) or due (its date + grace days) on a day
    after `since` and up to `today` — the only cells a day's passing changes (for an enrollment
    the session counts for; whether it counts does not depend on the day)."""
    due_from = session_date + timedelta(days=grace_days)
    return since < session_date <= today or since < due_from <= today


def round_half_up(value: Decimal, quantum: Decimal = CENT) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def latest_attempt(attempts: Iterable[AttemptInfo]) -> AttemptInfo | None:
    """Greatest submitted_at (an attempt without one is older than any with one), then attempt_no."""
    best = None
    for attempt in attempts:
        if best is None or attempt_rank(attempt.submitted_at, attempt.attempt_no) > attempt_rank(
            best.submitted_at, best.attempt_no
        ):
            best = attempt
    return best


def latest_per(attempts: Iterable[Any], key: Callable[[Any], Hashable]) -> dict[Hashable, Any]:
    """The result (latest attempt, as `latest_attempt`) per `key` — an enrollment, or an enrollment
    and an exam — among rows carrying `submitted_at` and `attempt_no`."""
    groups: dict[Hashable, list[Any]] = {}
    for attempt in attempts:
        groups.setdefault(key(attempt), []).append(attempt)
    return {found: latest_attempt(group) for found, group in groups.items()}


def attempt_rank(submitted_at: datetime | None, attempt_no: int) -> tuple:
    """The order of attempts for 'latest': submitted ones after unsubmitted, then by time, then number.

    Works for aware or naive datetimes alike, as long as one kind is used throughout.
    """
    if submitted_at is None:
        return (False, 0.0, attempt_no)
    return (True, submitted_at.timestamp() if submitted_at.tzinfo else submitted_at.replace(tzinfo=timezone.utc).timestamp(), attempt_no)


# ---------------------------------------------------------------- §3 session progress

def in_exam_range(policy: Policy, order: int) -> bool:
    return policy.exam_start_session_order <= order <= policy.exam_end_session_order


def in_homework_range(policy: Policy, order: int) -> bool:
    return policy.homework_start_session_order <= order <= policy.homework_end_session_order


def effective_pass_score(policy: Policy, exam: ExamInfo) -> Decimal:
    if policy.exam_pass_source == "POLICY" or exam.pass_score is None:
        return policy.exam_pass_score
    return exam.pass_score


def video_completed(policy: Policy, activity: ActivityInfo) -> bool:
    return activity.attendance == "offline" or activity.video_rate >= policy.video_required_rate


def homework_percent_rounded(score: Decimal, max_score: Decimal, unit: int) -> Decimal:
    """score/max*100 exactly, rounded half-up once to the nearest multiple of `unit`."""
    percent = Decimal(score) * HUNDRED / Decimal(max_score)
    steps = (percent / Decimal(unit)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return steps * Decimal(unit)


def homework_passes(policy: Policy, homework: HomeworkInfo, submission: SubmissionInfo | None) -> bool:
    sub = submission or SubmissionInfo()
    kind = policy.homework_pass_type
    if kind == "SUBMIT":
        return sub.submitted
    if kind == "SCORE":
        if not sub.submitted or sub.score is None:
            return False
        rounded = homework_percent_rounded(sub.score, homework.max_score, policy.homework_round_unit)
        return rounded >= policy.homework_cutline_percent
    return sub.approved


def exam_part(
    policy: Policy,
    order: int,
    exams: Sequence[ExamInfo],
    results: Mapping[int, ExamResult],
) -> tuple[bool, Decimal | None, bool, dict]:
    """(exam_attempted, exam_aggregate_score, exam_passed, exam_meta) for one session."""
    meta: dict[str, Any] = {
        "strategy": policy.exam_aggregate_strategy,
        "pass_source": policy.exam_pass_source,
        "note": None,
        "aggregate_pass_score": None,
        "exams": [],
    }
    if not in_exam_range(policy, order):
        meta["note"] = "out_of_exam_range"
        return False, None, True, meta
    ordered = sorted(exams, key=lambda e: e.id)
    rows = []
    for exam in ordered:
        result = results.get(exam.id)
        pass_line = effective_pass_score(policy, exam)
        rows.append({
            "exam_id": exam.id,
            "score": result.score if result else None,
            "max_score": exam.max_score,
            "pass_score": pass_line,
            "passed": (result.score >= pass_line) if result else None,
            "submitted_at": result.submitted_at if result else None,
            "attempt_count": result.attempt_count if result else 0,
        })
    meta["exams"] = rows
    if not ordered:
        meta["note"] = "no_exams_in_session"
        return False, None, True, meta
    scored = [(exam, results[exam.id]) for exam in ordered if exam.id in results]
    if not scored:
        meta["note"] = "no_results"
        return False, None, False, meta

    strategy = policy.exam_aggregate_strategy
    if strategy == "AVG":
        aggregate = round_half_up(sum((r.score for _, r in scored), Decimal(0)) / len(scored))
        if policy.exam_pass_source == "POLICY":
            pass_line = round_half_up(Decimal(policy.exam_pass_score))
        else:
            lines = [effective_pass_score(policy, e) for e, _ in scored]
            pass_line = round_half_up(sum(lines, Decimal(0)) / len(lines))
    elif strategy == "LATEST":
        exam, result = max(
            scored, key=lambda pair: (pair[1].submitted_at is not None, pair[1].submitted_at or datetime.min, pair[0].id)
        )
        aggregate, pass_line = result.score, effective_pass_score(policy, exam)
    else:  # MAX: highest score; ties to the lower effective pass score, then the lower exam id
        exam, result = min(scored, key=lambda pair: (-pair[1].score, effective_pass_score(policy, pair[0]), pair[0].id))
        aggregate, pass_line = result.score, effective_pass_score(policy, exam)
    meta["aggregate_pass_score"] = pass_line
    return True, aggregate, aggregate >= pass_line, meta


def session_outcome(
    policy: Policy,
    session: SessionInfo,
    exams: Sequence[ExamInfo],
    results: Mapping[int, ExamResult],
    homeworks: Sequence[HomeworkInfo],
    submissions: Mapping[int, SubmissionInfo],
    activity: ActivityInfo | None,
) -> SessionOutcome:
    """SPEC §3 for one (enrollment, held session). `results` and `submissions` are keyed by exam/homework id."""
    act = activity or ActivityInfo()
    video_ok = video_completed(policy, act)
    attempted, aggregate, exam_ok, exam_meta = exam_part(policy, session.order, exams, results)
    if not homeworks or not in_homework_range(policy, session.order):
        homework_ok = True
    else:
        homework_ok = all(homework_passes(policy, hw, submissions.get(hw.id)) for hw in homeworks)
    homework_submitted = bool(homeworks) and all(
        (submissions.get(hw.id) or SubmissionInfo()).submitted for hw in homeworks
    )
    return SessionOutcome(
        attendance_type=act.attendance,
        video_progress_rate=act.video_rate,
        video_completed=video_ok,
        exam_attempted=attempted,
        exam_aggregate_score=aggregate,
        exam_passed=exam_ok,
        exam_meta=exam_meta,
        homework_submitted=homework_submitted,
        homework_passed=homework_ok,
        completed=video_ok and exam_ok and homework_ok,
    )


# ---------------------------------------------------------------- §4 lecture progress

def risk_level_for(count: int, policy: Policy) -> str:
    if count >= policy.risk_danger_consecutive:
        return "DANGER"
    if count >= policy.risk_warning_consecutive:
        return "WARNING"
    return "NORMAL"


_SEVERITY = {"NORMAL": 0, "WARNING": 1, "DANGER": 2}


def higher_level(a: str, b: str) -> str:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


def lecture_outcome(
    policy: Policy,
    enrollment: EnrollmentInfo,
    sessions: Sequence[SessionInfo],
    outcomes: Mapping[int, SessionOutcome],
    today: date,
) -> LectureOutcome:
    """SPEC §4 for one enrollment. `sessions` are all the lecture's sessions; `outcomes` keyed by session id."""
    return lecture_outcome_on(policy, session_calendar(policy, enrollment, sessions, today), len(sessions), outcomes)


class SessionCalendar(NamedTuple):
    """Which of a lecture's sessions are held for an enrollment today, and which of those are due
    (latest order first, as the consecutive counts walk them)."""

    held: tuple[SessionInfo, ...]
    due_latest_first: tuple[SessionInfo, ...]


def session_calendar(policy: Policy, enrollment: EnrollmentInfo, sessions: Sequence[SessionInfo],
                     today: date) -> SessionCalendar:
    """The held and due sessions of SPEC §3 for one enrollment: the same for every enrollment that
    starts on the same day, so a whole lecture works it out once per start date."""
    held = tuple(s for s in sessions if is_held(s, enrollment, today))
    due = sorted(
        (s for s in held if is_due(s, enrollment, today, policy.completion_grace_days)),
        key=lambda s: s.order,
        reverse=True,
    )
    return SessionCalendar(held, tuple(due))


def lecture_outcome_on(policy: Policy, calendar: SessionCalendar, total_sessions: int,
                       outcomes: Mapping[int, SessionOutcome]) -> LectureOutcome:
    """SPEC §4 for one enrollment whose held and due sessions are `calendar`."""
    held, due = calendar
    completed = sum(1 for s in held if outcomes[s.id].completed)
    failed = sum(1 for s in due if not outcomes[s.id].completed)
    consecutive = 0
    for s in due:
        if outcomes[s.id].completed:
            break
        consecutive += 1
    low_score = 0
    for s in due:
        outcome = outcomes[s.id]
        if not in_exam_range(policy, s.order) or not outcome.exam_meta.get("exams"):
            continue
        if outcome.exam_attempted and not outcome.exam_passed:
            low_score += 1
        else:
            break
    incomplete_level = risk_level_for(consecutive, policy)
    low_score_level = risk_level_for(low_score, policy)
    return LectureOutcome(
        total_sessions=total_sessions,
        completed_sessions=completed,
        failed_sessions=failed,
        consecutive_failed_sessions=consecutive,
        low_score_consecutive=low_score,
        last_session_id=due[0].id if due else None,
        risk_level=higher_level(incomplete_level, low_score_level),
        incomplete_level=incomplete_level,
        low_score_level=low_score_level,
    )


# ---------------------------------------------------------------- §5 risk log

def risk_findings(outcome: LectureOutcome) -> list[RiskFinding]:
    """One finding per rule at WARNING or DANGER, at that rule's own level."""
    findings = []
    if outcome.incomplete_level != "NORMAL":
        n = outcome.consecutive_failed_sessions
        findings.append(RiskFinding(
            session_id=outcome.last_session_id,
            risk_level=outcome.incomplete_level,
            rule="CONSECUTIVE_INCOMPLETE",
            reason=f"{n} consecutive incomplete sessions (연속 {n}차시 미완료)",
            meta={"count": n},
        ))
    if outcome.low_score_level != "NORMAL":
        n = outcome.low_score_consecutive
        findings.append(RiskFinding(
            session_id=outcome.last_session_id,
            risk_level=outcome.low_score_level,
            rule="CONSECUTIVE_LOW_SCORE",
            reason=f"{n} consecutive failed exams (연속 {n}차시 시험 미달)",
            meta={"count": n},
        ))
    return findings


# ---------------------------------------------------------------- §6 clinic links

def exam_risk_reasons(
    policy: Policy,
    exam: ExamInfo,
    result: ExamResult | None,
    facts: Iterable[AnswerFactInfo],
) -> dict:
    """The exam-risk reasons of one (enrollment, exam); empty when there is no risk or no result."""
    if result is None:
        return {}
    reasons: dict[str, Any] = {}
    pass_line = effective_pass_score(policy, exam)
    if result.score < pass_line:
        reasons["LOW_SCORE"] = {"score": result.score, "pass_score": pass_line}
    low_confidence = 0
    wrong_in: dict[int, set[int]] = {}
    for fact in facts:
        if fact.invalid_reason == "LOW_CONFIDENCE":
            low_confidence += 1
        if not fact.is_correct:
            wrong_in.setdefault(fact.question, set()).add(fact.attempt_no)
    if low_confidence >= LOW_CONFIDENCE_THRESHOLD:
        reasons["LOW_CONFIDENCE_OMR"] = {"count": low_confidence, "threshold": LOW_CONFIDENCE_THRESHOLD}
    repeated = sorted(q for q, attempts in wrong_in.items() if len(attempts) >= REPEATED_WRONG_THRESHOLD)
    if repeated:
        reasons["REPEATED_WRONG"] = {"questions": repeated}
    return reasons


def failed_link_cause(outcome: SessionOutcome | None, due: bool) -> dict[str, bool] | None:
    """The cause of an AUTO_FAILED clinic link (SPEC §6): which parts a due session that is not
    completed missed. None — no such link is wanted — when the session is not held (`outcome` None),
    not yet due, or completed."""
    if outcome is None or not due or outcome.completed:
        return None
    return {"video_completed": outcome.video_completed, "exam_passed": outcome.exam_passed,
            "homework_passed": outcome.homework_passed}


@dataclass(frozen=True)
class LinkState:
    """What a recompute needs to know of an existing automatic link."""

    resolved: bool
    auto_managed: bool
    meta: dict = field(default_factory=dict)


def link_transition(cause_present: bool, link: LinkState | None, cause_meta: dict | None = None) -> str:
    """The lifecycle step of SPEC §6 for one automatic link: what a recompute does to it.

    Returns one of "create", "refresh", "resolve", "reopen", "none".
    """
    if link is None:
        return "create" if cause_present else "none"
    if not link.auto_managed:
        return "none"
    if cause_present:
        if link.resolved:
            return "reopen"
        return "refresh" if _without_flags(link.meta) != (cause_meta or {}) else "none"
    return "none" if link.resolved else "resolve"


def _without_flags(meta: dict | None) -> dict:
    return {k: v for k, v in (meta or {}).items() if k != "auto_resolved"}


# ---------------------------------------------------------------- what a policy change did

POLICY_IMPACTS = ("became_completed", "stopped_completed", "due_changed")


def policy_impact(before: str | None, after: str | None) -> str | None:
    """How a policy change moved one cell, from its grid word before to the one after (None: no
    session-progress row): it became completed, stopped being completed, or moved between pending
    and incomplete (grace days) with its completion unchanged. None when the word is the same."""
    if before == after:
        return None
    if after == "completed":
        return "became_completed"
    if before == "completed":
        return "stopped_completed"
    return "due_changed"


# ---------------------------------------------------------------- §12 roll call and the grid's words

# What a roll call's word means for the video part: present and late attended in person.
PRESENCE_ATTENDANCE: dict[str, str] = {"present": "offline", "late": "offline", "absent": "online",
                                       "excused": "online"}


class _Keep:
    """A value a change leaves out (it keeps the stored one), unlike None, which clears."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


class PresenceConflict(ValueError):
    """A change gives a presence and an attendance that contradict each other."""


def presence_fits(presence: str | None, attendance: str) -> bool:
    """Whether a presence agrees with an attendance (no presence agrees with both)."""
    return presence is None or PRESENCE_ATTENDANCE[presence] == attendance


def roll_call(stored_attendance: str, stored_presence: str | None, *, attendance: Any = KEEP,
              presence: Any = KEEP) -> tuple[str, str | None]:
    """An activity's (attendance, presence) after a change (SPEC §12).

    A presence sets the attendance it means; an explicit None clears the roll call and leaves
    the attendance; an attendance given alone clears a stored presence that contradicts it.
    Both given and contradicting: PresenceConflict.
    """
    if presence is not KEEP and presence is not None:
        implied = PRESENCE_ATTENDANCE[presence]
        if attendance is not KEEP and attendance != implied:
            raise PresenceConflict(presence, attendance)
        return implied, presence
    new_attendance = stored_attendance if attendance is KEEP else attendance
    if presence is None:
        return new_attendance, None
    return new_attendance, stored_presence if presence_fits(stored_presence, new_attendance) else None


GRID_STATUSES = ("completed", "incomplete", "pending", "upcoming", "none")


def grid_status(session: SessionInfo, enrollment: EnrollmentInfo, today: date, grace_days: int,
                completed: bool) -> str:
    """A cell's word on the grid: `none` (before the student's start), `upcoming` (not held),
    `completed`, `incomplete` (due, not completed) or `pending` (held, not yet due)."""
    if not is_counted(session, enrollment):
        return "none"
    if not is_held(session, enrollment, today):
        return "upcoming"
    if completed:
        return "completed"
    if is_due(session, enrollment, today, grace_days):
        return "incomplete"
    return "pending"

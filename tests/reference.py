"""A deliberately simple, per-row reference reading of SPEC §1, §3–6.

Written from SPEC.md alone — it imports nothing from `dashboard.progress` — so that the
set-based recompute can be checked against a second, independent reading of the spec.
Speed does not matter here: every fact is fetched with its own small ORM query and every
rule is a plain loop. Numbers are exact (`Decimal`, and `Fraction` where a division or a
rounding happens).

`expected_rows(lecture_id, today)` answers what the derived rows of one lecture should be
right now; `stored_rows(lecture_id)` reads what the database holds, in the same shape;
`diff(expected, stored)` lists the differences as readable lines (empty when they agree).

Shape of `Expected` (enrollment ids `e`, session ids `s`, exam ids `x`):

- `lecture_id: int`, `today: date`
- `enrollment_ids: frozenset[int]` — the lecture's enrollments that are not withdrawn
- `withdrawn_ids: frozenset[int]` — withdrawn enrollments; SPEC §1 freezes their rows, so
  the reference computes nothing for them and `diff` ignores them
- `session_status: {(e, s): {"counted": bool, "held": bool, "due": bool}}` — every
  (active enrollment, session) pair; `{}` in `stored_rows` (nothing stores it)
- `session_progress: {(e, s): {...}}` — one entry per held (e, s), keys:
  `attendance_type` str, `video_progress_rate` int, `video_completed` bool,
  `exam_attempted` bool, `exam_aggregate_score` Decimal | None, `exam_passed` bool,
  `exam_meta` {`strategy` str, `pass_source` str, `note` str | None,
  `aggregate_pass_score` Decimal | None, `exams` [ {`exam_id` int, `score` Decimal | None,
  `max_score` Decimal, `pass_score` Decimal, `passed` bool | None, `submitted_at` aware
  datetime | None, `attempt_count` int} ... by ascending exam_id ]},
  `homework_submitted` bool, `homework_passed` bool, `completed` bool
- `lecture_progress: {e: {...}}` — keys `total_sessions`, `completed_sessions`,
  `failed_sessions`, `consecutive_failed_sessions` (ints), `risk_level` str,
  `last_session_id` int | None, `low_score_consecutive` int
- `clinic_links: {(e, s, reason): exam_reasons | None}` — the automatic links that should be
  OPEN now (reason `AUTO_FAILED` or `AUTO_RISK`); the value is None for AUTO_FAILED and,
  for AUTO_RISK, `{x: {"LOW_SCORE": {"score": Decimal, "pass_score": Decimal},
  "LOW_CONFIDENCE_OMR": {"count": int, "threshold": 2}, "REPEATED_WRONG": {"questions":
  [int, ... ascending]}}}` holding only the reasons that apply (exam ids as ints, where the
  stored JSON has strings)
- `risk_findings: set[(e, s, risk_level, rule)]` — the risk-log rows the current state
  implies (after one recompute of a fresh academy, exactly the stored risk logs)

The open-link set assumes no person has acted on a link (a fresh academy): links people
approved, resolved or reopened are outside the recompute's hands (SPEC §6 step 5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import (
    Activity,
    AnswerFact,
    Attempt,
    ClinicLink,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    RiskLog,
    SessionProgress,
)

LOW_CONFIDENCE_THRESHOLD = 2
LEVEL_RANK = {"NORMAL": 0, "WARNING": 1, "DANGER": 2}
CENT = Decimal("0.01")

SESSION_PROGRESS_FIELDS = (
    "attendance_type",
    "video_progress_rate",
    "video_completed",
    "exam_attempted",
    "exam_aggregate_score",
    "exam_passed",
    "exam_meta",
    "homework_submitted",
    "homework_passed",
    "completed",
)
LECTURE_PROGRESS_FIELDS = (
    "total_sessions",
    "completed_sessions",
    "failed_sessions",
    "consecutive_failed_sessions",
    "risk_level",
    "last_session_id",
    "low_score_consecutive",
)
EXAM_ROW_FIELDS = ("exam_id", "score", "max_score", "pass_score", "passed", "submitted_at", "attempt_count")


@dataclass
class Expected:
    """The derived rows of one lecture; see the module docstring for every field's shape."""

    lecture_id: int
    today: date | None
    enrollment_ids: frozenset[int]
    withdrawn_ids: frozenset[int]
    session_status: dict[tuple[int, int], dict[str, bool]] = field(default_factory=dict)
    session_progress: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    lecture_progress: dict[int, dict[str, Any]] = field(default_factory=dict)
    clinic_links: dict[tuple[int, int, str], dict[int, dict[str, Any]] | None] = field(default_factory=dict)
    risk_findings: set[tuple[int, int, str, str]] = field(default_factory=set)


# ---------------------------------------------------------------- exact numbers

def round_half_up(value: Fraction, unit: Fraction) -> Fraction:
    """Round a non-negative exact value half-up to the nearest multiple of `unit`."""
    return Fraction(math.floor(value / unit + Fraction(1, 2))) * unit


def to_cents(value: Fraction) -> Decimal:
    """An exact value rounded half-up to 2 decimals, as a Decimal."""
    cents = round_half_up(value, Fraction(1, 100)) * 100
    return (Decimal(cents.numerator) / Decimal(100)).quantize(CENT)


# ---------------------------------------------------------------- per-row facts

def _latest_attempt(enrollment_id: int, exam_id: int) -> tuple[Attempt | None, int]:
    """The result of (enrollment, exam) — its latest attempt — and how many attempts it has."""
    attempts = db.session.execute(
        select(Attempt).where(Attempt.enrollment_id == enrollment_id, Attempt.exam_id == exam_id)
    ).scalars().all()
    best = None
    for attempt in attempts:
        if best is None or _attempt_is_later(attempt, best):
            best = attempt
    return best, len(attempts)


def _attempt_is_later(a: Attempt, b: Attempt) -> bool:
    # An attempt without submitted_at is older than any with one; then attempt_no decides.
    if (a.submitted_at is None) != (b.submitted_at is None):
        return b.submitted_at is None
    if a.submitted_at is not None and a.submitted_at != b.submitted_at:
        return a.submitted_at > b.submitted_at
    return a.attempt_no > b.attempt_no


def _effective_pass_score(policy: ProgressPolicy, exam: Exam) -> Decimal:
    if policy.exam_pass_source == "POLICY" or exam.pass_score is None:
        return policy.exam_pass_score
    return exam.pass_score


def _session_exams(session_id: int) -> list[Exam]:
    links = db.session.execute(select(ExamSession).where(ExamSession.session_id == session_id)).scalars().all()
    exams = [db.session.get(Exam, link.exam_id) for link in links]
    return sorted(exams, key=lambda exam: exam.id)


def _session_homeworks(session_id: int) -> list[Homework]:
    homeworks = db.session.execute(select(Homework).where(Homework.session_id == session_id)).scalars().all()
    return sorted(homeworks, key=lambda homework: homework.id)


def _submission(enrollment_id: int, homework_id: int) -> HomeworkSubmission | None:
    return db.session.execute(
        select(HomeworkSubmission).where(
            HomeworkSubmission.enrollment_id == enrollment_id, HomeworkSubmission.homework_id == homework_id
        )
    ).scalar_one_or_none()


def _activity(enrollment_id: int, session_id: int) -> Activity | None:
    return db.session.execute(
        select(Activity).where(Activity.enrollment_id == enrollment_id, Activity.session_id == session_id)
    ).scalar_one_or_none()


# ---------------------------------------------------------------- §1 counted / held / due

def session_status(policy: ProgressPolicy, enrollment: Enrollment, session: LectureSession, today: date) -> dict:
    """Counted, held and due of one session for one enrollment (SPEC §1)."""
    counted = session.date is None or enrollment.start_date is None or session.date >= enrollment.start_date
    held = counted and (session.date is None or session.date <= today)
    due = held and (
        session.date is None or session.date + timedelta(days=policy.completion_grace_days) <= today
    )
    return {"counted": counted, "held": held, "due": due}


# ---------------------------------------------------------------- §3 session progress

def _exam_part(policy: ProgressPolicy, enrollment_id: int, session: LectureSession) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "strategy": policy.exam_aggregate_strategy,
        "pass_source": policy.exam_pass_source,
        "note": None,
        "aggregate_pass_score": None,
        "exams": [],
    }
    if not policy.exam_start_session_order <= session.order <= policy.exam_end_session_order:
        meta["note"] = "out_of_exam_range"
        return {"exam_attempted": False, "exam_aggregate_score": None, "exam_passed": True, "exam_meta": meta}

    exams = _session_exams(session.id)
    with_result = []  # (exam, result, effective pass score)
    for exam in exams:
        result, attempt_count = _latest_attempt(enrollment_id, exam.id)
        pass_score = _effective_pass_score(policy, exam)
        meta["exams"].append({
            "exam_id": exam.id,
            "score": result.score if result else None,
            "max_score": exam.max_score,
            "pass_score": pass_score,
            "passed": (result.score >= pass_score) if result else None,
            "submitted_at": result.submitted_at if result else None,
            "attempt_count": attempt_count,
        })
        if result is not None:
            with_result.append((exam, result, pass_score))

    if not exams:
        meta["note"] = "no_exams_in_session"
        return {"exam_attempted": False, "exam_aggregate_score": None, "exam_passed": True, "exam_meta": meta}
    if not with_result:
        meta["note"] = "no_results"
        return {"exam_attempted": False, "exam_aggregate_score": None, "exam_passed": False, "exam_meta": meta}

    strategy = policy.exam_aggregate_strategy
    if strategy == "MAX":
        chosen = with_result[0]
        for candidate in with_result[1:]:
            # Highest score; ties to the lower effective pass score, then the lower exam id.
            if (-candidate[1].score, candidate[2], candidate[0].id) < (-chosen[1].score, chosen[2], chosen[0].id):
                chosen = candidate
        aggregate, pass_line = chosen[1].score, chosen[2]
    elif strategy == "AVG":
        count = len(with_result)
        aggregate = to_cents(sum((Fraction(r.score) for _, r, _ in with_result), Fraction(0)) / count)
        if policy.exam_pass_source == "POLICY":
            pass_line = to_cents(Fraction(policy.exam_pass_score))
        else:
            pass_line = to_cents(sum((Fraction(p) for _, _, p in with_result), Fraction(0)) / count)
    elif strategy == "LATEST":
        chosen = with_result[0]
        for candidate in with_result[1:]:
            if _result_is_later_across_exams(candidate, chosen):
                chosen = candidate
        aggregate, pass_line = chosen[1].score, chosen[2]
    else:
        raise ValueError(f"unknown strategy {strategy!r}")

    meta["aggregate_pass_score"] = pass_line
    return {
        "exam_attempted": True,
        "exam_aggregate_score": aggregate,
        "exam_passed": aggregate >= pass_line,
        "exam_meta": meta,
    }


def _result_is_later_across_exams(a: tuple, b: tuple) -> bool:
    # Latest submitted_at (null oldest); attempt numbers are never compared across exams;
    # ties go to the higher exam id.
    a_time, b_time = a[1].submitted_at, b[1].submitted_at
    if (a_time is None) != (b_time is None):
        return b_time is None
    if a_time is not None and a_time != b_time:
        return a_time > b_time
    return a[0].id > b[0].id


def homework_passes(policy: ProgressPolicy, homework: Homework, submission: HomeworkSubmission | None) -> bool:
    """One homework passes by the policy's pass type (SPEC §3)."""
    pass_type = policy.homework_pass_type
    if pass_type == "SUBMIT":
        return submission is not None and submission.submitted
    if pass_type == "TEACHER_APPROVAL":
        return submission is not None and submission.approved
    if pass_type == "SCORE":
        if submission is None or not submission.submitted or submission.score is None:
            return False
        percent = Fraction(submission.score) / Fraction(homework.max_score) * 100
        rounded = round_half_up(percent, Fraction(policy.homework_round_unit))
        return rounded >= policy.homework_cutline_percent
    raise ValueError(f"unknown homework pass type {pass_type!r}")


def _homework_part(policy: ProgressPolicy, enrollment_id: int, session: LectureSession) -> dict[str, bool]:
    homeworks = _session_homeworks(session.id)
    submissions = [_submission(enrollment_id, homework.id) for homework in homeworks]
    submitted = bool(homeworks) and all(s is not None and s.submitted for s in submissions)
    in_range = policy.homework_start_session_order <= session.order <= policy.homework_end_session_order
    if not in_range or not homeworks:
        passed = True
    else:
        passed = all(homework_passes(policy, h, s) for h, s in zip(homeworks, submissions))
    return {"homework_submitted": submitted, "homework_passed": passed}


def session_progress(policy: ProgressPolicy, enrollment_id: int, session: LectureSession) -> dict[str, Any]:
    """The session-progress values of one held (enrollment, session) (SPEC §3)."""
    activity = _activity(enrollment_id, session.id)
    attendance = activity.attendance if activity else "online"
    video_rate = activity.video_rate if activity else 0
    row: dict[str, Any] = {
        "attendance_type": attendance,
        "video_progress_rate": video_rate,
        "video_completed": attendance == "offline" or video_rate >= policy.video_required_rate,
    }
    row.update(_exam_part(policy, enrollment_id, session))
    row.update(_homework_part(policy, enrollment_id, session))
    row["completed"] = row["video_completed"] and row["exam_passed"] and row["homework_passed"]
    return {name: row[name] for name in SESSION_PROGRESS_FIELDS}


# ---------------------------------------------------------------- §4 lecture progress

def level_for(policy: ProgressPolicy, count: int) -> str:
    if count >= policy.risk_danger_consecutive:
        return "DANGER"
    if count >= policy.risk_warning_consecutive:
        return "WARNING"
    return "NORMAL"


def _lecture_progress(policy, sessions, statuses, progress, enrollment_id) -> dict[str, Any]:
    held = [s for s in sessions if statuses[(enrollment_id, s.id)]["held"]]
    due_desc = sorted(
        (s for s in sessions if statuses[(enrollment_id, s.id)]["due"]), key=lambda s: s.order, reverse=True
    )
    consecutive = 0
    for session in due_desc:
        if progress[(enrollment_id, session.id)]["completed"]:
            break
        consecutive += 1

    low_score = 0
    for session in due_desc:
        in_range = policy.exam_start_session_order <= session.order <= policy.exam_end_session_order
        if not in_range or not _session_exams(session.id):
            continue
        cell = progress[(enrollment_id, session.id)]
        if not (cell["exam_attempted"] and not cell["exam_passed"]):
            break
        low_score += 1

    incomplete_level, low_level = level_for(policy, consecutive), level_for(policy, low_score)
    risk_level = max(incomplete_level, low_level, key=LEVEL_RANK.__getitem__)
    return {
        "total_sessions": len(sessions),
        "completed_sessions": sum(1 for s in held if progress[(enrollment_id, s.id)]["completed"]),
        "failed_sessions": sum(1 for s in due_desc if not progress[(enrollment_id, s.id)]["completed"]),
        "consecutive_failed_sessions": consecutive,
        "risk_level": risk_level,
        "last_session_id": due_desc[0].id if due_desc else None,
        "low_score_consecutive": low_score,
    }


# ---------------------------------------------------------------- §6 exam risk

def exam_risk(policy: ProgressPolicy, enrollment_id: int, exam: Exam) -> dict[str, Any]:
    """The risk reasons of (enrollment, exam); {} when it has no result or no risk (SPEC §6)."""
    result, _ = _latest_attempt(enrollment_id, exam.id)
    if result is None:
        return {}
    reasons: dict[str, Any] = {}
    pass_score = _effective_pass_score(policy, exam)
    if result.score < pass_score:
        reasons["LOW_SCORE"] = {"score": result.score, "pass_score": pass_score}

    attempts = db.session.execute(
        select(Attempt).where(Attempt.enrollment_id == enrollment_id, Attempt.exam_id == exam.id)
    ).scalars().all()
    low_confidence = 0
    wrong_in: dict[int, set[int]] = {}
    for attempt in attempts:
        facts = db.session.execute(select(AnswerFact).where(AnswerFact.attempt_id == attempt.id)).scalars().all()
        for fact in facts:
            if fact.invalid_reason == "LOW_CONFIDENCE":
                low_confidence += 1
            if not fact.is_correct:
                wrong_in.setdefault(fact.question, set()).add(attempt.id)
    if low_confidence >= LOW_CONFIDENCE_THRESHOLD:
        reasons["LOW_CONFIDENCE_OMR"] = {"count": low_confidence, "threshold": LOW_CONFIDENCE_THRESHOLD}
    repeated = sorted(question for question, attempt_ids in wrong_in.items() if len(attempt_ids) >= 2)
    if repeated:
        reasons["REPEATED_WRONG"] = {"questions": repeated}
    return reasons


# ---------------------------------------------------------------- the whole lecture

def expected_rows(lecture_id: int, today: date) -> Expected:
    """What SPEC §1, §3–6 say the derived rows of one lecture are on `today`."""
    policy = db.session.execute(select(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture_id)).scalar_one()
    sessions = sorted(
        db.session.execute(select(LectureSession).where(LectureSession.lecture_id == lecture_id)).scalars(),
        key=lambda s: s.order,
    )
    enrollments = sorted(
        db.session.execute(select(Enrollment).where(Enrollment.lecture_id == lecture_id)).scalars(),
        key=lambda e: e.id,
    )
    active = [e for e in enrollments if e.withdrawn_at is None]
    expected = Expected(
        lecture_id=lecture_id,
        today=today,
        enrollment_ids=frozenset(e.id for e in active),
        withdrawn_ids=frozenset(e.id for e in enrollments if e.withdrawn_at is not None),
    )

    for enrollment in active:
        for session in sessions:
            key = (enrollment.id, session.id)
            status = session_status(policy, enrollment, session, today)
            expected.session_status[key] = status
            if status["held"]:
                expected.session_progress[key] = session_progress(policy, enrollment.id, session)

    for enrollment in active:
        lecture_row = _lecture_progress(
            policy, sessions, expected.session_status, expected.session_progress, enrollment.id
        )
        expected.lecture_progress[enrollment.id] = lecture_row
        rules = (
            ("CONSECUTIVE_INCOMPLETE", lecture_row["consecutive_failed_sessions"]),
            ("CONSECUTIVE_LOW_SCORE", lecture_row["low_score_consecutive"]),
        )
        for rule, count in rules:
            level = level_for(policy, count)
            if level != "NORMAL":
                expected.risk_findings.add((enrollment.id, lecture_row["last_session_id"], level, rule))

        for session in sessions:
            key = (enrollment.id, session.id)
            status = expected.session_status[key]
            if status["due"] and not expected.session_progress[key]["completed"]:
                expected.clinic_links[(enrollment.id, session.id, "AUTO_FAILED")] = None
            if status["held"]:
                # Every exam linked to a held session counts, in exam range or not.
                exam_reasons = {}
                for exam in _session_exams(session.id):
                    reasons = exam_risk(policy, enrollment.id, exam)
                    if reasons:
                        exam_reasons[exam.id] = reasons
                if exam_reasons:
                    expected.clinic_links[(enrollment.id, session.id, "AUTO_RISK")] = exam_reasons
    return expected


# ---------------------------------------------------------------- what is stored

def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"a boolean {value!r} where a number was expected")
    return Decimal(str(value))


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _stored_exam_meta(meta: Any) -> Any:
    """The contract part of a stored exam_meta, numbers as Decimal and times as datetimes."""
    if not isinstance(meta, dict):
        return meta
    exams = []
    for row in meta.get("exams") or []:
        exams.append({
            "exam_id": row.get("exam_id"),
            "score": _decimal(row.get("score")),
            "max_score": _decimal(row.get("max_score")),
            "pass_score": _decimal(row.get("pass_score")),
            "passed": row.get("passed"),
            "submitted_at": _time(row.get("submitted_at")),
            "attempt_count": row.get("attempt_count"),
        })
    return {
        "strategy": meta.get("strategy"),
        "pass_source": meta.get("pass_source"),
        "note": meta.get("note"),
        "aggregate_pass_score": _decimal(meta.get("aggregate_pass_score")),
        "exams": exams if "exams" in meta else None,
    }


def _stored_exam_reasons(meta: Any) -> Any:
    if not isinstance(meta, dict) or not isinstance(meta.get("exam_reasons"), dict):
        return meta
    reasons_by_exam = {}
    for exam_id, reasons in meta["exam_reasons"].items():
        normalised = {}
        for reason, details in reasons.items():
            if reason == "LOW_SCORE":
                details = {"score": _decimal(details.get("score")), "pass_score": _decimal(details.get("pass_score"))}
            elif reason == "REPEATED_WRONG":
                details = {"questions": list(details.get("questions") or [])}
            elif reason == "LOW_CONFIDENCE_OMR":
                details = {"count": details.get("count"), "threshold": details.get("threshold")}
            normalised[reason] = details
        reasons_by_exam[int(exam_id)] = normalised
    return reasons_by_exam


def stored_rows(lecture_id: int) -> Expected:
    """The derived rows the database holds for one lecture's active enrollments, shaped like `Expected`.

    Stored JSON numbers become Decimals and ISO times become datetimes; meta keys outside
    the contract are dropped. `session_status` stays empty and `today` None.
    """
    enrollments = db.session.execute(select(Enrollment).where(Enrollment.lecture_id == lecture_id)).scalars().all()
    active = frozenset(e.id for e in enrollments if e.withdrawn_at is None)
    stored = Expected(
        lecture_id=lecture_id,
        today=None,
        enrollment_ids=active,
        withdrawn_ids=frozenset(e.id for e in enrollments if e.withdrawn_at is not None),
    )
    for row in db.session.execute(
        select(SessionProgress).where(SessionProgress.enrollment_id.in_(active))
    ).scalars():
        values = {name: getattr(row, name) for name in SESSION_PROGRESS_FIELDS}
        values["exam_meta"] = _stored_exam_meta(row.exam_meta)
        stored.session_progress[(row.enrollment_id, row.session_id)] = values
    for row in db.session.execute(
        select(LectureProgress).where(LectureProgress.enrollment_id.in_(active))
    ).scalars():
        values = {name: getattr(row, name) for name in LECTURE_PROGRESS_FIELDS if name != "low_score_consecutive"}
        values["low_score_consecutive"] = (row.meta or {}).get("low_score_consecutive")
        stored.lecture_progress[row.enrollment_id] = values
    for link in db.session.execute(
        select(ClinicLink).where(
            ClinicLink.enrollment_id.in_(active),
            ClinicLink.reason.in_(("AUTO_FAILED", "AUTO_RISK")),
            ClinicLink.resolved_at.is_(None),
        )
    ).scalars():
        value = _stored_exam_reasons(link.meta) if link.reason == "AUTO_RISK" else None
        stored.clinic_links[(link.enrollment_id, link.session_id, link.reason)] = value
    for log in db.session.execute(select(RiskLog).where(RiskLog.enrollment_id.in_(active))).scalars():
        stored.risk_findings.add((log.enrollment_id, log.session_id, log.risk_level, log.rule))
    return stored


def diff(expected: Expected, stored: Expected) -> list[str]:
    """Readable differences between the reference and the stored rows ([] when they agree)."""
    problems: list[str] = []

    def compare_maps(name: str, want: dict, have: dict) -> None:
        for key in sorted(set(want) | set(have), key=repr):
            if key not in have:
                problems.append(f"{name}{key}: missing, expected {want[key]!r}")
            elif key not in want:
                problems.append(f"{name}{key}: unexpected row {have[key]!r}")
            elif want[key] != have[key]:
                if isinstance(want[key], dict) and isinstance(have[key], dict):
                    for field_name in sorted(set(want[key]) | set(have[key])):
                        a, b = want[key].get(field_name), have[key].get(field_name)
                        if a != b:
                            problems.append(f"{name}{key}.{field_name}: expected {a!r}, stored {b!r}")
                else:
                    problems.append(f"{name}{key}: expected {want[key]!r}, stored {have[key]!r}")

    compare_maps("session_progress", expected.session_progress, stored.session_progress)
    compare_maps("lecture_progress", expected.lecture_progress, stored.lecture_progress)
    compare_maps("clinic_link", expected.clinic_links, stored.clinic_links)
    for finding in sorted(expected.risk_findings - stored.risk_findings, key=repr):
        problems.append(f"risk_log{finding}: missing")
    for finding in sorted(stored.risk_findings - expected.risk_findings, key=repr):
        problems.append(f"risk_log{finding}: unexpected")
    return problems

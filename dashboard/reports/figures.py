"""The numbers of a student's monthly report (SPEC §15).

A report covers the sessions of the enrollment's lecture dated in the month (and counted for the
enrollment, SPEC §1), seen as on the report's *as-of* day: the month's last day, or today when
that is earlier. A session dated after the as-of day is not yet held and takes no part; a held
session counts as due when its date plus the lecture's grace days is on or before the as-of day.

The first half of this module is pure (plain data in, plain data out) and carries the rules; the
second half, `load_reports`, reads the facts of one lecture's reports with a fixed number of
queries whatever the number of students, so a whole lecture's PDF costs no more queries than one
report.
"""
from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import false, select

from dashboard.errors import Invalid
from dashboard.extensions import db
from dashboard.models import (
    PRESENCE_VALUES,
    Activity,
    Attempt,
    ClinicBooking,
    ClinicSession,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    ReportComment,
    RiskLog,
    SessionProgress,
    Student,
)
from dashboard.progress import rules

MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
LEVEL_RANK = {"NORMAL": 0, "WARNING": 1, "DANGER": 2}


# ---------------------------------------------------------------- the month

@dataclass(frozen=True, order=True)
class Month:
    """A calendar month of the academy, written YYYY-MM."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: object, field_name: str = "month") -> Month:
        """`YYYY-MM` (months 01..12, years 1900..9999); anything else is refused naming the field."""
        match = MONTH_PATTERN.match(text) if isinstance(text, str) else None
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
            raise Invalid("bad_month", field_name)
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def as_of(self, today: date) -> date:
        """The day the report's figures are counted on: the month's last day or today, whichever is earlier."""
        return min(self.last_day, today)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


# ---------------------------------------------------------------- pure rules

@dataclass(frozen=True)
class SessionFacts:
    """One session of the lecture dated in the month, with this enrollment's facts about it."""

    id: int
    order: int
    title: str | None
    date: date
    presence: str | None = None
    completed: bool = False


@dataclass(frozen=True)
class ExamLine:
    """One exam of the month: the student's result, the class average and the pass line."""

    exam_id: int
    title: str
    max_score: Decimal
    pass_line: Decimal
    score: Decimal | None
    class_average: Decimal | None
    passed: bool | None


@dataclass(frozen=True)
class HomeworkLine:
    homework_id: int
    title: str | None
    session_order: int
    done: bool


@dataclass(frozen=True)
class RiskEntry:
    """One risk log of the month."""

    created_at: datetime
    risk_level: str
    rule: str
    session_order: int | None
    count: int | None


@dataclass(frozen=True)
class ClinicSummary:
    """Clinic sessions booked and attended in the month."""

    booked: int = 0
    attended: int = 0


@dataclass(frozen=True)
class Report:
    """Everything one monthly report shows."""

    enrollment_id: int
    lecture_id: int
    lecture_title: str
    student_name: str
    month: Month
    as_of: date
    sessions: list[SessionFacts]
    attendance: dict[str, int]
    completed: int
    due: int
    exams: list[ExamLine]
    homework: list[HomeworkLine]
    risk_level: str
    risk_history: list[RiskEntry]
    clinic: ClinicSummary
    comment: str
    withdrawn: bool = False
    comment_updated_at: datetime | None = None
    sessions_later: int = 0
    due_session_ids: frozenset[int] = frozenset()

    @property
    def homework_done(self) -> int:
        return sum(1 for line in self.homework if line.done)

    @property
    def session_orders(self) -> dict[int, int]:
        return {session.id: session.order for session in self.sessions}


def month_sessions(sessions: Iterable[SessionFacts], start_date: date | None, month: Month,
                   as_of: date) -> list[SessionFacts]:
    """The sessions a report lists: dated in the month, on or before the as-of day, not before the
    enrollment's start date; by order."""
    enrollment = rules.EnrollmentInfo(0, start_date)
    return sorted(
        (s for s in sessions
         if month.first_day <= s.date <= month.last_day
         and rules.is_held(rules.SessionInfo(s.id, s.order, s.date), enrollment, as_of)),
        key=lambda s: s.order,
    )


def attendance_counts(sessions: Iterable[SessionFacts]) -> dict[str, int]:
    """How many of the sessions had each roll-call word, plus `not_taken` (no roll call)."""
    counts = {presence: 0 for presence in PRESENCE_VALUES}
    counts["not_taken"] = 0
    for session in sessions:
        counts[session.presence if session.presence in counts else "not_taken"] += 1
    return counts


def due_sessions(sessions: Iterable[SessionFacts], as_of: date, grace_days: int) -> list[SessionFacts]:
    """Of the listed sessions, those due on the as-of day (date + grace days on or before it)."""
    return [s for s in sessions if s.date + timedelta(days=grace_days) <= as_of]


def completion(sessions: Iterable[SessionFacts], as_of: date, grace_days: int) -> tuple[int, int]:
    """(completed, due): of the listed sessions, those due on the as-of day, and of them the completed ones."""
    due = due_sessions(sessions, as_of, grace_days)
    return sum(1 for s in due if s.completed), len(due)


def class_average(scores: Iterable[Decimal]) -> Decimal | None:
    """The mean of the results, rounded half-up to 2 decimals once (None when nobody has one)."""
    values = list(scores)
    if not values:
        return None
    return rules.round_half_up(sum(values, Decimal(0)) / len(values))


def month_risk_level(current_level: str, history: Sequence[RiskEntry], month: Month, today: date) -> str:
    """The risk level a report shows: the student's level now when the month is the current one
    (or later); for a past month, the highest level its risk logs recorded (NORMAL without any)."""
    if month >= Month.of(today):
        return current_level
    return max((entry.risk_level for entry in history), key=LEVEL_RANK.__getitem__, default="NORMAL")


def in_month(moment: datetime, month: Month, zone) -> bool:
    """Whether a timestamp falls in the month on the academy's calendar."""
    return Month.of(moment.astimezone(zone).date()) == month


# ---------------------------------------------------------------- clinic (seam)

def month_bounds(month: Month, zone) -> tuple[datetime, datetime]:
    """The month as [start, end) instants in UTC, on the academy's calendar."""
    start = datetime.combine(month.first_day, time(0), zone).astimezone(UTC)
    end = datetime.combine(month.last_day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def clinic_summaries(enrollment_ids: Sequence[int], first_day: date, last_day: date, zone) -> dict[int, ClinicSummary]:
    """Clinic sessions booked and attended per enrollment between two academy dates (inclusive):
    the bookings (SPEC §13) not cancelled whose clinic session starts in the period, and those of
    them marked attended. A no-show stays booked and not attended; a cancelled clinic session
    cancelled its bookings."""
    if not enrollment_ids:
        return {}
    start = datetime.combine(first_day, time(0), zone).astimezone(UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(0), zone).astimezone(UTC)
    rows = db.session.execute(
        select(ClinicBooking.enrollment_id, ClinicBooking.attendance)
        .join(ClinicSession, ClinicSession.id == ClinicBooking.clinic_session_id)
        .where(ClinicBooking.enrollment_id.in_(list(enrollment_ids)), ClinicBooking.cancelled_at.is_(None),
               ClinicSession.starts_at >= start, ClinicSession.starts_at < end)
    ).all()
    booked: dict[int, int] = defaultdict(int)
    attended: dict[int, int] = defaultdict(int)
    for enrollment_id, attendance in rows:
        booked[enrollment_id] += 1
        if attendance == "attended":
            attended[enrollment_id] += 1
    return {eid: ClinicSummary(booked[eid], attended[eid]) for eid in enrollment_ids}


def clinic_summary(enrollment_id: int, first_day: date, last_day: date) -> ClinicSummary:
    """Clinic sessions booked and attended by one enrollment between two academy dates (inclusive)."""
    from dashboard.clock import academy_timezone

    return clinic_summaries([enrollment_id], first_day, last_day, academy_timezone())[enrollment_id]


# ---------------------------------------------------------------- the read side

@dataclass
class _LectureFacts:
    """What the reports of one lecture share: its sessions in the month, their exams and homework."""

    sessions: list[SessionFacts] = field(default_factory=list)
    exams: dict[int, Exam] = field(default_factory=dict)
    exam_sessions: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    homeworks: list[Homework] = field(default_factory=list)


def load_reports(lecture_id: int, month: Month, today: date, enrollment_ids: Sequence[int] | None = None,
                 *, refresh: bool = True) -> list[Report]:
    """The month's reports of a lecture's students: the given enrollments (of this lecture), or
    every active one, by student name. A fixed number of queries whatever the class size."""
    from dashboard.clock import academy_timezone
    from dashboard.progress.recompute import ensure_fresh

    if refresh:
        ensure_fresh(lecture_id)  # derived rows (completion, risk) must be today's (SPEC §7)
    zone = academy_timezone()
    as_of = month.as_of(today)
    lecture_title = db.session.execute(select(Lecture.title).where(Lecture.id == lecture_id)).scalar_one_or_none()
    if lecture_title is None:
        return []
    statement = (select(Enrollment, Student.name).join(Student, Student.id == Enrollment.student_id)
                 .where(Enrollment.lecture_id == lecture_id))
    if enrollment_ids is None:
        statement = statement.where(Enrollment.withdrawn_at.is_(None))
    else:
        statement = statement.where(Enrollment.id.in_(list(enrollment_ids)) if enrollment_ids else false())
    enrollments = db.session.execute(statement.order_by(Student.name, Enrollment.id)).all()
    if not enrollments:
        return []
    ids = [enrollment.id for enrollment, _ in enrollments]
    policy = _policy(lecture_id)

    month_rows = db.session.execute(
        select(LectureSession).where(LectureSession.lecture_id == lecture_id,
                                     LectureSession.date >= month.first_day, LectureSession.date <= month.last_day)
    ).scalars().all()
    held_ids = [s.id for s in month_rows if s.date <= as_of]
    presence = {(a.enrollment_id, a.session_id): a.presence for a in db.session.execute(
        select(Activity).where(Activity.enrollment_id.in_(ids), Activity.session_id.in_(held_ids))).scalars()}
    completed = {(eid, sid) for eid, sid in db.session.execute(
        select(SessionProgress.enrollment_id, SessionProgress.session_id)
        .where(SessionProgress.enrollment_id.in_(ids), SessionProgress.session_id.in_(held_ids),
               SessionProgress.completed.is_(True)))}

    exam_links = db.session.execute(
        select(ExamSession.exam_id, ExamSession.session_id).where(ExamSession.session_id.in_(held_ids))).all()
    exam_sessions: dict[int, set[int]] = defaultdict(set)
    for exam_id, session_id in exam_links:
        exam_sessions[exam_id].add(session_id)
    exams = {e.id: e for e in db.session.execute(
        select(Exam).where(Exam.id.in_(list(exam_sessions)))).scalars()}
    # Every attempt of these exams by the lecture's enrollments: the class average takes the
    # active ones' results, each report its own student's.
    attempts: dict[tuple[int, int], list[rules.AttemptInfo]] = defaultdict(list)
    active: set[int] = set()
    for attempt, withdrawn_at in db.session.execute(
        select(Attempt, Enrollment.withdrawn_at).join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(Enrollment.lecture_id == lecture_id, Attempt.exam_id.in_(list(exams)))
    ).all():
        attempts[(attempt.enrollment_id, attempt.exam_id)].append(
            rules.AttemptInfo(attempt.attempt_no, attempt.score, attempt.submitted_at))
        if withdrawn_at is None:
            active.add(attempt.enrollment_id)
    results = {key: rules.latest_attempt(found).score for key, found in attempts.items()}
    averages = {exam_id: class_average(score for (eid, xid), score in results.items()
                                       if xid == exam_id and eid in active) for exam_id in exams}

    homeworks = db.session.execute(
        select(Homework).where(Homework.session_id.in_(held_ids)).order_by(Homework.id)).scalars().all()
    submissions = {(s.enrollment_id, s.homework_id): s for s in db.session.execute(
        select(HomeworkSubmission).where(HomeworkSubmission.enrollment_id.in_(ids),
                                         HomeworkSubmission.homework_id.in_([h.id for h in homeworks]))).scalars()}

    levels = dict(db.session.execute(
        select(LectureProgress.enrollment_id, LectureProgress.risk_level)
        .where(LectureProgress.enrollment_id.in_(ids))).all())
    logs: dict[int, list] = defaultdict(list)
    for log, session_date, session_order in db.session.execute(
        select(RiskLog, LectureSession.date, LectureSession.order)
        .outerjoin(LectureSession, LectureSession.id == RiskLog.session_id)
        .where(RiskLog.enrollment_id.in_(ids)).order_by(RiskLog.created_at, RiskLog.id)
    ).all():
        logs[log.enrollment_id].append((log, session_date, session_order))
    comments = {c.enrollment_id: c for c in db.session.execute(
        select(ReportComment).where(ReportComment.enrollment_id.in_(ids),
                                    ReportComment.month == str(month))).scalars()}
    clinic = clinic_summaries(ids, month.first_day, month.last_day, zone)

    reports = []
    for enrollment, name in enrollments:
        facts = [SessionFacts(s.id, s.order, s.title, s.date, presence.get((enrollment.id, s.id)),
                              (enrollment.id, s.id) in completed) for s in month_rows]
        listed = month_sessions(facts, enrollment.start_date, month, as_of)
        listed_ids = {s.id for s in listed}
        scheduled = month_sessions(facts, enrollment.start_date, month, month.last_day)
        done, due = completion(listed, as_of, policy.completion_grace_days)
        exam_lines = []
        for exam_id in sorted(exams, key=lambda x: (min(_order(month_rows, s) for s in exam_sessions[x]), x)):
            if not exam_sessions[exam_id] & listed_ids:
                continue
            exam = exams[exam_id]
            pass_line = rules.effective_pass_score(policy, rules.ExamInfo(exam.id, exam.max_score, exam.pass_score))
            score = results.get((enrollment.id, exam_id))
            exam_lines.append(ExamLine(exam_id, exam.title, exam.max_score, pass_line, score, averages[exam_id],
                                       None if score is None else score >= pass_line))
        orders = {s.id: s.order for s in listed}
        homework_lines = [
            HomeworkLine(h.id, h.title, orders[h.session_id], rules.homework_passes(
                policy, rules.HomeworkInfo(h.id, h.max_score), _submission(submissions.get((enrollment.id, h.id)))))
            for h in homeworks if h.session_id in listed_ids
        ]
        history = [RiskEntry(log.created_at, log.risk_level, log.rule, order, (log.meta or {}).get("count"))
                   for log, session_date, order in logs[enrollment.id]
                   if _log_in_month(log, session_date, month, as_of, zone)]
        comment = comments.get(enrollment.id)
        reports.append(Report(
            enrollment_id=enrollment.id, lecture_id=lecture_id, lecture_title=lecture_title, student_name=name,
            month=month, as_of=as_of, sessions=listed, attendance=attendance_counts(listed), completed=done,
            due=due, exams=exam_lines, homework=sorted(homework_lines, key=lambda h: (h.session_order, h.homework_id)),
            risk_level=month_risk_level(levels.get(enrollment.id, "NORMAL"), history, month, today),
            risk_history=history, clinic=clinic[enrollment.id], comment=comment.text if comment else "",
            withdrawn=enrollment.withdrawn_at is not None,
            comment_updated_at=comment.updated_at if comment else None,
            sessions_later=len(scheduled) - len(listed),
            due_session_ids=frozenset(s.id for s in due_sessions(listed, as_of, policy.completion_grace_days)),
        ))
    return reports


def load_report(enrollment_id: int, month: Month, today: date) -> Report | None:
    """One enrollment's report for the month (withdrawn enrollments too); None when it does not exist."""
    lecture_id = db.session.execute(
        select(Enrollment.lecture_id).where(Enrollment.id == enrollment_id)).scalar_one_or_none()
    if lecture_id is None:
        return None
    found = load_reports(lecture_id, month, today, [enrollment_id])
    return found[0] if found else None


def _order(sessions: Sequence[LectureSession], session_id: int) -> int:
    return next(s.order for s in sessions if s.id == session_id)


def _policy(lecture_id: int) -> rules.Policy:
    stored = db.session.execute(
        select(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture_id)).scalar_one_or_none()
    if stored is None:
        return rules.Policy()
    return rules.Policy(**{name: getattr(stored, name) for name in rules.POLICY_DEFAULTS})


def _submission(row: HomeworkSubmission | None) -> rules.SubmissionInfo | None:
    if row is None:
        return None
    return rules.SubmissionInfo(row.submitted, row.score, row.approved)


def _log_in_month(log: RiskLog, session_date: date | None, month: Month, as_of: date, zone) -> bool:
    """A risk log belongs to the month of the session it concerns (its newest due session); a log
    whose session was deleted, or is undated, to the month it was recorded in."""
    if session_date is not None:
        return month.first_day <= session_date <= as_of
    return in_month(log.created_at, month, zone)

"""Set-based recompute (SPEC §7): load facts with a fixed number of queries, apply the
pure rules, write only what changed with bulk upserts — in the caller's transaction.

A recompute covers a *scope*: some enrollments x some sessions of one lecture. It
rewrites those cells' session progress, the lecture progress (and risk logs) of those
enrollments, and the automatic clinic links of those cells. The number of queries
does not depend on how many students or sessions the scope holds.

Callers lock the lecture (`lock_lecture`) before changing its inputs, change them,
flush, then call `recompute`; the request or command boundary commits once.
"""
from __future__ import annotations

import gc
import hashlib
import json
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (JSON, BigInteger, DateTime, and_, bindparam, cast, func, or_, select, text, type_coerce,
                        update)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from dashboard.clock import academy_timezone, academy_today, now
from dashboard.extensions import db
from dashboard.models import (
    AUTO_CLINIC_REASONS,
    Activity,
    AnswerFact,
    Attempt,
    ClinicLink,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    RiskLog,
    SessionProgress,
)
from dashboard.parents import outbox
from dashboard.progress import bulk, rules


@dataclass(frozen=True)
class Scope:
    """Which cells of one lecture to recompute: enrollment_ids x session_ids (None = all), or
    with `cells` only those (enrollment, session) cells of that block (`Scope.of_cells`)."""

    lecture_id: int
    enrollment_ids: frozenset[int] | None = None
    session_ids: frozenset[int] | None = None
    cells: frozenset[tuple[int, int]] | None = None

    @classmethod
    def of_cells(cls, lecture_id: int, cells) -> "Scope":
        """Exactly these (enrollment_id, session_id) cells, however scattered over the lecture."""
        cells = frozenset(cells)
        return cls(lecture_id, frozenset(e for e, _ in cells), frozenset(s for _, s in cells), cells)


# ---------------------------------------------------------------- entry points

def lock_lecture(lecture_id: int) -> None:
    """Lock the lecture before changing its inputs, and bring it up to today first if it was last
    computed for another day (`recompute_day`), so that the day's work sees the inputs as they
    were and a recompute after the change starts from today's rows."""
    found, since = _lock(lecture_id)
    if found and since != academy_today():
        _bring_up_to_date(lecture_id, since)


def _lock(lecture_id: int) -> tuple[bool, Any]:
    """SELECT ... FOR UPDATE on the lecture row (SQLite locks the whole file on write instead);
    answers whether it exists and its `recomputed_for`."""
    row = db.session.execute(
        select(Lecture.recomputed_for).where(Lecture.id == lecture_id).with_for_update()
    ).first()
    return (row is not None, row[0] if row is not None else None)


def recompute_lecture(lecture_id: int) -> int:
    """The whole lecture; also records today as the lecture's `recomputed_for`."""
    _lock(lecture_id)
    return _whole_lecture(lecture_id)


def _whole_lecture(lecture_id: int) -> int:
    count = _recompute(Scope(lecture_id), day_checked=True)
    _mark_recomputed_for(lecture_id, academy_today())
    return count


def recompute_day(lecture_id: int) -> int:
    """Bring one lecture up to today (the daily run, and every read of a stale lecture).

    When only the date moved forward since the lecture's `recomputed_for`, the one input that
    changed is *today*, and what depends on it is which sessions are held and due: a session
    whose date (held) or date + grace days (due) fell in the days between is recomputed for every
    enrollment — its cells, its automatic clinic links, and the lecture progress (and risk logs)
    of the enrollments — and nothing else. A day on which no session becomes held or due costs the
    lock, one read of the dated sessions and the update of `recomputed_for`. A lecture never
    computed, or one last computed for a later day (the date went back), is recomputed whole.
    Returns how many session-progress rows were recomputed.
    """
    found, since = _lock(lecture_id)
    return _bring_up_to_date(lecture_id, since) if found else 0


def _bring_up_to_date(lecture_id: int, since) -> int:
    today = academy_today()
    if since == today:
        return 0
    if since is None or since > today:
        return _whole_lecture(lecture_id)
    sessions = sessions_changed_between(lecture_id, since, today)
    count = _recompute(Scope(lecture_id, None, sessions), day_checked=True) if sessions else 0
    _mark_recomputed_for(lecture_id, today)
    return count


def sessions_changed_between(lecture_id: int, since, today) -> frozenset[int]:
    """The lecture's sessions that become held or due after `since`, up to and including `today`
    (`since` < `today`). Undated sessions are always held and due: never among them."""
    rows = db.session.execute(
        select(LectureSession.id, LectureSession.date, ProgressPolicy.completion_grace_days)
        .join(ProgressPolicy, ProgressPolicy.lecture_id == LectureSession.lecture_id)
        # A session dated after today is neither held nor due today.
        .where(LectureSession.lecture_id == lecture_id, LectureSession.date.is_not(None),
               LectureSession.date <= today)
    ).all()
    return frozenset(
        session_id for session_id, day, grace in rows
        if rules.held_or_due_changed(day, grace, since, today)
    )


def _mark_recomputed_for(lecture_id: int, today) -> None:
    _set_recomputed_for(lecture_id, today, or_(Lecture.recomputed_for.is_(None), Lecture.recomputed_for != today))


def _set_recomputed_for(lecture_id: int, value, *where) -> None:
    """One UPDATE; a Lecture already loaded in the session sees the new value too."""
    db.session.execute(update(Lecture.__table__).where(Lecture.id == lecture_id, *where).values(recomputed_for=value))
    loaded = db.session.identity_map.get(identity_key(Lecture, lecture_id))
    if loaded is not None:
        set_committed_value(loaded, "recomputed_for", value)


def recompute_exam(exam_id: int, enrollment_ids: frozenset[int] | None = None) -> int:
    """Every lecture with a session linked to the exam: those sessions, for the given enrollments or all."""
    rows = db.session.execute(
        select(LectureSession.lecture_id, LectureSession.id)
        .join(ExamSession, ExamSession.session_id == LectureSession.id)
        .where(ExamSession.exam_id == exam_id)
    ).all()
    sessions_by_lecture: dict[int, set[int]] = defaultdict(set)
    for lecture_id, session_id in rows:
        sessions_by_lecture[lecture_id].add(session_id)
    total = 0
    for lecture_id in sorted(sessions_by_lecture):
        lock_lecture(lecture_id)
        total += recompute(Scope(lecture_id, enrollment_ids, frozenset(sessions_by_lecture[lecture_id])))
    return total


def ensure_fresh(lecture_id: int) -> bool:
    """Read paths call this first: bring the lecture up to today when it was last done for another
    day (`recompute_day`: only the day's work). Returns True when it did (the caller's boundary commits).
    """
    recomputed_for = db.session.execute(
        select(Lecture.recomputed_for).where(Lecture.id == lecture_id)
    ).scalar_one_or_none()
    if recomputed_for == academy_today():
        return False
    recompute_day(lecture_id)
    return True


def recompute(scope: Scope) -> int:
    """Recompute one scope. Returns how many session-progress rows were recomputed.

    A scope narrower than the lecture first brings a lecture last computed for another day up to
    today (`recompute_day`), so that every stored row follows the lecture's `recomputed_for`: the
    day's work can then start from that day, whichever way the date moved since.
    """
    return _recompute(scope, day_checked=scope.enrollment_ids is None and scope.session_ids is None)


def _recompute(scope: Scope, day_checked: bool) -> int:
    with _gc_paused():
        facts = _Facts.load(scope, None if day_checked else academy_today())
        if facts.policy is None:
            return 0
        if facts.stale:  # a caller that changed inputs without `lock_lecture` first
            recompute_day(scope.lecture_id)
            facts = _Facts.load(scope, None)
        writer = _Writer(scope, facts, now())
        recomputed = writer.run()
    # Guardians hear of a risk level that rose (or stop hearing of one that fell): SPEC §14.
    outbox.after_recompute(scope.lecture_id, scope.enrollment_ids)
    return recomputed


@contextmanager
def _gc_paused():
    """A whole lecture allocates a few hundred thousand small objects that all live until the end:
    the cyclic collector would walk them again and again for nothing (about a third of the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---------------------------------------------------------------- loading

class _Facts:
    """Everything a scope's rules need, loaded with a fixed number of queries."""

    policy: rules.Policy | None

    @classmethod
    def load(cls, scope: Scope, today=None) -> "_Facts":
        """With `today`, stop after the structure when the lecture was last computed for another day (`stale`)."""
        self = cls()
        self.scope = scope
        self._load_structure()
        self.stale = today is not None and self.recomputed_for != today
        if self.policy is None or self.stale:
            return self
        self._enrollment_filters()
        self.enrollments: dict[int, rules.EnrollmentInfo] = {}
        self.stored_lecture: dict[int, tuple[int, str | None]] = {}
        self.stored_cells: dict[tuple[int, int], _StoredCell] = {}
        self.attempts: dict[tuple[int, int], list] = {}
        self.facts: dict[tuple[int, int], list[rules.AnswerFactInfo]] = defaultdict(list)
        self.submissions: dict[tuple[int, int], rules.SubmissionInfo] = {}
        self.activities: dict[tuple[int, int], rules.ActivityInfo] = {}
        self.links: dict[tuple[int, int, str], _StoredLink] = {}
        # The other loads depend only on the structure: they go together (pipelined on
        # PostgreSQL), and each is read while the server answers the next.
        reads = [(self._enrollments_query(), self._read_enrollments)]
        if self.scope_exam_ids:
            reads.append((self._attempts_query(), self._read_attempts))
        if self.scope_homework_ids:
            reads.append((self._submissions_query(), self._read_submissions))
        if self.scope_sessions:
            reads.append((self._activities_query(), self._read_activities))
            reads.append((self._links_query(), self._read_links))
        bulk.read_all(reads)
        self._derive_results()
        return self

    def _load_structure(self) -> None:
        """The policy, every session of the lecture (lecture progress needs them all), homeworks, exams."""
        scope = self.scope
        self.policy = None
        self.sessions: dict[int, rules.SessionInfo] = {}
        self.homeworks: dict[int, dict[int, rules.HomeworkInfo]] = defaultdict(dict)
        self.session_exams: dict[int, dict[int, rules.ExamInfo]] = defaultdict(dict)
        policy_columns = [getattr(ProgressPolicy, name) for name in rules.POLICY_DEFAULTS]
        self.recomputed_for = None
        for row in _rows(
            select(*policy_columns, Lecture.recomputed_for, LectureSession.id, LectureSession.order,
                   LectureSession.date, Homework.id, Homework.max_score, Exam.id, Exam.max_score, Exam.pass_score)
            .select_from(ProgressPolicy)
            .join(Lecture, Lecture.id == ProgressPolicy.lecture_id)
            .outerjoin(LectureSession, LectureSession.lecture_id == ProgressPolicy.lecture_id)
            .outerjoin(Homework, Homework.session_id == LectureSession.id)
            .outerjoin(ExamSession, ExamSession.session_id == LectureSession.id)
            .outerjoin(Exam, Exam.id == ExamSession.exam_id)
            .where(ProgressPolicy.lecture_id == scope.lecture_id)
        ):
            n = len(policy_columns)
            if self.policy is None:
                self.policy = rules.Policy(**dict(zip(rules.POLICY_DEFAULTS, row[:n])))
                self.recomputed_for = row[n]
            n += 1
            sid, order, day, hw_id, hw_max, exam_id, exam_max, exam_pass = row[n:]
            if sid is None:
                continue
            self.sessions[sid] = rules.SessionInfo(sid, order, day)
            if hw_id is not None:
                self.homeworks[sid][hw_id] = rules.HomeworkInfo(hw_id, hw_max)
            if exam_id is not None:
                self.session_exams[sid][exam_id] = rules.ExamInfo(exam_id, exam_max, exam_pass)
        self.scope_sessions = sorted(
            (s for s in self.sessions.values() if scope.session_ids is None or s.id in scope.session_ids),
            key=lambda s: s.order,
        )
        scope_session_ids = {s.id for s in self.scope_sessions}
        self.scope_exam_ids = sorted({e for sid in scope_session_ids for e in self.session_exams.get(sid, {})})
        self.scope_homework_ids = sorted({h for sid in scope_session_ids for h in self.homeworks.get(sid, {})})
        self.session_ids = self._id_filter(LectureSession.id, scope.session_ids,
                                           [LectureSession.lecture_id == scope.lecture_id])

    def _enrollment_filters(self) -> None:
        scope = self.scope
        self.enrollment_where = [Enrollment.lecture_id == scope.lecture_id, Enrollment.withdrawn_at.is_(None)]
        if scope.enrollment_ids is not None:
            self.enrollment_where.append(Enrollment.id.in_(sorted(scope.enrollment_ids)))
        self.enrollment_ids = self._id_filter(Enrollment.id, scope.enrollment_ids, self.enrollment_where)

    def _enrollments_query(self):
        """Enrollments (withdrawn ones are frozen: never recomputed) with their stored progress rows."""
        return (
            select(Enrollment.id, Enrollment.start_date, LectureProgress.id, LectureProgress.fingerprint,
                   SessionProgress.id, SessionProgress.session_id, SessionProgress.completed,
                   SessionProgress.exam_attempted, SessionProgress.exam_passed, SessionProgress.fingerprint)
            .outerjoin(LectureProgress, LectureProgress.enrollment_id == Enrollment.id)
            .outerjoin(SessionProgress, SessionProgress.enrollment_id == Enrollment.id)
            .where(*self.enrollment_where)
        )

    def _read_enrollments(self, rows) -> None:
        for row in rows:
            eid, start, lp_id, lp_fingerprint, sp_id = row[:5]
            if eid not in self.enrollments:  # one row per stored cell: the enrollment repeats
                self.enrollments[eid] = rules.EnrollmentInfo(eid, start)
                if lp_id is not None:
                    self.stored_lecture[eid] = (lp_id, lp_fingerprint)
            if sp_id is not None:
                self.stored_cells[(eid, row[5])] = _StoredCell(sp_id, eid, *row[5:])

    def _attempts_query(self):
        """Attempts of the scope's exams, with the answers that can make an exam risky.

        Scores and times are read raw (integer hundredths, naive UTC) and converted only for the
        one attempt per (enrollment, exam) that is the result: tens of thousands of rows stay cheap.
        """
        risky = and_(
            AnswerFact.attempt_id == Attempt.id,
            or_(AnswerFact.is_correct.is_(False), AnswerFact.invalid_reason == "LOW_CONFIDENCE"),
        )
        return (
            select(Attempt.enrollment_id, Attempt.exam_id, Attempt.attempt_no,
                   type_coerce(Attempt.score, BigInteger), type_coerce(Attempt.submitted_at, DateTime),
                   AnswerFact.question, AnswerFact.is_correct, AnswerFact.invalid_reason)
            .outerjoin(AnswerFact, risky)
            .where(Attempt.enrollment_id.in_(self.enrollment_ids), Attempt.exam_id.in_(self.scope_exam_ids))
        )

    def _read_attempts(self, rows) -> None:
        """The latest attempt and the attempt numbers of each (enrollment, exam), and its risky answers."""
        latest = self.attempts
        for eid, exam_id, no, cents, submitted, question, correct, invalid in rows:
            key = (eid, exam_id)
            entry = latest.get(key)
            if entry is None:
                # Most pairs have one attempt: rank it only when a second one turns up.
                latest[key] = [None, cents, submitted, {no}]
            elif no not in entry[3]:
                if entry[0] is None:
                    entry[0] = rules.attempt_rank(entry[2], min(entry[3]))
                entry[3].add(no)
                rank = rules.attempt_rank(submitted, no)
                if rank > entry[0]:
                    entry[0], entry[1], entry[2] = rank, cents, submitted
            if question is not None:
                self.facts[key].append(rules.AnswerFactInfo(no, question, correct, invalid))

    def _derive_results(self) -> None:
        self.results: dict[tuple[int, int], rules.ExamResult] = {
            key: rules.ExamResult(
                key[1], Decimal(cents).scaleb(-2),
                submitted.replace(tzinfo=timezone.utc) if submitted is not None else None, len(numbers),
            )
            for key, (_, cents, submitted, numbers) in self.attempts.items()
        }

    def _submissions_query(self):
        return (
            select(HomeworkSubmission.enrollment_id, HomeworkSubmission.homework_id, HomeworkSubmission.submitted,
                   type_coerce(HomeworkSubmission.score, BigInteger), HomeworkSubmission.approved)
            .where(HomeworkSubmission.enrollment_id.in_(self.enrollment_ids),
                   HomeworkSubmission.homework_id.in_(self.scope_homework_ids))
        )

    def _read_submissions(self, rows) -> None:
        for eid, hw_id, submitted, cents, approved in rows:
            score = Decimal(cents).scaleb(-2) if cents is not None else None
            self.submissions[(eid, hw_id)] = rules.SubmissionInfo(submitted, score, approved)

    def _activities_query(self):
        return (
            select(Activity.enrollment_id, Activity.session_id, Activity.attendance, Activity.video_rate)
            .where(Activity.enrollment_id.in_(self.enrollment_ids), Activity.session_id.in_(self.session_ids))
        )

    def _read_activities(self, rows) -> None:
        for eid, sid, attendance, rate in rows:
            self.activities[(eid, sid)] = rules.ActivityInfo(attendance, rate)

    def _links_query(self):
        """Automatic clinic links of the scope's cells."""
        return (
            select(ClinicLink.id, ClinicLink.enrollment_id, ClinicLink.session_id, ClinicLink.reason,
                   ClinicLink.resolved_at.is_not(None), ClinicLink.auto_managed, ClinicLink.fingerprint)
            .where(ClinicLink.enrollment_id.in_(self.enrollment_ids),
                   ClinicLink.session_id.in_(self.session_ids),
                   ClinicLink.reason.in_(AUTO_CLINIC_REASONS))
        )

    def _read_links(self, rows) -> None:
        for row in rows:
            link = _StoredLink(*row)
            self.links[(link.enrollment_id, link.session_id, link.reason)] = link

    @staticmethod
    def _id_filter(column, ids: frozenset[int] | None, where: list):
        """A literal id list for a narrow scope, a subquery for a whole lecture."""
        if ids is not None:
            return sorted(ids)
        return select(column).where(*where).scalar_subquery()


class _StoredCell(NamedTuple):
    """A stored session-progress row, as much as a recompute reads (named tuples: tens of
    thousands are built per lecture, several times cheaper than frozen dataclasses)."""

    id: int
    enrollment_id: int
    session_id: int
    completed: bool
    exam_attempted: bool
    exam_passed: bool
    fingerprint: str | None


class _StoredLink(NamedTuple):
    id: int
    enrollment_id: int
    session_id: int
    reason: str
    resolved: bool
    auto_managed: bool
    fingerprint: str | None


@dataclass(frozen=True)
class _LectureView:
    """The parts of a session outcome the lecture rules read, for a cell outside the scope."""

    completed: bool
    exam_attempted: bool
    exam_passed: bool
    exam_meta: dict


# ---------------------------------------------------------------- computing and writing

# Bulk writes go in chunks of enrollments, so that on PostgreSQL the server writes one chunk
# while Python computes the next. The first chunk is small (the server starts early) and so is
# the last (the server's work that nothing overlaps is short); their number is fixed, and so is
# the statement count. Five: the 5-student lecture of the query-count test gets them all.
_CHUNK_WEIGHTS = (1, 3, 3, 2, 1)

_CELL_VALUES = (
    "attendance_type", "video_progress_rate", "video_completed", "exam_attempted", "exam_aggregate_score",
    "exam_passed", "exam_meta", "homework_submitted", "homework_passed", "completed",
)
_CELL_UPSERT = bulk.Upsert(
    SessionProgress.__table__,
    _CELL_VALUES + ("fingerprint", "completed_at", "calculated_at", "updated_at", "enrollment_id", "session_id",
                    "created_at"),
    "(enrollment_id, session_id)",
    update=_CELL_VALUES + ("fingerprint", "completed_at", "calculated_at", "updated_at"),
    # Set when a row becomes completed, kept while it stays completed, cleared otherwise.
    assignments=(("completed_at", "CASE WHEN excluded.completed AND session_progress.completed "
                                  "THEN session_progress.completed_at ELSE excluded.completed_at END"),),
)
_LECTURE_VALUES = (
    "total_sessions", "completed_sessions", "failed_sessions", "consecutive_failed_sessions", "risk_level",
    "last_session_id", "meta",
)
_LECTURE_UPSERT = bulk.Upsert(
    LectureProgress.__table__,
    _LECTURE_VALUES + ("fingerprint", "last_updated", "updated_at", "enrollment_id", "lecture_id", "created_at"),
    "(enrollment_id)",
    update=_LECTURE_VALUES + ("fingerprint", "last_updated", "updated_at"),
)
_FINDING_INSERT = bulk.Upsert(
    RiskLog.__table__,
    ("enrollment_id", "session_id", "risk_level", "rule", "reason", "meta", "created_at", "updated_at"),
    "(enrollment_id, session_id, risk_level, rule)",
)
_LINK_INSERT = bulk.Upsert(
    ClinicLink.__table__,
    ("enrollment_id", "session_id", "reason", "is_auto", "approved", "auto_managed", "meta", "fingerprint",
     "created_at", "updated_at"),
    # The partial unique index of automatic links (models.ClinicLink).
    "(enrollment_id, session_id, reason) WHERE reason IN ('AUTO_FAILED', 'AUTO_RISK')",
)


class _Writer:
    def __init__(self, scope: Scope, facts: _Facts, timestamp: datetime):
        self.scope = scope
        self.facts = facts
        self.now = timestamp
        self.stamp = bulk.stored_time(timestamp)
        self.today = academy_today()
        self.policy = facts.policy
        self._risk_cache: dict[tuple[int, int], dict] = {}
        self._failed_causes: dict[tuple[bool, bool, bool], tuple[str, str]] = {}
        self._parts: dict[int, tuple[list, list]] = {}
        # Derived JSON is written as text once: Decimal scores as numbers, times in the academy's offset.
        self._json = json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, check_circular=False,
            default=_JsonValues(academy_timezone()).__getitem__,
        ).encode
        # What the planning collects besides the bulk rows.
        self.recomputed = 0
        self.stale_cell_ids: list[int] = []
        self.link_updates: list[dict] = []
        self.link_resolves: list[int] = []
        # A whole lecture stamps all its stored rows ahead, in one statement the server works on
        # while Python plans; narrower scopes stamp their unchanged rows afterwards, by id.
        self.stamp_ahead = scope.enrollment_ids is None and scope.session_ids is None
        self.unchanged_cell_ids: list[int] = []
        self.unchanged_lecture_ids: list[int] = []
        # A scope of scattered cells: each enrollment's sessions among the scope's.
        self._cell_sessions: dict[int, list[rules.SessionInfo]] | None = None
        if scope.cells is not None:
            wanted: dict[int, set[int]] = defaultdict(set)
            for enrollment_id, session_id in scope.cells:
                wanted[enrollment_id].add(session_id)
            self._cell_sessions = {
                enrollment_id: [session for session in facts.scope_sessions if session.id in session_ids]
                for enrollment_id, session_ids in wanted.items()
            }

    def run(self) -> int:
        facts = self.facts
        if self._needs_widening():
            return self._widened()
        lecture_rows: list[tuple] = []
        findings: list[tuple] = []
        with bulk.Statements() as statements:
            if self.stamp_ahead:
                self._stamp_stored(statements)
            for chunk in _chunks(list(facts.enrollments.values()), _CHUNK_WEIGHTS):
                cell_rows: list[tuple] = []
                link_rows: list[tuple] = []
                for enrollment in chunk:
                    sessions = self._sessions_of(enrollment)
                    outcomes = self._plan_cells(enrollment, sessions, cell_rows)
                    for session in sessions:
                        self._plan_links(enrollment, session, outcomes.get(session.id), link_rows)
                    self._plan_lecture(enrollment, outcomes, lecture_rows, findings)
                statements.send(_CELL_UPSERT, cell_rows)
                statements.send(_LINK_INSERT, link_rows)
            statements.send(_LECTURE_UPSERT, lecture_rows)
            statements.send(_FINDING_INSERT, findings)
            self._write_link_changes(statements)
            self._stamp_unchanged(statements)
            if self.stale_cell_ids:
                _delete_by_ids(statements, SessionProgress, self.stale_cell_ids)
        return self.recomputed

    def _sessions_of(self, enrollment: rules.EnrollmentInfo) -> list[rules.SessionInfo]:
        """The scope's sessions of this enrollment, in order."""
        if self._cell_sessions is None:
            return self.facts.scope_sessions
        return self._cell_sessions.get(enrollment.id, [])

    def _needs_widening(self) -> bool:
        """A held cell outside a session-narrowed scope that was never computed: its lecture
        progress could not be derived from stored cells."""
        facts = self.facts
        if self.scope.session_ids is None:
            return False
        for enrollment in facts.enrollments.values():
            in_scope = {session.id for session in self._sessions_of(enrollment)}
            if any((enrollment.id, session.id) not in facts.stored_cells and session.id not in in_scope
                   and rules.is_held(session, enrollment, self.today) for session in facts.sessions.values()):
                return True
        return False

    def _widened(self) -> int:
        """Recompute every session of the scope's enrollments (repairs cells never computed)."""
        wider = Scope(self.scope.lecture_id, self.scope.enrollment_ids, None)
        return _recompute(wider, day_checked=True)

    # -- session progress

    def _plan_cells(self, enrollment: rules.EnrollmentInfo, sessions: list[rules.SessionInfo],
                    rows: list[tuple]) -> dict[int, rules.SessionOutcome]:
        """The enrollment's held cells of the scope: new or changed rows planned, the rest counted."""
        facts, stamp = self.facts, self.stamp
        outcomes: dict[int, rules.SessionOutcome] = {}
        for session in sessions:
            stored = facts.stored_cells.get((enrollment.id, session.id))
            if not rules.is_held(session, enrollment, self.today):
                if stored is not None:
                    self.stale_cell_ids.append(stored.id)
                continue
            outcome = outcomes[session.id] = self._session_outcome(enrollment, session)
            self.recomputed += 1
            values = (
                outcome.attendance_type, outcome.video_progress_rate, outcome.video_completed,
                outcome.exam_attempted, _cents(outcome.exam_aggregate_score), outcome.exam_passed,
                self._json(outcome.exam_meta), outcome.homework_submitted, outcome.homework_passed, outcome.completed,
            )
            fingerprint = digest(values)
            if stored is not None and stored.fingerprint == fingerprint:
                if not self.stamp_ahead:
                    self.unchanged_cell_ids.append(stored.id)
                continue
            rows.append(values + (fingerprint, stamp if outcome.completed else None, stamp, stamp,
                                  enrollment.id, session.id, stamp))
        return outcomes

    def _session_outcome(self, enrollment: rules.EnrollmentInfo, session: rules.SessionInfo) -> rules.SessionOutcome:
        facts, eid = self.facts, enrollment.id
        exams, homeworks = self._session_parts(session.id)
        results = {exam.id: facts.results[(eid, exam.id)] for exam in exams if (eid, exam.id) in facts.results}
        submissions = {hw.id: facts.submissions[(eid, hw.id)] for hw in homeworks if (eid, hw.id) in facts.submissions}
        return rules.session_outcome(self.policy, session, exams, results, homeworks, submissions,
                                     facts.activities.get((eid, session.id)))

    def _session_parts(self, session_id: int) -> tuple[list[rules.ExamInfo], list[rules.HomeworkInfo]]:
        """A session's exams and homeworks (by id), gathered once per recompute, not once per cell."""
        parts = self._parts.get(session_id)
        if parts is None:
            parts = self._parts[session_id] = (
                list(self.facts.session_exams.get(session_id, {}).values()),
                sorted(self.facts.homeworks.get(session_id, {}).values(), key=lambda h: h.id),
            )
        return parts

    def _stamp_stored(self, statements: bulk.Statements) -> None:
        """Every stored row of the scope records the recompute's time (the upserts then rewrite
        the rows whose values changed): one statement per table, whatever the size."""
        facts = self.facts
        if facts.stored_cells:
            table = SessionProgress.__table__
            statements.execute(
                table.update()
                .where(table.c.enrollment_id.in_(facts.enrollment_ids), table.c.session_id.in_(facts.session_ids))
                .values(calculated_at=self.now, updated_at=table.c.updated_at)
            )
        if facts.stored_lecture:
            table = LectureProgress.__table__
            statements.execute(
                table.update()
                .where(table.c.enrollment_id.in_(facts.enrollment_ids))
                .values(last_updated=self.now, updated_at=table.c.updated_at)
            )

    def _stamp_unchanged(self, statements: bulk.Statements) -> None:
        for model, ids, column in ((SessionProgress, self.unchanged_cell_ids, "calculated_at"),
                                   (LectureProgress, self.unchanged_lecture_ids, "last_updated")):
            table = model.__table__
            for start in range(0, len(ids), _CHUNK):
                statements.execute(
                    table.update().where(table.c.id.in_(ids[start:start + _CHUNK]))
                    .values({column: self.now, "updated_at": table.c.updated_at})
                )

    # -- lecture progress and risk logs

    def _plan_lecture(self, enrollment, outcomes: dict, rows: list[tuple], findings: list[tuple]) -> None:
        """Lecture progress from the fresh cells and the stored cells of sessions outside the scope;
        risk findings when it is new or changed (an unchanged one recorded them when it took its values)."""
        facts = self.facts
        views: dict[int, Any] = dict(outcomes)
        for session in facts.sessions.values():
            if session.id in views or not rules.is_held(session, enrollment, self.today):
                continue
            stored = facts.stored_cells[(enrollment.id, session.id)]  # present: see _needs_widening
            views[session.id] = _LectureView(
                stored.completed, stored.exam_attempted, stored.exam_passed,
                {"exams": sorted(facts.session_exams.get(session.id, {}))},
            )
        outcome = rules.lecture_outcome(self.policy, enrollment, list(facts.sessions.values()), views, self.today)
        values = (
            outcome.total_sessions, outcome.completed_sessions, outcome.failed_sessions,
            outcome.consecutive_failed_sessions, outcome.risk_level, outcome.last_session_id,
            self._json({
                "low_score_consecutive": outcome.low_score_consecutive,
                "incomplete_level": outcome.incomplete_level,
                "low_score_level": outcome.low_score_level,
            }),
        )
        fingerprint = digest(values)
        stored = facts.stored_lecture.get(enrollment.id)
        if stored is not None and stored[1] == fingerprint:
            if not self.stamp_ahead:
                self.unchanged_lecture_ids.append(stored[0])
            return
        stamp = self.stamp
        rows.append(values + (fingerprint, stamp, stamp, enrollment.id, self.scope.lecture_id, stamp))
        for finding in rules.risk_findings(outcome):
            findings.append((enrollment.id, finding.session_id, finding.risk_level, finding.rule, finding.reason,
                             self._json(finding.meta), stamp, stamp))

    # -- automatic clinic links

    def _plan_links(self, enrollment, session, outcome: rules.SessionOutcome | None, inserts: list[tuple]) -> None:
        """`outcome` is None when the session is not held for the enrollment."""
        held = outcome is not None
        due = held and rules.is_due(session, enrollment, self.today, self.policy.completion_grace_days)
        failed_cause = None
        if due and not outcome.completed:
            parts = (outcome.video_completed, outcome.exam_passed, outcome.homework_passed)
            failed_cause = self._failed_causes.get(parts)
            if failed_cause is None:  # eight possible causes: each encoded once
                failed_cause = self._failed_causes[parts] = self._encoded(
                    rules.failed_link_cause(outcome, due)
                )
        risk_cause = None
        if held:
            exam_reasons = {}
            exams = self.facts.session_exams.get(session.id, {})
            for exam_id in sorted(exams):
                reasons = self._exam_risk(enrollment.id, exams[exam_id])
                if reasons:
                    exam_reasons[str(exam_id)] = reasons
            if exam_reasons:
                risk_cause = self._encoded({"exam_reasons": exam_reasons})
        for reason, cause in (("AUTO_FAILED", failed_cause), ("AUTO_RISK", risk_cause)):
            stored = self.facts.links.get((enrollment.id, session.id, reason))
            if stored is None and cause is None:
                continue  # the common case: nothing to create, nothing to close
            cause_json, cause_fingerprint = cause or (None, None)
            state = None
            if stored is not None:
                # Causes are compared by digest, so stored meta never needs loading.
                state = rules.LinkState(stored.resolved, stored.auto_managed, {"cause": stored.fingerprint})
            step = rules.link_transition(cause is not None, state, {"cause": cause_fingerprint})
            if step == "create":
                inserts.append((enrollment.id, session.id, reason, True, False, True, cause_json, cause_fingerprint,
                                self.stamp, self.stamp))
            elif step in ("refresh", "reopen"):
                meta = json.loads(cause_json)
                if step == "reopen":
                    meta["auto_resolved"] = False
                self.link_updates.append({"link_id": stored.id, "meta": meta, "fingerprint": cause_fingerprint})
            elif step == "resolve":
                self.link_resolves.append(stored.id)

    def _encoded(self, cause: dict) -> tuple[str, str]:
        """A link cause as stored meta text and its fingerprint."""
        text = self._json(cause)
        return text, digest(text)

    def _exam_risk(self, enrollment_id: int, exam: rules.ExamInfo) -> dict:
        """Exam risk of one (enrollment, exam), once per pair even when the exam spans several sessions."""
        key = (enrollment_id, exam.id)
        if key not in self.facts.results:
            return {}
        if key not in self._risk_cache:
            self._risk_cache[key] = rules.exam_risk_reasons(
                self.policy, exam, self.facts.results[key], self.facts.facts.get(key, ())
            )
        return self._risk_cache[key]

    def _write_link_changes(self, statements: bulk.Statements) -> None:
        """Refreshed or reopened links (new cause, open again) and auto-resolved ones: few per edit."""
        table = ClinicLink.__table__
        if self.link_updates:
            statements.connection.execute(
                table.update()
                .where(table.c.id == bindparam("link_id"))
                .values(meta=bindparam("meta"), fingerprint=bindparam("fingerprint"), resolved_at=None,
                        updated_at=self.now, version=table.c.version + 1),
                self.link_updates,
            )
        if self.link_resolves:
            statements.execute(
                table.update()
                .where(table.c.id.in_(self.link_resolves))
                .values(meta=_json_with_auto_resolved(table.c.meta), resolved_at=self.now, updated_at=self.now,
                        version=table.c.version + 1)
            )


# ---------------------------------------------------------------- helpers

def _rows(statement):
    """Run a read through the session's connection as Core: tens of thousands of plain rows skip
    the ORM's per-row result handling."""
    return db.session.connection().execute(statement).all()


def _chunks(items: list, weights: tuple[int, ...]) -> list[list]:
    """Consecutive non-empty chunks of `items`, sized in proportion to `weights` (fewer when there
    are fewer items than weights)."""
    count = min(len(weights), len(items))
    total = sum(weights[:count])
    chunks, start, share = [], 0, 0
    for index, weight in enumerate(weights[:count]):
        share += weight
        end = min(max(len(items) * share // total, start + 1), len(items) - (count - 1 - index))
        chunks.append(items[start:end])
        start = end
    return chunks


def _cents(score: Decimal | None) -> int | None:
    """A score as the integer hundredths it is stored as (dbtypes.Score)."""
    if score is None:
        return None
    cents = score.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"score {score} has more than 2 decimal places")
    return int(cents)


class _JsonValues(dict):
    """What json cannot write itself, converted once per distinct value: Decimal scores as
    numbers, datetimes in the academy's offset. The encoder calls `__getitem__` (a C method,
    no Python frame) for each such value; the same pass lines and scores recur thousands of times."""

    def __init__(self, academy_zone) -> None:
        super().__init__()
        self.academy_zone = academy_zone

    def __missing__(self, value: Any) -> Any:
        if type(value) is Decimal:
            converted = int(value) if value == value.to_integral_value() else float(value)
        elif type(value) is datetime:
            converted = value.astimezone(self.academy_zone).isoformat()
        else:
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        self[value] = converted
        return converted


_CHUNK = 5000  # keeps IN lists under every driver's parameter limit


def _delete_by_ids(statements: bulk.Statements, model, ids: list[int]) -> None:
    for start in range(0, len(ids), _CHUNK):
        statements.execute(
            model.__table__.delete().where(model.__table__.c.id.in_(ids[start:start + _CHUNK]))
        )


def _json_with_auto_resolved(column):
    """meta with auto_resolved=true, merged in SQL so the stored meta never travels."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(cast(func.coalesce(column, text("'{}'::json")), JSONB).op("||")(
            text("""'{"auto_resolved": true}'::jsonb""")), JSON)
    return func.json_set(func.coalesce(column, "{}"), "$.auto_resolved", func.json("true"))


def digest(values: Any) -> str:
    """A fingerprint of derived values in stored form (repr is deterministic for them)."""
    return hashlib.sha1(repr(values).encode()).hexdigest()

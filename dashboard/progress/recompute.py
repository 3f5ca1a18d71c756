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
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Text, literal_column, and_, bindparam, case, cast, func, or_, select, text, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import academy_timezone, academy_today, now, to_academy_iso
from ..dbtypes import Score, UTCDateTime
from ..extensions import db
from ..models import (
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
from . import rules


# The predicate of the partial unique index on automatic clinic links (models.ClinicLink).
AUTO_LINK_PREDICATE = text("reason IN ('AUTO_FAILED', 'AUTO_RISK')")


@dataclass(frozen=True)
class Scope:
    """Which cells of one lecture to recompute: enrollment_ids x session_ids (None = all)."""

    lecture_id: int
    enrollment_ids: frozenset[int] | None = None
    session_ids: frozenset[int] | None = None


# ---------------------------------------------------------------- entry points

def lock_lecture(lecture_id: int) -> None:
    """SELECT ... FOR UPDATE on the lecture row; SQLite locks the whole file on write instead."""
    db.session.execute(select(Lecture.id).where(Lecture.id == lecture_id).with_for_update())


def recompute_lecture(lecture_id: int) -> int:
    """The whole lecture; also records today as the lecture's `recomputed_for`."""
    lock_lecture(lecture_id)
    count = recompute(Scope(lecture_id))
    lecture = db.session.get(Lecture, lecture_id)
    today = academy_today()
    if lecture is not None and lecture.recomputed_for != today:
        lecture.recomputed_for = today
        db.session.flush()
    return count


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
    """Read paths call this first: recompute the whole lecture when it was last done for another day.

    Returns True when it recomputed (the caller's boundary commits).
    """
    recomputed_for = db.session.execute(
        select(Lecture.recomputed_for).where(Lecture.id == lecture_id)
    ).scalar_one_or_none()
    if recomputed_for == academy_today():
        return False
    lock_lecture(lecture_id)
    recompute_lecture(lecture_id)
    return True


def recompute(scope: Scope) -> int:
    """Recompute one scope. Returns how many session-progress rows were recomputed."""
    with _gc_paused():
        facts = _Facts.load(scope)
        if facts.policy is None:
            return 0
        writer = _Writer(scope, facts, now())
        return writer.run()


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
    def load(cls, scope: Scope) -> "_Facts":
        self = cls()
        self.scope = scope
        self._load_structure()
        if self.policy is None:
            return self
        self._load_enrollments()
        self._load_exam_evidence()
        self._load_cell_inputs()
        self._load_links()
        return self

    def _load_structure(self) -> None:
        """The policy, every session of the lecture (lecture progress needs them all), homeworks, exams."""
        scope = self.scope
        self.policy = None
        self.sessions: dict[int, rules.SessionInfo] = {}
        self.homeworks: dict[int, dict[int, rules.HomeworkInfo]] = defaultdict(dict)
        self.session_exams: dict[int, dict[int, rules.ExamInfo]] = defaultdict(dict)
        policy_columns = [getattr(ProgressPolicy, name) for name in rules.POLICY_DEFAULTS]
        for row in _rows(
            select(*policy_columns, LectureSession.id, LectureSession.order, LectureSession.date,
                   Homework.id, Homework.max_score, Exam.id, Exam.max_score, Exam.pass_score)
            .select_from(ProgressPolicy)
            .outerjoin(LectureSession, LectureSession.lecture_id == ProgressPolicy.lecture_id)
            .outerjoin(Homework, Homework.session_id == LectureSession.id)
            .outerjoin(ExamSession, ExamSession.session_id == LectureSession.id)
            .outerjoin(Exam, Exam.id == ExamSession.exam_id)
            .where(ProgressPolicy.lecture_id == scope.lecture_id)
        ):
            n = len(policy_columns)
            if self.policy is None:
                self.policy = rules.Policy(**dict(zip(rules.POLICY_DEFAULTS, row[:n])))
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

    def _load_enrollments(self) -> None:
        """Enrollments (withdrawn ones are frozen: never recomputed) with their stored progress rows."""
        scope = self.scope
        where = [Enrollment.lecture_id == scope.lecture_id, Enrollment.withdrawn_at.is_(None)]
        if scope.enrollment_ids is not None:
            where.append(Enrollment.id.in_(sorted(scope.enrollment_ids)))
        self.enrollment_ids = self._id_filter(Enrollment.id, scope.enrollment_ids, where)
        self.enrollments: dict[int, rules.EnrollmentInfo] = {}
        self.stored_lecture: dict[int, tuple[int, str | None]] = {}
        self.stored_cells: dict[tuple[int, int], _StoredCell] = {}
        for row in _rows(
            select(Enrollment.id, Enrollment.start_date, LectureProgress.id, LectureProgress.fingerprint,
                   SessionProgress.id, SessionProgress.session_id, SessionProgress.completed,
                   SessionProgress.exam_attempted, SessionProgress.exam_passed,
                   SessionProgress.fingerprint)
            .outerjoin(LectureProgress, LectureProgress.enrollment_id == Enrollment.id)
            .outerjoin(SessionProgress, SessionProgress.enrollment_id == Enrollment.id)
            .where(*where)
        ):
            eid, start, lp_id, lp_fingerprint, sp_id = row[:5]
            self.enrollments[eid] = rules.EnrollmentInfo(eid, start)
            if lp_id is not None:
                self.stored_lecture[eid] = (lp_id, lp_fingerprint)
            if sp_id is not None:
                self.stored_cells[(eid, row[5])] = _StoredCell(sp_id, eid, *row[5:])

    def _load_exam_evidence(self) -> None:
        """Attempts -> results (latest attempt, attempt count), with the answers that can make an exam risky.

        Scores and times are read raw (integer hundredths, naive UTC) and converted only for the
        one attempt per (enrollment, exam) that is the result: tens of thousands of rows stay cheap.
        """
        latest: dict[tuple[int, int], list] = {}
        self.facts: dict[tuple[int, int], list[rules.AnswerFactInfo]] = defaultdict(list)
        if self.scope_exam_ids and self.enrollments:
            risky = and_(
                AnswerFact.attempt_id == Attempt.id,
                or_(AnswerFact.is_correct.is_(False), AnswerFact.invalid_reason == "LOW_CONFIDENCE"),
            )
            for eid, exam_id, no, cents, submitted, question, correct, invalid in _rows(
                select(Attempt.enrollment_id, Attempt.exam_id, Attempt.attempt_no,
                       type_coerce(Attempt.score, BigInteger), type_coerce(Attempt.submitted_at, DateTime),
                       AnswerFact.question, AnswerFact.is_correct, AnswerFact.invalid_reason)
                .outerjoin(AnswerFact, risky)
                .where(Attempt.enrollment_id.in_(self.enrollment_ids), Attempt.exam_id.in_(self.scope_exam_ids))
            ):
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
        self.results: dict[tuple[int, int], rules.ExamResult] = {
            key: rules.ExamResult(
                key[1], Decimal(cents).scaleb(-2),
                submitted.replace(tzinfo=timezone.utc) if submitted is not None else None, len(numbers),
            )
            for key, (_, cents, submitted, numbers) in latest.items()
        }

    def _load_cell_inputs(self) -> None:
        """Homework submissions and activities of the scope's cells."""
        self.submissions: dict[tuple[int, int], rules.SubmissionInfo] = {}
        if self.scope_homework_ids and self.enrollments:
            for eid, hw_id, submitted, score, approved in _rows(
                select(HomeworkSubmission.enrollment_id, HomeworkSubmission.homework_id,
                       HomeworkSubmission.submitted, HomeworkSubmission.score, HomeworkSubmission.approved)
                .where(HomeworkSubmission.enrollment_id.in_(self.enrollment_ids),
                       HomeworkSubmission.homework_id.in_(self.scope_homework_ids))
            ):
                self.submissions[(eid, hw_id)] = rules.SubmissionInfo(submitted, score, approved)
        self.activities: dict[tuple[int, int], rules.ActivityInfo] = {}
        if self.enrollments and self.scope_sessions:
            for eid, sid, attendance, rate in _rows(
                select(Activity.enrollment_id, Activity.session_id, Activity.attendance, Activity.video_rate)
                .where(Activity.enrollment_id.in_(self.enrollment_ids), Activity.session_id.in_(self.session_ids))
            ):
                self.activities[(eid, sid)] = rules.ActivityInfo(attendance, rate)

    def _load_links(self) -> None:
        """Automatic clinic links of the scope's cells."""
        self.links: dict[tuple[int, int, str], _StoredLink] = {}
        if self.enrollments and self.scope_sessions:
            for row in _rows(
                select(ClinicLink.id, ClinicLink.enrollment_id, ClinicLink.session_id, ClinicLink.reason,
                       ClinicLink.resolved_at.is_not(None), ClinicLink.auto_managed, ClinicLink.fingerprint)
                .where(ClinicLink.enrollment_id.in_(self.enrollment_ids),
                       ClinicLink.session_id.in_(self.session_ids),
                       ClinicLink.reason.in_(AUTO_CLINIC_REASONS))
            ):
                self.links[(row.enrollment_id, row.session_id, row.reason)] = _StoredLink(*row)

    @staticmethod
    def _id_filter(column, ids: frozenset[int] | None, where: list):
        """A literal id list for a narrow scope, a subquery for a whole lecture."""
        if ids is not None:
            return sorted(ids)
        return select(column).where(*where).scalar_subquery()


@dataclass(frozen=True)
class _StoredCell:
    id: int
    enrollment_id: int
    session_id: int
    completed: bool
    exam_attempted: bool
    exam_passed: bool
    fingerprint: str | None


@dataclass(frozen=True)
class _StoredLink:
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

_OUTCOME_FIELDS = tuple(f.name for f in fields(rules.SessionOutcome))

class _Writer:
    def __init__(self, scope: Scope, facts: _Facts, timestamp: datetime):
        self.scope = scope
        self.facts = facts
        self.now = timestamp
        self.today = academy_today()
        self.timezone = academy_timezone().key
        self._risk_cache: dict[tuple[int, int], dict] = {}
        self.policy = facts.policy

    def run(self) -> int:
        facts, policy = self.facts, self.policy
        cell_rows: list[dict] = []
        unchanged_cell_ids: list[int] = []
        stale_cell_ids: list[int] = []
        lecture_rows: list[dict] = []
        unchanged_lecture_ids: list[int] = []
        findings: list[dict] = []
        link_inserts: list[dict] = []
        link_updates: list[dict] = []
        link_resolves: list[int] = []
        recomputed = 0

        for enrollment in facts.enrollments.values():
            views: dict[int, Any] = {}
            for session in facts.scope_sessions:
                key = (enrollment.id, session.id)
                stored = facts.stored_cells.get(key)
                held = rules.is_held(session, enrollment, self.today)
                outcome = None
                if held:
                    outcome = self._session_outcome(enrollment, session)
                    views[session.id] = outcome
                    recomputed += 1
                    self._plan_cell(enrollment, session, outcome, stored, cell_rows, unchanged_cell_ids)
                elif stored is not None:
                    stale_cell_ids.append(stored.id)
                self._plan_links(enrollment, session, held, outcome, link_inserts, link_updates, link_resolves)
            for session in facts.sessions.values():
                if session.id in views or not rules.is_held(session, enrollment, self.today):
                    continue
                stored = facts.stored_cells.get((enrollment.id, session.id))
                if stored is None:
                    # A held cell outside the scope has never been computed: widen to the enrollment.
                    return self._widened()
                views[session.id] = _LectureView(
                    stored.completed, stored.exam_attempted, stored.exam_passed,
                    {"exams": sorted(facts.session_exams.get(session.id, {}))},
                )
            outcome = rules.lecture_outcome(policy, enrollment, list(facts.sessions.values()), views, self.today)
            if not self._plan_lecture(enrollment, outcome, lecture_rows, unchanged_lecture_ids):
                # Unchanged lecture progress: its findings were recorded when it took these values.
                continue
            for finding in rules.risk_findings(outcome):
                findings.append({
                    "enrollment_id": enrollment.id, "session_id": finding.session_id,
                    "risk_level": finding.risk_level, "rule": finding.rule, "reason": finding.reason,
                    "meta": jsonable(finding.meta), "created_at": self.now, "updated_at": self.now,
                })

        self._write_cells(cell_rows, unchanged_cell_ids, stale_cell_ids)
        self._write_lectures(lecture_rows, unchanged_lecture_ids)
        self._write_findings(findings)
        self._write_links(link_inserts, link_updates, link_resolves)
        return recomputed

    def _widened(self) -> int:
        """Recompute every session of the scope's enrollments (repairs cells never computed)."""
        wider = Scope(self.scope.lecture_id, self.scope.enrollment_ids, None)
        return recompute(wider)

    # -- session progress

    def _session_outcome(self, enrollment: rules.EnrollmentInfo, session: rules.SessionInfo) -> rules.SessionOutcome:
        f = self.facts
        exams = list(f.session_exams.get(session.id, {}).values())
        results = {e.id: f.results[(enrollment.id, e.id)] for e in exams if (enrollment.id, e.id) in f.results}
        homeworks = sorted(f.homeworks.get(session.id, {}).values(), key=lambda h: h.id)
        submissions = {h.id: f.submissions[(enrollment.id, h.id)]
                       for h in homeworks if (enrollment.id, h.id) in f.submissions}
        return rules.session_outcome(self.policy, session, exams, results, homeworks, submissions,
                                     f.activities.get((enrollment.id, session.id)))

    def _plan_cell(self, enrollment, session, outcome, stored, rows, unchanged_ids) -> None:
        # The academy's timezone is part of it because exam_meta's times are written with its offset.
        fingerprint = digest((self.timezone, outcome))
        if stored is not None and stored.fingerprint == fingerprint:
            unchanged_ids.append(stored.id)
            return
        values = {name: getattr(outcome, name) for name in _OUTCOME_FIELDS}
        values["exam_meta"] = jsonable(outcome.exam_meta)
        values.update(
            # A row staying completed keeps its completed_at: the upsert decides that in SQL.
            enrollment_id=enrollment.id, session_id=session.id,
            completed_at=self.now if outcome.completed else None,
            calculated_at=self.now, fingerprint=fingerprint, created_at=self.now, updated_at=self.now,
        )
        rows.append(values)

    def _write_cells(self, rows: list[dict], unchanged_ids: list[int], stale_ids: list[int]) -> None:
        if rows:
            statement, parameters = _bulk_insert(SessionProgress, rows)
            table = SessionProgress.__table__
            columns = [k for k in rows[0] if k not in ("enrollment_id", "session_id", "created_at", "completed_at")]
            assignments = {c: getattr(statement.excluded, c) for c in columns}
            # Set when a row becomes completed, kept while it stays completed, cleared otherwise.
            assignments["completed_at"] = case(
                (and_(statement.excluded.completed, table.c.completed), table.c.completed_at),
                else_=statement.excluded.completed_at,
            )
            db.session.execute(
                statement.on_conflict_do_update(index_elements=["enrollment_id", "session_id"], set_=assignments),
                parameters,
            )
        if unchanged_ids:
            # One statement for the whole scope: unchanged rows only record the recompute's time.
            db.session.execute(
                update(SessionProgress)
                .where(SessionProgress.enrollment_id.in_(self.facts.enrollment_ids),
                       SessionProgress.session_id.in_(self.facts.session_ids))
                .values(calculated_at=self.now, updated_at=SessionProgress.updated_at),
                execution_options={"synchronize_session": False},
            )
        if stale_ids:
            _delete_by_ids(SessionProgress, stale_ids)

    # -- lecture progress and risk logs

    def _plan_lecture(self, enrollment, outcome: rules.LectureOutcome, rows, unchanged_ids) -> bool:
        """Plan the lecture-progress row; True when it is new or changed."""
        values = {
            "total_sessions": outcome.total_sessions,
            "completed_sessions": outcome.completed_sessions,
            "failed_sessions": outcome.failed_sessions,
            "consecutive_failed_sessions": outcome.consecutive_failed_sessions,
            "risk_level": outcome.risk_level,
            "last_session_id": outcome.last_session_id,
            "meta": {
                "low_score_consecutive": outcome.low_score_consecutive,
                "incomplete_level": outcome.incomplete_level,
                "low_score_level": outcome.low_score_level,
            },
        }
        fingerprint = digest(values)
        stored = self.facts.stored_lecture.get(enrollment.id)
        if stored is not None and stored[1] == fingerprint:
            unchanged_ids.append(stored[0])
            return False
        values.update(enrollment_id=enrollment.id, lecture_id=self.scope.lecture_id, last_updated=self.now,
                      fingerprint=fingerprint, created_at=self.now, updated_at=self.now)
        rows.append(values)
        return True

    def _write_lectures(self, rows: list[dict], unchanged_ids: list[int]) -> None:
        if rows:
            statement, parameters = _bulk_insert(LectureProgress, rows)
            columns = [k for k in rows[0] if k not in ("enrollment_id", "created_at")]
            db.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["enrollment_id"],
                    set_={c: getattr(statement.excluded, c) for c in columns},
                ),
                parameters,
            )
        if unchanged_ids:
            db.session.execute(
                update(LectureProgress)
                .where(LectureProgress.enrollment_id.in_(self.facts.enrollment_ids))
                .values(last_updated=self.now, updated_at=LectureProgress.updated_at),
                execution_options={"synchronize_session": False},
            )

    def _write_findings(self, findings: list[dict]) -> None:
        if findings:
            statement, parameters = _bulk_insert(RiskLog, findings)
            db.session.execute(
                statement.on_conflict_do_nothing(index_elements=["enrollment_id", "session_id", "risk_level", "rule"]),
                parameters,
            )

    # -- automatic clinic links

    def _plan_links(self, enrollment, session, held: bool, outcome, inserts: list, updates: list,
                    resolves: list) -> None:
        due = held and rules.is_due(session, enrollment, self.today, self.policy.completion_grace_days)
        failed_cause = None
        if due and not outcome.completed:
            failed_cause = {
                "video_completed": outcome.video_completed,
                "exam_passed": outcome.exam_passed,
                "homework_passed": outcome.homework_passed,
            }
        risk_cause = None
        if held:
            exam_reasons = {}
            exams = self.facts.session_exams.get(session.id, {})
            for exam_id in sorted(exams):
                reasons = self._exam_risk(enrollment.id, exams[exam_id])
                if reasons:
                    exam_reasons[str(exam_id)] = reasons
            if exam_reasons:
                risk_cause = {"exam_reasons": jsonable(exam_reasons)}
        for reason, cause in (("AUTO_FAILED", failed_cause), ("AUTO_RISK", risk_cause)):
            stored = self.facts.links.get((enrollment.id, session.id, reason))
            if stored is None and cause is None:
                continue  # the common case: nothing to create, nothing to close
            cause_fingerprint = digest(cause) if cause is not None else None
            state = None
            if stored is not None:
                # Causes are compared by digest, so stored meta never needs loading.
                state = rules.LinkState(stored.resolved, stored.auto_managed,
                                        {"cause": stored.fingerprint})
            step = rules.link_transition(cause is not None, state, {"cause": cause_fingerprint})
            if step == "create":
                inserts.append({
                    "enrollment_id": enrollment.id, "session_id": session.id, "reason": reason,
                    "is_auto": True, "approved": False, "auto_managed": True, "meta": cause,
                    "fingerprint": cause_fingerprint, "created_at": self.now, "updated_at": self.now,
                })
            elif step in ("refresh", "reopen"):
                meta = cause if step == "refresh" else {**cause, "auto_resolved": False}
                updates.append({"link_id": stored.id, "meta": meta, "fingerprint": cause_fingerprint})
            elif step == "resolve":
                resolves.append(stored.id)

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

    def _write_links(self, inserts: list[dict], updates: list[dict], resolves: list[int]) -> None:
        table = ClinicLink.__table__
        if inserts:
            statement, parameters = _bulk_insert(ClinicLink, inserts)
            db.session.execute(
                statement.on_conflict_do_nothing(
                    index_elements=["enrollment_id", "session_id", "reason"], index_where=AUTO_LINK_PREDICATE,
                ),
                parameters,
            )
        if updates:
            db.session.execute(
                table.update()
                .where(table.c.id == bindparam("link_id"))
                .values(meta=bindparam("meta"), fingerprint=bindparam("fingerprint"), resolved_at=None,
                        updated_at=self.now),
                updates,
            )
        if resolves:
            db.session.execute(
                table.update()
                .where(table.c.id.in_(resolves))
                .values(meta=_json_with_auto_resolved(table.c.meta), resolved_at=self.now, updated_at=self.now)
            )


# ---------------------------------------------------------------- helpers

def _rows(statement):
    """Run a read through the session's connection as Core: tens of thousands of plain rows skip
    the ORM's per-row result handling."""
    return db.session.connection().execute(statement).all()


def _bulk_insert(model, rows: list[dict]):
    """An INSERT of many rows as (statement, parameters) for `db.session.execute`.

    On PostgreSQL the rows travel as one JSON document that the server expands with
    json_populate_recordset: a single round trip and no per-row driver work (an executemany of
    12 000 rows costs more than the recompute itself). Values go raw — scores as hundredths,
    times as naive UTC — so no per-value type processing runs either. SQLite takes the rows as
    an executemany, which its driver runs in C. ON CONFLICT clauses are added by the caller the
    same way for both.
    """
    table = model.__table__
    if db.session.get_bind().dialect.name != "postgresql":
        return sqlite.insert(table), rows
    names = list(rows[0])
    converters = [(name, _raw(table.c[name].type)) for name in names]
    document = json.dumps(
        [{name: (None if row[name] is None else convert(row[name])) for name, convert in converters} for row in rows],
        separators=(",", ":"),
    )
    source = func.json_populate_recordset(
        literal_column(f"NULL::{table.name}"), cast(bindparam("bulk_rows", document, type_=Text), JSON)
    ).table_valued(*names)
    return postgresql.insert(table).from_select(names, select(*(source.c[name] for name in names))), None


def _raw(column_type):
    """How a Python value becomes what json_populate_recordset reads for a column."""
    if isinstance(column_type, Score):
        return lambda value: int(Decimal(value).scaleb(2))
    if isinstance(column_type, UTCDateTime):
        return lambda value: value.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    return lambda value: value


_CHUNK = 5000  # keeps IN lists under every driver's parameter limit


def _delete_by_ids(model, ids: list[int]) -> None:
    for start in range(0, len(ids), _CHUNK):
        db.session.execute(
            model.__table__.delete().where(model.__table__.c.id.in_(ids[start:start + _CHUNK]))
        )


def _json_with_auto_resolved(column):
    """meta with auto_resolved=true, merged in SQL so the stored meta never travels."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(cast(func.coalesce(column, text("'{}'::json")), JSONB).op("||")(
            text("""'{"auto_resolved": true}'::jsonb""")), JSON)
    return func.json_set(func.coalesce(column, "{}"), "$.auto_resolved", func.json("true"))


_PLAIN = frozenset({str, int, bool, float, type(None)})


def jsonable(value: Any) -> Any:
    """Plain JSON values: Decimal scores as numbers, datetimes in the academy's offset."""
    kind = type(value)
    if kind is dict:
        # Plain values are copied without a call: exam_meta holds thousands of them per lecture.
        return {str(k): v if type(v) in _PLAIN else jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else jsonable(v) for v in value]
    if kind is Decimal:
        return int(value) if value == value.to_integral_value() else float(value)
    if kind is datetime:
        return to_academy_iso(value)
    return value


def digest(values: Any) -> str:
    """A fingerprint of derived values built in a fixed order (repr is deterministic for them)."""
    return hashlib.sha1(repr(values).encode()).hexdigest()

"""The recompute's loads: everything the rules need for one scope, with a fixed number of
queries whatever the scope's size (SPEC §7, set-based).

The policy and the lecture's structure come first (one statement); the enrollments with their
stored progress, the attempts with their risky answers, the homework submissions, the activities
and the automatic clinic links follow together (`bulk.read_all`: one pipeline on PostgreSQL).
Rows are read as plain Core rows: scores as integer hundredths and times as naive UTC, converted
only where a rule needs the value.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timezone
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import BigInteger, DateTime, and_, or_, select, type_coerce

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
    SessionProgress,
)
from dashboard.progress import bulk, rules
from dashboard.progress.scope import Scope


class Facts:
    """Everything a scope's rules need, loaded with a fixed number of queries."""

    policy: rules.Policy | None

    @classmethod
    def load(cls, scope: Scope, today=None) -> "Facts":
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
        self.stored_cells: dict[tuple[int, int], StoredCell] = {}
        self.attempts: dict[tuple[int, int], list] = {}
        # The risky answers of each (enrollment, exam), as read: (attempt_no, question, is_correct, invalid_reason).
        self.facts: dict[tuple[int, int], list[tuple]] = defaultdict(list)
        # Submissions and activities stay as read (raw tuples): a cell whose inputs did not change
        # is never computed, so its facts never become the rules' dataclasses.
        self.submissions: dict[tuple[int, int], tuple] = {}
        self.activities: dict[tuple[int, int], tuple] = {}
        self.links: dict[tuple[int, int, str], StoredLink] = {}
        self.linked_cells: set[tuple[int, int]] = set()
        self._results: dict[tuple[int, int], rules.ExamResult] = {}
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
                   SessionProgress.exam_attempted, SessionProgress.exam_passed, SessionProgress.video_completed,
                   SessionProgress.homework_passed, SessionProgress.fingerprint)
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
                self.stored_cells[(eid, row[5])] = StoredCell(sp_id, eid, *row[5:])

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
                self.facts[key].append((no, question, correct, invalid))

    def raw_result(self, key: tuple[int, int]) -> tuple | None:
        """The result of (enrollment, exam) as read: (score in hundredths, naive UTC time, attempt count)."""
        entry = self.attempts.get(key)
        return None if entry is None else (entry[1], entry[2], len(entry[3]))

    def result(self, key: tuple[int, int]) -> rules.ExamResult | None:
        """The result of (enrollment, exam) for the rules, converted once, when first asked for."""
        result = self._results.get(key)
        if result is None:
            entry = self.attempts.get(key)
            if entry is None:
                return None
            _, cents, submitted, numbers = entry
            result = self._results[key] = rules.ExamResult(
                key[1], Decimal(cents).scaleb(-2),
                submitted.replace(tzinfo=timezone.utc) if submitted is not None else None, len(numbers),
            )
        return result

    def submission(self, key: tuple[int, int]) -> rules.SubmissionInfo | None:
        raw = self.submissions.get(key)
        if raw is None:
            return None
        submitted, cents, approved = raw
        return rules.SubmissionInfo(submitted, Decimal(cents).scaleb(-2) if cents is not None else None, approved)

    def activity(self, key: tuple[int, int]) -> rules.ActivityInfo | None:
        raw = self.activities.get(key)
        return None if raw is None else rules.ActivityInfo(*raw)

    def _submissions_query(self):
        return (
            select(HomeworkSubmission.enrollment_id, HomeworkSubmission.homework_id, HomeworkSubmission.submitted,
                   type_coerce(HomeworkSubmission.score, BigInteger), HomeworkSubmission.approved)
            .where(HomeworkSubmission.enrollment_id.in_(self.enrollment_ids),
                   HomeworkSubmission.homework_id.in_(self.scope_homework_ids))
        )

    def _read_submissions(self, rows) -> None:
        submissions = self.submissions
        for eid, hw_id, submitted, cents, approved in rows:
            submissions[(eid, hw_id)] = (submitted, cents, approved)

    def _activities_query(self):
        return (
            select(Activity.enrollment_id, Activity.session_id, Activity.attendance, Activity.video_rate)
            .where(Activity.enrollment_id.in_(self.enrollment_ids), Activity.session_id.in_(self.session_ids))
        )

    def _read_activities(self, rows) -> None:
        activities = self.activities
        for eid, sid, attendance, rate in rows:
            activities[(eid, sid)] = (attendance, rate)

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
            link = StoredLink(*row)
            self.links[(link.enrollment_id, link.session_id, link.reason)] = link
            self.linked_cells.add((link.enrollment_id, link.session_id))

    @staticmethod
    def _id_filter(column, ids: frozenset[int] | None, where: list):
        """A literal id list for a narrow scope, a subquery for a whole lecture."""
        if ids is not None:
            return sorted(ids)
        return select(column).where(*where).scalar_subquery()


class StoredCell(NamedTuple):
    """A stored session-progress row, as much as a recompute reads (named tuples: tens of
    thousands are built per lecture, several times cheaper than frozen dataclasses)."""

    id: int
    enrollment_id: int
    session_id: int
    completed: bool
    exam_attempted: bool
    exam_passed: bool
    video_completed: bool
    homework_passed: bool
    fingerprint: str | None


class StoredLink(NamedTuple):
    id: int
    enrollment_id: int
    session_id: int
    reason: str
    resolved: bool
    auto_managed: bool
    fingerprint: str | None


class LectureView(NamedTuple):
    """The parts of a session outcome that the lecture rules and the automatic links read, for a
    cell not computed this time (outside the scope, or its inputs unchanged): its stored values."""

    completed: bool
    exam_attempted: bool
    exam_passed: bool
    exam_meta: dict
    video_completed: bool
    homework_passed: bool


def _rows(statement):
    """Run a read through the session's connection as Core: tens of thousands of plain rows skip
    the ORM's per-row result handling."""
    return db.session.connection().execute(statement).all()


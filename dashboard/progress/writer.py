"""The recompute's computing and writing: the pure rules applied to a scope's facts, and only
what changed written with bulk upserts, in the caller's transaction.

Per enrollment of the scope: its held cells (session progress), the automatic clinic links of
those cells (`_Writer._plan_links`), its lecture progress and risk findings. Rows are planned
once, in the form the database stores, and compared with the stored ones by fingerprint; the
writes leave in a fixed number of chunks (`bulk.Statements`: pipelined on PostgreSQL, so the
server writes one chunk while Python computes the next).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import JSON, bindparam, cast, func, text
from sqlalchemy.dialects.postgresql import JSONB

from dashboard.clock import academy_timezone, academy_today
from dashboard.extensions import db
from dashboard.models import ClinicLink, LectureProgress, RiskLog, SessionProgress
from dashboard.progress import bulk, rules
from dashboard.progress.facts import Facts, LectureView
from dashboard.progress.scope import Scope


# ---------------------------------------------------------------- computing and writing

# Bulk writes go in chunks of enrollments, so that on PostgreSQL the server writes one chunk
# while Python computes the next. The first chunk is small (the server starts early) and so is
# the last (the server's work that nothing overlaps is short); their number is fixed, and so is
# the statement count. Five: the 5-student lecture of the query-count test gets them all.
_CHUNK_WEIGHTS = (1, 3, 3, 2, 1)

# A session-progress fingerprint is two halves of 20 hex digits: a digest of the cell's inputs
# (`Writer._input_key`), then the last 20 digits of the digest of its derived values. A cell whose
# inputs' half is unchanged is not computed again; the values' half decides whether a computed
# row is rewritten.
_HALF = 20

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
    # A row rewritten only because its inputs' half of the fingerprint moved keeps its updated_at.
    assignments=(("completed_at", "CASE WHEN excluded.completed AND session_progress.completed "
                                  "THEN session_progress.completed_at ELSE excluded.completed_at END"),
                 ("updated_at", f"CASE WHEN substr(session_progress.fingerprint, {_HALF + 1}) = "
                                f"substr(excluded.fingerprint, {_HALF + 1}) "
                                "THEN session_progress.updated_at ELSE excluded.updated_at END")),
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


class Writer:
    """One recompute of one scope: plans every enrollment's cells, automatic links and lecture
    progress from the loaded facts, and writes the rows that changed (`run`)."""

    def __init__(self, scope: Scope, facts: Facts, timestamp: datetime):
        self.scope = scope
        self.facts = facts
        self.now = timestamp
        self.stamp = bulk.stored_time(timestamp)
        self.today = academy_today()
        self.policy = facts.policy
        self._risk_cache: dict[tuple[int, int], dict] = {}
        self._failed_causes: dict[tuple[bool, bool, bool], tuple[str, str]] = {}
        self._parts: dict[int, tuple[list, list]] = {}
        self._input_prefixes: dict[int, tuple[Any, tuple[int, ...], tuple[int, ...]]] = {}
        self._video_completed: dict[tuple | None, bool] = {}
        self._calendars: dict[Any, tuple[frozenset[int], frozenset[int], rules.SessionCalendar]] = {}
        self._exam_lists: dict[int, dict] = {}
        self._pass_lines: dict[int, Decimal] = {}
        self._session_risk_lines: dict[int, list[tuple[rules.ExamInfo, Decimal]]] = {}
        self._link_steps: dict[tuple, str] = {}
        # What a cell's inputs are read from (`_input_key`), looked up once.
        self._inputs = (facts.attempts, facts.submissions, facts.facts, facts.activities)
        # The inputs' digests of the enrollment being planned, by session (`_input_key`).
        self.input_keys: dict[int, str] = {}
        # Derived JSON is written as text once: Decimal scores as numbers, times in the academy's offset.
        self._json = _json_encoder(_JsonValues(academy_timezone()).__getitem__)
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
        # Enrollments whose lecture progress was written anew: the only ones whose risk level can
        # have moved (guardians' risk notices follow it: `outbox.after_recompute`).
        self.lecture_changed: list[int] = []
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
        """Plan and write the scope (the caller checked `needs_widening` first)."""
        facts = self.facts
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
                    due = self._calendar(enrollment)[1]
                    for session in sessions:
                        outcome = outcomes.get(session.id)
                        self._plan_links(enrollment, session, outcome, outcome is not None and session.id in due,
                                         link_rows)
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

    def needs_widening(self) -> bool:
        """A held cell outside a session-narrowed scope that was never computed: its lecture
        progress could not be derived from stored cells."""
        facts = self.facts
        if self.scope.session_ids is None:
            return False
        for enrollment in facts.enrollments.values():
            in_scope = {session.id for session in self._sessions_of(enrollment)}
            held = self._calendar(enrollment)[0]
            if any((enrollment.id, session_id) not in facts.stored_cells and session_id not in in_scope
                   for session_id in held):
                return True
        return False

    def _calendar(self, enrollment: rules.EnrollmentInfo) -> tuple[frozenset[int], frozenset[int], rules.SessionCalendar]:
        """The ids of the sessions held and due for the enrollment today, and its session calendar:
        the same for every enrollment of the same start date, so worked out once per start date."""
        found = self._calendars.get(enrollment.start_date)
        if found is None:
            calendar = rules.session_calendar(self.policy, enrollment, list(self.facts.sessions.values()), self.today)
            found = self._calendars[enrollment.start_date] = (
                frozenset(session.id for session in calendar.held),
                frozenset(session.id for session in calendar.due_latest_first),
                calendar,
            )
        return found

    def _stored_view(self, stored) -> LectureView:
        """A stored cell as the lecture rules and the automatic links read it."""
        exams = self._exam_lists.get(stored.session_id)
        if exams is None:
            exams = self._exam_lists[stored.session_id] = {
                "exams": sorted(self.facts.session_exams.get(stored.session_id, {}))
            }
        return LectureView(stored.completed, stored.exam_attempted, stored.exam_passed, exams,
                           stored.video_completed, stored.homework_passed)

    # -- session progress

    def _plan_cells(self, enrollment: rules.EnrollmentInfo, sessions: list[rules.SessionInfo],
                    rows: list[tuple]) -> dict[int, rules.SessionOutcome | LectureView]:
        """The enrollment's held cells of the scope: new or changed rows planned, the rest counted.

        A stored cell whose inputs' fingerprint is unchanged keeps its values without computing
        them (the rules are a function of those inputs); the others are computed and rewritten
        when their values changed."""
        facts, stamp, eid = self.facts, self.stamp, enrollment.id
        held = self._calendar(enrollment)[0]
        outcomes: dict[int, rules.SessionOutcome | LectureView] = {}
        self.input_keys = {}
        for session in sessions:
            stored = facts.stored_cells.get((eid, session.id))
            if session.id not in held:
                if stored is not None:
                    self.stale_cell_ids.append(stored.id)
                continue
            self.recomputed += 1
            inputs = self.input_keys[session.id] = self._input_key(eid, session)
            if stored is not None and stored.fingerprint is not None and stored.fingerprint[:_HALF] == inputs:
                outcomes[session.id] = self._stored_view(stored)
                if not self.stamp_ahead:
                    self.unchanged_cell_ids.append(stored.id)
                continue
            outcome = outcomes[session.id] = self._session_outcome(enrollment, session)
            values = (
                outcome.attendance_type, outcome.video_progress_rate, outcome.video_completed,
                outcome.exam_attempted, _cents(outcome.exam_aggregate_score), outcome.exam_passed,
                self._json(outcome.exam_meta), outcome.homework_submitted, outcome.homework_passed, outcome.completed,
            )
            fingerprint = inputs + digest(values)[_HALF:]
            if stored is not None and stored.fingerprint == fingerprint:
                if not self.stamp_ahead:
                    self.unchanged_cell_ids.append(stored.id)
                continue
            rows.append(values + (fingerprint, stamp if outcome.completed else None, stamp, stamp,
                                  enrollment.id, session.id, stamp))
        return outcomes

    def _input_key(self, enrollment_id: int, session: rules.SessionInfo) -> str:
        """A digest of everything a cell's values and its exam risk are computed from: the session's
        part of the policy and structure, the enrollment's activity (and whether it completes the
        video under the policy), results with their risky answers and submissions as read, the
        rules' source and the academy's time zone."""
        prefix, exam_ids, homework_ids = self._input_prefix(session)
        attempts, submissions, answers, activities = self._inputs
        activity = activities.get((enrollment_id, session.id))
        video = self._video_completed.get(activity)
        if video is None:
            info = rules.ActivityInfo(*activity) if activity is not None else rules.ActivityInfo()
            video = self._video_completed[activity] = rules.video_completed(self.policy, info)
        results = []
        for exam_id in exam_ids:
            pair = (enrollment_id, exam_id)
            entry = attempts.get(pair)
            if entry is None:
                results.append(None)
            elif pair in answers:
                results.append((entry[1], entry[2], len(entry[3]),
                                sorted(answers[pair])))  # (attempt, question) is unique
            else:
                results.append((entry[1], entry[2], len(entry[3])))
        inputs = (activity, video, results, [submissions.get((enrollment_id, hw)) for hw in homework_ids])
        digest_ = prefix.copy()
        digest_.update(repr(inputs).encode())
        return digest_.hexdigest()[:_HALF]

    def _input_prefix(self, session: rules.SessionInfo):
        """What every cell of a session shares in its inputs' digest, hashed once per session."""
        found = self._input_prefixes.get(session.id)
        if found is None:
            policy = self.policy
            exams, homeworks = self._session_parts(session.id)
            exams = sorted(exams, key=lambda exam: exam.id)
            shared = (
                _rules_source_digest(), str(academy_timezone()),
                rules.in_exam_range(policy, session.order), policy.exam_aggregate_strategy, policy.exam_pass_source,
                [(exam.id, exam.max_score, rules.effective_pass_score(policy, exam)) for exam in exams],
                rules.in_homework_range(policy, session.order), policy.homework_pass_type,
                policy.homework_cutline_percent, policy.homework_round_unit,
                [(homework.id, homework.max_score) for homework in homeworks],
            )
            found = self._input_prefixes[session.id] = (
                hashlib.sha1(repr(shared).encode()), tuple(exam.id for exam in exams),
                tuple(homework.id for homework in homeworks),
            )
        return found

    def _session_outcome(self, enrollment: rules.EnrollmentInfo, session: rules.SessionInfo) -> rules.SessionOutcome:
        facts, eid = self.facts, enrollment.id
        exams, homeworks = self._session_parts(session.id)
        results = {}
        for exam in exams:
            result = facts.result((eid, exam.id))
            if result is not None:
                results[exam.id] = result
        submissions = {}
        for homework in homeworks:
            submission = facts.submission((eid, homework.id))
            if submission is not None:
                submissions[homework.id] = submission
        return rules.session_outcome(self.policy, session, exams, results, homeworks, submissions,
                                     facts.activity((eid, session.id)))

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
        held, _due, calendar = self._calendar(enrollment)
        for session_id in held:
            if session_id not in views:
                # present: see needs_widening
                views[session_id] = self._stored_view(facts.stored_cells[(enrollment.id, session_id)])
        outcome = rules.lecture_outcome_on(self.policy, calendar, len(facts.sessions), views)
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
        self.lecture_changed.append(enrollment.id)
        for finding in rules.risk_findings(outcome):
            findings.append((enrollment.id, finding.session_id, finding.risk_level, finding.rule, finding.reason,
                             self._json(finding.meta), stamp, stamp))

    # -- automatic clinic links

    def _plan_links(self, enrollment, session, outcome: rules.SessionOutcome | LectureView | None, due: bool,
                    inserts: list[tuple]) -> None:
        """`outcome` is None when the session is not held for the enrollment; `due` whether it is due."""
        held = outcome is not None
        failed_cause = None
        if due and not outcome.completed:
            parts = (outcome.video_completed, outcome.exam_passed, outcome.homework_passed)
            failed_cause = self._failed_causes.get(parts)
            if failed_cause is None:  # eight possible causes: each encoded once
                failed_cause = self._failed_causes[parts] = self._encoded(
                    rules.failed_link_cause(outcome, due)
                )
        risk_cause = None
        risk_settled = held and self._risk_unchanged(enrollment.id, session.id)
        if held and not risk_settled:
            exam_reasons = {}
            attempts, risky = self.facts.attempts, self.facts.facts
            for exam, pass_line in self._risk_lines(session):
                key = (enrollment.id, exam.id)
                entry = attempts.get(key)
                if entry is None or (key not in risky and entry[1] >= pass_line):
                    continue  # no result, or one at the pass line with no risky answer: no reason applies
                reasons = self._exam_risk(enrollment.id, exam)
                if reasons:
                    exam_reasons[str(exam.id)] = reasons
            if exam_reasons:
                text = self._json({"exam_reasons": exam_reasons})
                # The cell's inputs' digest, then the cause's: see _risk_unchanged.
                risk_cause = text, self.input_keys[session.id] + digest(text)[_HALF:]
        if failed_cause is None and risk_cause is None and (enrollment.id, session.id) not in self.facts.linked_cells:
            return  # the common case: nothing to create, nothing to close
        for reason, cause in (("AUTO_FAILED", failed_cause), ("AUTO_RISK", risk_cause)):
            stored = self.facts.links.get((enrollment.id, session.id, reason))
            if stored is None and cause is None:
                continue  # the common case: nothing to create, nothing to close
            if reason == "AUTO_RISK" and risk_settled:
                continue
            cause_json, cause_fingerprint = cause or (None, None)
            step = self._link_step(stored, cause is not None, cause_fingerprint)
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

    def _link_step(self, stored, cause_present: bool, cause_fingerprint: str | None) -> str:
        """`rules.link_transition` for a stored link (or None) and the cause wanted now. Causes are
        compared by (the cause's half of) their digest, so stored meta never needs loading. The step
        depends only on whether there is a link, its state, whether a cause is wanted and whether it
        is the stored one: the rule is asked once per such case, not once per cell."""
        same_cause = stored is not None and _cause_half(stored.fingerprint) == _cause_half(cause_fingerprint)
        case = (cause_present, None if stored is None else (stored.resolved, stored.auto_managed, same_cause))
        step = self._link_steps.get(case)
        if step is None:
            state = None
            if stored is not None:
                state = rules.LinkState(stored.resolved, stored.auto_managed, {"cause": _cause_half(stored.fingerprint)})
            step = self._link_steps[case] = rules.link_transition(
                cause_present, state, {"cause": _cause_half(cause_fingerprint)})
        return step

    def _risk_lines(self, session: rules.SessionInfo) -> list[tuple[rules.ExamInfo, Decimal]]:
        """The session's exams (by id) with their effective pass score in hundredths."""
        found = self._session_risk_lines.get(session.id)
        if found is None:
            exams = self.facts.session_exams[session.id]
            found = self._session_risk_lines[session.id] = [
                (exams[exam_id], self._pass_line_cents(exams[exam_id])) for exam_id in self._input_prefix(session)[1]
            ]
        return found

    def _risk_unchanged(self, enrollment_id: int, session_id: int) -> bool:
        """Whether the cell's AUTO_RISK link needs no recompute of its cause: a person acted on it
        (no recompute changes it), or it is open and was last written from the inputs the cell has
        now (its fingerprint starts with their digest, and the same inputs give the same cause)."""
        stored = self.facts.links.get((enrollment_id, session_id, "AUTO_RISK"))
        if stored is None:
            return False
        if not stored.auto_managed:
            return True
        return (not stored.resolved and stored.fingerprint is not None
                and stored.fingerprint[:_HALF] == self.input_keys[session_id])

    def _encoded(self, cause: dict) -> tuple[str, str]:
        """A link cause as stored meta text and its fingerprint."""
        text = self._json(cause)
        return text, digest(text)

    def _exam_risk(self, enrollment_id: int, exam: rules.ExamInfo) -> dict:
        """Exam risk of one (enrollment, exam) with a result below the pass line or risky answers
        (`_plan_links` skips the others: no reason of the rule can apply to them), once per pair
        even when the exam spans several sessions."""
        key = (enrollment_id, exam.id)
        found = self._risk_cache.get(key)
        if found is None:
            answers = [rules.AnswerFactInfo(*answer) for answer in self.facts.facts.get(key, ())]
            found = self._risk_cache[key] = rules.exam_risk_reasons(self.policy, exam, self.facts.result(key), answers)
        return found

    def _pass_line_cents(self, exam: rules.ExamInfo) -> Decimal:
        """The exam's effective pass score in hundredths, as the raw scores are read."""
        found = self._pass_lines.get(exam.id)
        if found is None:
            found = self._pass_lines[exam.id] = rules.effective_pass_score(self.policy, exam).scaleb(2)
        return found

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


def _json_encoder(default) -> Callable[[dict], str]:
    """Compact JSON text of a dict, as `json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
    check_circular=False, default=default).encode` writes it, through the C encoder built once
    (`encode` builds it again on every call, which cost more than the encoding of a cell's meta)."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False, default=default)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    chunks = make(None, default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda value: "".join(chunks(value, 0))


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


def _cause_half(fingerprint: str | None) -> str | None:
    """The part of a link's fingerprint that digests its cause (AUTO_RISK links carry the cell's
    inputs' digest before it; the whole digest of a cause ends with the same part)."""
    return None if fingerprint is None else fingerprint[_HALF:]


@functools.cache
def _rules_source_digest() -> str:
    """The source of the rules, of the loads that give them their facts and of the code that turns
    their outcome into stored values: a change to any makes every cell's inputs' digest new, so
    every cell is computed again."""
    source = hashlib.sha1()
    for module in (rules.__file__, inspect.getfile(Facts), __file__):
        source.update(Path(module).read_bytes())
    return source.hexdigest()


def digest(values: Any) -> str:
    """A fingerprint of derived values in stored form (repr is deterministic for them)."""
    return hashlib.sha1(repr(values).encode()).hexdigest()

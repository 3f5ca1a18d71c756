"""The read side of the lecture pages: the lecture list, the grid, a cell's detail, a student's page.

Every function that returns derived rows calls `ensure_fresh` first (SPEC §7: a lecture last
recomputed for another day is recomputed before it is shown). The grid is loaded with a fixed
number of set-based queries whatever its size (sessions, rows, cells), and cell statuses are
worked out once per (start date, session) pair, since they depend on nothing else but the
session-progress row's `completed` (`progress.cell_status.grid_cell` finishes each cell). The grid
is sent in pages (`FIRST_PAGE` rows, then `NEXT_PAGE` as the teacher scrolls); every matching
student is still read to sort and count them, but cells only for the page's rows.

Cell status (the grid's `data-status`):
- `none`: the session is dated before the student's start date (not counted);
- `upcoming`: counted but not held (dated after today);
- `completed`: held and its session progress is completed;
- `incomplete`: due (held and past the grace days) and not completed;
- `pending`: held, not yet due, not completed.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, and_, case, false, func, select, type_coerce

from dashboard.clock import academy_today
from dashboard.extensions import db
from dashboard.models import (
    Activity,
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    MAX_ID,
    Lecture,
    LectureProgress,
    LectureSession,
    ProgressPolicy,
    SessionProgress,
    Student,
)
from dashboard.progress import rules
from dashboard.progress.cell_status import grid_cell
from dashboard.progress.recompute import ensure_fresh
from dashboard.listing import like_pattern, refresh_stale

STATUSES = rules.GRID_STATUSES
STATUS_ICONS = {"completed": "✓", "incomplete": "✗", "pending": "◔", "upcoming": "·", "none": "–"}
STATUS_LABELS = {
    "completed": _l("Completed"),
    "incomplete": _l("Incomplete"),
    "pending": _l("Pending"),
    "upcoming": _l("Upcoming"),
    "none": _l("Before start"),
}
# The parts a held cell still misses, as short marks (explained by the grid's legend).
PART_MARKS = {"video": _l("V"), "exam": _l("E"), "homework": _l("H")}
# A roll call's words (SPEC §12); the grid marks a cell with the word's first letter (P, L, A, E;
# 출, 지, 결, 공 in Korean).
PRESENCE_LABELS = {"present": _l("Present"), "late": _l("Late"), "absent": _l("Absent"), "excused": _l("Excused")}
RISK_LEVELS = ("NORMAL", "WARNING", "DANGER")
RISK_SEVERITY = {"NORMAL": 0, "WARNING": 1, "DANGER": 2}
SORTS = ("name", "risk", "completion")


def status_icon(status: str) -> str:
    return STATUS_ICONS[status]


def status_word(status: str) -> str:
    return str(STATUS_LABELS[status])


def presence_word(presence: str | None) -> str:
    return str(PRESENCE_LABELS[presence]) if presence else ""


def presence_mark(presence: str | None) -> str:
    return presence_word(presence)[:1]


# The cell status is a pure rule (progress.rules.grid_status); the grid and the column entry share it.
cell_status = rules.grid_status


# ---------------------------------------------------------------- lecture list

@dataclass(frozen=True)
class SessionCompletion:
    order: int
    title: str | None
    held: bool
    rows: int
    completed: int

    @property
    def rate(self) -> float | None:
        return self.completed / self.rows if self.rows else None


@dataclass
class LectureSummary:
    id: int
    title: str
    students: int = 0
    sessions_total: int = 0
    sessions_held: int = 0
    rows: int = 0
    completed: int = 0
    warning: int = 0
    danger: int = 0
    per_session: list[SessionCompletion] = field(default_factory=list)

    @property
    def completion_rate(self) -> float | None:
        """Completed cells among held cells of active students (None when nothing is held)."""
        return self.completed / self.rows if self.rows else None


def lecture_summaries(visible: set[int] | None) -> list[LectureSummary]:
    """The lectures a user may see, by title, each with its counts and per-session completion."""
    refresh_stale(visible)
    lectures_query = select(Lecture.id, Lecture.title).where(Lecture.archived_at.is_(None))
    if visible is not None:
        lectures_query = lectures_query.where(Lecture.id.in_(sorted(visible)) if visible else false())
    summaries = {
        row.id: LectureSummary(row.id, row.title)
        for row in db.session.execute(lectures_query.order_by(Lecture.title, Lecture.id))
    }
    if not summaries:
        return []
    ids = sorted(summaries)
    today = academy_today()
    active = and_(Enrollment.lecture_id.in_(ids), Enrollment.withdrawn_at.is_(None))

    for lecture_id, students in db.session.execute(
        select(Enrollment.lecture_id, func.count(Enrollment.id)).where(active).group_by(Enrollment.lecture_id)
    ):
        summaries[lecture_id].students = students
    for lecture_id, level, count in db.session.execute(
        select(Enrollment.lecture_id, LectureProgress.risk_level, func.count(LectureProgress.id))
        .join(LectureProgress, LectureProgress.enrollment_id == Enrollment.id)
        .where(active, LectureProgress.risk_level.in_(("WARNING", "DANGER")))
        .group_by(Enrollment.lecture_id, LectureProgress.risk_level)
    ):
        setattr(summaries[lecture_id], level.lower(), count)
    cells = {
        session_id: (rows, completed)
        for session_id, rows, completed in db.session.execute(
            select(SessionProgress.session_id, func.count(SessionProgress.id),
                   func.coalesce(func.sum(case((SessionProgress.completed, 1), else_=0)), 0))
            .join(Enrollment, Enrollment.id == SessionProgress.enrollment_id)
            .where(active)
            .group_by(SessionProgress.session_id)
        )
    }
    for session in db.session.execute(
        select(LectureSession.id, LectureSession.lecture_id, LectureSession.order, LectureSession.title,
               LectureSession.date)
        .where(LectureSession.lecture_id.in_(ids))
        .order_by(LectureSession.lecture_id, LectureSession.order)
    ):
        summary = summaries[session.lecture_id]
        held = session.date is None or session.date <= today
        rows, completed = cells.get(session.id, (0, 0))
        summary.sessions_total += 1
        summary.sessions_held += held
        summary.rows += rows
        summary.completed += completed
        summary.per_session.append(SessionCompletion(session.order, session.title, held, rows, completed))
    return list(summaries.values())


# ---------------------------------------------------------------- the grid

@dataclass(frozen=True)
class GridSession:
    id: int
    order: int
    title: str | None
    date: date | None
    held: bool  # held for a student without a start date: columns of sessions not held are greyed
    exams: tuple[tuple[int, str], ...] = ()  # (id, title) of the exams linked to the session


@dataclass
class GridRow:
    enrollment_id: int
    student_id: int
    name: str
    start_date: date | None
    withdrawn: bool
    risk_level: str
    consecutive: int
    low_score: int
    completed: int
    failed: int
    held: int
    # (session id, status, marks of the parts still missing) per session, in session order
    cells: list[tuple[int, str, str]]
    # The roll call per session where one was taken (session id -> present, late, absent, excused).
    presence: dict[int, str] = field(default_factory=dict)

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.held if self.held else None

    @property
    def risk_count(self) -> int:
        """The count behind the badge: the larger of the two rules' consecutive counts."""
        return max(self.consecutive, self.low_score)


@dataclass(frozen=True)
class SessionFooter:
    """One column's line at the foot of the grid, over the lecture's active students: how many of
    the held cells are completed, and the mean of the exam scores of those who sat the session's
    exams (rounded half-up to 2 decimals once, as every average in SPEC §1)."""

    held: int
    completed: int
    mean_score: Decimal | None

    @property
    def percent_completed(self) -> int | None:
        if not self.held:
            return None
        return int(rules.round_half_up(Decimal(100 * self.completed) / self.held, Decimal(1)))


def session_footer(held: int, completed: int, scored: int, score_total: Decimal) -> SessionFooter:
    """A column's footer from its counts: held cells, completed cells, cells with an exam score,
    and the sum of those scores."""
    mean = rules.round_half_up(score_total / scored) if scored else None
    return SessionFooter(held, completed, mean)


@dataclass
class Grid:
    lecture_id: int
    title: str
    today: date
    grace_days: int
    sessions: list[GridSession]
    rows: list[GridRow]  # the rows of this page (all of them when the grid is not paged)
    total_students: int
    matched: int = 0  # the students the search and filter match, on every page
    start: int = 0  # the position of the first row of `rows` among the matched students
    next_start: int | None = None  # where the next page starts, when there is one
    footer: dict[int, SessionFooter] = field(default_factory=dict)

    @property
    def next_end(self) -> int:
        """How many students the screen will have once the next page has come."""
        return min((self.next_start or 0) + NEXT_PAGE, self.matched)

    @property
    def current_session_id(self) -> int | None:
        """The column the grid opens at: the latest held session (the first when none is held yet)."""
        held = [s.id for s in self.sessions if s.held]
        return held[-1] if held else (self.sessions[0].id if self.sessions else None)


# Rows per answer: the first page fills a tablet's or a laptop's screen with some to spare; the
# next pages arrive as the teacher scrolls towards them (docs/decisions.md, "The big grid").
FIRST_PAGE = 30
NEXT_PAGE = 60
MAX_START = 1_000_000


def page_size(start: int) -> int:
    return FIRST_PAGE if start == 0 else NEXT_PAGE


@dataclass(frozen=True)
class GridQuery:
    """What the grid shows: a search on the student's name, a risk filter, a sort, withdrawn or not,
    and where the page starts among the students that match: after the enrollment `after` (the
    last row the teacher's page holds) where it still matches, else at position `start`.

    The anchor keeps the pages joined when the order moved between them (a teacher's edit changed
    a student's risk or completion): a page by position alone would then repeat a row or skip one."""

    search: str = ""
    risk: str | None = None
    sort: str = "name"
    withdrawn: bool = False
    start: int = 0
    after: int | None = None

    @classmethod
    def from_args(cls, args) -> "GridQuery":
        """From the query string; unknown values fall back to the defaults (a link cannot break the page)."""
        risk = args.get("risk") or None
        sort = args.get("sort") or "name"
        start = args.get("from") or ""
        after = args.get("after") or ""
        return cls(
            search=(args.get("q") or "").strip()[:100],
            risk=risk if risk in RISK_LEVELS else None,
            sort=sort if sort in SORTS else "name",
            withdrawn=args.get("withdrawn") in ("1", "true", "on"),
            start=(MAX_START if len(start) > 7 else min(int(start), MAX_START)) if _digits(start) else 0,
            after=int(after) if _digits(after) and len(after) <= 10 and 0 < int(after) <= MAX_ID else None,
        )

    def url_args(self, **changes: Any) -> dict[str, Any]:
        """The query string of this view (defaults left out), for links to it or to its next page."""
        args = {"q": self.search or None, "risk": self.risk, "sort": self.sort if self.sort != "name" else None,
                "withdrawn": "1" if self.withdrawn else None, "from": self.start or None, "after": self.after}
        args.update(changes)
        return {key: value for key, value in args.items() if value is not None}


def _digits(text: str) -> bool:
    """ASCII digits, as an id or a position is written (never read past a few thousand digits)."""
    return text.isascii() and text.isdigit() and len(text) <= 1000


def lecture_title(lecture_id: int) -> str | None:
    return db.session.execute(select(Lecture.title).where(Lecture.id == lecture_id)).scalar_one_or_none()


def load_grid(lecture_id: int, query: GridQuery = GridQuery(), enrollment_id: int | None = None,
              limit: int | None = None) -> Grid:
    """The grid of one lecture (or one row of it), with statuses and row summaries.

    With `limit`, only the rows from `query.start` on, at most `limit` of them, carry their cells:
    every matching student is still read (cheaply: one row each) so that the sort and the counts
    cover them all, but the cells, the part that grows with the sessions, are read for the page only.
    """
    ensure_fresh(lecture_id)
    head = db.session.execute(
        select(Lecture.title, ProgressPolicy.completion_grace_days)
        .outerjoin(ProgressPolicy, ProgressPolicy.lecture_id == Lecture.id)
        .where(Lecture.id == lecture_id)
    ).one()
    grace_days = head.completion_grace_days if head.completion_grace_days is not None else 7
    today = academy_today()
    session_infos = [
        rules.SessionInfo(row.id, row.order, row.date)
        for row in db.session.execute(
            select(LectureSession.id, LectureSession.order, LectureSession.date)
            .where(LectureSession.lecture_id == lecture_id).order_by(LectureSession.order)
        )
    ]
    titles = dict(db.session.execute(
        select(LectureSession.id, LectureSession.title).where(LectureSession.lecture_id == lecture_id)
    ).all())
    exams: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for row in db.session.execute(
        select(ExamSession.session_id, Exam.id, Exam.title).join(Exam, Exam.id == ExamSession.exam_id)
        .join(LectureSession, LectureSession.id == ExamSession.session_id)
        .where(LectureSession.lecture_id == lecture_id).order_by(Exam.id)
    ):
        exams[row.session_id].append((row.id, row.title))
    sessions = [GridSession(s.id, s.order, titles[s.id], s.date, s.date is None or s.date <= today,
                            tuple(exams[s.id])) for s in session_infos]

    conditions = [Enrollment.lecture_id == lecture_id]
    if enrollment_id is not None:
        conditions.append(Enrollment.id == enrollment_id)
    elif not query.withdrawn:
        conditions.append(Enrollment.withdrawn_at.is_(None))
    if query.search and enrollment_id is None:
        conditions.append(func.lower(Student.name).like(like_pattern(query.search.lower()), escape="\\"))
    if query.risk and enrollment_id is None:
        conditions.append(func.coalesce(LectureProgress.risk_level, "NORMAL") == query.risk)

    people = db.session.execute(
        select(Enrollment.id, Enrollment.student_id, Student.name, Enrollment.start_date, Enrollment.withdrawn_at,
               LectureProgress.risk_level, LectureProgress.consecutive_failed_sessions,
               LectureProgress.completed_sessions, LectureProgress.failed_sessions, LectureProgress.meta)
        .join(Student, Student.id == Enrollment.student_id)
        .outerjoin(LectureProgress, LectureProgress.enrollment_id == Enrollment.id)
        .where(*conditions)
    ).all()

    # A cell's status depends on (start date, session, completed): the date part is worked out once
    # per start date, and so is the number of held sessions the row summary divides by.
    date_statuses: dict[date | None, list[str]] = {}
    rows = []
    for person in people:
        start = person.start_date
        if start not in date_statuses:
            enrollment_info = rules.EnrollmentInfo(0, start)
            date_statuses[start] = [cell_status(s, enrollment_info, today, grace_days, False) for s in session_infos]
        meta = person.meta or {}
        rows.append(GridRow(
            enrollment_id=person.id,
            student_id=person.student_id,
            name=person.name,
            start_date=start,
            withdrawn=person.withdrawn_at is not None,
            risk_level=person.risk_level or "NORMAL",
            consecutive=person.consecutive_failed_sessions or 0,
            low_score=int(meta.get("low_score_consecutive") or 0),
            completed=person.completed_sessions or 0,
            failed=person.failed_sessions or 0,
            held=sum(status in ("incomplete", "pending") for status in date_statuses[start]),
            cells=[],
        ))
    sort_rows(rows, query.sort)
    matched = len(rows)
    start = page_start(rows, query) if enrollment_id is None else 0
    page = rows[start:start + limit] if limit is not None else rows[start:]
    next_start = start + len(page) if limit is not None and start + len(page) < matched else None
    page_only = [Enrollment.id.in_([row.enrollment_id for row in page])] if limit is not None else []

    completed_cells: dict[int, dict[int, tuple[bool, bool, bool, bool]]] = defaultdict(dict)
    presence: dict[int, dict[int, str]] = defaultdict(dict)
    if page:
        for row in db.session.execute(
            select(SessionProgress.enrollment_id, SessionProgress.session_id, SessionProgress.completed,
                   SessionProgress.video_completed, SessionProgress.exam_passed, SessionProgress.homework_passed)
            .join(Enrollment, Enrollment.id == SessionProgress.enrollment_id)
            .join(Student, Student.id == Enrollment.student_id)
            .outerjoin(LectureProgress, LectureProgress.enrollment_id == Enrollment.id)
            .where(*conditions, *page_only)
        ):
            completed_cells[row[0]][row[1]] = row[2:]
        for enrollment, session_id, word in db.session.execute(
            select(Activity.enrollment_id, Activity.session_id, Activity.presence)
            .join(Enrollment, Enrollment.id == Activity.enrollment_id)
            .join(Student, Student.id == Enrollment.student_id)
            .outerjoin(LectureProgress, LectureProgress.enrollment_id == Enrollment.id)
            .where(*conditions, *page_only, Activity.presence.is_not(None))
        ):
            presence[enrollment][session_id] = word

    marks = {part: str(mark) for part, mark in PART_MARKS.items()}
    for row in page:
        progress = completed_cells.get(row.enrollment_id, {})
        for session, date_status in zip(session_infos, date_statuses[row.start_date]):
            status, missing = grid_cell(date_status, progress.get(session.id))
            row.cells.append((session.id, status, " ".join(marks[part] for part in missing)))
        row.presence = presence.get(row.enrollment_id, {})

    total = matched
    if enrollment_id is None and (query.search or query.risk):
        everyone = [Enrollment.lecture_id == lecture_id]
        if not query.withdrawn:
            everyone.append(Enrollment.withdrawn_at.is_(None))
        total = db.session.execute(select(func.count(Enrollment.id)).where(*everyone)).scalar_one()
    return Grid(lecture_id, head.title, today, grace_days, sessions, page, total, matched, start, next_start)


def page_start(rows: list[GridRow], query: GridQuery) -> int:
    """Where the page begins among the sorted rows: after the anchor row where it still matches,
    else at the position asked for."""
    if query.after is not None:
        for index, row in enumerate(rows):
            if row.enrollment_id == query.after:
                return index + 1
    return query.start


def load_footer(lecture_id: int) -> dict[int, SessionFooter]:
    """Each session's footer over the lecture's active students, in one grouped statement.

    Scores are summed as the stored integer hundredths, so the mean is exact on both databases.
    """
    hundredths = type_coerce(SessionProgress.exam_aggregate_score, BigInteger)
    footer = {}
    for session_id, held, completed, scored, total in db.session.execute(
        select(SessionProgress.session_id, func.count(SessionProgress.id),
               func.coalesce(func.sum(case((SessionProgress.completed, 1), else_=0)), 0),
               func.count(SessionProgress.exam_aggregate_score), func.coalesce(func.sum(hundredths), 0))
        .join(Enrollment, Enrollment.id == SessionProgress.enrollment_id)
        .where(Enrollment.lecture_id == lecture_id, Enrollment.withdrawn_at.is_(None))
        .group_by(SessionProgress.session_id)
    ):
        footer[session_id] = session_footer(held, int(completed), scored, Decimal(int(total)).scaleb(-2))
    return footer


def sort_rows(rows: list[GridRow], sort: str) -> None:
    """Sort in place: by name; by risk (most severe, longest run first); by completion (lowest first)."""
    if sort == "risk":
        rows.sort(key=lambda r: (-RISK_SEVERITY[r.risk_level], -r.risk_count, r.name, r.enrollment_id))
    elif sort == "completion":
        rows.sort(key=lambda r: (r.completion_rate if r.completion_rate is not None else 2.0, r.name,
                                 r.enrollment_id))
    else:
        rows.sort(key=lambda r: (r.name, r.enrollment_id))


# ---------------------------------------------------------------- one cell

@dataclass
class AttemptView:
    id: int
    attempt_no: int
    score: Decimal
    submitted_at: datetime | None
    source: str


@dataclass
class ExamView:
    id: int
    title: str
    max_score: Decimal
    pass_score: Decimal | None  # the exam's own (None: the policy's applies)
    effective_pass_score: Decimal
    attempts: list[AttemptView]


@dataclass
class HomeworkView:
    id: int
    title: str | None
    max_score: Decimal
    submitted: bool
    score: Decimal | None
    approved: bool


@dataclass
class CellDetail:
    lecture_id: int
    lecture_title: str
    enrollment_id: int
    student_name: str
    withdrawn: bool
    session_id: int
    session_order: int
    session_title: str | None
    session_date: date | None
    status: str
    policy: rules.Policy
    attendance: str
    video_rate: int
    presence: str | None
    progress: SessionProgress | None
    exams: list[ExamView]
    homeworks: list[HomeworkView]

    @property
    def in_exam_range(self) -> bool:
        return rules.in_exam_range(self.policy, self.session_order)

    @property
    def in_homework_range(self) -> bool:
        return rules.in_homework_range(self.policy, self.session_order)


def load_policy(lecture_id: int) -> rules.Policy:
    stored = db.session.execute(
        select(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture_id)
    ).scalar_one_or_none()
    if stored is None:
        return rules.Policy()
    return rules.Policy(**{name: getattr(stored, name) for name in rules.POLICY_DEFAULTS})


def load_cell(lecture_id: int, enrollment_id: int, session_id: int) -> CellDetail | None:
    """One cell with everything its detail shows and edits; None when the pair is not in the lecture."""
    ensure_fresh(lecture_id)
    head = db.session.execute(
        select(Enrollment, Student.name, LectureSession, Lecture.title)
        .join(Student, Student.id == Enrollment.student_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        .join(LectureSession, and_(LectureSession.lecture_id == Lecture.id, LectureSession.id == session_id))
        .where(Enrollment.id == enrollment_id, Enrollment.lecture_id == lecture_id)
    ).one_or_none()
    if head is None:
        return None
    enrollment, student_name, session, title = head
    policy = load_policy(lecture_id)
    # populate_existing: recompute writes with bulk statements, so an instance already in the
    # session (from earlier in the same transaction) would otherwise show the old values.
    progress = db.session.execute(
        select(SessionProgress).where(SessionProgress.enrollment_id == enrollment_id,
                                      SessionProgress.session_id == session_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    activity = db.session.execute(
        select(Activity).where(Activity.enrollment_id == enrollment_id, Activity.session_id == session_id)
    ).scalar_one_or_none()
    exams = {
        exam.id: ExamView(exam.id, exam.title, exam.max_score, exam.pass_score,
                          rules.effective_pass_score(policy, rules.ExamInfo(exam.id, exam.max_score, exam.pass_score)),
                          [])
        for exam in db.session.execute(
            select(Exam).join(ExamSession, ExamSession.exam_id == Exam.id)
            .where(ExamSession.session_id == session_id).order_by(Exam.id)
        ).scalars()
    }
    if exams:
        for attempt in db.session.execute(
            select(Attempt).where(Attempt.enrollment_id == enrollment_id, Attempt.exam_id.in_(sorted(exams)))
            .order_by(Attempt.exam_id, Attempt.attempt_no)
        ).scalars():
            exams[attempt.exam_id].attempts.append(
                AttemptView(attempt.id, attempt.attempt_no, attempt.score, attempt.submitted_at, attempt.source))
    homeworks = [
        HomeworkView(homework.id, homework.title, homework.max_score,
                     bool(submission and submission.submitted), submission.score if submission else None,
                     bool(submission and submission.approved))
        for homework, submission in db.session.execute(
            select(Homework, HomeworkSubmission)
            .outerjoin(HomeworkSubmission, and_(HomeworkSubmission.homework_id == Homework.id,
                                                HomeworkSubmission.enrollment_id == enrollment_id))
            .where(Homework.session_id == session_id).order_by(Homework.id)
        )
    ]
    status = cell_status(rules.SessionInfo(session.id, session.order, session.date),
                         rules.EnrollmentInfo(enrollment.id, enrollment.start_date), academy_today(),
                         policy.completion_grace_days, bool(progress and progress.completed))
    return CellDetail(
        lecture_id=lecture_id, lecture_title=title, enrollment_id=enrollment_id, student_name=student_name,
        withdrawn=enrollment.withdrawn_at is not None, session_id=session.id, session_order=session.order,
        session_title=session.title, session_date=session.date, status=status, policy=policy,
        attendance=activity.attendance if activity else "online", video_rate=activity.video_rate if activity else 0,
        presence=activity.presence if activity else None,
        progress=progress, exams=list(exams.values()), homeworks=homeworks,
    )

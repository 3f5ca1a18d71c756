"""Setting up an academy: lectures, their sessions, students and enrollments.

Every structural change passes through one function here, which

1. checks the caller may make it (`NotFound` when the lecture or student is outside what they may
   see, `Forbidden` when they may see but not change it),
2. refuses a change to an archived lecture or a value that breaks a rule (`Invalid`, several
   problems of one change together through `errors.all_of`, each at the form field it names),
3. turns it into a small snapshot and hands it to the snapshot importer
   (`dashboard.importer.snapshot.import_snapshot`), which validates it against the state it would
   produce (swapped session orders, one enrollment per student and lecture, an exam that still
   needs a removed session), locks the lecture, writes, flushes and recomputes what changed —
   the whole lecture for sessions added, removed, reordered or re-dated and for enrollments
   added, withdrawn or reactivated (SPEC §7); its refusal becomes the same `Invalid` (`apply_snapshot`),
4. records the change in the audit trail with its values before and after.

What a snapshot cannot say — a lecture's teachers, its archiving — is written here, under the
same lecture lock. Nothing commits: the request (or CLI command) boundary does.

The rules (docs/academy-setup.md): withdrawing keeps the enrollment and every row of its history
(frozen: recompute skips it; hidden from the grid, risk, clinic queue and API lists by default);
enrolling a withdrawn student again reactivates that same enrollment; an archived lecture leaves
the lecture lists and refuses structural changes until it is restored.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, text

from dashboard.accounts import users as accounts, audit
from dashboard.accounts.access import can_edit_structure, can_read_lecture, visible_lecture_ids
from dashboard.clock import academy_today, now, to_academy_iso
from dashboard.errors import Forbidden, Invalid, NotFound, Refused, all_of
from dashboard.extensions import db
from dashboard.importer import ImportProblem, ImportRejected, import_snapshot
from dashboard.models import (
    Activity,
    ClinicLink,
    Enrollment,
    ExamSession,
    Homework,
    Lecture,
    LectureSession,
    SessionProgress,
    Student,
    TeacherLecture,
    User,
)
from dashboard.progress.recompute import lock_lecture
from dashboard.text.visible import has_visible_character

MAX_ORDER = 9999
MAX_TERM_SESSIONS = 200  # one generated term; more is surely a typing mistake
TITLE_MAX_LENGTH = 200
CONTACT_MAX_LENGTH = 100


# ---------------------------------------------------------------- the term generator (pure)

def term_dates(start: date, count: int, weekdays: Iterable[int], holidays: Iterable[date] = ()) -> list[date]:
    """The first `count` days from `start` (included) that fall on one of `weekdays`
    (0 = Monday … 6 = Sunday, as `date.weekday()`) and are not holidays, ascending."""
    days = frozenset(weekdays)
    if count < 1:
        raise ValueError("count must be at least 1")
    if not days or not days <= set(range(7)):
        raise ValueError("weekdays must be a non-empty set of 0..6")
    skipped = frozenset(holidays)
    dates: list[date] = []
    day = start
    # Terminates: the holidays are finite, so every week past the last one yields a date.
    while len(dates) < count:
        if day.weekday() in days and day not in skipped:
            dates.append(day)
        day += timedelta(days=1)
    return dates


# ---------------------------------------------------------------- reading (for the pages)

@dataclass(frozen=True)
class EnrollmentRow:
    id: int
    student_id: int
    name: str
    start_date: date | None
    withdrawn_at: Any


def lectures_for(user: User, archived: bool = False) -> list[Lecture]:
    """The lectures the user may see, by title; archived ones only when asked (then only them)."""
    statement = select(Lecture).where(
        Lecture.archived_at.is_not(None) if archived else Lecture.archived_at.is_(None))
    visible = visible_lecture_ids(user)
    if visible is not None:
        statement = statement.where(Lecture.id.in_(sorted(visible)))
    return list(db.session.execute(statement.order_by(Lecture.title, Lecture.id)).scalars())


def teachers() -> list[User]:
    """Every teacher account, by username (the choices for a lecture's teachers)."""
    return list(db.session.execute(
        select(User).where(User.role == "teacher").order_by(User.username, User.id)).scalars())


def teacher_ids_of(lecture_id: int) -> list[int]:
    """The lecture's teachers (its assistants, staff assigned to it, are not among them)."""
    return list(db.session.execute(
        select(TeacherLecture.user_id).join(User, User.id == TeacherLecture.user_id)
        .where(TeacherLecture.lecture_id == lecture_id, User.role == "teacher")
        .order_by(TeacherLecture.user_id)).scalars())


def sessions_of(lecture_id: int) -> list[LectureSession]:
    return list(db.session.execute(
        select(LectureSession).where(LectureSession.lecture_id == lecture_id)
        .order_by(LectureSession.order)).scalars())


def enrollments_of(lecture_id: int, include_withdrawn: bool = False) -> list[EnrollmentRow]:
    statement = (select(Enrollment.id, Enrollment.student_id, Student.name, Enrollment.start_date,
                        Enrollment.withdrawn_at)
                 .join(Student, Student.id == Enrollment.student_id)
                 .where(Enrollment.lecture_id == lecture_id))
    if not include_withdrawn:
        statement = statement.where(Enrollment.withdrawn_at.is_(None))
    return [EnrollmentRow(*row) for row in db.session.execute(statement.order_by(Student.name, Enrollment.id))]


def _like(term: str) -> str:
    """A substring pattern that takes % and _ literally (escape character '\\')."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def enrollment_candidates(lecture_id: int, term: str, limit: int = 20) -> list[tuple[Student, Enrollment | None]]:
    """Students whose name holds `term` (case-insensitive) and who are not active in the lecture,
    each with their withdrawn enrollment in it (re-enrolling reactivates that one), or None."""
    term = term.strip()
    if not term:
        return []
    active = select(Enrollment.student_id).where(Enrollment.lecture_id == lecture_id,
                                                 Enrollment.withdrawn_at.is_(None))
    rows = db.session.execute(
        select(Student, Enrollment)
        .outerjoin(Enrollment, (Enrollment.student_id == Student.id) & (Enrollment.lecture_id == lecture_id))
        .where(func.lower(Student.name).like(_like(term.lower()), escape="\\"), Student.id.not_in(active))
        .order_by(Student.name, Student.id).limit(limit)
    ).all()
    return [(student, enrollment) for student, enrollment in rows]


def students_for(user: User, term: str = "", limit: int = 200) -> list[Student]:
    """Students the user may see (a teacher: those enrolled in their lectures, withdrawn included)."""
    statement = select(Student)
    visible = visible_lecture_ids(user)
    if visible is not None:
        statement = statement.where(Student.id.in_(
            select(Enrollment.student_id).where(Enrollment.lecture_id.in_(sorted(visible)))))
    if term.strip():
        statement = statement.where(func.lower(Student.name).like(_like(term.strip().lower()), escape="\\"))
    return list(db.session.execute(statement.order_by(Student.name, Student.id).limit(limit)).scalars())


def student_enrollments(student_id: int, user: User) -> list[tuple[Enrollment, str]]:
    """A student's enrollments in the lectures the user may see, with each lecture's title."""
    statement = (select(Enrollment, Lecture.title).join(Lecture, Lecture.id == Enrollment.lecture_id)
                 .where(Enrollment.student_id == student_id))
    visible = visible_lecture_ids(user)
    if visible is not None:
        statement = statement.where(Enrollment.lecture_id.in_(sorted(visible)))
    return [(e, title) for e, title in db.session.execute(statement.order_by(Lecture.title, Lecture.id))]


def student_name(student_id: int) -> str:
    return db.session.execute(select(Student.name).where(Student.id == student_id)).scalar_one()


@dataclass(frozen=True)
class SessionImpact:
    """What removing a session takes with it (shown before the removal is confirmed)."""

    activities: int
    homeworks: int
    exams: int
    progress_rows: int
    clinic_links: int


def session_impact(session_id: int) -> SessionImpact:
    def count(column: Any) -> int:
        return db.session.execute(select(func.count()).where(column == session_id)).scalar_one()

    return SessionImpact(count(Activity.session_id), count(Homework.session_id), count(ExamSession.session_id),
                         count(SessionProgress.session_id), count(ClinicLink.session_id))


# ---------------------------------------------------------------- access

def readable_lecture(user: User, lecture_id: int) -> Lecture:
    """The lecture, when the user may see it (else NotFound: a teacher must not learn it exists)."""
    lecture = db.session.get(Lecture, lecture_id)
    if lecture is None or not can_read_lecture(user, lecture_id):
        raise NotFound()
    return lecture


def _lecture_for_admin(user: User, lecture_id: int) -> Lecture:
    lecture = readable_lecture(user, lecture_id)
    if user.role != "admin":
        raise Forbidden("lecture_settings_forbidden")
    return lecture


def lecture_for_structure(user: User, lecture_id: int) -> Lecture:
    """The lecture, when the user may change its sessions and enrollments, and it is not archived."""
    lecture = readable_lecture(user, lecture_id)
    if not can_edit_structure(user, lecture_id):
        raise Forbidden("structure_forbidden")
    if lecture.archived_at is not None:
        raise Invalid("lecture_archived")
    return lecture


def readable_session(user: User, session_id: int) -> LectureSession:
    session = db.session.get(LectureSession, session_id)
    if session is None or not can_read_lecture(user, session.lecture_id):
        raise NotFound()
    return session


def readable_student(user: User, student_id: int) -> Student:
    """The student, when the user may see them (admin, staff; a teacher: enrolled in one of their lectures)."""
    student = db.session.get(Student, student_id)
    if student is None:
        raise NotFound()
    visible = visible_lecture_ids(user)
    if visible is not None and not db.session.execute(
            select(Enrollment.id).where(Enrollment.student_id == student_id,
                                        Enrollment.lecture_id.in_(sorted(visible)))).first():
        raise NotFound()
    return student


def may_edit_student(user: User, student: Student) -> bool:
    """Admins edit every student; a teacher the students enrolled in one of their lectures."""
    if user.role == "admin":
        return True
    if user.role != "teacher":
        return False
    visible = visible_lecture_ids(user) or set()
    return db.session.execute(select(Enrollment.id).where(
        Enrollment.student_id == student.id, Enrollment.lecture_id.in_(sorted(visible)))).first() is not None


# ---------------------------------------------------------------- the importer as the one writer

def _new_ids(model: type, count: int = 1) -> list[int]:
    """Ids for rows the importer will create (a snapshot names its ids). PostgreSQL hands out the
    sequence's next values, so concurrent requests never pick the same ones; SQLite writes one
    transaction at a time, and a clash would only fail that request on the primary key."""
    table = model.__table__.name
    if db.session.get_bind().dialect.name == "postgresql":
        return list(db.session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table, "n": count}).scalars())
    first = db.session.execute(select(func.coalesce(func.max(model.id), 0) + 1)).scalar_one()
    return list(range(first, first + count))


def new_id(model: type) -> int:
    return _new_ids(model)[0]


# The importer's item fields that the setup forms show under the same name.
_FORM_FIELDS = frozenset({"title", "order", "date", "name", "contact", "guardian_contact", "start_date",
                          "pass_score", "max_score", "session_ids", "session_id"})


def apply_snapshot(data: Mapping[str, Any], user: User, whole_change: bool = False) -> None:
    """Write a setup page's change through the snapshot importer (audited by the caller); its refusal
    becomes an `Invalid` (all its problems through `all_of`) at the form's fields (the snapshot's
    problems on several items, as a generated term makes, are reported for the change as a whole)."""
    try:
        import_snapshot(dict(data), user=user, audit_import=False)
    except ImportRejected as rejected:
        if not rejected.errors:
            raise Invalid("import_problem", message=str(rejected)) from None
        raise all_of([_form_problem(problem, whole_change) for problem in rejected.errors]) from None


def _form_problem(problem: ImportProblem, whole_change: bool) -> Invalid:
    """An importer problem in the form's words: its reason code and parameters, at the form field of
    the same name. The few problems a setup change cannot cause have no code (errors.TEXTS
    "import_problem" then shows the importer's own message)."""
    path = problem.field or ""
    name = path.rsplit(".", 1)[1].split("[", 1)[0] if "." in path else None
    field = name if name in _FORM_FIELDS and not whole_change else None
    if problem.reason is None:
        return Invalid("import_problem", field, message=problem.message)
    return Invalid(problem.reason, field, **problem.params)


def check_text(problems: list[Invalid], field: str, value: str | None, max_length: int,
               required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            problems.append(Invalid("value_required", field))
        return None
    if not has_visible_character(value):
        problems.append(Invalid("invisible_name", field))
        return None
    if len(value) > max_length:
        problems.append(Invalid("too_long", field, max=max_length))
    return value


def raise_if(problems: list[Invalid]) -> None:
    """Refuse the change with every problem found, when there is one."""
    if problems:
        raise all_of(problems)


# ---------------------------------------------------------------- lectures

def _lecture_state(lecture: Lecture) -> dict[str, Any]:
    return {"title": lecture.title, "teachers": teacher_ids_of(lecture.id), "archived_at": lecture.archived_at}


def _set_teachers(lecture_id: int, teacher_ids: Iterable[int]) -> None:
    """Make exactly these teachers the lecture's, through accounts.assign_lectures (which refuses
    anyone who is not a teacher)."""
    wanted = set(teacher_ids)
    current = set(teacher_ids_of(lecture_id))
    for user_id in sorted(wanted ^ current):
        teacher = db.session.get(User, user_id)
        if teacher is None:
            raise Invalid("choose_teachers", "teachers")
        if teacher.role != "teacher":
            raise Invalid("only_teachers_assigned", "teachers")
        lectures = set(accounts.lecture_ids_of(teacher))
        lectures = lectures | {lecture_id} if user_id in wanted else lectures - {lecture_id}
        try:
            accounts.assign_lectures(teacher, sorted(lectures))
        except Refused:
            raise Invalid("only_teachers_assigned", "teachers") from None


def create_lecture(user: User, title: str, teacher_ids: Iterable[int] = ()) -> Lecture:
    """A new lecture with its policy at the SPEC §2 defaults (the importer creates both) and its teachers."""
    if user.role != "admin":
        raise Forbidden("lecture_create_forbidden")
    problems: list[Invalid] = []
    title = check_text(problems, "title", title, TITLE_MAX_LENGTH, required=True)
    raise_if(problems)
    lecture_id = new_id(Lecture)
    apply_snapshot({"lectures": [{"id": lecture_id, "title": title}]}, user)
    _set_teachers(lecture_id, teacher_ids)
    lecture = db.session.get(Lecture, lecture_id)
    audit.record("lecture.create", "lecture", lecture_id, None, _lecture_state(lecture), user, lecture_id)
    return lecture


def update_lecture(user: User, lecture_id: int, title: str, teacher_ids: Iterable[int]) -> Lecture:
    """A lecture's title and its teachers (admins only). Neither changes a derived row."""
    lecture = _lecture_for_admin(user, lecture_id)
    problems: list[Invalid] = []
    title = check_text(problems, "title", title, TITLE_MAX_LENGTH, required=True)
    raise_if(problems)
    before = _lecture_state(lecture)
    lock_lecture(lecture_id)
    apply_snapshot({"lectures": [{"id": lecture_id, "title": title}]}, user)
    _set_teachers(lecture_id, teacher_ids)
    db.session.refresh(lecture)
    after = _lecture_state(lecture)
    if after != before:
        audit.record("lecture.update", "lecture", lecture_id, before, after, user, lecture_id)
    return lecture


def archive_lecture(user: User, lecture_id: int, archived: bool = True) -> Lecture:
    """Archive a lecture (it leaves the lecture lists; its history stays readable) or restore it.
    No input of the lecture changes, so nothing is recomputed."""
    lecture = _lecture_for_admin(user, lecture_id)
    lock_lecture(lecture_id)
    if (lecture.archived_at is not None) == archived:
        return lecture
    before = lecture.archived_at
    lecture.archived_at = now() if archived else None
    db.session.flush()
    audit.record("lecture.archive" if archived else "lecture.restore", "lecture", lecture_id,
                 {"archived_at": before}, {"archived_at": lecture.archived_at}, user, lecture_id)
    return lecture


# ---------------------------------------------------------------- sessions

def _session_state(session: LectureSession | Mapping[str, Any]) -> dict[str, Any]:
    get = session.get if isinstance(session, Mapping) else lambda name: getattr(session, name)
    return {"lecture_id": get("lecture_id"), "order": get("order"), "title": get("title"), "date": get("date")}


def _check_order(problems: list[Invalid], order: int | None) -> None:
    if order is not None and not 1 <= order <= MAX_ORDER:
        problems.append(Invalid("order_range", "order", n=MAX_ORDER))


def _next_order(lecture_id: int) -> int:
    return (db.session.execute(select(func.max(LectureSession.order))
                               .where(LectureSession.lecture_id == lecture_id)).scalar_one() or 0) + 1


def add_session(user: User, lecture_id: int, order: int | None, title: str | None,
                on: date | None) -> LectureSession:
    """A new session; without an order it comes after the last one."""
    lecture_for_structure(user, lecture_id)
    problems: list[Invalid] = []
    title = check_text(problems, "title", title, TITLE_MAX_LENGTH, required=False)
    _check_order(problems, order)
    raise_if(problems)
    lock_lecture(lecture_id)
    if order is None:
        order = _next_order(lecture_id)
        if order > MAX_ORDER:
            raise Invalid("order_range", "order", n=MAX_ORDER)
    session_id = new_id(LectureSession)
    values = {"lecture_id": lecture_id, "order": order, "title": title, "date": on}
    apply_snapshot({"sessions": [{"id": session_id, **_snapshot_values(values)}]}, user)
    audit.record("session.create", "session", session_id, None, values, user, lecture_id)
    return db.session.get(LectureSession, session_id)


def _snapshot_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as a JSON snapshot holds them (dates as YYYY-MM-DD)."""
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in values.items()}


def update_session(user: User, session_id: int, order: int, title: str | None, on: date | None) -> LectureSession:
    """A session's order, title and date; a new order or date recomputes the whole lecture."""
    session = readable_session(user, session_id)
    lecture_for_structure(user, session.lecture_id)
    problems: list[Invalid] = []
    title = check_text(problems, "title", title, TITLE_MAX_LENGTH, required=False)
    if order is None:
        problems.append(Invalid("value_required", "order"))
    _check_order(problems, order)
    raise_if(problems)
    lock_lecture(session.lecture_id)
    before = _session_state(session)
    values = _snapshot_values({"order": order, "title": title, "date": on})
    apply_snapshot({"sessions": [{"id": session_id, **values}]}, user)
    db.session.refresh(session)
    after = _session_state(session)
    if after != before:
        audit.record("session.update", "session", session_id, before, after, user, session.lecture_id)
    return session


def move_session(user: User, session_id: int, step: int) -> None:
    """Swap a session's order with its neighbour's (step -1: earlier, +1: later); at an end, nothing."""
    session = readable_session(user, session_id)
    lecture_id = session.lecture_id
    lecture_for_structure(user, lecture_id)
    lock_lecture(lecture_id)
    neighbour_query = select(LectureSession).where(LectureSession.lecture_id == lecture_id)
    if step < 0:
        neighbour_query = neighbour_query.where(LectureSession.order < session.order).order_by(
            LectureSession.order.desc())
    else:
        neighbour_query = neighbour_query.where(LectureSession.order > session.order).order_by(LectureSession.order)
    neighbour = db.session.execute(neighbour_query.limit(1)).scalar_one_or_none()
    if neighbour is None:
        return
    orders = {session.id: session.order, neighbour.id: neighbour.order}
    apply_snapshot({"sessions": [{"id": session.id, "order": orders[neighbour.id]},
                         {"id": neighbour.id, "order": orders[session.id]}]}, user, whole_change=True)
    audit.record("session.reorder", "lecture", lecture_id, orders,
                 {session.id: orders[neighbour.id], neighbour.id: orders[session.id]}, user, lecture_id)


def remove_session(user: User, session_id: int) -> None:
    """Remove a session and what hangs off it (its activities, homework, progress rows, clinic
    links and exam links); refused while an exam's recorded attempts need it."""
    session = readable_session(user, session_id)
    lecture_id = session.lecture_id
    lecture_for_structure(user, lecture_id)
    lock_lecture(lecture_id)
    before = _session_state(session)
    apply_snapshot({"sessions": [{"id": session_id, "delete": True}]}, user, whole_change=True)
    audit.record("session.delete", "session", session_id, before, None, user, lecture_id)


def generate_term(user: User, lecture_id: int, start: date, count: int, weekdays: Iterable[int],
                  holidays: Iterable[date] = (), title_prefix: str | None = None) -> list[LectureSession]:
    """`count` new sessions dated by `term_dates`, ordered after the lecture's last session and
    titled "<prefix> <order>" (the prefix is optional: then untitled)."""
    lecture_for_structure(user, lecture_id)
    problems: list[Invalid] = []
    prefix = check_text(problems, "title_prefix", title_prefix, TITLE_MAX_LENGTH - 5, required=False)
    if not 1 <= count <= MAX_TERM_SESSIONS:
        problems.append(Invalid("term_count_range", "count", n=MAX_TERM_SESSIONS))
    days = set(weekdays)
    if not days or not days <= set(range(7)):
        problems.append(Invalid("choose_weekday", "weekdays"))
    raise_if(problems)
    lock_lecture(lecture_id)
    first = _next_order(lecture_id)
    if first + count - 1 > MAX_ORDER:
        raise Invalid("orders_would_pass", "count", n=MAX_ORDER)
    dates = term_dates(start, count, days, holidays)
    ids = _new_ids(LectureSession, count)
    items = [{"id": session_id, "lecture_id": lecture_id, "order": first + i,
              "title": f"{prefix} {first + i}" if prefix else None, "date": day.isoformat()}
             for i, (session_id, day) in enumerate(zip(ids, dates))]
    apply_snapshot({"sessions": items}, user, whole_change=True)
    audit.record("session.generate", "lecture", lecture_id, None,
                 {"sessions": [{k: v for k, v in item.items() if k != "lecture_id"} for item in items]},
                 user, lecture_id)
    return [db.session.get(LectureSession, item["id"]) for item in items]


# ---------------------------------------------------------------- students

def _student_state(student: Student) -> dict[str, Any]:
    return {"name": student.name, "contact": student.contact, "guardian_contact": student.guardian_contact}


def _student_values(name: str, contact: str | None, guardian_contact: str | None) -> dict[str, Any]:
    problems: list[Invalid] = []
    values = {
        "name": check_text(problems, "name", name, TITLE_MAX_LENGTH, required=True),
        "contact": check_text(problems, "contact", contact, CONTACT_MAX_LENGTH, required=False),
        "guardian_contact": check_text(problems, "guardian_contact", guardian_contact, CONTACT_MAX_LENGTH,
                                        required=False),
    }
    raise_if(problems)
    return values


def create_student(user: User, name: str, contact: str | None = None, guardian_contact: str | None = None,
                   lecture_id: int | None = None, start_date: date | None = None) -> Student:
    """A new student; a teacher creates one only to enroll them in one of their lectures at once
    (`lecture_id`), an admin may create one on their own."""
    if lecture_id is not None:
        lecture_for_structure(user, lecture_id)
    elif user.role != "admin":
        raise Forbidden("student_create_forbidden")
    values = _student_values(name, contact, guardian_contact)
    student_id = new_id(Student)
    data: dict[str, Any] = {"students": [{"id": student_id, **values}]}
    enrollment_id = None
    if lecture_id is not None:
        lock_lecture(lecture_id)
        enrollment_id = new_id(Enrollment)
        data["enrollments"] = [{"id": enrollment_id, "student_id": student_id, "lecture_id": lecture_id,
                                "start_date": start_date.isoformat() if start_date else None}]
    apply_snapshot(data, user)
    audit.record("student.create", "student", student_id, None, values, user)
    if enrollment_id is not None:
        audit.record("enrollment.create", "enrollment", enrollment_id, None,
                     {"student_id": student_id, "lecture_id": lecture_id, "start_date": start_date}, user, lecture_id)
    return db.session.get(Student, student_id)


def update_student(user: User, student_id: int, name: str, contact: str | None,
                   guardian_contact: str | None) -> Student:
    """A student's name and contacts (nothing derived depends on them)."""
    student = readable_student(user, student_id)
    if not may_edit_student(user, student):
        raise Forbidden("student_edit_forbidden")
    values = _student_values(name, contact, guardian_contact)
    before = _student_state(student)
    apply_snapshot({"students": [{"id": student_id, **values}]}, user)
    db.session.refresh(student)
    if _student_state(student) != before:
        audit.record("student.update", "student", student_id, before, _student_state(student), user)
    return student


# ---------------------------------------------------------------- enrollments

def default_start_date(lecture_id: int) -> date | None:
    """The start date the enrollment form and the roster upload offer a new student: the academy's
    today once the lecture has a session dated today or earlier, so that someone joining mid-term
    owes no clinic for the sessions held before they came; None (from the first session) before."""
    today = academy_today()
    held = db.session.execute(select(LectureSession.id).where(
        LectureSession.lecture_id == lecture_id, LectureSession.date <= today).limit(1)).first()
    return today if held is not None else None


def enroll(user: User, lecture_id: int, student_id: int, start_date: date | None = None) -> Enrollment:
    """Enroll a student; a withdrawn enrollment of the same student in this lecture is reactivated
    (the same row: its history comes back), an active one is refused."""
    lecture_for_structure(user, lecture_id)
    if db.session.get(Student, student_id) is None:
        raise Invalid("choose_student", "student")
    lock_lecture(lecture_id)
    existing = db.session.execute(select(Enrollment).where(
        Enrollment.student_id == student_id, Enrollment.lecture_id == lecture_id)).scalar_one_or_none()
    if existing is not None:
        if existing.withdrawn_at is None:
            raise Invalid("already_enrolled", "student")
        before = {"withdrawn_at": existing.withdrawn_at}
        apply_snapshot({"enrollments": [{"id": existing.id, "withdrawn_at": None}]}, user)
        db.session.refresh(existing)
        audit.record("enrollment.reenroll", "enrollment", existing.id, before, {"withdrawn_at": None}, user,
                     lecture_id)
        return existing
    enrollment_id = new_id(Enrollment)
    values = {"student_id": student_id, "lecture_id": lecture_id, "start_date": start_date}
    apply_snapshot({"enrollments": [{"id": enrollment_id, **_snapshot_values(values)}]}, user)
    audit.record("enrollment.create", "enrollment", enrollment_id, None, values, user, lecture_id)
    return db.session.get(Enrollment, enrollment_id)


def lecture_of_enrollment(user: User, enrollment_id: int) -> int:
    """The lecture of an enrollment the user may see (else NotFound)."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or not can_read_lecture(user, enrollment.lecture_id):
        raise NotFound()
    return enrollment.lecture_id


def _enrollment_for(user: User, enrollment_id: int) -> Enrollment:
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or not can_read_lecture(user, enrollment.lecture_id):
        raise NotFound()
    lecture_for_structure(user, enrollment.lecture_id)
    return enrollment


def withdraw(user: User, enrollment_id: int) -> Enrollment:
    """Withdraw: the enrollment and its rows stay (frozen, hidden by default); the lecture is recomputed."""
    enrollment = _enrollment_for(user, enrollment_id)
    lock_lecture(enrollment.lecture_id)
    if enrollment.withdrawn_at is not None:
        return enrollment
    when = now()
    apply_snapshot({"enrollments": [{"id": enrollment.id, "withdrawn_at": to_academy_iso(when)}]}, user)
    db.session.refresh(enrollment)
    audit.record("enrollment.withdraw", "enrollment", enrollment.id, {"withdrawn_at": None},
                 {"withdrawn_at": enrollment.withdrawn_at}, user, enrollment.lecture_id)
    return enrollment


def reenroll(user: User, enrollment_id: int) -> Enrollment:
    """Reactivate a withdrawn enrollment (the same row, its history kept); the lecture is recomputed."""
    enrollment = _enrollment_for(user, enrollment_id)
    return enroll(user, enrollment.lecture_id, enrollment.student_id)

"""The read side: lists and details of policies and derived rows, as the API (and pages) show them.

Each resource is described once (ListSpec): the joined select that carries everything its
serializer needs (student name, lecture id, usernames — so a page costs one query and its count
one more, whatever its size), its filters, search columns, ordering fields and default order,
as in the seed's filters and viewsets (SPEC §8). Query arguments arrive as plain text; a bad
one raises `errors.Invalid` naming the parameter, a page past the end `errors.NotFound`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from dashboard.clock import academy_today
from dashboard.errors import Invalid, NotFound
from dashboard.extensions import db
from dashboard.models import (
    MAX_ID,
    Activity,
    AuditLog,
    ClinicBooking,
    ClinicBookingLink,
    ClinicLink,
    ClinicSession,
    Enrollment,
    Lecture,
    LectureProgress,
    LectureSession,
    Notification,
    ProgressPolicy,
    RiskLog,
    SessionProgress,
    Student,
    User,
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
LIKE_ESCAPE = "\\"
TRUE_WORDS = {"true": True, "false": False}


@dataclass(frozen=True)
class Filter:
    """One list filter: how its text is read ('int', 'bool' or 'text') and the condition it makes."""

    kind: str
    condition: Callable[[Any], ColumnElement[bool]]


@dataclass(frozen=True)
class ListSpec:
    """Everything the generic list/detail code needs to know about one resource."""

    name: str
    model: type
    select: Callable[[], Select]
    lecture_column: ColumnElement[int]
    filters: dict[str, Filter]
    search_columns: tuple[ColumnElement[str], ...]
    ordering: dict[str, ColumnElement[Any]]
    default_ordering: tuple[str, ...]
    # None for resources without enrollments (policies, audit entries).
    withdrawn_column: ColumnElement[Any] | None = None
    derived: bool = True
    nullable_ordering: frozenset[str] = field(default_factory=frozenset)
    # What a caller limited to some lectures may see, when it is more than `lecture_column` in
    # them (clinic sessions open to every lecture); None: exactly those lectures.
    scope: Callable[[set[int]], ColumnElement[bool]] | None = None


def _scope_condition(spec: ListSpec, visible: set[int]) -> ColumnElement[bool]:
    if spec.scope is not None:
        return spec.scope(visible)
    return spec.lecture_column.in_(sorted(visible)) if visible else false()


@dataclass(frozen=True)
class Page:
    count: int
    page: int
    page_size: int
    rows: list[Any]

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.count

    @property
    def has_previous(self) -> bool:
        return self.page > 1


# ---------------------------------------------------------------- the resources

def _stamped_filter(column: ColumnElement[Any]) -> Filter:
    """true: rows whose time `column` is set (resolved, cancelled); false: rows where it is not."""
    return Filter("bool", lambda value: column.is_not(None) if value else column.is_(None))


def _int_filter(column: ColumnElement[Any]) -> Filter:
    return Filter("int", lambda value: column == value)


def _bool_filter(column: ColumnElement[Any]) -> Filter:
    return Filter("bool", lambda value: column.is_(True) if value else column.is_(False))


def _text_filter(column: ColumnElement[Any]) -> Filter:
    return Filter("text", lambda value: column == value)


def _severity(column: ColumnElement[str]) -> ColumnElement[int]:
    """Risk levels sort by severity, not alphabetically."""
    return case({"NORMAL": 0, "WARNING": 1, "DANGER": 2}, value=column, else_=-1)


def _policy_select() -> Select:
    return select(ProgressPolicy).join(Lecture, Lecture.id == ProgressPolicy.lecture_id)


def _session_progress_select() -> Select:
    return (
        select(SessionProgress, Enrollment.lecture_id.label("lecture_id"), Student.name.label("student_name"),
               Activity.presence.label("presence"))
        .join(Enrollment, Enrollment.id == SessionProgress.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
        .join(LectureSession, LectureSession.id == SessionProgress.session_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
        # The roll call lives on the activity (an input); the row shows it beside what it decided.
        .outerjoin(Activity, and_(Activity.enrollment_id == SessionProgress.enrollment_id,
                                  Activity.session_id == SessionProgress.session_id))
    )


LastSession = aliased(LectureSession, name="last_session")


def _lecture_progress_select() -> Select:
    return (
        select(LectureProgress, Student.name.label("student_name"))
        .join(Enrollment, Enrollment.id == LectureProgress.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
        .join(Lecture, Lecture.id == LectureProgress.lecture_id)
        .outerjoin(LastSession, LastSession.id == LectureProgress.last_session_id)
    )


CreatedBy = aliased(User, name="created_by")
ApprovedBy = aliased(User, name="approved_by")
ResolvedBy = aliased(User, name="resolved_by")
ReopenedBy = aliased(User, name="reopened_by")


def clinic_links_joined(*columns) -> Select:
    """`columns` of clinic links joined to their enrollment, student, session and lecture: every
    list of links (the API's, the clinic queue's, the to-do list's) reads them through this join."""
    return (
        select(*columns)
        .select_from(ClinicLink)
        .join(Enrollment, Enrollment.id == ClinicLink.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
        .join(LectureSession, LectureSession.id == ClinicLink.session_id)
        .join(Lecture, Lecture.id == Enrollment.lecture_id)
    )


def clinic_links_select(*columns) -> Select:
    """`columns` of clinic links joined as `clinic_links_joined` does, and outer-joined to the
    people who created, approved, resolved and reopened them (the aliases above): the API's list
    and the clinic queue page read links through this one join."""
    return (
        clinic_links_joined(*columns)
        .outerjoin(CreatedBy, CreatedBy.id == ClinicLink.created_by_id)
        .outerjoin(ApprovedBy, ApprovedBy.id == ClinicLink.approved_by_id)
        .outerjoin(ResolvedBy, ResolvedBy.id == ClinicLink.resolved_by_id)
        .outerjoin(ReopenedBy, ReopenedBy.id == ClinicLink.reopened_by_id)
    )


def _clinic_link_select() -> Select:
    return clinic_links_select(
        ClinicLink,
        Enrollment.lecture_id.label("lecture_id"),
        Student.name.label("student_name"),
        CreatedBy.username.label("created_by"),
        ApprovedBy.username.label("approved_by"),
        ResolvedBy.username.label("resolved_by"),
        ReopenedBy.username.label("reopened_by"),
        active_booking_of_link().label("booking_id"),
    )


def active_booking_of_link() -> Any:
    """The id of the clinic link's active booking, or null (SPEC §13), as a column."""
    return (
        select(ClinicBookingLink.booking_id)
        .where(ClinicBookingLink.link_id == ClinicLink.id, ClinicBookingLink.active.is_(True))
        .limit(1)
        .scalar_subquery()
    )


TeacherOf = aliased(User, name="teacher")
SessionCreatedBy = aliased(User, name="session_created_by")


def booked_count_column() -> Any:
    """How many active bookings the clinic session holds, as a column."""
    return (
        select(func.count(ClinicBooking.id))
        .where(ClinicBooking.clinic_session_id == ClinicSession.id, ClinicBooking.cancelled_at.is_(None),
               or_(ClinicBooking.attendance.is_(None), ClinicBooking.attendance != "no_show"))
        .scalar_subquery()
    )


def _clinic_session_select() -> Select:
    return (
        select(ClinicSession, TeacherOf.username.label("teacher"),
               SessionCreatedBy.username.label("created_by"), booked_count_column().label("booked"))
        .outerjoin(TeacherOf, TeacherOf.id == ClinicSession.teacher_id)
        .outerjoin(SessionCreatedBy, SessionCreatedBy.id == ClinicSession.created_by_id)
    )


def _clinic_session_scope(visible: set[int]) -> ColumnElement[bool]:
    """A teacher sees the clinic sessions of their lectures and the open ones."""
    if not visible:
        return ClinicSession.lecture_id.is_(None)
    return or_(ClinicSession.lecture_id.is_(None), ClinicSession.lecture_id.in_(sorted(visible)))


def _risk_log_select() -> Select:
    return (
        select(RiskLog, Enrollment.lecture_id.label("lecture_id"), Student.name.label("student_name"))
        .join(Enrollment, Enrollment.id == RiskLog.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
    )


def _audit_select() -> Select:
    return select(AuditLog)


def _notification_select() -> Select:
    return (
        select(Notification, Enrollment.lecture_id.label("lecture_id"), Student.name.label("student_name"))
        .join(Enrollment, Enrollment.id == Notification.enrollment_id)
        .join(Student, Student.id == Enrollment.student_id)
    )


def _orderings(model: type, *names: str, **special: ColumnElement[Any]) -> dict[str, ColumnElement[Any]]:
    columns = {name: getattr(model, name) for name in ("id", "created_at", "updated_at", *names)}
    columns.update(special)
    return columns


RESOURCES: dict[str, ListSpec] = {
    "policies": ListSpec(
        name="policies",
        model=ProgressPolicy,
        select=_policy_select,
        lecture_column=ProgressPolicy.lecture_id,
        filters={"lecture": _int_filter(ProgressPolicy.lecture_id)},
        search_columns=(Lecture.title,),
        ordering=_orderings(ProgressPolicy),
        default_ordering=("-id",),
        derived=False,
    ),
    "session-progress": ListSpec(
        name="session-progress",
        model=SessionProgress,
        select=_session_progress_select,
        lecture_column=Enrollment.lecture_id,
        filters={
            "enrollment_id": _int_filter(SessionProgress.enrollment_id),
            "session": _int_filter(SessionProgress.session_id),
            "lecture": _int_filter(Enrollment.lecture_id),
            "completed": _bool_filter(SessionProgress.completed),
        },
        search_columns=(Student.name, LectureSession.title, Lecture.title),
        ordering=_orderings(SessionProgress, "calculated_at", "completed"),
        default_ordering=("-updated_at", "-id"),
        withdrawn_column=Enrollment.withdrawn_at,
        nullable_ordering=frozenset({"calculated_at"}),
    ),
    "lecture-progress": ListSpec(
        name="lecture-progress",
        model=LectureProgress,
        select=_lecture_progress_select,
        lecture_column=LectureProgress.lecture_id,
        filters={
            "enrollment_id": _int_filter(LectureProgress.enrollment_id),
            "lecture": _int_filter(LectureProgress.lecture_id),
            "risk_level": _text_filter(LectureProgress.risk_level),
        },
        search_columns=(Student.name, LastSession.title, Lecture.title),
        ordering=_orderings(LectureProgress, "completed_sessions", risk_level=_severity(LectureProgress.risk_level)),
        default_ordering=("-updated_at", "-id"),
        withdrawn_column=Enrollment.withdrawn_at,
    ),
    "clinic-links": ListSpec(
        name="clinic-links",
        model=ClinicLink,
        select=_clinic_link_select,
        lecture_column=Enrollment.lecture_id,
        filters={
            "enrollment_id": _int_filter(ClinicLink.enrollment_id),
            "session": _int_filter(ClinicLink.session_id),
            "lecture": _int_filter(Enrollment.lecture_id),
            "reason": _text_filter(ClinicLink.reason),
            "is_auto": _bool_filter(ClinicLink.is_auto),
            "approved": _bool_filter(ClinicLink.approved),
            "resolved": _stamped_filter(ClinicLink.resolved_at),
        },
        search_columns=(Student.name, LectureSession.title, Lecture.title, ClinicLink.memo),
        ordering=_orderings(ClinicLink, "approved", "is_auto"),
        default_ordering=("-created_at", "-id"),
        withdrawn_column=Enrollment.withdrawn_at,
    ),
    "clinic-sessions": ListSpec(
        name="clinic-sessions",
        model=ClinicSession,
        select=_clinic_session_select,
        lecture_column=ClinicSession.lecture_id,
        filters={
            "lecture": _int_filter(ClinicSession.lecture_id),
            "teacher": _text_filter(TeacherOf.username),
            "cancelled": _stamped_filter(ClinicSession.cancelled_at),
        },
        search_columns=(ClinicSession.room, ClinicSession.note),
        ordering=_orderings(ClinicSession, "starts_at", "ends_at", "capacity"),
        default_ordering=("starts_at", "id"),
        derived=False,
        scope=_clinic_session_scope,
    ),
    "risk-logs": ListSpec(
        name="risk-logs",
        model=RiskLog,
        select=_risk_log_select,
        lecture_column=Enrollment.lecture_id,
        filters={
            "enrollment_id": _int_filter(RiskLog.enrollment_id),
            "session": _int_filter(RiskLog.session_id),
            "lecture": _int_filter(Enrollment.lecture_id),
            "risk_level": _text_filter(RiskLog.risk_level),
            "rule": _text_filter(RiskLog.rule),
        },
        search_columns=(Student.name, RiskLog.reason),
        ordering=_orderings(RiskLog, "rule", risk_level=_severity(RiskLog.risk_level)),
        default_ordering=("-created_at", "-id"),
        withdrawn_column=Enrollment.withdrawn_at,
    ),
    "audit": ListSpec(
        name="audit",
        model=AuditLog,
        select=_audit_select,
        lecture_column=AuditLog.lecture_id,
        filters={
            "lecture": _int_filter(AuditLog.lecture_id),
            "object_type": _text_filter(AuditLog.object_type),
            "object_id": _text_filter(AuditLog.object_id),
            "action": _text_filter(AuditLog.action),
            "username": _text_filter(AuditLog.username),
        },
        search_columns=(AuditLog.username, AuditLog.action, AuditLog.object_type),
        ordering={"id": AuditLog.id, "created_at": AuditLog.created_at},
        default_ordering=("-created_at", "-id"),
        derived=False,
    ),
    # Messages to guardians (SPEC §14); their enrollment's lecture scopes them.
    "notifications": ListSpec(
        name="notifications",
        model=Notification,
        select=_notification_select,
        lecture_column=Enrollment.lecture_id,
        filters={
            "state": _text_filter(Notification.state),
            "enrollment_id": _int_filter(Notification.enrollment_id),
            "lecture": _int_filter(Enrollment.lecture_id),
            "event": _text_filter(Notification.event),
        },
        search_columns=(Student.name, Notification.text),
        ordering=_orderings(Notification, "sent_at", "state"),
        default_ordering=("-created_at", "-id"),
        derived=False,
        nullable_ordering=frozenset({"sent_at"}),
    ),
}


# ---------------------------------------------------------------- pages of the web pages' lists

@dataclass(frozen=True)
class FilteredPage:
    """One page of a web page's list (clinic queue, OMR review, risk history): its rows, how many
    match in all, and the filters that asked for it (their `page` counts from 1)."""

    rows: list
    count: int
    filters: Any
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.filters.page * self.page_size < self.count


# ---------------------------------------------------------------- parsing query arguments

def parse_bool(value: str, name: str) -> bool:
    """`true` or `false` (any case); anything else is refused."""
    parsed = TRUE_WORDS.get(value.strip().lower())
    if parsed is None:
        raise Invalid("query_not_boolean", name, name=name)
    return parsed


def parse_int(value: str, name: str) -> int:
    """A whole decimal number, optionally signed; anything else is refused."""
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        raise Invalid("query_not_integer", name, name=name)
    number = int(text)
    if abs(number) > MAX_ID:
        raise Invalid("query_out_of_range", name, name=name)
    return number


def id_or_none(text: str | None) -> int | None:
    """For the pages' filter controls, which ignore what they cannot read: a whole number from 1
    to MAX_ID (an id or a page number), spaces around it allowed; anything else is None."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with %, _ and the escape character taken literally."""
    escaped = (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def _order_by(spec: ListSpec, ordering: str | None) -> list[ColumnElement[Any]]:
    names: tuple[str, ...]
    if ordering is None or ordering.strip() == "":
        names = spec.default_ordering
    else:
        name = ordering.strip()
        if name.lstrip("-") not in spec.ordering or name.startswith("--"):
            allowed = ", ".join(sorted(spec.ordering))
            raise Invalid("query_ordering", "ordering", allowed=allowed)
        names = (name,)
    clauses = []
    for name in names:
        key = name.lstrip("-")
        column = spec.ordering[key]
        descending = name.startswith("-")
        clause = column.desc() if descending else column.asc()
        if key in spec.nullable_ordering:
            # The same place for "never" on both databases: before everything ascending.
            clause = clause.nulls_last() if descending else clause.nulls_first()
        clauses.append(clause)
    if not any(name.lstrip("-") == "id" for name in names):
        clauses.append(spec.ordering["id"].asc())
    return clauses


def _conditions(spec: ListSpec, args: Mapping[str, str], visible: set[int] | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if visible is not None:
        conditions.append(_scope_condition(spec, visible))
    for name, filt in spec.filters.items():
        raw = args.get(name)
        if raw is None or raw == "":
            continue
        if filt.kind == "int":
            value: Any = parse_int(raw, name)
        elif filt.kind == "bool":
            value = parse_bool(raw, name)
        else:
            value = raw
        conditions.append(filt.condition(value))
    if spec.withdrawn_column is not None:
        raw = args.get("include_withdrawn")
        include = parse_bool(raw, "include_withdrawn") if raw not in (None, "") else False
        if not include:
            conditions.append(spec.withdrawn_column.is_(None))
    search = args.get("search")
    if search is not None and search.strip():
        pattern = like_pattern(search.strip())
        conditions.append(or_(*(column.ilike(pattern, escape=LIKE_ESCAPE) for column in spec.search_columns)))
    return conditions


def page_numbers(args: Mapping[str, str]) -> tuple[int, int]:
    """(page, page_size) from the arguments: page from 1, page size capped at MAX_PAGE_SIZE."""
    raw_page = args.get("page")
    page = 1 if raw_page in (None, "") else parse_int(raw_page, "page")
    raw_size = args.get("page_size")
    page_size = DEFAULT_PAGE_SIZE if raw_size in (None, "") else parse_int(raw_size, "page_size")
    if page_size < 1:
        raise Invalid("query_page_size", "page_size")
    return page, min(page_size, MAX_PAGE_SIZE)


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class ListPlan:
    """A list request understood: what to select, in which order, which page; `lecture_id` is the
    lecture filter when one was given (so a read refreshes only that lecture)."""

    spec: ListSpec
    conditions: tuple[ColumnElement[bool], ...]
    order: tuple[ColumnElement[Any], ...]
    page: int
    page_size: int
    visible: set[int] | None
    lecture_id: int | None


LIST_PARAMETERS = ("page", "page_size", "search", "ordering")


def _refuse_unknown_parameters(spec: ListSpec, args: Mapping[str, str]) -> None:
    """A parameter the list does not know is 400 naming it: silently ignoring a misspelt filter
    (`?enrollment=2011` for `enrollment_id`) would answer every row as if it had been applied."""
    # include_withdrawn is taken by every list (those without withdrawn rows have nothing to hide).
    known = {*LIST_PARAMETERS, "include_withdrawn", *spec.filters}
    for name in args:
        if name not in known:
            raise Invalid("query_unknown_parameter", name, name=name, known=", ".join(sorted(known)))


def plan_list(resource: str, args: Mapping[str, str], visible: set[int] | None) -> ListPlan:
    """Read a list's query arguments (`Invalid` naming a bad one, `NotFound` for a page below 1).

    `visible` is None for every lecture, else the ids of the lectures the caller may read.
    """
    spec = RESOURCES[resource]
    _refuse_unknown_parameters(spec, args)
    page, page_size = page_numbers(args)
    conditions = _conditions(spec, args, visible)
    order = _order_by(spec, args.get("ordering"))
    if page < 1:
        raise NotFound("page_out_of_range")
    raw_lecture = args.get("lecture") if "lecture" in spec.filters else None
    lecture_id = parse_int(raw_lecture, "lecture") if raw_lecture not in (None, "") else None
    return ListPlan(spec, tuple(conditions), tuple(order), page, page_size, visible, lecture_id)


def fetch_page(plan: ListPlan) -> Page:
    """Run a planned list: one query for the count, one for the page (`NotFound` past the end)."""
    statement = plan.spec.select().where(*plan.conditions)
    count = db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    last_page = max(1, -(-count // plan.page_size))
    if plan.page > last_page:
        raise NotFound("page_out_of_range")
    offset = (plan.page - 1) * plan.page_size
    rows = list(db.session.execute(statement.order_by(*plan.order).limit(plan.page_size).offset(offset)))
    return Page(count=count, page=plan.page, page_size=plan.page_size, rows=rows)


def get_row(resource: str, object_id: int, visible: set[int] | None) -> Any | None:
    """One object of a resource with what its serializer needs, or None when missing or out of scope."""
    spec = RESOURCES[resource]
    statement = spec.select().where(spec.model.id == object_id)
    if visible is not None:
        statement = statement.where(_scope_condition(spec, visible))
    return db.session.execute(statement).first()


def lecture_of(resource: str, object_id: int) -> int | None:
    """The lecture an object belongs to (None when it does not exist)."""
    spec = RESOURCES[resource]
    statement = spec.select().with_only_columns(spec.lecture_column).where(spec.model.id == object_id)
    return db.session.execute(statement).scalar()


def stale_lecture_ids(visible: set[int] | None, lecture_id: int | None = None) -> list[int]:
    """Lectures (among those visible, or the one named) whose derived rows are older than today."""
    today = academy_today()
    statement = select(Lecture.id).where(
        or_(Lecture.recomputed_for.is_(None), Lecture.recomputed_for != today)
    ).order_by(Lecture.id)
    if visible is not None:
        statement = statement.where(Lecture.id.in_(sorted(visible)) if visible else false())
    if lecture_id is not None:
        statement = statement.where(Lecture.id == lecture_id)
    return list(db.session.execute(statement).scalars())


def refresh_stale(visible: set[int] | None, lecture_id: int | None = None) -> None:
    """Recompute every lecture a read may show whose rows were computed before today (SPEC §7)."""
    from dashboard.progress.recompute import ensure_fresh

    for stale in stale_lecture_ids(visible, lecture_id):
        ensure_fresh(stale)

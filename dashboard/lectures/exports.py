"""The scores export of a lecture: what was entered for each student,
as a table a spreadsheet opens — the roll call, the video rate, each exam's latest score and each
homework's submission, score and approval.

Columns go session by session in order: `<order> presence`, `<order> video`, then one column per
exam at the first session it is linked to (an exam shared by several sessions is one column:
its result is one score), then three per homework. Rows are the active students by name. A cell
never filled in is blank (a roll call not taken, an exam not sat, a homework not recorded); a
video rate without a record is 0, as the progress rules read it (SPEC §1). Presence uses the
roll call's words and yes/no the uploads' words, so a column can be copied into an upload.

Five queries, whatever the size of the class; the caller checks the reader may see the lecture.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, select

from dashboard.extensions import db
from dashboard.models import (
    Activity,
    Attempt,
    Enrollment,
    Exam,
    ExamSession,
    Homework,
    HomeworkSubmission,
    LectureSession,
    Student,
)
from dashboard.progress import rules


def scores_table(lecture_id: int) -> list[list[Any]]:
    """The header and one row per active student."""
    sessions = db.session.execute(
        select(LectureSession.id, LectureSession.order, LectureSession.title)
        .where(LectureSession.lecture_id == lecture_id).order_by(LectureSession.order)
    ).all()
    session_ids = [s.id for s in sessions]
    linked = db.session.execute(
        select(ExamSession.session_id, Exam.id, Exam.title).join(Exam, Exam.id == ExamSession.exam_id)
        .where(ExamSession.session_id.in_(session_ids)).order_by(Exam.id)
    ).all() if session_ids else []
    homeworks = db.session.execute(
        select(Homework.session_id, Homework.id, Homework.title).where(Homework.session_id.in_(session_ids))
        .order_by(Homework.id)
    ).all() if session_ids else []

    # The columns: (kind, session id, item id) with their header text.
    exams_at: dict[int, list[Any]] = defaultdict(list)
    placed: set[int] = set()
    order_of = {s.id: s.order for s in sessions}
    for row in sorted(linked, key=lambda r: (order_of[r.session_id], r.id)):
        if row.id not in placed:
            placed.add(row.id)
            exams_at[row.session_id].append(row)
    homework_at: dict[int, list[Any]] = defaultdict(list)
    for row in homeworks:
        homework_at[row.session_id].append(row)
    header: list[Any] = [_("Student"), _("Student ID")]
    columns: list[tuple[str, int, int]] = []
    for s in sessions:
        header += [f"{s.order} {_('presence')}", f"{s.order} {_('video')}"]
        columns += [("presence", s.id, 0), ("video", s.id, 0)]
        for exam in exams_at[s.id]:
            header.append(f"{s.order} {exam.title}")
            columns.append(("exam", s.id, exam.id))
        for homework in homework_at[s.id]:
            name = homework.title or _("Homework %(id)s", id=homework.id)
            header += [f"{s.order} {name} {_('submitted')}", f"{s.order} {name} {_('score')}",
                       f"{s.order} {name} {_('approved')}"]
            columns += [("submitted", s.id, homework.id), ("hw_score", s.id, homework.id),
                        ("approved", s.id, homework.id)]

    active = and_(Enrollment.lecture_id == lecture_id, Enrollment.withdrawn_at.is_(None))
    people = db.session.execute(
        select(Enrollment.id, Student.id.label("student_id"), Student.name)
        .join(Student, Student.id == Enrollment.student_id).where(active).order_by(Student.name, Enrollment.id)
    ).all()
    values: dict[tuple[str, int, int, int], Any] = {}  # (kind, session, item, enrollment) -> value
    if session_ids:
        for row in db.session.execute(
            select(Activity.enrollment_id, Activity.session_id, Activity.presence, Activity.video_rate)
            .join(Enrollment, Enrollment.id == Activity.enrollment_id)
            .where(active, Activity.session_id.in_(session_ids))
        ):
            values[("presence", row.session_id, 0, row.enrollment_id)] = row.presence or ""
            values[("video", row.session_id, 0, row.enrollment_id)] = row.video_rate
    if placed:
        latest = rules.latest_per(db.session.execute(
            select(Attempt.enrollment_id, Attempt.exam_id, Attempt.attempt_no, Attempt.submitted_at, Attempt.score)
            .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
            .where(active, Attempt.exam_id.in_(sorted(placed)))
        ), lambda row: (row.enrollment_id, row.exam_id))
        exam_session = {exam.id: s_id for s_id, exams in exams_at.items() for exam in exams}
        for (enrollment_id, exam_id), row in latest.items():
            values[("exam", exam_session[exam_id], exam_id, enrollment_id)] = row.score
    if homeworks:
        session_of = {row.id: row.session_id for row in homeworks}
        for row in db.session.execute(
            select(HomeworkSubmission.enrollment_id, HomeworkSubmission.homework_id, HomeworkSubmission.submitted,
                   HomeworkSubmission.score, HomeworkSubmission.approved)
            .join(Enrollment, Enrollment.id == HomeworkSubmission.enrollment_id)
            .where(active, HomeworkSubmission.homework_id.in_(list(session_of)))
        ):
            where = session_of[row.homework_id]
            values[("submitted", where, row.homework_id, row.enrollment_id)] = row.submitted
            values[("hw_score", where, row.homework_id, row.enrollment_id)] = row.score
            values[("approved", where, row.homework_id, row.enrollment_id)] = row.approved

    defaults = {"video": 0}
    table = [header]
    for person in people:
        line: list[Any] = [person.name, person.student_id]
        for kind, s_id, item in columns:
            line.append(_cell(values.get((kind, s_id, item, person.id), defaults.get(kind))))
        table.append(line)
    return table


def _cell(value: Any) -> Any:
    """Blank for nothing, yes/no for a flag, a score as people write it (72.50 -> 72.5)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return Decimal(format(value.normalize(), "f"))
    return value

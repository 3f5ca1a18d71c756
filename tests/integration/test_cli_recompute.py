"""`flask recompute`: every lecture or the named ones, committed; unknown ids refused."""
from __future__ import annotations

from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Enrollment, Lecture, LectureProgress, LectureSession, ProgressPolicy, Student


def _lecture(title: str, sessions: int) -> int:
    lecture = Lecture(title=title)
    db.session.add(lecture)
    db.session.flush()
    db.session.add(ProgressPolicy(lecture_id=lecture.id))
    student = Student(name=f"Student of {title}")
    db.session.add(student)
    db.session.flush()
    db.session.add(Enrollment(student_id=student.id, lecture_id=lecture.id))
    db.session.add_all(LectureSession(lecture_id=lecture.id, order=i + 1) for i in range(sessions))
    db.session.commit()
    return lecture.id


def test_recompute_every_lecture(runner):
    _lecture("A", 2)
    _lecture("B", 3)
    result = runner.invoke(args=["recompute"])
    assert result.exit_code == 0, result.output
    # 1 student x 2 undated sessions + 1 x 3 = 5 rows
    assert "Recomputed 2 lecture(s), 5 session-progress rows." in result.output
    db.session.remove()
    assert db.session.execute(select(func.count(LectureProgress.id))).scalar_one() == 2


def test_recompute_one_lecture_and_unknown_id(runner):
    first = _lecture("A", 2)
    second = _lecture("B", 3)
    result = runner.invoke(args=["recompute", "--lecture", str(second)])
    assert result.exit_code == 0, result.output
    assert "Recomputed 1 lecture(s), 3 session-progress rows." in result.output
    db.session.remove()
    lectures = db.session.execute(select(LectureProgress.lecture_id)).scalars().all()
    assert lectures == [second]
    result = runner.invoke(args=["recompute", "--lecture", str(first + second + 100)])
    assert result.exit_code != 0
    assert f"no lecture with id {first + second + 100}" in result.output


def test_recompute_does_the_days_work_and_full_redoes_everything(runner, app):
    _lecture("A", 2)
    assert "Recomputed 1 lecture(s), 2 session-progress rows." in runner.invoke(args=["recompute"]).output
    # Up to today already: nothing to do, unless asked for the whole lecture.
    assert "Recomputed 1 lecture(s), 0 session-progress rows." in runner.invoke(args=["recompute"]).output
    assert "Recomputed 1 lecture(s), 2 session-progress rows." in runner.invoke(args=["recompute", "--full"]).output

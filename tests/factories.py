"""Small factories for the web tests: each adds one thing and flushes (never commits).

Tests that then call the API commit first: the test client shares the test's session, and a
refused request rolls back whatever was not committed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import count

from sqlalchemy import select

from dashboard.omr import intake as omr
from dashboard.accounts.users import create_token
from dashboard.extensions import db
from dashboard.models import (
    Activity,
    Attempt,
    ClinicLink,
    Enrollment,
    Exam,
    ExamQuestion,
    ExamSession,
    Homework,
    HomeworkSubmission,
    Lecture,
    LectureSession,
    ProgressPolicy,
    Student,
    TeacherLecture,
    User,
)

_numbers = count(1)


def _flushed(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def make_lecture(title: str = "Algebra II", **policy: object) -> Lecture:
    """A lecture with its policy (defaults of SPEC §2, overridden by `policy`)."""
    lecture = _flushed(Lecture(title=title))
    _flushed(ProgressPolicy(lecture_id=lecture.id, **policy))
    return lecture


def policy_of(lecture: Lecture) -> ProgressPolicy:
    return db.session.execute(
        select(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture.id)
    ).scalar_one()


def make_session(lecture: Lecture, order: int, on: date | None = None, title: str | None = None) -> LectureSession:
    return _flushed(LectureSession(lecture_id=lecture.id, order=order, date=on, title=title or f"Week {order}"))


def make_student(name: str) -> Student:
    return _flushed(Student(name=name))


def make_enrollment(student: Student, lecture: Lecture, start_date: date | None = None) -> Enrollment:
    return _flushed(Enrollment(student_id=student.id, lecture_id=lecture.id, start_date=start_date))


def enroll(name: str, lecture: Lecture) -> Enrollment:
    """A new student enrolled in the lecture."""
    return make_enrollment(make_student(name), lecture)


def make_exam(sessions: list[LectureSession], pass_score: Decimal | int | None = 60,
              max_score: Decimal | int = 100, title: str | None = None) -> Exam:
    exam = _flushed(Exam(title=title or f"Quiz {next(_numbers)}",
                         pass_score=None if pass_score is None else Decimal(pass_score),
                         max_score=Decimal(max_score)))
    for session in sessions:
        _flushed(ExamSession(exam_id=exam.id, session_id=session.id))
    return exam


# ---------------------------------------------------------------- OMR

# The quiz key most OMR tests use: 1:"1", 2:"2", 3:"3", 4:"24" (choose-all), and a sheet read
# right on every question by the worker.
QUIZ_KEY = {1: "1", 2: "2", 3: "3", 4: "24"}
ALL_RIGHT = [
    {"question": 1, "detected": ["1"], "marking": "single", "confidence": 0.97, "status": "ok"},
    {"question": 2, "detected": ["2"], "marking": "single", "confidence": 0.91, "status": "ok"},
    {"question": 3, "detected": ["3"], "marking": "single", "confidence": 0.88, "status": "ok"},
    {"question": 4, "detected": ["4", "2"], "marking": "multi", "confidence": 0.93, "status": "ok"},
]
# Question 2 read right, but at confidence 0.61 < 0.70: flagged.
UNSURE = [dict(answer, confidence=0.61) if answer["question"] == 2 else answer for answer in ALL_RIGHT]


def add_answer_key(exam: Exam, key: dict[int, str] = QUIZ_KEY, points: Decimal | int = 25) -> None:
    """The exam's answer key, every question worth `points`."""
    for number, answer in key.items():
        db.session.add(ExamQuestion(exam_id=exam.id, number=number, answer=answer, points=Decimal(points)))
    db.session.flush()


def read_scan(exam: Exam, enrollment: Enrollment | None, answers: list[dict] | None = None,
              identifier: dict | None = None, **result: object) -> int:
    """A scan registered for `enrollment` (or nobody) and, given `answers`, read by the worker with
    `identifier` (by default an ok one naming `enrollment`) and any other `result` fields."""
    scan = omr.register_scan(None, {"exam_id": exam.id, "enrollment_id": enrollment.id if enrollment else None})
    if answers is not None:
        identifier = identifier or {"status": "ok", "enrollment_id": enrollment.id}
        omr.record_result(None, scan.id, {"status": "DONE", "error": None,
                                          "result": {**result, "identifier": identifier, "answers": answers}})
    return scan.id


def make_attempt(enrollment: Enrollment, exam: Exam, score: Decimal | int | str, attempt_no: int = 1,
                 submitted_at: datetime | None = None) -> Attempt:
    return _flushed(Attempt(enrollment_id=enrollment.id, exam_id=exam.id, attempt_no=attempt_no,
                            score=Decimal(score), submitted_at=submitted_at, source="manual"))


def make_homework(session: LectureSession, max_score: Decimal | int = 100) -> Homework:
    return _flushed(Homework(session_id=session.id, title=f"Worksheet {next(_numbers)}", max_score=Decimal(max_score)))


def make_submission(enrollment: Enrollment, homework: Homework, submitted: bool = True,
                    score: Decimal | int | None = None, approved: bool = False) -> HomeworkSubmission:
    return _flushed(HomeworkSubmission(enrollment_id=enrollment.id, homework_id=homework.id, submitted=submitted,
                                       score=None if score is None else Decimal(score), approved=approved))


def make_activity(enrollment: Enrollment, session: LectureSession, video_rate: int = 0,
                  attendance: str = "online") -> Activity:
    return _flushed(Activity(enrollment_id=enrollment.id, session_id=session.id, video_rate=video_rate,
                             attendance=attendance))


def make_manual_link(enrollment: Enrollment, session: LectureSession, memo: str = "parent asked",
                     reason: str = "MANUAL_REQUEST", created_by: User | None = None) -> ClinicLink:
    return _flushed(ClinicLink(enrollment_id=enrollment.id, session_id=session.id, reason=reason, is_auto=False,
                               approved=False, memo=memo, auto_managed=False,
                               created_by_id=created_by.id if created_by else None))


def make_user(username: str, role: str, lectures: tuple[Lecture, ...] = ()) -> User:
    """A user without a usable password (the API tests use tokens; scrypt would only slow them)."""
    user = _flushed(User(username=username, password_hash="!", role=role, is_active=True))
    for lecture in lectures:
        _flushed(TeacherLecture(user_id=user.id, lecture_id=lecture.id))
    return user


def make_token(user: User) -> str:
    """A live bearer token for the user (raw text)."""
    return create_token(user)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


KST = timezone(timedelta(hours=9))


@dataclass
class Academy:
    """Two lectures, their people and their derived rows (see build_academy)."""

    algebra: Lecture
    geometry: Lecture
    weeks: list[LectureSession]
    upcoming: LectureSession
    geometry_week: LectureSession
    minji: Enrollment
    jisoo: Enrollment
    park: Enrollment
    choi: Enrollment
    minho: Enrollment
    quiz: Exam
    tokens: dict[str, str]
    users: dict[str, User]


def build_academy() -> Academy:
    """A small academy worked by hand (today is 2026-04-01, grace 7 days, default policy).

    Algebra II: Week 1..3 dated 03-02/03-09/03-16 (held and due), Week 4 on 04-20 (upcoming:
    no rows). Quiz on Week 2 (pass 60). Exams count from order 2, no homework anywhere.
    - Kim Minji: video 95 everywhere, quiz 72.5 -> all three sessions completed; NORMAL.
    - Lee Jisoo: no activity (video 0), quiz 40 -> nothing completed, 3 in a row: DANGER;
      low-score rule counts 1 (Week 2 only) -> NORMAL for that rule. AUTO_FAILED x3 and
      AUTO_RISK on Week 2 (LOW_SCORE).
    - Park_100%: nothing at all -> 3 failed, DANGER; AUTO_FAILED x3.
    - Choi: like Park, then withdrawn after the recompute (rows kept, hidden by default).
    Geometry: one due session, Kim Minho with no activity -> 1 failed, NORMAL; AUTO_FAILED x1.

    Users: admin, staff, teacher_a (Algebra), teacher_b (Geometry); each has a token.
    Flushed only: API tests commit it (see the module docstring).
    """
    from dashboard.progress.recompute import recompute_lecture

    algebra = make_lecture("Algebra II")
    weeks = [make_session(algebra, order, date(2026, 3, 2) + timedelta(days=7 * (order - 1)))
             for order in (1, 2, 3)]
    upcoming = make_session(algebra, 4, date(2026, 4, 20))
    minji = enroll("Kim Minji", algebra)
    jisoo = enroll("Lee Jisoo", algebra)
    park = enroll("Park_100%", algebra)
    choi = enroll("Choi Yuna", algebra)
    for week in weeks:
        make_activity(minji, week, video_rate=95)
    quiz = make_exam([weeks[1]], pass_score=60)
    make_attempt(minji, quiz, "72.5", submitted_at=datetime(2026, 3, 9, 10, 0, tzinfo=KST))
    make_attempt(jisoo, quiz, 40, submitted_at=datetime(2026, 3, 9, 10, 5, tzinfo=KST))

    geometry = make_lecture("Geometry")
    geometry_week = make_session(geometry, 1, date(2026, 3, 2), title="Triangles")
    minho = enroll("Kim Minho", geometry)

    users = {
        "admin": make_user("admin", "admin"),
        "staff": make_user("staff", "staff"),
        "teacher_a": make_user("teacher_a", "teacher", (algebra,)),
        "teacher_b": make_user("teacher_b", "teacher", (geometry,)),
    }
    tokens = {name: make_token(user) for name, user in users.items()}
    recompute_lecture(algebra.id)
    recompute_lecture(geometry.id)
    choi.withdrawn_at = datetime(2026, 3, 31, 12, 0, tzinfo=KST)
    db.session.flush()
    return Academy(algebra, geometry, weeks, upcoming, geometry_week, minji, jisoo, park, choi, minho, quiz,
                   tokens, users)


# ---------------------------------------------------------------- parents

def make_guardian(student: Student, name: str = "Kim Mother", relation: str = "모", phone: str | None = "01012345678",
                  email: str | None = None, channel: str = "sms", language: str = "ko", consent: bool = True):
    from dashboard.models import Guardian

    return _flushed(Guardian(student_id=student.id, name=name, relation=relation, phone=phone, email=email,
                             channel=channel, language=language, consent=consent))

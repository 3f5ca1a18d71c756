"""The demo academy: a realistic snapshot imported through the importer, plus demo logins.

`build_demo_snapshot` is deterministic (seeded) and pure; `create_demo` refuses a database
that holds anything, imports the snapshot with `import_snapshot` (so the demo exercises the
real import path and recompute), then adds the demo users. Dates are spread around the
academy's today so that sessions are upcoming, inside the grace window and due, and every
status and risk level shows up.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from dashboard.accounts import users as accounts
from dashboard.clock import academy_today
from dashboard.extensions import db
from dashboard.importer import ImportResult, import_snapshot
from dashboard.models import Activity, Enrollment, Lecture, LectureSession, Student, User
from dashboard.parents import notes, outbox

DEMO_PASSWORD = "demo1234"
# (username, role, lecture ids): the teacher teaches the first lecture.
DEMO_USERS = (("admin", "admin", ()), ("teacher", "teacher", (1,)), ("staff", "staff", ()))

_SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
_GIVEN = ("민준", "서연", "도윤", "하은", "시우", "지유", "주원", "서윤", "하준", "지민", "예준", "채원", "지호",
          "수아", "준서", "다은", "현우", "예린", "건우", "소율", "우진", "윤서", "선우", "가은", "연우", "하린",
          "유준", "수빈", "정우", "지아", "승현", "나연")


@dataclass(frozen=True)
class _LectureDesign:
    id: int
    title: str
    sessions: int
    every_days: int  # days between sessions
    newest_held_days_ago: int  # the latest held session is this many days before today
    upcoming: int  # sessions after today
    policy: dict[str, Any]
    homework_max: int
    students: range  # indices into the student list


_LECTURES = (
    _LectureDesign(1, "고등 수학 II (Algebra II)", 14, 7, 3, 3, {}, 100, range(0, 26)),
    _LectureDesign(
        2, "영어 독해 (English Reading)", 12, 7, 2, 2,
        {"exam_aggregate_strategy": "AVG", "homework_pass_type": "SCORE", "homework_cutline_percent": 80,
         "homework_round_unit": 5},
        50, range(10, 32),
    ),
    _LectureDesign(
        3, "물리학 I (Physics I)", 16, 4, 1, 2,
        {"exam_aggregate_strategy": "LATEST", "exam_pass_source": "POLICY", "exam_pass_score": 65,
         "homework_pass_type": "SUBMIT", "completion_grace_days": 3, "risk_danger_consecutive": 4},
        100, range(0, 32, 2),
    ),
)

# How each student behaves; every pattern below yields a risk level the grid should show.
_PROFILES = ("struggling", "diligent", "diligent", "sliding", "average", "low_scorer", "diligent", "average")
QUESTIONS = 10  # per exam, 10 points each: max score 100


@dataclass(frozen=True)
class DemoResult:
    imported: ImportResult
    users: tuple[tuple[str, str], ...]  # (username, role)


class DemoRefused(Exception):
    """The database already holds data; the demo only fills an empty one."""


def student_names(count: int) -> list[str]:
    """Distinct Korean names, the same every run."""
    return [_SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i * 7) % len(_GIVEN)] for i in range(count)]


def build_demo_snapshot(today: date, seed: int = 20260301) -> dict[str, list[dict[str, Any]]]:
    """The demo academy as a snapshot (SPEC §9), with dates around `today`."""
    rng = random.Random(seed)
    names = student_names(32)
    snapshot: dict[str, list[dict[str, Any]]] = {
        "lectures": [], "sessions": [], "students": [], "enrollments": [], "exams": [], "attempts": [],
        "homeworks": [], "homework_submissions": [], "activities": [],
    }
    snapshot["students"] = [{"id": i + 1, "name": name, "contact": f"010-{4100 + i:04d}-{(i * 37) % 10000:04d}",
                             "guardians": _guardians(i, name)}
                            for i, name in enumerate(names)]
    for design in _LECTURES:
        _add_lecture(snapshot, design, today, rng)
    return snapshot


def _guardians(index: int, student_name: str) -> list[dict[str, Any]]:
    """Fictional guardians: numbers 010-0000-xxxx and example.com addresses. Most agreed to messages;
    every sixth prefers e-mail, every tenth reads English, every fifth has not agreed yet."""
    mother: dict[str, Any] = {
        "name": f"{student_name[0]}{_GIVEN[(index * 7 + 3) % len(_GIVEN)]}", "relation": "모",
        "phone": f"010-0000-{1000 + index:04d}", "consent": index % 5 != 4,
        "language": "en" if index % 10 == 9 else "ko",
    }
    if index % 6 == 5:
        mother.update(email=f"parent{index + 1}@example.com", channel="email")
    guardians = [mother]
    if index % 3 == 0:
        guardians.append({"name": f"{student_name[0]}{_GIVEN[(index * 5 + 1) % len(_GIVEN)]}", "relation": "부",
                          "phone": f"010-0000-{2000 + index:04d}", "consent": False})
    return guardians


def _add_lecture(snapshot: dict, design: _LectureDesign, today: date, rng: random.Random) -> None:
    policy = {"completion_grace_days": 7, "exam_start_session_order": 2, "homework_start_session_order": 2,
              "exam_pass_score": 60, "exam_pass_source": "EXAM", "video_required_rate": 90,
              "risk_warning_consecutive": 2, "risk_danger_consecutive": 3, **design.policy}
    lecture: dict[str, Any] = {"id": design.id, "title": design.title}
    if design.policy:
        lecture["policy"] = design.policy
    snapshot["lectures"].append(lecture)
    grace = policy["completion_grace_days"]
    last_held = design.sessions - design.upcoming
    sessions = []
    for order in range(1, design.sessions + 1):
        if order <= last_held:
            when = today - timedelta(days=design.newest_held_days_ago + design.every_days * (last_held - order))
        else:
            when = today + timedelta(days=design.every_days * (order - last_held))
        session_id = design.id * 100 + order
        sessions.append((session_id, order, when))
        snapshot["sessions"].append({"id": session_id, "lecture_id": design.id, "order": order,
                                     "title": f"{order}차시", "date": when.isoformat()})
    due = [s[0] for s in sessions if s[2] + timedelta(days=grace) <= today]
    # 0 = the latest due session, 1 = the one before, ...
    due_position = {session_id: len(due) - 1 - i for i, session_id in enumerate(due)}
    held = [s for s in sessions if s[2] <= today]

    # Exams from the exam start order; the middle session is a review without an exam,
    # and every fourth session adds a vocabulary quiz.
    exams_of: dict[int, list[tuple[int, int | None]]] = {}
    for session_id, order, _ in sessions:
        if order < policy["exam_start_session_order"] or order == design.sessions // 2:
            continue
        exam_id = design.id * 1000 + order * 10
        pass_score = None if order % 5 == 0 else 60
        exams_of[session_id] = [(exam_id, pass_score)]
        snapshot["exams"].append(_exam(exam_id, f"{order}차시 확인 평가 (Quiz {order})", session_id, pass_score, rng))
        if order % 4 == 0:
            snapshot["exams"].append(_exam(exam_id + 1, f"{order}차시 단어 시험 (Vocabulary)", session_id, 50, rng))
            exams_of[session_id].append((exam_id + 1, 50))
    homework_of: dict[int, list[int]] = {}
    for session_id, order, _ in sessions:
        homework_ids = [design.id * 10000 + order * 10]
        if order % 6 == 0:
            homework_ids.append(homework_ids[0] + 1)
        homework_of[session_id] = homework_ids
        for n, homework_id in enumerate(homework_ids, start=1):
            snapshot["homeworks"].append({"id": homework_id, "session_id": session_id,
                                          "title": f"{order}차시 과제 {n}", "max_score": design.homework_max})

    for index in design.students:
        student_id = index + 1
        enrollment_id = design.id * 1000 + student_id
        # Two students of the first lecture joined mid-term: earlier sessions do not count for them.
        start = sessions[4][2] if design.id == 1 and index in (7, 15) else None
        snapshot["enrollments"].append({"id": enrollment_id, "student_id": student_id, "lecture_id": design.id,
                                        "start_date": start.isoformat() if start else None})
        profile = _PROFILES[index % len(_PROFILES)]
        for session_id, order, when in held:
            if start is not None and when < start:
                continue
            _add_cell(snapshot, design, policy, rng, profile, enrollment_id, session_id, order, when,
                      due_position.get(session_id),
                      exams_of.get(session_id, []), homework_of[session_id])


def _exam(exam_id: int, title: str, session_id: int, pass_score: int | None, rng: random.Random) -> dict:
    questions = [{"number": n, "answer": str(rng.randint(1, 5)), "points": 10} for n in range(1, QUESTIONS + 1)]
    # One choose-all question per exam.
    questions[-1]["answer"] = "24"
    return {"id": exam_id, "title": title, "session_ids": [session_id], "pass_score": pass_score,
            "max_score": 100, "questions": questions}


def _add_cell(snapshot, design, policy, rng, profile, enrollment_id, session_id, order, when, position, exams,
              homework_ids) -> None:
    """One student's work for one held session; `position` counts due sessions back from the latest."""
    in_grace = position is None
    if in_grace and rng.random() < 0.5:
        return  # not done yet; not failed either, the grace window is still open
    recent = position is not None and position < 4
    failing = (
        (profile == "struggling" and (recent or rng.random() < 0.4))
        or (profile == "sliding" and position is not None and position < 2)
        or (profile == "average" and rng.random() < 0.15)
    )
    low_exam = profile == "low_scorer" and position is not None and position < 3

    video = rng.randint(20, 70) if failing else rng.randint(policy["video_required_rate"], 100)
    offline = not failing and rng.random() < 0.2
    snapshot["activities"].append({"enrollment_id": enrollment_id, "session_id": session_id,
                                   "attendance": "offline" if offline else "online",
                                   "video_rate": 0 if offline else video})

    for homework_id in homework_ids:
        if failing and rng.random() < 0.7:
            continue  # never handed in
        maximum = design.homework_max
        if design.homework_max == 50:
            # 38.75 / 50 = 77.5%, which rounds up to the 80% cutline; 30 / 50 = 60% fails.
            score = 30 if failing else rng.choice([38.75, 40, 42.5, 45, 47.5, 50])
        else:
            score = rng.randint(55, 75) if failing else rng.randint(80, maximum)
        snapshot["homework_submissions"].append({
            "enrollment_id": enrollment_id, "homework_id": homework_id, "submitted": True, "score": score,
            "approved": not failing,
        })

    for exam_id, _ in exams:
        if failing and rng.random() < 0.5:
            continue  # did not sit the exam: "no results"
        low = low_exam or failing
        low_confidence = profile == "average" and order % 3 == 0
        correct = rng.randint(2, 5) if low else rng.randint(7, 8 if low_confidence else 10)
        attempts = 2 if low_exam else 1
        wrong_always = rng.randint(1, QUESTIONS)
        for attempt_no in range(1, attempts + 1):
            if attempt_no == 2:
                correct = min(correct + 1, 5)  # a retake, still under the line
            answers = _answers(rng, correct, wrong_always if low_exam else None,
                               low_confidence=low_confidence)
            score = sum(10 for a in answers if a["is_correct"])
            snapshot["attempts"].append({
                "enrollment_id": enrollment_id, "exam_id": exam_id, "attempt_no": attempt_no, "score": score,
                "submitted_at": f"{when.isoformat()}T{18 + attempt_no}:30:00", "answers": answers,
            })


def _answers(rng: random.Random, correct: int, always_wrong: int | None, low_confidence: bool) -> list[dict]:
    numbers = [n for n in range(1, QUESTIONS + 1) if n != always_wrong]
    right = set(rng.sample(numbers, min(correct, len(numbers))))
    answers = []
    flagged = 0
    for number in range(1, QUESTIONS + 1):
        answer: dict[str, Any] = {"question": number, "is_correct": number in right}
        # Smudged marks read with low confidence: two per sheet trigger the OMR risk.
        if low_confidence and number not in right and flagged < 2:
            answer["invalid_reason"] = "LOW_CONFIDENCE"
            flagged += 1
        answers.append(answer)
    return answers


def database_is_empty() -> bool:
    """No lecture, student, enrollment or user yet."""
    for model in (Lecture, Student, Enrollment, User):
        if db.session.execute(select(func.count()).select_from(model)).scalar_one():
            return False
    return True


def create_demo(today: date | None = None) -> DemoResult:
    """Fill an empty database with the demo academy and the demo users (flush only; the caller commits)."""
    if not database_is_empty():
        raise DemoRefused("the database is not empty; the demo only fills an empty database "
                          f"(if it holds the demo academy: sign in as admin, teacher or staff, password {DEMO_PASSWORD})")
    imported = import_snapshot(build_demo_snapshot(today or academy_today()))
    users = []
    for username, role, lecture_ids in DEMO_USERS:
        # The demo academy is for trying the product: its well-known password is the point.
        accounts.create_user(username, DEMO_PASSWORD, role, lecture_ids, check_policy=False)
        users.append((username, role))
    _add_notes_and_absences(today or academy_today())
    return DemoResult(imported, tuple(users))


_NOTES = (
    ("어머님과 통화: 최근 두 차시 영상을 못 봤다고 함. 이번 주 안에 보충하기로.", 2),
    ("숙제 제출이 늦어지는 이유 상담. 학원 자습실 이용 권유.", -1),
    ("시험 불안이 있어 오답 노트 방법 안내. 다음 달 다시 확인.", None),
)


def _add_notes_and_absences(today: date) -> None:
    """A few counselling notes by the demo teacher (one follow-up due soon, one overdue), and three
    students marked absent in the first lecture's latest held session, their guardians' messages queued."""
    teacher = accounts.user_by_username("teacher")
    enrollments = db.session.execute(
        select(Enrollment.id).where(Enrollment.lecture_id == 1).order_by(Enrollment.id).limit(len(_NOTES))
    ).scalars().all()
    for enrollment_id, (text, follow_up) in zip(enrollments, _NOTES):
        notes.add_note(teacher, enrollment_id, text,
                       today + timedelta(days=follow_up) if follow_up is not None else None)
    latest = db.session.execute(
        select(LectureSession.id).where(LectureSession.lecture_id == 1, LectureSession.date <= today)
        .order_by(LectureSession.date.desc()).limit(1)).scalar_one_or_none()
    if latest is None:
        return
    absent = db.session.execute(
        select(Activity).where(Activity.session_id == latest, Activity.attendance == "online")
        .order_by(Activity.enrollment_id).limit(3)).scalars().all()
    for activity in absent:
        activity.presence = "absent"  # online already: the progress does not change
        db.session.flush()
        outbox.queue_absence(activity.enrollment_id, latest)

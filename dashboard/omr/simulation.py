"""A demo OMR worker: scans registered and read through the same services as the API, with sheets
of each kind a review meets (confident, low confidence, blank, multi-marked, unreadable identifier).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import (
    Enrollment,
    ExamQuestion,
    OmrScan,
    Student,
)
from dashboard.omr import grading as rules
from dashboard.omr.intake import record_result, register_scan
from dashboard.errors import Invalid
from dashboard.omr.scans import answer_key, exam_lecture_ids

SIMULATED_KINDS = ("confident", "low-confidence", "blank", "multi-marked", "bad identifier")


@dataclass(frozen=True)
class SimulatedScan:
    """One sheet the demo worker read, and what became of it."""

    scan: OmrScan
    kind: str
    student: str


def simulation_exam(exam_id: int | None) -> int:
    """The exam to simulate: the one given, else the first with an answer key and active students."""
    candidates = select(ExamQuestion.exam_id).distinct()
    if exam_id is not None:
        candidates = candidates.where(ExamQuestion.exam_id == exam_id)
    for candidate in db.session.execute(candidates.order_by(ExamQuestion.exam_id)).scalars():
        if _active_enrollments(candidate):
            return candidate
    if exam_id is not None:
        raise Invalid("exam_not_simulated", "exam", id=exam_id)
    raise Invalid("no_exam_simulated", "exam")


def _active_enrollments(exam_id: int) -> list[tuple[int, str]]:
    lectures = exam_lecture_ids(exam_id)
    if not lectures:
        return []
    return [tuple(row) for row in db.session.execute(
        select(Enrollment.id, Student.name).join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.lecture_id.in_(lectures), Enrollment.withdrawn_at.is_(None))
        .order_by(Enrollment.id)
    )]


def simulate(exam_id: int, count: int, rng: Any) -> list[SimulatedScan]:
    """Register `count` scans of the exam and post worker payloads for them, through the same
    services as the API, cycling through SIMULATED_KINDS over the exam's active enrollments."""
    key = answer_key(exam_id)
    students = _active_enrollments(exam_id)
    made = []
    for i in range(count):
        kind = SIMULATED_KINDS[i % len(SIMULATED_KINDS)]
        enrollment_id, name = students[i % len(students)]
        # A confident sheet is identified by its student-number box; the others were registered.
        registered = None if kind in ("confident", "bad identifier") else enrollment_id
        scan = register_scan(None, {"exam_id": exam_id, "enrollment_id": registered})
        payload = _simulated_payload(kind, key, enrollment_id, rng)
        record_result(None, scan.id, payload)
        made.append(SimulatedScan(scan, kind, name if kind != "bad identifier" else "(unreadable)"))
    return made


def _simulated_payload(kind: str, key: list[rules.KeyQuestion], enrollment_id: int, rng: Any) -> dict[str, Any]:
    answers = []
    for question in key:
        if rng.random() < 0.8:
            marks = sorted(question.marks)
        else:
            wrong = [mark for mark in "12345" if mark not in question.marks] or ["9"]
            marks = [rng.choice(wrong)]
        answers.append({"question": question.number, "detected": marks,
                        "marking": "multi" if len(marks) > 1 else "single",
                        "confidence": round(rng.uniform(0.86, 0.99), 2), "status": "ok"})
    picks = rng.sample(range(len(answers)), k=min(2, len(answers)))
    if kind == "low-confidence":
        for index in picks:
            answers[index]["confidence"] = round(rng.uniform(0.45, 0.65), 2)
    elif kind == "blank":
        answers[picks[0]].update(detected=[], marking="blank", confidence=0.9)
    elif kind == "multi-marked":
        singles = [a for a, q in zip(answers, key) if len(q.marks) == 1] or answers
        target = rng.choice(singles)
        target.update(detected=sorted(rng.sample("12345", 2)), marking="multi", confidence=0.82)
    identifier = ({"status": "blank", "enrollment_id": None} if kind == "bad identifier"
                  else {"status": "ok", "enrollment_id": enrollment_id})
    return {"status": "DONE", "error": None,
            "result": {"version": "demo-worker-1", "mode": "simulated", "meta_used": False,
                       "identifier": identifier, "answers": answers}}

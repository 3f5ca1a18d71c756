"""OMR scan rules of SPEC §10 as pure functions: read the worker's payload, flag answers and the
identifier for review, grade the answers against the answer key.

No Flask, no ORM: plain values in, frozen dataclasses out. The service (dashboard/omr/intake.py) loads
the key and the scan, calls these, and writes the attempt and its answer facts.

Decisions the SPEC leaves open (written down in docs/omr.md):
- a missing answer `status` is "not ok" (flagged), a missing `marking` is not blank nor multi,
  a missing `confidence` is no flag (SPEC);
- a DONE result without `identifier` is an identifier problem only when no student was
  registered; an identifier status other than `ok` (blank, ambiguous, error, or anything else)
  is IDENTIFIER_NOT_OK;
- a mark is one character, as in the answer key; duplicates in `detected` count once.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from dashboard.errors import Invalid

ANSWER_STATUS_NOT_OK = "ANSWER_STATUS_NOT_OK"
ANSWER_BLANK_OR_MULTI = "ANSWER_BLANK_OR_MULTI"
ANSWER_LOW_CONFIDENCE = "ANSWER_LOW_CONFIDENCE"
IDENTIFIER_NOT_OK = "IDENTIFIER_NOT_OK"
IDENTIFIER_MISMATCH = "IDENTIFIER_MISMATCH"
IDENTIFIER_REASONS = frozenset({IDENTIFIER_NOT_OK, IDENTIFIER_MISMATCH})
REVIEW_REASONS = (ANSWER_BLANK_OR_MULTI, ANSWER_LOW_CONFIDENCE, ANSWER_STATUS_NOT_OK,
                  IDENTIFIER_MISMATCH, IDENTIFIER_NOT_OK)

# An answer read with less confidence than this needs a person (SPEC §10).
CONFIDENCE_THRESHOLD = Decimal("0.70")
# Column widths of OmrScan.result_version / OmrScan.mode.
TEXT_FIELD_MAX = 64


class PayloadInvalid(Invalid):
    """A payload (or a correction) that cannot be used; `field` names the offending part, and the
    reason's text names it too (as `name`)."""

    def __init__(self, reason: str, field: str | None, **params: Any) -> None:
        super().__init__(reason, field, name=field, **params)


# ---------------------------------------------------------------- values

@dataclass(frozen=True)
class KeyQuestion:
    """One question of an answer key: its right marks ("3", or "24" for a choose-all) and points."""

    number: int
    answer: str
    points: Decimal

    @property
    def marks(self) -> frozenset[str]:
        return frozenset(self.answer)


@dataclass(frozen=True)
class Reading:
    """One answer as read: by the worker, or by a person (`corrected`, never flagged).

    `marking` and `status` are lower-cased here, so every comparison is case-insensitive.
    """

    question: int
    detected: frozenset[str]
    marking: str | None = None
    confidence: Decimal | None = None
    status: str | None = None
    corrected: bool = False


@dataclass(frozen=True)
class Identifier:
    """The worker's reading of the student-number box; `status` lower-cased."""

    status: str | None
    enrollment_id: int | None


@dataclass(frozen=True)
class WorkerResult:
    """A payload understood. `answers` keep the payload's order (field names refer to it)."""

    failed: bool
    error: str | None
    version: str | None = None
    mode: str | None = None
    meta_used: bool | None = None
    identifier: Identifier | None = None
    answers: tuple[Reading, ...] = ()


@dataclass(frozen=True)
class Identification:
    """Whose sheet it is (None: unknown) and the identifier's review reasons."""

    enrollment_id: int | None
    reasons: frozenset[str]


@dataclass(frozen=True)
class GradedAnswer:
    """An answer fact to store: `detected` is the sorted marks ("" for none), None when unanswered."""

    question: int
    is_correct: bool
    invalid_reason: str | None
    detected: str | None


@dataclass(frozen=True)
class Grading:
    """Every key question graded, the score, and the answers' review reasons."""

    answers: tuple[GradedAnswer, ...]
    score: Decimal
    reasons: frozenset[str]


# ---------------------------------------------------------------- reading a payload

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_text(value: Any, field: str, limit: int | None = None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadInvalid("payload_text", field)
    if limit is not None and len(value) > limit:
        raise PayloadInvalid("payload_too_long", field, max=limit)
    return value


def _lowered(value: Any, field: str) -> str | None:
    text = _optional_text(value, field)
    return None if text is None else text.strip().lower()


def _confidence(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise PayloadInvalid("payload_confidence", field)
    # A stored payload comes back with floats; str() gives their shortest exact spelling.
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number < 0 or number > 1:
        raise PayloadInvalid("payload_confidence", field)
    return number


def parse_marks(value: Any, field: str) -> frozenset[str]:
    """A list of marks, each one character as in the answer key (null or missing: none)."""
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise PayloadInvalid("payload_marks", field)
    marks = set()
    for i, mark in enumerate(value):
        if not isinstance(mark, str) or len(mark) != 1 or mark.isspace():
            raise PayloadInvalid("payload_one_mark", f"{field}[{i}]")
        marks.add(mark)
    return frozenset(marks)


def _question(value: Any, field: str) -> int:
    if not _is_int(value) or value < 1:
        raise PayloadInvalid("payload_question", field)
    return value


def _reading(value: Any, field: str) -> Reading:
    if not isinstance(value, dict):
        raise PayloadInvalid("payload_object", field)
    return Reading(
        question=_question(value.get("question"), f"{field}.question"),
        detected=parse_marks(value.get("detected"), f"{field}.detected"),
        marking=_lowered(value.get("marking"), f"{field}.marking"),
        confidence=_confidence(value.get("confidence"), f"{field}.confidence"),
        status=_lowered(value.get("status"), f"{field}.status"),
    )


def _identifier(value: Any) -> Identifier | None:
    field = "result.identifier"
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadInvalid("payload_object_or_null", field)
    enrollment_id = value.get("enrollment_id")
    if enrollment_id is not None and not _is_int(enrollment_id):
        raise PayloadInvalid("payload_id_or_null", f"{field}.enrollment_id")
    return Identifier(_lowered(value.get("status"), f"{field}.status"), enrollment_id)


def parse_payload(data: Any) -> WorkerResult:
    """The worker's payload (SPEC §10) checked field by field; PayloadInvalid names the first bad one.

    Unknown keys are kept in the raw payload by the caller and otherwise ignored. A FAILED
    payload needs only its status (and an `error` text, if any).
    """
    if not isinstance(data, dict):
        raise PayloadInvalid("result_not_object", None)
    status = data.get("status")
    if not isinstance(status, str) or status.strip().upper() not in ("DONE", "FAILED"):
        raise PayloadInvalid("payload_status", "status")
    error = _optional_text(data.get("error"), "error")
    if status.strip().upper() == "FAILED":
        return WorkerResult(failed=True, error=error)

    result = data.get("result")
    if not isinstance(result, dict):
        raise PayloadInvalid("payload_result", "result")
    meta_used = result.get("meta_used")
    if meta_used is not None and not isinstance(meta_used, bool):
        raise PayloadInvalid("payload_meta_used", "result.meta_used")
    answers = result.get("answers")
    if answers is None:
        answers = []
    if not isinstance(answers, list):
        raise PayloadInvalid("payload_answers", "result.answers")
    readings = []
    seen: set[int] = set()
    for i, answer in enumerate(answers):
        reading = _reading(answer, f"result.answers[{i}]")
        if reading.question in seen:
            raise PayloadInvalid("question_answered_twice", f"result.answers[{i}].question",
                                 n=reading.question)
        seen.add(reading.question)
        readings.append(reading)
    return WorkerResult(
        failed=False,
        error=error,
        version=_optional_text(result.get("version"), "result.version", TEXT_FIELD_MAX),
        mode=_optional_text(result.get("mode"), "result.mode", TEXT_FIELD_MAX),
        meta_used=meta_used,
        identifier=_identifier(result.get("identifier")),
        answers=tuple(readings),
    )


def check_questions(answers: Sequence[Reading], key_numbers: Iterable[int], prefix: str = "result.answers") -> None:
    """Refuse an answer to a question that is not in the answer key (SPEC §10)."""
    known = set(key_numbers)
    for i, reading in enumerate(answers):
        if reading.question not in known:
            raise PayloadInvalid("question_not_in_key", f"{prefix}[{i}].question", n=reading.question)


def parse_corrections(data: Any, key_numbers: Iterable[int]) -> dict[int, frozenset[str]]:
    """A person's corrections `{"answers": [{"question": 3, "detected": ["2"]}]}` -> question -> marks."""
    if not isinstance(data, dict):
        raise PayloadInvalid("body_not_object", None)
    for name in data:
        if name != "answers":
            raise PayloadInvalid("correction_field", name)
    answers = data.get("answers")
    if not isinstance(answers, list) or not answers:
        raise PayloadInvalid("correction_answers", "answers")
    known = set(key_numbers)
    corrections: dict[int, frozenset[str]] = {}
    for i, answer in enumerate(answers):
        field = f"answers[{i}]"
        if not isinstance(answer, dict):
            raise PayloadInvalid("payload_object", field)
        for name in answer:
            if name not in ("question", "detected"):
                raise PayloadInvalid("answer_not_correctable", f"{field}.{name}", key=name)
        question = _question(answer.get("question"), f"{field}.question")
        if question not in known:
            raise PayloadInvalid("question_not_in_key", f"{field}.question", n=question)
        if question in corrections:
            raise PayloadInvalid("question_corrected_twice", f"{field}.question", n=question)
        if "detected" not in answer:
            raise PayloadInvalid("detected_required", f"{field}.detected")
        corrections[question] = parse_marks(answer["detected"], f"{field}.detected")
    return corrections


# ---------------------------------------------------------------- flags

def answer_flags(reading: Reading, question: KeyQuestion) -> frozenset[str]:
    """Why a person should look at this answer (empty: it can be graded as read)."""
    if reading.corrected:
        return frozenset()
    flags = set()
    if reading.status != "ok":
        flags.add(ANSWER_STATUS_NOT_OK)
    # Several marks are expected on a choose-all question: only a blank is suspicious there.
    if reading.marking == "blank" or (reading.marking == "multi" and len(question.marks) < 2):
        flags.add(ANSWER_BLANK_OR_MULTI)
    if reading.confidence is not None and reading.confidence < CONFIDENCE_THRESHOLD:
        flags.add(ANSWER_LOW_CONFIDENCE)
    return frozenset(flags)


def identify(identifier: Identifier | None, registered_id: int | None, named_is_candidate: bool) -> Identification:
    """Whose sheet it is: the registered enrollment, else an `ok` identifier's (SPEC §10).

    `named_is_candidate` says whether the identifier's enrollment is an active enrollment of a
    lecture the exam is linked to (the caller looks it up).
    """
    if identifier is None:
        if registered_id is not None:
            return Identification(registered_id, frozenset())
        return Identification(None, frozenset({IDENTIFIER_NOT_OK}))
    if identifier.status != "ok":
        return Identification(registered_id, frozenset({IDENTIFIER_NOT_OK}))
    named = identifier.enrollment_id
    if registered_id is not None:
        if named is not None and named != registered_id:
            return Identification(registered_id, frozenset({IDENTIFIER_MISMATCH}))
        return Identification(registered_id, frozenset())
    if named is not None and named_is_candidate:
        return Identification(named, frozenset())
    return Identification(None, frozenset({IDENTIFIER_NOT_OK}))


# ---------------------------------------------------------------- grading

def with_corrections(readings: Mapping[int, Reading], corrections: Mapping[int, frozenset[str]]) -> dict[int, Reading]:
    """The readings with a person's marks in place of the worker's for the corrected questions."""
    merged = dict(readings)
    for question, marks in corrections.items():
        base = merged.get(question, Reading(question, frozenset()))
        merged[question] = replace(base, detected=marks, corrected=True)
    return merged


def invalid_reason(reading: Reading, flags: frozenset[str]) -> str | None:
    """A flagged answer's invalid_reason: BLANK, else MULTI, else LOW_CONFIDENCE (SPEC §10)."""
    if not flags:
        return None
    if reading.marking == "blank":
        return "BLANK"
    if reading.marking == "multi" and ANSWER_BLANK_OR_MULTI in flags:
        return "MULTI"
    return "LOW_CONFIDENCE"


def grade(key: Sequence[KeyQuestion], readings: Mapping[int, Reading]) -> Grading:
    """Grade every key question; answers to questions outside the key play no part here
    (intake refuses them first: `check_questions`)."""
    graded = []
    score = Decimal(0)
    reasons: set[str] = set()
    for question in sorted(key, key=lambda q: q.number):
        reading = readings.get(question.number)
        if reading is None:
            graded.append(GradedAnswer(question.number, False, "BLANK", None))
            continue
        flags = answer_flags(reading, question)
        reasons |= flags
        correct = not flags and reading.detected == question.marks
        if correct:
            score += question.points
        graded.append(GradedAnswer(question.number, correct, invalid_reason(reading, flags),
                                   "".join(sorted(reading.detected))))
    return Grading(tuple(graded), score, frozenset(reasons))


def review_reasons(*groups: Iterable[str]) -> list[str]:
    """The scan's reason codes: unique and sorted."""
    return sorted({code for group in groups for code in group})

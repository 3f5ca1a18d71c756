"""The one validation of a policy change (SPEC §2), shared by the policy form, the API and the importer.

Pure: no Flask, no ORM. A change is checked on the merged policy (stored values plus the
change), so `exam_end_session_order` is compared with the start order that will hold after
the save. Callers turn form text into numbers first; JSON values come as they are.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Mapping

from dashboard.errors import Invalid
from dashboard.progress.rules import INTEGER_MAX, POLICY_DEFAULTS, POLICY_FIELDS

READ_ONLY_FIELDS: frozenset[str] = frozenset({"id", "lecture", "lecture_id", "created_at", "updated_at"})

EXAM_AGGREGATE_STRATEGIES = ("MAX", "AVG", "LATEST")
EXAM_PASS_SOURCES = ("POLICY", "EXAM")
HOMEWORK_PASS_TYPES = ("SUBMIT", "SCORE", "TEACHER_APPROVAL")

# Scores are stored as integer hundredths in a BIGINT; this bound keeps every value storable.
MAX_SCORE_VALUE = Decimal(10) ** 12
CENT = Decimal("0.01")

# field -> (lowest, highest) for the integer fields; None means unbounded.
_INTEGER_BOUNDS: dict[str, tuple[int, int | None]] = {
    "video_required_rate": (0, 100),
    "exam_start_session_order": (1, None),
    "exam_end_session_order": (1, None),
    "homework_start_session_order": (1, None),
    "homework_end_session_order": (1, None),
    "homework_cutline_percent": (0, 100),
    "homework_round_unit": (1, 100),
    "completion_grace_days": (0, 365),
    "risk_warning_consecutive": (1, None),
    "risk_danger_consecutive": (1, None),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "exam_aggregate_strategy": EXAM_AGGREGATE_STRATEGIES,
    "exam_pass_source": EXAM_PASS_SOURCES,
    "homework_pass_type": HOMEWORK_PASS_TYPES,
}
# (later field, earlier field): the later one must be >= the earlier one on the merged policy.
_ORDERED_PAIRS = (
    ("exam_end_session_order", "exam_start_session_order"),
    ("homework_end_session_order", "homework_start_session_order"),
    ("risk_danger_consecutive", "risk_warning_consecutive"),
)


# A number as people and spreadsheets write it, in ASCII digits only: Python's Decimal() also
# takes full-width and Arabic-Indic digits and underscores ("７２", "٧٢", "7_2"), which no
# academy means as a score.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def decimal_from_text(text: str) -> Decimal:
    """Decimal text in ASCII digits ('72.5', '-3', '1e2'); Invalid('score_not_number') otherwise."""
    if not _DECIMAL_TEXT.fullmatch(text):
        raise Invalid("score_not_number")
    return Decimal(text)


def parse_score(value: Any) -> Decimal:
    """A score given as a JSON number (or a Decimal from a form): exact, at most 2 decimals.

    Raises Invalid (no field: the caller knows it). Booleans and strings are refused.
    The checks read the number's digits and exponent instead of doing arithmetic, which
    silently rounds an exponent beyond the decimal context (1e-999999999 became 0) or
    raises Overflow (1E+999999999).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise Invalid("score_not_number")
    # str() of a float is its shortest repr, so 72.505 stays 72.505 and is refused below.
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise Invalid("score_not_finite")
    if number.is_zero():
        return Decimal("0.00")
    sign, digits, exponent = number.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    lowest_place = exponent + (len(digits) - len(significant))  # the exponent of the last non-zero digit
    if number.adjusted() > 12:
        raise Invalid("score_too_large")
    if lowest_place < -2:
        raise Invalid("score_decimals")
    if abs(number) > MAX_SCORE_VALUE:
        raise Invalid("score_too_large")
    return number.quantize(CENT)


def _check_integer(field: str, value: Any, lowest: int, highest: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("not_whole_number", field)
    if value < lowest:
        raise Invalid("at_least", field, n=lowest)
    upper = highest if highest is not None else INTEGER_MAX
    if value > upper:
        raise Invalid("at_most", field, n=upper)


def _normalise(field: str, value: Any) -> Any:
    """The field's value in its stored form; Invalid naming the field otherwise."""
    if value is None:
        raise Invalid("null", field)
    if field in _INTEGER_BOUNDS:
        _check_integer(field, value, *_INTEGER_BOUNDS[field])
        return value
    if field in _CHOICES:
        choices = _CHOICES[field]
        if not isinstance(value, str) or value not in choices:
            raise Invalid("one_of", field, choices=", ".join(choices))
        return value
    # exam_pass_score, the only decimal field
    try:
        score = parse_score(value)
    except Invalid as refused:
        raise Invalid(refused.reason, field, **refused.params) from None
    if score < 0:
        raise Invalid("at_least", field, n=0)
    return score


def validate_policy_change(
    stored: Mapping[str, Any], change: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Invalid]]:
    """Check `change` against SPEC §2 on the merged policy.

    `stored` holds the current values of every policy field (POLICY_DEFAULTS for a new
    lecture). Returns the merged policy (values normalised: exam_pass_score as Decimal) and
    the problems, each naming its field; any problem refuses the whole change.
    """
    merged = {name: stored.get(name, POLICY_DEFAULTS[name]) for name in POLICY_FIELDS}
    errors: list[Invalid] = []
    for name, value in change.items():
        if name in READ_ONLY_FIELDS:
            errors.append(Invalid("read_only_field", name))
            continue
        if name not in POLICY_DEFAULTS:
            errors.append(Invalid("not_policy_field", name))
            continue
        try:
            merged[name] = _normalise(name, value)
        except Invalid as problem:
            errors.append(problem)
    failed = {problem.field for problem in errors}
    for later, earlier in _ORDERED_PAIRS:
        if later in failed or earlier in failed:
            continue
        if merged[later] < merged[earlier]:
            # Name the field the caller touched; the later one when both or neither were.
            if earlier in change and later not in change:
                errors.append(Invalid("at_most_field", earlier, other=later, value=merged[later]))
            else:
                errors.append(Invalid("at_least_field", later, other=earlier, value=merged[earlier]))
    return merged, errors

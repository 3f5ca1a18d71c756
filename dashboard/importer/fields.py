"""Field parsers of snapshot items: each turns a JSON value into the stored value or raises `_Bad`
with the path under the field and the reason, so every problem of an item is reported at once."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Mapping

from dashboard.clock import parse_input_time
from dashboard.errors import Invalid, describe
from dashboard.models import INVALID_REASONS
from dashboard.parents import guardians as guardian_rules
from dashboard.progress.policy_validation import parse_score
from dashboard.progress.rules import INTEGER_MAX
from dashboard.text.visible import has_visible_character

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Bad(ValueError):
    """Problems with one field value: (sub-path under the field, message) pairs; `reason` and
    `params` code a single problem for the setup pages (errors.TEXTS)."""

    def __init__(self, message: str | None = None, sub: str = "", problems: list[tuple[str, str]] | None = None,
                 reason: str | None = None, **params: Any):
        self.problems = problems if problems is not None else [(sub, message or "is invalid")]
        self.reason = reason
        self.params = params
        super().__init__(self.problems[0][1])


def _integer(value: Any, lowest: int, highest: int = INTEGER_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad("must be an integer", reason="not_integer")
    if not lowest <= value <= highest:
        raise _Bad(f"must be between {lowest} and {highest}", reason="out_of_range", min=lowest, max=highest)
    return value


def _id(value: Any) -> int:
    return _integer(value, 1)


def _int_range(lowest: int, highest: int) -> Callable[[Any], int]:
    return lambda value: _integer(value, lowest, highest)


def _text(max_length: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise _Bad("must be a string", reason="not_text")
        if not value.strip():
            raise _Bad("must not be blank", reason="value_required")
        if not has_visible_character(value):
            raise _Bad("must have at least one visible character", reason="invisible_name")
        if len(value) > max_length:
            raise _Bad(f"must be at most {max_length} characters", reason="text_too_long")
        return value

    return parse


def _date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise _Bad("must be a date YYYY-MM-DD", reason="bad_date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _Bad("is not a valid date", reason="no_such_date") from None


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) < 16:
        raise _Bad("must be an ISO 8601 time, e.g. 2026-03-09T10:00:00+09:00", reason="bad_time")
    try:
        return parse_input_time(value)
    except ValueError:
        raise _Bad("must be an ISO 8601 time, e.g. 2026-03-09T10:00:00+09:00", reason="bad_time") from None


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("must be true or false", reason="not_boolean")
    return value


def _score(value: Any) -> Decimal:
    try:
        number = parse_score(value)
    except Invalid as refused:
        raise _Bad(describe(refused), reason=refused.reason, **refused.params) from None
    if number < 0:
        raise _Bad("must be at least 0", reason="too_small", min=0)
    return number


def _positive_score(value: Any) -> Decimal:
    number = _score(value)
    if number <= 0:
        raise _Bad("must be greater than 0", reason="max_score_not_positive")
    return number


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _Bad("must be one of " + ", ".join(choices), reason="not_a_choice", choices=", ".join(choices))
        return value

    return parse


def _list_of_objects(
    value: Any, allowed: Mapping[str, tuple[Callable[[Any], Any], bool, Any]], unique: str
) -> list[dict[str, Any]]:
    """A list of small objects: `allowed` maps field -> (parser, required, default)."""
    if not isinstance(value, list):
        raise _Bad("must be a list")
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    seen: dict[Any, int] = {}
    for i, element in enumerate(value):
        if not isinstance(element, dict):
            problems.append((f"[{i}]", "must be an object"))
            continue
        row: dict[str, Any] = {}
        for name in element:
            if name not in allowed:
                problems.append((f"[{i}].{name}", "unknown field"))
        for name, (parse, required, default) in allowed.items():
            if name not in element:
                if required:
                    problems.append((f"[{i}].{name}", "is required"))
                else:
                    row[name] = default
                continue
            raw = element[name]
            if raw is None and not required and default is None:
                row[name] = None
                continue
            try:
                row[name] = parse(raw)
            except _Bad as bad:
                problems.extend((f"[{i}].{name}{sub}", msg) for sub, msg in bad.problems)
        if unique in row:
            if row[unique] in seen:
                message = f"{unique} {row[unique]} appears twice (also [{seen[row[unique]]}])"
                problems.append((f"[{i}].{unique}", message))
            else:
                seen[row[unique]] = i
        rows.append(row)
    if problems:
        raise _Bad(problems=problems)
    return rows


def _guardians(value: Any) -> tuple[dict[str, Any], ...]:
    """A student's whole list of guardians (SPEC §14): each checked like the setup form checks it;
    an item may carry the `id` of a stored guardian, else it is matched by (name, relation)."""
    if not isinstance(value, list):
        raise _Bad("must be a list")
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    ids: set[int] = set()
    names: set[tuple[str, str]] = set()
    for i, element in enumerate(value):
        if not isinstance(element, dict):
            problems.append((f"[{i}]", "must be an object"))
            continue
        guardian_id = None
        if element.get("id") is not None:
            try:
                guardian_id = _id(element["id"])
            except _Bad as bad:
                problems.append((f"[{i}].id", bad.problems[0][1]))
                continue
        try:
            row = guardian_rules.clean({k: v for k, v in element.items() if k != "id"}, f"[{i}].")
        except Invalid as error:
            problems.append((error.field or f"[{i}]", describe(error)))
            continue
        if guardian_id is not None and guardian_id in ids:
            problems.append((f"[{i}].id", f"id {guardian_id} appears twice"))
        if (row["name"], row["relation"]) in names:
            problems.append((f"[{i}].name", "the same name and relation appear twice"))
        if guardian_id is not None:
            ids.add(guardian_id)
        names.add((row["name"], row["relation"]))
        rows.append({"id": guardian_id, **row})
    if problems:
        raise _Bad(problems=problems)
    return tuple(rows)


def _answer_key(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 32 or any(c.isspace() for c in value):
        raise _Bad("must be a string of 1 to 32 marks")
    if len(set(value)) != len(value):
        raise _Bad("must not repeat a mark")
    return value


def _questions(value: Any) -> dict[int, tuple[str, Decimal]]:
    rows = _list_of_objects(
        value,
        {"number": (_id, True, None), "answer": (_answer_key, True, None), "points": (_score, False, Decimal(1))},
        unique="number",
    )
    return {row["number"]: (row["answer"], row["points"]) for row in rows}


def _answers(value: Any) -> dict[int, tuple[bool, str | None, None]]:
    rows = _list_of_objects(
        value,
        {
            "question": (_id, True, None),
            "is_correct": (_bool, True, None),
            "invalid_reason": (_choice(*INVALID_REASONS), False, None),
        },
        unique="question",
    )
    # The third element is AnswerFact.detected, which an import never sets.
    return {row["question"]: (row["is_correct"], row["invalid_reason"], None) for row in rows}


def _session_ids(value: Any) -> frozenset[int]:
    if not isinstance(value, list):
        raise _Bad("must be a list of session ids")
    problems = []
    seen: set[int] = set()
    for i, element in enumerate(value):
        try:
            number = _id(element)
        except _Bad as bad:
            problems.append((f"[{i}]", bad.problems[0][1]))
            continue
        if number in seen:
            problems.append((f"[{i}]", f"session {number} is listed twice"))
        seen.add(number)
    if problems:
        raise _Bad(problems=problems)
    return frozenset(seen)


def _policy(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad("must be an object of policy fields")
    return value  # checked on the merged policy once the stored one is loaded

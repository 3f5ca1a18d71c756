"""The one error type: every reason raised anywhere has a text, and texts take their parameters."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dashboard.errors import TEXTS, Conflict, Forbidden, Invalid, NotFound, Refused, describe

ERROR_CLASSES = {"Invalid", "Forbidden", "NotFound", "Conflict", "Refused"}
DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def _reasons_raised_in_code() -> set[tuple[str, str]]:
    found = set()
    for path in DASHBOARD.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            first = node.args[0]
            if name in ERROR_CLASSES and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add((str(path.relative_to(DASHBOARD)), first.value))
    return found


def test_every_reason_raised_in_the_code_has_a_text():
    missing = sorted((path, reason) for path, reason in _reasons_raised_in_code() if reason not in TEXTS)
    assert missing == []


def _importer_reasons() -> set[tuple[str, str]]:
    """The reason codes the snapshot importer gives its problems: `reason="..."` of `_Bad`, the
    third argument of `ImportProblem(field, message, reason)` and the fourth of
    `refuse(item, field, message, reason)` (the setup pages raise them)."""
    found = set()
    for path in (DASHBOARD / "importer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            values = [keyword.value for keyword in node.keywords if keyword.arg == "reason"]
            position = {"ImportProblem": 2, "refuse": 3}.get(name)
            if position is not None and len(node.args) > position:
                values.append(node.args[position])
            found.update((str(path.relative_to(DASHBOARD)), value.value) for value in values
                         if isinstance(value, ast.Constant) and isinstance(value.value, str))
    return found


def test_every_reason_the_importer_gives_a_problem_has_a_text():
    reasons = _importer_reasons()
    assert {"session_order_taken", "out_of_range", "removed_meanwhile"} <= {reason for _path, reason in reasons}
    assert sorted((path, reason) for path, reason in reasons if reason not in TEXTS) == []


def test_an_error_without_a_text_fails_at_once():
    with pytest.raises(KeyError):
        Invalid("no_such_reason_anywhere")


def test_kinds_and_statuses_follow_the_api_contract():
    assert (Invalid("required").kind, Invalid("required").status) == ("validation", 400)
    assert (Forbidden().kind, Forbidden().status) == ("forbidden", 403)
    assert (NotFound().kind, NotFound().status) == ("not_found", 404)
    assert (Conflict("stale_version").kind, Conflict("stale_version").status) == ("conflict", 409)
    assert all(issubclass(cls, Refused) for cls in (Invalid, Forbidden, NotFound, Conflict))


def test_describe_fills_the_parameters(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert describe(Invalid("score_above_max", "score", max="100")) == "The score must be at most 100."
        assert describe(Invalid("out_of_range", "video_rate", min=0, max=100)) == "Must be between 0 and 100."

"""SPEC §2 on plain values: a policy change checked on the merged policy, refusals named by code and
field, and what a saved change did to each cell (the policy editor's summary). No app, no database."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from dashboard.progress.policy_validation import validate_policy_change
from dashboard.progress.rules import POLICY_DEFAULTS, POLICY_FIELDS, Policy, policy_impact


def test_the_defaults_are_the_policy_dataclass_s():
    assert POLICY_DEFAULTS == {name: getattr(Policy(), name) for name in POLICY_FIELDS}
    assert POLICY_DEFAULTS["exam_pass_score"] == D(60) and POLICY_DEFAULTS["risk_danger_consecutive"] == 3


def test_a_valid_change_is_merged_and_normalised():
    merged, problems = validate_policy_change(POLICY_DEFAULTS, {"exam_pass_score": 72.5, "completion_grace_days": 3})
    assert problems == []
    assert merged["exam_pass_score"] == D("72.50") and merged["completion_grace_days"] == 3
    assert merged["video_required_rate"] == 90  # untouched fields keep the stored value


@pytest.mark.parametrize("change,field,reason,params", [
    ({"video_required_rate": 101}, "video_required_rate", "at_most", {"n": 100}),
    ({"video_required_rate": 9.5}, "video_required_rate", "not_whole_number", {}),
    ({"exam_pass_score": -1}, "exam_pass_score", "at_least", {"n": 0}),
    ({"exam_pass_score": 72.505}, "exam_pass_score", "score_decimals", {}),
    ({"exam_aggregate_strategy": "max"}, "exam_aggregate_strategy", "one_of", {"choices": "MAX, AVG, LATEST"}),
    ({"homework_round_unit": None}, "homework_round_unit", "null", {}),
    ({"id": 3}, "id", "read_only_field", {}),
    ({"pass_mark": 50}, "pass_mark", "not_policy_field", {}),
    # Stored start order 2; an end order of 1 comes before it.
    ({"exam_end_session_order": 1}, "exam_end_session_order", "at_least_field",
     {"other": "exam_start_session_order", "value": 2}),
    # Stored end order 9999 stays; a start order beyond it is blamed, as the field the caller touched.
    ({"exam_start_session_order": 10000}, "exam_start_session_order", "at_most_field",
     {"other": "exam_end_session_order", "value": 9999}),
    # Warning after 2 (stored); danger after 1 would come first.
    ({"risk_danger_consecutive": 1}, "risk_danger_consecutive", "at_least_field",
     {"other": "risk_warning_consecutive", "value": 2}),
])
def test_a_refused_change_names_its_field_and_code(change, field, reason, params):
    _merged, problems = validate_policy_change(POLICY_DEFAULTS, change)
    assert [(p.field, p.reason, p.params) for p in problems] == [(field, reason, params)]


def test_every_problem_is_reported_at_once():
    change = {"video_required_rate": -5, "homework_cutline_percent": 101}
    _merged, problems = validate_policy_change(POLICY_DEFAULTS, change)
    assert sorted((p.field, p.reason) for p in problems) == [
        ("homework_cutline_percent", "at_most"), ("video_required_rate", "at_least")]


@pytest.mark.parametrize("before,after,impact", [
    ("incomplete", "completed", "became_completed"),   # a lower pass score lets the exam pass
    ("completed", "incomplete", "stopped_completed"),  # a higher video rate fails a 92 % watch
    ("pending", "incomplete", "due_changed"),          # fewer grace days: now due, still not completed
    ("incomplete", "pending", "due_changed"),
    (None, "completed", "became_completed"),           # a row the save created
    ("completed", "completed", None),
    ("pending", "pending", None),
])
def test_a_cell_s_move_under_a_new_policy(before, after, impact):
    assert policy_impact(before, after) == impact

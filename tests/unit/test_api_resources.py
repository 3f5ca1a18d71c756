"""The API's resource descriptions: each answered object is exactly what its OpenAPI schema
documents, field for field and value for value; the bodies the API checks itself refuse what the
schema refuses, naming the field."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator

from dashboard.errors import Invalid
from dashboard.listing import RESOURCES
from dashboard.progress.policy_validation import validate_policy_change
from dashboard.progress.rules import POLICY_DEFAULTS, POLICY_FIELDS
from dashboard.web.api import resources
from dashboard.web.api.fields import Field, Shape
from dashboard.web.api.openapi.document import schemas

STORED_TIME = datetime(2026, 3, 9, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _academy_clock():
    """Times are answered in the academy's offset, read from the app's configuration."""
    app = Flask(__name__)
    app.config["DASHBOARD_TIMEZONE"] = "Asia/Seoul"
    with app.app_context():
        yield


def _stored_value(item: Field) -> Any:
    """A value as the database hands it over, for the field's documented type."""
    schema = item.kind.schema
    if item.convert is not None and item.name == "is_active":
        return None  # a token without a revoked_at
    kind = schema.get("type")
    if schema.get("format") == "date-time":
        return STORED_TIME
    if kind == "number":
        return Decimal("72.50")
    if kind == "integer":
        return schema.get("minimum", 1) + 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {}
    return "2026-03" if "pattern" in schema else "text"


class _Row(tuple):
    """A row as the list queries give it: the object first, the joined values by name."""


def _row_for(shape: Shape) -> _Row:
    stored = SimpleNamespace()
    row = _Row((stored,))
    for item in shape.fields:
        source = item.source or item.name
        if source.startswith("row."):
            setattr(row, source.removeprefix("row."), _stored_value(item))
        else:
            setattr(stored, source, _stored_value(item))
    return row


@pytest.mark.parametrize("shape", resources.SHAPES, ids=lambda shape: shape.name)
def test_every_answered_field_is_documented_with_the_type_it_is_answered_in(shape):
    answer = shape.dump(_row_for(shape))
    schema = schemas()[shape.name]
    assert list(answer) == list(schema["properties"]) == schema["required"]
    assert schema["additionalProperties"] is False
    problems = [f"{list(error.absolute_path)}: {error.message}"
                for error in Draft202012Validator(schema).iter_errors(answer)]
    assert problems == []


def test_answers_keep_exact_scores_and_the_academys_offset():
    answer = resources.SESSION_PROGRESS.dump(_row_for(resources.SESSION_PROGRESS))
    # 72.50 stored is the JSON number 72.5; 01:00 UTC is 10:00 in Seoul (+09:00).
    assert answer["exam_aggregate_score"] == 72.5
    assert answer["created_at"] == "2026-03-09T10:00:00+09:00"
    whole = _row_for(resources.POLICY)
    whole[0].exam_pass_score = Decimal("60.00")
    assert resources.POLICY.dump(whole)["exam_pass_score"] == 60
    assert isinstance(resources.POLICY.dump(whole)["exam_pass_score"], int)


def test_a_missing_serialised_field_would_be_caught():
    """The check above can fail: an answer with a field its schema does not list is refused."""
    shape = resources.REPORT_LINK
    answer = {**shape.dump(_row_for(shape)), "url": "https://example.com/r/secret"}
    assert not Draft202012Validator(schemas()[shape.name]).is_valid(answer)


def test_the_policy_answers_every_field_of_the_core_policy():
    described = [item.name for item in resources.POLICY_FIELDS]
    assert described == list(POLICY_FIELDS)


def test_every_list_has_a_shape():
    assert set(resources.LISTED) == set(RESOURCES)


def test_every_description_has_its_own_schema_name():
    names = [description.name for description in (*resources.SHAPES, *resources.BODIES)]
    assert len(names) == len(set(names))


# ---------------------------------------------------------------- bodies

def _refusal(body, data) -> tuple[str, str | None]:
    with pytest.raises(Invalid) as refused:
        body.check(data)
    return refused.value.reason, refused.value.field


def test_a_body_is_checked_field_by_field_naming_the_field():
    create = resources.USER_CREATE
    good = {"username": "kim", "password": "a long passphrase", "role": "teacher", "lectures": [3, 4]}
    assert create.check(good) == good
    assert _refusal(create, {**good, "email": "kim@example.com"}) == ("unknown_field", "email")
    assert _refusal(create, {"password": "x", "role": "staff"}) == ("required", "username")
    assert _refusal(create, {**good, "role": "owner"}) == ("not_a_choice", "role")
    assert _refusal(create, {**good, "lectures": [3, True]}) == ("not_integer", "lectures[1]")
    assert _refusal(create, {**good, "lectures": [3, 0]}) == ("out_of_range", "lectures[1]")
    assert _refusal(create, {**good, "lectures": 3}) == ("not_list", "lectures")
    assert _refusal(resources.USER_CHANGE, {"is_active": "no"}) == ("not_boolean", "is_active")
    assert _refusal(resources.USER_CHANGE, {"password": None}) == ("not_text", "password")


def test_null_is_taken_only_where_the_schema_says_so():
    assert resources.TOKEN_CREATE.check({"name": None}) == {"name": None}
    assert resources.REPORT_LINK_CREATE.check({"days": None, "month": None}) == {"days": None, "month": None}
    assert _refusal(resources.REPORT_LINK_CREATE, {"days": 366}) == ("out_of_range", "days")
    for body in (resources.TOKEN_CREATE, resources.REPORT_LINK_CREATE, resources.USER_CHANGE):
        schema = body.schema()
        for item in body.fields:
            documented = schema["properties"][item.name].get("type")
            assert item.null == (isinstance(documented, list) and "null" in documented), (body.name, item.name)


def test_the_documented_policy_limits_are_the_ones_the_policy_validation_applies():
    """The policy change is checked by the core (shared with the form and the importer); its
    description must document exactly those bounds and choices."""
    for item in resources.POLICY_FIELDS:
        schema = item.kind.schema
        if schema["type"] == "integer":
            low, high = schema["minimum"], schema.get("maximum")
            assert _policy_problems({item.name: low - 1}) == {item.name}
            if high is not None:  # none of these is ordered against another field
                assert _policy_problems({item.name: high + 1}) == {item.name}
                assert _policy_problems({item.name: low}) == _policy_problems({item.name: high}) == set()
        elif "enum" in schema:
            for value in schema["enum"]:
                assert _policy_problems({item.name: value}) == set()
            assert _policy_problems({item.name: schema["enum"][0].lower()}) == {item.name}


def _policy_problems(change: dict[str, Any]) -> set[str]:
    _, problems = validate_policy_change(POLICY_DEFAULTS, change)
    return {problem.field for problem in problems}

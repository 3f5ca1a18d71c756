"""The pure checks of a guardian's fields (SPEC §14)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.errors import Invalid
from dashboard.parents.guardians import clean, normalise_phone


@pytest.mark.parametrize("raw, stored", [
    ("010-1234-5678", "01012345678"),
    ("010 1234 5678", "01012345678"),
    ("010.1234.5678", "01012345678"),
    ("+82 10-1234-5678", "+821012345678"),
    ("02-123-4567", "021234567"),
])
def test_phone_loses_spaces_hyphens_and_dots_and_keeps_its_country_code_as_entered(raw, stored):
    assert normalise_phone(raw) == stored


@pytest.mark.parametrize("raw", ["010-1234-abcd", "82+1012345678", "++8210", "(010)12345678", "12", ""])
def test_phone_with_anything_but_digits_and_one_leading_plus_is_refused(raw):
    with pytest.raises(Invalid) as refused:
        normalise_phone(raw)
    assert refused.value.reason == "bad_phone"


@given(st.text(alphabet="0123456789 -.", min_size=3, max_size=30))
def test_normalising_twice_changes_nothing(raw):
    try:
        once = normalise_phone(raw)
    except Invalid:
        return
    assert normalise_phone(once) == once
    assert once.isdigit()


def test_clean_fills_the_defaults():
    assert clean({"name": "Kim Mother", "phone": "010-1111-2222"}) == {
        "name": "Kim Mother", "relation": "", "phone": "01011112222", "email": None, "channel": "sms",
        "language": "ko", "consent": False}


@pytest.mark.parametrize("values, field, reason", [
    ({"name": " "}, "g.name", "required"),
    ({"name": "A", "channel": "fax"}, "g.channel", "not_a_choice"),
    ({"name": "A", "language": "jp"}, "g.language", "not_a_choice"),
    ({"name": "A", "consent": "yes"}, "g.consent", "not_boolean"),
    ({"name": "A", "email": "no-at-sign"}, "g.email", "bad_email"),
    ({"name": "A", "nickname": "x"}, "g.nickname", "unknown_field"),
])
def test_clean_refuses_naming_the_field(values, field, reason):
    with pytest.raises(Invalid) as refused:
        clean(values, "g.")
    assert (refused.value.field, refused.value.reason) == (field, reason)

"""The grid's footer numbers and its query string, worked by hand (no database)."""
from __future__ import annotations

from decimal import Decimal

from werkzeug.datastructures import MultiDict

from dashboard.lectures.grid import GridQuery, SessionFooter, session_footer


def test_share_completed_is_rounded_half_up_to_a_whole_percent():
    assert session_footer(3, 1, 0, Decimal(0)).percent_completed == 33  # 33.33
    assert session_footer(3, 2, 0, Decimal(0)).percent_completed == 67  # 66.67
    assert session_footer(8, 1, 0, Decimal(0)).percent_completed == 13  # 12.5 -> 13, not 12
    assert session_footer(0, 0, 0, Decimal(0)).percent_completed is None  # nothing held


def test_mean_score_is_exact_and_rounded_half_up_once():
    assert session_footer(3, 1, 3, Decimal("192.5")).mean_score == Decimal("64.17")  # 64.1666...
    assert session_footer(2, 0, 2, Decimal("112.5")).mean_score == Decimal("56.25")
    assert session_footer(2, 0, 2, Decimal("0.25")).mean_score == Decimal("0.13")  # 0.125 -> 0.13
    assert session_footer(3, 0, 0, Decimal(0)) == SessionFooter(3, 0, None)  # nobody sat it


def test_page_start_from_the_query_string():
    assert GridQuery.from_args(MultiDict({"from": "60"})).start == 60
    for strange in ("", "-5", "x", "1.5", "٣"):
        assert GridQuery.from_args(MultiDict({"from": strange})).start == 0
    assert GridQuery.from_args(MultiDict({"from": "9" * 30})).start == 1_000_000
    assert GridQuery.from_args(MultiDict({"from": "9" * 5000})).start == 0  # not read as a number at all


def test_the_anchor_row_from_the_query_string():
    assert GridQuery.from_args(MultiDict({"from": "30", "after": "417"})).after == 417
    for strange in ("", "0", "-5", "x", "٣", "2147483648", "9" * 5000):
        assert GridQuery.from_args(MultiDict({"after": strange})).after is None


def test_url_args_leave_the_defaults_out():
    assert GridQuery().url_args() == {}
    query = GridQuery(search="kim", risk="DANGER", sort="risk", withdrawn=True, start=30)
    assert query.url_args(**{"from": 90}) == {"q": "kim", "risk": "DANGER", "sort": "risk", "withdrawn": "1",
                                              "from": 90}

"""Column types that behave the same on SQLite and PostgreSQL.

Scores are exact decimals with at most two places; both databases store them as
integer hundredths (72.5 -> 7250), so comparisons in SQL and Python agree exactly.
Timestamps are stored as naive UTC and come back timezone-aware.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.types import TypeDecorator

HUNDRED = Decimal(100)


class Score(TypeDecorator):
    """A Decimal with at most 2 places, stored as integer hundredths."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        cents = Decimal(value) * HUNDRED
        if cents != cents.to_integral_value():
            raise ValueError(f"score {value} has more than 2 decimal places")
        return int(cents)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-2)


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as naive UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

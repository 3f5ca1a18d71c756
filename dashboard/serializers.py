"""The JSON form of the two values the API must answer exactly (SPEC §1, §8): a score as a JSON
number (never a float's approximation of the stored hundredths) and a time in ISO 8601 with the
academy's offset. The objects made of them are described in dashboard.web.api.resources."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from dashboard.clock import to_academy_iso


def number(value: Decimal | int | None) -> int | float | None:
    """A score as a JSON number: whole values as integers, others as the shortest exact decimal."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def time(value: datetime | None) -> str | None:
    return to_academy_iso(value)

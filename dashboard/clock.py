"""The academy's date and clock (SPEC §1 'today', 'Times')."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def academy_timezone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DASHBOARD_TIMEZONE"])  # ZoneInfo caches instances by key


def academy_today() -> date:
    """DASHBOARD_TODAY when set, else the current date in the academy's timezone."""
    fixed = current_app.config.get("DASHBOARD_TODAY")
    if fixed:
        return date.fromisoformat(str(fixed))
    return datetime.now(academy_timezone()).date()


def now() -> datetime:
    """The real clock, timezone-aware (timestamps never follow DASHBOARD_TODAY)."""
    return datetime.now(timezone.utc)


def to_academy_iso(value: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 with the academy's offset."""
    if value is None:
        return None
    return value.astimezone(academy_timezone()).isoformat()


# Stored times are UTC and shown in the academy's offset: a time within a day of the calendar's
# ends could not be converted one way or the other (OverflowError), so it is refused on input.
EARLIEST_INPUT = datetime(1, 1, 2, tzinfo=timezone.utc)
LATEST_INPUT = datetime(9999, 12, 30, tzinfo=timezone.utc)


def parse_input_time(text: str) -> datetime:
    """ISO 8601 input; a time without an offset is read in the academy's timezone.

    Raises ValueError for text that is not such a time, or one too near year 1 or 9999 to be
    converted to UTC and back (0001-01-01T00:00:00+14:00)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=academy_timezone())
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"time out of range: {text}") from None
    if not EARLIEST_INPUT <= utc <= LATEST_INPUT:
        raise ValueError(f"time out of range: {text}")
    return value

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


def parse_input_time(text: str) -> datetime:
    """ISO 8601 input; a time without an offset is read in the academy's timezone."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=academy_timezone())
    return value

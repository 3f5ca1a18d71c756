"""Settings read from the environment, normalised once in create_app."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def normalise_database_url(url: str) -> str:
    """Point every PostgreSQL URL at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def settings_from_env(instance_path: str) -> dict:
    """The configuration of SPEC §8, taken from the environment."""
    default_db = "sqlite:///" + str(Path(instance_path) / "dashboard.sqlite3")
    return {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(os.environ.get("DATABASE_URL") or default_db),
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "DASHBOARD_TODAY": os.environ.get("DASHBOARD_TODAY") or None,
        "DASHBOARD_TIMEZONE": os.environ.get("DASHBOARD_TIMEZONE") or "Asia/Seoul",
        "DASHBOARD_ENV": os.environ.get("DASHBOARD_ENV", "development"),
        # Absolute links (parent links, messages) start with it when set (SPEC §8).
        "DASHBOARD_BASE_URL": os.environ.get("DASHBOARD_BASE_URL") or None,
    }


def check_academy_clock(config) -> None:
    """Refuse a malformed DASHBOARD_TODAY or unknown DASHBOARD_TIMEZONE when the app is built,
    rather than on every later request that needs the academy's date."""
    today = config.get("DASHBOARD_TODAY")
    if today:
        try:
            date.fromisoformat(str(today))
        except ValueError:
            raise ValueError(f"DASHBOARD_TODAY must be a date as YYYY-MM-DD, not {today!r}") from None
    zone = config.get("DASHBOARD_TIMEZONE")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"DASHBOARD_TIMEZONE must be an IANA timezone such as Asia/Seoul, not {zone!r}") from None

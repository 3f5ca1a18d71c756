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
        # None: SPEC §8's default for the environment (600/minute in production, none in development).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT"),
        "DASHBOARD_BASE_URL": os.environ.get("DASHBOARD_BASE_URL") or None,
        # A browser session ends after this many hours without a request, and this many after
        # signing in however busy (accounts.sessions; defaults 8 and 24).
        "SESSION_IDLE_HOURS": _hours("DASHBOARD_SESSION_IDLE_HOURS", 8),
        "SESSION_MAX_HOURS": _hours("DASHBOARD_SESSION_MAX_HOURS", 24),
    }


def _hours(name: str, default: float) -> float:
    """A positive number of hours from the environment; a malformed one stops the app at start."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of hours, not {raw!r}") from None
    if not 0 < value <= 24 * 366:
        raise ValueError(f"{name} must be more than 0 and at most a year of hours, not {raw!r}")
    return value


ENVIRONMENTS = ("production", "development")
PRODUCTION_RATE_LIMIT = "600/minute"


def normalise_environment(config) -> None:
    """DASHBOARD_ENV is `production` or `development` in any case; anything else (`prod`,
    `staging`) stops the app at start instead of silently running as development."""
    raw = config.get("DASHBOARD_ENV")
    value = "development" if raw is None else str(raw).strip().lower()
    if value not in ENVIRONMENTS:
        raise ValueError(f"DASHBOARD_ENV must be 'production' or 'development', not {raw!r}")
    config["DASHBOARD_ENV"] = value


def check_rate_limit(config) -> None:
    """Fill API_RATE_LIMIT's default for the environment and refuse a malformed value at start."""
    from dashboard import rate_limit

    if config.get("API_RATE_LIMIT") is None and config["DASHBOARD_ENV"] == "production":
        config["API_RATE_LIMIT"] = PRODUCTION_RATE_LIMIT
    rate_limit.parse(config.get("API_RATE_LIMIT"))


def check_base_url(config) -> None:
    """DASHBOARD_BASE_URL, when set, is an absolute http(s) URL; kept without its final slash."""
    from urllib.parse import urlsplit

    base = config.get("DASHBOARD_BASE_URL")
    if not base:
        config["DASHBOARD_BASE_URL"] = None
        return
    parts = urlsplit(str(base).strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"DASHBOARD_BASE_URL must be an absolute URL such as https://academy.example, not {base!r}")
    config["DASHBOARD_BASE_URL"] = str(base).strip().rstrip("/")


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

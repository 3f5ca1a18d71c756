"""API_RATE_LIMIT: at most N API requests per token in each fixed window (SPEC §8).

The count lives in the database, one api_rate_window row per (token, window), upserted
(`INSERT .. ON CONFLICT DO UPDATE SET hits = hits + 1 RETURNING hits`) on a connection of its
own and committed at once: every gunicorn worker counts into the same row, the request's own
transaction (which may roll back) does not undo the count, and the upsert is one statement, so
two workers never both read 599 and both let the 600th through. Redis would do the same with
INCR and EXPIRE, but it would be a second service to run, watch and back up for one counter;
the database is already there and a single-row upsert costs about what the token lookup does.

A token's older windows are deleted when it opens a new one, so the table holds about one row
per active token.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from sqlalchemy import delete, text

from dashboard.extensions import db
from dashboard.models import ApiRateWindow

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_FORMAT = re.compile(r"^\s*(\d{1,9})\s*(?:/|per)\s*(\d{1,6})?\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class RateLimit:
    requests: int
    seconds: int


def parse(text: str | None) -> RateLimit | None:
    """`600/minute`, `10/second`, `1000 per hour`, `100/5minutes`; empty or `none` means no limit.

    A malformed value raises ValueError (create_app refuses to start with it)."""
    if text is None or str(text).strip().lower() in ("", "none", "off"):
        return None
    match = _FORMAT.match(str(text))
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"API_RATE_LIMIT must look like 600/minute (requests per second, minute, hour "
                         f"or day), not {text!r}")
    count = int(match.group(2) or 1)
    return RateLimit(int(match.group(1)), count * UNITS[match.group(3).lower()])


def hit(token_hash: str, limit: RateLimit, moment: float | None = None) -> int:
    """Count one request of this token; answers 0 when it is within the limit, else the seconds
    until the window ends (for Retry-After)."""
    moment = time.time() if moment is None else moment
    window = int(moment // limit.seconds) * limit.seconds
    table = ApiRateWindow.__table__
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            # A count lost in a crash costs nothing; not waiting for the WAL flush saves most of
            # this separate commit's time.
            conn.execute(text("SET LOCAL synchronous_commit = off"))
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table).values(token_hash=token_hash, window_start=window, hits=1)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.token_hash, table.c.window_start],
            set_={"hits": table.c.hits + 1},
        ).returning(table.c.hits)
        hits = conn.execute(statement).scalar_one()
        if hits == 1:
            conn.execute(delete(table).where(table.c.token_hash == token_hash, table.c.window_start < window))
    if hits <= limit.requests:
        return 0
    return max(1, math.ceil(window + limit.seconds - moment))

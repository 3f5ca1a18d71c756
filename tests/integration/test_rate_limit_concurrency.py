"""API_RATE_LIMIT shared by every gunicorn worker: many requests of one token at the same instant,
each counting on its own connection (as separate workers do), let exactly the limit through
(PostgreSQL, real threads)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from dashboard import rate_limit
from dashboard.extensions import db
from dashboard.models import ApiRateWindow
from tests.integration.test_concurrency_requests import BARRIER_SECONDS, run_parallel

WORKERS = 8
LIMIT = rate_limit.RateLimit(requests=5, seconds=60)
MOMENT = 1_800_000_030.0  # half a minute into a window: 30 seconds left of it


@pytest.fixture
def postgresql(backend):
    if backend != "postgresql":
        pytest.skip("parallel writers are what this tests; SQLite serialises the whole file")


def test_requests_at_the_same_instant_let_exactly_the_limit_through(app, postgresql):
    barrier = threading.Barrier(WORKERS)

    def one_request() -> int:
        with app.app_context():
            barrier.wait(timeout=BARRIER_SECONDS)
            return rate_limit.hit("the-same-token", LIMIT, MOMENT)

    waits = run_parallel(*[one_request] * WORKERS)
    # 5 let through (0), the other 3 told to come back when the window ends, 30 s later.
    assert sorted(waits) == [0, 0, 0, 0, 0, 30, 30, 30]
    assert db.session.execute(select(ApiRateWindow.hits)).scalars().all() == [8]

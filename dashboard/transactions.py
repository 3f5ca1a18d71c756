"""One unit of work, committed once, retried when PostgreSQL says a conflict may pass.

PostgreSQL aborts a transaction with SQLSTATE 40001 (serialization failure, at REPEATABLE READ
or SERIALIZABLE) or 40P01 (deadlock detected: it picks one of the waiting transactions as the
victim). Nothing of that transaction was written, and running the same work again from the
start usually succeeds. `run_in_transaction` does that a bounded number of times with a short
jittered pause, then raises `TransactionConflict`, which the request boundaries (the API's and
the pages') answer with 503 — by then every attempt was rolled back, so nothing is half-written.

Other errors (a refused input, the database gone) are not retried: they roll back and propagate.
"""
from __future__ import annotations

import contextlib
import random
import time
from typing import Callable, TypeVar

from flask import current_app
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from dashboard.extensions import db

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 3
# Pause before attempt n (n >= 2): uniform in [0, BACKOFF_SECONDS * 2**(n-2)]. A deadlock
# victim's rival already holds its locks and finishes within milliseconds; the jitter keeps two
# victims of the same pattern from colliding again in step.
BACKOFF_SECONDS = 0.02

T = TypeVar("T")


class TransactionConflict(Exception):
    """The work still hit a serialization failure or deadlock after every allowed attempt."""

    def __init__(self, attempts: int, sqlstate: str | None) -> None:
        super().__init__(f"transaction conflict (SQLSTATE {sqlstate}) persisted after {attempts} attempts")
        self.attempts = attempts
        self.sqlstate = sqlstate


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE the database gave for a driver error wrapped by SQLAlchemy (None if unknown)."""
    original = getattr(exc, "orig", None)
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def is_retryable(exc: BaseException) -> bool:
    """A serialization failure or deadlock: the transaction was aborted and may simply be run again."""
    return isinstance(exc, DBAPIError) and sqlstate_of(exc) in RETRYABLE_SQLSTATES


def run_in_transaction(work: Callable[[], T], *, should_commit: Callable[[T], bool] = lambda result: True,
                       before_retry: Callable[[], None] | None = None, attempts: int | None = None) -> T:
    """Run `work()`, then commit (or roll back when `should_commit(result)` is false) and return its result.

    On a retryable conflict — raised by the work or by the commit — roll back, call
    `before_retry` (to reset state kept outside the database, such as the session cookie), wait
    a little and run the work again, at most `attempts` times in all (default: the app's
    TRANSACTION_ATTEMPTS, else MAX_ATTEMPTS); then raise TransactionConflict. Any other error
    rolls back and propagates unchanged.
    """
    limit = attempts or current_app.config.get("TRANSACTION_ATTEMPTS", MAX_ATTEMPTS)
    attempt = 1
    while True:
        try:
            result = work()
            if should_commit(result):
                db.session.commit()
            else:
                db.session.rollback()
            return result
        except BaseException as exc:
            # With the database gone the rollback fails too; the original error is what matters.
            with contextlib.suppress(SQLAlchemyError):
                db.session.rollback()
            if not is_retryable(exc):
                raise
            sqlstate = sqlstate_of(exc)
            current_app.logger.warning("transaction conflict (SQLSTATE %s), attempt %d of %d",
                                       sqlstate, attempt, limit)
            if attempt >= limit:
                raise TransactionConflict(attempt, sqlstate) from exc
        attempt += 1
        if before_retry is not None:
            before_retry()
        time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** (attempt - 2)))

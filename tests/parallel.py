"""Run the same work in several threads at once, each in its own app context and database session,
released together by a barrier: how tests make concurrent writers meet on PostgreSQL."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dashboard.extensions import db


def at_once(app, work: Callable[[], Any], count: int) -> list[Any]:
    """`work()`'s answers from `count` threads started together; re-raises the first error any of them met."""
    barrier = threading.Barrier(count)
    answers: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                answers.append(work())
            except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return answers

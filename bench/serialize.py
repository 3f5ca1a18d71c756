"""How much it costs to turn 1 000 session-progress rows into the API's JSON objects: the
hand-written serializer (`dashboard.serializers`) against a Pydantic v2 model of the same object
(validated from the row's attributes, then dumped in JSON mode with the SPEC's numbers and
times). In memory, no database: only the serialisation is timed.

    python bench/serialize.py [--rows 1000] [--repeats 30]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time as clock
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import BaseModel, ConfigDict, PlainSerializer  # noqa: E402

from dashboard import create_app, serializers  # noqa: E402

Number = Annotated[Decimal | None, PlainSerializer(serializers.number)]
Time = Annotated[datetime | None, PlainSerializer(serializers.time)]


class SessionProgressOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    enrollment_id: int
    session: int
    lecture: int
    student_name: str
    attendance_type: str
    presence: str | None
    video_progress_rate: int
    video_completed: bool
    exam_attempted: bool
    exam_aggregate_score: Number
    exam_passed: bool
    exam_meta: dict[str, Any]
    homework_submitted: bool
    homework_passed: bool
    completed: bool
    completed_at: Time
    calculated_at: Time
    meta: dict[str, Any]
    created_at: Time
    updated_at: Time


def _rows(n: int) -> list[Any]:
    now = datetime(2026, 4, 1, 3, 0, tzinfo=timezone.utc)
    rows = []
    for i in range(n):
        obj = SimpleNamespace(
            id=i + 1, enrollment_id=1000 + i // 40, session_id=10 + i % 40, attendance_type="online",
            video_progress_rate=95, video_completed=True, exam_attempted=True,
            exam_aggregate_score=Decimal("72.50"), exam_passed=True,
            exam_meta={"strategy": "MAX", "pass_source": "EXAM", "note": None, "aggregate_pass_score": 60,
                       "exams": [{"exam_id": 5, "score": 72.5, "max_score": 100, "pass_score": 60, "passed": True,
                                  "submitted_at": "2026-03-09T10:00:00+09:00", "attempt_count": 1}]},
            homework_submitted=True, homework_passed=True, completed=True, completed_at=now,
            calculated_at=now + timedelta(seconds=i), meta={}, created_at=now, updated_at=now,
        )
        rows.append(_Row(obj, 1, f"Student {i:04d}"))
    return rows


class _Row(tuple):
    """A stand-in for a SQLAlchemy Row: row[0] is the object, plus named extra columns."""

    def __new__(cls, obj, lecture_id, student_name, presence=None):
        row = super().__new__(cls, (obj, lecture_id, student_name, presence))
        row.lecture_id, row.student_name, row.presence = lecture_id, student_name, presence
        return row


def _pydantic(row: Any) -> dict[str, Any]:
    obj = row[0]
    values = {name: getattr(obj, name) for name in SessionProgressOut.model_fields
              if name not in ("session", "lecture", "student_name", "presence")}
    values.update(session=obj.session_id, lecture=row.lecture_id, student_name=row.student_name, presence=row.presence)
    return SessionProgressOut.model_validate(values).model_dump(mode="json")


def _time(function, rows, repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        start = clock.perf_counter()
        for row in rows:
            function(row)
        timings.append((clock.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench"})
    rows = _rows(args.rows)
    with app.app_context():
        assert _pydantic(rows[0]) == serializers.session_progress(rows[0]), "the two must answer the same JSON"
        for name, function in (("hand-written", serializers.session_progress), ("pydantic v2", _pydantic)):
            timings = _time(function, rows, args.repeats)
            print(f"{name:>13}: {args.rows} rows in median {statistics.median(timings):.1f} ms "
                  f"(min {min(timings):.1f}, max {max(timings):.1f})")


if __name__ == "__main__":
    main()

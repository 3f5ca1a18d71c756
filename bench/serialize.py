"""How much it costs to turn 1 000 session-progress rows into the API's JSON objects.

Three ways to the same JSON, timed on the same rows in the same run:
- `description`: what the API runs — `resources.SESSION_PROGRESS.dump`, made from the
  resource's field description (dashboard.web.api.fields);
- `hand-written`: the serializer as it was written out by hand, field by field, before the
  descriptions (kept here as the yardstick);
- `pydantic v2`: a Pydantic model of the same object, validated from the row's attributes and
  dumped in JSON mode with the SPEC's numbers and times.
In memory, no database: only the serialisation is timed, in CPU time of this process.

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

from dashboard import create_app  # noqa: E402
from dashboard.serializers import number, time  # noqa: E402
from dashboard.web.api.resources import SESSION_PROGRESS  # noqa: E402

Number = Annotated[Decimal | None, PlainSerializer(number)]
Time = Annotated[datetime | None, PlainSerializer(time)]


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


def _hand_written(row: Any) -> dict[str, Any]:
    obj = row[0]
    return {
        "id": obj.id, "enrollment_id": obj.enrollment_id, "session": obj.session_id, "lecture": row.lecture_id,
        "student_name": row.student_name, "attendance_type": obj.attendance_type, "presence": row.presence,
        "video_progress_rate": obj.video_progress_rate, "video_completed": obj.video_completed,
        "exam_attempted": obj.exam_attempted, "exam_aggregate_score": number(obj.exam_aggregate_score),
        "exam_passed": obj.exam_passed, "exam_meta": obj.exam_meta, "homework_submitted": obj.homework_submitted,
        "homework_passed": obj.homework_passed, "completed": obj.completed, "completed_at": time(obj.completed_at),
        "calculated_at": time(obj.calculated_at), "meta": obj.meta, "created_at": time(obj.created_at),
        "updated_at": time(obj.updated_at),
    }


def _pydantic(row: Any) -> dict[str, Any]:
    obj = row[0]
    values = {name: getattr(obj, name) for name in SessionProgressOut.model_fields
              if name not in ("session", "lecture", "student_name", "presence")}
    values.update(session=obj.session_id, lecture=row.lecture_id, student_name=row.student_name, presence=row.presence)
    return SessionProgressOut.model_validate(values).model_dump(mode="json")


def _time(function, rows, repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        # CPU time of this process: on a shared, busy machine the wall clock also counts the
        # time other processes held the CPU.
        start = clock.process_time()
        for row in rows:
            function(row)
        timings.append((clock.process_time() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench"})
    rows = _rows(args.rows)
    ways = (("description", SESSION_PROGRESS.dump), ("hand-written", _hand_written), ("pydantic v2", _pydantic))
    with app.app_context():
        for name, function in ways:
            assert function(rows[0]) == SESSION_PROGRESS.dump(rows[0]), f"{name} must answer the same JSON"
        for name, function in ways:
            timings = _time(function, rows, args.repeats)
            print(f"{name:>13}: {args.rows} rows in median {statistics.median(timings):.1f} ms "
                  f"(min {min(timings):.1f}, max {max(timings):.1f})")


if __name__ == "__main__":
    main()

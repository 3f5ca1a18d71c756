"""Benchmark: importing a 300-student x 40-session lecture as one snapshot (SPEC §9).

    python bench/import_snapshot.py                      # SQLite (temporary file) and PostgreSQL
    python bench/import_snapshot.py --only postgresql --profile first
    BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python bench/import_snapshot.py

A script, not a test: it prints times and statement counts. The snapshot has the shape of
`dashboard.synthetic.build_lecture` (2 exams and 1 homework per session, one or two attempts per
exam, a fifth of them with answers), written as JSON text and read back as the CLI reads it.
Three cases, each timed from the call to the commit: the first import into an empty database,
the same document again (must change nothing), and the document with about 1 % of the attempt
and submission scores changed. The ANALYZE that the CLI and the API run after the commit (on
PostgreSQL, of the tables the import grew) is timed on its own, with a single cell's recompute
before and after it. Each PostgreSQL run uses a fresh database it creates and drops.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from bench.common import Statements, bench_app, machine_speed, on_each_database  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from dashboard.importer import analyze_grown_tables, import_snapshot  # noqa: E402
from dashboard.progress.recompute import Scope, recompute  # noqa: E402
from dashboard.synthetic import KST, TODAY  # noqa: E402


def build_snapshot(students: int, sessions: int, exams_per_session: int = 2, homeworks_per_session: int = 1,
                   seed: int = 7) -> dict:
    """A JSON-ready snapshot of one lecture, alike to `dashboard.synthetic.build_lecture`: weekly sessions
    (the last two upcoming), students of steady diligence, exams alternating a pass score of 60 and none."""
    rng = random.Random(seed)
    dates = [TODAY + timedelta(days=7 * (index - (sessions - 3))) for index in range(sessions)]
    held = {index for index in range(sessions) if dates[index] <= TODAY}
    snapshot: dict[str, list] = {
        "lectures": [{"id": 1, "title": f"Bulk lecture {students}x{sessions}"}],
        "sessions": [{"id": index + 1, "lecture_id": 1, "order": index + 1, "title": f"Week {index + 1}",
                      "date": dates[index].isoformat()} for index in range(sessions)],
        "students": [{"id": n + 1, "name": f"Student {n + 1:04d}"} for n in range(students)],
        "enrollments": [{"id": n + 1, "student_id": n + 1, "lecture_id": 1} for n in range(students)],
        "exams": [], "homeworks": [], "attempts": [], "homework_submissions": [], "activities": [],
    }
    exams = []  # (exam id, session index)
    for index in range(sessions):
        for number in range(exams_per_session):
            exam_id = len(exams) + 1
            snapshot["exams"].append({"id": exam_id, "title": f"Week {index + 1} quiz {number + 1}",
                                      "session_ids": [index + 1], "max_score": 100,
                                      "pass_score": 60 if exam_id % 2 else None})
            exams.append((exam_id, index))
    homeworks = []
    for index in range(sessions):
        for number in range(homeworks_per_session):
            homework_id = len(homeworks) + 1
            snapshot["homeworks"].append({"id": homework_id, "session_id": index + 1,
                                          "title": f"Worksheet {index + 1}.{number + 1}", "max_score": 100})
            homeworks.append((homework_id, index))

    for enrollment_id in range(1, students + 1):
        diligence = rng.uniform(0.4, 1.0)
        for index in sorted(held):
            if rng.random() < 0.25:
                snapshot["activities"].append({"enrollment_id": enrollment_id, "session_id": index + 1,
                                               "attendance": "offline", "video_rate": 0})
            elif rng.random() < 0.9:
                rate = 100 if rng.random() < diligence else rng.randint(0, 95)
                snapshot["activities"].append({"enrollment_id": enrollment_id, "session_id": index + 1,
                                               "attendance": "online", "video_rate": rate})
        for homework_id, index in homeworks:
            if index in held and rng.random() < diligence + 0.1:
                snapshot["homework_submissions"].append({
                    "enrollment_id": enrollment_id, "homework_id": homework_id, "submitted": True,
                    "score": rng.randint(4000, 10000) / 100, "approved": rng.random() < diligence})
        for exam_id, index in exams:
            if index not in held or rng.random() > diligence + 0.15:
                continue
            submitted = datetime.combine(dates[index], datetime.min.time(), tzinfo=KST) + timedelta(hours=17)
            for attempt_no in range(1, (3 if rng.random() < 0.15 else 2)):
                attempt = {"enrollment_id": enrollment_id, "exam_id": exam_id, "attempt_no": attempt_no,
                           "score": max(0, min(10000, int(rng.gauss(diligence * 9000, 1500)))) / 100,
                           "submitted_at": (submitted + timedelta(hours=attempt_no - 1)).isoformat()}
                if rng.random() < 0.2:
                    answers = []
                    for question in range(1, 6):
                        flagged = rng.random() < 0.05
                        answers.append({"question": question, "is_correct": not flagged and rng.random() < diligence,
                                        "invalid_reason": "LOW_CONFIDENCE" if flagged else None})
                    attempt["answers"] = answers
                snapshot["attempts"].append(attempt)
    return snapshot


def rescore(snapshot: dict, share: float, seed: int = 11) -> tuple[dict, int]:
    """A copy with about `share` of the attempt and submission scores changed; answers the number changed."""
    rng = random.Random(seed)
    changed = json.loads(json.dumps(snapshot))
    count = 0
    for kind in ("attempts", "homework_submissions"):
        for item in rng.sample(changed[kind], max(1, round(len(changed[kind]) * share))):
            item["score"] = round(100 - item["score"], 2) if item["score"] != 50 else 49.5
            count += 1
    return changed, count


def read_like_the_cli(snapshot: dict) -> tuple[dict, int, float]:
    """The document as `flask import-snapshot` reads it (numbers with a fraction as Decimal)."""
    text = json.dumps(snapshot)
    start = time.perf_counter()
    data = json.loads(text, parse_float=Decimal)
    return data, len(text), time.perf_counter() - start


def timed_import(data: dict, engine, profile: bool):
    """import_snapshot + commit: seconds, statements, the result."""
    counter = Statements()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
    event.listen(engine, "before_cursor_execute", counter)
    start = time.perf_counter()
    if profiler:
        profiler.start()
    try:
        result = import_snapshot(data)
        db.session.commit()
    finally:
        elapsed = time.perf_counter() - start
        if profiler:
            profiler.stop()
        event.remove(engine, "before_cursor_execute", counter)
    if profiler:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    return elapsed, counter.count, result


def summary(result) -> str:
    def kinds(counts: dict) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in counts.items() if n) or "none"

    return (f"created: {kinds(result.created)}; updated: {kinds(result.updated)}; "
            f"deleted: {kinds(result.deleted)}; recomputed {result.recomputed}")


def single_cell_ms(students: int, sessions: int, repeats: int = 15) -> float:
    """Median milliseconds of recomputing one unchanged held cell of the imported lecture."""
    times = []
    for i in range(repeats):
        enrollment_id, session_id = 1 + (i * 37) % students, 1 + (i * 11) % max(1, sessions - 3)
        start = time.perf_counter()
        recompute(Scope(1, frozenset({enrollment_id}), frozenset({session_id})))
        times.append(time.perf_counter() - start)
        db.session.rollback()
    return statistics.median(times) * 1000


def run(url: str, label: str, students: int, sessions: int, profile: str | None) -> None:
    snapshot = build_snapshot(students, sessions)
    changed, rescored = rescore(snapshot, 0.01)
    with bench_app(url):
        engine = db.engine
        cases = (("first", "first import into an empty database", snapshot),
                 ("again", "the same file again", snapshot),
                 ("change", f"1% changed ({rescored} scores)", changed))
        for name, title, document in cases:
            data, size, parse = read_like_the_cli(document)
            items = sum(len(v) for v in data.values())
            seconds, statements, result = timed_import(data, engine, profile == name)
            print(f"[{label}] {title}: {seconds:.2f} s, {statements} statements "
                  f"({items} items, {size / 1e6:.1f} MB of JSON parsed in {parse:.2f} s)")
            print(f"[{label}]     {summary(result)}")
            if result.grown_tables:
                before = single_cell_ms(students, sessions)
                start = time.perf_counter()
                analyze_grown_tables(result)
                print(f"[{label}]     then ANALYZE {', '.join(result.grown_tables)}: "
                      f"{time.perf_counter() - start:.2f} s; a single cell's recompute {before:.1f} ms before it, "
                      f"{single_cell_ms(students, sessions):.1f} ms after")
            if name == "again":
                assert result.recomputed == 0 and not any(result.created.values()) \
                    and not any(result.updated.values()), "a re-import must change nothing"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--profile", choices=["first", "again", "change"],
                        help="Print a pyinstrument profile of this case.")
    args = parser.parse_args()
    print(f"machine: 10M-iteration Python loop in {min(machine_speed() for _ in range(3)):.2f} s (best of 3)")
    on_each_database(args.only, run, args.students, args.sessions, args.profile)


if __name__ == "__main__":
    main()

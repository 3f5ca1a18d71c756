"""End to end through the contract's own doors, as the acceptance suite drives the product: a random
academy (tests/academies.py) is sent as a snapshot to `POST /api/import`, and every derived row the
JSON API lists (session progress, lecture progress, open automatic clinic links, risk logs) is
compared with what the per-row reference (tests/reference.py) says those rows must be.

This checks what the recompute equivalence tests cannot: the snapshot's reading of numbers, dates
and times, and the API's field names and shapes (scores as JSON numbers, times with the academy's
offset, foreign keys as ids), on data full of boundary values.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings

from dashboard.clock import academy_timezone
from dashboard.extensions import db
from tests.academies import TODAY, academies
from tests.conftest import _empty_all_tables
from tests.reference import Expected, _decimal, _stored_exam_meta, _stored_exam_reasons, diff, expected_rows

from tests.factories import bearer, make_token, make_user

API = "/api/progress"
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                      deadline=None)


def snapshot_of(description: dict[str, Any]) -> dict[str, Any]:
    """The academy as a SPEC §9 snapshot, every item with the id it will keep."""
    snapshot: dict[str, list] = {kind: [] for kind in (
        "lectures", "sessions", "students", "enrollments", "exams", "attempts", "homeworks",
        "homework_submissions", "activities")}
    students = [100 + index for index in range(len(description["students"]))]
    snapshot["students"] = [{"id": sid, "name": name} for sid, name in zip(students, description["students"])]
    session_ids: list[list[int]] = []
    enrollment_ids: list[list[int]] = []
    for li, lecture in enumerate(description["lectures"]):
        lecture_id = li + 1
        snapshot["lectures"].append({"id": lecture_id, "title": lecture["title"], "policy": lecture["policy"]})
        session_ids.append([])
        for si, session in enumerate(lecture["sessions"]):
            sid = 1000 * lecture_id + si + 1
            session_ids[li].append(sid)
            snapshot["sessions"].append({"id": sid, "lecture_id": lecture_id, "order": session["order"],
                                         "date": session["date"]})
        enrollment_ids.append([])
        for ei, enrollment in enumerate(lecture["enrollments"]):
            eid = 10_000 * lecture_id + ei + 1
            enrollment_ids[li].append(eid)
            snapshot["enrollments"].append({
                "id": eid, "student_id": students[enrollment["student"]], "lecture_id": lecture_id,
                "start_date": enrollment["start_date"],
                "withdrawn_at": "2026-03-20T12:00:00+00:00" if enrollment["withdrawn"] else None,
            })
        homework_ids = []
        for hi, homework in enumerate(lecture["homeworks"]):
            hid = 100_000 * lecture_id + hi + 1
            homework_ids.append(hid)
            snapshot["homeworks"].append({"id": hid, "session_id": session_ids[li][homework["session"]],
                                          "max_score": homework["max_score"]})
        for submission in lecture["submissions"]:
            snapshot["homework_submissions"].append({
                "enrollment_id": enrollment_ids[li][submission["enrollment"]],
                "homework_id": homework_ids[submission["homework"]],
                "submitted": submission["submitted"], "score": submission["score"], "approved": submission["approved"],
            })
        for activity in lecture["activities"]:
            snapshot["activities"].append({
                "enrollment_id": enrollment_ids[li][activity["enrollment"]],
                "session_id": session_ids[li][activity["session"]],
                "attendance": activity["attendance"], "video_rate": activity["video_rate"],
            })
    for xi, exam in enumerate(description["exams"]):
        exam_id = 900 + xi
        snapshot["exams"].append({
            "id": exam_id, "title": exam["title"], "pass_score": exam["pass_score"], "max_score": exam["max_score"],
            "session_ids": [session_ids[li][si] for li, si in exam["sessions"]],
        })
        for attempt in exam["attempts"]:
            snapshot["attempts"].append({
                "enrollment_id": enrollment_ids[attempt["lecture"]][attempt["enrollment"]], "exam_id": exam_id,
                "attempt_no": attempt["attempt_no"], "score": attempt["score"],
                "submitted_at": attempt["submitted_at"], "answers": attempt["answers"],
            })
    return snapshot


def as_json(snapshot: dict[str, Any]) -> str:
    """JSON text with scores as numbers: a 2-decimal value's float prints as its own digits
    (the shortest text that reads back as that float), so the server reads the exact value."""
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            assert Decimal(repr(float(value))) == value
            return float(value)
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value
    return json.dumps(plain(snapshot))


def listed(client, headers, resource: str, **filters: Any) -> list[dict[str, Any]]:
    """Every row of an API list, page after page."""
    rows, query = [], {**filters, "page_size": 1000}
    url = f"{API}/{resource}/"
    while url:
        response = client.get(url, headers=headers, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        rows += body["results"]
        url, query = body["next"], None
    return rows


def assert_numbers(*values: Any) -> None:
    """Scores travel as JSON numbers (SPEC §8), never as text."""
    for value in values:
        assert value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)), value


def assert_meta_shapes(meta: dict[str, Any]) -> None:
    """Numbers as numbers; times in the academy's offset (SPEC §1)."""
    assert_numbers(meta["aggregate_pass_score"])
    for row in meta["exams"]:
        assert_numbers(row["score"], row["max_score"], row["pass_score"])
        if row["submitted_at"] is not None:
            moment = datetime.fromisoformat(row["submitted_at"])
            assert moment.utcoffset() == moment.astimezone(academy_timezone()).utcoffset(), row["submitted_at"]


def api_rows(client, headers, lecture_id: int) -> Expected:
    """The derived rows of one lecture as the API lists them, shaped like the reference's."""
    numbers = {"exam_aggregate_score"}
    found = Expected(lecture_id=lecture_id, today=None, enrollment_ids=frozenset(), withdrawn_ids=frozenset())
    for row in listed(client, headers, "session-progress", lecture=lecture_id):
        values = {}
        for name in ("attendance_type", "video_progress_rate", "video_completed", "exam_attempted",
                     "exam_aggregate_score", "exam_passed", "exam_meta", "homework_submitted", "homework_passed",
                     "completed"):
            values[name] = _decimal(row[name]) if name in numbers else row[name]
        assert_numbers(row["exam_aggregate_score"])
        assert_meta_shapes(row["exam_meta"])
        values["exam_meta"] = _stored_exam_meta(row["exam_meta"])
        found.session_progress[(row["enrollment_id"], row["session"])] = values
    for row in listed(client, headers, "lecture-progress", lecture=lecture_id):
        found.lecture_progress[row["enrollment_id"]] = {
            "total_sessions": row["total_sessions"], "completed_sessions": row["completed_sessions"],
            "failed_sessions": row["failed_sessions"], "consecutive_failed_sessions": row["consecutive_failed_sessions"],
            "risk_level": row["risk_level"], "last_session_id": row["last_session"],
            "low_score_consecutive": (row["meta"] or {}).get("low_score_consecutive"),
        }
    for row in listed(client, headers, "clinic-links", lecture=lecture_id, is_auto="true", resolved="false"):
        for reasons in (row["meta"] or {}).get("exam_reasons", {}).values():
            assert_numbers(*reasons.get("LOW_SCORE", {}).values())
        value = _stored_exam_reasons(row["meta"]) if row["reason"] == "AUTO_RISK" else None
        found.clinic_links[(row["enrollment_id"], row["session"], row["reason"])] = value
    for row in listed(client, headers, "risk-logs", lecture=lecture_id):
        found.risk_findings.add((row["enrollment_id"], row["session"], row["risk_level"], row["rule"]))
    return found


@FIXTURE_OK
@given(academy=academies())
def test_imported_academy_reads_back_through_the_api_as_the_reference_says(app, client, academy):
    _empty_all_tables()
    token = make_token(make_user("importer", "admin"))
    db.session.commit()
    headers = bearer(token)
    snapshot = snapshot_of(academy)

    response = client.post("/api/import", data=as_json(snapshot), headers=headers, content_type="application/json")

    assert response.status_code == 200, response.get_json()
    counts = response.get_json()
    assert counts["created"] == {kind: len(items) for kind, items in snapshot.items()}
    db.session.remove()
    for lecture in snapshot["lectures"]:
        problems = diff(expected_rows(lecture["id"], TODAY), api_rows(client, headers, lecture["id"]))
        assert not problems, "\n".join(problems[:20])
    # The same snapshot again changes nothing, and recomputes nothing.
    again = client.post("/api/import", data=as_json(snapshot), headers=headers, content_type="application/json")
    assert again.get_json() == {"created": {kind: 0 for kind in snapshot}, "updated": {kind: 0 for kind in snapshot},
                                "deleted": {kind: 0 for kind in snapshot}, "recomputed": 0}

"""`PUT /api/lectures/L/sessions/S/entry`: one session's column for many students (SPEC §12).

Order of checks (SPEC §8): a session not in the lecture is a 404 before anything else, then the
caller's right to read (404) and to edit the lecture's inputs (403: admins, the lecture's
teachers and its assistants), then the body (400 naming `rows[i]....`, every problem in `errors`).
"""
from __future__ import annotations

from flask import jsonify

from dashboard.lectures import entry
from dashboard.web.api import bp, current_api_user, json_body


@bp.put("/lectures/<int:lecture_id>/sessions/<int:session_id>/entry")
def column_entry(lecture_id: int, session_id: int):
    """Answers 200 `{"saved": n, "changed": [{"enrollment_id", "session", "before", "after"}]}`."""
    user = current_api_user()
    session = entry.writable_session(user, lecture_id, session_id)
    result = entry.save_column(user, session, json_body())
    return jsonify(result.as_dict())

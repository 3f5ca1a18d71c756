"""`POST /api/import`: a snapshot (SPEC §9) through the same code path as `flask import-snapshot`.

Admin only. The body may be large (LARGE_BODY_ENDPOINTS gives this endpoint the 64 MB limit).
A rejected snapshot answers 400 with `field` naming the first problem's item and `errors`
listing every problem; nothing is written (the request rolls back). After a committed import the
tables it grew substantially are analysed (PostgreSQL), before the answer leaves.
"""
from __future__ import annotations

from flask import after_this_request, g, jsonify

from dashboard.importer.snapshot import ImportRejected, analyze_grown_tables, import_snapshot as run_import
from dashboard.web.api import ApiError, bp, current_api_user, forbidden, json_body, validation_error


@bp.post("/import")
def import_snapshot():
    """Answers 200 `{"created": {kind: n}, "updated": {...}, "deleted": {...}, "recomputed": n}`."""
    user = current_api_user()
    if user.role != "admin":
        raise forbidden("Only admins import snapshots.")
    data = json_body()
    if not isinstance(data, dict):
        raise validation_error("A snapshot is a JSON object of item lists.")
    try:
        result = run_import(data, user=user)
    except ImportRejected as exc:
        errors = [{"error": "validation", "message": str(problem), "field": problem.field}
                  for problem in exc.errors]
        first = errors[0] if errors else {"message": "The snapshot is invalid.", "field": None}
        raise ApiError(400, first["message"], first["field"], errors) from None
    # The blueprint commits when the view returns, before Flask's after-request step. A retried
    # attempt replaces what an aborted one found; only the first callback finds anything.
    g.import_result = result
    after_this_request(_analyze_once_committed)
    return jsonify(result.as_dict())


def _analyze_once_committed(response):
    """A 200 answer means the import's transaction committed (a failed commit answers an error)."""
    result = g.pop("import_result", None)
    if result is not None and response.status_code == 200:
        analyze_grown_tables(result)
    return response

"""`GET /api/audit`: the audit trail (admin only), paginated like every list (SPEC §8)."""
from __future__ import annotations

from dashboard.web.api import bp, current_api_user, detail_response, forbidden, list_response


def _require_admin() -> None:
    if current_api_user().role != "admin":
        raise forbidden("Only admins read the audit trail.")


@bp.get("/audit")
def audit_list():
    """Newest first; filters `lecture`, `object_type`, `object_id`, `action`, `username`; `search`."""
    _require_admin()
    return list_response("audit", None)


@bp.get("/audit/<int:entry_id>")
def audit_detail(entry_id: int):
    _require_admin()
    return detail_response("audit", entry_id, None)

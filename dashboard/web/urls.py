"""Absolute URLs for links that leave the browser: parent links, messages (SPEC §8).

`DASHBOARD_BASE_URL` (the scheme, host and any path prefix the dashboard is served at) is used
when set; otherwise the current request's own scheme and host. Outside a request (a CLI command
sending messages) the base URL is required.
"""
from __future__ import annotations

from flask import current_app, has_request_context, request, url_for


def absolute_url(endpoint: str, **values) -> str:
    """The absolute URL of an endpoint, as `url_for(endpoint, **values)` builds its path."""
    base = current_app.config.get("DASHBOARD_BASE_URL")
    if not base:
        if not has_request_context():
            raise RuntimeError("DASHBOARD_BASE_URL must be set to build absolute URLs outside a request")
        return url_for(endpoint, _external=True, **values)
    if has_request_context():
        path = url_for(endpoint, **values)[len(request.script_root):]
    else:
        with current_app.test_request_context():
            path = url_for(endpoint, **values)
    return base.rstrip("/") + path

"""`/api/docs`: the JSON API's interactive documentation (Swagger UI, served from static/vendor).

Behind the login, like every page: anyone signed in may read how the API works; calling it
still needs a token (the page's Authorize button takes one). The document itself is the public
`/api/openapi.json`. Swagger UI sets style attributes as it renders, so this one page allows
inline styles; scripts stay this site's own.
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template

from dashboard.accounts.access import role_required
from dashboard.web.ui import CONTENT_SECURITY_POLICY

bp = Blueprint("api_docs", __name__)

DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


@bp.get("/api/docs")
@bp.get("/api/docs/")
@role_required("admin", "staff", "teacher")
def index():
    """The documentation page."""
    response = make_response(render_template("api_docs/index.html"))
    response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    return response

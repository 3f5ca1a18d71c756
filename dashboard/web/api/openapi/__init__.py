"""`GET /api/openapi.json`: the OpenAPI 3.1 document of this API (dashboard.web.api.openapi.document).

Public, as such documents usually are: it describes the API and holds no data. Every route on
the `api` blueprint requires a token (its before_request), so this one is added to the app
itself when the blueprint is registered — under the same /api prefix, in both slash spellings,
and answering JSON errors like the rest of /api (routing 404/405 under /api are JSON app-wide).
"""
from __future__ import annotations

from flask import jsonify
from flask.blueprints import BlueprintSetupState

from dashboard.web.api.openapi.document import build_document
from dashboard.web.api import bp

ENDPOINT = "openapi_document"


def openapi_document():
    """The document (built once per process)."""
    return jsonify(build_document())


def _register(state: BlueprintSetupState) -> None:
    path = f"{state.url_prefix or ''}/openapi.json"
    for rule in (path, path + "/"):
        state.app.add_url_rule(rule, ENDPOINT, openapi_document, methods=["GET"])


bp.record_once(_register)

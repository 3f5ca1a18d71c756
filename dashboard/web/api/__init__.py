"""The token-authenticated JSON API under /api (SPEC §8).

Where things are:
- `blueprint.py` — the `api` blueprint: both slash spellings, one transaction per request,
  Idempotency-Key, the checks that run before every view;
- `auth.py` — the bearer token, the rate limit, `current_api_user()`;
- `errors.py` — every refusal as `{"error", "message", "field"}` with its status;
- `bodies.py` — JSON bodies: media type, exact decimals, size and depth limits;
- `fields.py`, `resources.py` — one description per API object: it serialises the answers,
  checks the bodies the API itself checks, and makes the OpenAPI schemas;
- `lists.py` — paginated lists and single objects;
- `openapi/` — the OpenAPI document, its paths by area;
- one module per area with its routes (progress, clinic, omr, users, ...).

How a module plugs in: it does `from dashboard.web.api import bp, current_api_user, json_object`
(the names below) and adds its routes with `@bp.get(...)`, `@bp.post(...)`, ...; then it is named
in API_MODULES, and its paths go into an `openapi/paths_*.py` module.
"""
from __future__ import annotations

import importlib

from flask import Flask
from werkzeug.exceptions import HTTPException

from dashboard.extensions import csrf
from dashboard.web.api.auth import current_api_user
from dashboard.web.api.blueprint import bp
from dashboard.web.api.bodies import API_BODY_LIMIT, has_body, json_body, json_object
from dashboard.web.api.errors import (
    ApiError,
    api_error_for,
    conflict,
    forbidden,
    http_exception_anywhere,
    is_api_request,
    not_found,
    validation_error,
)
from dashboard.web.api.lists import detail_response, list_response, page_url

__all__ = [
    "API_BODY_LIMIT", "ApiError", "api_error_for", "bp", "conflict", "current_api_user", "detail_response",
    "forbidden", "has_body", "is_api_request", "json_body", "json_object", "list_response", "not_found",
    "page_url", "register_api", "validation_error",
]

API_MODULES = ("progress", "importing", "audit", "openapi", "users", "omr", "clinic", "notifications", "reports",
               "entry")


def register_api(app: Flask) -> None:
    """Import the API modules, exempt the blueprint from CSRF and register it."""
    for name in API_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    csrf.exempt(bp)
    app.register_blueprint(bp)
    # Routing errors under /api. An app-wide handler for a single code (404, 405) registered
    # elsewhere would win over this one: such a handler must return api_error_for(exc) when
    # is_api_request().
    app.register_error_handler(HTTPException, http_exception_anywhere)

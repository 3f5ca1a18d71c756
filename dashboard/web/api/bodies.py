"""Request bodies of the JSON API (SPEC §8): JSON only, exact decimals, bounded size and depth.

A body must be sent as JSON (415 otherwise; no body needs no Content-Type). Numbers with a
fraction are read as exact Decimals, never floats. Bodies are limited to API_BODY_LIMIT, except
for the endpoints in LARGE_BODY_ENDPOINTS (the snapshot import, at least 64 MB by SPEC §8).
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import g, request
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard.errors import Invalid, describe
from dashboard.web.api.errors import ApiError, validation_error
from dashboard.web.guards import has_nul

# Other bodies are small JSON objects; the snapshot import may be big (SPEC §8: >= 64 MB).
API_BODY_LIMIT = 2 * 1024 * 1024
IMPORT_BODY_LIMIT = 64 * 1024 * 1024
LARGE_BODY_ENDPOINTS = {"api.import_snapshot": IMPORT_BODY_LIMIT}

# Deeper JSON is refused (400) before anything walks it; real bodies nest a few levels.
MAX_JSON_DEPTH = 64
JSON_MEDIA_TYPES = ("application/json",)


def body_limit() -> int:
    """This endpoint's body limit, set on the request so that reading more is refused (413)."""
    limit = LARGE_BODY_ENDPOINTS.get(request.endpoint or "", API_BODY_LIMIT)
    request.max_content_length = limit
    return limit


def refuse_announced_oversize(limit: int) -> None:
    """A body whose Content-Length is over the limit is refused before it is read."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def is_json_media_type(mimetype: str) -> bool:
    return mimetype in JSON_MEDIA_TYPES or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def has_body() -> bool:
    """Whether the request carries a body (announced by its length, or sent chunked)."""
    if request.content_length:
        return True
    return request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def check_media_type() -> None:
    """A body must be JSON (SPEC §8): 415 `unsupported_media_type` otherwise."""
    g.api_body_checked = True
    if has_body() and not is_json_media_type(request.mimetype):
        raise ApiError(415, describe(Invalid("unsupported_media_type")), "Content-Type")


def json_body() -> Any:
    """The request body parsed as JSON; numbers with a fraction become exact Decimals.

    A body that is not sent as JSON is a 415; bad JSON, or JSON nested deeper than
    MAX_JSON_DEPTH, is a 400 naming no field; an oversized body is a 413, whether announced by its
    Content-Length (refused before reading) or sent chunked (refused once the limit is reached).
    """
    check_media_type()
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body (no Content-Length) is cut at the limit by werkzeug without a word; one
        # that reached the limit is too large, not a shorter document.
        raise RequestEntityTooLarge()
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise validation_error(describe(Invalid("too_deep", max=MAX_JSON_DEPTH)))
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation_error(f"The body is not valid JSON: {exc}") from None
    if has_nul(data):
        raise validation_error("Text in the body must not contain NUL characters.")
    return data


def json_depth(raw: bytes) -> int:
    """How deeply the brackets of a JSON text nest (brackets inside strings not counted), found
    without parsing: Python's parser recurses and fails on very deep input."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON, though Python's parser takes them by default."""
    raise ValueError(f"{name} is not a JSON value")


def json_object() -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    data = json_body()
    if not isinstance(data, dict):
        raise validation_error("The body must be a JSON object.")
    return data

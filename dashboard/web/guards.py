"""Input limits every route shares: ids that fit the database, no NUL characters.

Ids in URLs are INTEGER columns (at most 2147483647): a larger number becomes 0, an id no
row has, so the view answers 404 as for any unknown id instead of the database overflowing.
(A converter that refuses the value would make werkzeug answer 405 for other methods' rules.) PostgreSQL text cannot hold NUL
characters: a query string or form carrying one is refused with 400 before any view runs.
"""
from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

from dashboard.models import MAX_ID


class IdConverter(IntegerConverter):
    """`<int:...>` that never hands a view a number beyond what an INTEGER primary key holds."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= MAX_ID else 0


def has_nul(value) -> bool:
    """True when a string anywhere in a parsed JSON value contains a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def install(app: Flask) -> None:
    """Call before any blueprint is registered (converters bind when rules are added)."""
    app.url_map.converters["int"] = IdConverter

    @app.before_request
    def _refuse_nul_characters():
        sources = [request.args]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            sources.append(request.form)
        for source in sources:
            for key, values in source.lists():
                if "\x00" in key or any("\x00" in v for v in values):
                    abort(400, description=f"The parameter {key.replace(chr(0), '')!r} contains a NUL character.")

"""Object versions (SPEC §8): a write may name the version it was based on; a stale one is refused.

Every mutable object the API answers carries `version` (models.Versioned). A write may carry
it as `If-Match: "<version>"` or as `version` in its JSON body; when it does and the object has
changed since, the write answers 409 `conflict` and changes nothing. A write without one applies.

A service takes the expected version as an argument and calls `check(obj, expected)` after it
has locked and read the object, so the comparison is against the stored state, not a copy read
before another writer committed.
"""
from __future__ import annotations

from typing import Any, MutableMapping

from dashboard.errors import Conflict, Invalid

FIELD = "version"


def parse(text: str | None, field: str = "If-Match") -> int | None:
    """A version from an If-Match header (`"3"`, `W/"3"` or `3`); None when absent or `*`."""
    if text is None:
        return None
    value = text.strip()
    if value in ("", "*"):
        return None
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise Invalid("bad_version", field)
    return int(value)


def take(header: str | None, data: MutableMapping[str, Any] | None) -> int | None:
    """The version a write was based on: the body's `version` (removed from the body, so the
    object's own validation never sees it) or else the If-Match header."""
    from_body = None
    if data is not None and FIELD in data:
        value = data.pop(FIELD)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
                raise Invalid("bad_version", FIELD)
            from_body = value
    from_header = parse(header)
    if from_body is not None and from_header is not None and from_body != from_header:
        raise Invalid("bad_version", FIELD)
    return from_body if from_body is not None else from_header


def check(obj: Any, expected: int | None) -> None:
    """Refuse (409) a write based on another version than the stored one."""
    if expected is not None and expected != obj.version:
        raise Conflict("stale_version", FIELD, current=obj.version, expected=expected)

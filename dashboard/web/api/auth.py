"""Who is calling the JSON API: `Authorization: Bearer TOKEN`, checked before any view runs.

No or a bad token answers 401; over API_RATE_LIMIT (counted per token, before the token is even
looked up) 429 with Retry-After. The caller is `current_api_user()`. Tokens themselves — how they
are made, stored (as a hash) and revoked — live in dashboard.accounts.users.
"""
from __future__ import annotations

from flask import current_app, g, request

from dashboard.errors import Invalid, describe
from dashboard.web.api.errors import ApiError


def current_api_user():
    """The user the bearer token belongs to (set before every API view)."""
    return g.api_user


def bearer_token() -> str:
    """The token of the `Authorization: Bearer TOKEN` header; 401 when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "An API token is required: send 'Authorization: Bearer TOKEN'.")
    return token.strip()


def authenticate() -> None:
    """Find the caller by their token (401), counting the call against the rate limit (429)."""
    token = bearer_token()
    # Imported here: accounts is its own area and must not be imported at app import time.
    from dashboard import rate_limit
    from dashboard.accounts.users import token_hash, user_for_token

    rate = rate_limit.parse(current_app.config.get("API_RATE_LIMIT"))
    if rate is not None:
        # Counted before the token is looked up, on a connection of its own: the count stays
        # whatever this request's transaction does, and guessing tokens is counted too.
        wait = rate_limit.hit(token_hash(token), rate)
        if wait:
            raise ApiError(429, describe(Invalid("rate_limited", seconds=wait)), code="rate_limited",
                           headers={"Retry-After": str(wait)})
    user = user_for_token(token)
    if user is None:
        raise ApiError(401, "The API token is unknown, revoked, or its user is deactivated.")
    g.api_user = user

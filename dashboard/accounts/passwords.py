"""The password rule, and when a stored hash is re-made with stronger parameters.

A password someone chooses (a new user, a reset, their own change) has at least MIN_LENGTH
characters, is not their username, and is not on the list of passwords everybody tries first
(`common_passwords.txt`, compared without case and surrounding spaces). A refusal is a reason
code whose text is in dashboard.errors.TEXTS, shown in the reader's language.

Hashes: werkzeug writes the method and its parameters in front of each hash
(`scrypt:32768:8:1$salt$digest`). When the academy raises PASSWORD_HASH_METHOD, a hash made
with other parameters is re-made at the user's next successful sign-in, the only moment the
password itself is known.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import current_app

from dashboard.errors import Invalid

MIN_LENGTH = 10
# Stronger than werkzeug's default scrypt (N = 2**15): about 64 MB and a fifth of a second per
# sign-in on the academy's server, once per sign-in only.
DEFAULT_METHOD = "scrypt:65536:8:1"
COMMON_LIST = Path(__file__).with_name("common_passwords.txt")

@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased; blank lines and `#` comments skipped."""
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip() and not line.startswith("#"))


def problem(password: object, username: str | None) -> str | None:
    """The reason this password is refused, or None when it may be used."""
    if not isinstance(password, str) or not password.strip():
        return "password_required"
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    folded = password.strip().casefold()
    if username and folded == username.strip().casefold():
        return "password_is_username"
    if folded in common_passwords():
        return "password_too_common"
    return None


def refusal(reason: str) -> Invalid:
    """The refusal of a password for `reason` (as `problem` answers it), naming the field."""
    return Invalid(reason, "password", n=MIN_LENGTH)


def method() -> str:
    """The hash method and parameters new hashes are made with."""
    return current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_METHOD


def needs_rehash(stored_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than the current method's."""
    made_with = stored_hash.partition("$")[0]
    wanted = method()
    if wanted == "scrypt":
        wanted = "scrypt:32768:8:1"  # werkzeug's spelling of its own default
    return made_with != wanted

"""Whether a name or title has something a person can see.

`str.strip()` removes whitespace only: a name made of zero-width spaces (U+200B), joiners, the
byte-order mark, the Hangul filler (U+3164) or the braille blank (U+2800) passes it and shows
up as an empty row no one can find or click. Names and titles need one visible character.
"""
from __future__ import annotations

import unicodedata

# Letters (category Lo) and symbols that render as nothing.
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Control, format, private-use, unassigned, separators, combining marks.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})


def has_visible_character(text: str) -> bool:
    """True when at least one character of `text` is drawn as something."""
    return any(
        not ch.isspace() and ch not in _BLANK_LOOKING and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
        for ch in text
    )

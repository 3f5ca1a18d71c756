"""The Korean catalogue: complete, and its committed .mo matches its .po (docs/decisions.md)."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
METHODS = [("dashboard/**.py", "python"), ("templates/**.html", "jinja2")]


def _catalogue(path: Path, reader):
    with path.open("rb") as handle:
        return {message.id: message.string for message in reader(handle) if message.id}


def test_every_korean_entry_is_translated():
    untranslated = [msgid for msgid, text in _catalogue(PO, read_po).items() if not text]
    assert untranslated == []


def test_compiled_catalogue_matches_the_po_file():
    assert _catalogue(MO, read_mo) == _catalogue(PO, read_po), "run: pybabel compile -d translations"


def test_every_text_of_the_code_and_templates_is_in_the_catalogue():
    known = _catalogue(PO, read_po)
    used = {message for _file, _line, message, _comments, _context in
            extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS)}
    used = {m if isinstance(m, str) else m[0] for m in used}
    missing = sorted(m for m in used if m and m not in known)
    assert missing == [], "extract and translate them (docs/ui.md, 'Text in two languages')"

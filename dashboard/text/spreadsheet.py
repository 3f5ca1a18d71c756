"""CSV for spreadsheets: the one formula guard every export uses, and its undoing on upload.

A spreadsheet runs a cell starting with `=`, `+`, `-` or `@` as a formula, and Excel and
LibreOffice also skip a leading TAB or carriage return before looking: a student named
"=HYPERLINK(...)" or "\\t=1+1" must arrive as text. Every text cell of every export goes through
`formula_safe` (by way of `csv_bytes`), which puts an apostrophe in front; an upload of such a
file takes it off again (`unguarded`).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_MARKS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; anything else is kept."""
    if isinstance(value, str) and value[:1] in FORMULA_MARKS:
        return "'" + value
    return value


def unguarded(text: str) -> str:
    """Undo formula_safe: the apostrophe our downloads put before a formula mark."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_MARKS else text


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """Rows as CSV in UTF-8 with a BOM (so Excel reads Korean names), every text cell guarded."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([formula_safe(cell) for cell in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(rows: Iterable[Iterable[Any]], title: str = "Sheet1") -> bytes:
    """Rows as an Excel workbook of one sheet. Numbers stay numbers; every text cell is stored as
    text — one that starts with a formula mark is also given Excel's "quote prefix", so neither
    opening the file nor editing the cell runs it (the same guard as the CSV's apostrophe, without
    putting an apostrophe into the value)."""
    from openpyxl import Workbook  # only workbook downloads need it

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31] or "Sheet1"
    for values in rows:
        sheet.append([_xlsx_value(value) for value in values])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value[:1] in FORMULA_MARKS:
                cell.data_type = "s"
                cell.quotePrefix = True
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_value(value: Any) -> Any:
    # Booleans as the words our uploads read back; everything else as it is (Decimal is a number).
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(rows: Iterable[Iterable[Any]], name: str, extension: str) -> tuple[bytes, str, str]:
    """A download of rows as `extension` ("csv" or "xlsx"): its bytes, mimetype and file name."""
    if extension == "xlsx":
        return xlsx_bytes(rows, name), XLSX_MIMETYPE, f"{name}.xlsx"
    return csv_bytes(rows), "text/csv", f"{name}.csv"

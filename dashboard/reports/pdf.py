"""Reports as PDF through WeasyPrint, from the same HTML as the printable page.

WeasyPrint needs Pango (a system library; Debian's chromium package brings it) and, for Korean
text, a CJK font (`apt-get install fonts-noto-cjk`). Without Pango `import weasyprint` itself
fails, so it is imported only when a PDF is made: the rest of the dashboard, the printable
report page included, works without it, and `available()` lets the pages explain what to
install instead of offering a PDF link that cannot work.
"""
from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

INSTALL_HINT = "apt-get install fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0"


class PdfUnavailable(RuntimeError):
    """WeasyPrint (or a system library it needs) is missing on this machine."""


def load_weasyprint() -> ModuleType:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Python package is there, Pango is not
        raise PdfUnavailable(str(exc)) from exc
    # The shared stylesheet has screen-only properties (SVG fills, sticky headers) WeasyPrint
    # does not know; each would be a log warning per document.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    return weasyprint


def available() -> bool:
    try:
        load_weasyprint()
    except PdfUnavailable:
        return False
    return True


def document_html(reports: list) -> str:
    """The reports as one HTML document for WeasyPrint, one report per page."""
    from flask import render_template

    return render_template("reports/document.html", reports=reports, for_pdf=True)


def render_reports(html: str) -> bytes:
    """The PDF of a document made by `document_html`, with the report's own stylesheet."""
    from flask import current_app

    return render_pdf(html, Path(current_app.static_folder) / "report.css")


def render_pdf(html: str, stylesheet: Path) -> bytes:
    """The PDF of an HTML document styled by one local stylesheet. Nothing is fetched from
    anywhere: the document's own links are refused, so a report cannot make the server load a URL."""
    weasyprint = load_weasyprint()
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols=())
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[weasyprint.CSS(filename=str(stylesheet), url_fetcher=fetcher)])

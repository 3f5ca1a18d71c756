"""gzip for the pages and the JSON API when the browser accepts it.

The 300-student grid is about 2.8 MB of HTML, nearly all of it the same few cell tags repeated:
gzip takes it to a few per cent of that (docs/performance.md), which on a school's or a phone's
connection is the difference between seconds and a blink. Static files (sent as files, not built
in memory) are left to nginx (deploy/nginx.conf), which compresses them on its own side.
"""
from __future__ import annotations

import gzip

from flask import Flask, Response, request

# What compresses well: text built in memory. Images and PDFs are compressed already.
COMPRESSIBLE = frozenset({
    "text/html", "application/json", "application/problem+json", "text/css", "text/javascript",
    "application/javascript", "text/plain", "text/csv", "image/svg+xml",
})
MIN_BYTES = 1024  # below this the gzip header and the CPU cost more than they save
LEVEL = 6  # zlib's default: the 300-student grid in ~13 ms to 110 KiB; 9 saves 15% more for 4x the CPU (docs/performance.md)


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_RESPONSES", True)
    app.after_request(compress)


def _accepts_gzip() -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def compress(response: Response) -> Response:
    """gzip the body of a response built in memory, when it is worth it and the client takes it."""
    from flask import current_app

    if not current_app.config.get("COMPRESS_RESPONSES"):
        return response
    response.vary.add("Accept-Encoding")
    if (
        response.direct_passthrough  # a file being sent: nginx compresses those
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or response.mimetype not in COMPRESSIBLE
        or response.status_code < 200 or response.status_code in (204, 206, 304)
        or request.method == "HEAD"
        or not _accepts_gzip()
    ):
        return response
    body = response.get_data()
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    if response.get_etag()[0]:
        # The same representation's strong tag must not name a different body.
        tag, _ = response.get_etag()
        response.set_etag(tag, weak=True)
    return response

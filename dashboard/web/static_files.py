"""Static files with content-hashed URLs: `url_for('static', filename='app.css')` becomes
`/static/app.css?v=<first 12 hex of its SHA-256>`, and such a request is cacheable for a year
(`immutable`): a browser asks again only when the file changed, since its URL changed with it.
A request without `v` (an old link) keeps the default short caching.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, request

YEAR = 365 * 24 * 3600


def init_app(app: Flask) -> None:
    hashes: dict[str, str | None] = {}

    def version(filename: str) -> str | None:
        if filename not in hashes:  # once per file and process: the files do not change under it
            path = Path(app.static_folder or "") / filename
            try:
                hashes[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            except OSError:
                hashes[filename] = None
        return hashes[filename]

    @app.url_defaults
    def _hashed_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values and values.get("filename"):
            digest = version(values["filename"])
            if digest:
                values["v"] = digest

    @app.after_request
    def _cache_hashed(response):
        if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
            response.cache_control.no_cache = None  # send_file's default, which would revalidate every time
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
        return response

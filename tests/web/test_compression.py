"""Pages and API answers travel gzipped when the browser accepts it (dashboard/web/compression.py)."""
from __future__ import annotations

import gzip

import pytest

from dashboard.extensions import db
from tests.factories import bearer, build_academy
from tests.web.pages import sign_in


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def test_a_page_is_gzipped_for_a_browser_that_accepts_it(client, academy):
    sign_in(client, academy.users["admin"])
    url = f"/lectures/{academy.algebra.id}/"
    plain = client.get(url)
    zipped = client.get(url, headers={"Accept-Encoding": "br, gzip, deflate"})
    assert plain.status_code == zipped.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data) / 3
    # The same page either way, apart from the per-request CSRF token.
    html = gzip.decompress(zipped.data).decode()
    assert html.count("<td") == plain.get_data(as_text=True).count("<td") > 0


def test_the_api_is_gzipped_too_and_refused_gzip_is_respected(client, academy):
    headers = bearer(academy.tokens["admin"])
    url = "/api/progress/session-progress/"
    plain = client.get(url, headers=headers)
    zipped = client.get(url, headers={**headers, "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    refused = client.get(url, headers={**headers, "Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_small_answers_and_static_files_are_left_alone(client, academy):
    small = client.get("/api/progress/session-progress/?page_size=1",
                       headers={**bearer(academy.tokens["admin"]), "Accept-Encoding": "gzip"})
    assert small.status_code == 200 and len(small.data) < 1024
    assert "Content-Encoding" not in small.headers
    static = client.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    assert static.status_code == 200 and "Content-Encoding" not in static.headers  # nginx's job
    static.close()


def test_static_urls_carry_their_content_hash_and_are_cached_for_long(client, academy, app):
    import hashlib
    from pathlib import Path

    html = client.get("/login").get_data(as_text=True)
    digest = hashlib.sha256((Path(app.static_folder) / "app.css").read_bytes()).hexdigest()[:12]
    assert f"/static/app.css?v={digest}" in html
    hashed = client.get(f"/static/app.css?v={digest}")
    assert "immutable" in hashed.headers["Cache-Control"] and "max-age=31536000" in hashed.headers["Cache-Control"]
    assert "no-cache" not in hashed.headers["Cache-Control"]  # it would make the browser ask every time
    hashed.close()
    plain = client.get("/static/app.css")
    assert "immutable" not in plain.headers.get("Cache-Control", "")
    plain.close()

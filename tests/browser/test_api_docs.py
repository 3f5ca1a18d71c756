"""The API documentation page renders in real Chromium from this site's own files."""
from __future__ import annotations

from playwright.sync_api import expect

from .conftest import sign_in


def test_api_docs_render_the_operations(page, live_url, academy):
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)
    sign_in(page, live_url, "admin")
    page.goto(live_url + "/api/docs")
    expect(page.get_by_text("/api/progress/policies/", exact=True).first).to_be_visible(timeout=15_000)
    assert blocked == []

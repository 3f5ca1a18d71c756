"""Every page fits a tablet in portrait (820 px) and a phone (390 px) without scrolling sideways —
only the grid scrolls, inside its own area; Korean words are kept whole; controls are at least
44 px high, big enough for a finger."""
from __future__ import annotations

import pytest

from .conftest import sign_in

PAGES = ("/", "/lectures/{algebra}/", "/clinic/", "/risk/", "/policies/", "/policies/{algebra}/", "/setup/",
         "/setup/lectures/{algebra}/sessions", "/setup/lectures/{algebra}/enrollments", "/omr/", "/users/")


@pytest.mark.parametrize("width", [820, 390])
def test_pages_fit_the_screen_and_keep_korean_words_whole(page, live_url, academy, width):
    sign_in(page, live_url, "admin")
    page.context.set_extra_http_headers({"Accept-Language": "ko"})
    page.set_viewport_size({"width": width, "height": 900})
    wide = []
    for path in PAGES:
        response = page.goto(live_url + path.format(algebra=academy.algebra.id))
        assert response.status == 200, path
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            wide.append((path, overflow, page.evaluate("""() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && getComputedStyle(e).position !== 'fixed'
                             && !e.closest('.grid-scroll'))
                .slice(0, 3).map(e => e.tagName + '.' + e.className)""")))
        assert page.evaluate("() => getComputedStyle(document.body).wordBreak") == "keep-all"
        small = page.evaluate("""() => [...document.querySelectorAll(
                'main button, main input[type=submit], main select, header button, header a')]
            .filter(e => e.offsetParent !== null && !e.closest('.grid-scroll'))
            .filter(e => e.getBoundingClientRect().height < 44)
            .slice(0, 3).map(e => e.tagName + ':' + (e.textContent || e.name).trim().slice(0, 20))""")
        assert not small, (path, small)
    assert not wide, "\n".join(map(repr, wide))

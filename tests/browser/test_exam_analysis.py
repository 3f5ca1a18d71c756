"""The exam analysis page in real Chromium: the histogram is drawn (one bar per score range, the
tallest as high as the chart), its table beside it, reached from the grid's session header.

Academy: tests/factories.build_academy — the quiz on Week 2 with Kim Minji 72.5 and Lee Jisoo 40.
"""
from __future__ import annotations

from playwright.sync_api import expect

from .conftest import shot, sign_in


def test_from_the_grid_header_to_the_histogram(page, live_url, academy):
    page.set_viewport_size({"width": 1280, "height": 1000})
    sign_in(page, live_url, "teacher_a")
    page.goto(f"{live_url}/lectures/{academy.algebra.id}/")
    page.locator(f'th[data-session="{academy.weeks[1].id}"] a[data-exam-analysis="{academy.quiz.id}"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Exam analysis: {academy.quiz.title}")
    expect(page.locator('[data-figure="mean"] dd')).to_have_text("56.25")
    chart = page.get_by_role("img", name="How many students scored in each range")
    expect(chart).to_be_visible()
    bars = page.locator("svg.histogram rect.bar")
    expect(bars).to_have_count(10)
    # 40 falls in 40–50 and 72.5 in 70–80: each the tallest (120 px of the 176-unit chart), the rest flat.
    heights = bars.evaluate_all("rects => rects.map(r => Number(r.getAttribute('height')))")
    assert heights == [0, 0, 0, 0, 120, 0, 0, 120, 0, 0]
    expect(page.locator('#histogram-table tr[data-bin="7"] td')).to_have_text("1")
    shot(page, "exam-analysis")

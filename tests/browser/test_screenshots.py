"""The demo academy (Korean names) on a laptop and on a 1024x768 tablet, in English and Korean:
sticky header and first column, Korean text rendered, and screenshots for the docs."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dashboard.demo import DEMO_PASSWORD, create_demo
from dashboard.extensions import db

from .conftest import shot, sign_in


@pytest.fixture
def demo(filled):
    create_demo()
    db.session.commit()


def first_lecture(page, live_url) -> None:
    page.goto(live_url + "/")
    page.locator(".lecture-card h2 a").first.click()
    expect(page.locator("table.grid")).to_be_visible()


def test_laptop_screens_in_english(page, live_url, demo):
    page.set_viewport_size({"width": 1366, "height": 820})
    sign_in(page, live_url, "admin", DEMO_PASSWORD)
    shot(page, "lectures-en")
    first_lecture(page, live_url)
    shot(page, "grid-en")
    page.locator('td[data-status="incomplete"] a').first.click()
    expect(page.locator("#cell-panel")).to_be_visible()
    shot(page, "cell-detail-en")
    page.locator("#cell-panel").get_by_role("link", name="Open the student's page").click()
    expect(page.locator("svg.timeline")).to_be_visible()
    shot(page, "student-en")


def test_tablet_in_korean_keeps_header_and_first_column_in_view(browser, live_url, demo):
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="ko-KR")
    page = context.new_page()
    page.goto(live_url + "/")
    page.get_by_label("아이디").fill("admin")
    page.get_by_label("비밀번호").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="로그인").click()
    expect(page.get_by_role("heading", name="강의")).to_be_visible()
    first_lecture(page, live_url)
    expect(page.locator("html")).to_have_attribute("lang", "ko")

    scroller = page.locator(".grid-scroll")
    first_column = page.locator("tbody th").first
    header = page.locator("thead th").nth(3)
    left_before = first_column.bounding_box()["x"]
    scroller.evaluate("element => { element.scrollLeft = 600; element.scrollTop = 400; }")
    page.wait_for_timeout(100)
    assert abs(first_column.bounding_box()["x"] - left_before) < 1  # sticky first column
    # The caption scrolls away; the header row sticks to the top of the scrolling area.
    assert abs(header.bounding_box()["y"] - scroller.bounding_box()["y"]) <= 2
    scroller.evaluate("element => { element.scrollLeft = 0; element.scrollTop = 0; }")
    shot(page, "grid-ko-tablet")

    page.locator('td[data-status="incomplete"] a').first.click()
    expect(page.get_by_label("영상 시청률 (%)")).to_be_visible()
    shot(page, "cell-detail-ko-tablet")
    context.close()

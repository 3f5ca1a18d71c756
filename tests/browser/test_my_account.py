"""My account in real Chromium: two browsers signed in as one teacher; the first sees both,
signs the second out there, and the second is sent to the login form on its next click; then a
token is created and shown once."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import shot, sign_in


def test_a_teacher_signs_out_their_other_browser_and_creates_a_token(page, browser, live_url, academy):
    sign_in(page, live_url, "teacher_a")
    other = browser.new_context()
    phone = other.new_page()
    try:
        sign_in(phone, live_url, "teacher_a")
        page.get_by_role("link", name="teacher_a").click()
        expect(page.get_by_role("heading", name=re.compile("My account"))).to_be_visible()
        sessions = page.locator("#account-sessions tbody tr")
        expect(sessions).to_have_count(2)
        expect(page.locator("#account-sessions tr[data-this]")).to_contain_text("This browser")
        page.get_by_role("button", name="Sign out there").click()
        expect(page.locator(".flashes")).to_contain_text("That session is signed out.")
        expect(sessions).to_have_count(1)

        phone.reload()
        expect(phone).to_have_url(re.compile(r"/login"))

        page.get_by_label("Name (to recognise it by)").fill("grading laptop")
        page.get_by_role("button", name="Create a token").click()
        expect(page.locator("#new-token code")).to_have_text(re.compile(r"^acd_"))
        expect(page.locator("#token-list")).to_contain_text("grading laptop")
        shot(page, "my-account")
        page.goto(live_url + "/account/")
        expect(page.locator("#new-token")).to_have_count(0)
    finally:
        other.close()

"""In real Chromium: a control whose request is on its way shows it and takes no second press; a
failed request says so and offers to try again (static/app.js).

The answers are held back or replaced with Playwright's `page.route`: the test decides when the
server's answer arrives, so nothing here depends on timing.
"""
from __future__ import annotations

from playwright.sync_api import expect

from .conftest import sign_in


def _open_policy(page, live_url):
    sign_in(page, live_url, "admin")
    page.get_by_role("link", name="Policies").click()
    page.get_by_role("link", name="Algebra II").click()


def _held_back(page, url_part: str, method: str = "POST"):
    """Requests to `url_part` wait until the test lets them go; answers the list of waiting routes
    and the list of every such request the page sent."""
    waiting, sent = [], []
    page.on("request", lambda request: sent.append(request) if url_part in request.url
            and request.method == method else None)
    page.route(f"**{url_part}", lambda route: waiting.append(route) if route.request.method == method
               else route.continue_())
    return waiting, sent


def test_a_slow_save_shows_it_is_busy_and_a_double_click_sends_one_request(page, live_url, academy):
    _open_policy(page, live_url)
    save = page.get_by_role("button", name="Save")
    action = save.evaluate("b => new URL(b.form.getAttribute('action'), location.href).pathname")
    waiting, sent = _held_back(page, action)
    assert action.startswith(f"/policies/{academy.algebra.id}")

    page.get_by_label("Required video rate (%)").fill("0")
    save.dblclick()
    busy = page.locator('button[value="save"]')
    expect(busy).to_be_disabled()
    expect(busy).to_have_attribute("aria-busy", "true")
    expect(busy).to_have_text("Saving the policy and recomputing the lecture…")
    expect(page.locator('button[value="preview"]')).to_be_disabled()
    page.wait_for_timeout(300)  # room for a second request, were one going to leave
    assert len(sent) == 1 and len(waiting) == 1

    waiting[0].continue_()
    expect(page.locator("#policy-impact")).to_have_attribute("data-outcome", "save")
    expect(page.locator('button[value="save"]')).to_be_enabled()
    expect(page.locator('button[value="save"]')).to_have_text("Save")
    assert len(sent) == 1


def test_a_server_error_says_so_and_try_again_sends_it_again(page, live_url, academy):
    _open_policy(page, live_url)
    action = page.get_by_role("button", name="Preview").evaluate("b => new URL(b.form.getAttribute('action'), location.href).pathname")
    answers = ["error"]

    def answer(route):
        if route.request.method == "POST" and answers and answers.pop() == "error":
            route.fulfill(status=500, body="Internal Server Error")
        else:
            route.continue_()
    page.route(f"**{action}", answer)

    page.get_by_label("Required video rate (%)").fill("0")
    page.get_by_role("button", name="Preview").click()
    notice = page.locator("#htmx-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Something went wrong on the server")
    expect(page.get_by_role("button", name="Preview")).to_be_enabled()  # given back after the failure

    notice.get_by_role("button", name="Try again").click()
    expect(page.locator("#policy-impact")).to_have_attribute("data-outcome", "preview")
    expect(notice).to_be_hidden()


def test_a_lost_connection_says_so_in_korean(page, live_url, academy):
    sign_in(page, live_url, "admin")
    page.context.set_extra_http_headers({"Accept-Language": "ko"})
    page.goto(live_url + f"/policies/{academy.algebra.id}/")
    preview = page.locator('button[value="preview"]')
    action = preview.evaluate("b => new URL(b.form.getAttribute('action'), location.href).pathname")
    page.route(f"**{action}", lambda route: route.abort() if route.request.method == "POST" else route.continue_())
    preview.click()
    notice = page.locator("#htmx-notice")
    expect(notice).to_contain_text("서버에 연결할 수 없습니다")
    expect(notice.locator(".notice-retry")).to_have_text("다시 시도")
    expect(preview).to_be_enabled()


def test_a_plain_form_post_disables_its_button_until_the_next_page(page, live_url, academy):
    sign_in(page, live_url, "admin")
    page.goto(live_url + "/setup/")
    button = page.get_by_role("button", name="Create lecture")
    action = button.evaluate("b => new URL(b.form.getAttribute('action'), location.href).pathname")
    waiting, sent = _held_back(page, action)
    page.locator("#lecture-create").get_by_label("Title").fill("Physics")
    # What the button looks like while the answer is on its way, written down by the page itself
    # (Playwright waits for a pending navigation before it reads the page).
    page.evaluate("""() => document.addEventListener("submit", () => setTimeout(() => {
        const b = document.querySelector("#lecture-create [type=submit]");
        sessionStorage.setItem("busy", JSON.stringify([b.disabled, b.getAttribute("aria-busy")]));
    }, 50))""")
    button.evaluate("b => b.click()")  # Playwright's click would wait for the held-back navigation
    page.wait_for_timeout(300)
    assert len(sent) == 1 and len(waiting) == 1
    waiting[0].continue_()
    expect(page.get_by_text("Physics").first).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('busy')") == '[true,"true"]'

"""The grid in real Chromium: the keyboard (one tab stop, a roving focus, Enter and Escape), rows
streamed as the teacher scrolls (every student reachable; search, filter and sort cover them all)
and the sessions' footer following an edit in place.

Academy: tests/factories.build_academy (today 2026-04-01). Algebra II's active students are Kim
Minji, Lee Jisoo and Park_100% (Choi Yuna has withdrawn); Weeks 1-3 are held, Week 4 upcoming, so
the grid opens at Week 3. Footer of Week 3: Minji alone completed it, 1 of 3 = 33 %.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from dashboard.extensions import db
from dashboard.lectures import grid
from dashboard.models import Student
from dashboard.progress.recompute import recompute_lecture
from dashboard.synthetic import build_lecture

from .conftest import sign_in


def cell_link(page, enrollment_id, session_id):
    return page.locator(f'td[data-enrollment="{enrollment_id}"][data-session="{session_id}"] > a')


def focused(page) -> dict:
    """Where the focus is: the cell's enrollment and session, or the student's row for a name."""
    return page.evaluate("""() => {
        const e = document.activeElement, td = e.closest('td[data-session]'), tr = e.closest('tr[id^="row-"]');
        return {enrollment: td ? td.dataset.enrollment : (tr ? tr.id.slice(4) : null),
                session: td ? td.dataset.session : null, name: e.classList.contains('student-name'),
                inGrid: !!e.closest('table.grid')};
    }""")


def test_the_grid_is_one_tab_stop_moved_by_the_arrow_keys(page, live_url, academy):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_url, "admin")
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    week3, week4 = academy.weeks[2], academy.upcoming
    minji, jisoo, park = academy.minji, academy.jisoo, academy.park
    expect(page.locator("table.grid")).to_have_attribute("role", "grid")
    expect(page.locator(f'thead th[data-session="{week3.id}"]')).to_have_attribute("data-current", "")

    # Tab from the last control before the grid lands on one cell: the first row, current session.
    page.locator(".exports a").last.focus()
    page.keyboard.press("Tab")
    assert focused(page) == {"enrollment": str(minji.id), "session": str(week3.id), "name": False, "inGrid": True}
    # Every other cell is out of the tab order: one Tab leaves the grid, Shift+Tab comes back.
    assert page.locator("table.grid [tabindex='0']").count() == 1
    page.keyboard.press("Tab")
    assert focused(page)["inGrid"] is False
    page.keyboard.press("Shift+Tab")
    assert focused(page)["session"] == str(week3.id)

    page.keyboard.press("ArrowRight")
    assert focused(page)["session"] == str(week4.id)
    page.keyboard.press("ArrowRight")  # the last column: stays
    assert focused(page)["session"] == str(week4.id)
    page.keyboard.press("ArrowDown")
    assert focused(page)["enrollment"] == str(jisoo.id)
    page.keyboard.press("Home")
    assert focused(page) == {"enrollment": str(jisoo.id), "session": None, "name": True, "inGrid": True}
    page.keyboard.press("End")
    assert focused(page)["session"] == str(week4.id)
    page.keyboard.press("PageDown")  # a screenful down, stopping at the last row
    assert focused(page)["enrollment"] == str(park.id)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("PageUp")
    assert focused(page) == {"enrollment": str(minji.id), "session": str(week3.id), "name": False, "inGrid": True}

    # Enter opens the cell's panel; Escape closes it and the focus is back on that cell.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    panel = page.locator("#cell-panel")
    expect(panel).to_have_attribute("data-enrollment", str(jisoo.id))
    expect(panel).to_have_attribute("data-session", str(week3.id))
    page.get_by_label(re.compile("Video")).focus()
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    assert focused(page)["enrollment"] == str(jisoo.id) and focused(page)["session"] == str(week3.id)


def _open_synthetic_grid(page, live_url, students: int, sessions: int, seed: int, width: int, height: int) -> int:
    """A synthetic lecture (no exams or homework), fresh, its grid open for an admin."""
    lecture_id = build_lecture(students, sessions, 0, 0, seed=seed)
    recompute_lecture(lecture_id)
    db.session.commit()
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, live_url, "admin")
    page.goto(live_url + f"/lectures/{lecture_id}/")
    return lecture_id


def test_the_grid_opens_scrolled_to_the_current_session(page, live_url, academy):
    """Forty weekly sessions, the current one 38th: at a tablet's width it starts out of view."""
    _open_synthetic_grid(page, live_url, 3, 40, seed=5, width=820, height=1000)
    current = page.locator("thead th[data-current]")
    expect(current.locator(".order")).to_have_text("38")
    page.wait_for_function("document.querySelector('.grid-scroll').scrollLeft > 0")
    box, area = current.bounding_box(), page.locator(".grid-scroll").bounding_box()
    assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"]


def _scroll_to_the_end(page, expected_rows: int) -> None:
    """Scroll the grid's box down until it holds `expected_rows` students and no more are coming."""
    rows = page.locator("table.grid tbody tr[id^='row-']")
    for _ in range(20):
        if rows.count() == expected_rows and page.locator("#grid-more").count() == 0:
            return
        # The box's foot may sit below the window's (a page with more above the grid): both scroll.
        page.locator(".grid-scroll").evaluate("box => { box.scrollTop = box.scrollHeight; }")
        page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_timeout(150)
    expect(rows).to_have_count(expected_rows)
    expect(page.locator("#grid-more")).to_have_count(0)


def _names(page) -> list[str]:
    return page.locator("table.grid tbody .student-name").all_inner_texts()


def test_rows_stream_in_as_the_teacher_scrolls_and_every_view_covers_every_student(page, live_url, academy):
    """100 students: a first page of 30, then the rest as the box scrolls; the search, the risk
    filter and the sort are answered over all of them, in the order the server gives."""
    lecture_id = build_lecture(100, 6, 1, 1, seed=11)
    recompute_lecture(lecture_id)
    db.session.commit()
    everyone = grid.load_grid(lecture_id)
    by_completion = grid.load_grid(lecture_id, grid.GridQuery(sort="completion"))
    danger = [row.name for row in everyone.rows if row.risk_level == "DANGER"]
    assert 0 < len(danger) < 100
    db.session.rollback()

    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_url, "admin")
    page.goto(live_url + f"/lectures/{lecture_id}/")
    expect(page.locator(".grid-meta")).to_contain_text("100 of 100 students")
    expect(page.locator("table.grid tbody tr[id^='row-']")).to_have_count(grid.FIRST_PAGE)
    _scroll_to_the_end(page, 100)
    assert _names(page) == [row.name for row in everyone.rows]
    expect(page.locator("td[data-status]")).to_have_count(100 * 6)  # every streamed cell has its hooks
    expect(page.locator("tr[id^='row-']").last).to_have_attribute("aria-rowindex", "101")

    page.get_by_label("Search students").press_sequentially("Student 0099", delay=20)
    expect(page.locator("table.grid tbody tr[id^='row-']")).to_have_count(1)
    expect(page.locator(".student-name")).to_have_text("Student 0099")

    page.get_by_label("Search students").fill("")
    page.get_by_label("Search students").press("Enter")
    expect(page.locator(".grid-meta")).to_contain_text("100 of 100 students")
    page.get_by_label("Risk").select_option("DANGER")
    expect(page.locator(".grid-meta")).to_contain_text(f"{len(danger)} of 100 students")
    _scroll_to_the_end(page, len(danger))
    assert _names(page) == danger

    page.get_by_label("Risk").select_option("")
    expect(page.locator(".grid-meta")).to_contain_text("100 of 100 students")
    page.get_by_label("Sort by").select_option("completion")
    expect(page.locator(".student-name").nth(1)).to_have_text(by_completion.rows[1].name)
    _scroll_to_the_end(page, 100)
    assert _names(page) == [row.name for row in by_completion.rows]


def test_a_row_renamed_while_the_teacher_scrolls_is_shown_once_in_its_new_place(page, live_url, academy):
    """While the first 30 rows are on screen, Student 0005 is renamed so that it sorts after 0050:
    the next page follows the last row shown (0031 comes, nothing is skipped) and brings the
    renamed row again; the browser keeps that fresh copy and drops the earlier one."""
    lecture_id = _open_synthetic_grid(page, live_url, 75, 3, seed=12, width=1280, height=800)
    expect(page.locator("table.grid tbody tr[id^='row-']")).to_have_count(grid.FIRST_PAGE)
    renamed = next(row for row in grid.load_grid(lecture_id).rows if row.name == "Student 0005")
    db.session.get(Student, renamed.student_id).name = "Student 0050b"
    db.session.commit()
    _scroll_to_the_end(page, 75)
    names = [f"Student {n:04d}" for n in range(1, 76) if n != 5]
    assert _names(page) == names[:49] + ["Student 0050b"] + names[49:]
    expect(page.locator(f"#row-{renamed.enrollment_id}")).to_have_count(1)


def _wait_for_htmx(page) -> None:
    """Until no htmx request, swap or settle is under way (a late swap would replace a filled input)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def test_the_footer_follows_an_edit_in_place(page, live_url, academy):
    """Week 3, active students: Minji completed, Jisoo and Park not -> 1/3 = 33 %; Park's video at
    95 completes his -> 2/3 = 67 %. Week 2's quiz: Minji 72.5 and Jisoo 40 -> mean 56.25; Park sits
    it with 80 -> (72.5 + 40 + 80) / 3 = 64.1666… -> 64.17. Choi (withdrawn) counts nowhere."""
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_url, "teacher_a")
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    week2, week3 = academy.weeks[1], academy.weeks[2]
    done3 = page.locator(f'td[data-foot-completed="{week3.id}"]')
    mean2 = page.locator(f'td[data-foot-mean="{week2.id}"]')
    expect(done3).to_have_text("33%")
    expect(mean2).to_have_text("56.25")
    expect(page.locator(f'td[data-foot-mean="{week3.id}"]')).to_have_text("–")  # no exam that week
    page.evaluate("window.__still_the_same_page = true")

    cell_link(page, academy.park.id, week3.id).click()
    video = page.get_by_label(re.compile("Video"))
    video.fill("95")
    video.press("Enter")
    expect(page.locator("#cell-panel .saved")).to_be_visible()
    expect(done3).to_have_text("67%")

    cell_link(page, academy.park.id, week2.id).click()
    expect(page.locator("#cell-panel")).to_have_attribute("data-session", str(week2.id))
    _wait_for_htmx(page)
    score = page.get_by_label("New attempt score")
    score.fill("80")
    expect(score).to_have_value("80")
    score.press("Enter")
    expect(page.locator("#cell-panel .saved")).to_be_visible()
    expect(mean2).to_have_text("64.17")
    assert page.evaluate("window.__still_the_same_page") is True

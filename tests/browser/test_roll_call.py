"""The roll-call / column-entry page in real Chromium (SPEC §12): a 10-student roll call by keyboard
only, a pasted column of scores, a refused save that saves nothing, and an assistant who enters
data for their lecture only.

Academy: tests/factories.build_academy (today 2026-04-01) plus seven students in Algebra II, so
its roll call has 10 rows, by name: Kim Minji, Lee Jisoo, Park_100%, Student 01..07. Week 1 has
no exam in range and no homework: attending in person (present, late) completes it; the Quiz
(pass 60) is on Week 2.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Activity, Attempt

from .conftest import PASSWORD, shot, sign_in


@pytest.fixture
def ten(academy):
    """The academy with ten active Algebra students (in the page's order) and an assistant."""
    from dashboard.accounts import users as accounts
    from dashboard.progress.recompute import recompute_lecture
    from tests.factories import enroll, make_user

    extra = [enroll(f"Student {n:02d}", academy.algebra) for n in range(1, 8)]
    assistant = make_user("assistant", "staff", (academy.algebra,))
    accounts.reset_password(assistant, PASSWORD)
    recompute_lecture(academy.algebra.id)
    db.session.commit()
    return [academy.minji, academy.jisoo, academy.park, *extra]


def entry_url(live_url, academy, session) -> str:
    return f"{live_url}/lectures/{academy.algebra.id}/sessions/{session.id}/entry"


def stored_presence(enrollments, session) -> list[str | None]:
    db.session.expire_all()
    found = dict(db.session.execute(select(Activity.enrollment_id, Activity.presence)
                                    .where(Activity.session_id == session.id)).all())
    return [found.get(e.id) for e in enrollments]


def test_the_roll_call_of_ten_students_by_keyboard_only(page, live_url, academy, ten):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_url, "teacher_a")
    week1 = academy.weeks[0]
    page.goto(live_url + f"/lectures/{academy.algebra.id}/")
    page.locator(f'th[data-session="{week1.id}"] a.entry-link').click()
    form = page.locator(f'form[data-entry-session="{week1.id}"]')
    expect(form.locator("tr[data-enrollment]")).to_have_count(10)
    # Start on the first roll-call cell, then only keys: one letter per student, each moves down.
    form.locator(f'#presence-{ten[0].id}-none').focus()
    for key in "plaeppppla":
        page.keyboard.press(key)
    # Now on nobody (the last row keeps focus); go back up to Lee Jisoo and correct her to excused.
    for _ in range(8):
        page.keyboard.press("ArrowUp")
    page.keyboard.press("e")
    # Right to the video cell of Park, type 95, Enter moves down (it does not submit).
    page.keyboard.press("ArrowRight")
    page.keyboard.type("95")
    page.keyboard.press("Enter")
    expect(page.locator(f'input[name="video-{ten[3].id}"]')).to_be_focused()
    shot(page, "roll-call-typed")
    page.keyboard.press("Control+Enter")
    result = page.locator("#entry-result")
    expect(result).to_be_visible()
    expect(result).to_contain_text("Rows saved: 10.")
    expect(result).to_contain_text("now completed")
    words = ["present", "excused", "absent", "excused", "present", "present", "present", "present", "late",
             "absent"]
    assert stored_presence(ten, week1) == words
    # Present and late are offline: Park (absent, video 95) and the present/late ones completed.
    statuses = page.locator("tr[data-enrollment]").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses == ["completed", "incomplete", "completed", "incomplete", "completed", "completed", "completed",
                        "completed", "completed", "incomplete"]
    shot(page, "roll-call-saved")


def test_a_pasted_column_of_scores_fills_down(page, live_url, academy, ten):
    sign_in(page, live_url, "teacher_a")
    week2, quiz = academy.weeks[1], academy.quiz
    page.goto(entry_url(live_url, academy, week2))
    first = page.locator(f'input[name="score-{quiz.id}-{ten[0].id}"]')
    first.focus()
    column = "\n".join(str(s) for s in (81, 82.5, 83, 84, 85, 86, 87, 88, 89, 90)) + "\n"
    # What Chromium hands a page when a column copied from a spreadsheet is pasted.
    first.evaluate("""(input, text) => {
        const data = new DataTransfer();
        data.setData('text/plain', text);
        input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
    }""", column)
    expect(page.locator(f'input[name="score-{quiz.id}-{ten[9].id}"]')).to_have_value("90")
    expect(page.locator(f'input[name="score-{quiz.id}-{ten[1].id}"]')).to_have_value("82.5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#entry-result")).to_contain_text("Rows saved: 10.")
    db.session.expire_all()
    latest = dict(db.session.execute(select(Attempt.enrollment_id, Attempt.score)
                                     .where(Attempt.exam_id == quiz.id)).all())
    assert [latest[e.id] for e in ten] == [Decimal(s) for s in ("81", "82.5", "83", "84", "85", "86", "87", "88",
                                                                "89", "90")]
    # Minji typed over her 72.5 (attempt 1 replaced), the others' first attempts created.
    assert db.session.execute(select(Attempt.attempt_no).where(Attempt.enrollment_id == academy.minji.id)
                              ).scalars().all() == [1]


def test_one_bad_cell_refuses_the_save_and_nothing_is_saved(page, live_url, academy, ten):
    sign_in(page, live_url, "teacher_a")
    week1 = academy.weeks[0]
    page.goto(entry_url(live_url, academy, week1))
    page.get_by_role("button", name="All present").click()
    bad = page.locator(f'input[name="video-{ten[4].id}"]')
    bad.fill("150")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#entry-problems")).to_contain_text("Nothing was saved")
    bad = page.locator(f'input[name="video-{ten[4].id}"]')
    expect(bad).to_have_attribute("aria-invalid", "true")
    expect(bad).to_have_value("150")
    expect(bad).to_be_focused()
    expect(page.locator(f"#err-video-{ten[4].id}")).to_have_text("Must be between 0 and 100.")
    # The roll call typed is still on the page, and nothing reached the database.
    expect(page.locator(f"#presence-{ten[9].id}-present")).to_be_checked()
    assert stored_presence(ten, week1) == [None] * 10
    shot(page, "roll-call-refused")


def test_an_assistant_enters_data_for_their_lecture_only(page, live_url, academy, ten):
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet held upright
    sign_in(page, live_url, "assistant")
    week1 = academy.weeks[0]
    page.goto(entry_url(live_url, academy, week1))
    page.locator(f'label[for="presence-{ten[2].id}-present"]').click()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#entry-result")).to_contain_text("Park_100%")
    assert stored_presence(ten, week1)[2] == "present"
    shot(page, "roll-call-tablet")
    # Geometry is not theirs: the page is read-only, and a save is refused.
    geometry = f"{live_url}/lectures/{academy.geometry.id}/sessions/{academy.geometry_week.id}/entry"
    page.goto(geometry)
    expect(page.locator('input[name^="presence-"]')).to_have_count(0)
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    refused = page.request.post(geometry, form={"csrf_token": token, f"presence-{academy.minho.id}": "present"})
    assert refused.status == 403
    # A session of Geometry under Algebra's address is not found.
    missing = page.request.get(f"{live_url}/lectures/{academy.algebra.id}/sessions/{academy.geometry_week.id}/entry")
    assert missing.status == 404


def test_fill_down_copies_the_focused_cell_to_the_rows_below(page, live_url, academy, ten):
    sign_in(page, live_url, "teacher_a")
    page.goto(entry_url(live_url, academy, academy.weeks[0]))
    third = page.locator(f'input[name="video-{ten[2].id}"]')
    third.fill("100")
    third.focus()
    page.get_by_role("button", name="Fill down").click()
    values = page.locator('td[data-col="video"] input').evaluate_all("inputs => inputs.map(i => i.value)")
    assert values == ["95", "0", "100", "100", "100", "100", "100", "100", "100", "100"]
    # Unsaved changes: leaving asks first (Chromium shows its own "Leave site?" dialog).
    page.on("dialog", lambda dialog: dialog.dismiss())
    with page.expect_event("dialog") as shown:
        page.evaluate("setTimeout(() => location.reload())")
    assert shown.value.type == "beforeunload"

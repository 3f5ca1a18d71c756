"""Benchmark: the effort of entering a 30-student weekly test — each student's roll call, one exam
score and one homework (submitted and its score) — in real Chromium, two ways:

- the roll call page (column entry): one key per roll call (the cursor moves down by itself), a
  score and Enter per student, "Fill down" for the submitted ticks, Ctrl+Enter to save once;
  also with the two score columns pasted from a spreadsheet instead of typed;
- the cell panel, as it was the only way: open the student's cell from the grid, pick the roll
  call and save, type the score and add the attempt, tick submitted, type the homework score and
  save — for every student.

Every key press, typed character and click is counted by the script itself (a chord such as
Ctrl+Enter counts as one key, a choice in a drop-down as two clicks: open and pick). The wall time
of each flow is measured from the page being open to the last save answered; the machine is shared,
so run it a few times and keep the best (`--repeats`). Both flows must leave the same data in the
database, which the script checks. Figures go in docs/performance.md, "Entering a weekly test".

    python bench/entry_effort.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from dashboard import create_app  # noqa: E402
from dashboard.accounts import users as accounts  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from dashboard.models import Activity, Attempt, HomeworkSubmission  # noqa: E402
from dashboard.importer import import_snapshot  # noqa: E402

from bench.common import sign_in_browser  # noqa: E402

STUDENTS = 30
FLOWS = ("column, typed", "column, pasted", "panel")
PASSWORD = "bench-effort-pass"
PRESENCE_KEYS = {"present": "p", "late": "l", "absent": "a", "excused": "e"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Effort:
    keys: int = 0
    clicks: int = 0
    seconds: float = 0.0


class Counted:
    """The page, with every key and click it is asked for counted."""

    def __init__(self, page):
        self.page = page
        self.effort = Effort()

    def press(self, key: str) -> None:
        self.effort.keys += 1
        self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.effort.keys += len(text)
        self.page.keyboard.type(text)

    def click(self, locator) -> None:
        self.effort.clicks += 1
        locator.click()

    def save(self, locator, path: str) -> None:
        """Click a save button and wait until the server's answer is swapped in."""
        self.effort.clicks += 1
        with self.page.expect_response(lambda response: path in response.url and response.request.method == "POST"):
            locator.click()
        self.page.wait_for_load_state()

    def choose(self, locator, value: str) -> None:
        self.effort.clicks += 2  # open the drop-down, pick the word
        locator.select_option(value)


def the_test(index: int) -> tuple[str, int, int]:
    """Student `index`'s roll call, score and homework score (two digits each)."""
    presence = ("present", "present", "present", "late", "absent", "present")[index % 6]
    return presence, 55 + index, 60 + index


def build() -> dict:
    """The weekly test's lecture — two sessions, the second with an exam and a homework, STUDENTS
    enrolled — written through the snapshot importer, and its teacher."""
    students = range(1, STUDENTS + 1)
    import_snapshot({
        "lectures": [{"id": 1, "title": "Weekly test"}],
        "sessions": [{"id": 1, "lecture_id": 1, "order": 1, "title": "Week 1", "date": "2026-03-23"},
                     {"id": 2, "lecture_id": 1, "order": 2, "title": "Week 2", "date": "2026-03-30"}],
        "exams": [{"id": 1, "title": "Weekly test 2", "session_ids": [2], "pass_score": 60, "max_score": 100}],
        "homeworks": [{"id": 1, "session_id": 2, "title": "Worksheet", "max_score": 100}],
        "students": [{"id": n, "name": f"Student {n:02d}"} for n in students],
        "enrollments": [{"id": n, "student_id": n, "lecture_id": 1} for n in students],
    }, audit_import=False)
    accounts.create_user("teacher", PASSWORD, "teacher", [1], check_policy=False)
    db.session.commit()
    return {"lecture": 1, "session": 2, "exam": 1, "homework": 1, "enrollments": list(students)}


def column_flow(page, base: str, ids: dict, paste: bool) -> Effort:
    counted = Counted(page)
    page.goto(f"{base}/lectures/{ids['lecture']}/sessions/{ids['session']}/entry")
    start = time.perf_counter()
    people = ids["enrollments"]
    counted.click(page.locator(f'label[for="presence-{people[0]}-none"]'))
    for index, _e in enumerate(people):
        counted.press(PRESENCE_KEYS[the_test(index)[0]])
    scores = "\n".join(str(the_test(i)[1]) for i in range(len(people))) + "\n"
    hw_scores = "\n".join(str(the_test(i)[2]) for i in range(len(people))) + "\n"
    for name, column in ((f"score-{ids['exam']}", scores), (f"hw-score-{ids['homework']}", hw_scores)):
        counted.click(page.locator(f'input[name="{name}-{people[0]}"]'))
        if paste:
            counted.effort.keys += 1  # Ctrl+V of a column copied from the spreadsheet
            page.locator(f'input[name="{name}-{people[0]}"]').evaluate("""(input, text) => {
                const data = new DataTransfer();
                data.setData('text/plain', text);
                input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
            }""", column)
        else:
            for value in column.split("\n")[:-1]:
                counted.type(value)
                counted.press("Enter")
    counted.click(page.locator(f'input[name="hw-submitted-{ids["homework"]}-{people[0]}"]'))
    counted.click(page.get_by_role("button", name="Fill down"))
    counted.press("Control+Enter")
    expect(page.locator("#entry-result")).to_contain_text(f"Rows saved: {len(people)}.")
    counted.effort.seconds = time.perf_counter() - start
    return counted.effort


def panel_flow(page, base: str, ids: dict) -> Effort:
    counted = Counted(page)
    page.goto(f"{base}/lectures/{ids['lecture']}/")
    start = time.perf_counter()
    for index, enrollment_id in enumerate(ids["enrollments"]):
        presence, score, hw_score = the_test(index)
        counted.click(page.locator(f'td[data-enrollment="{enrollment_id}"][data-session="{ids["session"]}"] a'))
        panel = page.locator(f'#cell-panel[data-enrollment="{enrollment_id}"]')
        expect(panel).to_be_visible()  # this student's panel, not the previous one still on screen
        counted.choose(panel.locator("#activity-presence"), presence)
        counted.save(panel.locator("form:has(#activity-presence) button[type=submit]"), "/cell/activity")
        counted.click(panel.locator(f"#exam{ids['exam']}-score"))
        counted.type(str(score))
        counted.save(panel.get_by_role("button", name="Add attempt"), "/attempts")
        expect(panel.locator("tr[data-attempt]")).to_have_count(1)
        counted.click(panel.locator(f"#hw{ids['homework']}-submitted"))
        counted.click(panel.locator(f"#hw{ids['homework']}-score"))
        counted.type(str(hw_score))
        counted.save(panel.locator(f"form:has(#hw{ids['homework']}-score) button[type=submit]"), "/cell/homework/")
        expect(panel.locator(f"#hw{ids['homework']}-submitted")).to_be_checked()
    counted.effort.seconds = time.perf_counter() - start
    return counted.effort


def stored(ids: dict) -> list[tuple]:
    db.session.expire_all()
    presence = dict(db.session.execute(select(Activity.enrollment_id, Activity.presence)
                                       .where(Activity.session_id == ids["session"])).all())
    scores = dict(db.session.execute(select(Attempt.enrollment_id, Attempt.score)
                                     .where(Attempt.exam_id == ids["exam"])).all())
    homework = {row.enrollment_id: (row.submitted, row.score) for row in db.session.execute(
        select(HomeworkSubmission.enrollment_id, HomeworkSubmission.submitted, HomeworkSubmission.score)
        .where(HomeworkSubmission.homework_id == ids["homework"]))}
    return [(presence.get(e), scores.get(e), homework.get(e)) for e in ids["enrollments"]]


def expected(ids: dict) -> list[tuple]:
    return [(p, Decimal(s), (True, Decimal(h))) for p, s, h in (the_test(i) for i in range(len(ids["enrollments"])))]


def one_run(browser, app, base: str, flow: str) -> Effort:
    with app.app_context():
        db.drop_all()
        db.create_all()
        ids = build()
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in_browser(page, base, "teacher", PASSWORD)
    if flow == "panel":
        effort = panel_flow(page, base, ids)
    else:
        effort = column_flow(page, base, ids, paste=flow == "column, pasted")
    page.close()
    with app.app_context():
        got, wanted = stored(ids), expected(ids)
        wrong = [(i, g, w) for i, (g, w) in enumerate(zip(got, wanted)) if g != w]
        assert not wrong, f"{flow}: the data entered is not what was meant: {wrong[:3]}"
    return effort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flow", choices=FLOWS, action="append", help="only these flows (default: all)")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the request log and werkzeug's: one line per request otherwise
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/effort.sqlite3",
                          "DASHBOARD_TODAY": "2026-04-01", "SECRET_KEY": "bench-effort",
                          "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                print(f"{STUDENTS} students: roll call, one exam score, one homework (submitted + score)")
                for flow in args.flow or FLOWS:
                    runs = [one_run(browser, app, base, flow) for _ in range(args.repeats)]
                    best = min(runs, key=lambda effort: effort.seconds)
                    print(f"{flow:15} keys {best.keys:4}  clicks {best.clicks:4}  actions {best.keys + best.clicks:4}"
                          f"  best {best.seconds:6.1f} s  (runs: {', '.join(f'{r.seconds:.1f}' for r in runs)})")
                browser.close()
        finally:
            server.shutdown()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


if __name__ == "__main__":
    main()

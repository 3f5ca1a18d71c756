"""Screenshots of the clinic to-do list and the clinic calendar on a laptop and on a phone, in
Korean, against the demo academy; and the demo's queue length before and after grouping.

    python bench/clinic_screenshots.py            # writes docs/screenshots/clinic-*-ko.png

The demo academy (`flask --app wsgi demo`) is built in a temporary SQLite file with the tests'
date (2026-04-01); a week of clinic sessions is scheduled and a few students booked, as clinic
staff would, so the calendar has something to show. The app is served from a thread and Debian's
Chromium (/usr/bin/chromium, with fonts-noto-cjk for Korean) is driven by Playwright. It prints
how many rows a staff member reads: one per open link before grouping, one per student after.
"""
from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from dashboard import create_app  # noqa: E402
from dashboard.clinic import sessions  # noqa: E402
from dashboard.demo import DEMO_PASSWORD, create_demo  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from dashboard.models import ClinicLink, Enrollment, User  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
TODAY = "2026-04-01"
SCREENS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def queue_lengths() -> tuple[int, int]:
    """(open links, students with open links) among active enrollments: the rows before and after grouping."""
    condition = (ClinicLink.resolved_at.is_(None), Enrollment.withdrawn_at.is_(None))
    links = db.session.execute(select(func.count()).select_from(ClinicLink).join(Enrollment).where(*condition)).scalar_one()
    students = db.session.execute(select(func.count(func.distinct(ClinicLink.enrollment_id))).select_from(ClinicLink)
                                  .join(Enrollment).where(*condition)).scalar_one()
    return links, students


def schedule_and_book() -> None:
    """Three clinic sessions this week; the most urgent students' first links booked into them."""
    staff = db.session.execute(select(User).where(User.username == "staff")).scalar_one()
    made = [sessions.create_clinic_session(staff, {"starts_at": f"2026-04-0{day}T{hour}:00",
                                                   "ends_at": f"2026-04-0{day}T{hour + 1}:00",
                                                   "capacity": 4, "room": room})
            for day, hour, room in ((1, 16, "302호"), (2, 15, "보충실 A"), (3, 17, "302호"))]
    firsts = db.session.execute(
        select(ClinicLink.enrollment_id, func.min(ClinicLink.id)).join(Enrollment)
        .where(ClinicLink.resolved_at.is_(None), Enrollment.withdrawn_at.is_(None))
        .group_by(ClinicLink.enrollment_id).order_by(ClinicLink.enrollment_id).limit(7)).all()
    for index, (enrollment_id, link_id) in enumerate(firsts):
        sessions.book(staff, made[index % 2].id, {"enrollment_id": enrollment_id, "link_ids": [link_id]})


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/demo.sqlite3", "DASHBOARD_TODAY": TODAY,
                          "SECRET_KEY": "screenshots", "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
        with app.app_context():
            db.create_all()
            create_demo()
            db.session.commit()
            before, after = queue_lengths()
            print(f"demo academy: {before} open clinic links (rows before grouping) for {after} students "
                  f"(rows after grouping)")
            schedule_and_book()
            db.session.commit()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}"
        OUT.mkdir(parents=True, exist_ok=True)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                for screen, viewport in SCREENS.items():
                    context = browser.new_context(viewport=viewport, locale="ko-KR")
                    page = context.new_page()
                    page.goto(url + "/")
                    page.get_by_label("아이디").fill("staff")
                    page.get_by_label("비밀번호").fill(DEMO_PASSWORD)
                    page.get_by_role("button", name="로그인").click()
                    page.wait_for_url(url + "/")
                    page.goto(url + "/clinic/students/")
                    page.locator("[data-clinic-student] summary").first.click()
                    page.locator("[data-clinic-student] tr[data-link-id]").first.wait_for()
                    page.screenshot(path=str(OUT / f"clinic-todo-{screen}-ko.png"))
                    page.goto(url + f"/clinic/sessions/?week={TODAY}")
                    page.locator("[data-clinic-session]").first.wait_for()
                    page.screenshot(path=str(OUT / f"clinic-calendar-{screen}-ko.png"), full_page=screen == "phone")
                    context.close()
                browser.close()
        finally:
            server.shutdown()
            thread.join(timeout=5)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()

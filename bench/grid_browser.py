"""Benchmark: the lecture grid as a teacher's browser gets it — real Chromium, real server.

    python bench/grid_browser.py                       # SQLite (temporary file) and PostgreSQL
    python bench/grid_browser.py --only postgresql --repeats 7

For grids of 10 x 10, 40 x 40 and 300 x 40 (`dashboard.synthetic.build_lecture`, lecture already
fresh) it serves the app from a thread (werkzeug, as the browser tests do), signs an admin in with
Debian's Chromium through Playwright and loads the grid page `repeats` times, reading the browser's
own navigation timing:

- server: request sent to first byte of the answer (the app's whole work, on loopback);
- HTML: the page's bytes once decoded; wire: the bytes that crossed (gzip, headers included);
- DOMContentLoaded: from the start of the navigation, as `performance` reports it.

Figures go in docs/performance.md, "The grid in the browser". The machine is shared: take the best
of several runs, and say so.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import make_server  # noqa: E402

from bench.common import analyze_on_postgresql, on_each_database, sign_in_browser  # noqa: E402
from dashboard import create_app  # noqa: E402
from dashboard.accounts import users as accounts  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from dashboard.models import User  # noqa: E402
from dashboard.progress.recompute import recompute_lecture  # noqa: E402
from dashboard.synthetic import TODAY, build_lecture  # noqa: E402

SIZES = ((10, 10), (40, 40), (300, 40))
PASSWORD = "bench-browser-pass"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return {server: n.responseStart - n.requestStart, html: n.decodedBodySize, wire: n.transferSize,
          dcl: n.domContentLoadedEventEnd - n.startTime, dclStart: n.domContentLoadedEventStart - n.startTime,
          interactive: n.domInteractive - n.startTime, responseEnd: n.responseEnd - n.startTime, rows: document.querySelectorAll("tr[id^=row-]").length};
}"""


def run(url: str, label: str, repeats: int, verbose: bool = False, sizes=SIZES) -> None:
    from playwright.sync_api import sync_playwright

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DASHBOARD_TODAY": TODAY.isoformat(), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "scrypt:1024:8:1", "REQUEST_LOG": False})
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with app.app_context():
        db.create_all()
        try:
            admin = User(username="bench-admin", password_hash="!", role="admin", is_active=True)
            db.session.add(admin)
            accounts.reset_password(admin, PASSWORD)
            lectures = {}
            for students, sessions in sizes:
                lecture_id = build_lecture(students, sessions, 2, 1, seed=students + sessions)
                recompute_lecture(lecture_id)
                lectures[(students, sessions)] = lecture_id
            analyze_on_postgresql()
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            base = f"http://127.0.0.1:{server.server_port}"
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                    page = browser.new_page(viewport={"width": 1366, "height": 900})
                    sign_in_browser(page, base, "bench-admin", PASSWORD)
                    for (students, sessions), lecture_id in lectures.items():
                        page.goto(f"{base}/lectures/{lecture_id}/")  # warm up: templates, caches
                        figures = []
                        for _ in range(repeats):
                            # From another page each time, as a teacher arrives from the lecture list
                            # (the same URL again would be a reload, which revalidates the static files).
                            page.goto("about:blank")
                            page.goto(f"{base}/lectures/{lecture_id}/", wait_until="load")
                            figures.append(page.evaluate(TIMING))
                        best = min(figures, key=lambda f: f["dcl"])
                        print(f"[{label}] {students} x {sessions}: server best {min(f['server'] for f in figures):.0f} ms"
                              f" median {statistics.median(f['server'] for f in figures):.0f} ms;"
                              f" HTML {best['html'] / 1024:.0f} KiB, wire {best['wire'] / 1024:.0f} KiB;"
                              f" DOMContentLoaded best {best['dcl']:.0f} ms"
                              f" median {statistics.median(f['dcl'] for f in figures):.0f} ms;"
                              f" {best['rows']} rows at load", flush=True)
                        if verbose:
                            print("   ", best, flush=True)
                    browser.close()
            finally:
                server.shutdown()
                thread.join(timeout=5)
        finally:
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--verbose", action="store_true", help="every timing of the best load")
    parser.add_argument("--sizes", default="10x10,40x40,300x40", help="students x sessions, comma-separated")
    args = parser.parse_args()
    sizes = tuple(tuple(int(n) for n in size.split("x")) for size in args.sizes.split(","))
    on_each_database(args.only, run, args.repeats, args.verbose, sizes)


if __name__ == "__main__":
    main()

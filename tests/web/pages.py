"""Helpers for the browser-page tests: sign a user in, read the CSRF token, find grid cells."""
from __future__ import annotations

import re

from dashboard.extensions import db

CSRF_HEADER = re.compile(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'')
CELL = re.compile(r'<td data-enrollment="(\d+)" data-session="(\d+)" data-status="(\w+)"')
HTMX = {"HX-Request": "true"}


def sign_in(client, user) -> str:
    """Sign the user in through Flask-Login's session key and a server-side session, as the
    login form does (the form has its own tests). Answers the session's key."""
    from dashboard.accounts import sessions

    key = sessions.start(user)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session["sid"] = key
    return key


def csrf_token(client, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    match = CSRF_HEADER.search(page.get_data(as_text=True))
    assert match, "the page carries no CSRF token in <body hx-headers>"
    return match.group(1)


def cell_statuses(html: str) -> dict[tuple[int, int], str]:
    """(enrollment id, session id) -> data-status, for every grid cell in the HTML."""
    return {(int(e), int(s)): status for e, s, status in CELL.findall(html)}


def row_html(html: str, enrollment_id: int) -> str:
    """The grid row of one enrollment."""
    match = re.search(rf'<tr id="row-{enrollment_id}"[^>]*>.*?</tr>', html, re.S)
    assert match, f"no grid row for enrollment {enrollment_id}"
    return match.group(0)


def nav_count(html: str) -> int:
    match = re.search(r'<span id="nav-clinic-count"[^>]*>.*?(\d+)</span>', html, re.S)
    assert match, "no clinic count in the answer"
    return int(match.group(1))

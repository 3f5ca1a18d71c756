"""Answer a request once (SPEC §8 `Idempotency-Key`), also used for an upload's one-time Apply.

`answer_once(user_id, key, method, path, run)` runs `run()` the first time a user sends a key
and stores its answer (status, body, content type) in the idempotency_key table, in the same
transaction as the change it made; the same key again answers the stored answer and runs
nothing. A refused request (status >= 400) rolls back, its claim with it: it changed nothing,
so sending the same key again simply tries again.

Two concurrent requests with the same key: the unique (user, key) constraint makes the second
one's claim wait for the first one's transaction. When the first commits, the second reads the
stored answer and answers it (PostgreSQL: the claim's INSERT blocks on the first's uncommitted
row, then fails the constraint inside a savepoint). A claim found without an answer (only
possible when a database does not make the second wait) answers 409 `idempotency_in_progress`.
Keys older than KEEP are forgotten when the same user sends a new one.

A stored answer may hold a secret shown once (a new API token, a parent link), so its body is kept
sealed: XORed with a SHAKE-256 stream drawn from the app's SECRET_KEY, the user and the key. Each
(user, key) stores one body, so no stream is used twice; without the app's key the stored row
tells nothing, and a replay still answers the first answer in full.

The pages use the same table for forms that must not be posted twice (a retake, a bulk action,
anything that creates): the form carries a hidden one-time key (`one_time_field()`) and its view
is decorated with `one_time`.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from flask import Response, abort, current_app, flash, redirect, request
from flask_login import current_user
from markupsafe import Markup

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from dashboard.clock import now
from dashboard.errors import Conflict, Invalid, Refused, describe
from dashboard.extensions import db
from dashboard.models import IdempotencyKey

KEY_MAX_LENGTH = 255
KEEP = timedelta(hours=24)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str | None


_SEALED = "sealed1:"


def _stream(user_id: int, key: str, length: int) -> bytes:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    seed = b"idempotency\x00" + secret + b"\x00" + str(user_id).encode() + b"\x00" + key.encode()
    return hashlib.shake_256(seed).digest(length)


def seal(user_id: int, key: str, body: str) -> str:
    """The body as stored: sealed with the app's key (see the module's docstring)."""
    data = body.encode()
    mixed = bytes(a ^ b for a, b in zip(data, _stream(user_id, key, len(data))))
    return _SEALED + base64.b64encode(mixed).decode()


def unseal(user_id: int, key: str, stored: str) -> str:
    """A stored body as it was answered (a body stored before sealing is returned as it is)."""
    if not stored.startswith(_SEALED):
        return stored
    mixed = base64.b64decode(stored[len(_SEALED):])
    return bytes(a ^ b for a, b in zip(mixed, _stream(user_id, key, len(mixed)))).decode()


def check_key(key: str, field: str = "Idempotency-Key") -> str:
    """A key is 1..255 visible ASCII characters."""
    if not key or len(key) > KEY_MAX_LENGTH or not all(33 <= ord(ch) <= 126 for ch in key):
        raise Invalid("idempotency_key_invalid", field)
    return key


def stored_answer(user_id: int, key: str, method: str, path: str) -> Answer | None:
    """The answer stored for this key, or None when the key is new."""
    row = db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).scalar_one_or_none()
    if row is None:
        return None
    if (row.method, row.path) != (method, path):
        raise Conflict("idempotency_key_reused", "Idempotency-Key")
    if row.status is None:
        raise Conflict("idempotency_in_progress", "Idempotency-Key")
    return Answer(row.status, unseal(user_id, key, row.body or ""), row.content_type)


def answer_once(user_id: int, key: str, method: str, path: str, run: Callable[[], Answer]) -> tuple[Answer, bool]:
    """The answer to this request: `run()`'s the first time, the stored one after.

    Answers (answer, replayed). Only flushes; the caller's transaction commits the change and
    its stored answer together, or rolls both back.
    """
    check_key(key)
    earlier = stored_answer(user_id, key, method, path)
    if earlier is not None:
        return earlier, True
    moment = now()
    claim = IdempotencyKey(user_id=user_id, key=key, method=method, path=path[:500], created_at=moment)
    # Outside the savepoint: on SQLite this first write is what opens the transaction (the driver
    # begins one only before a write), so the savepoint below nests in it; a savepoint opened first
    # would be the transaction itself, and releasing it would commit the claim at once.
    db.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.created_at < moment - KEEP))
    try:
        with db.session.begin_nested():
            db.session.add(claim)
    except IntegrityError:
        # Another request with this key committed while this one waited on its claim.
        earlier = stored_answer(user_id, key, method, path)
        if earlier is None:
            raise Conflict("idempotency_in_progress", "Idempotency-Key") from None
        return earlier, True
    answer = run()
    if answer.status < 400:
        claim.status = answer.status
        claim.body = seal(user_id, key, answer.body)
        claim.content_type = answer.content_type
        db.session.flush()
    return answer, False


# ---------------------------------------------------------------- the pages' one-time forms

FORM_FIELD = "once"
_REDIRECT = "redirect"
_HX_REDIRECT = "hx-redirect"


def one_time_field() -> Markup:
    """A hidden input carrying a new one-time key, for a form whose POST must not happen twice
    (templates call it as `{{ one_time_field() }}`)."""
    return Markup('<input type="hidden" name="%s" value="%s">') % (FORM_FIELD, secrets.token_urlsafe(16))


def one_time(view: Callable) -> Callable:
    """A page POST done once per form: the first post with the form's one-time key runs the view
    and stores its answer (a redirect's target, or the page or partial it rendered) with the
    change; a second post of the same form — a double click, a re-sent form, a second tab
    restored from history — answers the first answer and changes nothing (a redirect says so in
    a message). A refused post (4xx) stores nothing, so correcting the form and posting again
    works. A post without a key (a script, an old page) runs as before."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        key = request.form.get(FORM_FIELD, "")
        if not key or not current_user.is_authenticated:
            return view(*args, **kwargs)
        first: dict[str, Response] = {}

        def run() -> Answer:
            response = current_app.make_response(view(*args, **kwargs))
            first["response"] = response
            if 300 <= response.status_code < 400:
                return Answer(response.status_code, response.headers.get("Location", ""), _REDIRECT)
            if "HX-Redirect" in response.headers:
                return Answer(response.status_code, response.headers["HX-Redirect"], _HX_REDIRECT)
            return Answer(response.status_code, response.get_data(as_text=True), response.content_type)

        try:
            answer, replayed = answer_once(current_user.id, "page:" + key, "POST", request.path, run)
        except Invalid:
            abort(400)
        except Conflict:
            abort(409)
        if not replayed:
            return first["response"]
        if answer.content_type in (_REDIRECT, _HX_REDIRECT):
            flash(describe(Refused("already_used")), "info")
            if answer.content_type == _HX_REDIRECT:
                return Response("", answer.status, headers={"HX-Redirect": answer.body})
            return redirect(answer.body, answer.status)
        return Response(answer.body, answer.status, content_type=answer.content_type)

    return wrapped

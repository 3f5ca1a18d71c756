"""Flask CLI commands (SPEC §8), registered as a blueprint's commands on the app itself."""
from __future__ import annotations

import json
import os
from decimal import Decimal

import click
from flask import Blueprint

from dashboard.accounts import passwords, users as accounts
from dashboard.errors import Refused, describe
from dashboard.extensions import db
from dashboard.models import ROLES

bp = Blueprint("cli", __name__, cli_group=None)


# ---------------------------------------------------------------- accounts

@bp.cli.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@click.option("--lecture", "lecture_ids", type=int, multiple=True, metavar="ID",
              help="Assign a teacher, or an assistant (a staff user), to this lecture (repeatable).")
def create_user_command(username: str, role: str, lecture_ids: tuple[int, ...]) -> None:
    """Add a user. The password comes from DASHBOARD_PASSWORD, or a prompt."""
    if accounts.user_by_username(username.strip()) is not None:
        raise click.ClickException(f"a user named {username.strip()!r} already exists")
    try:
        accounts.check_new_user(username, role, lecture_ids)
        password = os.environ.get("DASHBOARD_PASSWORD") or click.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
        user = accounts.create_user(username, password, role, lecture_ids, check_policy=False)
    except Refused as exc:
        db.session.rollback()
        raise click.ClickException(describe(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.username!r} (id {user.id}).")
    weak = passwords.problem(password, username)
    if weak is not None:
        # The console's operator is trusted with the database; they are told, not refused.
        click.echo(f"Warning: {describe(passwords.refusal(weak))} Change it on the My account page.", err=True)


@bp.cli.command("create-token")
@click.argument("username")
@click.option("--name", help="A label to recognise the token by, e.g. 'omr-worker'.")
@click.option("--days", type=click.IntRange(1, accounts.MAX_TOKEN_DAYS),
              help="Refuse the token from this many days on (default: valid until revoked).")
def create_token_command(username: str, name: str | None, days: int | None) -> None:
    """Issue an API token for USERNAME; the token is printed alone on the last line, this once only."""
    user = accounts.user_by_username(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    try:
        token, raw = accounts.issue_token(user, name, days)
    except Refused as exc:
        db.session.rollback()
        raise click.ClickException(describe(exc)) from None
    db.session.commit()
    click.echo(f"API token {token.id} for {user.username!r} (shown only now; keep it secret):")
    click.echo(raw)


@bp.cli.command("revoke-token")
@click.argument("target")
def revoke_token_command(target: str) -> None:
    """Revoke API tokens. TARGET is a token id (digits; see GET /api/users/ID/tokens)
    or a username, whose every live token is revoked."""
    if target.isdecimal():
        try:
            token = accounts.revoke_token(int(target))
        except Refused as exc:
            db.session.rollback()
            raise click.ClickException(describe(exc)) from None
        db.session.commit()
        click.echo(f"Revoked token {token.id}.")
        return
    user = accounts.user_by_username(target)
    if user is None:
        raise click.ClickException(f"{target!r} is neither a token id nor a username")
    revoked = accounts.revoke_tokens_of(user)
    db.session.commit()
    click.echo(f"Revoked {len(revoked)} token(s) of {user.username!r}.")


# ---------------------------------------------------------------- snapshot import and demo

# Files with more items than this get progress lines on stderr.
_PROGRESS_FROM = 1000


def _echo_progress(step: str, done: int, total: int) -> None:
    click.echo(f"import {step}: {done}/{total}", err=True)


@bp.cli.command("import-snapshot")
@click.argument("file", type=click.File("rb"))
def import_snapshot_command(file) -> None:
    """Import a snapshot (JSON, SPEC §9) from FILE, or from stdin when FILE is '-'.

    One transaction: on success the change counts are printed as JSON; a refused snapshot
    prints each problem as 'field: message' on stderr, writes nothing and exits with 1. Once
    committed, the tables the import grew substantially are analysed (PostgreSQL).
    """
    from dashboard.importer import ImportRejected, analyze_grown_tables, import_snapshot

    try:
        # Decimal keeps each number exactly as written, so 72.505 is refused rather than rounded.
        data = json.loads(file.read(), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"the snapshot is not valid JSON: {exc}") from None

    items = sum(len(v) for v in data.values() if isinstance(v, list)) if isinstance(data, dict) else 0
    progress = _echo_progress if items >= _PROGRESS_FROM else None
    try:
        result = import_snapshot(data, progress=progress)
    except ImportRejected as exc:
        db.session.rollback()
        for problem in exc.errors:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"snapshot refused: {len(exc.errors)} problem(s); nothing was imported") from None
    db.session.commit()
    click.echo(json.dumps(result.as_dict()))
    analyze_grown_tables(result)


# ---------------------------------------------------------------- recompute

@bp.cli.command("recompute")
@click.option("--lecture", "lecture_ids", type=int, multiple=True, metavar="ID",
              help="Only this lecture (repeatable); default: every lecture.")
@click.option("--full", is_flag=True,
              help="Recompute every lecture whole, even one already brought up to today.")
def recompute_command(lecture_ids: tuple[int, ...], full: bool) -> None:
    """Bring derived progress up to today (for a daily scheduler: sessions become held and due as days pass).

    A lecture last computed for an earlier day gets only the day's work (the sessions that
    became held or due since); one never computed, or computed for a later day, is recomputed
    whole; one already up to today is left as it is unless --full. Each lecture is locked,
    recomputed and committed on its own, so a long run holds no lock for longer than one
    lecture takes. Unchanged rows are not rewritten.
    """
    import time

    from sqlalchemy import select

    from dashboard.models import Lecture
    from dashboard.progress.recompute import recompute_day, recompute_lecture

    known = db.session.execute(select(Lecture.id).order_by(Lecture.id)).scalars().all()
    if lecture_ids:
        unknown = sorted(set(lecture_ids) - set(known))
        if unknown:
            raise click.ClickException(f"no lecture with id {', '.join(map(str, unknown))}")
        targets = sorted(set(lecture_ids))
    else:
        targets = known
    total_rows = 0
    for number, lecture_id in enumerate(targets, start=1):
        started = time.perf_counter()
        rows = recompute_lecture(lecture_id) if full else recompute_day(lecture_id)
        db.session.commit()
        total_rows += rows
        click.echo(f"[{number}/{len(targets)}] lecture {lecture_id}: {rows} session rows "
                   f"in {(time.perf_counter() - started) * 1000:.0f} ms", err=True)
    click.echo(f"Recomputed {len(targets)} lecture(s), {total_rows} session-progress rows.")


@bp.cli.command("demo")
def demo_command() -> None:
    """Fill an empty database with a demo academy (3 lectures, about 30 students) and demo logins."""
    from dashboard.demo import DEMO_PASSWORD, DemoRefused, create_demo

    try:
        demo = create_demo()
    except DemoRefused as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    created = demo.imported.created
    click.echo(f"Demo academy created: {created['lectures']} lectures, {created['sessions']} sessions, "
               f"{created['students']} students, {created['enrollments']} enrollments, "
               f"{created['attempts']} exam attempts; {demo.imported.recomputed} session-progress rows computed.")
    click.echo("Demo logins (password for all: " + DEMO_PASSWORD + "):")
    for username, role in demo.users:
        click.echo(f"  {username:<8} {role}" + (" (first lecture)" if role == "teacher" else ""))


# ---------------------------------------------------------------- OMR demo worker

@bp.cli.command("omr-simulate")
@click.option("--exam", "exam_id", type=int, metavar="ID", help="The exam to scan (default: the first with an answer key).")
@click.option("--count", type=click.IntRange(1, 1000), default=5, show_default=True, help="How many sheets.")
@click.option("--seed", type=int, help="Make the simulated readings repeatable.")
def omr_simulate_command(exam_id: int | None, count: int, seed: int | None) -> None:
    """Play the OMR worker: register scans of real enrollments and post realistic results
    (confident, low-confidence, blank, multi-marked, bad identifier) through the intake services."""
    import random

    from dashboard.omr import scans, simulation

    try:
        exam = simulation.simulation_exam(exam_id)
        made = simulation.simulate(exam, count, random.Random(seed))
    except Refused as exc:
        db.session.rollback()
        raise click.ClickException(describe(exc)) from None
    for item in made:
        row = scans.describe(scans.scan_row(item.scan.id))
        outcome = row["status"]
        if row["attempt_no"] is not None:
            outcome += f" as attempt {row['attempt_no']}, score {row['score']}"
        reasons = ", ".join(row["review_reasons"]) or "none"
        click.echo(f"scan {row['id']} ({item.kind}) for {item.student}: {outcome}; review: {reasons}")
    db.session.commit()
    waiting = sum(1 for item in made if item.scan.status == "needs_review")
    click.echo(f"Posted {len(made)} result(s) for exam {exam}; {waiting} wait for a student to be assigned "
               f"(GET /api/omr-scans?needs_review=true).")


# ---------------------------------------------------------------- parents: messages to guardians

@bp.cli.command("send-notifications")
def send_notifications_command() -> None:
    """Deliver the approved messages to guardians that are due (for a scheduler, every few minutes).

    Exits 0 whatever the deliveries' outcomes (each failure is kept on its message); non-zero only
    when it cannot run: bad settings or no database.
    """
    from dashboard.parents import delivery

    try:
        report = delivery.send_due()
    except delivery.CannotRun as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(report.summary())


# ---------------------------------------------------------------- reports: large lectures' PDFs

@bp.cli.command("render-reports")
def render_reports_command() -> None:
    """Make the whole-lecture report PDFs people asked for on the report pages (for a scheduler,
    every minute). Exits 0 whatever each batch's outcome (a failure is kept on the batch); non-zero
    only when it cannot run: no WeasyPrint or its system libraries, no database."""
    from dashboard.reports import batches, pdf

    if not pdf.available():
        raise click.ClickException(f"WeasyPrint cannot run here; install: {pdf.INSTALL_HINT}")
    run = batches.run_due()
    for problem in run.problems:
        click.echo(problem, err=True)
    click.echo(run.summary())

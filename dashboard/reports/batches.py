"""A whole lecture's monthly reports as one PDF, made outside the request when the class is large.

WeasyPrint lays out a short report in about a quarter of a second on a busy two-core machine, so
300 reports take a minute or more: far past what a web worker may spend on one request. A
lecture of up to `sync_limit()` active students (REPORT_PDF_SYNC_LIMIT, default 30) still gets its
PDF at once; a larger one gets a *batch*: a `report_batch` row, queued by the page, made by
`flask --app wsgi render-reports` (run every minute by the scheduler, beside
send-notifications) and kept in the database for download until KEEP_FOR has passed.

- Asking again while a batch of the same lecture and month is queued or running joins it: a partial
  unique index allows one active batch per (lecture, month), and the insert is ON CONFLICT DO NOTHING.
- Each batch is *claimed* (a conditional UPDATE from `queued` to `running`, committed) before it is
  made, so two workers at once never make the same batch twice.
- A worker that died mid-batch leaves it `running`: after STALE_AFTER it is queued again (making a
  PDF twice harms nobody), up to MAX_ATTEMPTS, then it fails with the reason.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.clock import now
from dashboard.extensions import db
from dashboard.models import Enrollment, Lecture, ReportBatch, User

DEFAULT_SYNC_LIMIT = 30
STALE_AFTER = timedelta(minutes=30)
MAX_ATTEMPTS = 3
KEEP_FOR = timedelta(days=7)
ACTIVE = ("queued", "running")
OUTCOME_UNKNOWN = "the worker stopped while making it"


def sync_limit() -> int:
    """REPORT_PDF_SYNC_LIMIT from the app's config, else the environment, else DEFAULT_SYNC_LIMIT."""
    value = current_app.config.get("REPORT_PDF_SYNC_LIMIT") or os.environ.get("REPORT_PDF_SYNC_LIMIT")
    if value in (None, ""):
        return DEFAULT_SYNC_LIMIT
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"REPORT_PDF_SYNC_LIMIT must be a whole number, not {value!r}") from None


def lecture_title(lecture_id: int) -> str | None:
    return db.session.execute(select(Lecture.title).where(Lecture.id == lecture_id)).scalar_one_or_none()


def active_students(lecture_id: int) -> int:
    return db.session.execute(
        select(func.count()).select_from(Enrollment)
        .where(Enrollment.lecture_id == lecture_id, Enrollment.withdrawn_at.is_(None))).scalar_one()


def needs_batch(lecture_id: int) -> bool:
    """Whether this lecture's PDF is made by the worker rather than in the request."""
    return active_students(lecture_id) > sync_limit()


# ---------------------------------------------------------------- the page's side

def request_batch(user: User, lecture_id: int, month: str, language: str) -> tuple[ReportBatch, bool]:
    """Queue the lecture's PDF for the month, or join the batch already queued or running for it.
    The caller checked that the user may read the lecture. Answers (batch, whether it is new)."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ReportBatch).values(
        lecture_id=lecture_id, month=month, language=language, state="queued", attempts=0,
        requested_by_id=user.id, requested_at=now(),
    ).on_conflict_do_nothing(index_elements=["lecture_id", "month"],
                             index_where=ReportBatch.state.in_(ACTIVE)).returning(ReportBatch.id)
    created = db.session.execute(statement).scalar_one_or_none() is not None
    batch = db.session.execute(
        select(ReportBatch).where(ReportBatch.lecture_id == lecture_id, ReportBatch.month == month,
                                  ReportBatch.state.in_(ACTIVE))).scalar_one()
    return batch, created


def latest_batch(lecture_id: int, month: str) -> ReportBatch | None:
    """The newest batch of the lecture and month, whatever its state."""
    return db.session.execute(
        select(ReportBatch).where(ReportBatch.lecture_id == lecture_id, ReportBatch.month == month)
        .order_by(ReportBatch.id.desc()).limit(1)).scalar_one_or_none()


def pdf_of(batch_id: int) -> bytes | None:
    return db.session.execute(select(ReportBatch.pdf).where(ReportBatch.id == batch_id)).scalar_one_or_none()


# ---------------------------------------------------------------- the worker's side

@dataclass
class Run:
    made: int = 0
    failed: int = 0
    requeued: int = 0
    removed: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"made {self.made}, failed {self.failed}, queued again after a stopped worker {self.requeued}, "
                f"old batches removed {self.removed}")


Render = Callable[[ReportBatch], tuple[bytes, int]]


def make(batch: ReportBatch) -> tuple[bytes, int]:
    """The batch's PDF and its number of reports: the lecture's reports of the month as of today,
    in the language of the person who asked."""
    from flask_babel import force_locale

    from dashboard.clock import academy_today
    from dashboard.reports import figures, pdf

    with current_app.test_request_context("/"), force_locale(batch.language):
        reports = figures.load_reports(batch.lecture_id, figures.Month.parse(batch.month), academy_today())
        html = pdf.document_html(reports)
        db.session.commit()  # the figures are read: hold no transaction through the layout
        return pdf.render_reports(html), len(reports)


def run_due(render: Render = make, moment: datetime | None = None) -> Run:
    """Make every queued batch, oldest first; commits per batch. `render(batch)` answers the PDF
    and its number of reports."""
    moment = moment or now()
    run = Run()
    run.requeued, failed_stale = _recover_stale(moment)
    run.failed += failed_stale
    run.removed = db.session.execute(
        delete(ReportBatch).where(ReportBatch.state.not_in(ACTIVE), ReportBatch.requested_at < moment - KEEP_FOR)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    while (batch_id := _claim_next()) is not None:
        batch = db.session.get(ReportBatch, batch_id)
        try:
            body, reports = render(batch)
        except Exception as error:  # noqa: BLE001 - any failure is kept on the batch for the page to show
            db.session.rollback()
            _finish(batch_id, state="failed", error=f"{type(error).__name__}: {error}")
            run.failed += 1
            run.problems.append(f"batch {batch_id}: {error}")
            continue
        _finish(batch_id, state="done", pdf=body, reports=reports, error=None)
        run.made += 1
    return run


def _recover_stale(moment: datetime) -> tuple[int, int]:
    stale = (ReportBatch.state == "running", ReportBatch.started_at < moment - STALE_AFTER)
    failed = db.session.execute(
        update(ReportBatch).where(*stale, ReportBatch.attempts >= MAX_ATTEMPTS)
        .values(state="failed", error=OUTCOME_UNKNOWN, finished_at=moment)
        .execution_options(synchronize_session=False)).rowcount
    requeued = db.session.execute(
        update(ReportBatch).where(*stale).values(state="queued")
        .execution_options(synchronize_session=False)).rowcount
    return requeued, failed


def _claim_next() -> int | None:
    """Take the oldest queued batch for this worker, or None when there is none left."""
    while True:
        batch_id = db.session.execute(
            select(ReportBatch.id).where(ReportBatch.state == "queued").order_by(ReportBatch.id).limit(1)
        ).scalar_one_or_none()
        if batch_id is None:
            db.session.commit()
            return None
        claimed = db.session.execute(
            update(ReportBatch).where(ReportBatch.id == batch_id, ReportBatch.state == "queued")
            .values(state="running", started_at=now(), attempts=ReportBatch.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        if claimed == 1:
            return batch_id
        # another worker took it first: look again


def _finish(batch_id: int, **values) -> None:
    db.session.execute(
        update(ReportBatch).where(ReportBatch.id == batch_id, ReportBatch.state == "running")
        .values(finished_at=now(), **values).execution_options(synchronize_session=False))
    db.session.commit()

"""The teacher's comment on a monthly report: one per (enrollment, month), audited."""
from __future__ import annotations

from sqlalchemy import select

from dashboard.accounts import audit
from dashboard.errors import Invalid
from dashboard.extensions import db
from dashboard.models import ReportComment, User
from dashboard.reports.access import writable_enrollment
from dashboard.reports.figures import Month

MAX_COMMENT = 2000


def save_comment(user: User, enrollment_id: int, month: Month, text: object) -> ReportComment:
    """Write (or replace) the month's comment; an empty text keeps an empty comment."""
    lecture_id = writable_enrollment(user, enrollment_id)
    if not isinstance(text, str):
        raise Invalid("not_text", "comment")
    text = text.strip().replace("\r\n", "\n")
    if len(text) > MAX_COMMENT:
        raise Invalid("too_long", "comment", max=MAX_COMMENT)
    comment = db.session.execute(
        select(ReportComment).where(ReportComment.enrollment_id == enrollment_id,
                                    ReportComment.month == str(month))).scalar_one_or_none()
    before = comment.text if comment else None
    if comment is None:
        comment = ReportComment(enrollment_id=enrollment_id, month=str(month), text=text, updated_by_id=user.id)
        db.session.add(comment)
    elif comment.text == text:
        return comment
    else:
        comment.text = text
        comment.updated_by_id = user.id
    db.session.flush()
    audit.record("report_comment.save", "report_comment", comment.id, {"text": before},
                 {"enrollment_id": enrollment_id, "month": str(month), "text": text}, user=user,
                 lecture_id=lecture_id)
    return comment

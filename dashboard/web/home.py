"""The home page: the lectures the signed-in user may see (a placeholder until the lecture pages land)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from ..access import visible_lecture_ids
from ..extensions import db
from ..models import Lecture

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """List the lectures this user may read, by title."""
    query = select(Lecture).where(Lecture.archived_at.is_(None)).order_by(Lecture.title, Lecture.id)
    visible = visible_lecture_ids(current_user)
    if visible is not None:
        query = query.where(Lecture.id.in_(visible))
    lectures = db.session.execute(query).scalars().all()
    return render_template("home.html", lectures=lectures)

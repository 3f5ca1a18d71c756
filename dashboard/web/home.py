"""The home page: the lectures the signed-in user may see, each opening its grid."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from dashboard.lectures import grid
from dashboard.accounts.access import visible_lecture_ids
from dashboard.parents import notes

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """Every lecture this user may read, by title, with its counts and completion per session."""
    lectures = grid.lecture_summaries(visible_lecture_ids(current_user))
    return render_template("lectures/index.html", lectures=lectures, follow_ups=notes.follow_ups_due(current_user))

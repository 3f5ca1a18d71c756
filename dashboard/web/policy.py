"""The policy editor (admins only): every lecture's pass policy, an edit form per lecture with a
preview of the change's impact before saving, and the same impact as the summary of a save.

Validation is the API's: the form turns its text into numbers (admin_forms.PolicyForm.values),
then `policy.save_policy` runs `validate_policy_change` on the merged policy; its problems are
shown at their fields (422) and nothing is saved.

Preview: `save_policy` runs for real inside a SAVEPOINT (`db.session.begin_nested()`), the
impact is measured, and the savepoint is rolled back — the policy row, the derived rows, the
risk logs, the clinic links and the audit entry all return to what they were. So the preview is
exactly what Save will do (same validation, same recompute), not a second model of the rules.
Only a stale lecture is first brought up to today (`ensure_fresh`, as any read does), so that
the preview compares today's state with today's state under the new policy.

Impact: a cell's status is the grid's (`grid.cell_status`): completed, incomplete (due) or
pending (held, not yet due) — grace days move cells between the last two without changing
completion, so statuses are compared, not only completion. Withdrawn enrollments are frozen
and left out.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dashboard.lectures import grid
from dashboard.accounts.access import role_required
from dashboard.clock import academy_today
from dashboard.errors import Conflict, Invalid, describe
from dashboard.extensions import db
from dashboard.models import Enrollment, Lecture, LectureSession, ProgressPolicy, SessionProgress, Student
from dashboard.progress.policy import PolicyRejected, policy_values, save_policy
from dashboard.progress import rules
from dashboard.progress.recompute import ensure_fresh
from dashboard.web.admin_forms import POLICY_GROUPS, PolicyForm
from dashboard.text.plain_numbers import plain_number
from dashboard.web.ui import is_htmx

bp = Blueprint("policy", __name__, url_prefix="/policies")


# ---------------------------------------------------------------- reading

def _lecture_policies() -> list[tuple[Lecture, ProgressPolicy]]:
    return [tuple(row) for row in db.session.execute(
        select(Lecture, ProgressPolicy)
        .join(ProgressPolicy, ProgressPolicy.lecture_id == Lecture.id)
        .order_by(Lecture.title, Lecture.id)
    )]


def _lecture_and_policy(lecture_id: int) -> tuple[Lecture, ProgressPolicy]:
    row = db.session.execute(
        select(Lecture, ProgressPolicy)
        .join(ProgressPolicy, ProgressPolicy.lecture_id == Lecture.id)
        .where(Lecture.id == lecture_id)
    ).first()
    if row is None:
        abort(404)
    return row[0], row[1]


def _cell_statuses(lecture_id: int, grace_days: int) -> dict[tuple[int, int], str]:
    """(enrollment, session) -> grid status of every session-progress row of active enrollments."""
    today = academy_today()
    rows = db.session.execute(
        select(SessionProgress.enrollment_id, SessionProgress.session_id, SessionProgress.completed,
               LectureSession.order, LectureSession.date, Enrollment.start_date)
        .join(Enrollment, Enrollment.id == SessionProgress.enrollment_id)
        .join(LectureSession, LectureSession.id == SessionProgress.session_id)
        .where(Enrollment.lecture_id == lecture_id, Enrollment.withdrawn_at.is_(None))
    )
    return {
        (enrollment_id, session_id): grid.cell_status(
            rules.SessionInfo(session_id, order, on), rules.EnrollmentInfo(enrollment_id, start), today,
            grace_days, completed)
        for enrollment_id, session_id, completed, order, on, start in rows
    }


def _active_names(enrollment_ids: list[int]) -> dict[int, str]:
    """Student names of the active enrollments among these."""
    if not enrollment_ids:
        return {}
    rows = db.session.execute(
        select(Enrollment.id, Student.name)
        .join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.id.in_(enrollment_ids), Enrollment.withdrawn_at.is_(None))
    )
    return {enrollment_id: name for enrollment_id, name in rows}


# ---------------------------------------------------------------- impact

@dataclass(frozen=True)
class RiskMove:
    enrollment_id: int
    name: str
    before: str | None
    after: str | None


@dataclass
class PolicyImpact:
    """What a policy change does to the lecture's grid."""

    changed_fields: list[tuple[str, str, str]] = field(default_factory=list)  # label, before, after
    cells: int = 0
    became_completed: int = 0
    stopped_completed: int = 0
    due_changes: int = 0  # between pending and incomplete, completion unchanged
    risks: list[RiskMove] = field(default_factory=list)
    recomputed: int = 0


def _shown(value: Any) -> str:
    return plain_number(value) if not isinstance(value, str) else value


def _save_with_impact(lecture_id: int, policy: ProgressPolicy, change: dict[str, Any],
                      expected_version: int | None = None) -> PolicyImpact:
    """save_policy, measuring the cells whose status changed and the students whose risk changed."""
    before = _cell_statuses(lecture_id, policy.completion_grace_days)
    result = save_policy(lecture_id, change, current_user, expected_version)
    after = _cell_statuses(lecture_id, result.policy.completion_grace_days)
    impact = PolicyImpact(recomputed=result.recomputed)
    form = PolicyForm(formdata=None)
    for name, (old, new) in result.changed_fields.items():
        impact.changed_fields.append((str(getattr(form, name).label.text), _shown(old), _shown(new)))
    moves = Counter(rules.policy_impact(before.get(key), after.get(key)) for key in before.keys() | after.keys())
    moves.pop(None, None)
    impact.cells = sum(moves.values())
    impact.became_completed = moves["became_completed"]
    impact.stopped_completed = moves["stopped_completed"]
    impact.due_changes = moves["due_changed"]
    names = _active_names([risk.enrollment_id for risk in result.risks])
    impact.risks = sorted(
        (RiskMove(risk.enrollment_id, names[risk.enrollment_id], risk.risk_before, risk.risk_after)
         for risk in result.risks if risk.enrollment_id in names),
        key=lambda move: (move.name, move.enrollment_id),
    )
    return impact


def _problem_text(form: PolicyForm, problem: Invalid) -> str:
    """The problem's text; another field it names is named by its label."""
    if "other" in problem.params:
        label = str(getattr(form, problem.params["other"]).label.text)
        problem = Invalid(problem.reason, problem.field, **{**problem.params, "other": label})
    return describe(problem)


# ---------------------------------------------------------------- views

@bp.get("/")
@role_required("admin")
def index():
    """Every lecture's policy at a glance, each with a link to its editor."""
    return render_template("policy/index.html", rows=_lecture_policies())


def _form_data(policy: ProgressPolicy) -> dict[str, str]:
    return {**{name: _shown(value) for name, value in policy_values(policy).items()}, "version": str(policy.version)}


@dataclass(frozen=True)
class Meanwhile:
    """A field someone else saved while this form was open: its label, the stored value, this form's."""

    label: str
    stored: str
    yours: str


def _meanwhile(form: PolicyForm, policy: ProgressPolicy) -> list[Meanwhile]:
    """The fields where the stored policy now differs from what this form would save."""
    stored = _form_data(policy)
    return [Meanwhile(str(getattr(form, name).label.text), stored[name], str(getattr(form, name).data or ""))
            for name in policy_values(policy) if stored[name] != str(getattr(form, name).data or "")]


def _render(lecture: Lecture, form: PolicyForm, status: int = 200, impact: PolicyImpact | None = None,
            outcome: str | None = None, conflict: list[Meanwhile] | None = None):
    context = dict(lecture=lecture, form=form, groups=POLICY_GROUPS, impact=impact, outcome=outcome,
                   conflict=conflict)
    if is_htmx():
        return render_template("policy/_editor.html", **context), status
    return render_template("policy/edit.html", **context), status


@bp.get("/<int:lecture_id>/")
@role_required("admin")
def edit(lecture_id: int):
    """The editor, filled with the stored policy."""
    lecture, policy = _lecture_and_policy(lecture_id)
    return _render(lecture, PolicyForm(formdata=None, data=_form_data(policy)))


@bp.post("/<int:lecture_id>/")
@role_required("admin")
def submit(lecture_id: int):
    """`action=preview` shows the impact and keeps nothing; `action=save` saves, recomputes and shows it."""
    lecture, policy = _lecture_and_policy(lecture_id)
    form = PolicyForm()
    action = request.form.get("action", "save")
    if action not in ("preview", "save"):
        abort(400)
    change = form.values() if form.validate_on_submit() else None
    if change is None:
        return _render(lecture, form, 422)
    ensure_fresh(lecture_id)
    try:
        if action == "preview":
            savepoint = db.session.begin_nested()
            try:
                impact = _save_with_impact(lecture_id, policy, change)
            finally:
                savepoint.rollback()
        else:
            impact = _save_with_impact(lecture_id, policy, change, form.base_version())
            form.version.data = str(policy.version)
    except PolicyRejected as rejected:
        for problem in (rejected, *rejected.also):
            form.add_error(problem.field, _problem_text(form, problem))
        return _render(lecture, form, 422)
    except Conflict:
        # Someone saved this policy after the form was filled: show what they changed, keep this
        # form's values, and base it on the stored version so a second Save overwrites on purpose.
        db.session.rollback()
        lecture, policy = _lecture_and_policy(lecture_id)
        form.version.data = str(policy.version)
        return _render(lecture, form, 409, conflict=_meanwhile(form, policy))
    if action == "save" and not is_htmx():
        flash(_summary_sentence(impact), "success")
        return redirect(url_for(".edit", lecture_id=lecture_id))
    return _render(lecture, form, impact=impact, outcome=action)


def _summary_sentence(impact: PolicyImpact) -> str:
    return _("Policy saved. Session cells that changed status: %(cells)s; students whose risk level changed: "
             "%(students)s.", cells=impact.cells, students=len(impact.risks))


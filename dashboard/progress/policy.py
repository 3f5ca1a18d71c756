"""Saving a lecture's pass policy (SPEC §2): validate on the merged policy, save, recompute.

The one validation is progress.policy_validation.validate_policy_change, shared with the
policy form and the importer. A refused change raises PolicyRejected with every problem and
saves nothing. A valid save recomputes the whole lecture in the same transaction and reports
the fields it changed and the students whose risk level changed (the policy page measures the
cells itself, by their grid words); a preview is the same call inside a transaction that the
caller rolls back.

Only flushes; the request or command boundary commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import select

from dashboard.models import versions as versioning
from dashboard.accounts import audit
from dashboard.errors import Invalid, describe as describe_error
from dashboard.extensions import db
from dashboard.models import LectureProgress, ProgressPolicy, User
from dashboard.progress.policy_validation import POLICY_FIELDS, validate_policy_change
from dashboard.progress.recompute import lock_lecture, recompute_lecture


class PolicyRejected(Invalid):
    """The change breaks SPEC §2: the first problem, every further one in `also`."""

    def __init__(self, problems: list[Invalid]) -> None:
        first = problems[0]
        super().__init__(first.reason, first.field, **first.params)
        self.also = tuple(problems[1:])

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(field, text) of every problem, for the API's `errors` list."""
        return [(problem.field, describe_error(problem)) for problem in (self, *self.also)]


def describe(name: str, message: str) -> str:
    """A problem's text as a sentence naming its field (the API's message)."""
    return message if message.startswith(name) else f"{name} {message}"


@dataclass(frozen=True)
class RiskChange:
    enrollment_id: int
    risk_before: str | None
    risk_after: str | None


@dataclass
class PolicySaveResult:
    policy: ProgressPolicy
    changed_fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    risks: list[RiskChange] = field(default_factory=list)
    recomputed: int = 0


def policy_values(policy: ProgressPolicy) -> dict[str, Any]:
    """The policy's fields as the validator takes them."""
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def _risk_levels(lecture_id: int) -> dict[int, str]:
    rows = db.session.execute(
        select(LectureProgress.enrollment_id, LectureProgress.risk_level)
        .where(LectureProgress.lecture_id == lecture_id)
    )
    return {enrollment_id: level for enrollment_id, level in rows}


def save_policy(lecture_id: int, change: Mapping[str, Any], user: User | None,
                expected_version: int | None = None) -> PolicySaveResult:
    """Apply `change` (field -> JSON value) to the lecture's policy and recompute the lecture.

    Raises PolicyRejected (nothing changed), errors.Conflict when `expected_version` is given and
    the policy has changed since (SPEC §8), or LookupError when the lecture has no policy.
    """
    lock_lecture(lecture_id)
    # Read again under the lock (populate_existing: a copy loaded earlier in this request may be
    # older than what another writer committed meanwhile, and the version check needs the stored one).
    policy = db.session.execute(
        select(ProgressPolicy).where(ProgressPolicy.lecture_id == lecture_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if policy is None:
        raise LookupError(f"lecture {lecture_id} has no policy")
    versioning.check(policy, expected_version)
    stored = policy_values(policy)
    merged, errors = validate_policy_change(stored, change)
    if errors:
        raise PolicyRejected(errors)
    changed = {name: (stored[name], merged[name]) for name in POLICY_FIELDS if stored[name] != merged[name]}

    risk_before = _risk_levels(lecture_id)
    for name, (_, value) in changed.items():
        setattr(policy, name, value)
    db.session.flush()
    # SPEC §2: a valid save recomputes the whole lecture, even one that changed no value.
    recomputed = recompute_lecture(lecture_id)
    risk_after = _risk_levels(lecture_id)

    if changed:
        audit.record(
            "policy.update", "policy", policy.id,
            {name: old for name, (old, _) in changed.items()},
            {name: new for name, (_, new) in changed.items()},
            user=user, lecture_id=lecture_id,
        )
    risks = [
        RiskChange(enrollment_id, risk_before.get(enrollment_id), risk_after.get(enrollment_id))
        for enrollment_id in sorted(risk_before.keys() | risk_after.keys())
        if risk_before.get(enrollment_id) != risk_after.get(enrollment_id)
    ]
    return PolicySaveResult(policy, changed, risks, recomputed)

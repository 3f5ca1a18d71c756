"""The importer's answers: the problems that refuse a snapshot, the planned diff a preview shows,
and the change counts of an applied import."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from dashboard.importer.plan import _Work

# The snapshot's kinds of item, in the order they are applied.
KINDS: tuple[str, ...] = (
    "lectures",
    "sessions",
    "students",
    "enrollments",
    "exams",
    "attempts",
    "homeworks",
    "homework_submissions",
    "activities",
)

# progress(step, done, total), for a long import's progress bar.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportProblem:
    """One reason a snapshot is refused: `field` names the item (``attempts[3].score``), or is
    None for the snapshot as a whole."""

    field: str | None
    message: str
    # The refusal's reason code and the parameters of its text (errors.TEXTS), for the setup pages
    # that show it in the reader's language; the API and the CLI show `message`.
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ImportRejected(Exception):
    """The snapshot is refused as a whole; `errors` lists every problem found. Nothing was written."""

    def __init__(self, errors: Sequence[ImportProblem]):
        self.errors: list[ImportProblem] = list(errors)
        first = str(self.errors[0]) if self.errors else "invalid snapshot"
        super().__init__(f"snapshot rejected ({len(self.errors)} problem(s)); first: {first}")


@dataclass
class ImportResult:
    """Change counts per snapshot kind (every kind present) and the session-progress rows recomputed;
    `grown_tables` (not part of the answer) are the tables to analyse once the import is committed."""

    created: dict[str, int]
    updated: dict[str, int]
    deleted: dict[str, int]
    recomputed: int = 0
    grown_tables: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The answer of ``POST /api/import`` and of the CLI (SPEC §8)."""
        return {
            "created": dict(self.created),
            "updated": dict(self.updated),
            "deleted": dict(self.deleted),
            "recomputed": self.recomputed,
        }


@dataclass(frozen=True)
class PlannedChange:
    """One item of the diff. `key` is the snapshot key (``(id,)`` or the composite key);
    `before` holds the stored values of the fields that change (update, delete), `after`
    the new ones (every field for a create, only the changed ones for an update)."""

    kind: str
    index: int
    key: tuple
    action: str  # "create" | "update" | "delete"
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass
class ImportPlan:
    """The diff a snapshot makes; `changes[kind]` in snapshot order. Reused by an upload preview."""

    changes: dict[str, list[PlannedChange]]
    # Existing lectures whose inputs change: locked before applying.
    lecture_ids: frozenset[int] = frozenset()
    # What to write, prepared by the planner for the apply step.
    _work: "_Work | None" = field(default=None, repr=False)

    def counts(self) -> ImportResult:
        """The change counts of this plan (recomputed 0: nothing has run yet)."""
        result = ImportResult(*({kind: 0 for kind in KINDS} for _ in range(3)))
        buckets = {"create": result.created, "update": result.updated, "delete": result.deleted}
        for kind, changes in self.changes.items():
            for change in changes:
                buckets[change.action][kind] += 1
        return result

    @property
    def is_empty(self) -> bool:
        return not any(self.changes.values())

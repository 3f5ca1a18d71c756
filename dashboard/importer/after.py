"""The academy as it would be after the import: stored rows overlaid with the snapshot's items,
minus what it deletes and everything that hangs off a deleted row."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dashboard.importer.kinds import _KINDS, _Item

if TYPE_CHECKING:
    from dashboard.importer.stored import _Stored, _StoredFact


_PARENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sessions": (("lectures", "lecture_id"),),
    "enrollments": (("students", "student_id"), ("lectures", "lecture_id")),
    "homeworks": (("sessions", "session_id"),),
    "attempts": (("enrollments", "enrollment_id"), ("exams", "exam_id")),
    "homework_submissions": (("enrollments", "enrollment_id"), ("homeworks", "homework_id")),
    "activities": (("enrollments", "enrollment_id"), ("sessions", "session_id")),
}


class _After:
    """Rows as they would be after the import: stored values overlaid with snapshot items,
    minus deleted items and everything that hangs off them (ON DELETE CASCADE)."""

    def __init__(self, items: dict[str, dict[tuple, _Item]], stored: _Stored):
        self.items = items
        self.stored = stored
        self._memo: dict[tuple[str, tuple], dict[str, Any] | None] = {}
        self._links: dict[int, set[int]] = {}

    def row(self, kind: str, key: tuple) -> dict[str, Any] | None:
        memo_key = (kind, key)
        if memo_key not in self._memo:
            self._memo[memo_key] = self._compute(kind, key)
        return self._memo[memo_key]

    def _compute(self, kind: str, key: tuple) -> dict[str, Any] | None:
        item = self.items[kind].get(key)
        base = self.stored.rows[kind].get(key)
        if (item is not None and item.delete) or (item is None and base is None):
            return None
        spec = _KINDS[kind]
        merged = dict(spec.defaults) if base is None else dict(base)
        merged.update(zip(spec.key, key))
        if item is not None:
            merged.update(item.values)
        for parent_kind, column in _PARENTS.get(kind, ()):
            parent = merged.get(column)
            if parent is None or self.row(parent_kind, (parent,)) is None:
                return None
        return merged

    def survives(self, kind: str, fact: _StoredFact) -> bool:
        """Whether a stored attempt or submission (possibly not loaded by key) outlives the import."""
        parent_kind = "exams" if kind == "attempts" else "homeworks"
        taken = (
            (kind, fact.key), (parent_kind, (fact.parent,)), ("enrollments", (fact.key[0],)),
            ("students", (fact.student_id,)), ("lectures", (fact.lecture_id,)),
        )
        if any(self._deletes(k, key) for k, key in taken):
            return False
        if kind == "homework_submissions":
            homework = self.row("homeworks", (fact.parent,))
            return homework is not None
        return True

    def _deletes(self, kind: str, key: tuple) -> bool:
        item = self.items[kind].get(key)
        return item is not None and item.delete

    def exists(self, kind: str, key_value: Any) -> bool:
        return self.row(kind, (key_value,)) is not None

    def links(self, exam_id: int) -> set[int]:
        """The sessions an exam is linked to afterwards (links to deleted sessions are gone)."""
        if exam_id not in self._links:
            item = self.items["exams"].get((exam_id,))
            linked = item.extra["session_ids"] if item is not None and "session_ids" in item.extra \
                else self.stored.links.get(exam_id, set())
            self._links[exam_id] = {sid for sid in linked if self.exists("sessions", sid)}
        return self._links[exam_id]

    def lecture_of_session(self, session_id: int) -> int | None:
        row = self.row("sessions", (session_id,))
        return row["lecture_id"] if row else None

    def lectures_linked(self, exam_id: int) -> set[int]:
        return {self.lecture_of_session(sid) for sid in self.links(exam_id)}

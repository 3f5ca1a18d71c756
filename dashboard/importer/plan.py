"""The diff a snapshot makes (created, really changed, deleted rows) and the cells it makes stale,
prepared for the apply step."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from dashboard.importer.after import _After
from dashboard.importer.kinds import _KIND_LIST, _Item, _Kind
from dashboard.importer.results import KINDS, ImportPlan, PlannedChange
from dashboard.importer.stored import _Stored
from dashboard.parents import guardians as guardian_rules
from dashboard.progress.policy_validation import POLICY_FIELDS
from dashboard.progress.recompute import Scope
from dashboard.progress.rules import POLICY_DEFAULTS


@dataclass
class _StaleCells:
    """The stale cells of one lecture: whole `sessions` (every enrollment's cell of them) and
    single `cells` (enrollment, session) besides."""

    sessions: set[int] = field(default_factory=set)
    cells: set[tuple[int, int]] = field(default_factory=set)

    def add(self, enrollment_id: int | None, session_ids: Iterable[int]) -> None:
        """Cells of one enrollment (None: every enrollment) in these sessions."""
        if enrollment_id is None:
            self.sessions.update(session_ids)
        else:
            self.cells.update((enrollment_id, session_id) for session_id in session_ids)

    def scopes(self, lecture_id: int) -> list[Scope]:
        """At most two recompute scopes: the whole sessions, then the single cells outside them."""
        scopes = [Scope(lecture_id, None, frozenset(self.sessions))] if self.sessions else []
        cells = {cell for cell in self.cells if cell[1] not in self.sessions}
        if cells:
            scopes.append(Scope.of_cells(lecture_id, cells))
        return scopes


@dataclass
class _Work:
    """What the apply step writes and recomputes; filled by the planner."""

    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    deletes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # primary keys
    policy_inserts: list[dict[str, Any]] = field(default_factory=list)
    policy_updates: list[dict[str, Any]] = field(default_factory=list)
    links: dict[int, set[int]] = field(default_factory=dict)  # exam -> its new link set
    questions: dict[int, dict[int, tuple]] = field(default_factory=dict)
    answers: dict[tuple, dict[int, tuple]] = field(default_factory=dict)  # attempt key -> answers
    guardian_inserts: list[dict[str, Any]] = field(default_factory=list)
    guardian_updates: list[dict[str, Any]] = field(default_factory=list)
    guardian_deletes: list[int] = field(default_factory=list)
    reordered: dict[int, int] = field(default_factory=dict)  # session id -> new order, for moved sessions
    used_orders: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    whole: set[int] = field(default_factory=set)  # lectures recomputed whole
    recompute_lectures: set[int] = field(default_factory=set)  # lectures left to recompute (not deleted)
    cells: dict[int, _StaleCells] = field(default_factory=lambda: defaultdict(_StaleCells))  # by lecture


def _plan(items: dict[str, dict[tuple, _Item]], stored: _Stored, after: _After) -> ImportPlan:
    work = _Work()
    changes: dict[str, list[PlannedChange]] = {kind: [] for kind in KINDS}
    touched: set[int] = set()

    student_lectures: dict[int, set[int]] = defaultdict(set)
    for enrollment in stored.rows["enrollments"].values():
        student_lectures[enrollment["student_id"]].add(enrollment["lecture_id"])

    def lectures_of(kind: str, key: tuple, row: Mapping[str, Any]) -> set[int]:
        """The lectures a change of this row touches (before and after)."""
        if kind == "lectures":
            return {key[0]}
        if kind == "students":
            return student_lectures.get(key[0], set())
        if kind == "sessions":
            return {row["lecture_id"]}
        if kind == "exams":
            return _exam_lectures(key[0], after, stored)
        if kind == "homeworks":
            sessions = {row["session_id"], stored.rows["homeworks"].get(key, row)["session_id"]}
            return {_lecture_of_any_session(s, after, stored) for s in sessions} - {None}
        enrollment = after.row("enrollments", (key[0],)) or stored.rows["enrollments"].get((key[0],))
        return {enrollment["lecture_id"]} if enrollment else set()

    for kind in _KIND_LIST:
        for key, item in items[kind.name].items():
            base = stored.rows[kind.name].get(key)
            if item.delete:
                if base is None:
                    continue  # deleting a missing item does nothing
                work.deletes[kind.name].append(base["id"])
                changes[kind.name].append(PlannedChange(kind.name, item.index, key, "delete", dict(base), None))
                lectures = lectures_of(kind.name, key, base)
                touched |= lectures
                _recompute_after_delete(kind.name, key, base, lectures, after, stored, work)
                continue
            row = after.row(kind.name, key)
            if base is None:
                change = _plan_create(kind, key, item, row, work)
                changes[kind.name].append(change)
                _recompute_after_write(kind.name, key, row, None, set(change.after), after, stored, work)
                touched |= lectures_of(kind.name, key, row)
                continue
            before, new = _diff(kind, key, item, base, stored, work)
            if new:
                changes[kind.name].append(PlannedChange(kind.name, item.index, key, "update", before, new))
                _recompute_after_write(kind.name, key, row, base, set(new), after, stored, work)
                touched |= lectures_of(kind.name, key, row)
    existing = {key[0] for key in stored.rows["lectures"]}
    work.recompute_lectures = {lid for lid in work.whole | set(work.cells) if after.exists("lectures", lid)}
    return ImportPlan(changes, frozenset(touched & existing), work)


def _plan_create(kind: _Kind, key: tuple, item: _Item, row: dict[str, Any], work: _Work) -> PlannedChange:
    values = {name: row.get(name) for name in kind.columns}
    if kind.name == "attempts":
        values["source"] = "import"
    work.inserts[kind.name].append(values)
    after = dict(values)
    if kind.name == "lectures":
        merged = item.extra.get("policy_merged", dict(POLICY_DEFAULTS))
        work.policy_inserts.append({"lecture_id": key[0], **merged})
        if "policy" in item.extra:
            after["policy"] = {name: merged[name] for name in item.extra["policy"]}
    if kind.name == "sessions":
        work.used_orders[row["lecture_id"]].add(row["order"])
    if "session_ids" in item.extra:
        work.links[key[0]] = set(item.extra["session_ids"])
        after["session_ids"] = sorted(item.extra["session_ids"])
    if "questions" in item.extra:
        work.questions[key[0]] = item.extra["questions"]
        after["questions"] = item.extra["questions"]
    if "answers" in item.extra:
        work.answers[key] = item.extra["answers"]
        after["answers"] = item.extra["answers"]
    if "guardians" in item.extra:
        inserts, _, _ = _guardian_changes(key[0], item.extra["guardians"], ())
        work.guardian_inserts.extend(inserts)
        after["guardians"] = inserts
    return PlannedChange(kind.name, item.index, key, "create", None, after)


def _diff(kind: _Kind, key: tuple, item: _Item, base: dict[str, Any], stored: _Stored,
          work: _Work) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored and new values of the fields the item really changes."""
    before: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name, value in item.values.items():
        if base[name] != value:
            before[name], new[name] = base[name], value
    if new:
        work.updates[kind.name].append({"id": base["id"], **new})
    if kind.name == "sessions":
        work.used_orders[base["lecture_id"]].add(base["order"])
        if "order" in new:
            work.reordered[base["id"]] = new["order"]
            work.used_orders[base["lecture_id"]].add(new["order"])
    if kind.name == "lectures" and "policy" in item.extra:
        stored_policy = stored.policies.get(key[0])
        merged = item.extra["policy_merged"]
        if stored_policy is None:
            work.policy_inserts.append({"lecture_id": key[0], **merged})
            before["policy"], new["policy"] = None, {n: merged[n] for n in item.extra["policy"]}
        else:
            changed = {n: merged[n] for n in POLICY_FIELDS if merged[n] != stored_policy[n]}
            if changed:
                work.policy_updates.append({"id": stored_policy["id"], **changed})
                before["policy"] = {n: stored_policy[n] for n in changed}
                new["policy"] = changed
    if "session_ids" in item.extra:
        old = stored.links.get(key[0], set())
        if set(item.extra["session_ids"]) != old:
            work.links[key[0]] = set(item.extra["session_ids"])
            before["session_ids"], new["session_ids"] = sorted(old), sorted(item.extra["session_ids"])
    if "questions" in item.extra:
        old_questions = stored.questions.get(key[0], {})
        if item.extra["questions"] != old_questions:
            work.questions[key[0]] = item.extra["questions"]
            before["questions"], new["questions"] = old_questions, item.extra["questions"]
    if "answers" in item.extra:
        old_answers = stored.answers.get(base["id"], {})
        if item.extra["answers"] != old_answers:
            work.answers[key] = item.extra["answers"]
            before["answers"], new["answers"] = old_answers, item.extra["answers"]
    if "guardians" in item.extra:
        old_guardians = stored.guardians.get(key[0], [])
        inserts, updates, deletes = _guardian_changes(key[0], item.extra["guardians"], old_guardians)
        if inserts or updates or deletes:
            work.guardian_inserts.extend(inserts)
            work.guardian_updates.extend(updates)
            work.guardian_deletes.extend(deletes)
            before["guardians"] = [{k: v for k, v in row.items() if k != "student_id"} for row in old_guardians]
            new["guardians"] = [dict(row) for row in item.extra["guardians"]]
    return before, new


# Field changes that alter no derived row.
_COSMETIC = {"lectures": {"title"}, "sessions": {"title"},
             "students": {"name", "contact", "guardian_contact", "guardians"},
             "exams": {"title"}, "homeworks": {"title"}, "activities": {"presence"}}


def _recompute_after_write(kind: str, key: tuple, row: Mapping[str, Any], base: Mapping[str, Any] | None,
                           changed: set[str], after: _After, stored: _Stored, work: _Work) -> None:
    """Record which cells a create or update makes stale (SPEC §7)."""
    if base is not None and changed <= _COSMETIC.get(kind, set()):
        return
    if kind == "lectures":
        work.whole.add(key[0])
    elif kind == "sessions":
        if base is None or changed & {"order", "date"}:
            work.whole.add(row["lecture_id"])
    elif kind == "enrollments":
        work.whole.add(row["lecture_id"])
    elif kind == "students":
        return  # a new student has no enrollment yet; enrollments are planned on their own
    elif kind == "exams":
        if base is not None or "session_ids" in changed:
            work.whole |= _exam_lectures(key[0], after, stored)
    elif kind == "homeworks":
        sessions = {row["session_id"]} | ({base["session_id"]} if base is not None else set())
        for session_id in sessions:
            lecture_id = _lecture_of_any_session(session_id, after, stored)
            if lecture_id is not None:
                work.cells[lecture_id].add(None, (session_id,))
    else:
        _fact_cells(kind, key, after, stored, work)


def _recompute_after_delete(kind: str, key: tuple, base: Mapping[str, Any], lectures: set[int],
                            after: _After, stored: _Stored, work: _Work) -> None:
    if kind in ("lectures", "students", "sessions", "enrollments"):
        # A deleted lecture needs nothing; the others change the whole lecture (SPEC §7).
        work.whole |= lectures - ({key[0]} if kind == "lectures" else set())
    elif kind == "exams":
        work.whole |= lectures
    elif kind == "homeworks":
        for lecture_id in lectures:
            work.cells[lecture_id].add(None, (base["session_id"],))
    else:
        _fact_cells(kind, key, after, stored, work)


def _lecture_of_any_session(session_id: int, after: _After, stored: _Stored) -> int | None:
    lecture_id = after.lecture_of_session(session_id)
    if lecture_id is None and (session_id,) in stored.rows["sessions"]:
        lecture_id = stored.rows["sessions"][(session_id,)]["lecture_id"]
    return lecture_id


def _exam_lectures(exam_id: int, after: _After, stored: _Stored) -> set[int]:
    lectures = {_lecture_of_any_session(s, after, stored) for s in stored.links.get(exam_id, ())}
    return (lectures | after.lectures_linked(exam_id)) - {None}


def _fact_cells(kind: str, key: tuple, after: _After, stored: _Stored, work: _Work) -> None:
    """An attempt, submission or activity (written or deleted): its enrollment x the sessions it feeds."""
    enrollment_id = key[0]
    enrollment = after.row("enrollments", (enrollment_id,)) or stored.rows["enrollments"].get((enrollment_id,))
    if enrollment is None:
        return
    lecture_id = enrollment["lecture_id"]
    if kind == "attempts":
        sessions = [s for s in after.links(key[1]) if after.lecture_of_session(s) == lecture_id]
    elif kind == "homework_submissions":
        homework = after.row("homeworks", (key[1],)) or stored.rows["homeworks"].get((key[1],))
        sessions = [homework["session_id"]] if homework else []
    else:
        sessions = [key[1]]
    if sessions:
        work.cells[lecture_id].add(enrollment_id, sessions)


def _guardian_changes(student_id: int, wanted: Sequence[Mapping[str, Any]], stored_rows: Sequence[Mapping[str, Any]]
                      ) -> tuple[list[dict], list[dict], list[int]]:
    """(inserts, updates, deleted ids) that turn the stored list into the wanted one: an item is the
    stored guardian with its id, else the one with its (name, relation); the rest are new, and
    stored ones nobody matched go."""
    by_id = {row["id"]: row for row in stored_rows}
    by_name = {(row["name"], row["relation"]): row for row in stored_rows}
    matched: set[int] = set()
    inserts: list[dict] = []
    updates: list[dict] = []
    for item in wanted:
        row = by_id.get(item["id"]) if item["id"] is not None else by_name.get((item["name"], item["relation"]))
        if row is None or row["id"] in matched:
            new = {name: item[name] for name in guardian_rules.FIELDS}
            inserts.append({**({"id": item["id"]} if item["id"] is not None else {}), "student_id": student_id,
                            **new})
            continue
        matched.add(row["id"])
        changed = {name: item[name] for name in guardian_rules.FIELDS if row[name] != item[name]}
        if changed:
            updates.append({"id": row["id"], **changed})
    deletes = [row["id"] for row in stored_rows if row["id"] not in matched]
    return inserts, updates, deletes

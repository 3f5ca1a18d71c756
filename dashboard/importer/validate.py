"""The checks of a snapshot against the state it would produce: parents that exist, keys and orders
that stay unique, scores within their max, facts in their enrollment's lecture, roll calls that agree."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from dashboard.errors import describe
from dashboard.importer.after import _PARENTS, _After
from dashboard.importer.kinds import _KIND_LIST, _Item
from dashboard.importer.results import ImportProblem
from dashboard.importer.stored import _Stored
from dashboard.progress.policy_validation import validate_policy_change
from dashboard.progress.rules import POLICY_DEFAULTS, PresenceConflict, roll_call
from dashboard.text.plain_numbers import plain_number


def _missing(kind_word: str, value: Any) -> str:
    return f"{kind_word} {value} does not exist (or this snapshot deletes it or what it belongs to)"


def _validate(items: dict[str, dict[tuple, _Item]], stored: _Stored, after: _After,
              problems: list[ImportProblem]) -> None:
    """Check every item against the state the snapshot would produce."""

    def refuse(item: _Item, name: str | None, message: str, reason: str | None = None, **params: Any) -> None:
        item.ok = False
        problems.append(ImportProblem(item.path(name), message, reason, params))

    for kind in _KIND_LIST:
        for key, item in items[kind.name].items():
            if item.delete:
                continue
            base = stored.rows[kind.name].get(key)
            if base is None:
                for name in kind.required:
                    if name not in item.values and name not in item.bad:
                        refuse(item, name, "is required to create this item", "required")
            else:
                for name in kind.immutable:
                    if name in item.values and item.values[name] != base[name]:
                        refuse(item, name, f"cannot change (stored {base[name]}); delete the item and create it anew",
                               "read_only")
            parent_missing = False
            for parent_kind, column in _PARENTS.get(kind.name, ()):
                # By-id items name their parent in a field (an update may leave it out: the stored one
                # holds); facts name it in their key.
                value = item.values.get(column) if kind.by_id else key[kind.key.index(column)]
                if value is not None and not after.exists(parent_kind, value):
                    parent_missing = True
                    refuse(item, column, _missing(parent_kind[:-1], value), "removed_meanwhile")
            if base is not None and not parent_missing and after.row(kind.name, key) is None:
                refuse(item, None, "belongs to an item this snapshot deletes")

    _validate_lectures(items, stored, refuse)
    _validate_session_orders(items, stored, after, problems)
    _validate_enrollment_pairs(items, stored, after, refuse)
    _validate_exams(items, stored, after, refuse)
    _validate_homeworks(items, stored, after, refuse)
    _validate_facts(items, stored, after, refuse)
    _validate_guardians(items, stored, refuse)


def _validate_lectures(items, stored: _Stored, refuse) -> None:
    for key, item in items["lectures"].items():
        if item.delete or "policy" not in item.extra:
            continue
        base = stored.policies.get(key[0], POLICY_DEFAULTS)
        merged, problems = validate_policy_change(base, item.extra["policy"])
        for problem in problems:
            refuse(item, f"policy.{problem.field}", describe(problem), problem.reason, **problem.params)
        item.extra["policy_merged"] = merged


def _validate_session_orders(items, stored: _Stored, after: _After, problems: list[ImportProblem]) -> None:
    """Orders unique within each lecture after the import (swaps within a snapshot are fine)."""
    taken: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    keys = set(stored.rows["sessions"]) | set(items["sessions"])
    for key in keys:
        row = after.row("sessions", key)
        if row is None or row["lecture_id"] not in stored.ordered_lectures and key not in items["sessions"]:
            continue
        if row.get("order") is not None:
            taken[(row["lecture_id"], row["order"])].append(key)
    for (lecture_id, order), holders in taken.items():
        if len(holders) < 2:
            continue
        for key in holders:
            item = items["sessions"].get(key)
            if item is not None and ("order" in item.values):
                others = sorted(k[0] for k in holders if k != key)
                item.ok = False
                problems.append(ImportProblem(
                    item.path("order"),
                    f"order {order} is already used in lecture {lecture_id} by session {', '.join(map(str, others))}",
                    "session_order_taken"))


def _validate_enrollment_pairs(items, stored: _Stored, after: _After, refuse) -> None:
    """One enrollment per (student, lecture) after the import."""
    pairs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for (student_id, lecture_id), enrollment_id in stored.enrollment_pairs.items():
        if after.exists("enrollments", enrollment_id):
            pairs[(student_id, lecture_id)].append(enrollment_id)
    for key, item in items["enrollments"].items():
        if item.delete or key in stored.rows["enrollments"]:
            continue
        row = after.row("enrollments", key)
        if row is None:
            continue
        pair = (row["student_id"], row["lecture_id"])
        if pairs[pair]:
            refuse(item, None, f"student {pair[0]} is already enrolled in lecture {pair[1]} "
                               f"(enrollment {pairs[pair][0]})", "already_enrolled")
        pairs[pair].append(key[0])


def _validate_exams(items, stored: _Stored, after: _After, refuse) -> None:
    for key, item in items["exams"].items():
        if item.delete:
            continue
        row = after.row("exams", key)
        if row is None:
            continue
        if row["pass_score"] is not None and row["pass_score"] > row["max_score"]:
            name = "pass_score" if "pass_score" in item.values else "max_score"
            refuse(item, name, f"pass score {row['pass_score']} is above the max score {row['max_score']}",
                   "pass_above_max")
        for session_id in sorted(item.extra.get("session_ids", ())):
            if not after.exists("sessions", session_id):
                refuse(item, "session_ids", _missing("session", session_id), "removed_meanwhile")

    # Stored attempts above a lowered max score (unless the snapshot rescores or removes them).
    _refuse_scores_above_max(
        items, "attempts", "exams", stored.attempts_above, after, refuse,
        lambda fact: f"enrollment {fact.key[0]} attempt {fact.key[2]}: {fact.score}",
    )

    # An exam must stay linked to a session of the lecture of every enrollment that sat it.
    needed: dict[tuple[int, int], list[int]] = defaultdict(list)
    for fact in stored.linked_attempts:
        if after.survives("attempts", fact) and fact.lecture_id not in after.lectures_linked(fact.parent):
            needed[(fact.parent, fact.lecture_id)].append(fact.key[0])
    for (exam_id, lecture_id), enrollments in sorted(needed.items()):
        message = (f"exam {exam_id} would no longer be linked to a session of lecture {lecture_id}, "
                   f"which attempts of enrollment {', '.join(map(str, sorted(set(enrollments))[:5]))} need")
        item = items["exams"].get((exam_id,))
        if item is not None and "session_ids" in item.extra:
            refuse(item, "session_ids", message, "exam_link_needed_by_attempts")
            continue
        # The links vanish with a deleted session: blame the deletes.
        for session_id in sorted(stored.links.get(exam_id, ())):
            session_item = items["sessions"].get((session_id,))
            if session_item is not None and session_item.delete:
                refuse(session_item, "delete", message, "session_needed_by_attempts")


def _refuse_scores_above_max(items, kind: str, parent_kind: str, facts, after: _After, refuse, describe) -> None:
    """Stored scores (`facts`, of `kind`) above their parent's lowered max score refuse the parent's
    `max_score`, unless the snapshot removes them or gives them a new score (checked on its own)."""
    above: dict[int, list[str]] = defaultdict(list)
    for fact in facts:
        rescored = items[kind].get(fact.key)
        if rescored is not None and "score" in rescored.values:
            continue
        if after.survives(kind, fact):
            above[fact.parent].append(describe(fact))
    for parent_id, lines in above.items():
        refuse(items[parent_kind][(parent_id,)], "max_score",
               f"is below stored scores ({'; '.join(sorted(lines)[:5])}{' …' if len(lines) > 5 else ''})",
               "stored_scores_above_max")


def _validate_homeworks(items, stored: _Stored, after: _After, refuse) -> None:
    _refuse_scores_above_max(
        items, "homework_submissions", "homeworks", stored.submissions_above, after, refuse,
        lambda fact: f"enrollment {fact.key[0]}: {fact.score}",
    )
    wrong: dict[int, list[int]] = defaultdict(list)
    for fact in stored.moved_submissions:
        homework = after.row("homeworks", (fact.parent,))
        if homework is None or not after.survives("homework_submissions", fact):
            continue
        if after.lecture_of_session(homework["session_id"]) != fact.lecture_id:
            wrong[fact.parent].append(fact.key[0])
    for homework_id, enrollments in wrong.items():
        refuse(items["homeworks"][(homework_id,)], "session_id",
               "moves the homework to another lecture while submissions of enrollment "
               + ", ".join(map(str, sorted(enrollments)[:5])) + " remain")


def _validate_facts(items, stored: _Stored, after: _After, refuse) -> None:
    for key, item in items["attempts"].items():
        if item.delete or not item.ok:
            continue
        enrollment_id, exam_id, _ = key
        enrollment, exam = after.row("enrollments", (enrollment_id,)), after.row("exams", (exam_id,))
        if enrollment is None or exam is None:
            continue
        if enrollment["lecture_id"] not in after.lectures_linked(exam_id):
            refuse(item, "exam_id", f"exam {exam_id} is not linked to a session of lecture "
                                    f"{enrollment['lecture_id']} (enrollment {enrollment_id}'s lecture)",
                   "exam_link_needed_by_attempts")
        row = after.row("attempts", key)
        if row is not None and row.get("score") is not None and row["score"] > exam["max_score"]:
            refuse(item, "score", f"{row['score']} is above the exam's max score {exam['max_score']}",
                   "score_above_max", max=plain_number(exam["max_score"]))
    for key, item in items["homework_submissions"].items():
        if item.delete or not item.ok:
            continue
        enrollment, homework = after.row("enrollments", (key[0],)), after.row("homeworks", (key[1],))
        if enrollment is None or homework is None:
            continue
        if after.lecture_of_session(homework["session_id"]) != enrollment["lecture_id"]:
            refuse(item, "homework_id", f"homework {key[1]} does not belong to lecture {enrollment['lecture_id']} "
                                        f"(enrollment {key[0]}'s lecture)")
        row = after.row("homework_submissions", key)
        if row is not None and row["score"] is not None and row["score"] > homework["max_score"]:
            refuse(item, "score", f"{row['score']} is above the homework's max score {homework['max_score']}",
                   "score_above_max", max=plain_number(homework["max_score"]))
    for key, item in items["activities"].items():
        if item.delete or not item.ok:
            continue
        enrollment = after.row("enrollments", (key[0],))
        lecture_id = after.lecture_of_session(key[1])
        if enrollment is not None and lecture_id is not None and lecture_id != enrollment["lecture_id"]:
            refuse(item, "session_id", f"session {key[1]} does not belong to lecture {enrollment['lecture_id']} "
                                       f"(enrollment {key[0]}'s lecture)")


def _settle_roll_calls(items, stored: _Stored, problems: list[ImportProblem]) -> None:
    """Give each activity the attendance its presence means, or clear a stored presence its new
    attendance contradicts (SPEC §12), so the plan sees the values that will be stored: importing
    the same snapshot again then finds nothing to change."""
    for key, item in items["activities"].items():
        if item.delete or not item.ok:
            continue
        given = {name: item.values[name] for name in ("attendance", "presence") if name in item.values}
        if not given:
            continue
        base = stored.rows["activities"].get(key) or {"attendance": "online", "presence": None}
        try:
            attendance, presence = roll_call(base["attendance"], base["presence"], **given)
        except PresenceConflict:
            item.ok = False
            problems.append(ImportProblem(item.path("presence"), f"{given['presence']} contradicts attendance "
                                          f"{given['attendance']} (present and late mean offline, absent and "
                                          "excused online)", "presence_contradicts_attendance"))
            continue
        if "presence" in given or presence != base["presence"]:
            item.values["presence"] = presence
        if "attendance" in given or attendance != base["attendance"]:
            item.values["attendance"] = attendance


def _validate_guardians(items, stored: _Stored, refuse) -> None:
    for key, item in items["students"].items():
        for i, row in enumerate(item.extra.get("guardians", ())):
            owner = stored.guardian_owners.get(row["id"])
            if owner is not None and owner != key[0]:
                refuse(item, f"guardians[{i}].id", f"guardian {row['id']} belongs to another student")

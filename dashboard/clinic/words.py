"""Clinic links in the reader's words, never as codes: one link's reasons with their figures
("Exam 30 (pass 70)", "Not completed: video, homework"), and a student's many links summed up in
a few phrases ("Sessions not completed: 38", "Exams below the pass line: 12 (lowest 23, pass 60)").

A link here is anything with `reason`, `meta` and `memo` (a ClinicLink or a row of those columns).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _meta(link: Any) -> dict[str, Any]:
    return link.meta if isinstance(link.meta, dict) else {}


def exam_risk_words(reasons: dict[str, Any]) -> list[str]:
    """One exam's risk causes (an AUTO_RISK link's `meta.exam_reasons` entry) with their figures."""
    words: list[str] = []
    if "LOW_SCORE" in reasons:
        low = reasons["LOW_SCORE"]
        words.append(_("Exam %(score)s (pass %(pass_score)s)", score=_number(low.get("score")),
                       pass_score=_number(low.get("pass_score"))))
    if "LOW_CONFIDENCE_OMR" in reasons:
        words.append(_("%(count)s unclear OMR marks", count=reasons["LOW_CONFIDENCE_OMR"].get("count")))
    if "REPEATED_WRONG" in reasons:
        questions = ", ".join(str(q) for q in reasons["REPEATED_WRONG"].get("questions", []))
        words.append(_("Wrong again on questions %(questions)s", questions=questions))
    return words


def plain_reasons(link: Any) -> tuple[str, ...]:
    """A link's reasons as people say them, with their figures: "Exam 30 (pass 70)"."""
    meta = _meta(link)
    words: list[str] = []
    if link.reason == "AUTO_FAILED":
        missed = [label for key, label in (("video_completed", _("video")), ("exam_passed", _("exam")),
                                           ("homework_passed", _("homework"))) if meta.get(key) is False]
        words.append(_("Not completed: %(parts)s", parts=", ".join(missed)) if missed else _("Not completed"))
    elif link.reason == "AUTO_RISK":
        for reasons in (meta.get("exam_reasons") or {}).values():
            words.extend(exam_risk_words(reasons))
    elif link.reason == "MANUAL_REQUEST":
        words.append(_("Requested: %(memo)s", memo=link.memo or ""))
    else:
        words.append(_("Teacher recommends: %(memo)s", memo=link.memo or ""))
    return tuple(words)


def _score_key(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def summary(links: Iterable[Any]) -> tuple[str, ...]:
    """A student's open links in a few phrases, each kind of need once with how many and its
    telling figure: the lowest exam score, the newest request's memo. Counted without a
    translation call per link, so a student with sixty links costs what one with six does."""
    failed = 0
    low: list[tuple[Any, Any]] = []
    unclear = wrong = 0
    requests: list[tuple[int, str]] = []  # (link id, memo): the newest link's memo is shown
    recommendations: list[tuple[int, str]] = []
    for link in links:
        if link.reason == "AUTO_FAILED":
            failed += 1
        elif link.reason == "AUTO_RISK":
            for reasons in (_meta(link).get("exam_reasons") or {}).values():
                if "LOW_SCORE" in reasons:
                    low.append((reasons["LOW_SCORE"].get("score"), reasons["LOW_SCORE"].get("pass_score")))
                unclear += "LOW_CONFIDENCE_OMR" in reasons
                wrong += "REPEATED_WRONG" in reasons
        elif link.reason == "MANUAL_REQUEST":
            requests.append((link.id, link.memo or ""))
        else:
            recommendations.append((link.id, link.memo or ""))
    words: list[str] = []
    if failed:
        words.append(_("Sessions not completed: %(n)s", n=failed))
    if low:
        score, pass_score = min(low, key=lambda pair: _score_key(pair[0]))
        figures = {"score": _number(score), "pass_score": _number(pass_score)}
        words.append(_("Exam %(score)s (pass %(pass_score)s)", **figures) if len(low) == 1 else
                     _("Exams below the pass line: %(n)s (lowest %(score)s, pass %(pass_score)s)", n=len(low), **figures))
    if unclear:
        words.append(_("Exams with unclear OMR marks: %(n)s", n=unclear))
    if wrong:
        words.append(_("Exams answered wrong again: %(n)s", n=wrong))
    for memos, one, many in ((requests, _("Requested: %(memo)s"), _("Requests: %(n)s (latest: %(memo)s)")),
                             (recommendations, _("Teacher recommends: %(memo)s"),
                              _("Teacher recommendations: %(n)s (latest: %(memo)s)"))):
        if memos:
            latest = max(memos)[1]
            words.append(one % {"memo": latest} if len(memos) == 1 else many % {"n": len(memos), "memo": latest})
    return tuple(words)

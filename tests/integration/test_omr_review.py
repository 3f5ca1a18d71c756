"""The OMR review pages' read side (dashboard/omr/review.py) on both databases: which scans each
set of lectures sees, the review filters, oldest-first paging, one scan's row, the filters'
options, the students a scan may be assigned to, and who corrected it.

Academy: tests/web/factories.build_academy (today 2026-04-01), with the key of test_omr.py on the
quiz (Algebra II week 2): 1:"1", 2:"2", 3:"3", 4:"24", 25 points each. Scans, in the order made:
- `unsure`: Park_100%, question 2 read at confidence 0.61: graded 75, [ANSWER_LOW_CONFIDENCE];
- `nameless`: the quiz, identifier blank: needs_review, [IDENTIFIER_NOT_OK];
- `clean`: Kim Minji, every answer right: graded 100, no reasons (nothing to review);
- `waiting`: Lee Jisoo registered, no reading yet: pending (nothing to review);
- `triangles`: Kim Minho on the Geometry quiz, the answer blank: graded 0, [ANSWER_BLANK_OR_MULTI];
- `shared`: the mock exam (Algebra week 1 and Geometry), identifier blank: needs_review, so it
  belongs to both lectures.
Needing review: unsure, nameless, triangles, shared.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from dashboard.omr import intake as omr, review as omr_review
from dashboard.extensions import db
from dashboard.models import MAX_ID, Exam, OmrScan
from dashboard.omr.review import (
    QueueFilters,
    assignable,
    corrected_by,
    load_choices,
    load_queue,
    load_row,
    review_count,
)
from dashboard.listing import id_or_none
from tests.factories import ALL_RIGHT, UNSURE, Academy, add_answer_key, build_academy, make_exam, read_scan

BLANK = [{"question": 1, "detected": [], "marking": "blank", "confidence": 0.9, "status": "ok"}]
NOBODY = {"status": "blank", "enrollment_id": None}


@dataclass
class Scans:
    academy: Academy
    triangles_exam: Exam
    mock_exam: Exam
    unsure: int
    nameless: int
    clean: int
    waiting: int
    triangles: int
    shared: int


@pytest.fixture
def scans(app) -> Scans:
    academy = build_academy()
    add_answer_key(academy.quiz)
    triangles_exam = make_exam([academy.geometry_week], title="Geometry quiz")
    add_answer_key(triangles_exam, {1: "2"}, 10)
    mock_exam = make_exam([academy.weeks[0], academy.geometry_week], title="Mock exam")
    add_answer_key(mock_exam)
    add_answer_key(make_exam([academy.weeks[0]], title="Alpha test"), {1: "1"}, 10)  # no scan: never offered
    return Scans(
        academy, triangles_exam, mock_exam,
        unsure=read_scan(academy.quiz, academy.park, UNSURE),
        nameless=read_scan(academy.quiz, None, ALL_RIGHT, NOBODY),
        clean=read_scan(academy.quiz, academy.minji, ALL_RIGHT),
        waiting=read_scan(academy.quiz, academy.jisoo),
        triangles=read_scan(triangles_exam, academy.minho, BLANK),
        shared=read_scan(mock_exam, None, ALL_RIGHT, NOBODY),
    )


def ids(filters: QueueFilters, visible: set[int] | None = None) -> list[int]:
    return [row.scan.id for row in load_queue(filters, visible).rows]


EVERY = QueueFilters(needs_review="all")


# ---------------------------------------------------------------- filters as the page sends them

def test_filters_ignore_what_they_cannot_read():
    filters = QueueFilters.from_args({"needs_review": "maybe", "exam": "x", "lecture": "0", "page": "-1"})
    assert filters == QueueFilters()
    assert filters.args() == {}
    assert QueueFilters.from_args({"page": str(MAX_ID + 1)}).page == 1


def test_filters_round_trip_through_their_arguments():
    args = {"needs_review": "all", "exam": "3", "lecture": "4", "page": "2"}
    filters = QueueFilters.from_args(args)
    assert filters == QueueFilters("all", 3, 4, 2)
    assert {key: str(value) for key, value in filters.args().items()} == args
    assert filters.args(page=1, needs_review="true") == {"exam": 3, "lecture": 4}


def test_an_id_is_a_whole_number_from_one_to_the_largest_id():
    assert id_or_none(" 7 ") == 7
    assert id_or_none(str(MAX_ID)) == MAX_ID
    assert [id_or_none(text) for text in (None, "", "0", "-3", "2.5", "٣", str(MAX_ID + 1))] == [None] * 7


# ---------------------------------------------------------------- scoping

def test_visible_lectures_scope_the_queue_and_the_count(scans):
    academy = scans.academy
    everything = [scans.unsure, scans.nameless, scans.clean, scans.waiting, scans.triangles, scans.shared]
    assert ids(EVERY) == everything
    # A scan without its student belongs to every lecture of its exam: `shared` to both.
    assert ids(EVERY, {academy.algebra.id}) == [
        scans.unsure, scans.nameless, scans.clean, scans.waiting, scans.shared]
    assert ids(EVERY, {academy.geometry.id}) == [scans.triangles, scans.shared]
    assert ids(EVERY, set()) == [] and load_queue(EVERY, set()).count == 0

    assert review_count(None) == 4
    assert review_count({academy.algebra.id}) == 3
    assert review_count({academy.geometry.id}) == 2
    assert review_count(set()) == 0


def test_one_row_only_when_visible(scans):
    academy = scans.academy
    row = load_row(scans.unsure, {academy.algebra.id})
    assert row is not None and row.scan.id == scans.unsure
    assert (row.student_name, row.lecture_id, row.lecture_title, row.exam_title) == (
        "Park_100%", academy.algebra.id, "Algebra II", academy.quiz.title)
    assert (row.attempt_no, row.score, row.max_score) == (1, Decimal(75), Decimal(100))
    nameless = load_row(scans.nameless, None)
    assert (nameless.student_name, nameless.lecture_id, nameless.attempt_no, nameless.score) == (None, None, None, None)

    assert load_row(scans.unsure, {academy.geometry.id}) is None
    assert load_row(scans.nameless, {academy.geometry.id}) is None
    assert load_row(scans.shared, {academy.geometry.id}) is not None
    assert load_row(scans.triangles, set()) is None
    assert load_row(10**6, None) is None


def test_choices_follow_the_visible_lectures(scans):
    academy = scans.academy
    everyone = load_choices(None)
    assert everyone.lectures == [(academy.algebra.id, "Algebra II"), (academy.geometry.id, "Geometry")]
    # Exams with scans only (not "Alpha test"), by title.
    assert everyone.exams == sorted([(scans.triangles_exam.id, "Geometry quiz"), (scans.mock_exam.id, "Mock exam"),
                                     (academy.quiz.id, academy.quiz.title)], key=lambda exam: exam[1])
    teacher_b = load_choices({academy.geometry.id})
    assert teacher_b.lectures == [(academy.geometry.id, "Geometry")]
    assert teacher_b.exams == [(scans.triangles_exam.id, "Geometry quiz"), (scans.mock_exam.id, "Mock exam")]
    nobody = load_choices(set())
    assert nobody.lectures == [] and nobody.exams == []


# ---------------------------------------------------------------- filters

def test_review_exam_and_lecture_filters(scans):
    academy = scans.academy
    assert ids(QueueFilters()) == [scans.unsure, scans.nameless, scans.triangles, scans.shared]
    assert ids(QueueFilters(needs_review="false")) == [scans.clean, scans.waiting]
    assert ids(QueueFilters(exam=academy.quiz.id)) == [scans.unsure, scans.nameless]
    assert ids(QueueFilters(needs_review="all", exam=academy.quiz.id)) == [
        scans.unsure, scans.nameless, scans.clean, scans.waiting]
    assert ids(QueueFilters(lecture=academy.geometry.id)) == [scans.triangles, scans.shared]
    assert ids(QueueFilters(needs_review="all", lecture=academy.algebra.id)) == [
        scans.unsure, scans.nameless, scans.clean, scans.waiting, scans.shared]
    # The lecture filter narrows what the user sees, never widens it.
    assert ids(QueueFilters(needs_review="all", lecture=academy.algebra.id), {academy.geometry.id}) == [scans.shared]
    assert load_queue(QueueFilters(exam=academy.quiz.id), None).count == 2


# ---------------------------------------------------------------- ordering and paging

def test_oldest_scan_first_in_pages(scans, monkeypatch):
    every = ids(EVERY)
    assert every == sorted(every)
    monkeypatch.setattr(omr_review, "PAGE_SIZE", 3)
    pages = [load_queue(QueueFilters(needs_review="all", page=page), None) for page in (1, 2, 3)]
    assert [[row.scan.id for row in page.rows] for page in pages] == [every[:3], every[3:], []]
    # Six scans fill two pages exactly: the second has no next.
    assert [page.has_next for page in pages] == [True, False, False]
    assert all(page.count == 6 for page in pages)


# ---------------------------------------------------------------- assigning and corrections

def test_assignable_students_are_the_exams_active_ones_within_the_visible_lectures(scans):
    academy = scans.academy
    nameless = db.session.get(OmrScan, scans.nameless)
    algebra = [(academy.minji.id, "Kim Minji", "Algebra II"), (academy.jisoo.id, "Lee Jisoo", "Algebra II"),
               (academy.park.id, "Park_100%", "Algebra II")]  # Choi Yuna is withdrawn
    assert assignable(nameless, None) == algebra
    assert assignable(nameless, {academy.geometry.id}) == []
    assert assignable(nameless, set()) == []

    shared = db.session.get(OmrScan, scans.shared)
    minho = (academy.minho.id, "Kim Minho", "Geometry")
    assert assignable(shared, None) == [*algebra, minho]
    assert assignable(shared, {academy.geometry.id}) == [minho]
    assert assignable(shared, None, "kim") == [algebra[0], minho]
    assert assignable(shared, None, "k_") == [algebra[2]]  # the wildcard taken literally


def test_corrected_by_names_who_corrected_the_scan(scans):
    staff = scans.academy.users["staff"]
    unsure = db.session.get(OmrScan, scans.unsure)
    assert corrected_by(unsure) is None
    omr.correct_answers(staff, scans.unsure, {"answers": [{"question": 2, "detected": ["2"]}]})
    assert corrected_by(unsure) == "staff"

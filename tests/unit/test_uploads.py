"""The pure part of spreadsheet uploads (dashboard/academy/uploads.py): decoding, reading rows with their
line numbers, building a snapshot per kind from a lecture's facts, and mapping importer paths
back to lines. No database."""
from __future__ import annotations

from decimal import Decimal
from itertools import count

import pytest

from dashboard.academy import uploads
from dashboard.academy.uploads import LectureFacts, Row

FACTS = LectureFacts(
    lecture_id=1,
    enrollments={100: (1000, False), 101: (1001, False), 102: (1002, True)},
    students={100: ("Kim Minji", None, None), 101: ("Lee Jisoo", "010", None), 102: ("Choi", None, None),
              200: ("Kim Minho", None, None)},
    exam_ids=frozenset({500}),
    homework_ids=frozenset({700}),
    session_by_order={1: 11, 2: 12},
    editable_students=None,
)


def ids():
    numbers = count(9000)
    return lambda kind: next(numbers)


def rows(kind: str, text: str) -> list[Row]:
    return uploads.read_rows(kind, uploads.decode(text.encode("utf-8")))


def test_decode_takes_utf8_with_or_without_bom_or_cp949_and_refuses_other_bytes():
    assert uploads.decode("\ufeffname\n김민지\n".encode()) == "name\n김민지\n"
    assert uploads.decode("name\n김민지\n".encode()) == "name\n김민지\n"
    # Korean Excel's "CSV (쉼표로 분리)".
    assert uploads.decode("name\n김민지\n".encode("cp949")) == "name\n김민지\n"
    with pytest.raises(uploads.UploadRejected):
        uploads.decode(b"name\n\xff\xfe\xff\n")


def test_decode_reads_the_first_sheet_of_an_excel_workbook():
    """Numbers as typed (85, not 85.0; 72.5), dates as YYYY-MM-DD, empty cells blank, Korean kept."""
    import io
    from datetime import date

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["student_id", "exam_id", "score", "submitted_at", "student_name"])
    sheet.append([3, 500, 85, date(2026, 3, 9), "김민지"])
    sheet.append([4, 500, 72.5, None, "이지수"])
    workbook.create_sheet("ignored").append(["not", "read"])
    out = io.BytesIO()
    workbook.save(out)
    text = uploads.decode(out.getvalue())
    assert text == ("student_id,exam_id,score,submitted_at,student_name\n3,500,85,2026-03-09,김민지\n"
                    "4,500,72.5,,이지수\n")
    assert [r.values["score"] for r in uploads.read_rows("scores", text)] == ["85", "72.5"]


def test_a_broken_workbook_is_refused():
    with pytest.raises(uploads.UploadRejected):
        uploads.decode(b"PK\x03\x04 not really a zip")


def test_rows_keep_the_line_they_start_on_and_skip_blank_lines():
    read = rows("roster", 'Name, Student_ID\n"Kim\nMinji",\n\n,,\nLee,3\n')
    assert [(r.line, r.values) for r in read] == [(2, {"name": "Kim\nMinji", "student_id": ""}),
                                                  (6, {"name": "Lee", "student_id": "3"})]


@pytest.mark.parametrize("header", ["student_id,contact", "name,age", "name,name"])
def test_a_header_missing_a_required_column_or_naming_an_unknown_one_refuses_the_file(header):
    with pytest.raises(uploads.UploadRejected) as refused:
        rows("roster", header + "\nx,y\n")
    assert refused.value.problems[0][0] == 1


def test_roster_new_existing_reenrolled_and_bad_rows():
    read = rows("roster", "name,student_id,contact,start_date\n"
                          "Park New,,,2026-03-10\n"      # 2: new student + enrollment
                          "Kim Minji,100,,\n"            # 3: enrolled, nothing changes
                          "Lee Jisoo,101,011,\n"         # 4: contact changes
                          ",102,,\n"                     # 5: withdrawn: reactivated
                          "Kim Minho,200,,\n"            # 6: another lecture's student: enrolled here
                          ",,,\n"                        # blank: skipped, no line
                          ",999,,\n"                     # 8: unknown student
                          ",,010,\n"                     # 9: new student without a name
                          "x,100,,2026-02-30\n"          # 10: bad date
                          "Kim Minji,100,,\n")           # 11: repeats line 3
    built = uploads.build("roster", read, FACTS, ids())
    assert built.snapshot["students"] == [{"id": 9000, "name": "Park New"}, {"id": 101, "contact": "011"}]
    assert built.snapshot["enrollments"] == [
        {"id": 9001, "student_id": 9000, "lecture_id": 1, "start_date": "2026-03-10"},
        {"id": 1002, "withdrawn_at": None},
        {"id": 9002, "student_id": 200, "lecture_id": 1, "start_date": None}]
    assert built.lines == {("students", 0): 2, ("enrollments", 0): 2, ("students", 1): 4, ("enrollments", 1): 5,
                           ("enrollments", 2): 6}
    assert built.row_lines == [2, 3, 4, 5, 6]
    assert [line for line, _m in built.problems] == [8, 9, 10, 11]


def test_a_teachers_roster_may_not_change_details_of_students_outside_their_lectures():
    facts = LectureFacts(**{**FACTS.__dict__, "editable_students": frozenset({100, 101})})
    built = uploads.build("roster", rows("roster", "name,student_id\nKim Minho 2,200\nKim Minho,200\n"),
                          facts, ids())
    assert built.problems[0][0] == 2
    assert built.snapshot["enrollments"] == [{"id": 9000, "student_id": 200, "lecture_id": 1, "start_date": None}]


def test_scores_rows_name_only_this_lectures_students_and_exams():
    read = rows("scores", "student_id,exam_id,score,attempt_no,submitted_at\n"
                          "100,500,72.5,,2026-03-09T10:00:00+09:00\n"   # 2
                          "101,500,40,2,\n"                             # 3
                          "101,500,,,\n"                                # blank score: skipped
                          "200,500,50,,\n"                              # 5: not enrolled here
                          "102,500,50,,\n"                              # 6: withdrawn
                          "100,501,50,,\n"                              # 7: another lecture's exam
                          "100,500,abc,3,\n"                            # 8: not a number
                          "100,500,10,0,\n")                            # 9: attempt 0
    built = uploads.build("scores", read, FACTS, ids())
    assert built.snapshot["attempts"] == [
        {"enrollment_id": 1000, "exam_id": 500, "attempt_no": 1, "score": Decimal("72.5"),
         "submitted_at": "2026-03-09T10:00:00+09:00"},
        {"enrollment_id": 1001, "exam_id": 500, "attempt_no": 2, "score": Decimal(40)}]
    assert [line for line, _m in built.problems] == [5, 6, 7, 8, 9]
    assert built.skipped == [4]


def test_homework_and_activity_rows_leave_blank_cells_out():
    homework = uploads.build("homework", rows("homework", "student_id,homework_id,submitted,score,approved\n"
                                                          "100,700,yes,,\n101,700,,85,no\n100,701,yes,,\n"
                                                          "101,700,maybe,,\n"), FACTS, ids())
    assert homework.snapshot["homework_submissions"] == [
        {"enrollment_id": 1000, "homework_id": 700, "submitted": True},
        {"enrollment_id": 1001, "homework_id": 700, "score": Decimal(85), "approved": False}]
    assert [line for line, _m in homework.problems] == [4, 5]
    activity = uploads.build("activity", rows("activity", "student_id,session,attendance,video_rate\n"
                                                          "100,1,OFFLINE,\n100,2,,95\n100,3,,10\n101,1,,101\n"),
                             FACTS, ids())
    assert activity.snapshot["activities"] == [{"enrollment_id": 1000, "session_id": 11, "attendance": "offline"},
                                               {"enrollment_id": 1000, "session_id": 12, "video_rate": 95}]
    assert [line for line, _m in activity.problems] == [4, 5]


def test_importer_paths_map_back_to_lines():
    lines = {("attempts", 0): 2, ("attempts", 1): 5}
    assert uploads._line_of("attempts[1].score", lines) == 5
    assert uploads._line_of("attempts[0]", lines) == 2
    assert uploads._line_of(None, lines) is None and uploads._line_of("attempts", lines) is None


def test_a_template_apostrophe_before_a_formula_mark_is_undone():
    built = uploads.build("roster", rows("roster", "name\n'-Kim\n'Kim\n"), FACTS, ids())
    assert [s["name"] for s in built.snapshot["students"]] == ["-Kim", "'Kim"]


def test_a_quote_left_open_is_reported_at_its_line_not_skipped_as_blank():
    """A lone quote on line 3 used to swallow the rest of the file into one blank row."""
    from dashboard.academy.uploads import UploadRejected, read_rows

    for text in ('name,student_id\nA,\n"\n', 'name,student_id\nA,1\n"B,2\nC,3\n'):
        with pytest.raises(UploadRejected) as refused:
            read_rows("roster", text)
        (line, message), = refused.value.problems
        assert line == 3 and "never closed" in str(message)

"""Spreadsheet uploads (dashboard/academy/uploads.py) against the database, on both databases: the preview
(create / update / unchanged per line, importer problems mapped back to lines) writes nothing,
apply goes through the importer (recompute, one audit row), and a file with a bad row changes
nothing.

Academy: tests/web/factories.build_academy, today 2026-04-01, default policy. Algebra II: Week
1..3 due, the quiz on Week 2 (pass 60, max 100) with Minji 72.5 and Jisoo 40; Minji has video 95
everywhere (Weeks 1-3 completed), Jisoo and Park have nothing; Choi is withdrawn."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.academy import exams as setup_exams, uploads
from dashboard.extensions import db
from dashboard.models import (
    Guardian,
    Activity,
    Attempt,
    AuditLog,
    Enrollment,
    HomeworkSubmission,
    SessionProgress,
    Student,
)

from tests.factories import build_academy


@pytest.fixture
def academy(app):
    return build_academy()


def completed(enrollment, session) -> bool:
    return db.session.execute(select(SessionProgress.completed).where(
        SessionProgress.enrollment_id == enrollment.id, SessionProgress.session_id == session.id)
        .execution_options(populate_existing=True)).scalar_one()


def count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def outcomes(preview) -> dict[int, str]:
    return {o.line: o.action for o in preview.outcomes}


def test_roster_preview_then_apply(academy):
    admin, algebra = academy.users["admin"], academy.algebra
    minji, choi, minho = academy.minji, academy.choi, academy.minho
    text = (f"name,student_id,contact\nNew Student,,010-1\nKim Minji,{minji.student_id},\n"
            f",{choi.student_id},\nKim Minho,{minho.student_id},\n").encode()
    students_before = count(Student)
    preview = uploads.preview(admin, algebra.id, "roster", text)
    assert outcomes(preview) == {2: "create", 3: "unchanged", 4: "update", 5: "create"}
    assert preview.problems == [] and count(Student) == students_before
    counts = uploads.apply(admin, algebra.id, "roster", text, "roster.csv")
    assert (counts["created"]["students"], counts["created"]["enrollments"], counts["updated"]["enrollments"]) \
        == (1, 2, 1)
    db.session.expire_all()
    assert db.session.get(Enrollment, choi.id).withdrawn_at is None
    new = db.session.execute(select(Student).where(Student.name == "New Student")).scalar_one()
    assert new.contact == "010-1"
    # The new student has nothing done: a row for each of the three held sessions, none completed.
    enrollment = db.session.execute(select(Enrollment).where(Enrollment.student_id == new.id)).scalar_one()
    assert count(SessionProgress, SessionProgress.enrollment_id == enrollment.id,
                 SessionProgress.completed.is_(False)) == 3
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "upload.roster")).scalar_one()
    assert entry.after["file"] == "roster.csv" and entry.after["rows"] == 4 and entry.lecture_id == algebra.id


def test_scores_a_bad_row_changes_nothing_and_importer_problems_name_their_line(academy):
    admin, quiz = academy.users["admin"], academy.quiz
    minji, jisoo = academy.minji.student_id, academy.jisoo.student_id
    text = (f"student_id,exam_id,score,attempt_no\n{minji},{quiz.id},50,2\n"
            f"{jisoo},{quiz.id},120,2\n").encode()  # line 3: above the max score 100
    preview = uploads.preview(admin, academy.algebra.id, "scores", text)
    assert [line for line, _m in preview.problems] == [3] and "score" in preview.problems[0][1]
    with pytest.raises(uploads.UploadRejected) as refused:
        uploads.apply(admin, academy.algebra.id, "scores", text)
    assert [line for line, _m in refused.value.problems] == [3]
    assert count(Attempt) == 2


def test_scores_apply_recomputes(academy):
    admin, quiz, week2 = academy.users["admin"], academy.quiz, academy.weeks[1]
    jisoo = academy.jisoo
    text = (f"student_id,exam_id,score,attempt_no,submitted_at\n"
            f"{jisoo.student_id},{quiz.id},65,2,2026-03-10T10:00:00+09:00\n"
            f"{academy.minji.student_id},{quiz.id},72.5,1,2026-03-09T10:00:00+09:00\n").encode()
    preview = uploads.preview(admin, academy.algebra.id, "scores", text)
    assert outcomes(preview) == {2: "create", 3: "unchanged"}
    uploads.apply(admin, academy.algebra.id, "scores", text)
    # Jisoo's latest attempt (65, later) passes the quiz now; her video 0 still fails Week 2.
    row = db.session.execute(select(SessionProgress).where(
        SessionProgress.enrollment_id == jisoo.id, SessionProgress.session_id == week2.id)
        .execution_options(populate_existing=True)).scalar_one()
    assert (row.exam_aggregate_score, row.exam_passed, row.completed) == (Decimal(65), True, False)


def test_homework_results_and_activity(academy):
    admin, week2 = academy.users["admin"], academy.weeks[1]
    homework = setup_exams.create_homework(admin, academy.algebra.id, week2.id, "Sheet", "100")
    minji, park = academy.minji, academy.park
    assert not completed(minji, week2)  # the new homework awaits the teacher's approval
    uploads.apply(admin, academy.algebra.id, "homework",
                  f"student_id,homework_id,submitted,approved\n{minji.student_id},{homework.id},yes,yes\n".encode())
    assert completed(minji, week2)
    assert db.session.execute(select(HomeworkSubmission.approved)).scalar_one() is True
    uploads.apply(admin, academy.algebra.id, "activity",
                  f"student_id,session,attendance,video_rate\n{park.student_id},1,offline,\n".encode())
    assert completed(park, academy.weeks[0])  # offline counts as video, Week 1 has no exam or homework
    assert count(Activity, Activity.enrollment_id == park.id) == 1


def test_rows_naming_another_lecture_are_refused(academy):
    teacher = academy.users["teacher_a"]
    minho = academy.minho.student_id
    text = f"student_id,session,video_rate\n{minho},1,100\n{academy.minji.student_id},9,100\n".encode()
    preview = uploads.preview(teacher, academy.algebra.id, "activity", text)
    assert [line for line, _m in preview.problems] == [2, 3] and preview.outcomes == []
    with pytest.raises(uploads.UploadRejected):
        uploads.apply(teacher, academy.algebra.id, "activity", text)
    assert count(Activity, Activity.enrollment_id == academy.minho.id) == 0


def test_an_unchanged_template_changes_nothing(academy):
    admin = academy.users["admin"]
    for kind in uploads.KINDS:
        lines = "\n".join(",".join(str(c) for c in row) for row in uploads.template_rows(academy.algebra.id, kind))
        preview = uploads.preview(admin, academy.algebra.id, kind, (lines + "\n").encode()) \
            if len(lines.splitlines()) > 1 else None
        if preview is not None:
            assert preview.problems == [] and not preview.changes, kind
    roster = uploads.template_rows(academy.algebra.id, "roster")
    assert roster[0] == list(uploads.COLUMNS["roster"]) and len(roster) == 4  # Minji, Jisoo, Park (Choi withdrawn)


def test_an_excel_workbook_and_a_cp949_file_upload_like_csv(academy):
    """Korean Excel's two ways of saving: an .xlsx workbook (scores) and "CSV (쉼표로 분리)" in CP949
    (attendance with the roll call)."""
    import io

    from openpyxl import Workbook

    from dashboard.models import Activity, Attempt

    admin = academy.users["admin"]
    workbook = Workbook()
    workbook.active.append(["student_id", "exam_id", "score", "student_name"])
    workbook.active.append([academy.park.student_id, academy.quiz.id, 88, "박"])
    out = io.BytesIO()
    workbook.save(out)
    uploads.apply(admin, academy.algebra.id, "scores", out.getvalue(), "점수.xlsx")
    assert db.session.execute(select(Attempt.score).where(Attempt.enrollment_id == academy.park.id)
                              ).scalar_one() == Decimal(88)
    text = f"student_id,session,presence,student_name\n{academy.park.student_id},1,late,박지성\n"
    uploads.apply(admin, academy.algebra.id, "activity", text.encode("cp949"), "출결.csv")
    assert db.session.execute(select(Activity.attendance, Activity.presence)
                              .where(Activity.enrollment_id == academy.park.id)).one() == ("offline", "late")


def test_a_roster_row_adds_or_updates_one_guardian_and_keeps_the_others(academy):
    """guardian_* columns: a new student gets the guardian; an existing student's guardian of the
    same name and relation is updated, the others stay; the same file again changes nothing."""
    admin, algebra, minji = academy.users["admin"], academy.algebra, academy.minji
    db.session.add(Guardian(student_id=minji.student_id, name="Kim Father", relation="부", phone="01000000001",
                            channel="sms", language="ko", consent=True))
    db.session.add(Guardian(student_id=minji.student_id, name="Kim Mother", relation="모", phone="01000000002",
                            channel="sms", language="ko", consent=False))
    db.session.flush()
    text = ("name,student_id,guardian_name,guardian_relation,guardian_phone,guardian_email,guardian_consent\n"
            "Han Yuri,,Han Mother,모,010-0000-7777,,yes\n"
            f"Kim Minji,{minji.student_id},Kim Mother,모,010 0000 0003,mom@example.com,yes\n").encode()
    preview = uploads.preview(admin, algebra.id, "roster", text)
    assert preview.problems == [] and outcomes(preview) == {2: "create", 3: "update"}
    uploads.apply(admin, algebra.id, "roster", text, "roster.csv")
    db.session.expire_all()
    han = db.session.execute(select(Student).where(Student.name == "Han Yuri")).scalar_one()
    assert [(g.name, g.relation, g.phone, g.channel, g.consent) for g in
            db.session.execute(select(Guardian).where(Guardian.student_id == han.id)).scalars()] \
        == [("Han Mother", "모", "01000007777", "sms", True)]
    kims = {g.name: (g.phone, g.email, g.consent) for g in
            db.session.execute(select(Guardian).where(Guardian.student_id == minji.student_id)).scalars()}
    assert kims == {"Kim Father": ("01000000001", None, True), "Kim Mother": ("01000000003", "mom@example.com", True)}
    again = uploads.preview(admin, algebra.id, "roster", text.replace(b"Han Yuri,,", f"Han Yuri,{han.id},".encode()))
    assert again.problems == [] and outcomes(again) == {2: "unchanged", 3: "unchanged"}


def test_a_roster_guardian_without_a_name_or_with_a_bad_phone_is_refused(academy):
    admin, algebra = academy.users["admin"], academy.algebra
    for row, word in (("Lee,,,모,010,,", "guardian_name"), ("Lee,,Lee Mother,모,call me,,", "guardian_phone")):
        text = f"name,student_id,guardian_name,guardian_relation,guardian_phone,guardian_email,guardian_consent\n{row}\n"
        preview = uploads.preview(admin, algebra.id, "roster", text.encode())
        assert len(preview.problems) == 1 and word in preview.problems[0][1], preview.problems


def test_an_importer_problem_is_shown_in_the_readers_language(academy):
    """The importer's own sentence is English (the API's); the upload page words a coded problem
    itself, here in Korean, with the column's name as the file spells it."""
    from flask_babel import force_locale

    admin, quiz = academy.users["admin"], academy.quiz
    text = f"student_id,exam_id,score,attempt_no\n{academy.jisoo.student_id},{quiz.id},120,2\n".encode()
    with force_locale("ko"):
        preview = uploads.preview(admin, academy.algebra.id, "scores", text)
    assert preview.problems == [(2, "score: 점수는 100 이하여야 합니다.")]

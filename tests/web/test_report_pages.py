"""The monthly report page, its comment, PDFs and parent links (SPEC §15).

The academy is tests/factories.build_academy (today 2026-04-01, grace 7 days). March's report of
Kim Minji, worked by hand: weeks 1..3 (03-02, 03-09, 03-16) are listed and due on 03-31, all
completed (video 95) -> 3 of 3; the quiz on week 2: her 72.5, class average of the active
students with a result (72.5 + Lee Jisoo's 40) / 2 = 56.25, pass line 60. Choi Yuna is withdrawn.
"""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.clock import now
from dashboard.extensions import db
from dashboard.models import AuditLog, ReportComment, ReportLink
from dashboard.reports import pdf
from tests.factories import build_academy

from .pages import HTMX, csrf_token, sign_in

LINK_URL = re.compile(r'id="new-link-url" type="text" readonly value="([^"]+)"')


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def page_of(client, enrollment, month="2026-03"):
    return client.get(f"/reports/{enrollment.id}" + (f"?month={month}" if month else ""))


def test_anonymous_visitor_is_sent_to_login(client, academy):
    response = page_of(client, academy.minji)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("who", ["admin", "staff", "teacher_a"])
def test_the_report_shows_the_months_figures(client, academy, who):
    sign_in(client, academy.users[who])
    response = page_of(client, academy.minji)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-report-enrollment="{academy.minji.id}" data-report-month="2026-03"' in html
    assert "Kim Minji" in html and "Algebra II" in html
    assert '<dd data-figure="completed">3 of 3 due</dd>' in html
    quiz_row = re.search(rf'<tr data-exam="{academy.quiz.id}">.*?</tr>', html, re.DOTALL).group(0)
    assert re.findall(r'<td class="num"[^>]*>([^<]*)</td>', quiz_row) == ["72.5 / 100", "56.25", "60"]
    assert "CONSECUTIVE" not in html and "AUTO_" not in html  # codes stay out of pages
    # Only those who write reports get the comment form and the link panel.
    assert ('name="comment"' in html) is (who != "staff")


def test_a_teacher_of_another_lecture_gets_404(client, academy):
    sign_in(client, academy.users["teacher_b"])
    assert page_of(client, academy.minji).status_code == 404
    assert client.get(f"/reports/{academy.minji.id}.pdf").status_code == 404
    assert client.get(f"/reports/lectures/{academy.algebra.id}.pdf").status_code == 404
    assert client.get("/reports/999999").status_code == 404


def test_the_default_month_is_the_academys_current_month_and_a_bad_one_is_400(client, academy):
    sign_in(client, academy.users["admin"])
    html = page_of(client, academy.minji, month=None).get_data(as_text=True)
    assert 'data-report-month="2026-04"' in html
    assert '<dd data-figure="completed">0 of 0 due</dd>' in html
    assert page_of(client, academy.minji, month="2026-13").status_code == 400


def test_the_student_page_links_to_the_report(client, academy):
    sign_in(client, academy.users["teacher_a"])
    html = client.get(f"/lectures/{academy.algebra.id}/students/{academy.minji.id}").get_data(as_text=True)
    assert f'href="/reports/{academy.minji.id}"' in html


def test_the_teacher_writes_the_months_comment(client, academy):
    teacher = academy.users["teacher_a"]
    sign_in(client, teacher)
    token = csrf_token(client, f"/reports/{academy.minji.id}?month=2026-03")
    response = client.post(f"/reports/{academy.minji.id}/comment", headers={"X-CSRFToken": token, **HTMX},
                           data={"month": "2026-03", "comment": "  수학적 사고력이 좋아졌어요.  "})
    assert response.status_code == 200
    assert '<p class="report-comment-text">수학적 사고력이 좋아졌어요.</p>' in response.get_data(as_text=True)
    saved = db.session.execute(select(ReportComment)).scalar_one()
    assert (saved.enrollment_id, saved.month, saved.text, saved.updated_by_id) == (
        academy.minji.id, "2026-03", "수학적 사고력이 좋아졌어요.", teacher.id)
    # Another month has its own comment.
    assert "수학적" not in page_of(client, academy.minji, "2026-02").get_data(as_text=True)
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "report_comment.save")).scalar_one()


def test_staff_may_not_write_the_comment(client, academy):
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, f"/reports/{academy.minji.id}")
    response = client.post(f"/reports/{academy.minji.id}/comment", headers={"X-CSRFToken": token},
                           data={"month": "2026-03", "comment": "x"})
    assert response.status_code == 403
    assert db.session.execute(select(ReportComment)).first() is None


def test_a_comment_too_long_is_refused_and_nothing_saved(client, academy):
    sign_in(client, academy.users["admin"])
    token = csrf_token(client, f"/reports/{academy.minji.id}")
    response = client.post(f"/reports/{academy.minji.id}/comment", headers={"X-CSRFToken": token},
                           data={"month": "2026-03", "comment": "가" * 2001})
    assert response.status_code == 422 and "At most 2000 characters." in response.get_data(as_text=True)
    assert db.session.execute(select(ReportComment)).first() is None


# ---------------------------------------------------------------- parent links (pages)

def create_link_on_the_page(client, academy, days="14"):
    token = csrf_token(client, f"/reports/{academy.minji.id}?month=2026-03")
    response = client.post(f"/reports/{academy.minji.id}/links", headers={"X-CSRFToken": token},
                           data={"month": "2026-03", "days": days})
    assert response.status_code == 201
    return LINK_URL.search(response.get_data(as_text=True)).group(1)


def test_a_parent_link_opens_that_one_report_signed_out_and_every_view_is_audited(app, academy):
    teacher_client = app.test_client()
    sign_in(teacher_client, academy.users["teacher_a"])
    url = create_link_on_the_page(teacher_client, academy)
    assert url.startswith("http://localhost/reports/shared/")
    stored = db.session.execute(select(ReportLink)).scalar_one()
    assert url.split("/")[-1].split(".")[0] not in stored.token_hash  # only a hash is kept

    parent = app.test_client()
    response = parent.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Kim Minji" in html and 'data-report-month="2026-03"' in html
    assert "Lee Jisoo" not in html and "topbar" not in html and "csrf" not in html.lower()
    assert response.headers["Cache-Control"] == "private, no-store"
    parent.get(url)
    actions = db.session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars().all()
    assert actions[-3:] == ["report_link.create", "report_link.view", "report_link.view"]

    # The page lists the active link, and revoking it closes it.
    html = page_of(teacher_client, academy.minji).get_data(as_text=True)
    assert f'<tr data-link="{stored.id}">' in html
    token = csrf_token(teacher_client, f"/reports/{academy.minji.id}")
    revoked = teacher_client.post(f"/reports/links/{stored.id}/revoke", headers={"X-CSRFToken": token, **HTMX},
                                  data={"month": "2026-03"})
    assert revoked.status_code == 200 and f'<tr data-link="{stored.id}">' not in revoked.get_data(as_text=True)
    assert parent.get(url).status_code == 404


def test_tampered_and_expired_links_answer_404(app, academy):
    teacher_client = app.test_client()
    sign_in(teacher_client, academy.users["admin"])
    url = create_link_on_the_page(teacher_client, academy, days="1")
    parent = app.test_client()
    token = url.rsplit("/", 1)[1]
    raw, signature = token.rsplit(".", 1)
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B") + "." + signature
    assert parent.get(f"/reports/shared/{tampered}").status_code == 404
    assert parent.get(f"/reports/shared/{raw}").status_code == 404
    assert parent.get(url).status_code == 200
    link = db.session.execute(select(ReportLink)).scalar_one()
    link.expires_at = now() - timedelta(seconds=1)
    db.session.commit()
    assert parent.get(url).status_code == 404


def test_staff_and_other_teachers_cannot_create_links(client, academy):
    sign_in(client, academy.users["staff"])
    token = csrf_token(client, f"/reports/{academy.minji.id}")
    response = client.post(f"/reports/{academy.minji.id}/links", headers={"X-CSRFToken": token},
                           data={"month": "2026-03", "days": "14"})
    assert response.status_code == 403
    assert db.session.execute(select(ReportLink)).first() is None


# ---------------------------------------------------------------- PDF

def pdf_text(body: bytes) -> tuple[int, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(body))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_the_report_as_pdf_carries_the_name_scores_and_korean_text(client, academy):
    sign_in(client, academy.users["teacher_a"])
    response = client.get(f"/reports/{academy.minji.id}.pdf?month=2026-03", headers={"Accept-Language": "ko"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages, text = pdf_text(response.data)
    assert pages == 1
    assert "Kim Minji" in text and "72.5" in text and "56.25" in text
    assert "월간 보고서" in text and "출석" in text  # Korean text, embedded and extractable


def test_a_lectures_reports_as_one_pdf_one_page_each(client, academy):
    sign_in(client, academy.users["admin"])
    response = client.get(f"/reports/lectures/{academy.algebra.id}.pdf?month=2026-03")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages, text = pdf_text(response.data)
    assert pages == 3  # Kim Minji, Lee Jisoo, Park_100%; Choi Yuna is withdrawn
    assert all(name in text for name in ("Kim Minji", "Lee Jisoo", "Park_100%"))
    assert "Choi Yuna" not in text and "Kim Minho" not in text


def test_without_weasyprint_the_pdf_explains_what_to_install_and_the_page_still_works(client, academy, monkeypatch):
    def missing():
        raise pdf.PdfUnavailable("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr(pdf, "load_weasyprint", missing)
    sign_in(client, academy.users["admin"])
    response = client.get(f"/reports/{academy.minji.id}.pdf?month=2026-03")
    assert response.status_code == 503 and "fonts-noto-cjk" in response.get_data(as_text=True)
    html = page_of(client, academy.minji).get_data(as_text=True)
    assert "fonts-noto-cjk" in html and "data-report-pdf" not in html and "Kim Minji" in html


def test_a_full_month_of_twelve_sessions_fits_one_a4_page(client, app):
    """12 sessions, each with an exam and a homework, risk logs and a long comment: still one page."""
    from datetime import date, datetime

    from dashboard.models import Activity, RiskLog
    from dashboard.progress.recompute import recompute_lecture
    from tests.factories import (
        KST,
        enroll,
        make_attempt,
        make_exam,
        make_homework,
        make_lecture,
        make_session,
        make_submission,
        make_user,
    )

    lecture = make_lecture("고등 수학 II (Algebra II)")
    student = enroll("김민지 (Kim Minji)", lecture)
    other = enroll("이지수", lecture)
    for order in range(1, 13):
        session = make_session(lecture, order, date(2026, 3, 2 * order), title=f"{order}차시 함수의 극한")
        exam = make_exam([session], title=f"{order}차시 확인 평가 (Quiz {order})")
        make_attempt(student, exam, 50 + order * 3)
        make_attempt(other, exam, 61)
        make_submission(student, make_homework(session), approved=order % 2 == 0)
        db.session.add(Activity(enrollment_id=student.id, session_id=session.id, attendance="offline",
                                presence=("present", "late", "absent", "excused")[order % 4]))
        if order % 3 == 0:
            db.session.add(RiskLog(enrollment_id=student.id, session_id=session.id, risk_level="WARNING",
                                   rule="CONSECUTIVE_LOW_SCORE", reason="x", meta={"count": 2},
                                   created_at=datetime(2026, 3, 2 * order, 20, tzinfo=KST)))
    db.session.add(ReportComment(enrollment_id=student.id, month="2026-03", text="성실하게 참여했습니다. " * 25))
    recompute_lecture(lecture.id)
    sign_in(client, make_user("boss", "admin"))
    response = client.get(f"/reports/{student.id}.pdf?month=2026-03", headers={"Accept-Language": "ko"})
    pages, text = pdf_text(response.data)
    assert pages == 1
    assert "김민지 (Kim Minji)" in text and "12차시 확인 평가" in text and "86 / 100" in text

"""The policy editor: admins only, validation at the field with nothing saved, the preview that
saves nothing, and the save that recomputes and shows its summary.

The academy is tests/web/factories.build_academy (today 2026-04-01; Algebra II weeks 1-3 dated
03-02/03-09/03-16, quiz on week 2, default policy). Worked by hand:

- video_required_rate 90 -> 0: every video part is met. Lee Jisoo: week 1 and week 3 (no exam
  part) complete, week 2 fails its quiz (40 < 60). Park_100%: weeks 1 and 3 complete, week 2 has
  no result. So 4 cells become completed, and both students go DANGER -> NORMAL (the last due
  session is completed; the low-score run is 1 for Jisoo, 0 for Park). Kim Minji was complete
  everywhere; Choi Yuna is withdrawn (frozen, left out).
- completion_grace_days 7 -> 20: week 3 (03-16 + 20 = 04-05) is no longer due, so Jisoo's and
  Park's week 3 turn from incomplete to pending (2 cells, completion unchanged), and both have
  two failed sessions in a row: DANGER -> WARNING.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import AuditLog, ClinicLink, LectureProgress, SessionProgress
from dashboard.progress.rules import POLICY_DEFAULTS

from tests.factories import build_academy, policy_of
from .pages import HTMX
from .test_clinic_pages import sign_in_with_form


@pytest.fixture
def academy(app):
    built = build_academy()
    db.session.commit()
    return built


def form_data(token: str, action: str = "save", **changes: str) -> dict[str, str]:
    """The editor's fields as a browser sends them: the defaults as text, with `changes`."""
    data = {name: str(value) for name, value in POLICY_DEFAULTS.items()}
    data.update(changes)
    data.update(csrf_token=token, action=action)
    return data


def completed(enrollment, session) -> bool:
    return db.session.execute(select(SessionProgress.completed).where(
        SessionProgress.enrollment_id == enrollment.id, SessionProgress.session_id == session.id)).scalar_one()


def risk_level(enrollment) -> str:
    return db.session.execute(select(LectureProgress.risk_level).where(
        LectureProgress.enrollment_id == enrollment.id)).scalar_one()


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'id="{name}-error" class="error" role="alert">([^<]*)<', html)
    return match.group(1) if match else None


def snapshot(academy) -> tuple:
    """Everything a policy save could change, to compare before and after."""
    db.session.expire_all()
    policy = policy_of(academy.algebra)
    cells = tuple(db.session.execute(select(SessionProgress.id, SessionProgress.completed, SessionProgress.exam_passed,
                                            SessionProgress.video_completed).order_by(SessionProgress.id)))
    risks = tuple(db.session.execute(select(LectureProgress.enrollment_id, LectureProgress.risk_level)
                                     .order_by(LectureProgress.enrollment_id)))
    open_links = db.session.execute(select(func.count(ClinicLink.id)).where(ClinicLink.resolved_at.is_(None))).scalar_one()
    audits = db.session.execute(select(func.count(AuditLog.id))).scalar_one()
    return (policy.video_required_rate, policy.completion_grace_days, policy.updated_at, cells, risks, open_links,
            audits)


# ---------------------------------------------------------------- roles

@pytest.mark.parametrize("who", ["staff", "teacher_a"])
def test_only_admins_reach_the_editor(client, academy, who):
    token = sign_in_with_form(client, academy.users[who])
    assert client.get("/policies/").status_code == 403
    assert client.get(f"/policies/{academy.algebra.id}/").status_code == 403
    before = snapshot(academy)
    response = client.post(f"/policies/{academy.algebra.id}/", data=form_data(token, video_required_rate="0"))
    assert response.status_code == 403
    assert snapshot(academy) == before
    assert 'href="/policies/"' not in client.get("/").get_data(as_text=True)  # no nav entry either


def test_admin_sees_every_lectures_policy(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    page = client.get("/policies/").get_data(as_text=True)
    assert f'href="/policies/{academy.algebra.id}/"' in page and f'href="/policies/{academy.geometry.id}/"' in page
    assert 'aria-current="page">Policies' in page
    assert client.get("/policies/9999/").status_code == 404


def test_editor_groups_its_fields_and_answers_a_partial_to_htmx(client, academy):
    sign_in_with_form(client, academy.users["admin"])
    full = client.get(f"/policies/{academy.algebra.id}/").get_data(as_text=True)
    assert "<html" in full
    legends = re.findall(r"<legend>([^<]+)</legend>", full)
    assert legends == ["Video", "Exam", "Homework", "Risk and grace"]
    assert re.search(r'<input [^>]*id="video_required_rate"[^>]*type="number" value="90">', full)
    assert "video part is met at this rate or more" in full  # help text
    partial = client.get(f"/policies/{academy.algebra.id}/", headers=HTMX).get_data(as_text=True)
    assert partial.lstrip().startswith('<div id="policy-editor"') and "<html" not in partial


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("changes,field,message", [
    ({"video_required_rate": "101"}, "video_required_rate", "must be at most 100"),
    ({"video_required_rate": "abc"}, "video_required_rate", "must be a whole number"),
    ({"video_required_rate": "9.5"}, "video_required_rate", "must be a whole number"),
    ({"video_required_rate": ""}, "video_required_rate", "A value is required."),
    ({"exam_pass_score": "72.505"}, "exam_pass_score", "must have at most 2 decimal places"),
    ({"exam_pass_score": "-1"}, "exam_pass_score", "must be at least 0"),
    ({"exam_end_session_order": "1"}, "exam_end_session_order",
     "must be at least Exams count from session (2)"),
    ({"risk_danger_consecutive": "1"}, "risk_danger_consecutive", "must be at least Warning after (2)"),
    ({"exam_aggregate_strategy": "max"}, "exam_aggregate_strategy", "must be one of MAX, AVG, LATEST"),
    ({"completion_grace_days": "366"}, "completion_grace_days", "must be at most 365"),
])
@pytest.mark.parametrize("action", ["preview", "save"])
def test_invalid_values_are_shown_at_the_field_and_nothing_is_saved(client, academy, changes, field, message,
                                                                     action):
    token = sign_in_with_form(client, academy.users["admin"])
    before = snapshot(academy)
    # A valid change rides along: it must not be saved either.
    response = client.post(f"/policies/{academy.algebra.id}/", headers=HTMX,
                           data=form_data(token, action, completion_grace_days="20", **changes)
                           if field != "completion_grace_days" else form_data(token, action, **changes))
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(text, field) == message
    assert f'id="{field}"' in text and 'aria-invalid="true"' in text
    assert 'id="policy-impact"' not in text
    assert snapshot(academy) == before


def test_form_without_csrf_token_is_refused(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    before = snapshot(academy)
    data = form_data(token, video_required_rate="0")
    del data["csrf_token"]
    assert client.post(f"/policies/{academy.algebra.id}/", data=data).status_code == 400
    assert snapshot(academy) == before


# ---------------------------------------------------------------- preview

def test_preview_shows_the_impact_and_saves_nothing(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    before = snapshot(academy)
    assert completed(academy.jisoo, academy.weeks[0]) is False
    response = client.post(f"/policies/{academy.algebra.id}/", headers=HTMX,
                           data=form_data(token, "preview", video_required_rate="0"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-outcome="preview"' in text and "Preview: nothing is saved yet" in text
    assert 'data-cells="4"' in text
    assert "Session cells that would change status: 4 (4 newly completed, 0 no longer completed" in text
    assert "Required video rate (%): 90 → <strong>0</strong>" in text
    moves = re.findall(r'<tr data-enrollment="(\d+)">.*?data-risk="(\w+)".*?data-risk="(\w+)"', text, re.S)
    assert moves == [(str(academy.jisoo.id), "DANGER", "NORMAL"), (str(academy.park.id), "DANGER", "NORMAL")]
    assert 'value="0"' in text  # the form keeps what was typed
    # Nothing of it was kept: the policy, the cells, the risk levels, the links, the audit trail.
    assert snapshot(academy) == before
    assert completed(academy.jisoo, academy.weeks[0]) is False
    assert risk_level(academy.jisoo) == "DANGER"


def test_preview_counts_cells_moving_between_pending_and_incomplete(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    before = snapshot(academy)
    text = client.post(f"/policies/{academy.algebra.id}/", headers=HTMX,
                       data=form_data(token, "preview", completion_grace_days="20")).get_data(as_text=True)
    assert "Session cells that would change status: 2 (0 newly completed, 0 no longer completed, " \
           "2 between pending and incomplete)." in text
    moves = re.findall(r'<tr data-enrollment="(\d+)">.*?data-risk="(\w+)".*?data-risk="(\w+)"', text, re.S)
    assert moves == [(str(academy.jisoo.id), "DANGER", "WARNING"), (str(academy.park.id), "DANGER", "WARNING")]
    assert snapshot(academy) == before


def test_preview_without_javascript_is_a_whole_page(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    before = snapshot(academy)
    response = client.post(f"/policies/{academy.algebra.id}/", data=form_data(token, "preview", video_required_rate="0"))
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "<html" in text and 'data-cells="4"' in text
    assert snapshot(academy) == before


# ---------------------------------------------------------------- save

def test_save_recomputes_and_shows_the_summary(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post(f"/policies/{academy.algebra.id}/", headers=HTMX,
                           data=form_data(token, "save", video_required_rate="0"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-outcome="save"' in text and "Saved and recomputed" in text
    assert "Session cells that changed status: 4 (4 newly completed" in text
    assert "Students whose risk level changed" in text
    db.session.expire_all()
    assert policy_of(academy.algebra).video_required_rate == 0
    assert [completed(academy.jisoo, week) for week in academy.weeks] == [True, False, True]
    assert [completed(academy.park, week) for week in academy.weeks] == [True, False, True]
    assert risk_level(academy.jisoo) == "NORMAL" and risk_level(academy.park) == "NORMAL"
    # Week 1 and 3 links of Jisoo and Park lose their cause and close; week 2's stay open.
    open_failed = db.session.execute(select(func.count(ClinicLink.id)).where(
        ClinicLink.reason == "AUTO_FAILED", ClinicLink.resolved_at.is_(None),
        ClinicLink.enrollment_id.in_([academy.jisoo.id, academy.park.id]))).scalar_one()
    assert open_failed == 2
    entry = db.session.execute(select(AuditLog).where(AuditLog.action == "policy.update")).scalar_one()
    assert entry.before == {"video_required_rate": 90} and entry.after == {"video_required_rate": 0}
    assert entry.username == "admin"


def test_save_without_javascript_redirects_with_the_summary(client, academy):
    token = sign_in_with_form(client, academy.users["admin"])
    response = client.post(f"/policies/{academy.algebra.id}/",
                           data=form_data(token, "save", completion_grace_days="20"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/policies/{academy.algebra.id}/"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Policy saved. Session cells that changed status: 2; students whose risk level changed: 2." in page
    assert re.search(r'<input [^>]*id="completion_grace_days"[^>]*value="20">', page)
    db.session.expire_all()
    assert risk_level(academy.jisoo) == "WARNING"


# ---------------------------------------------------------------- a save based on an older version

def test_a_save_from_a_stale_form_is_409_with_what_changed_and_a_second_save_overwrites(client, academy):
    """Two admins open the editor at version 1; the other saves grace days 20 first. This form's
    save of video rate 80 is refused with the change shown; pressing Save again overwrites."""
    token = sign_in_with_form(client, academy.users["admin"])
    path = f"/policies/{academy.algebra.id}/"
    page = client.get(path).get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in page
    from tests.factories import make_user

    other = client.application.test_client()
    other_token = sign_in_with_form(other, make_user("admin2", "admin"))
    assert other.post(path, data={**form_data(other_token, completion_grace_days="20"), "version": "1"},
                      headers=HTMX).status_code == 200

    stale = client.post(path, data={**form_data(token, video_required_rate="80"), "version": "1"}, headers=HTMX)
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert 'data-conflict="true"' in html
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td data-stored>([^<]*)</td><td data-yours>([^<]*)</td></tr>',
                      html)
    assert rows == [("Required video rate (%)", "90", "80"), ("Grace days", "20", "7")]
    assert 'name="version" type="hidden" value="2"' in html  # now based on what is stored
    db.session.expire_all()
    assert (policy_of(academy.algebra).video_required_rate, policy_of(academy.algebra).completion_grace_days) == (90, 20)

    again = client.post(path, data={**form_data(token, video_required_rate="80"), "version": "2"}, headers=HTMX)
    assert again.status_code == 200
    db.session.expire_all()
    policy = policy_of(academy.algebra)
    assert (policy.video_required_rate, policy.completion_grace_days, policy.version) == (80, 7, 3)

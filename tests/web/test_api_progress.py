"""The read API under /api/progress/ (SPEC §8): lists, details, filters, search, ordering,
pagination, scope and freshness — on the hand-worked academy of factories.build_academy."""
from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, func, insert, select

from dashboard.extensions import db
from dashboard.models import AuditLog, ClinicLink, Lecture, LectureProgress, SessionProgress

from tests.factories import bearer, build_academy, make_activity, make_manual_link

BASE = "/api/progress"


@pytest.fixture
def academy(app):
    academy = build_academy()
    # Committed: the client shares this session, and a refused request rolls back what is not.
    db.session.commit()
    return academy


def get(client, academy, path, who="admin", **params):
    return client.get(path, headers=bearer(academy.tokens[who]), query_string=params)


def names(body):
    return [row["student_name"] for row in body["results"]]


# ---------------------------------------------------------------- lists and details

@pytest.mark.parametrize("resource, visible, with_withdrawn", [
    # 3 students x 3 due sessions in Algebra + 1 in Geometry; Choi (withdrawn) adds 3.
    ("session-progress", 10, 13),
    ("lecture-progress", 4, 5),
    # Jisoo: 3 AUTO_FAILED + AUTO_RISK, Park: 3, Minho: 1; Choi adds 3 AUTO_FAILED.
    ("clinic-links", 8, 11),
    # DANGER for Jisoo and Park (and Choi).
    ("risk-logs", 2, 3),
])
def test_lists_count_hand_worked_rows_and_hide_withdrawn(client, academy, resource, visible, with_withdrawn):
    body = get(client, academy, f"{BASE}/{resource}/").get_json()
    assert body["count"] == visible and len(body["results"]) == visible
    assert "Choi Yuna" not in names(body)
    assert body["next"] is None and body["previous"] is None
    body = get(client, academy, f"{BASE}/{resource}/", include_withdrawn="true").get_json()
    assert body["count"] == with_withdrawn
    assert "Choi Yuna" in names(body)


def test_include_withdrawn_must_be_a_boolean(client, academy):
    response = get(client, academy, f"{BASE}/session-progress/", include_withdrawn="yes")
    assert response.status_code == 400
    assert response.get_json()["field"] == "include_withdrawn"


def test_session_progress_detail_shape(client, academy):
    row_id = db.session.execute(select(SessionProgress.id).where(
        SessionProgress.enrollment_id == academy.minji.id, SessionProgress.session_id == academy.weeks[1].id
    )).scalar_one()
    response = get(client, academy, f"{BASE}/session-progress/{row_id}/")
    assert response.status_code == 200
    row = response.get_json()
    assert row["id"] == row_id
    assert row["enrollment_id"] == academy.minji.id
    assert row["session"] == academy.weeks[1].id
    assert row["lecture"] == academy.algebra.id
    assert row["exam_aggregate_score"] == 72.5
    assert row["exam_attempted"] is True and row["exam_passed"] is True
    assert row["video_progress_rate"] == 95 and row["video_completed"] is True
    assert row["completed"] is True
    assert row["exam_meta"]["strategy"] == "MAX"
    assert [exam["exam_id"] for exam in row["exam_meta"]["exams"]] == [academy.quiz.id]
    for stamp in ("completed_at", "calculated_at", "created_at", "updated_at"):
        assert row[stamp].endswith("+09:00"), stamp
    assert "fingerprint" not in row


def test_lecture_progress_detail_shape(client, academy):
    row_id = db.session.execute(
        select(LectureProgress.id).where(LectureProgress.enrollment_id == academy.jisoo.id)
    ).scalar_one()
    row = get(client, academy, f"{BASE}/lecture-progress/{row_id}").get_json()
    assert row["lecture"] == academy.algebra.id
    assert row["last_session"] == academy.weeks[2].id
    assert (row["total_sessions"], row["completed_sessions"], row["failed_sessions"]) == (4, 0, 3)
    assert row["consecutive_failed_sessions"] == 3
    assert row["risk_level"] == "DANGER"
    assert row["meta"]["low_score_consecutive"] == 1


def test_clinic_link_and_risk_log_detail_shapes(client, academy):
    link_id = db.session.execute(select(ClinicLink.id).where(ClinicLink.reason == "AUTO_RISK")).scalar_one()
    link = get(client, academy, f"{BASE}/clinic-links/{link_id}/").get_json()
    assert link["enrollment_id"] == academy.jisoo.id and link["session"] == academy.weeks[1].id
    assert link["is_auto"] is True and link["approved"] is False and link["resolved_at"] is None
    assert link["meta"]["exam_reasons"][str(academy.quiz.id)]["LOW_SCORE"]["score"] == 40
    for person in ("created_by", "approved_by", "resolved_by", "reopened_by"):
        assert link[person] is None
    logs = get(client, academy, f"{BASE}/risk-logs/", search="jisoo").get_json()["results"]
    assert len(logs) == 1
    log = get(client, academy, f"{BASE}/risk-logs/{logs[0]['id']}/").get_json()
    assert (log["risk_level"], log["rule"], log["session"]) == ("DANGER", "CONSECUTIVE_INCOMPLETE", academy.weeks[2].id)


def test_policy_list_and_detail(client, academy):
    body = get(client, academy, f"{BASE}/policies/").get_json()
    assert [row["lecture"] for row in body["results"]] == [academy.geometry.id, academy.algebra.id]  # -id
    policy = get(client, academy, f"{BASE}/policies/{body['results'][1]['id']}/").get_json()
    assert policy["exam_pass_score"] == 60
    assert policy["exam_aggregate_strategy"] == "MAX"
    assert policy["risk_danger_consecutive"] == 3
    assert get(client, academy, f"{BASE}/policies/", lecture=academy.geometry.id).get_json()["count"] == 1
    assert get(client, academy, f"{BASE}/policies/", search="ALG").get_json()["count"] == 1


def test_detail_of_a_missing_object_is_404(client, academy):
    for resource in ("policies", "session-progress", "lecture-progress", "clinic-links", "risk-logs"):
        response = get(client, academy, f"{BASE}/{resource}/99999/")
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"


def test_withdrawn_detail_is_still_readable(client, academy):
    row_id = db.session.execute(
        select(LectureProgress.id).where(LectureProgress.enrollment_id == academy.choi.id)
    ).scalar_one()
    assert get(client, academy, f"{BASE}/lecture-progress/{row_id}/").status_code == 200


# ---------------------------------------------------------------- filters

@pytest.mark.parametrize("resource, params, expected", [
    ("session-progress", {"completed": "true"}, 3),
    ("session-progress", {"completed": "false"}, 7),
    ("session-progress", {"completed": "False"}, 7),
    ("session-progress", {"lecture": "GEOMETRY"}, None),
    ("lecture-progress", {"risk_level": "DANGER"}, 2),
    ("lecture-progress", {"risk_level": "NORMAL"}, 2),
    ("lecture-progress", {"risk_level": "nonsense"}, 0),
    ("clinic-links", {"reason": "AUTO_RISK"}, 1),
    ("clinic-links", {"reason": "AUTO_FAILED"}, 7),
    ("clinic-links", {"is_auto": "false"}, 0),
    ("clinic-links", {"approved": "false"}, 8),
    ("clinic-links", {"resolved": "false"}, 8),
    ("clinic-links", {"resolved": "true"}, 0),
    ("risk-logs", {"rule": "CONSECUTIVE_INCOMPLETE"}, 2),
    ("risk-logs", {"rule": "CONSECUTIVE_LOW_SCORE"}, 0),
    ("risk-logs", {"risk_level": "WARNING"}, 0),
])
def test_filters(client, academy, resource, params, expected):
    params = {key: (academy.geometry.id if value == "GEOMETRY" else value) for key, value in params.items()}
    body = get(client, academy, f"{BASE}/{resource}/", **params).get_json()
    assert body["count"] == (1 if expected is None else expected)


def test_id_filters(client, academy):
    assert get(client, academy, f"{BASE}/session-progress/", enrollment_id=academy.jisoo.id).get_json()["count"] == 3
    body = get(client, academy, f"{BASE}/session-progress/", session=academy.weeks[1].id).get_json()
    assert sorted(names(body)) == ["Kim Minji", "Lee Jisoo", "Park_100%"]
    assert get(client, academy, f"{BASE}/clinic-links/", session=academy.weeks[1].id).get_json()["count"] == 3
    assert get(client, academy, f"{BASE}/clinic-links/", lecture=academy.geometry.id).get_json()["count"] == 1
    assert get(client, academy, f"{BASE}/risk-logs/", lecture=academy.geometry.id).get_json()["count"] == 0
    assert get(client, academy, f"{BASE}/risk-logs/", session=academy.weeks[2].id).get_json()["count"] == 2
    assert get(client, academy, f"{BASE}/lecture-progress/", enrollment_id=academy.park.id).get_json()["count"] == 1


@pytest.mark.parametrize("resource, name, value", [
    ("session-progress", "completed", "yes"),
    ("session-progress", "completed", "1"),
    ("clinic-links", "is_auto", "maybe"),
    ("clinic-links", "approved", "0"),
    ("clinic-links", "resolved", "null"),
    ("session-progress", "lecture", "one"),
    ("risk-logs", "enrollment_id", "1.5"),
    ("clinic-links", "session", "1 OR 1=1"),
])
def test_bad_filter_values_are_400_naming_the_parameter(client, academy, resource, name, value):
    response = get(client, academy, f"{BASE}/{resource}/", **{name: value})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "validation" and body["field"] == name


# ---------------------------------------------------------------- search

@pytest.mark.parametrize("term, expected", [
    ("minji", ["Kim Minji"] * 3),            # case-insensitive student name
    ("_100%", ["Park_100%"] * 3),            # % and _ taken literally
    ("k_", ["Park_100%"] * 3),               # a LIKE wildcard would also match "Ki" in Kim
    ("%", ["Park_100%"] * 3),
    ("_", ["Park_100%"] * 3),
    ("\\", []),
    ("TRIANGLES", ["Kim Minho"]),            # session title
    ("geometry", ["Kim Minho"]),             # lecture title
    ("'; DROP TABLE student; --", []),
    ('"', []),
    ("<script>alert(1)</script>", []),
])
def test_search_session_progress(client, academy, term, expected):
    response = get(client, academy, f"{BASE}/session-progress/", search=term)
    assert response.status_code == 200
    assert sorted(names(response.get_json())) == sorted(expected)


def test_search_by_session_title_matches_each_students_row(client, academy):
    body = get(client, academy, f"{BASE}/session-progress/", search="week 2").get_json()
    assert sorted(names(body)) == ["Kim Minji", "Lee Jisoo", "Park_100%"]


def test_search_lecture_progress_risk_logs_and_clinic_memo(client, academy):
    assert names(get(client, academy, f"{BASE}/lecture-progress/", search="100%").get_json()) == ["Park_100%"]
    # Last session title: Week 3 for the Algebra students, Triangles for Minho.
    assert get(client, academy, f"{BASE}/lecture-progress/", search="week 3").get_json()["count"] == 3
    assert get(client, academy, f"{BASE}/risk-logs/", search="consecutive").get_json()["count"] == 2
    assert get(client, academy, f"{BASE}/risk-logs/", search="%").get_json()["count"] == 1
    make_manual_link(academy.minji, academy.weeks[0], memo="<b>50% off_</b> \"quoted\"")
    db.session.commit()
    body = get(client, academy, f"{BASE}/clinic-links/", search="50% OFF_").get_json()
    assert body["count"] == 1
    assert body["results"][0]["memo"] == "<b>50% off_</b> \"quoted\""
    assert get(client, academy, f"{BASE}/clinic-links/", search='"quoted"').get_json()["count"] == 1
    assert get(client, academy, f"{BASE}/clinic-links/", search="5_%").get_json()["count"] == 0


# ---------------------------------------------------------------- ordering

def test_default_orderings_are_the_seeds(client, academy):
    def expected(model, first):
        rows = db.session.execute(select(model.id, getattr(model, first))).all()
        return [row_id for row_id, _ in sorted(rows, key=lambda row: (row[1], row[0]), reverse=True)]

    def ids(resource):
        body = get(client, academy, f"{BASE}/{resource}/", include_withdrawn="true").get_json()
        return [row["id"] for row in body["results"]]

    assert ids("session-progress") == expected(SessionProgress, "updated_at")
    assert ids("lecture-progress") == expected(LectureProgress, "updated_at")
    assert ids("clinic-links") == expected(ClinicLink, "created_at")


def test_ordering_risk_level_by_severity_then_id(client, academy):
    body = get(client, academy, f"{BASE}/lecture-progress/", ordering="risk_level").get_json()
    assert names(body) == ["Kim Minji", "Kim Minho", "Lee Jisoo", "Park_100%"]
    body = get(client, academy, f"{BASE}/lecture-progress/", ordering="-risk_level").get_json()
    assert names(body) == ["Lee Jisoo", "Park_100%", "Kim Minji", "Kim Minho"]


def test_ordering_completed_sessions_ties_by_id(client, academy):
    body = get(client, academy, f"{BASE}/lecture-progress/", ordering="completed_sessions").get_json()
    assert names(body) == ["Lee Jisoo", "Park_100%", "Kim Minho", "Kim Minji"]
    body = get(client, academy, f"{BASE}/lecture-progress/", ordering="-completed_sessions").get_json()
    assert names(body) == ["Kim Minji", "Lee Jisoo", "Park_100%", "Kim Minho"]


def test_ordering_by_id_both_ways(client, academy):
    up = [row["id"] for row in get(client, academy, f"{BASE}/clinic-links/", ordering="id").get_json()["results"]]
    down = [row["id"] for row in get(client, academy, f"{BASE}/clinic-links/", ordering="-id").get_json()["results"]]
    assert up == sorted(up) and down == up[::-1]


@pytest.mark.parametrize("resource, ordering", [
    ("session-progress", "student_name"),
    ("session-progress", "risk_level"),      # not an ordering field of session progress
    ("lecture-progress", "--id"),
    ("clinic-links", "id,created_at"),
    ("risk-logs", "id; DROP TABLE risk_log"),
    ("policies", "lecture"),
    ("risk-logs", "-"),
])
def test_invalid_ordering_is_400(client, academy, resource, ordering):
    response = get(client, academy, f"{BASE}/{resource}/", ordering=ordering)
    assert response.status_code == 400
    assert response.get_json()["field"] == "ordering"


@pytest.mark.parametrize("resource, fields", [
    ("policies", ["id", "created_at", "updated_at"]),
    ("session-progress", ["id", "created_at", "updated_at", "calculated_at", "completed"]),
    ("lecture-progress", ["id", "created_at", "updated_at", "risk_level", "completed_sessions"]),
    ("clinic-links", ["id", "created_at", "updated_at", "approved", "is_auto"]),
    ("risk-logs", ["id", "created_at", "updated_at", "risk_level", "rule"]),
])
def test_every_seed_ordering_field_is_accepted(client, academy, resource, fields):
    for name in fields:
        for prefix in ("", "-"):
            assert get(client, academy, f"{BASE}/{resource}/", ordering=prefix + name).status_code == 200


# ---------------------------------------------------------------- pagination

def test_pages_and_absolute_links_keep_the_other_parameters(client, academy):
    path = f"{BASE}/session-progress/"
    first = get(client, academy, path, page_size=3, ordering="id", completed="false").get_json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    parts = urlsplit(first["next"])
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "localhost", path)
    assert parse_qs(parts.query) == {"page_size": ["3"], "ordering": ["id"], "completed": ["false"], "page": ["2"]}

    seen, url = [], first["next"]
    seen += [row["id"] for row in first["results"]]
    while url:
        body = client.get(url, headers=bearer(academy.tokens["admin"])).get_json()
        seen += [row["id"] for row in body["results"]]
        previous = body["previous"]
        url = body["next"]
    assert len(seen) == 7 and seen == sorted(seen)
    # The last page (3) links back to page 2; page 2 links back without a page number.
    assert parse_qs(urlsplit(previous).query)["page"] == ["2"]
    second = get(client, academy, path, page_size=3, ordering="id", completed="false", page=2).get_json()
    assert "page" not in parse_qs(urlsplit(second["previous"]).query)


def test_page_past_the_last_is_404_and_empty_first_page_is_200(client, academy):
    path = f"{BASE}/session-progress/"
    assert get(client, academy, path, page_size=3, page=4).status_code == 200   # 10 rows: 3+3+3+1
    response = get(client, academy, path, page_size=3, page=5)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert get(client, academy, path, page=0).status_code == 404
    empty = get(client, academy, path, lecture=99999)
    assert empty.status_code == 200
    assert empty.get_json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert get(client, academy, path, lecture=99999, page=2).status_code == 404


@pytest.mark.parametrize("params, field", [
    ({"page": "two"}, "page"),
    ({"page": "1.0"}, "page"),
    ({"page_size": "ten"}, "page_size"),
    ({"page_size": "0"}, "page_size"),
    ({"page_size": "-5"}, "page_size"),
    ({"page": ""}, None),                   # empty means absent
])
def test_page_parameters_must_be_whole_numbers(client, academy, params, field):
    response = get(client, academy, f"{BASE}/risk-logs/", **params)
    if field is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 400 and response.get_json()["field"] == field


def test_page_size_is_capped_at_1000(client, academy):
    db.session.execute(insert(AuditLog), [
        {"action": "test", "object_type": "thing", "object_id": str(number)} for number in range(1001)
    ])
    db.session.commit()
    body = get(client, academy, "/api/audit", page_size=5000).get_json()
    assert body["count"] == 1001 and len(body["results"]) == 1000
    assert parse_qs(urlsplit(body["next"]).query) == {"page_size": ["5000"], "page": ["2"]}
    assert len(get(client, academy, "/api/audit", page_size=5000, page=2).get_json()["results"]) == 1
    assert len(get(client, academy, "/api/audit").get_json()["results"]) == 50


def test_a_page_costs_the_same_queries_whatever_its_size(client, academy, count_queries):
    path = f"{BASE}/clinic-links/"
    get(client, academy, path)  # warm up: nothing stale after this
    with count_queries() as small:
        assert len(get(client, academy, path, page_size=1).get_json()["results"]) == 1
    with count_queries() as large:
        assert len(get(client, academy, path, page_size=100, include_withdrawn="true").get_json()["results"]) == 11
    assert small.count == large.count


# ---------------------------------------------------------------- scope

@pytest.mark.parametrize("who, expected", [
    ("admin", {"Kim Minji", "Lee Jisoo", "Park_100%", "Kim Minho"}),
    ("staff", {"Kim Minji", "Lee Jisoo", "Park_100%", "Kim Minho"}),
    ("teacher_a", {"Kim Minji", "Lee Jisoo", "Park_100%"}),
    ("teacher_b", {"Kim Minho"}),
])
def test_lists_are_scoped_to_the_callers_lectures(client, academy, who, expected):
    for resource in ("session-progress", "lecture-progress"):
        body = get(client, academy, f"{BASE}/{resource}/", who=who).get_json()
        assert set(names(body)) == expected
    policies = get(client, academy, f"{BASE}/policies/", who=who).get_json()
    assert policies["count"] == (2 if who in ("admin", "staff") else 1)


def test_teacher_filtering_another_lecture_sees_nothing(client, academy):
    body = get(client, academy, f"{BASE}/clinic-links/", who="teacher_a", lecture=academy.geometry.id).get_json()
    assert body["count"] == 0


def test_details_outside_the_scope_are_404(client, academy):
    row_id = db.session.execute(
        select(LectureProgress.id).where(LectureProgress.enrollment_id == academy.minji.id)
    ).scalar_one()
    assert get(client, academy, f"{BASE}/lecture-progress/{row_id}/", who="teacher_a").status_code == 200
    assert get(client, academy, f"{BASE}/lecture-progress/{row_id}/", who="teacher_b").status_code == 404
    link_id = db.session.execute(select(ClinicLink.id).where(ClinicLink.reason == "AUTO_RISK")).scalar_one()
    assert get(client, academy, f"{BASE}/clinic-links/{link_id}/", who="teacher_b").status_code == 404
    policy_id = get(client, academy, f"{BASE}/policies/", lecture=academy.algebra.id).get_json()["results"][0]["id"]
    assert get(client, academy, f"{BASE}/policies/{policy_id}/", who="teacher_b").status_code == 404
    assert get(client, academy, f"{BASE}/policies/{policy_id}/", who="staff").status_code == 200


# ---------------------------------------------------------------- freshness (SPEC §7, last row)

def test_a_read_recomputes_a_lecture_computed_for_another_day(client, academy):
    # As if Algebra was last computed on March 15, before Week 3 (March 16) was held: Park has no
    # Week 3 row yet. A read does the days' work since then, which brings the row.
    db.session.execute(delete(SessionProgress).where(SessionProgress.enrollment_id == academy.park.id,
                                                     SessionProgress.session_id == academy.weeks[2].id))
    db.session.get(Lecture, academy.algebra.id).recomputed_for = date(2026, 3, 15)
    db.session.commit()
    body = get(client, academy, f"{BASE}/session-progress/", enrollment_id=academy.park.id,
               session=academy.weeks[2].id).get_json()
    assert len(body["results"]) == 1
    assert db.session.get(Lecture, academy.algebra.id).recomputed_for == date(2026, 4, 1)


def test_a_fresh_lecture_is_not_recomputed_by_a_read(client, academy):
    make_activity(academy.park, academy.weeks[0], video_rate=100)
    db.session.commit()
    body = get(client, academy, f"{BASE}/session-progress/", enrollment_id=academy.park.id,
               session=academy.weeks[0].id).get_json()
    assert body["results"][0]["completed"] is False


def test_a_detail_read_recomputes_its_stale_lecture(client, academy):
    make_activity(academy.minho, academy.geometry_week, attendance="offline")
    db.session.get(Lecture, academy.geometry.id).recomputed_for = None
    db.session.commit()
    row_id = db.session.execute(
        select(LectureProgress.id).where(LectureProgress.enrollment_id == academy.minho.id)
    ).scalar_one()
    row = get(client, academy, f"{BASE}/lecture-progress/{row_id}/").get_json()
    assert (row["completed_sessions"], row["failed_sessions"]) == (1, 0)
    stale = db.session.execute(select(func.count()).select_from(Lecture).where(
        Lecture.recomputed_for.is_not(None), Lecture.recomputed_for != date(2026, 4, 1))).scalar_one()
    assert stale == 0

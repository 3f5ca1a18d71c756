"""Guardians in a snapshot (SPEC §14): the list replaces the stored one, matched by id or by
(name, relation); the same list again writes nothing. And the migration of `guardian_contact`."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.importer import ImportRejected, import_snapshot
from dashboard.models import Guardian

MOTHER = {"name": "Kim Mother", "relation": "모", "phone": "010-1111-2222", "consent": True}
FATHER = {"name": "Kim Father", "relation": "부", "email": "father@example.com", "channel": "email",
          "language": "en"}


def snapshot(*guardians, student_id=100):
    return {"students": [{"id": student_id, "name": "Kim Minji", "guardians": list(guardians)}]}


def stored() -> list[tuple]:
    return [(g.id, g.student_id, g.name, g.relation, g.phone, g.email, g.channel, g.language, g.consent)
            for g in db.session.execute(select(Guardian).order_by(Guardian.id)).scalars()]


def test_guardians_are_created_with_the_student_and_normalised(app):
    result = import_snapshot(snapshot(MOTHER, FATHER))

    assert result.created["students"] == 1
    assert [row[1:] for row in stored()] == [
        (100, "Kim Mother", "모", "01011112222", None, "sms", "ko", True),
        (100, "Kim Father", "부", None, "father@example.com", "email", "en", False),
    ]


def test_the_same_list_again_writes_nothing_and_counts_nothing(app, count_queries):
    import_snapshot(snapshot(MOTHER, FATHER))
    db.session.commit()

    with count_queries() as counter:
        result = import_snapshot(snapshot(MOTHER, FATHER))

    assert result.as_dict()["updated"]["students"] == 0
    assert sum(result.created.values()) + sum(result.updated.values()) + sum(result.deleted.values()) == 0
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for s in counter.statements)


def test_the_list_replaces_the_stored_one_matching_by_name_and_relation(app):
    import_snapshot(snapshot(MOTHER, FATHER))
    mother_id = stored()[0][0]

    result = import_snapshot(snapshot({**MOTHER, "phone": "+82 10 3333 4444"},
                                      {"name": "Lee Grandma", "relation": "조모", "phone": "01055556666"}))

    assert result.updated["students"] == 1
    rows = stored()
    assert [(row[0] == mother_id, row[2], row[4]) for row in rows] == [
        (True, "Kim Mother", "+821033334444"), (False, "Lee Grandma", "01055556666")]


def test_an_item_with_an_id_renames_that_guardian(app):
    import_snapshot(snapshot(MOTHER))
    mother_id = stored()[0][0]

    import_snapshot(snapshot({**MOTHER, "id": mother_id, "name": "Park Mother"}))

    assert [(row[0], row[2]) for row in stored()] == [(mother_id, "Park Mother")]


def test_an_empty_list_removes_every_guardian(app):
    import_snapshot(snapshot(MOTHER, FATHER))

    result = import_snapshot(snapshot())

    assert (result.updated["students"], stored()) == (1, [])


def test_a_bad_phone_refuses_the_snapshot_naming_the_item(app):
    with pytest.raises(ImportRejected) as refused:
        import_snapshot(snapshot(MOTHER, {**FATHER, "phone": "010-12ab"}))

    assert [problem.field for problem in refused.value.errors] == ["students[0].guardians[1].phone"]
    assert stored() == []


def test_another_students_guardian_id_is_refused(app):
    import_snapshot(snapshot(MOTHER, student_id=100))
    mother_id = stored()[0][0]

    with pytest.raises(ImportRejected) as refused:
        import_snapshot(snapshot({**FATHER, "id": mother_id}, student_id=101))

    assert [problem.field for problem in refused.value.errors] == ["students[0].guardians[0].id"]


def test_the_same_name_and_relation_twice_is_refused(app):
    with pytest.raises(ImportRejected) as refused:
        import_snapshot(snapshot(MOTHER, {**MOTHER, "phone": "0109999"}))

    assert [problem.field for problem in refused.value.errors] == ["students[0].guardians[1].name"]


def test_a_given_id_becomes_the_key_and_later_guardians_do_not_collide(app):
    import_snapshot(snapshot({**MOTHER, "id": 500}))
    db.session.add(Guardian(student_id=100, name="New", relation="", channel="sms", language="ko"))
    db.session.flush()

    assert [row[0] for row in stored()][0] == 500
    assert stored()[1][0] > 500


from tests.integration.test_migrations import empty_app, postgres_url  # noqa: F401  (fixtures)


def test_migration_turns_each_guardian_contact_into_a_guardian(empty_app):
    import flask_migrate
    import sqlalchemy as sa

    flask_migrate.upgrade(revision="a1c0f3e2b7d4")
    with db.engine.begin() as connection:
        for sid, contact in ((1, "010-1234 5678"), (2, "mom@example.com"), (3, "call the office"), (4, None)):
            connection.execute(sa.text(
                "INSERT INTO student (id, name, guardian_contact, created_at, updated_at) "
                "VALUES (:id, 'S', :contact, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"id": sid, "contact": contact})

    flask_migrate.upgrade()

    rows = db.session.execute(sa.text(
        "SELECT student_id, name, relation, phone, email, channel, language, consent FROM guardian "
        "ORDER BY student_id")).all()
    assert [tuple(row) for row in rows] == [
        (1, "보호자", "", "01012345678", None, "sms", "ko", False),
        (2, "보호자", "", None, "mom@example.com", "email", "ko", False),
    ]

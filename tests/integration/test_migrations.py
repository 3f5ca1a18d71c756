"""The migrations in migrations/ build exactly the schema of dashboard/models.py, on both databases.

Each test starts from an empty database (a new SQLite file, or this module's own PostgreSQL
database with its schema dropped) and runs the code of `flask db upgrade` and `flask db downgrade`.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path
from pprint import pformat

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import ClinicLink, Enrollment, Lecture, LectureSession, Student, User
from tests.conftest import _drop_postgres_database, database_url_for

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
REGENERATE = (
    "models.py and migrations/ differ: run `flask db migrate`. While everything is still the one initial "
    "revision: `rm -f migrations/versions/*.py /tmp/empty.sqlite3 && DATABASE_URL=sqlite:////tmp/empty.sqlite3 "
    "flask --app wsgi db migrate -m 'initial schema'`; once revisions are released, add one instead: see "
    "docs/operations.md, 'Writing a new revision'. Operations that would bring the database to the models:\n"
)
# SQLite reflects a boolean DEFAULT true as 1; the same spellings migrations/env.py treats as equal.
BOOLEAN_LITERALS = {"true": True, "1": True, "false": False, "0": False}


@pytest.fixture(scope="module")
def postgres_url():
    """One PostgreSQL database for this module, dropped at its end (DROP DATABASE is slow to repeat)."""
    urls: list[str] = []

    def get(tmp_path_factory) -> str:
        if not urls:
            urls.append(database_url_for("postgresql", tmp_path_factory))
        return urls[0]

    yield get
    for url in urls:
        _drop_postgres_database(url)


@pytest.fixture
def empty_app(backend, tmp_path_factory, postgres_url):
    """An app on an empty database: a new SQLite file, or the module's PostgreSQL database emptied."""
    url = postgres_url(tmp_path_factory) if backend == "postgresql" else database_url_for(backend, tmp_path_factory)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret"})
    with app.app_context():
        if backend == "postgresql":
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _same_boolean_default(context, inspected_column, metadata_column, inspected_default, metadata_default,
                          rendered_metadata_default):
    """Compare boolean server defaults by value (SQLite says 1 where the model says true)."""
    if isinstance(metadata_column.type, sa.Boolean) and inspected_default and rendered_metadata_default:
        reflected = BOOLEAN_LITERALS.get(inspected_default.strip("()'\" ").lower())
        declared = BOOLEAN_LITERALS.get(rendered_metadata_default.strip("()'\" ").lower())
        if reflected is not None and declared is not None:
            return reflected != declared
    return None


def schema_differences() -> list:
    """What autogenerate would emit to bring the current database to db.metadata."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": _same_boolean_default},
        )
        return compare_metadata(context, db.metadata)


def describe(diff) -> tuple[str, str | None]:
    """(operation, name) of one compare_metadata entry; column changes come as a list of tuples."""
    if isinstance(diff, list):
        return diff[0][0], diff[0][3]
    if diff[0] in ("add_column", "remove_column"):
        return diff[0], diff[3].name
    return diff[0], getattr(diff[1], "name", None)


def table_names() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def test_upgrade_from_empty_builds_exactly_the_models(empty_app):
    assert table_names() == set()

    flask_migrate.upgrade()

    assert table_names() == set(db.metadata.tables) | {"alembic_version"}
    differences = schema_differences()
    assert differences == [], REGENERATE + pformat(differences)


def test_drift_check_notices_a_schema_that_differs_from_the_models(empty_app):
    """The check above can fail: a column the models lack and a missing index are both reported."""
    flask_migrate.upgrade()
    with db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE student ADD COLUMN nickname VARCHAR(20)"))
        connection.execute(sa.text("DROP INDEX ix_attempt_exam_enrollment"))

    differences = schema_differences()

    assert {describe(diff) for diff in differences} == {
        ("remove_column", "nickname"),
        ("add_index", "ix_attempt_exam_enrollment"),
    }, pformat(differences)


def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds(empty_app):
    flask_migrate.upgrade()

    flask_migrate.downgrade(revision="base")

    assert table_names() == {"alembic_version"}
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() is None

    flask_migrate.upgrade()
    assert schema_differences() == []


def test_upgrade_twice_is_a_no_op(empty_app):
    flask_migrate.upgrade()
    flask_migrate.upgrade()

    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    assert current == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_migrated_schema_allows_one_automatic_clinic_link_but_many_manual_ones(empty_app):
    flask_migrate.upgrade()
    lecture = Lecture(title="Algebra")
    student = Student(name="Kim")
    db.session.add_all([lecture, student])
    db.session.flush()
    session = LectureSession(lecture_id=lecture.id, order=1)
    enrollment = Enrollment(student_id=student.id, lecture_id=lecture.id)
    db.session.add_all([session, enrollment])
    db.session.flush()

    for _ in range(2):
        db.session.add(ClinicLink(enrollment_id=enrollment.id, session_id=session.id, reason="MANUAL_REQUEST"))
    db.session.add(ClinicLink(enrollment_id=enrollment.id, session_id=session.id, reason="AUTO_FAILED", is_auto=True))
    db.session.flush()
    db.session.commit()

    db.session.add(ClinicLink(enrollment_id=enrollment.id, session_id=session.id, reason="AUTO_FAILED", is_auto=True))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    count = db.session.execute(sa.select(sa.func.count()).select_from(ClinicLink)).scalar_one()
    assert count == 3


def test_migrated_boolean_server_default_is_true(empty_app):
    flask_migrate.upgrade()
    db.session.execute(sa.text(
        "INSERT INTO user_account (username, password_hash, role, created_at, updated_at) "
        "VALUES ('kim', 'x', 'staff', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    ))
    db.session.commit()

    assert db.session.execute(sa.select(User.is_active)).scalar_one() is True


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_foreign_keys_are_enforced_again_after_migrating(empty_app):
    """env.py switches enforcement off while migrating; the pooled connection must get it back."""
    flask_migrate.upgrade()

    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(IntegrityError):
            connection.execute(sa.text("INSERT INTO enrollment (student_id, lecture_id, created_at, updated_at) "
                                       "VALUES (999, 999, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))


BATCH_REBUILD_OF_LECTURE = """
from alembic import op
import sqlalchemy as sa

revision = "rebuild_lecture"
down_revision = {head!r}


def upgrade():
    with op.batch_alter_table("lecture", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text()))


def downgrade():
    with op.batch_alter_table("lecture", recreate="always") as batch_op:
        batch_op.drop_column("note")
"""


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_batch_rebuild_of_a_parent_table_keeps_its_children(empty_app, tmp_path):
    """Batch mode copies `lecture` and drops the old table; with foreign keys enforced, that DROP
    would cascade and silently delete every session. env.py turns enforcement off meanwhile."""
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, directory, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    (directory / "versions" / "rebuild_lecture.py").write_text(BATCH_REBUILD_OF_LECTURE.format(head=head))
    flask_migrate.upgrade(directory=str(directory), revision=head)
    lecture = Lecture(title="Algebra")
    db.session.add(lecture)
    db.session.flush()
    db.session.add_all([LectureSession(lecture_id=lecture.id, order=n) for n in (1, 2, 3)])
    db.session.commit()

    flask_migrate.upgrade(directory=str(directory))

    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM lecture_session").scalar() == 3
        assert "note" in {column["name"] for column in sa.inspect(connection).get_columns("lecture")}


def test_revisions_form_one_line_and_import_no_dashboard_code():
    """One head (two helpers' parallel revisions would need a merge), and no revision imports the app."""
    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1, f"several heads {script.get_heads()}: run `flask --app wsgi db merge heads`"

    for path in (MIGRATIONS / "versions").glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert imported <= {"alembic", "sqlalchemy"}, f"{path.name} imports {imported}"

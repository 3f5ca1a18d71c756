"""Alembic environment for Flask-Migrate: runs inside the app's context, on the app's engine.

`flask --app wsgi db migrate -m "..."` autogenerates a revision from dashboard/models.py;
`flask --app wsgi db upgrade` applies them. Two things here keep revisions portable:

* `render_item` writes the dashboard's own column types as the plain SQLAlchemy types they
  are stored as, so a revision never imports dashboard code (a later refactor of
  dashboard/dbtypes.py must not break old revisions), and boolean server defaults as
  sa.true()/sa.false(), which both databases accept;
* on SQLite, foreign keys are switched off while migrating, because batch mode rebuilds a
  table by copying it and dropping the old one, and with enforcement on that DROP would
  run the ON DELETE CASCADE rules of every child table.
"""
from __future__ import annotations

import logging
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from flask import current_app

config = context.config

# A bare `flask db ...` run gets alembic.ini's console logging; a process that has set up its
# own logging already (pytest, an app running migrations) keeps it untouched.
if not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)

# The stored form of each dashboard column type (see dashboard/dbtypes.py).
PLAIN_TYPES = {
    "Score": "sa.BigInteger()",
    "UTCDateTime": "sa.DateTime()",
}
BOOLEAN_LITERALS = {"true": "sa.true()", "1": "sa.true()", "false": "sa.false()", "0": "sa.false()"}


def render_item(type_, obj, autogen_context):
    """Render what Alembic would write unportably; return False to leave the rest to Alembic.

    * dashboard TypeDecorators become their plain stored type;
    * a boolean server default becomes sa.true()/sa.false(), which each database compiles
      its own way (SQLite `1`, PostgreSQL `true`); a literal such as text('0') is refused
      by PostgreSQL for a boolean column.
    """
    if type_ == "type" and type(obj).__module__ == "dashboard.dbtypes":
        if type(obj).__name__ not in PLAIN_TYPES:
            raise TypeError(f"add the stored type of dashboard.dbtypes.{type(obj).__name__} to PLAIN_TYPES")
        return PLAIN_TYPES[type(obj).__name__]
    if type_ == "server_default":
        column = getattr(obj, "column", None)
        if column is not None and isinstance(column.type, sa.Boolean):
            literal = _literal_text(getattr(obj, "arg", obj)).strip("()'\" ").lower()
            if literal in BOOLEAN_LITERALS:
                return BOOLEAN_LITERALS[literal]
    return False


def _literal_text(arg) -> str:
    """The SQL text of a server default given as a string, text() or true()/false()."""
    if isinstance(arg, str):
        return arg
    if isinstance(arg, sa.sql.elements.True_):
        return "true"
    if isinstance(arg, sa.sql.elements.False_):
        return "false"
    return getattr(arg, "text", "")


def compare_server_default(context, inspected_column, metadata_column, inspected_default, metadata_default,
                           rendered_metadata_default):
    """Treat SQLite's `1`/`0` and the model's `true`/`false` as the same boolean default.

    SQLite has no boolean type and reflects DEFAULT true as 1; any other default, and any
    real change of a boolean default, still goes to Alembic's own comparison.
    """
    if isinstance(metadata_column.type, sa.Boolean) and inspected_default and rendered_metadata_default:
        reflected = BOOLEAN_LITERALS.get(inspected_default.strip("()'\" ").lower())
        declared = BOOLEAN_LITERALS.get(rendered_metadata_default.strip("()'\" ").lower())
        if reflected and declared:
            return reflected != declared
    return None


def process_revision_directives(context, revision, directives):
    """Write no empty revision when autogenerate finds nothing to change."""
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations (`flask db upgrade --sql`) instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_db.metadata,
        literal_binds=True,
        compare_type=True,
        compare_server_default=compare_server_default,
        render_item=render_item,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a connection of the app's engine."""
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("compare_server_default", compare_server_default)
    conf_args.setdefault("render_item", render_item)

    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _set_sqlite_foreign_keys(connection, on=False)
        try:
            context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                _check_sqlite_foreign_keys(connection)
        finally:
            if sqlite:
                connection.rollback()
                _set_sqlite_foreign_keys(connection, on=True)


def _set_sqlite_foreign_keys(connection, on: bool) -> None:
    """Switch enforcement; SQLite ignores this PRAGMA inside a transaction, so check it took.

    The commit ends SQLAlchemy's implicit transaction so that Alembic, configured next, runs
    and commits its own transactions instead of treating ours as an outer one.
    """
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    took = connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == int(on)
    connection.commit()
    if not took:
        raise RuntimeError("could not change PRAGMA foreign_keys: a transaction is open on the connection")


def _check_sqlite_foreign_keys(connection) -> None:
    """Fail loudly if a migration left rows pointing at nothing while enforcement was off."""
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"migration left foreign key violations: {problems[:10]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

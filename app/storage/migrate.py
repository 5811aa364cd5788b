"""Apply the Alembic migrations; the server does this on every start."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from app.storage.sqlite_file import create_missing, sqlite_path

log = logging.getLogger("app.storage.migrate")

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number: every server process takes the same PostgreSQL advisory lock while migrating.
_MIGRATION_LOCK = 727_001


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The revision the newest migration brings a database to: the one this server's code expects."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "no migrations"
    return head


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe when several servers start at once.

    A SQLite file that does not exist is created here, and only here: the serving engine never creates one."""
    path = sqlite_path(engine.url)
    if path is not None and create_missing(path):
        log.info("There was no database at %s, so a new, empty one was created.", path)
    if _current_revision(engine) == head_revision():
        return  # nothing to do: no lock to take, and none of Alembic's start-up lines in every `keys` command's output
    config = alembic_config(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                command.upgrade(config, "head")
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
                lock.commit()
    else:
        command.upgrade(config, "head")


def _current_revision(engine: Engine) -> str | None:
    """The database's schema revision, read straight from Alembic's table (Alembic's own reader logs two lines)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

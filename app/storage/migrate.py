"""Apply the Alembic migrations; the server does this on every start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number: every server process takes the same PostgreSQL advisory lock while migrating.
_MIGRATION_LOCK = 727_001


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe when several servers start at once."""
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
